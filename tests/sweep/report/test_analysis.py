"""Budget, importance and improvement end to end: the CSVs hold what the figures draw,
a partial grid is estimated from its random sample, and `sweep histograms` writes it all.

A small synthetic grid (report_tables.py, cut to nLayerG, nLayerD in {2, 3}, sizeG in
{400, 800}, sizeD in {128, 256}): 32 EBGANs ~ N(2.0, 0.1), 384 GANs ~ N(1.0, 0.1), one
EBGAN-PT, FD beside them, a few failures.
"""
from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from sweep.report.analysis.tables import CSV_NAMES, analysis_summary, analyze
from sweep.report.analysis.plots import fig2_ecdf, fig6_budget, fig7_importance
from sweep.report.analysis.sections import render_analysis
from sweep.report.experiment import load_experiment
from sweep.report.figures import draw_histograms
from sweep.report.panels import FIG2_SUBSETS

try:
    from report_tables import fail_some, make_trials, with_fd, with_order, write_experiment
except ImportError:
    from tests.sweep.report.report_tables import fail_some, make_trials, with_fd, with_order, \
        write_experiment

N_RESAMPLES = 200


def small(tmp) -> pd.DataFrame:
    df = fail_some(with_fd(make_trials(tmp)))
    keep = (df.nLayerG.isin([2, 3]) & df.nLayerD.isin([2, 3]) & df.sizeG.isin([400, 800])
            & df.sizeD.isin([128, 256])) | (df.family == "ebgan_pt")
    return df[keep].reset_index(drop=True)


