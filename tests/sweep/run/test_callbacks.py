"""The grid callback's observers (sweep/run/driver/callbacks.py): what reaches the ledger when
a trial ends, with or without a final report. Trials here are plain objects with the fields
Ray Tune's Trial has (trial_id, config, last_result, status); the real Tune run is in
test_grid.py."""
from __future__ import annotations

import json
from types import SimpleNamespace

from models.config import TrialConfig
from sweep.run.driver.callbacks import GridCallback, final_results
from sweep.run.driver.progress import Progress
from sweep.run.driver.time_estimate import Estimate
from sweep.run.records.ledger import Ledger
from sweep.run.records.results import TrialResult
from sweep.run.scheduling.units import Unit

BASE = dict(family="gan", model="gan", nLayerG=2, nLayerD=2, sizeG=32, sizeD=16,
            dropoutD=False, optimD="adam", optimG="adam", lr=0.001, iterations=60)
PACK = Unit((TrialConfig.from_dict(BASE), TrialConfig.from_dict({**BASE, "optimD": "sgd"})),
            (4, 5))


def _trial(unit: Unit, last_result: dict | None) -> SimpleNamespace:
    return SimpleNamespace(trial_id="t1", config=unit.to_config(), last_result=last_result,
                           status="TERMINATED", checkpoint=None, error_file=None,
                           error_msg="worker died")


def test_a_pack_without_a_final_result_is_filed_as_a_pack(tmp_path):
    """The path where a trial ends without its final report: every member is an `error` with
    its order and the pack it trained in, like a trial that raised (on_trial_error)."""
    ledger = Ledger(tmp_path / "exp")
    progress = Progress(ledger.exp_dir, total=2, done_before=0, est=Estimate([1.0, 1.0], 1),
                        name="t", log=lambda *a, **k: None)
    callback = GridCallback(ledger, progress, log=lambda *a, **k: None)
    trial = _trial(PACK, {"iteration": 30, "final": False})
    callback.on_trial_complete(0, [trial], trial)
    entries = ledger.entries()
    for member, order in zip(PACK.members, PACK.orders):
        e = entries[member.key]
        assert (e["status"], e["error"]) == ("error", "the trial ended without a final result")
        assert (e["pack_id"], e["pack_size"], e["order"]) == (PACK.unit_id, 2, order)
    errored = _trial(PACK, None)
    callback.on_trial_error(0, [errored], errored)  # the same shape as the path above
    assert {k: (e["pack_id"], e["pack_size"]) for k, e in ledger.entries().items()} == \
        {m.key: (PACK.unit_id, 2) for m in PACK.members}
    assert progress.done == 4 and progress.counts["error"] == 4
    assert json.loads((ledger.exp_dir / "progress.json").read_text())["done"] == 4


def test_a_final_report_gives_each_member_what_every_attempt_ran():
    """Attempts from 0 (reached 40, lost) and from 30 (to the end, 60): 40 + 30 iterations
    run, and the attempts' starts as a list."""
    done = [TrialResult("ok", iterations_done=60, order=o).to_dict() for o in PACK.orders]
    trial = _trial(PACK, {"final": True, "results": json.dumps(done)})
    results = final_results(trial, PACK, [[0, 40], [30, 60]])
    assert [(r.iterations_run, r.attempts) for r in results] == [(70, [0, 30])] * 2
    assert final_results(trial, PACK, [])[0].attempts is None  # no progress report seen
