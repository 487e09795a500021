"""The trials that stand for each family in the budget, importance and improvement statistics.

A grid is the whole population of its configurations, so the statistics of
``budget.py``, ``importance.py`` and ``improvement.py`` are exact on a complete family.
While a family is incomplete, the configurations handed out first are a uniform random
sample of it (whole architecture groups in the seeded hand-out order,
``partial_estimate.random_sample``): the statistics then come from that sample and are labelled
estimates. Finished trials outside the sample (beyond a gap in the order) are left out,
since they are not random.

Failed configurations count: random search would have drawn them too. A configuration
whose status is not ``ok`` (diverged, error), or whose metric is not finite, scores the
worst value: I = 0 (a collapsed generator's score) and FD = +inf. Configurations a
family's scheduler stopped early (status ``stopped``, issue #20) are not failures: they
were never trained to the budget, so they are left out, and what remains (the survivors of
the rungs) is labelled as not a random sample.

Families are those in the table: the report's view first, in its order (the paper's
``ebgan`` and ``gan`` by default; ``family_view.py``), then the others in the plan's
order; nothing here assumes exactly two. Pure numpy/pandas: no Ray, Optuna or torch.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from sweep.report.experiment import Experiment
from sweep.report.family_view import label
from sweep.report.partial_estimate import random_sample

WORST = {"score": 0.0, "fd": float("inf")}    # what a failed configuration scores
HIGHER_IS_BETTER = {"score": True, "fd": False}
METRIC_NAMES = {"score": "I", "fd": "FD"}
__all__ = ["WORST", "HIGHER_IS_BETTER", "METRIC_NAMES", "label", "FamilyDraws",
           "worst_filled", "families", "family_draws", "all_draws"]


@dataclass
class FamilyDraws:
    """One family's configurations as the statistics see them."""
    family: str
    trials: pd.DataFrame     # the population (complete family) or the random sample
    planned: int | None      # configurations the plan gives the family (None: unknown)
    estimate: bool           # True: a random sample of an incomplete family
    note: str | None = None  # why an incomplete family has no random sample

    @property
    def n(self) -> int:
        return len(self.trials)

    @property
    def label(self) -> str:
        return label(self.family)

    @property
    def n_failed(self) -> int:
        return int((self.trials["status"] != "ok").sum())

    def values(self, metric: str) -> np.ndarray:
        """Every configuration's ``metric``; failures and non-finite values the worst."""
        return worst_filled(self.trials, metric)


def worst_filled(trials: pd.DataFrame, metric: str) -> np.ndarray:
    """``metric`` per row, with WORST[metric] where the status is not ok or it is not finite."""
    v = trials[metric].to_numpy(dtype=float)
    ok = (trials["status"] == "ok").to_numpy() & np.isfinite(v)
    return np.where(ok, v, WORST[metric])


def families(exp: Experiment) -> list[str]:
    """The families in the table: the view's first, in its order, then the plan's order."""
    present = list(dict.fromkeys(map(str, exp.trials["family"])))
    order = [*exp.view.families, *((exp.plan or {}).get("families") or {})]
    order = list(dict.fromkeys(order))
    return [f for f in order if f in present] + sorted(f for f in present if f not in order)


def family_draws(exp: Experiment, family: str) -> FamilyDraws:
    """The family's population, or its random sample while it is incomplete."""
    t = exp.trials
    fam = t[t["family"] == family]
    count = ((exp.plan or {}).get("families") or {}).get(family)
    planned = int(count) if isinstance(count, (int, float)) else None
    stopped = (fam["status"] == "stopped").to_numpy()
    if stopped.any():
        return FamilyDraws(family, fam[~stopped], planned, estimate=True,
                           note=f"{int(stopped.sum()):,} configurations stopped early by the "
                                "family's scheduler left out: the rest are not a random sample")
    if planned is None or len(fam) >= planned:
        return FamilyDraws(family, fam, planned, estimate=False)
    sample = random_sample(exp, family)
    if isinstance(sample, str):  # no random sample: the finished trials, said to be biased
        return FamilyDraws(family, fam, planned, estimate=True,
                           note=f"{sample}: the finished trials are not a random sample")
    return FamilyDraws(family, sample.trials, planned, estimate=True)


def all_draws(exp: Experiment) -> dict[str, FamilyDraws]:
    return {f: family_draws(exp, f) for f in families(exp)}
