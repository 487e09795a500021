"""`sweep grid` end to end on a real local Ray instance: no mocks of Ray Tune.

Runs are real processes (tests/sweep/run/sweeps.py): the CLI, or the sweep API with a
test trainable (tests/sweep/run/faults.py) where a fault is injected.
"""
from __future__ import annotations

import json
import math
import os
import shutil
import signal
import time
from pathlib import Path

import pandas as pd
import pytest
import torch

from sweeps import (RUN_TIMEOUT_S, TRIAL_FILES, Driver, file_mtimes, ledger_entries, only,
                    planned_keys, run_api, sweep, write_sweep)


def test_smoke_sweep_end_to_end(smoke_run, small_classifier):
    work, sweep_file, results, out, *_ = smoke_run
    keys = planned_keys(sweep_file)
    assert len(keys) == 13
    df = pd.read_parquet(results / "trials.parquet")
    assert len(df) == 13 and set(df["trial_key"]) == keys and df["trial_key"].is_unique
    assert (df["status"] == "ok").all(), df[["trial_key", "status", "error"]]
    assert all(math.isfinite(s) for s in df["score"]), df["score"]
    assert (df["data_source"] == "mnist-5k").all()
    sha = json.loads((small_classifier / "manifest.json").read_text())["weights_sha256"]
    assert (df["classifier_sha256"] == sha).all()
    assert json.loads((results / "classifier.json").read_text())["weights_sha256"] == sha
    for row in df.itertuples():
        assert Path(row.trial_dir) == results / "trials" / row.trial_key
        for name in TRIAL_FILES:
            assert (Path(row.trial_dir) / name).is_file(), (row.trial_dir, name)
        config = json.loads((Path(row.trial_dir) / "config.json").read_text())
        assert config["trial_key"] == row.trial_key and config["classifier_sha256"] == sha

    # Every trial's reported losses are kept: curves.csv (checked above) and TensorBoard
    # event files, one run per trial named by family and key; Ray Tune's own analysis reads
    # the experiment.
    from ray.tune import ExperimentAnalysis
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    runs = sorted({p.parent for p in results.glob("tune/grid-*/*/events.out.tfevents.*")})
    assert len(runs) == 13 and {r.name.split("-")[1] for r in runs} == set(df["trial_key"])
    acc = EventAccumulator(str(runs[0]))
    acc.Reload()
    assert {"ray/tune/loss_d", "ray/tune/loss_g"} <= set(acc.Tags()["scalars"])
    (tune_dir,) = results.glob("tune/grid-*")
    assert len(ExperimentAnalysis(str(tune_dir)).dataframe()) == 13

    # `sweep collect` rebuilds the same table from the ledger alone.
    (results / "trials.parquet").unlink()
    rc, collect_out = sweep("collect", "-c", str(sweep_file), "--results", str(results), cwd=work)
    assert rc == 0, collect_out
    pd.testing.assert_frame_equal(pd.read_parquet(results / "trials.parquet"), df)

    # Running the same command again runs nothing: every trial is in the ledger.
    ledger_before = {p.name: (p.stat().st_mtime_ns, p.read_bytes())
                     for p in (results / "ledger").glob("*.json")}
    files_before = {row.trial_key: file_mtimes(row.trial_dir) for row in df.itertuples()}
    rc, again = sweep("grid", "-c", str(sweep_file), "--results", str(results), cwd=work)
    assert rc == 0, again[-3000:]
    assert "13 already finished, 0 grid trials to run" in again
    assert {p.name: (p.stat().st_mtime_ns, p.read_bytes())
            for p in (results / "ledger").glob("*.json")} == ledger_before
    assert {row.trial_key: file_mtimes(row.trial_dir) for row in df.itertuples()} == files_before
    pd.testing.assert_frame_equal(pd.read_parquet(results / "trials.parquet"), df)


