"""A family's early-stopping scheduler (``scheduler:`` in sweep.yaml) and its rung schedule.

    scheduler: {type: asha, metric: fd, grace: 1000, reduction: 3}

ASHA (Li et al., "A System for Massively Parallel Hyperparameter Tuning", MLSys 2020) scores
every configuration at rungs ``grace x reduction^k`` iterations and stops it there unless it
is in the top ``1/reduction`` of the configurations of its family that reached that rung so
far. ``hyperband`` is the same rule over several brackets (Li et al.'s asynchronous
Hyperband, section 3.3 of the same paper: bracket ``s`` starts at ``grace x reduction^s``),
each configuration placed in one. The decisions are Ray Tune's ``AsyncHyperBandScheduler``'s
(``sweep/run/scheduling/rung_board.py``); this module only parses the setting and derives the
schedule, with Ray's own formula, without importing Ray (``sweep plan`` starts in a blink).
"""
from __future__ import annotations

import hashlib
import math
import random
from dataclasses import dataclass
from typing import Any, Callable

from models.checks import integer, number, one_of

TYPES = ("asha", "hyperband")
METRICS = {"score": "max", "fd": "min"}  # I is maximised, the Frechet distance minimised
DEFAULT_REDUCTION = 3.0


@dataclass(frozen=True)
class SchedulerConfig:
    """How a family stops its bad configurations early."""
    type: str                  # asha | hyperband
    grace: int                 # iterations before the first rung (the first rung's iteration)
    metric: str = "score"      # score (I, higher is better) | fd (lower is better)
    reduction: float = DEFAULT_REDUCTION  # keep the top 1/reduction at each rung
    brackets: int | None = 1   # asha: 1; hyperband: default (None until the budget is
    #                            known) every bracket the budget allows

    @property
    def mode(self) -> str:
        return METRICS[self.metric]

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, "metric": self.metric, "grace": self.grace,
                "reduction": self.reduction, "brackets": self.brackets}


def _bracket_rungs(grace: int, reduction: float, budget: int, s: int) -> list[int]:
    """Ray Tune's ``_Bracket``: ``int(log(budget/grace)/log(reduction) - s + 1)`` rungs at
    ``grace x reduction^(k+s)``, ascending (those at or past the budget never decide)."""
    n = int(math.log(budget / grace) / math.log(reduction) - s + 1)
    return [int(grace * reduction ** (k + s)) for k in range(max(n, 0))]


def max_brackets(grace: int, reduction: float, budget: int) -> int:
    """Brackets with at least one rung below the budget."""
    return max(1, sum(1 for s in range(64) if any(
        r < budget for r in _bracket_rungs(grace, reduction, budget, s))))


def bracket_weights(sched: SchedulerConfig, budget: int) -> list[float]:
    """Ray Tune's probabilities of placing a configuration in each bracket: a softmax over
    the brackets' numbers of rungs (``AsyncHyperBandScheduler.on_trial_add``)."""
    sizes = [len(_bracket_rungs(sched.grace, sched.reduction, budget, s))
             for s in range(sched.brackets)]
    weights = [math.e ** (n - max(sizes)) for n in sizes]
    return [w / sum(weights) for w in weights]


def bracket_of(sched: SchedulerConfig, budget: int, key: str) -> int:
    """The bracket of configuration ``key``: Ray's softmax choice, drawn from a generator
    seeded by the key (Ray draws from numpy's global one), so that the worker, the board
    and a rebuilt board all place it alike."""
    if sched.brackets == 1:
        return 0
    u = random.Random(hashlib.sha256(f"hyperband bracket {key}".encode()).digest()).random()
    total = 0.0
    for s, p in enumerate(bracket_weights(sched, budget)):
        total += p
        if u < total:
            return s
    return sched.brackets - 1


def key_rungs(sched: SchedulerConfig, budget: int, key: str) -> list[int]:
    """The rungs at which configuration ``key`` is scored and decided."""
    return rungs(sched, budget, bracket_of(sched, budget, key))


def rungs(sched: SchedulerConfig, budget: int, bracket: int = 0) -> list[int]:
    """The iterations at which bracket ``bracket`` decides, ascending; the budget (the top
    rung, where every surviving configuration ends) is not among them."""
    return [r for r in _bracket_rungs(sched.grace, sched.reduction, budget, bracket)
            if r < budget]


def cost_bounds(sched: SchedulerConfig, n: int, budget: int) -> tuple[int, int]:
    """(least, most) iterations ``n`` configurations can cost. Most: none is stopped. Least:
    every one reaches the first rung of bracket 0 and only the first to reach each rung
    (which nothing can stop: the rung is empty) goes on to the budget."""
    first = rungs(sched, budget)
    if n <= 0:
        return 0, 0
    least = budget + (n - 1) * (first[0] if first else budget)
    return least, n * budget


SCHEDULER_KEYS = ("type", "metric", "grace", "reduction", "brackets")


def parse_scheduler(raw: Any, where: str, check: Callable[[str, Any, Callable], Any],
                    fail: Callable[[str, Any, str], Exception],
                    budget_iterations: int | None) -> SchedulerConfig:
    """``families.<name>.scheduler`` -> SchedulerConfig; ``check``/``fail`` are the sweep
    file loader's (messages name the file, the key and the value). ``budget_iterations``:
    the budget when the sweep file gives it in iterations (else checked at run time)."""
    if not isinstance(raw, dict):
        raise fail(where, raw, "must be a mapping like {type: asha, metric: score, grace: "
                               "1000, reduction: 3}")
    for key in raw:
        if key not in SCHEDULER_KEYS:
            raise fail(f"{where}.{key}", raw[key],
                       f"unknown key; expected one of {', '.join(SCHEDULER_KEYS)}")
    for key in ("type", "grace"):
        if key not in raw:
            raise fail(f"{where}.{key}", None, "is required")
    kind = check(f"{where}.type", raw["type"], one_of(TYPES))
    metric = check(f"{where}.metric", raw.get("metric", "score"), one_of(tuple(METRICS)))
    grace = check(f"{where}.grace", raw["grace"], integer(1))
    reduction = float(check(f"{where}.reduction", raw.get("reduction", DEFAULT_REDUCTION),
                            number(2.0, hi_open=False)))
    if kind == "asha" and raw.get("brackets", 1) != 1:
        raise fail(f"{where}.brackets", raw["brackets"],
                   "only applies to type: hyperband (asha is one bracket)")
    brackets = None if kind == "hyperband" and raw.get("brackets") is None else \
        check(f"{where}.brackets", raw.get("brackets", 1), integer(1))
    sched = SchedulerConfig(kind, grace, metric, reduction, brackets)
    if budget_iterations is not None:
        sched = fit_budget(sched, budget_iterations, where, fail)
    return sched


def fit_budget(sched: SchedulerConfig, budget: int, where: str,
               fail: Callable[[str, Any, str], Exception]) -> SchedulerConfig:
    """Check ``sched`` against the family's budget in iterations; hyperband without
    ``brackets`` gets every bracket the budget allows."""
    if sched.grace >= budget:
        raise fail(f"{where}.grace", sched.grace,
                   f"must be below the budget ({budget:,} iterations): the first rung comes "
                   "before the end")
    most = max_brackets(sched.grace, sched.reduction, budget)
    if sched.brackets is None:
        return SchedulerConfig(sched.type, sched.grace, sched.metric, sched.reduction, most)
    if sched.brackets > most:
        raise fail(f"{where}.brackets", sched.brackets,
                   f"at most {most} with grace {sched.grace}, reduction {sched.reduction:g} "
                   f"and a budget of {budget:,} iterations")
    return sched

