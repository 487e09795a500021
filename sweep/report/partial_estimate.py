"""The full grid's Figure 2(a) medians, estimated from a partial grid with confidence intervals.

Zhao, Mathieu & LeCun, "Energy-based Generative Adversarial Networks", ICLR 2017,
section 4.1, Figure 2(a): the distribution of I over all EBGANs and all GANs of Table 1.
A stopped grid holds only part of each family. Because the sweep hands the grid out in a
seeded random order of *architecture groups* (all configurations sharing model, nLayerG,
nLayerD, sizeG, sizeD, z_dim, seed and budget; column ``order`` counts configurations),
the configurations with ``order < k`` for a group boundary k are a uniform random sample
of the family's groups drawn without replacement. From that sample:

- the point estimate of a family's median is the median over the sample;
- its 95% interval is a percentile bootstrap that resamples *whole groups* (the sampling
  unit), rescaled for the finite population: m* -> m_hat + sqrt(1 - n/N) (m* - m_hat),
  n the sampled and N the planned trials (groups are of equal size, so the fractions of
  trials and of groups agree). A complete family (n = N) gives a zero-width interval;
- the EBGAN - GAN difference combines the two families' independent rescaled draws.

The sample of a family is its *longest complete prefix*: the smallest order value not in
the table is k0; the trials with order < k0 are kept, minus a trailing group that is
only partly inside (a group is contiguous in ``order``). Trials finished beyond a gap are
not a random sample and are left out. Tables without ``order`` (old ones, Optuna
families) get no estimate; the summary then says the partial table is not a random sample.
This module is pure numpy/pandas: no Ray, no Optuna, no torch.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from models.config import FIGURE2_GROUPS, SHAPE_AXES, SHAPE_GROUP_KEYS
from sweep.report.experiment import Experiment

ARCH_AXES = tuple(a for a in SHAPE_AXES if a != "model")  # plan axes that shape a group
METRICS = {"score": "median I", "fd": "median FD"}
LEVEL = 95.0
DIFF = "EBGAN − GAN"  # the label of the difference rows


@dataclass
class Sample:
    """The random sample of one family: the whole groups of its complete ``order`` prefix."""
    family: str
    planned: int                 # N: the family's planned trials (plan.json)
    trials: pd.DataFrame         # the sampled trials (order < k, whole groups)
    group_ids: np.ndarray        # per sampled trial, its group 0..n_groups-1
    group_size: int              # configurations per architecture group

    @property
    def k(self) -> int:
        return len(self.trials)

    @property
    def n_groups(self) -> int:
        return len(np.unique(self.group_ids))

    @property
    def groups_planned(self) -> int:
        return max(1, self.planned // max(1, self.group_size))

    def values(self, metric: str) -> tuple[np.ndarray, np.ndarray]:
        """(values, group ids) of the trials with status ok and a finite ``metric``."""
        v = self.trials[metric].to_numpy(dtype=float)
        keep = (self.trials["status"] == "ok").to_numpy() & np.isfinite(v)
        return v[keep], self.group_ids[keep]


def complete_prefix(orders: np.ndarray) -> int:
    """The smallest non-negative integer not among ``orders`` (NaN ignored): every
    configuration with order below it is present."""
    present = {int(o) for o in orders if np.isfinite(o) and o >= 0}
    k = 0
    while k in present:
        k += 1
    return k


def _group_size(exp: Experiment, family: str, fam_rows: pd.DataFrame, gid: np.ndarray) -> int:
    """Configurations per group: from the plan's grid axes, else the largest group seen."""
    plan = exp.plan or {}
    axes = (plan.get("axes") or {}).get(family)
    count = (plan.get("families") or {}).get(family)
    if isinstance(axes, dict) and all(isinstance(v, list) and v for v in axes.values()) \
            and isinstance(count, (int, float)):
        arch = math.prod(len(v) for a, v in axes.items() if a in ARCH_AXES)
        arch *= len(plan.get("seeds") or [0])
        if arch and int(count) % arch == 0:
            return int(count) // arch
    return int(np.bincount(gid).max()) if len(gid) else 1


def random_sample(exp: Experiment, family: str) -> Sample | str:
    """The family's random sample, or a sentence saying why it has none."""
    t = exp.trials
    fam = t[t["family"] == family]
    if len(fam) == 0:
        return f"no {family} trials in the table"
    if "order" not in t.columns:
        return "the table has no `order` column (written before the random hand-out order)"
    orders = fam["order"].to_numpy(dtype=float)
    if not np.isfinite(orders).any():
        return f"the {family} trials have no hand-out order (an Optuna family or an old table)"
    count = ((exp.plan or {}).get("families") or {}).get(family)
    if not isinstance(count, (int, float)) or count <= 0:
        return f"plan.json gives no planned count for {family}"
    cols = [c for c in SHAPE_GROUP_KEYS if c in fam.columns]
    gid_all = fam.groupby(cols, dropna=False, sort=True).ngroup().to_numpy() if cols \
        else np.arange(len(fam))
    size = _group_size(exp, family, fam, gid_all)
    k0 = complete_prefix(orders)
    inside = np.isfinite(orders) & (orders < k0)
    # keep only groups whose every configuration is inside the prefix
    whole = np.bincount(gid_all[inside], minlength=gid_all.max() + 1) >= size
    keep = inside & whole[gid_all]
    if not keep.any():
        return (f"no complete group at the start of the {family} hand-out order yet "
                f"(order {k0} is the first one missing)")
    _, gid = np.unique(gid_all[keep], return_inverse=True)
    return Sample(family, int(count), fam[keep], gid, size)


