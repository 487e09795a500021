"""Probability of improvement: how often a random EBGAN beats a random GAN, and ECDFs.

Agarwal et al., "Deep Reinforcement Learning at the Edge of the Statistical Precipice",
NeurIPS 2021 (rliable): the probability of improvement P(X > Y) of algorithm X over Y,
the Mann-Whitney U statistic over n_x n_y, with ties counted half:

    P(X > Y) = (1 / n_x n_y) sum_i sum_j ( 1[x_i > y_j] + 1/2 1[x_i = y_j] ),

with a 95% percentile-bootstrap interval that resamples each group independently
(rliable's stratified bootstrap). One number per Figure 2 panel that needs no bins: 1
when every EBGAN beats every GAN, 0.5 for identical distributions. "Beats" means a
higher I, or a lower FD. Failed configurations count with the worst value (I = 0,
FD = +inf; ``population.py``), as a random draw would meet them: two failures tie.

:func:`ecdf` gives the empirical distribution function drawn by ``fig2_ecdf``.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from sweep.report.analysis.population import HIGHER_IS_BETTER

LEVEL = 95.0


def _weights(idx: np.ndarray, m: int, n_resamples: int, rng: np.random.Generator
             ) -> np.ndarray:
    """(B, m): how often each distinct value is drawn in B resamples (with replacement)
    of the values whose distinct-value indices are ``idx``."""
    n = len(idx)
    picks = idx[rng.integers(0, n, (n_resamples, n))]                 # (B, n)
    flat = (picks + m * np.arange(n_resamples)[:, None]).ravel()
    return np.bincount(flat, minlength=n_resamples * m).reshape(n_resamples, m).astype(float)


def _p_from_weights(wa: np.ndarray, wb: np.ndarray) -> np.ndarray:
    """P(A > B) + P(A = B) / 2 per row from the count of each distinct value (ascending)."""
    below = np.cumsum(wb, axis=-1) - wb                               # b strictly below
    num = (wa * (below + 0.5 * wb)).sum(axis=-1)
    return num / (wa.sum(axis=-1) * wb.sum(axis=-1))


def prob_improvement(a: np.ndarray, b: np.ndarray, metric: str = "score", *,
                     n_resamples: int = 2000, seed: int = 0) -> dict[str, Any]:
    """P(a beats b) (ties half) with a 95% percentile-bootstrap CI (each group resampled
    on its own). ``a``, ``b``: every configuration's value, failures already the worst.
    No CI with fewer than 5 values in a group."""
    out: dict[str, Any] = {"p": None, "ci95": None, "n_a": int(len(a)), "n_b": int(len(b))}
    if len(a) == 0 or len(b) == 0:
        return out
    sign = 1.0 if HIGHER_IS_BETTER[metric] else -1.0
    a, b = sign * np.asarray(a, dtype=float), sign * np.asarray(b, dtype=float)
    distinct, inv = np.unique(np.concatenate([a, b]), return_inverse=True)
    ia, ib, m = inv[:len(a)], inv[len(a):], len(distinct)
    wa, wb = np.bincount(ia, minlength=m).astype(float), np.bincount(ib, minlength=m).astype(float)
    out["p"] = float(_p_from_weights(wa, wb))
    if min(len(a), len(b)) < 5 or n_resamples <= 0:
        return out
    rng = np.random.default_rng(seed)
    draws = []
    for start in range(0, n_resamples, 250):
        bsz = min(250, n_resamples - start)
        draws.append(_p_from_weights(_weights(ia, m, bsz, rng), _weights(ib, m, bsz, rng)))
    lo, hi = np.percentile(np.concatenate(draws), [(100 - LEVEL) / 2, (100 + LEVEL) / 2])
    out["ci95"] = [float(min(lo, out["p"])), float(max(hi, out["p"]))]
    return out


def ecdf(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(sorted values, fraction of values <= each): the steps of the empirical CDF,
    one point per distinct value. +inf values (failed FDs) are left out of the steps,
    so the curve ends below 1 by their share."""
    v = np.sort(np.asarray(values, dtype=float))
    if len(v) == 0:
        return v, v
    distinct, counts = np.unique(v, return_counts=True)
    frac = np.cumsum(counts) / len(v)
    keep = np.isfinite(distinct)
    return distinct[keep], frac[keep]
