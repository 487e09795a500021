"""Trial checkpoints: a trial killed mid-way (an exception raised inside it at a chosen
iteration) is retried by Ray Tune from its last checkpoint and ends bit-identically to an
uninterrupted run; a damaged checkpoint is detected and the trial restarts from scratch."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch

from sweep.run.records import checkpoints
from sweeps import ledger_entries, only, run_api, write_sweep

ITERATIONS, CHECKPOINT_AT, RAISE_AT = 60, 30, 43


def _sweep(tmp_path: Path, classifier: Path) -> Path:
    def edit(doc: dict) -> None:
        only(("ebgan_pt",))(doc)  # one trial: an EBGAN-PT, dropout off
        doc["families"]["ebgan_pt"]["axes"]["dropoutD"] = [True]  # the dropout stream too
        doc["budget"]["iterations"] = ITERATIONS
        doc["resources"]["max_failures"] = 1
    return write_sweep(tmp_path / "one.yaml", classifier, edit)


def _files(results: Path) -> tuple[dict, dict[str, torch.Tensor], bytes, str]:
    (entry,) = ledger_entries(results).values()
    trial = Path(entry["trial_dir"])
    weights = torch.load(trial / "generator.pt", weights_only=True)
    return entry, weights, (trial / "samples.png").read_bytes(), (trial / "curves.csv").read_text()


def _uninterrupted(sweep_file: Path, classifier: Path, results: Path) -> None:
    """The same trial trained without Ray and without interruption, as a trial runs it
    (sweep/run/worker/unit_runner.py, one thread: what a trial with 1 CPU pins), filed like the
    grid."""
    from evaluator.classifier import load_classifier, load_fd_reference
    from models.data import load_mnist
    from sweep.config import load_config, trials
    from sweep.run.records.ledger import Ledger
    from sweep.run.records.results import ledger_entry
    from sweep.run.scheduling.units import Unit
    from sweep.run.worker.unit_runner import Scorer, run_unit

    cfg = load_config(sweep_file)
    (trial,) = trials(cfg)
    model, manifest = load_classifier(classifier)
    scorer = Scorer(model, manifest["weights_sha256"], cfg.score.samples, "mnist-5k",
                    load_fd_reference(classifier, manifest))
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        (result,) = run_unit(Unit((trial,), (0,)), load_mnist("mnist-5k", flatten=True)
                             .train_images, scorer, device=torch.device("cpu"),
                             storage_root=str(results))
    finally:
        torch.set_num_threads(before)
    Ledger(results).write(trial.key, ledger_entry(trial, result, trial_id="-", finished_at="-"))


def test_a_trial_killed_mid_way_resumes_bit_identically(tmp_path, small_classifier):
    sweep_file = _sweep(tmp_path, small_classifier)
    _uninterrupted(sweep_file, small_classifier, tmp_path / "straight")
    rc, out = run_api(sweep_file, tmp_path / "killed", "raise_once", tmp_path,
                      env={"SWEEP_TEST_RAISE_AT": str(RAISE_AT),
                           "SWEEP_TEST_CHECKPOINT_AT": str(CHECKPOINT_AT),
                           "SWEEP_TEST_MARKERS": str(tmp_path / "m1")})
    assert rc == 0, out[-3000:]
    assert "Trial task failed for trial ebgan_pt-" in out  # the fault, seen by Ray Tune

    a_entry, a_weights, a_png, a_curves = _files(tmp_path / "straight")
    b_entry, b_weights, b_png, b_curves = _files(tmp_path / "killed")
    assert a_weights.keys() == b_weights.keys()
    assert all(torch.equal(a_weights[k], b_weights[k]) for k in a_weights)  # bit-identical
    assert a_png == b_png and a_curves == b_curves
    assert (a_entry["score"], a_entry["fd"]) == (b_entry["score"], b_entry["fd"])
    # The record says what was run: 60 + (43 - 30) iterations, attempts from 0 and from 30.
    assert (a_entry["iterations_run"], a_entry["attempts"]) == (ITERATIONS, [0])
    assert b_entry["iterations_run"] == ITERATIONS + RAISE_AT - CHECKPOINT_AT
    assert b_entry["attempts"] == [0, CHECKPOINT_AT]
    # Only the newest checkpoint is kept, and it is gone once the trial's files are written.
    assert not list((tmp_path / "killed").glob("tune/*/*/checkpoint_*"))
    assert not list((tmp_path / "killed" / "checkpoints").glob("*.json"))


def test_a_damaged_checkpoint_is_refused_with_its_reason(tmp_path):
    state = {"iteration": 7, "x": torch.arange(5)}
    folder = tmp_path / "ck"
    meta = checkpoints.write_state(state, folder, "unit1")
    assert meta["iteration"] == 7 and meta["bytes"] == (folder / "state.pt").stat().st_size
    assert torch.equal(checkpoints.read_state(folder, "unit1")["x"], torch.arange(5))
    with pytest.raises(checkpoints.CheckpointError, match="unit unit1 format 1, not unit2"):
        checkpoints.read_state(folder, "unit2")
    payload = (folder / "state.pt").read_bytes()
    (folder / "state.pt").write_bytes(payload[:-10])  # truncated
    with pytest.raises(checkpoints.CheckpointError, match="is corrupt"):
        checkpoints.read_state(folder, "unit1")
    flipped = bytearray(payload)
    flipped[len(flipped) // 2] ^= 0xFF  # one byte flipped
    (folder / "state.pt").write_bytes(bytes(flipped))
    with pytest.raises(checkpoints.CheckpointError, match="is corrupt"):
        checkpoints.read_state(folder, "unit1")
    shutil.rmtree(folder)
    with pytest.raises(checkpoints.CheckpointError, match="cannot be read"):
        checkpoints.read_state(folder, "unit1")


def test_the_policy_keeps_checkpoints_under_two_percent(tmp_path):
    now = [0.0]
    policy = checkpoints.CheckpointPolicy(60.0, clock=lambda: now[0])
    now[0] = 59.0
    assert not policy.due()
    now[0] = 60.0
    assert policy.due()
    policy.saved(3.0)  # a slow checkpoint (3 s): the interval becomes 3 / 0.02 = 150 s
    assert policy.interval_s == 150.0
    now[0] = 60.0 + 149.0
    assert not policy.due()
    now[0] = 60.0 + 150.0
    assert policy.due()


def test_the_index_keeps_attempts_and_forgets_a_finished_unit(tmp_path):
    folder = tmp_path / "store" / "ck"
    checkpoints.write_state({"iteration": 30}, folder, "u")
    index = checkpoints.Index(tmp_path)
    for it in (10, 20, 30, 40):
        index.progress("u", 0, it, new_attempt=False)
    index.checkpointed("u", str(folder))
    index.progress("u", 30, 50, new_attempt=True)  # retried from the checkpoint at 30
    again = checkpoints.Index(tmp_path)  # what a rerun after a driver crash reads
    assert again.locations() == {"u": str(folder)}
    assert again.attempts("u") == [[0, 40], [30, 50]]
    # 40 iterations lost-and-redone... the first attempt ran 40, the second 30 -> 60 ran
    assert checkpoints.iterations_run(again.attempts("u"), done=60) == 40 + 30
    again.forget("u")
    assert checkpoints.Index(tmp_path).locations() == {} and not folder.exists()
