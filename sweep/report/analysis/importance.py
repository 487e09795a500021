"""Which settings matter: per family and metric, each axis's share of the importance.

Optuna's importance evaluators, fed a study built in memory from the results table (one
completed trial per configuration, every swept axis a categorical parameter), so no
ANOVA is written by hand:

- PED-ANOVA (Watanabe, Bansal & Hutter, "PED-ANOVA: Efficiently Quantifying
  Hyperparameter Importance in Arbitrary Subspaces", IJCAI 2023): how far each axis's
  distribution among the best 10% of the family's configurations is from its
  distribution among all of them (a Pearson divergence, local to the top decile);
- fANOVA (Hutter, Hoos & Leyton-Brown, ICML 2014): the share of the variance of the
  metric that each axis explains on its own, from a random forest.

Both are normalized here to sum to 1 over the axes; the unnormalized total is kept
(``raw_total``) beside the same total with the metric shuffled across configurations
(``shuffled_total``, what nothing-matters gives at this size: about 1e-3 on 512 and 1e-4
on 6,144 configurations for PED-ANOVA): shares sum to 1 even on pure noise, so they mean
something only where the raw total is well above the shuffled one. On a 6,144-configuration family with
Table 1's 8 categorical axes, on the 2-core development machine, PED-ANOVA took 1.4 s
(plus 2.5 s to build the study) and fANOVA 18 s with 16 trees (about 70 s with Optuna's
default 64), per metric: ``make histograms`` must stay under a minute, so PED-ANOVA is
the default (:data:`EVALUATOR`). Failed configurations rank last: I = 0 and, for FD, one
more than the family's largest finite FD (+inf is not a trial value Optuna accepts).
Optuna is imported inside the functions: the report package never loads it at import.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from models.config import AXIS_KEYS
from sweep.report.analysis.population import HIGHER_IS_BETTER, worst_filled

EVALUATOR = "ped-anova"
EVALUATORS = {"ped-anova": "PED-ANOVA (importance for reaching the family's top 10%)",
              "fanova": "fANOVA (share of variance explained)"}
MIN_TRIALS = 50  # PED-ANOVA's top decile: at least 5 configurations


@dataclass
class Importance:
    """Each axis's share (summing to 1), the evaluator's unnormalized total, and that total
    with the metric shuffled across configurations: shares always sum to 1, even where
    nothing matters; a raw total no larger than the shuffled one says nothing does."""
    shares: dict[str, float]
    raw_total: float
    shuffled_total: float


def swept_axes(trials: pd.DataFrame) -> list[str]:
    """The settings that take more than one value among the family's configurations."""
    return [a for a in AXIS_KEYS if a in trials.columns and trials[a].nunique(dropna=False) > 1]


def _plain(v: Any) -> Any:
    return v.item() if isinstance(v, np.generic) else v


def _objective(trials: pd.DataFrame, metric: str) -> np.ndarray:
    """Values to minimise: -I, or FD; failures rank last (finite, for Optuna)."""
    v = worst_filled(trials, metric)
    if not HIGHER_IS_BETTER[metric]:
        finite = v[np.isfinite(v)]
        v = np.where(np.isfinite(v), v, (finite.max() if len(finite) else 0.0) + 1.0)
        return v
    return -v


def _evaluator(name: str, seed: int):
    from optuna.importance import FanovaImportanceEvaluator, PedAnovaImportanceEvaluator
    if name == "ped-anova":
        return PedAnovaImportanceEvaluator()
    if name == "fanova":
        return FanovaImportanceEvaluator(seed=seed)
    raise ValueError(f"importance evaluator must be one of {', '.join(EVALUATORS)}, got {name!r}")


def _raw(params: list[dict[str, Any]], dists: dict[str, Any], y: np.ndarray, evaluator: str,
         seed: int) -> dict[str, float]:
    """The evaluator's unnormalized importance of each axis on a study of (params, y)."""
    import optuna
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="minimize")
    study.add_trials([optuna.trial.create_trial(params=p, distributions=dists, value=float(v))
                      for p, v in zip(params, y)])
    with warnings.catch_warnings():  # `normalize` is flagged experimental
        warnings.simplefilter("ignore")
        raw = optuna.importance.get_param_importances(
            study, evaluator=_evaluator(evaluator, seed), normalize=False)
    return {a: float(raw.get(a, 0.0)) for a in dists}


def importances(trials: pd.DataFrame, metric: str, *, evaluator: str = EVALUATOR,
                seed: int = 0) -> tuple[Importance | None, str | None]:
    """(the importance of each swept axis, None), or (None, why not) for one family.

    Also computed on the metric shuffled across configurations (seeded): the raw total
    that nothing-matters gives at this size, to compare the real raw total with."""
    from optuna.distributions import CategoricalDistribution

    axes = swept_axes(trials)
    if not axes:
        return None, "no axis takes more than one value"
    if len(trials) < MIN_TRIALS:
        return None, f"fewer than {MIN_TRIALS} configurations"
    y = _objective(trials, metric)
    if np.ptp(y) == 0:
        return None, "every configuration has the same value"
    cols = {a: [_plain(v) for v in trials[a]] for a in axes}
    dists = {a: CategoricalDistribution(sorted(set(cols[a]), key=repr)) for a in axes}
    params = [{a: cols[a][i] for a in axes} for i in range(len(trials))]
    try:
        out = _raw(params, dists, y, evaluator, seed)
        shuffled = _raw(params, dists, np.random.default_rng(seed).permutation(y), evaluator,
                        seed)
    except (ValueError, RuntimeError, ZeroDivisionError) as exc:
        return None, f"the evaluator failed ({type(exc).__name__}: {exc})"
    total = sum(out.values())
    if not np.isfinite(total) or total <= 0:
        return None, "the evaluator found no importance at all"
    return Importance({a: v / total for a, v in out.items()}, total, sum(shuffled.values())), None
