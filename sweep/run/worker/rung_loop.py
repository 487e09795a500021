"""The worker's side of a scheduled family: scores at rungs, and the stops they bring.

At each rung (``sweep.config.scheduler.key_rungs``: a configuration's rungs follow from its
family's scheduler, the budget and, for hyperband, its bracket) every member still running
that has a rung there is scored on ``score.rung_samples`` samples drawn from one fixed noise
(:data:`RUNG_SEED`: the same z for every configuration, so rung scores compare like the
final ones, common random numbers), the family's rung board
(``sweep/run/scheduling/rung_board.py``) says which of them stop, and the trainer stops them
(``TrainLoop.stop``): a solo trial's run ends, a pack freezes its member (and compacts once
at most half remain). Stopped configurations are results with the status ``stopped``, their
files written when the unit ends (``unit_runner.finish_unit``).

:class:`Rungs` is the unit's rung state: every member's rung results so far, kept in the
checkpoint (``state``/``load``), so a resumed trial neither scores a rung twice nor loses one.
"""
from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from typing import Any, Callable

from models.streams import derive_seed
from sweep.config.scheduler import SchedulerConfig, key_rungs
from sweep.run.scheduling.rung_board import RungResult
from sweep.run.scheduling.units import Unit

RUNG_SEED = derive_seed("rung scores")  # one noise for every configuration and rung


@dataclass(frozen=True)
class Schedule:
    """A scheduled family as the worker needs it (it travels in the payload)."""
    scheduler: SchedulerConfig
    budget: int                # iterations: the top rung


def rung_scorer(unit: Unit, classifier: Any, reference: Any, n_samples: int,
                device: Any = None) -> Callable[[Any, int], tuple[float | None, float | None]]:
    """``score(trainer, k)``: (I, FD) of member ``k``'s generator as it is now, on
    ``n_samples`` samples of the fixed rung noise; (None, None) if it draws NaN pixels."""
    from evaluator.sampling import score_generator

    def score(trainer: Any, k: int) -> tuple[float | None, float | None]:
        generator = trainer.G if not unit.is_pack else trainer.member_networks(k)[0]
        classifier.to(device if device is not None else trainer.device).eval()
        try:
            s = score_generator(generator, classifier, z_dim=unit.members[k].z_dim,
                                n_samples=n_samples, seed=RUNG_SEED, device=device,
                                reference=reference)
        except ValueError:  # the generator diverged: no score, the board stops it
            return None, None
        return s.score, s.fd
    return score


def call_board(board: Any, method: str, *args: Any) -> Any:
    """``board.method(*args)``, whether the board is a Ray actor (a grid) or an object."""
    fn = getattr(board, method)
    if hasattr(fn, "remote"):
        import ray
        return ray.get(fn.remote(*args))
    return fn(*args)


class Rungs:
    """One unit's rungs: which iterations score which members, and the results so far."""

    def __init__(self, unit: Unit, schedules: dict[str, Schedule], board: Any,
                 score: Callable[[Any, int], tuple[float | None, float | None]]) -> None:
        """``score(trainer, k)`` -> (I, FD) of member ``k`` on the rung samples."""
        self.unit, self.board, self.score = unit, board, score
        self.at: list[list[int]] = []
        for m in unit.members:
            s = schedules.get(m.family)
            self.at.append(key_rungs(s.scheduler, s.budget, m.key) if s else [])
        self.results: list[list[RungResult]] = [[] for _ in unit.members]
        self.seconds = 0.0     # spent scoring at rungs (this attempt)

    @property
    def active(self) -> bool:
        return any(self.at)

    def _due(self, k: int, iteration: int) -> bool:
        return iteration in self.at[k] and all(r.iteration != iteration for r in self.results[k])

    def next_stop(self, trainer: Any) -> int | None:
        """The next iteration (>= now) at which a running member has a rung to do."""
        todo = [i for k in range(len(self.at)) if _running(trainer, k)
                for i in self.at[k] if i >= trainer.iteration and self._due(k, i)]
        return min(todo) if todo else None

    def at_rung(self, trainer: Any) -> dict[str, Any]:
        """Score the members due at this iteration, ask the board, stop the losers; the
        metrics to report (``rung_*``; a pack's as ``<key>/rung_*``)."""
        it = trainer.iteration
        due = [k for k in range(len(self.at)) if _running(trainer, k) and self._due(k, it)]
        t0 = time.perf_counter()
        scored = []
        for k in due:
            score, fd = self.score(trainer, k)
            scored.append(RungResult(self.unit.members[k].key, it, score, fd))
        self.seconds += time.perf_counter() - t0
        by_family: dict[str, list[int]] = {}
        for i, k in enumerate(due):
            by_family.setdefault(self.unit.members[k].family, []).append(i)
        keep: dict[int, bool] = {}
        for family, idx in by_family.items():
            for i, ok in zip(idx, call_board(self.board, "decide", family,
                                             [scored[i] for i in idx])):
                keep[i] = ok
        metrics: dict[str, Any] = {"rung_iteration": it}
        rows = {}
        for i, k in enumerate(due):
            r = RungResult(scored[i].key, it, scored[i].score, scored[i].fd, keep[i])
            self.results[k].append(r)
            rows[r.key] = {"family": self.unit.members[k].family, "row": r.to_row()}
            prefix = "" if not self.unit.is_pack else f"{r.key}/"
            metrics.update({f"{prefix}rung_score": _finite(r.score),
                            f"{prefix}rung_fd": _finite(r.fd),
                            f"{prefix}rung_stopped": float(not r.keep)})
        for i, k in enumerate(due):
            if not keep[i]:
                trainer.stop(k)
        metrics["rung_results"] = json.dumps(rows)
        return metrics

    def member(self, k: int) -> dict[str, Any]:
        """What member ``k``'s result records of its rungs."""
        rs = self.results[k]
        last = rs[-1] if rs else None
        return {"rungs": json.dumps([r.to_row() for r in rs]) if rs else None,
                "rung_score": None if last is None else last.score,
                "rung_fd": None if last is None else last.fd}

    def tell_board(self) -> None:
        """Hand the board the rung results this unit holds (from its checkpoint)."""
        families: dict[str, list[RungResult]] = {}
        for m, rs in zip(self.unit.members, self.results):
            families.setdefault(m.family, []).extend(rs)
        for family, rs in families.items():
            if rs:
                call_board(self.board, "restore", family, rs)

    # --- checkpoints ----------------------------------------------------------------------
    def state(self) -> list[list[list]]:
        return [[r.to_row() for r in rs] for rs in self.results]

    def load(self, state: list[list[list]] | None) -> None:
        if not state:
            return
        self.results = [[RungResult.from_row(m.key, row) for row in rows]
                        for m, rows in zip(self.unit.members, state, strict=True)]


def _running(trainer: Any, k: int) -> bool:
    return trainer.record(k).status == "ok" and trainer.iteration < trainer.total


def _finite(v: float | None) -> float:
    return float(v) if v is not None and math.isfinite(v) else math.nan
