"""The ledger (what resumes a grid), its lock, and the time estimate: no Ray needed."""
from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from sweep.run.driver.time_estimate import Estimate, format_duration, from_history
from sweep.run.records.ledger import Ledger, LedgerError


def test_entries_round_trip_and_are_readable_by_others(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "exp")
    ledger.write("k1", {"status": "ok", "score": 1.5})
    ledger.write("k2", {"status": "error", "error": "boom"})
    assert set(ledger.entries()) == {"k1", "k2"}
    assert ledger.entries()["k1"] == {"score": 1.5, "status": "ok"}
    mode = stat.S_IMODE(os.stat(ledger.dir / "k1.json").st_mode)
    assert mode & stat.S_IRGRP  # not mkstemp's owner-only 0600
    assert not list(ledger.dir.glob(".*"))  # no temp files left behind


def test_a_different_sweep_is_refused_and_extend_only_adds(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "exp")
    ledger.check_sweep("s", "a.yaml", ["a", "b"], extend=False)
    ledger.check_sweep("s", "a.yaml", ["b", "a"], extend=False)  # same set, any order
    with pytest.raises(LedgerError, match="--extend"):
        ledger.check_sweep("s", "b.yaml", ["a", "b", "c"], extend=False)
    ledger.check_sweep("s", "b.yaml", ["a", "b", "c"], extend=True)
    with pytest.raises(LedgerError, match="only adds"):
        ledger.check_sweep("s", "c.yaml", ["a", "c", "d"], extend=True)  # drops b


def test_the_lock_refuses_a_second_holder_and_dies_with_its_process(tmp_path: Path) -> None:
    exp = tmp_path / "exp"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from sweep.run.records.ledger import Ledger; "
         f"held = Ledger({str(exp)!r}); held.lock(); print('locked', flush=True); time.sleep(60)"],
        stdout=subprocess.PIPE, text=True, cwd=Path(__file__).resolve().parents[3])
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(LedgerError, match=f"pid {holder.pid}"):
            Ledger(exp).lock()
    finally:
        holder.kill()
        holder.wait()
    ledger = Ledger(exp)
    ledger.lock()  # flock is released by the OS when its holder dies, even on SIGKILL
    ledger.unlock()


@pytest.mark.parametrize("content", ['{"status": "ok", "sco', "not json", '[1, 2]', "{}"],
                         ids=["truncated", "not JSON", "not an object", "no status"])
def test_a_damaged_entry_stops_the_run_and_names_the_file(tmp_path: Path, content: str) -> None:
    ledger = Ledger(tmp_path / "exp")
    ledger.write("good", {"status": "ok"})
    bad = ledger.dir / "bad.json"
    bad.write_text(content)
    with pytest.raises(LedgerError) as err:
        ledger.entries()
    assert str(bad) in str(err.value) and "Nothing was changed" in str(err.value)
    assert bad.read_text() == content  # nothing overwritten


def test_fresh_sets_the_old_experiment_aside_without_deleting(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "exp")
    ledger.write("k", {"status": "ok"})
    moved = ledger.set_aside()
    assert moved is not None and (moved / "ledger" / "k.json").is_file()
    assert not (tmp_path / "exp").exists()


@pytest.mark.parametrize("seconds, text", [(59, "0:00:59"), (3_661, "1:01:01"),
                                           (90_061, "1d 01h01m"), (float("nan"), "?")])
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


def test_estimate_divides_the_work_by_the_slots() -> None:
    # 6 trials of 10 s on 2 slots: 30 s; 3 remaining of mean 10 s on 2 slots: 15 s.
    est = Estimate([10.0] * 6, slots=2)
    assert est.total_seconds() == 30.0
    assert est.remaining_seconds(3) == 15.0


def test_the_eta_clock_starts_with_the_first_trial() -> None:
    """Ray's start-up is not work: before the first trial the elapsed time is 0, and after
    it the ETA is the measured throughput: 4 done in 20 s, 6 left -> 30 s."""
    now = [100.0]
    est = Estimate([10.0] * 10, slots=2, clock=lambda: now[0])
    now[0] = 160.0  # a minute of Ray start-up
    assert est.elapsed() == 0.0 and est.remaining_seconds(10) == 50.0
    est.first_trial_started()
    now[0] = 180.0
    for _ in range(4):
        est.finished(10.0)
    assert est.elapsed() == 20.0 and est.remaining_seconds(6) == 30.0


def test_history_needs_three_finished_trials() -> None:
    assert from_history([{"wall_time_s": 1.0}, {"wall_time_s": 2.0}]) is None
    assert from_history([{"wall_time_s": 1.0}, {"wall_time_s": 2.0}, {"wall_time_s": 6.0},
                         {"status": "error"}]) == 3.0


@pytest.mark.parametrize("model, shape", [("gan", (2, 2, 400, 128)), ("ebgan", (3, 4, 64, 32)),
                                          ("gan", (5, 5, 64, 48))])
def test_parameter_count_from_shapes_matches_the_built_networks(model, shape) -> None:
    import torch

    from models.nets import build_networks, parameter_count

    trial = dict(zip(("nLayerG", "nLayerD", "sizeG", "sizeD"), shape), model=model,
                 dropoutD=True, z_dim=100, family="f", optimD="adam", optimG="adam", lr=1e-3)
    g, d = build_networks(trial, torch.Generator().manual_seed(0))
    built = sum(p.numel() for p in [*g.parameters(), *d.parameters()])
    assert parameter_count(trial) == built


def test_attempts_are_a_list_and_old_entries_text_reads_the_same(tmp_path: Path) -> None:
    """Entries written before 2026-11-30 hold `attempts` as JSON text inside the JSON."""
    from sweep.run.records.results import TrialResult, attempts_list, table
    ledger = Ledger(tmp_path / "exp")
    for key, attempts in (("old", "[0, 30]"), ("new", [0, 30]), ("none", None)):
        ledger.write(key, {"trial_key": key, "status": "ok", "family": "gan",
                           **({"attempts": attempts} if attempts else {})})
    assert json.loads((ledger.dir / "new.json").read_text())["attempts"] == [0, 30]
    assert TrialResult.from_dict(ledger.entries()["old"]).attempts == [0, 30]
    assert TrialResult("ok", attempts=[0]).to_dict()["attempts"] == [0]
    df = table(ledger.exp_dir).set_index("trial_key", drop=False)
    got = {k: df.loc[k, "attempts"] for k in ("old", "new", "none")}
    assert got == {"old": [0, 30], "new": [0, 30], "none": None}
    assert attempts_list(float("nan")) is None
