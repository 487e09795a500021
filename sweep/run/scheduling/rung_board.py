"""The family-wide rung board: one place that holds every rung result of an experiment and
decides, with Ray Tune's own rule, which configurations stop (issue #20).

Each scheduled family gets a :class:`FamilyRule`: Ray Tune's ``AsyncHyperBandScheduler``
(``ASHAScheduler``; ``hyperband``: the same with several brackets, Li et al.'s asynchronous
Hyperband) fed pseudo-trials, one per configuration, whether it trains alone or as a pack
member, ``trial_id`` = its trial key. Ray's ``_Bracket.on_result`` decides: at a rung a
configuration continues unless its value is below the ``(1 - 1/reduction)`` percentile
(``np.nanpercentile``, linear) of the values recorded at that rung before it; an empty rung
stops nothing; a tie with the cutoff continues. Tune's own scheduler stays FIFO: the
decisions are asked for by the worker's rung loop (``sweep/run/worker/rung_loop.py``), so a
pack's members are decided one by one, and a stopped configuration is a result, not a
killed trial.

:class:`RungBoard` holds the rules of all families; the driver runs it as a Ray actor
(:func:`start_board`) whose handle travels in the trial payload, and rebuilds its state at
start from the ledger and the checkpoint index (``restore``, fed in iteration order): rung
results recorded before a driver crash take part in every later decision. A decision once
taken is kept: asked again (a trial resumed from a checkpoint before its rung), the board
answers the same.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Iterable

from sweep.config.scheduler import SchedulerConfig, bracket_of

VALUE = "rung_value"      # the pseudo-trials' metric (I, or the FD)
TIME = "rung_iteration"   # and their time attribute (iterations)


@dataclass(frozen=True)
class RungResult:
    """A configuration scored at a rung, and the decision taken there."""
    key: str
    iteration: int
    score: float | None            # I on score.rung_samples samples
    fd: float | None               # FD on the same samples
    keep: bool | None = None       # True: continues; False: stopped; None: not decided yet

    def to_row(self) -> list:
        return [self.iteration, self.score, self.fd, self.keep]

    @classmethod
    def from_row(cls, key: str, row: list) -> RungResult:
        return cls(key, int(row[0]), _num(row[1]), _num(row[2]),
                   None if len(row) < 4 or row[3] is None else bool(row[3]))


def _num(v: Any) -> float | None:
    return None if v is None else float(v)


class _Pseudo:
    """What Ray's scheduler reads of a trial: its id (``_Bracket.on_result``)."""

    def __init__(self, trial_id: str) -> None:
        self.trial_id = trial_id


class FamilyRule:
    """One family's decisions: Ray Tune's AsyncHyperBandScheduler on pseudo-trials."""

    def __init__(self, sched: SchedulerConfig, budget: int) -> None:
        from ray.tune.schedulers import AsyncHyperBandScheduler

        self.sched, self.budget = sched, int(budget)
        self.inner = AsyncHyperBandScheduler(
            time_attr=TIME, metric=VALUE, mode=sched.mode, max_t=self.budget,
            grace_period=sched.grace, reduction_factor=sched.reduction,
            brackets=sched.brackets)
        self.decisions: dict[tuple[str, int], bool] = {}
        self.results: dict[str, list[RungResult]] = {}

    def _ensure(self, key: str) -> None:
        """Place a new pseudo-trial in its bracket (``bracket_of``: Ray's softmax choice,
        seeded by the key instead of numpy's global generator)."""
        if key not in self.inner._trial_info:
            self.inner._trial_info[key] = self.inner._brackets[
                bracket_of(self.sched, self.budget, key)]

    def value(self, r: RungResult) -> float | None:
        v = r.score if self.sched.metric == "score" else r.fd
        return None if v is None or not math.isfinite(v) else float(v)

    def decide(self, r: RungResult) -> bool:
        """True if configuration ``r.key`` continues past rung ``r.iteration``."""
        from ray.tune.schedulers import TrialScheduler

        known = self.decisions.get((r.key, r.iteration))
        if known is not None:
            return known
        value = self.value(r)
        if value is None:       # no score (NaN pixels): it cannot win a rung
            keep = False
        else:
            self._ensure(r.key)
            action = self.inner.on_trial_result(None, _Pseudo(r.key),
                                                {TIME: r.iteration, VALUE: value})
            keep = action == TrialScheduler.CONTINUE
        self._keep(RungResult(r.key, r.iteration, r.score, r.fd, keep))
        return keep

    def restore(self, r: RungResult) -> None:
        """A rung result recorded earlier: it takes part in later decisions; its own
        decision (if it was taken) stands."""
        if (r.key, r.iteration) in self.decisions:
            return
        value = self.value(r)
        if value is not None:
            self._ensure(r.key)
            self.inner.on_trial_result(None, _Pseudo(r.key), {TIME: r.iteration, VALUE: value})
        if r.keep is not None:
            self._keep(r)

    def _keep(self, r: RungResult) -> None:
        self.decisions[(r.key, r.iteration)] = bool(r.keep)
        self.results.setdefault(r.key, []).append(r)

    def recorded(self, iteration: int) -> dict[str, float]:
        """The values recorded at the rung ``iteration`` (all brackets), by key."""
        out: dict[str, float] = {}
        for bracket in self.inner._brackets:
            for milestone, recorded in bracket._rungs:
                if int(milestone) == iteration:
                    out.update(recorded)
        return out


class RungBoard:
    """Every scheduled family's rule; one per experiment (a Ray actor while a grid runs)."""

    def __init__(self, families: dict[str, tuple[SchedulerConfig, int]]) -> None:
        self.rules = {name: FamilyRule(sched, budget)
                      for name, (sched, budget) in families.items()}

    def decide(self, family: str, results: list[RungResult]) -> list[bool]:
        """The decisions for ``results`` (one rung of a unit's members), in order."""
        rule = self.rules[family]
        return [rule.decide(r) for r in results]

    def restore(self, family: str, results: Iterable[RungResult]) -> int:
        """Feed earlier rung results, in iteration order; returns how many were new."""
        rule = self.rules.get(family)
        if rule is None:  # the family is no longer scheduled: nothing to decide
            return 0
        before = len(rule.decisions)
        for r in sorted(results, key=lambda r: (r.iteration, r.key)):
            rule.restore(r)
        return len(rule.decisions) - before

    def stopped(self, family: str) -> dict[str, int]:
        """Stopped configurations of ``family`` and the rung each stopped at."""
        return {k: r.iteration for k, rs in self.rules[family].results.items()
                for r in rs if r.keep is False}


def start_board(families: dict[str, tuple[SchedulerConfig, int]]) -> Any:
    """The board as a Ray actor (no CPU of its own: it decides in microseconds)."""
    import ray
    return ray.remote(num_cpus=0, max_restarts=0)(RungBoard).remote(families)
