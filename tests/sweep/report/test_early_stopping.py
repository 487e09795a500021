"""A scheduled family in the report (sweep/report/early_stopping.py, panels, captions), on a
table written by hand: 4 EBGANs trained to the budget; 6 GANs under ASHA (grace 50,
reduction 3, budget 300), 2 stopped at rung 50, 1 at rung 150, 3 trained to 300.

By hand: iterations spent 50 + 50 + 150 + 3 x 300 = 1,150 of 6 x 300 = 1,800 (63.9%); the
best GAN by I is the one scoring 0.9 (FD 30); Figures 2-3 draw 3 GANs and leave 3 out.
"""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from sweep.report.early_stopping import early_stopping
from sweep.report.experiment import family_progress, load_experiment
from sweep.report.panels import Panel, fig2_panels, fig3_panels, stopped_note
from sweep.report.summary import render_markdown, summarize

SCHED = {"type": "asha", "metric": "score", "grace": 50, "reduction": 3.0, "brackets": 1,
         "budget": 300, "rungs": [[50, 150]]}


def row(key: str, family: str, status: str, done: int, score=None, fd=None, stopped_at=None,
        lr=0.001):
    return {"trial_key": key, "family": family, "model": "gan" if family == "gan" else "ebgan",
            "nLayerG": 2, "nLayerD": 2, "sizeG": 400, "sizeD": 128, "dropoutD": False,
            "optimD": "adam", "optimG": "adam", "lr": lr, "margin": 10.0, "pt_weight": 0.0,
            "z_dim": 100, "dropout": 0.5, "beta1": 0.5, "beta2": 0.999, "seed": 0,
            "epochs": 1, "iterations": 300, "batch_size": 64, "status": status,
            "score": score, "fd": fd, "iterations_done": done, "iterations_run": done,
            "iterations_planned": 300, "stopped_at": stopped_at, "data_source": "mnist-5k",
            "trial_dir": f"/nowhere/{key}", "classifier_sha256": "ab" * 32}


@pytest.fixture
def exp(tmp_path):
    rows = [row(f"e{i}", "ebgan", "ok", 300, 0.5 + 0.1 * i, 40.0 - i) for i in range(4)]
    rows += [row("g0", "gan", "stopped", 50, stopped_at=50, lr=0.01),
             row("g1", "gan", "stopped", 50, stopped_at=50),
             row("g2", "gan", "stopped", 150, stopped_at=150),
             row("g3", "gan", "ok", 300, 0.5, 40.0), row("g4", "gan", "ok", 300, 0.9, 30.0),
             row("g5", "gan", "ok", 300, 0.7, 20.0)]
    df = pd.DataFrame(rows)
    df["stopped_at"] = pd.to_numeric(df["stopped_at"]).astype("Int64")
    df.to_parquet(tmp_path / "trials.parquet")
    (tmp_path / "plan.json").write_text(json.dumps({
        "name": "t", "families": {"ebgan": 4, "gan": 6}, "total": 10, "seeds": [0],
        "axes": {}, "search": {"ebgan": "grid", "gan": "grid"},
        "budget": {"epochs": 1, "iterations": 300, "batch_size": 64},
        "data": {"source": "mnist-5k"}, "score_samples": 1000, "schedulers": {"gan": SCHED},
        "rung_samples": 500}))
    return load_experiment(tmp_path)


def test_the_section_by_hand(exp):
    s = early_stopping(exp)
    assert list(s) == ["gan"]            # ebgan has no scheduler
    g = s["gan"]
    assert g["started"] == 6 and g["stopped"] == {50: 2, 150: 1}
    assert g["reached_budget"] == 3 and g["failed"] == 0
    assert g["iterations"] == 1150 and g["full_budget_iterations"] == 1800
    assert g["fraction"] == pytest.approx(1150 / 1800)
    assert g["best"]["trial_key"] == "g4" and g["best"]["score"] == 0.9 and g["best"]["fd"] == 30.0


def test_fd_picks_the_lowest(exp):
    exp.plan["schedulers"]["gan"]["metric"] = "fd"
    assert early_stopping(exp)["gan"]["best"]["trial_key"] == "g5"


def test_figures_leave_stopped_configurations_out_and_say_so(exp):
    a = fig2_panels(exp)[0]
    gan = a.groups["GAN"]
    assert gan.n == 3 and gan.stopped == 3 and sorted(gan.scores) == [0.5, 0.7, 0.9]
    assert gan.counts()["n_error"] == 0 and gan.counts()["n_stopped"] == 3
    assert "3 stopped early, left out" in gan.legend()
    assert a.progress() is None          # 6 of 6 GANs are done, 3 of them stopped
    assert stopped_note(a) == ("3 configurations stopped early by the family's scheduler "
                               "(not trained to the budget) left out")
    assert stopped_note(Panel("fig2", "a", "all", {}, {"EBGAN": a.groups["EBGAN"]})) is None
    (fig3,) = [p for p in fig3_panels(exp) if p.setting["lr"] == 0.001]
    assert fig3.groups["GAN"].stopped == 2
    prog = family_progress(exp)["gan"]
    assert prog["n_stopped"] == 3 and prog["n_error"] == 0 and prog["done"] == 6


def test_summary_md_has_the_section(exp):
    md = render_markdown(summarize(exp, n_resamples=50))
    assert "## Early stopping (families with a scheduler)" in md
    assert ("| gan | asha on score, grace 50, reduction 3 | 6 | 50: 2, 150: 1 | 3 | 0 | 1,150 | "
            "1,800 (63.9%) | g4 | 0.900 | 30.00 |") in md
    assert "| family | done | planned | ok | diverged | error | stopped early |" in md
    assert "| gan | 6 | 6 | 3 | 0 | 0 | 3 |" in md


def test_no_scheduler_no_section(exp):
    exp.plan.pop("schedulers")
    assert early_stopping(exp) == {}
    exp.trials = exp.trials[exp.trials["status"] != "stopped"]
    md = render_markdown(summarize(exp, n_resamples=50))
    assert "Early stopping" not in md and "stopped early" not in md
    assert np.isfinite(exp.trials["score"].astype(float)).all()
