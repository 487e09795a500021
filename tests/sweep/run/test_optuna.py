"""Optuna families: a study on disk (optuna.journal) that optuna-dashboard opens, and a
continuation that works: raising `trials` runs exactly the new trials, also after the
driver was killed mid-family; no configuration is suggested twice."""
from __future__ import annotations

import os
import signal
import time

import optuna
import pandas as pd
import pytest

from sweep.run.scheduling.optuna_search import storage
from sweeps import Driver, ledger_entries, sweep, write_sweep

pytestmark = pytest.mark.slow  # four grids: minutes (make test-slow)


def _optuna(trials: int, iterations: int = 20):
    def edit(doc: dict) -> None:
        doc["budget"]["iterations"] = iterations
        doc["score"]["samples"] = 200
        doc["families"] = {"margin": {
            "model": "ebgan", "search": "optuna", "trials": trials,
            "axes": {"nLayerG": [2], "nLayerD": [2], "sizeG": [400], "sizeD": [128],
                     "dropoutD": [False], "optimD": ["adam"], "optimG": ["adam"],
                     "lr": {"loguniform": [0.0001, 0.01]}, "margin": {"uniform": [1, 32]}}}}
    return edit


def _study(results):
    return optuna.load_study(study_name="margin-seed0", storage=storage(results))


def test_raising_trials_runs_exactly_the_new_ones(tmp_path, small_classifier):
    results = tmp_path / "results"
    three = write_sweep(tmp_path / "three.yaml", small_classifier, _optuna(3))
    rc, out = sweep("grid", "-c", str(three), "--results", str(results), cwd=tmp_path)
    assert rc == 0, out[-3000:]
    first = ledger_entries(results)
    assert len(first) == 3
    done = [t for t in _study(results).trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(done) == 3  # what optuna-dashboard shows
    assert {round(t.params["margin"], 9) for t in done} == \
        {round(e["margin"], 9) for e in first.values()}

    five = write_sweep(tmp_path / "five.yaml", small_classifier, _optuna(5))
    rc, out = sweep("grid", "-c", str(five), "--results", str(results), cwd=tmp_path)
    assert rc == 0, out[-3000:]
    assert "2 trials of TPE (3 done before" in out
    after = ledger_entries(results)
    assert len(after) == 5 and {k: after[k] for k in first} == first  # the first 3 untouched
    df = pd.read_parquet(results / "trials.parquet")
    assert len(df) == 5 and df["trial_key"].is_unique and (df["status"] == "ok").all()
    assert df[["lr", "margin"]].drop_duplicates().shape[0] == 5  # five distinct configurations
    assert sum(t.state == optuna.trial.TrialState.COMPLETE for t in _study(results).trials) == 5


def test_a_killed_driver_mid_family_still_reaches_the_count(tmp_path, small_classifier):
    results = tmp_path / "results"
    sweep_file = write_sweep(tmp_path / "six.yaml", small_classifier, _optuna(6, 150))
    args = ["grid", "-c", str(sweep_file), "--results", str(results)]
    driver = Driver(args, tmp_path)
    try:
        deadline = time.monotonic() + 300
        while len(list((results / "ledger").glob("*.json"))) < 2:
            assert driver.proc.poll() is None, driver.output[-3000:]
            assert time.monotonic() < deadline, driver.output[-3000:]
            time.sleep(0.05)
        os.killpg(driver.proc.pid, signal.SIGKILL)
    finally:
        driver.close()
    before = ledger_entries(results)
    assert 2 <= len(before) < 6
    rc, out = sweep(*args, cwd=tmp_path)
    assert rc == 0, out[-3000:]
    after = ledger_entries(results)
    assert len(after) == 6 and {k: after[k] for k in before} == before
    states = [t.state for t in _study(results).trials]
    assert states.count(optuna.trial.TrialState.COMPLETE) == 6
    # trials the killed driver left running are closed as failed, not left hanging
    assert optuna.trial.TrialState.RUNNING not in states