# --- the rescaled group bootstrap ------------------------------------------------------
def resampled_medians(values: np.ndarray, groups: np.ndarray, *, n_resamples: int,
                      rng: np.random.Generator, batch: int = 250) -> np.ndarray:
    """Medians of ``n_resamples`` cluster-bootstrap resamples: draw as many groups as
    there are, with replacement, and take the median of all their values (np.median's
    definition: the mean of the two middle values of an even count). NaN when a resample
    holds no value. Vectorized as a weighted median over the sorted values."""
    groups = np.unique(groups, return_inverse=True)[1]
    n_groups = int(groups.max()) + 1 if len(groups) else 0
    out = np.full(n_resamples, np.nan)
    if n_groups == 0:
        return out
    order = np.argsort(values, kind="stable")
    v, g = values[order], groups[order]
    for start in range(0, n_resamples, batch):
        b = min(batch, n_resamples - start)
        picks = rng.integers(0, n_groups, size=(b, n_groups))
        flat = (picks + n_groups * np.arange(b)[:, None]).ravel()
        counts = np.bincount(flat, minlength=b * n_groups).reshape(b, n_groups)
        cum = np.cumsum(counts[:, g], axis=1)          # (b, n_values)
        total = cum[:, -1]
        lo_rank, hi_rank = (total + 1) // 2, total // 2 + 1
        i_lo = np.minimum((cum < lo_rank[:, None]).sum(axis=1), len(v) - 1)
        i_hi = np.minimum((cum < hi_rank[:, None]).sum(axis=1), len(v) - 1)
        out[start:start + b] = np.where(total > 0, 0.5 * (v[i_lo] + v[i_hi]), np.nan)
    return out


def fpc_median(values: np.ndarray, groups: np.ndarray, n: int, planned: int, *,
               n_resamples: int, rng: np.random.Generator) -> dict[str, Any]:
    """Median of a sample of n of ``planned`` trials, its rescaled bootstrap draws and 95%
    CI, and ``sigma2`` = n * var(unrescaled draws), the per-trial variance that makes
    var(median) ~ sigma2 (1 - n/N) / n for other n (used to project the CI's width)."""
    if len(values) == 0:
        return {"estimate": None, "ci95": None, "draws": None, "sigma2": None}
    m_hat = float(np.median(values))
    raw = resampled_medians(values, groups, n_resamples=n_resamples, rng=rng)
    raw = raw[np.isfinite(raw)]
    shrink = math.sqrt(max(0.0, 1.0 - n / planned))
    draws = m_hat + shrink * (raw - m_hat)
    return {"estimate": m_hat, "ci95": _ci(draws, m_hat), "draws": draws,
            "sigma2": float(n * raw.var()) if len(raw) > 1 else 0.0}


def _ci(draws: np.ndarray, point: float) -> list[float]:
    if len(draws) == 0:
        return [point, point]
    lo, hi = np.percentile(draws, [(100 - LEVEL) / 2, (100 + LEVEL) / 2])
    return [float(min(lo, point)), float(max(hi, point))]


def more_trials_needed(diff: float, ci95: list[float],
                       families: dict[str, tuple[int, int, float, int]]) -> dict[str, Any] | None:
    """How many more trials would make the difference's CI exclude 0 if ``diff`` held.

    ``families``: name -> (n done, N planned, sigma2, group size). The half-width on the
    side of 0 is taken to scale as sqrt(V(m) / V(0)) with V(m) = sum_f sigma2_f (1 - n_f/N_f)
    / n_f and n_f = n_f + m N_f / sum N (the m new trials allocated in proportion to the
    families' sizes, as the stratified hand-out does). Returns None when the CI already
    excludes 0; else {"more_trials", "per_family" (rounded up to whole groups), "possible"}.
    """
    lo, hi = ci95
    if lo > 0 or hi < 0:
        return None
    if diff == 0:
        return {"possible": False, "reason": "the point estimate is 0", "more_trials": None,
                "per_family": None}
    half = diff - lo if diff > 0 else hi - diff
    total_n = sum(N for _, N, _, _ in families.values())

    def var(m: float) -> float:
        v = 0.0
        for n, N, s2, _ in families.values():
            nm = min(float(N), n + m * N / total_n)
            v += s2 * max(0.0, 1.0 - nm / N) / nm if nm > 0 else 0.0
        return v

    v0 = var(0.0)
    unknown = {"possible": False, "reason": "the sampling variance could not be estimated",
               "more_trials": None, "per_family": None}
    if v0 <= 0 or half <= 0:
        return unknown
    excludes = lambda m: half * math.sqrt(var(m) / v0) < abs(diff)  # noqa: E731
    lo_m, hi_m = 0.0, max((N - n) * total_n / N for n, N, _, _ in families.values())
    if not excludes(hi_m):
        return unknown
    for _ in range(200):  # bisection to well below one trial
        mid = 0.5 * (lo_m + hi_m)
        lo_m, hi_m = (lo_m, mid) if excludes(mid) else (mid, hi_m)
        if hi_m - lo_m < 1e-6:
            break
    per = {}
    for name, (n, N, _, size) in families.items():
        extra = min(N - n, hi_m * N / total_n)
        per[name] = min(N - n, size * math.ceil(round(extra, 6) / size)) if extra > 0 else 0
    return {"possible": True, "more_trials": int(sum(per.values())), "per_family": per}


