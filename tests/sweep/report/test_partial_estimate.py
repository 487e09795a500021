"""The full grid's estimate from a partial, randomly ordered grid
(sweep/report/partial_estimate.py).

Small hand-made families whose expected values follow from the definitions: the sample
is the longest complete prefix of ``order`` cut at a group boundary; the interval is a
group bootstrap rescaled by sqrt(1 - n/N); the trials needed to exclude 0 follow from
the half-width scaling as sqrt((1 - n/N) / n).
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sweep.report.partial_estimate import (
    complete_prefix, estimate_full_grid, fpc_median, more_trials_needed, random_sample,
    resampled_medians,
)
from sweep.report.experiment import Experiment, load_experiment
from sweep.report.summary import render_markdown, summarize

try:
    from report_tables import make_trials, with_order, write_experiment
except ImportError:  # tests/ imported as a package
    from tests.sweep.report.report_tables import make_trials, with_order, write_experiment

# An EBGAN family of 8 architecture groups (nLayerG x sizeG) of 2 configurations
# (dropoutD): N = 16, group size 16 / (4 * 2) = 2.
AXES = {"nLayerG": [2, 3, 4, 5], "nLayerD": [2], "sizeG": [400, 800], "sizeD": [128],
        "dropoutD": [True, False], "optimD": ["adam"], "optimG": ["adam"], "lr": [0.001]}
PLAN = {"families": {"ebgan": 16}, "axes": {"ebgan": AXES}, "seeds": [0],
        "search": {"ebgan": "grid"}}


def family(orders: list[int]) -> pd.DataFrame:
    """The configurations handed out at ``orders``: group g = order // 2 is
    (nLayerG, sizeG) number g; score = order, fd = 100 - order."""
    rows = []
    for o in orders:
        g = o // 2
        rows.append({"family": "ebgan", "model": "ebgan", "nLayerG": 2 + g // 2, "nLayerD": 2,
                     "sizeG": (400, 800)[g % 2], "sizeD": 128, "z_dim": 100, "seed": 0,
                     "dropoutD": bool(o % 2), "status": "ok", "score": float(o),
                     "fd": 100.0 - o, "order": float(o)})
    return pd.DataFrame(rows)


def exp_of(df: pd.DataFrame, plan: dict = PLAN) -> Experiment:
    return Experiment(Path("."), df, plan, None)


# --- the sample -----------------------------------------------------------------------
def test_complete_prefix():
    assert complete_prefix(np.array([0, 1, 2, 4, 5])) == 3
    assert complete_prefix(np.array([1, 2])) == 0
    assert complete_prefix(np.array([2, 0, 1, np.nan])) == 3


def test_a_gap_limits_the_sample_to_the_prefix_before_it():
    # orders 0-5 and 8-9: order 6 is missing, so 8 and 9 are not part of the sample
    s = random_sample(exp_of(family([0, 1, 2, 3, 4, 5, 8, 9])), "ebgan")
    assert (s.k, s.n_groups, s.group_size, s.planned) == (6, 3, 2, 16)
    v, _ = s.values("score")
    assert np.median(v) == 2.5  # median of 0..5; with 8 and 9 it would be 3.5


def test_a_partly_finished_group_at_the_end_is_left_out():
    # orders 0-4: the group {4, 5} is half done, so the sample is the groups {0,1}, {2,3}
    s = random_sample(exp_of(family([0, 1, 2, 3, 4])), "ebgan")
    assert (s.k, s.n_groups) == (4, 2)
    assert sorted(s.values("score")[0]) == [0.0, 1.0, 2.0, 3.0]


def test_group_size_is_read_from_the_table_without_plan_axes():
    plan = {"families": {"ebgan": 16}}
    s = random_sample(exp_of(family([0, 1, 2, 3, 4]), plan), "ebgan")
    assert (s.group_size, s.k) == (2, 4)


def test_no_sample_without_order_or_plan():
    assert "no `order` column" in random_sample(exp_of(family([0, 1]).drop(columns="order")),
                                                "ebgan")
    assert "no hand-out order" in random_sample(exp_of(family([0, 1]).assign(order=np.nan)),
                                                "ebgan")
    assert "no planned count" in random_sample(exp_of(family([0, 1]), {}), "ebgan")
    assert "order 0 is the first one missing" in random_sample(exp_of(family([2, 3])), "ebgan")


# --- the rescaled group bootstrap -----------------------------------------------------
def test_resampled_medians_are_medians_of_resampled_groups():
    rng = np.random.default_rng(0)
    v, g = rng.normal(size=37).round(1), rng.integers(0, 9, size=37)  # ties included
    n_groups = len(np.unique(g))
    got = resampled_medians(v, g, n_resamples=300, rng=np.random.default_rng(1), batch=250)
    ref_rng, gid = np.random.default_rng(1), np.unique(g, return_inverse=True)[1]
    want = []
    for b in (250, 50):  # the same draws, batch by batch
        for row in ref_rng.integers(0, n_groups, size=(b, n_groups)):
            want.append(np.median(np.concatenate([v[gid == p] for p in row])))
    np.testing.assert_allclose(got, want)


def test_a_complete_family_has_a_zero_width_interval_at_its_exact_median():
    v, g = np.arange(16.0), np.arange(16) // 2
    r = fpc_median(v, g, 16, 16, n_resamples=200, rng=np.random.default_rng(0))
    assert r["estimate"] == 7.5 and r["ci95"] == [7.5, 7.5]


def test_the_interval_shrinks_by_the_finite_population_correction():
    """Same draws, so each interval end moves towards m_hat by exactly sqrt(1 - n/N)."""
    v, g = np.random.default_rng(3).normal(size=40), np.arange(40) // 2
    wide = fpc_median(v, g, 40, 10**12, n_resamples=400, rng=np.random.default_rng(0))
    half = fpc_median(v, g, 40, 80, n_resamples=400, rng=np.random.default_rng(0))
    m = wide["estimate"]
    for a, b in zip(half["ci95"], wide["ci95"]):
        assert (a - m) == pytest.approx((b - m) * math.sqrt(1 - 40 / 80), rel=1e-9)


def test_trials_needed_to_exclude_zero_by_hand():
    """n/N = 1/4 in both families, equal per-trial variances. With proportional allocation
    both fractions stay equal, f, and the half-width scales as sqrt(((1-f)/f) / 3).
    Half-width 1.0, difference 0.5: (1-f)/f < 3 * 0.25 = 0.75, f > 4/7; the families
    (100 and 300 planned) need m > (4/7 - 1/4) * 400 = 128.57 more trials: 32.14 and
    96.43, rounded up to 33 and 97 single trials, or to whole groups of 2 and 24:
    34 and 120."""
    more = more_trials_needed(0.5, [-0.5, 1.5], {"EBGAN": (25, 100, 1.0, 1),
                                                 "GAN": (75, 300, 1.0, 1)})
    assert more == {"possible": True, "more_trials": 130, "per_family": {"EBGAN": 33, "GAN": 97}}
    more = more_trials_needed(0.5, [-0.5, 1.5], {"EBGAN": (25, 100, 1.0, 2),
                                                 "GAN": (75, 300, 1.0, 24)})
    assert more["per_family"] == {"EBGAN": 34, "GAN": 120} and more["more_trials"] == 154
    assert more_trials_needed(0.5, [0.1, 0.9], {"EBGAN": (25, 100, 1.0, 1)}) is None
    assert not more_trials_needed(0.0, [-1, 1], {"EBGAN": (25, 100, 1.0, 1)})["possible"]


# --- on the synthetic Table 1 grid ----------------------------------------------------
@pytest.fixture(scope="module")
def grid(tmp_path_factory) -> pd.DataFrame:
    return with_order(make_trials(tmp_path_factory.mktemp("grid")))


def test_a_known_shift_is_estimated_from_a_quarter_of_the_grid(grid, tmp_path):
    """EBGAN ~ N(2, .1), GAN ~ N(1, .1): a quarter of each family (64 groups each) gives
    a difference near 1 whose interval excludes 0 and holds the full grid's value."""
    full = grid[grid.family != "ebgan_pt"]
    truth = (full[full.family == "ebgan"].score.median() - full[full.family == "gan"].score.median())
    df = grid[((grid.family == "ebgan") & (grid.order < 128))
              | ((grid.family == "gan") & (grid.order < 1536)) | (grid.family == "ebgan_pt")]
    est = estimate_full_grid(load_experiment(write_experiment(tmp_path / "e", df)),
                             n_resamples=500)
    assert est["random_sample"] and est["families"]["GAN"]["groups"] == 64
    assert est["families"]["EBGAN"] == {"family": "ebgan", "k": 128, "planned": 512,
                                        "done": 128, "groups": 64, "groups_planned": 256,
                                        "group_size": 2}
    diff = next(r for r in est["rows"] if r["group"] == "EBGAN − GAN")
    assert diff["estimate"] == pytest.approx(1.0, abs=0.05)
    assert 0 < diff["ci95"][0] <= truth <= diff["ci95"][1]
    assert diff["more_trials"] is None  # already excludes 0


