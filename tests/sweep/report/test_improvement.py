"""The probability of improvement P(a beats b), ties counted half (sweep/report/analysis/improvement.py)."""
from __future__ import annotations

import numpy as np
import pytest

from sweep.report.analysis.improvement import ecdf, prob_improvement


def test_one_when_every_a_beats_every_b():
    r = prob_improvement(np.array([3.0, 4, 5, 6, 7]), np.array([0.0, 1, 2, 2, 1]), n_resamples=200)
    assert r["p"] == 1.0 and r["ci95"] == [1.0, 1.0]
    assert prob_improvement(np.array([0.0, 1]), np.array([3.0, 4]), n_resamples=0)["p"] == 0.0


def test_half_for_identical_distributions():
    x = np.random.default_rng(0).normal(size=400)
    r = prob_improvement(x, x.copy(), n_resamples=500)
    assert r["p"] == 0.5
    assert r["ci95"][0] < 0.5 < r["ci95"][1]


def test_ties_count_half_by_hand():
    # a = {1, 2}, b = {2}: 1 < 2 scores 0, 2 = 2 scores 1/2 -> (0 + 0.5) / 2
    assert prob_improvement(np.array([1.0, 2]), np.array([2.0]), n_resamples=0)["p"] == 0.25
    # all failures (I = 0) on both sides: every pair ties
    assert prob_improvement(np.zeros(6), np.zeros(9), n_resamples=0)["p"] == 0.5


def test_fd_lower_is_better_and_failed_fds_tie():
    # a = {1, 1, 2, inf}, b = {1, inf}: pairs (1,1) 1/2, (1,inf) 1 twice -> 3; (2,1) 0,
    # (2,inf) 1 -> 1; (inf,1) 0, (inf,inf) 1/2 -> 0.5: 4.5 / 8
    r = prob_improvement(np.array([1.0, 1, 2, np.inf]), np.array([1.0, np.inf]), "fd",
                         n_resamples=0)
    assert r["p"] == pytest.approx(4.5 / 8)


def test_matches_mann_whitney():
    from scipy.stats import mannwhitneyu
    rng = np.random.default_rng(3)
    a, b = np.round(rng.normal(1, 1, 300), 1), np.round(rng.normal(0, 1, 700), 1)  # many ties
    r = prob_improvement(a, b, n_resamples=300)
    assert r["p"] == pytest.approx(mannwhitneyu(a, b).statistic / (300 * 700))
    assert r["ci95"][0] < r["p"] < r["ci95"][1]


def test_ecdf_steps_and_failed_fds():
    x, f = ecdf(np.array([2.0, 1, 2, np.inf]))
    assert list(x) == [1.0, 2.0] and list(f) == [0.25, 0.75]  # ends below 1 by the failed share