@pytest.fixture(scope="module")
def exp(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("analysis")
    return load_experiment(write_experiment(tmp / "exp", small(tmp), plan=False))


@pytest.fixture(scope="module")
def an(exp):
    return analyze(exp, n_resamples=N_RESAMPLES)


def lines_by_gid(fig: Figure) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    return {ln.get_gid(): (np.asarray(ln.get_xdata(), float), np.asarray(ln.get_ydata(), float))
            for ax in fig.axes for ln in ax.get_lines() if ln.get_gid()}


def test_families_and_counts(an):
    assert {f: d.n for f, d in an.draws.items()} == {"ebgan": 32, "gan": 384, "ebgan_pt": 1}
    assert not any(d.estimate for d in an.draws.values())
    b = an.budget
    assert b.groupby(["family", "metric"])["k"].max().to_dict() == {
        ("ebgan", "fd"): 32, ("ebgan", "score"): 32, ("ebgan_pt", "fd"): 1,
        ("ebgan_pt", "score"): 1, ("gan", "fd"): 384, ("gan", "score"): 384}


def test_csvs_hold_what_the_figures_draw(exp, an, tmp_path):
    files = an.write_csvs(tmp_path)
    assert sorted(files) == sorted(CSV_NAMES)
    budget, hours = pd.read_csv(files["budget.csv"]), pd.read_csv(files["budget_hours.csv"])
    drawn = lines_by_gid(fig6_budget(exp, an))
    checked = 0
    for (fam, metric), g in budget.groupby(["family", "metric"]):
        for what, col in (("best", "expected_best"), ("lo", "lo"), ("hi", "hi")):
            if len(g) == 1 and what != "best":
                continue
            # the top row draws k, the bottom row hours: both under the same gid
            xs = [x for gid, x in drawn.items() if gid == f"{fam}|{metric}|{what}"]
            assert xs, (fam, metric, what)
            x, y = drawn[f"{fam}|{metric}|{what}"]
            h = hours[(hours.family == fam) & (hours.metric == metric)]
            want = (g["k"], g[col]) if len(x) == len(g) and np.allclose(x, g["k"]) else \
                (h["hours"], h[col])
            assert np.allclose(x, want[0]) and np.allclose(y, want[1], equal_nan=True)
            checked += 1
    assert checked >= 12

    imp = pd.read_csv(files["importance.csv"])
    fig7 = fig7_importance(exp, an)
    bars = {}
    for ax in fig7.axes:
        for patch in ax.patches:
            if patch.get_gid():
                bars.setdefault(patch.get_gid(), []).append(patch.get_width())
    for (fam, metric), g in imp.groupby(["family", "metric"]):
        assert sorted(bars[f"{fam}|{metric}|importance"]) == pytest.approx(sorted(g["importance"]))
        assert g["importance"].sum() == pytest.approx(1.0)

    steps = pd.read_csv(files["ecdf.csv"])
    drawn = lines_by_gid(fig2_ecdf(exp, an, {k: t for k, t, _ in FIG2_SUBSETS}))
    for (panel, fam, metric), g in steps.groupby(["panel", "family", "metric"]):
        x, y = drawn[f"{fam}|{metric}|ecdf|{panel}"]  # drawn from 0 at the first value
        assert (x[0], y[0]) == (g["value"].iloc[0], 0.0)
        assert np.allclose(x[1:], g["value"]) and np.allclose(y[1:], g["fraction"])

    improvement = pd.read_csv(files["improvement.csv"])
    assert set(improvement.panel) == {"a", "b", "c"}
    # EBGAN ~ N(2, 0.1) vs GAN ~ N(1, 0.1): only failed EBGANs (I = 0) lose
    a = improvement[(improvement.panel == "a") & (improvement.metric == "score")
                    & (improvement.family_b == "gan") & (improvement.family_a == "ebgan")].iloc[0]
    eb_failed = an.draws["ebgan"].n_failed
    gan_failed = an.draws["gan"].n_failed
    want = ((32 - eb_failed) * 384 + eb_failed * gan_failed * 0.5) / (32 * 384)
    assert a.p_improvement == pytest.approx(want)


def test_partial_grid_is_estimated_from_its_random_sample(tmp_path):
    df = with_fd(with_order(make_trials(tmp_path)))
    # the first 4 of 128 EBGAN architecture groups (4 configurations each) and the first 2
    # of 128 GAN groups (48 each) have finished, and one GAN beyond a gap
    keep = ((df.family == "ebgan") & (df.order < 16)) | ((df.family == "gan") & (df.order < 96)) \
        | ((df.family == "gan") & (df.order == 200)) | (df.family == "ebgan_pt")
    exp = load_experiment(write_experiment(tmp_path / "exp", df[keep].reset_index(drop=True)))
    an = analyze(exp, n_resamples=50)
    assert (an.draws["ebgan"].n, an.draws["gan"].n) == (16, 96)  # the gap's trial left out
    assert an.draws["ebgan"].estimate and an.draws["gan"].estimate
    assert not an.draws["ebgan_pt"].estimate
    assert an.budget.groupby("family")["k"].max().to_dict() == {"ebgan": 16, "gan": 96,
                                                                 "ebgan_pt": 1}
    assert an.budget.loc[an.budget.family == "gan", "estimate"].all()
    s = {"analysis": analysis_summary(an), "fig2": []}
    md = "\n".join(render_analysis(s))
    assert "Partial grid: estimates" in md and "EBGAN 16 of 512, GAN 96 of 6,144" in md
    assert "EBGAN vs GAN (estimate)" in md


def test_histograms_write_the_new_figures_and_tables(exp, tmp_path):
    out = draw_histograms(exp.path, out_dir=tmp_path / "figures", n_resamples=N_RESAMPLES)
    names = set(out["files"])
    assert {"fig6_budget.png", "fig7_importance.png", "fig2_ecdf.png", *CSV_NAMES} <= names
    md = (tmp_path / "figures" / "summary.md").read_text()
    for heading in ("## Expected best under a budget (fig6_budget)",
                    "## How often a random EBGAN beats a random GAN (fig2_ecdf)",
                    "## Which settings matter (fig7_importance)"):
        assert heading in md
    assert "| EBGAN | 32 | " in md  # the budget table's row: expected best I at k = 1...
    assert re.search(r"\| EBGAN \| 32 \| ∞ \| ∞ \| \d", md)  # FD: 3 failed, so k = 1, 2 are ∞, 5 not
    assert "∞: k is at most the family's number of failed configurations" in md
    an = out["summary"]["analysis"]
    assert an["budget_table"]["ebgan"]["score"][1] == pytest.approx(
        np.mean(np.where(exp.trials.query("family == 'ebgan'").status == "ok",
                         exp.trials.query("family == 'ebgan'").score, 0.0)))


def test_configurations_stopped_by_a_scheduler_are_left_out_not_failed(tmp_path):
    """A stopped configuration never reached the budget: it is neither a draw nor a failure;
    the survivors are labelled as not a random sample."""
    df = small(tmp_path)
    gans = df.index[(df.family == "gan") & (df.status == "ok")][:100]
    df.loc[gans, "status"] = "stopped"
    df.loc[gans, ["score", "fd"]] = np.nan
    exp = load_experiment(write_experiment(tmp_path / "exp", df, plan=False))
    an = analyze(exp, n_resamples=20)
    gan = an.draws["gan"]
    assert gan.n == 384 - 100 and gan.estimate and "100 configurations stopped early" in gan.note
    assert gan.n_failed == int((df.family == "gan").sum() - 100
                               - ((df.family == "gan") & (df.status == "ok")).sum())
    assert not an.draws["ebgan"].estimate and an.draws["ebgan"].n == 32