@pytest.mark.slow  # the fault matrix kills the driver too (tests/sweep/run/test_faults.py)
def test_resume_after_sigkill_of_the_driver(tmp_path, small_classifier):
    def longer(doc: dict) -> None:
        doc["budget"]["iterations"] = 150  # long enough to kill the driver mid-sweep
    sweep_file = write_sweep(tmp_path / "smoke150.yaml", small_classifier, longer)
    results = tmp_path / "results"
    args = ["grid", "-c", str(sweep_file), "--results", str(results)]
    keys = planned_keys(sweep_file)

    driver = Driver(args, tmp_path)
    try:
        deadline = time.monotonic() + RUN_TIMEOUT_S
        while len(list((results / "ledger").glob("*.json"))) < 3:
            assert driver.proc.poll() is None, f"the driver ended early:\n{driver.output[-3000:]}"
            assert time.monotonic() < deadline, driver.output[-3000:]
            time.sleep(0.05)
        os.killpg(driver.proc.pid, signal.SIGKILL)
    finally:
        driver.close()  # the driver and its Ray (raylet, gcs_server, workers): all gone
    assert driver.proc.returncode == -signal.SIGKILL

    before = ledger_entries(results)
    assert 3 <= len(before) < len(keys), len(before)
    files_before = {k: file_mtimes(e["trial_dir"]) for k, e in before.items()}

    rc, out = sweep(*args, cwd=tmp_path)
    assert rc == 0, out[-3000:]
    assert f"{len(before)} already finished, {len(keys) - len(before)} grid trials to run" in out

    df = pd.read_parquet(results / "trials.parquet")
    assert len(df) == len(keys) and df["trial_key"].is_unique and set(df["trial_key"]) == keys
    assert (df["status"] == "ok").all(), df[["trial_key", "status", "error"]]
    after = ledger_entries(results)
    for key, entry in before.items():  # not retrained: same entry, same files
        assert (after[key]["trial_id"], after[key]["finished_at"]) == \
            (entry["trial_id"], entry["finished_at"])
        assert file_mtimes(entry["trial_dir"]) == files_before[key]


def test_a_raising_trial_is_recorded_as_error(tmp_path, small_classifier):
    def edit(doc: dict) -> None:
        only(("ebgan", "ebgan_pt"))(doc)
        doc["resources"]["max_failures"] = 1
    sweep_file = write_sweep(tmp_path / "error.yaml", small_classifier, edit)
    results = tmp_path / "results"
    rc, out = run_api(sweep_file, results, "fail_family", tmp_path,
                      env={"SWEEP_TEST_FAIL_FAMILY": "ebgan_pt"})
    assert rc == 0, out[-3000:]

    df = pd.read_parquet(results / "trials.parquet")
    assert len(df) == 5 and set(df["trial_key"]) == planned_keys(sweep_file)
    bad, good = df[df["family"] == "ebgan_pt"], df[df["family"] == "ebgan"]
    assert list(bad["status"]) == ["error"]
    assert "injected error in ebgan_pt-" in bad["error"].iloc[0]
    assert bad["score"].isna().all()
    assert len(good) == 4 and (good["status"] == "ok").all()
    assert all(math.isfinite(s) for s in good["score"])
    # max_failures: 1 -> the trial ran twice before it was recorded.
    assert out.count("Trial task failed for trial ebgan_pt-") == 2, out[-3000:]
    assert "(error 1, ok 4)" in out


def test_a_second_grid_on_a_busy_results_dir_exits_2(smoke_run):
    _, _, results, first_out, (rc, out), first_running, first_pid = smoke_run
    assert first_running, "the first sweep ended before the second one tried"
    assert rc == 2, out[-3000:]
    assert "is in use" in out and f"(pid {first_pid})" in out and str(results) in out, out
    assert "Traceback" not in out and "[grid]" not in out
    # The first one was not disturbed: it ran every trial (test_smoke_sweep_end_to_end
    # checks its table in full).
    assert "[grid] finished: 13 of 13 trials" in first_out and "(ok 13)" in first_out


def _other_classifier(src: Path, dst: Path) -> Path:
    """The same ConvNet with one weight changed: a different SHA-256, a valid manifest."""
    import hashlib
    import io

    shutil.copytree(src, dst)
    manifest = json.loads((dst / "manifest.json").read_text())
    state = torch.load(dst / manifest["weights_file"], weights_only=True)
    first = next(iter(state))
    state[first] = state[first] + 1e-3
    buf = io.BytesIO()
    torch.save(state, buf)
    (dst / manifest["weights_file"]).write_bytes(buf.getvalue())
    manifest["weights_sha256"] = hashlib.sha256(buf.getvalue()).hexdigest()
    (dst / "manifest.json").write_text(json.dumps(manifest))
    return dst


