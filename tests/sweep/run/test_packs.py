"""Packed trials in the grid: `resources.pack` forces packs on the CPU; the table is the
one the pack-free smoke run wrote (same keys, statuses, scores), the ledger and every trial
file stay per configuration, and a grid of packs killed half-way re-runs nothing finished."""
from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import numpy as np
import pandas as pd

from sweeps import Driver, TRIAL_FILES, ledger_entries, planned_keys, sweep, write_sweep


def test_packs_give_the_table_of_single_trials_and_resume(tmp_path, small_classifier,
                                                          smoke_run):
    packed_file = write_sweep(tmp_path / "packed.yaml", small_classifier,
                              lambda doc: doc["resources"].update(pack=24))
    results = tmp_path / "packed"
    args = ["grid", "-c", str(packed_file), "--results", str(results)]
    driver = Driver(args, tmp_path)
    try:  # kill the driver once the first pack has finished
        deadline = time.monotonic() + 300
        while not list((results / "ledger").glob("*.json")):
            assert driver.proc.poll() is None, driver.output[-3000:]
            assert time.monotonic() < deadline, driver.output[-3000:]
            time.sleep(0.02)
        os.killpg(driver.proc.pid, signal.SIGKILL)
        first_out = driver.output
    finally:
        driver.close()
    # gan: one pack of 8; ebgan: 2 packs of 2 (nLayerG 2 and 3); ebgan_pt alone
    assert "4 Ray Tune trials (3 packs)" in first_out, first_out[-3000:]
    before = ledger_entries(results)
    assert 1 <= len(before) < 13
    assert all(e["pack_size"] == sum(1 for f in before.values() if f["pack_id"] == e["pack_id"])
               for e in before.values() if e["pack_id"])  # a pack's members are recorded together
    rc, out = sweep(*args, cwd=tmp_path)
    assert rc == 0, out[-3000:]
    after = ledger_entries(results)
    assert {k: after[k] for k in before} == before  # no finished configuration re-ran
    assert set(after) == planned_keys(packed_file)

    single = smoke_run[2]  # the smoke sweep's results, one configuration per trial
    a = pd.read_parquet(results / "trials.parquet").set_index("trial_key").sort_index()
    b = pd.read_parquet(single / "trials.parquet").set_index("trial_key").sort_index()
    assert list(a.index) == list(b.index) and (a["status"] == b["status"]).all()
    for col in ("score", "fd", "loss_d", "loss_g"):
        np.testing.assert_allclose(a[col], b[col], rtol=1e-5, err_msg=col)  # float32 runs
    assert a["pack_size"].max() == 8 and (b["pack_size"] == 1).all()
    assert a.loc[a["family"] == "gan", "pack_id"].nunique() == 1
    for trial_dir in a["trial_dir"]:  # every configuration has its own files
        assert all((Path(trial_dir) / name).is_file() for name in TRIAL_FILES), trial_dir
    record = json.loads((Path(a["trial_dir"].iloc[0]) / "record.json").read_text())
    assert record["pack_size"] == a["pack_size"].iloc[0]
