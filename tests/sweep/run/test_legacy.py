"""The resume contract: an experiment written by the previous version resumes with this one
without re-running anything, and trial keys are exactly those the previous code wrote.

tests/fixtures/legacy-smoke/ is the smoke sweep (13 trials) as the code before the sweep
redesign left it (commit ebcd1d1): ledger entries that still carry `inject_error: false`,
experiment.json with that code's trial keys, its table, and the 1-epoch classifier that
scored it. tests/fixtures/legacy_keys.json pins the keys that code computed for sweep.yaml
(6,657), the smoke and CPU-demo sweeps (copies of those files in legacy-sweeps/), and an
Optuna-style flat trial.

tests/fixtures/legacy-packs/ is the smoke sweep at 12 iterations with `resources.pack: 4`
(13 configurations in 5 Ray Tune trials, 4 of them packs) as the code before issue #18's
regroup left it (commit 5b22427): `pack_id`/`pack_size` set, `attempts` stored as JSON text.
It scored with the same classifier as legacy-smoke (copied from there).
"""
from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pandas as pd

from models.config import TrialConfig
from sweep.config import load_config, trials
from sweeps import REPO, ledger_entries, sweep

FIXTURES = REPO / "tests" / "fixtures"


def test_keys_are_those_the_previous_code_wrote():
    pinned = json.loads((FIXTURES / "legacy_keys.json").read_text())
    for name in ("sweep.yaml", "examples/smoke.yaml", "examples/cpu-demo.yaml"):
        # the sweep files as that code had them (the examples have changed since)
        keys = [t.key for t in trials(load_config(FIXTURES / "legacy-sweeps" / Path(name).name))]
        assert len(keys) == pinned[name]["n"]
        assert keys[:3] == pinned[name]["first"] and keys[-3:] == pinned[name]["last"]
        digest = hashlib.sha256("\n".join(keys).encode()).hexdigest()
        assert digest == pinned[name]["sha256_of_keys_in_order"], name
    flat = pinned["optuna-margin flat trial, margin 12.345"]
    assert TrialConfig.from_dict(flat["trial"]).key == flat["key"]


def test_a_legacy_experiment_resumes_without_rerunning_anything(tmp_path):
    exp = tmp_path / "legacy"
    shutil.copytree(FIXTURES / "legacy-smoke", exp)
    classifier = exp / "classifier"
    sweep_file = tmp_path / "smoke.yaml"
    sweep_file.write_text((exp / "sweep.yaml").read_text().replace("CLASSIFIER", str(classifier)))
    before = ledger_entries(exp)
    assert len(before) == 13 and all(e["inject_error"] is False for e in before.values())
    assert {TrialConfig.from_dict(e, ignore_extra=True).key for e in before.values()} == \
        set(before)  # today's key function gives the keys yesterday's entries are filed under

    rc, out = sweep("grid", "-c", str(sweep_file), "--results", str(exp), cwd=tmp_path)
    assert rc == 0, out[-3000:]
    assert "13 already finished, 0 grid trials to run" in out
    assert ledger_entries(exp) == before  # nothing re-run, nothing rewritten
    df = pd.read_parquet(exp / "trials.parquet")
    assert len(df) == 13 and set(df["trial_key"]) == set(before)
    assert "inject_error" not in df.columns  # the retired setting leaves the table


def test_a_packed_experiment_from_before_the_regroup_resumes_without_rerunning_anything(tmp_path):
    exp = tmp_path / "legacy-packs"
    shutil.copytree(FIXTURES / "legacy-packs", exp)
    shutil.copytree(FIXTURES / "legacy-smoke" / "classifier", exp / "classifier")
    sweep_file = tmp_path / "packs.yaml"
    sweep_file.write_text((exp / "sweep.yaml").read_text()
                          .replace("CLASSIFIER", str(exp / "classifier")))
    before = ledger_entries(exp)
    assert len(before) == 13 and {e["pack_size"] for e in before.values()} == {1, 2, 4}
    assert all(e["attempts"] == "[0]" for e in before.values())  # the old form: JSON text

    rc, out = sweep("grid", "-c", str(sweep_file), "--results", str(exp), cwd=tmp_path)
    assert rc == 0, out[-3000:]
    assert "13 already finished, 0 grid trials to run" in out
    assert ledger_entries(exp) == before  # nothing re-run, nothing rewritten
    df = pd.read_parquet(exp / "trials.parquet").set_index("trial_key")
    assert set(df.index) == set(before)
    assert all(list(a) == [0] for a in df["attempts"])  # the table reads the old form as a list
    packed = {k: (e["pack_id"], e["pack_size"]) for k, e in before.items() if e["pack_id"]}
    assert len(packed) == 12  # the 13th (ebgan_pt) trained alone
    assert {k: (df.loc[k, "pack_id"], df.loc[k, "pack_size"]) for k in packed} == packed