def test_a_different_sweep_is_refused_then_extended_or_started_fresh(
        tmp_path, smoke_run, small_classifier):
    _, smoke_file, finished, *_ = smoke_run
    results = tmp_path / "results"
    shutil.copytree(finished, results)  # a finished 13-trial experiment, ours to change
    old = ledger_entries(results)
    records = ("experiment.json", "sweep.yaml", "plan.json", "classifier.json")
    recorded = {name: (results / name).read_bytes() for name in records}

    def unchanged() -> bool:  # a refused run leaves the experiment exactly as it was
        return ledger_entries(results) == old and \
            {name: (results / name).read_bytes() for name in records} == recorded

    # Scores of another classifier never join the experiment.
    other = write_sweep(tmp_path / "other-classifier.yaml",
                        _other_classifier(small_classifier, tmp_path / "other-classifier"))
    rc, out = sweep("grid", "-c", str(other), "--results", str(results), cwd=tmp_path)
    assert rc == 2 and "classifier_sha256" in out and "Traceback" not in out, out[-3000:]
    assert unchanged()

    def more_lr(doc: dict) -> None:
        doc["families"]["gan"]["axes"]["lr"] = [0.01, 0.001, 0.0001]  # gan: 8 -> 12 trials
    bigger = write_sweep(tmp_path / "bigger.yaml", small_classifier, more_lr)
    new_keys = planned_keys(bigger) - planned_keys(smoke_file)
    assert len(new_keys) == 4 and planned_keys(smoke_file) < planned_keys(bigger)

    rc, out = sweep("grid", "-c", str(bigger), "--results", str(results), cwd=tmp_path)
    assert rc == 2, out[-3000:]
    assert "--extend" in out and "--fresh" in out and "Traceback" not in out
    assert unchanged()

    rc, out = sweep("grid", "-c", str(bigger), "--results", str(results), "--extend",
                    cwd=tmp_path)
    assert rc == 0, out[-3000:]
    assert "13 already finished, 4 grid trials to run" in out
    extended = ledger_entries(results)
    assert extended.keys() - old.keys() == new_keys
    assert all(extended[k] == e for k, e in old.items())  # the 13 old trials untouched
    assert len(pd.read_parquet(results / "trials.parquet")) == 17

    # --extend only adds: a sweep that drops trials is refused.
    one = write_sweep(tmp_path / "one.yaml", small_classifier, only(("ebgan_pt",)))
    rc, out = sweep("grid", "-c", str(one), "--results", str(results), "--extend", cwd=tmp_path)
    assert rc == 2 and "--extend only adds" in out, out[-3000:]

    rc, out = sweep("grid", "-c", str(one), "--results", str(results), "--fresh", cwd=tmp_path)
    assert rc == 0, out[-3000:]
    aside = list(tmp_path.glob("results.old-*"))
    assert len(aside) == 1 and f"moved to {aside[0]}" in out
    assert ledger_entries(aside[0]) == extended  # nothing deleted
    assert ledger_entries(results).keys() == planned_keys(one)
    assert len(pd.read_parquet(results / "trials.parquet")) == 1


def test_impossible_resources_are_refused_before_any_trial(tmp_path, small_classifier):
    # No node has a GPU here; where one has, ask for more CPUs than any node has.
    impossible = {"cpu": 4096} if torch.cuda.is_available() else {"gpu": 1}
    sweep_file = write_sweep(tmp_path / "gpu.yaml", small_classifier,
                             lambda doc: doc["resources"].update(impossible))
    results = tmp_path / "results"
    rc, out = sweep("grid", "-c", str(sweep_file), "--results", str(results), cwd=tmp_path)
    assert rc == 2, out[-3000:]
    assert "fit on no node of this cluster" in out and "error: resources per trial" in out
    assert "Traceback" not in out and "[grid]" not in out
    assert not list(results.glob("ledger/*.json")) and not (results / "trials").exists()
    assert not (results / "experiment.json").exists()  # nothing recorded for a refused run