def test_a_complete_family_beside_a_partial_one_is_exact(grid, tmp_path):
    df = grid[(grid.family != "gan") | (grid.order < 2400)]  # GAN: 100 groups of 24
    est = estimate_full_grid(load_experiment(write_experiment(tmp_path / "e", df)),
                             n_resamples=200)
    eb = next(r for r in est["rows"] if r["group"] == "EBGAN" and r["metric"] == "score")
    exact = grid[grid.family == "ebgan"].score.median()
    assert eb["estimate"] == pytest.approx(exact) and eb["ci95"] == [eb["estimate"]] * 2
    gan = next(r for r in est["rows"] if r["group"] == "GAN" and r["metric"] == "score")
    assert gan["ci95"][0] < gan["estimate"] < gan["ci95"][1]


def test_overlapping_groups_report_the_trials_needed(grid, tmp_path):
    df = grid.copy()
    gan = df.family == "gan"
    df.loc[gan, "score"] = df.loc[gan, "score"] + 1.0 - 0.004  # GAN ~ N(2 - 0.004, .1)
    df = df[((df.family == "ebgan") & (df.order < 32)) | ((df.family == "gan") & (df.order < 384))]
    s = summarize(load_experiment(write_experiment(tmp_path / "e", df)), n_resamples=300)
    diff = next(r for r in s["estimate"]["rows"] if r["group"] == "EBGAN − GAN")
    assert diff["ci95"][0] < 0 < diff["ci95"][1]
    more = diff["more_trials"]
    assert more["possible"] and more["more_trials"] > 0
    assert more["more_trials"] <= (512 - 32) + (6144 - 384)
    assert more["per_family"]["GAN"] % 24 == 0 or more["per_family"]["GAN"] == 6144 - 384
    md = render_markdown(s)
    assert "## Estimate of the full grid (Figure 2(a))" in md
    assert "uniform random sample of ebgan 32 of 512 trials (16 of 256 architecture groups)" in md
    assert f"about {more['more_trials']:,} more trials" in md


def test_partial_old_table_is_not_a_random_sample(tmp_path):
    df = make_trials(tmp_path)  # no order column
    df = df[(df.family != "gan") | (df.sizeG <= 800)]
    s = summarize(load_experiment(write_experiment(tmp_path / "e", df)), n_resamples=100)
    assert s["estimate"]["partial"] and not s["estimate"]["random_sample"]
    assert s["estimate"]["rows"] == []
    assert "not a random sample" in s["claim"]
    assert "not a random sample" in render_markdown(s)


def test_complete_grid_needs_no_estimate(grid, tmp_path):
    s = summarize(load_experiment(write_experiment(tmp_path / "e", grid)), n_resamples=100)
    assert not s["estimate"]["partial"] and s["estimate_text"] is None
    assert "Estimate of the full grid" not in render_markdown(s)