# --- the experiment's estimate ----------------------------------------------------------
def _finished_median(exp: Experiment, family: str, metric: str) -> float | None:
    t = exp.trials
    v = t.loc[(t["family"] == family) & (t["status"] == "ok"), metric].to_numpy(dtype=float)
    v = v[np.isfinite(v)]
    return float(np.median(v)) if len(v) else None


def estimate_full_grid(exp: Experiment, *, n_resamples: int = 2000, seed: int = 0) -> dict[str, Any]:
    """Figure 2(a)'s medians of I and FD per family and their EBGAN - GAN differences,
    estimated for the full grid when a family is incomplete (see the module docstring).

    Returns {"partial", "random_sample", "families": {label: {family, k, planned, done,
    groups, groups_planned} | {family, reason}}, "rows": [{quantity, group, estimate,
    ci95, finished, more_trials?}]}. Not partial (every family complete, or no plan):
    no rows, the table's own numbers are exact.
    """
    t = exp.trials
    counts = (exp.plan or {}).get("families") or {}
    done = {lab: int((t["family"] == fam).sum()) for lab, fam in FIGURE2_GROUPS.items()}
    partial = any(isinstance(counts.get(fam), (int, float)) and done[lab] < counts[fam]
                  for lab, fam in FIGURE2_GROUPS.items())
    out: dict[str, Any] = {"partial": partial, "random_sample": False, "families": {},
                           "rows": [], "n_resamples": n_resamples, "seed": seed}
    if not partial:
        return out
    samples: dict[str, Sample] = {}
    for lab, fam in FIGURE2_GROUPS.items():
        s = random_sample(exp, fam)
        if isinstance(s, str):
            out["families"][lab] = {"family": fam, "done": done[lab],
                                    "planned": counts.get(fam), "reason": s}
            continue
        samples[lab] = s
        out["families"][lab] = {"family": fam, "k": s.k, "planned": s.planned, "done": done[lab],
                                "groups": s.n_groups, "groups_planned": s.groups_planned,
                                "group_size": s.group_size}
    out["random_sample"] = len(samples) == len(FIGURE2_GROUPS)
    metrics = [m for m in METRICS if m == "score" or exp.has_fd]
    for i, metric in enumerate(metrics):
        fits = {}
        for j, (lab, s) in enumerate(samples.items()):
            v, g = s.values(metric)
            fits[lab] = fpc_median(v, g, s.k, s.planned, n_resamples=n_resamples,
                                   rng=np.random.default_rng([seed, i, j]))
            out["rows"].append({"quantity": METRICS[metric], "metric": metric, "group": lab,
                                "estimate": fits[lab]["estimate"], "ci95": fits[lab]["ci95"],
                                "finished": _finished_median(exp, s.family, metric)})
        e, g = fits.get("EBGAN"), fits.get("GAN")
        if not (e and g and e["estimate"] is not None and g["estimate"] is not None):
            continue
        diff = e["estimate"] - g["estimate"]
        n = min(len(e["draws"]), len(g["draws"]))
        ci = _ci(e["draws"][:n] - g["draws"][:n], diff)
        fin_e = _finished_median(exp, FIGURE2_GROUPS["EBGAN"], metric)
        fin_g = _finished_median(exp, FIGURE2_GROUPS["GAN"], metric)
        more = more_trials_needed(diff, ci, {
            lab: (samples[lab].k, samples[lab].planned, fits[lab]["sigma2"] or 0.0,
                  samples[lab].group_size) for lab in FIGURE2_GROUPS})
        out["rows"].append({"quantity": METRICS[metric], "metric": metric,
                            "group": DIFF, "estimate": diff, "ci95": ci,
                            "finished": None if fin_e is None or fin_g is None else fin_e - fin_g,
                            "more_trials": more})
    return out
