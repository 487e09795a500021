"""Expected best score of a random-search budget: k configurations, or H hours, of a family.

Lucic et al., "Are GANs Created Equal?", NeurIPS 2018 (the best FID within a budget of
configurations); Dodge et al., "Show Your Work", EMNLP 2019 (the expected best validation
score after k trials); Tang et al., "Showing Your Work Doesn't Always Work", ACL 2020 (the
usual estimator samples with replacement and is biased). A grid is the whole population
of its configurations, so the expected best of k configurations drawn at random *without*
replacement is exact: with the n scores sorted ascending, s_(1) <= ... <= s_(n),

    E[max of k] = sum_{i=k}^{n} s_(i) C(i-1, k-1) / C(n, k)

(s_(i) is the maximum exactly when it and k-1 of the i-1 smaller ones are drawn). The
lowest FD is the same formula on -FD. Failed configurations count, with the worst value
(``population.WORST``: I = 0, FD = +inf), so the expected lowest FD is +inf while k is
at most the number of failures (every k-subset may then be all failed).

The band is a 95% basic (reflected) bootstrap over trials: the family's n values
resampled with replacement, the exact curve recomputed on each resample (what another
grid of the same family might give), reflected about the curve since a resample's best
is biased low as k nears n. Against compute, random search is simulated: ``n_runs`` random orders
of the family, each configuration taking its measured ``wall_time_s`` (one worker); the
curve is the mean best found after H hours, the band the 2.5-97.5% range over runs.
"""
from __future__ import annotations

import math
from typing import Callable

import numpy as np
from scipy.special import gammaln

from sweep.report.analysis.population import HIGHER_IS_BETTER

TABLE_K = (1, 2, 5, 10, 20, 50, 100, 200, 500)  # the k of summary.md's table (and n)
REACH = 0.9        # "the k at which a family's curve reaches 90% of its own best"
LEVEL = 95.0
CURVE_POINTS = 64  # log-spaced k (and hours) drawn per curve, besides TABLE_K and n


def k_grid(n: int, points: int = CURVE_POINTS) -> np.ndarray:
    """1..n, log-spaced, with every TABLE_K <= n and n itself."""
    if n <= 0:
        return np.zeros(0, dtype=int)
    ks = np.unique(np.round(np.geomspace(1, n, min(points, n))).astype(int))
    return np.unique(np.concatenate([ks, [k for k in TABLE_K if k <= n], [n]]))


def max_weights(n: int, ks: np.ndarray) -> np.ndarray:
    """(len(ks), n): P(the i-th smallest of n is the max of a random k-subset) =
    C(i-1, k-1) / C(n, k) for i >= k, else 0 (1-based i), in logs for large n."""
    i = np.arange(1, n + 1, dtype=float)[None, :]
    k = np.asarray(ks, dtype=float)[:, None]
    ok = i >= k
    ii, kk = np.where(ok, i, k), k + 0 * i
    log_w = (gammaln(ii) - gammaln(kk) - gammaln(ii - kk + 1)
             - (gammaln(n + 1) - gammaln(kk + 1) - gammaln(n - kk + 1)))
    return np.where(ok, np.exp(log_w), 0.0)


def _oriented(values: np.ndarray, metric: str) -> np.ndarray:
    """Values turned so that higher is better (FD negated)."""
    v = np.asarray(values, dtype=float)
    return v if HIGHER_IS_BETTER[metric] else -v


def _expected_max_sorted(v: np.ndarray, ks: np.ndarray, w: np.ndarray) -> np.ndarray:
    """E[max of k] for rows of ascending values ``v`` (B, n) that may start with -inf."""
    bad = (~np.isfinite(v)).sum(axis=1)                      # (B,) -inf at the low ranks
    e = np.where(np.isfinite(v), v, 0.0) @ w.T               # (B, K); -inf ranks weigh 0 ...
    return np.where(bad[:, None] >= np.asarray(ks)[None, :], -np.inf, e)  # ... unless k <= bad


def expected_best(values: np.ndarray, ks: np.ndarray, metric: str) -> np.ndarray:
    """Exact expected best (highest I, lowest FD) of k configurations drawn without
    replacement from ``values`` (failures already the worst value), for each k in ks."""
    v = np.sort(_oriented(values, metric))[None, :]
    if v.shape[1] == 0:
        return np.full(len(ks), np.nan)
    e = _expected_max_sorted(v, np.asarray(ks), max_weights(v.shape[1], ks))[0]
    return e if HIGHER_IS_BETTER[metric] else -e


