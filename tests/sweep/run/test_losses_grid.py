"""examples/smoke-losses.yaml end to end: one family per model (GAN, EBGAN, LSGAN, WGAN-GP,
hinge, BEGAN), each family one pack, on a real local Ray instance. It plans, runs, runs
nothing again on a rerun, and draws (issue #22)."""
from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest
import yaml

from sweeps import REPO, planned_keys, sweep

SMOKE_LOSSES = REPO / "examples" / "smoke-losses.yaml"


@pytest.mark.slow  # about 90 s on 2 CPU cores: Ray, 16 trials, a rerun and the figures
def test_every_model_plans_runs_resumes_and_draws(tmp_path, small_classifier):
    doc = yaml.safe_load(SMOKE_LOSSES.read_text())
    doc["score"]["classifier"] = str(small_classifier)
    sweep_file = tmp_path / "smoke-losses.yaml"
    sweep_file.write_text(yaml.safe_dump(doc, sort_keys=False))
    results = tmp_path / "results"
    args = ("-c", str(sweep_file), "--results", str(results))

    rc, out = sweep("plan", "-c", str(sweep_file), cwd=tmp_path)
    assert rc == 0 and "total: 16" in out, out[-3000:]
    rc, out = sweep("grid", *args, cwd=tmp_path)
    assert rc == 0, out[-3000:]
    df = pd.read_parquet(results / "trials.parquet")
    assert set(df["trial_key"]) == planned_keys(sweep_file) and len(df) == 16
    assert (df["status"] == "ok").all(), df[["family", "status", "error"]]
    assert all(math.isfinite(s) for s in df["score"])
    # 2 configurations per family, 4 where the model's own setting is an axis; one pack each
    assert df.groupby("model")["pack_id"].nunique().to_dict() == dict.fromkeys(
        ["gan", "ebgan", "lsgan", "wgan_gp", "hinge", "began"], 1)
    assert df.groupby("model").size().to_dict() == {"gan": 2, "ebgan": 2, "lsgan": 2, "hinge": 2,
                                                    "wgan_gp": 4, "began": 4}
    wgan = df[df["model"] == "wgan_gp"]
    assert set(zip(wgan["beta1"], wgan["beta2"])) == {(0.0, 0.9)}      # its paper's betas
    assert set(wgan["gp_weight"]) == {10.0, 1.0}
    assert set(df.loc[df["model"] == "began", "gamma"]) == {0.5, 0.7}
    assert set(df.loc[df["model"] != "wgan_gp", "beta1"]) == {0.5}
    curves = pd.read_csv(Path(df.loc[df["model"] == "began", "trial_dir"].iloc[0]) / "curves.csv")
    assert {"k_t", "m_global"} <= set(curves.columns)

    rc, again = sweep("grid", *args, cwd=tmp_path)
    assert rc == 0 and "16 already finished, 0 grid trials to run" in again, again[-3000:]
    pd.testing.assert_frame_equal(pd.read_parquet(results / "trials.parquet"), df)

    rc, out = sweep("histograms", *args, cwd=tmp_path)
    assert rc == 0, out[-3000:]
    assert (results / "figures" / "fig2.png").is_file()
    keys = df.groupby("model")["trial_key"].first().tolist()
    rc, out = sweep("curves", *args, *keys, cwd=tmp_path)
    assert rc == 0 and (results / "figures" / "curves.png").is_file(), out[-3000:]
