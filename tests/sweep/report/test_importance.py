"""Importance of each axis from Optuna's evaluator on an in-memory study (importance.py).

A synthetic family of 768 configurations (nLayerG x sizeD x sizeG x dropoutD x optimD x lr):
when I depends on lr alone, lr takes nearly all the importance; when I is high only for
lr = 0.001 *and* optimD = adam (an interaction), both axes are high.
"""
from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from sweep.report.analysis.importance import _objective, importances, swept_axes

AXES = {"nLayerG": [2, 3, 4, 5], "sizeD": [128, 256, 512, 1024], "sizeG": [400, 800, 1600, 3200], "dropoutD": [True, False],
        "optimD": ["adam", "sgd"], "lr": [0.01, 0.001, 0.0001]}


def family(score, axes: dict = AXES) -> pd.DataFrame:
    rows = [dict(zip(axes, v)) for v in itertools.product(*axes.values())]
    df = pd.DataFrame(rows).assign(nLayerD=2, optimG="adam", status="ok", fd=np.nan)
    df["sizeD"] = df.get("sizeD", 128)
    noise = np.random.default_rng(0).normal(0, 0.05, len(df))
    df["score"] = [score(r) for r in rows] + noise
    return df


def test_swept_axes_are_those_with_more_than_one_value():
    assert swept_axes(family(lambda r: 0.0)) == ["nLayerG", "sizeG", "sizeD", "dropoutD", "optimD", "lr"]


# fANOVA's forests are slow: 192 configurations (no sizeD axis) are enough for it; PED-ANOVA
# looks at the top decile only, whose other axes are noisy below a few hundred configurations
@pytest.mark.parametrize("evaluator, axes", [
    ("ped-anova", AXES), ("fanova", {a: v for a, v in AXES.items() if a != "sizeD"})])
def test_lr_alone(evaluator, axes):
    imp, why = importances(family(lambda r: 2.0 if r["lr"] == 0.001 else 1.0, axes), "score",
                           evaluator=evaluator)
    assert why is None
    assert sum(imp.shares.values()) == pytest.approx(1.0)
    assert imp.shares["lr"] > 0.9, imp.shares
    assert imp.raw_total > 5 * imp.shuffled_total  # well above what shuffled values give


def test_interacting_axes_are_both_high():
    imp, _ = importances(family(lambda r: 2.0 if r["lr"] == 0.001 and r["optimD"] == "adam"
                                else 1.0), "score")
    s = imp.shares
    assert s["lr"] > 0.3 and s["optimD"] > 0.3, s
    assert max(s["nLayerG"], s["sizeG"], s["dropoutD"]) < 0.05, s


def test_failures_rank_last():
    """Optuna minimises -I (failures: I = 0) and FD (failures: the largest finite FD + 1)."""
    df = pd.DataFrame({"status": ["ok", "diverged", "ok", "error"],
                       "score": [1.5, np.nan, 0.5, 2.0], "fd": [10.0, np.nan, 30.0, 5.0]})
    assert list(_objective(df, "score")) == [-1.5, 0.0, -0.5, 0.0]
    assert list(_objective(df, "fd")) == [10.0, 31.0, 30.0, 31.0]


def test_why_not():
    assert importances(family(lambda r: 1.0).head(10), "score") == \
        (None, "fewer than 50 configurations")
    one = family(lambda r: 1.0).assign(score=1.0)
    assert importances(one, "score")[1] == "every configuration has the same value"