def bootstrap_band(values: np.ndarray, ks: np.ndarray, metric: str, *, n_resamples: int,
                   rng: np.random.Generator, batch: int = 250) -> tuple[np.ndarray, np.ndarray]:
    """95% basic-bootstrap band of the expected-best curve (values resampled with
    replacement, the exact curve recomputed on each resample, reflected about it)."""
    v = _oriented(values, metric)
    n = len(v)
    if n < 2 or n_resamples <= 0:
        e = expected_best(values, ks, metric)
        return e, e
    w = max_weights(n, ks)
    draws = []
    for start in range(0, n_resamples, batch):
        b = min(batch, n_resamples - start)
        draws.append(_expected_max_sorted(np.sort(v[rng.integers(0, n, (b, n))], axis=1), ks, w))
    d = np.concatenate(draws)
    if not HIGHER_IS_BETTER[metric]:
        d = -d
    q = [(100 - LEVEL) / 2, (100 + LEVEL) / 2]
    q_lo, q_hi = np.percentile(d, q, axis=0, method="inverted_cdf")  # no inf - inf = nan
    e = expected_best(values, ks, metric)
    # The basic (reflected) bootstrap: a resample repeats values, so its best of k sits
    # below the grid's as k nears n, and percentiles alone would leave the curve outside
    # its band. Where a bound is infinite (failed FDs), the percentile bound is kept.
    with np.errstate(invalid="ignore"):
        lo, hi = 2 * e - q_hi, 2 * e - q_lo
    lo = np.where(np.isfinite(lo) | ~np.isfinite(e), lo, q_lo)
    hi = np.where(np.isfinite(hi) | ~np.isfinite(e), hi, q_hi)
    lo = np.where(np.isnan(lo), q_lo, lo)
    hi = np.where(np.isnan(hi), q_hi, hi)
    lo, hi = np.minimum(lo, e), np.maximum(hi, e)
    return np.maximum(lo, 0.0), np.maximum(hi, 0.0)  # I and FD are never negative


def first_k(values: np.ndarray, metric: str, reached: Callable[[float], bool]) -> int | None:
    """The smallest k whose exact expected best satisfies ``reached`` (the curve is
    monotone in k), or None if even k = n does not."""
    n = len(values)
    at = lambda k: float(expected_best(values, np.array([k]), metric)[0])  # noqa: E731
    if n == 0 or not reached(at(n)):
        return None
    lo, hi = 1, n
    while lo < hi:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if reached(at(mid)) else (mid + 1, hi)
    return lo


def better_or_equal(metric: str, target: float) -> Callable[[float], bool]:
    """Whether a value is at least as good as ``target`` (>= for I, <= for FD)."""
    if HIGHER_IS_BETTER[metric]:
        return lambda v: v >= target - 1e-12 * abs(target)
    return lambda v: v <= target + 1e-12 * abs(target)


def k_to_reach(values: np.ndarray, metric: str, frac: float = REACH) -> int | None:
    """The k at which the expected best reaches ``frac`` of the family's own best (the
    expected best of all n): E >= 0.9 best for I, E <= best / 0.9 for FD."""
    if len(values) == 0:
        return None
    best = float(expected_best(values, np.array([len(values)]), metric)[0])
    if not math.isfinite(best):
        return None
    target = best * frac if HIGHER_IS_BETTER[metric] else best / frac
    return first_k(values, metric, better_or_equal(metric, target))


def k_to_match(values: np.ndarray, metric: str, target: float) -> int | None:
    """How many configurations of this family one must try so that the expected best is
    at least as good as ``target`` (e.g. another family's expected best of k = 5)."""
    if not math.isfinite(target):
        return None
    return first_k(values, metric, better_or_equal(metric, target))


def hours_curve(values: np.ndarray, seconds: np.ndarray, metric: str, *, n_runs: int,
                rng: np.random.Generator, points: int = CURVE_POINTS
                ) -> dict[str, np.ndarray] | None:
    """Random search against compute: ``n_runs`` random orders of the configurations,
    each taking its ``seconds``; per H on a log grid from the longest configuration (by
    then every run has a result, so the mean is over all runs and never falls) to the
    whole family, the mean best found after H hours and its 2.5-97.5% range over runs.
    Missing times: the family's median. None when no configuration has a measured time."""
    s = np.asarray(seconds, dtype=float)
    known = np.isfinite(s) & (s > 0)
    if not known.any() or len(values) == 0:
        return None
    s = np.where(known, s, np.median(s[known]))
    v = _oriented(values, metric)
    n = len(v)
    hours = np.geomspace(s.max(), max(s.sum(), s.max() * (1 + 1e-9)), points) / 3600.0
    perms = np.argsort(rng.random((n_runs, n)), axis=1)             # (R, n) random orders
    done_at = np.cumsum(s[perms], axis=1) / 3600.0                  # hours when each ends
    best = np.maximum.accumulate(v[perms], axis=1)                  # best found so far
    idx = np.stack([np.searchsorted(row, hours, side="right") - 1 for row in done_at])
    got = np.take_along_axis(best, np.maximum(idx, 0), axis=1)      # (R, H)
    got = np.where(idx >= 0, got, np.nan)
    sign = 1.0 if HIGHER_IS_BETTER[metric] else -1.0
    mean, lo, hi = (np.full(len(hours), np.nan) for _ in range(3))
    for j in range(len(hours)):
        col = got[:, j][~np.isnan(got[:, j])]
        if len(col) == 0:
            continue
        with np.errstate(invalid="ignore"):
            mean[j] = sign * col.mean()
        a, b = np.percentile(sign * col, [(100 - LEVEL) / 2, (100 + LEVEL) / 2],
                             method="inverted_cdf")
        lo[j], hi[j] = min(a, b), max(a, b)
    return {"hours": hours, "expected_best": mean, "lo": lo, "hi": hi}
