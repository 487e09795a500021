"""The expected best under a budget (sweep/report/analysis/budget.py) against brute force.

For n = 8 every k-subset can be enumerated (C(8, 4) = 70 at most), so the exact formula
E[max of k] = sum_i s_(i) C(i-1, k-1) / C(n, k) is checked against the mean over all
subsets, with ties and failures (I = 0, FD = +inf), for every k.
"""
from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest

from sweep.report.analysis import budget as B
from sweep.report.analysis.population import worst_filled

# 8 configurations: ties (0.9 twice, 1.5 twice), two failures (a diverged one without a
# score and an error that kept a score: both score the worst value)
TABLE = pd.DataFrame({
    "status": ["ok", "ok", "diverged", "ok", "ok", "error", "ok", "ok"],
    "score": [0.9, 1.5, np.nan, 0.9, 2.0, 1.8, 1.5, 0.3],
    "fd": [40.0, 20.0, np.nan, 40.0, 10.0, 5.0, 25.0, 80.0],
})


def brute(values: np.ndarray, k: int, best) -> float:
    return float(np.mean([best(c) for c in itertools.combinations(values, k)]))


def test_failures_take_the_worst_value():
    assert list(worst_filled(TABLE, "score")) == [0.9, 1.5, 0.0, 0.9, 2.0, 0.0, 1.5, 0.3]
    fd = worst_filled(TABLE, "fd")
    assert np.isinf(fd[2]) and np.isinf(fd[5]) and fd[4] == 10.0


@pytest.mark.parametrize("k", range(1, 9))
def test_expected_max_matches_every_subset(k):
    v = worst_filled(TABLE, "score")
    got = B.expected_best(v, np.array([k]), "score")[0]
    assert got == pytest.approx(brute(v, k, max), abs=1e-12)


@pytest.mark.parametrize("k", range(1, 9))
def test_expected_min_fd_matches_every_subset(k):
    fd = worst_filled(TABLE, "fd")
    got = B.expected_best(fd, np.array([k]), "fd")[0]
    want = brute(fd, k, min)  # +inf while a subset can be all failed (k <= 2 failures)
    if math.isinf(want):
        assert math.isinf(got) and got > 0
    else:
        assert got == pytest.approx(want, abs=1e-12)


def test_by_hand_small_case():
    # {0, 1, 2}: best of 1 is the mean 1; best of 2 over {0,1},{0,2},{1,2} is (1+2+2)/3
    v = np.array([2.0, 0.0, 1.0])
    assert list(B.expected_best(v, np.array([1, 2, 3]), "score")) == pytest.approx([1, 5 / 3, 2])


def test_large_n_is_stable_and_monotone():
    v = np.random.default_rng(0).normal(size=6144)
    ks = B.k_grid(len(v))
    e = B.expected_best(v, ks, "score")
    assert e[0] == pytest.approx(v.mean(), abs=1e-9) and e[-1] == pytest.approx(v.max())
    assert np.all(np.diff(e) >= -1e-12)
    assert set(B.TABLE_K) <= set(ks.tolist()) and ks[-1] == 6144


def test_k_to_reach_and_k_to_match_are_the_first_k():
    v = worst_filled(TABLE, "score")
    e = [brute(v, k, max) for k in range(1, 9)]
    k90 = B.k_to_reach(v, "score")
    assert e[k90 - 1] >= 0.9 * 2.0 > e[k90 - 2]
    target = e[2]  # the expected best of 3
    assert B.k_to_match(v, "score", target) == 3
    assert B.k_to_match(v, "score", 2.5) is None  # above every value: never
    fd = worst_filled(TABLE, "fd")
    m = [brute(fd, k, min) for k in range(1, 9)]
    k = B.k_to_reach(fd, "fd")
    assert m[k - 1] <= 10.0 / 0.9 < m[k - 2]


def test_band_holds_the_curve_and_is_flat_for_equal_values():
    v = np.random.default_rng(1).normal(2.0, 0.5, size=200)  # scores are never negative
    ks = B.k_grid(200)
    e = B.expected_best(v, ks, "score")
    lo, hi = B.bootstrap_band(v, ks, "score", n_resamples=300, rng=np.random.default_rng(0))
    assert np.all(lo <= e) and np.all(e <= hi) and np.all(hi - lo > 0)
    same = np.full(50, 1.25)
    lo, hi = B.bootstrap_band(same, B.k_grid(50), "score", n_resamples=50,
                              rng=np.random.default_rng(0))
    assert np.allclose(lo, 1.25) and np.allclose(hi, 1.25)


def test_hours_curve_is_the_best_of_the_configurations_done():
    # every configuration takes 1 hour: after H hours, floor(H) random configurations
    v = worst_filled(TABLE, "score")
    h = B.hours_curve(v, np.full(8, 3600.0), "score", n_runs=4000,
                      rng=np.random.default_rng(0), points=8)
    assert h["hours"][0] == pytest.approx(1.0) and h["hours"][-1] == pytest.approx(8.0)
    assert np.all(np.diff(h["expected_best"]) >= 0)
    for hours, got in zip(h["hours"], h["expected_best"]):
        assert got == pytest.approx(brute(v, int(hours + 1e-9), max), abs=0.03)
    assert B.hours_curve(v, np.full(8, np.nan), "score", n_runs=10,
                         rng=np.random.default_rng(0)) is None
