"""What a training run keeps of one configuration's losses (``models.loop``).

A solo run has one log, a pack one per member. A pack reads its members' losses back
together (``models.pack``); each member's log takes them up to its divergence only, so
its window, final losses, divergence iteration and curve are those of its solo run.
A configuration the scheduler stops (``stopped_at``) takes nothing more either.
"""
from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

RUNNING_WINDOW = 100   # iterations averaged into running_losses


@dataclass
class MemberLog:
    """One configuration's losses: the running window, the last values, the divergence,
    the curve of per-report means. :meth:`state` holds them under the keys of a solo
    training state (``models.train.Trainer.state_dict``)."""
    quantities: int
    window: deque = field(default_factory=lambda: deque(maxlen=RUNNING_WINDOW))
    last: tuple[float, float] = (math.nan, math.nan)
    diverged_at: int | None = None
    stopped_at: int | None = None    # the iteration a scheduler stopped it at
    curve: list[dict[str, float]] = field(default_factory=list)
    sums: list[float] = field(default_factory=list)
    count: int = 0
    reported_at: int = 0
    iterations_run: int = 0

    def __post_init__(self) -> None:
        self.sums = self.sums or [0.0] * self.quantities

    @property
    def running(self) -> bool:
        """Neither diverged nor stopped: it still takes losses."""
        return self.diverged_at is None and self.stopped_at is None

    def stop(self, it: int, names: Sequence[str]) -> None:
        """End the run at iteration ``it``: the means since the last report (if any) are its
        curve's last row."""
        if self.count:
            self.report(it, names)
        self.stopped_at = it

    def add(self, it: int, row: list[float]) -> bool:
        """Account iteration ``it``; True if it is the member's first non-finite one."""
        pair = (row[0], row[1])
        self.window.append(pair)
        self.last = pair
        self.sums = [s + v for s, v in zip(self.sums, row)]
        self.count += 1
        self.iterations_run += 1
        if all(math.isfinite(v) for v in pair):
            return False
        self.diverged_at = it
        return True

    def report(self, it: int, names: Sequence[str]) -> None:
        values = {q: s / max(self.count, 1) for q, s in zip(names, self.sums)}
        self.curve.append({"iteration": it, **values})
        self.sums, self.count, self.reported_at = [0.0] * self.quantities, 0, it

    def state(self) -> dict[str, Any]:
        return {"window": list(self.window), "last": self.last, "diverged_at": self.diverged_at,
                "stopped_at": self.stopped_at, "curve": [dict(r) for r in self.curve],
                "sums": list(self.sums), "count": self.count, "reported_at": self.reported_at,
                "iterations_run": self.iterations_run}

    def load(self, s: Mapping[str, Any]) -> None:
        self.window = deque((tuple(p) for p in s["window"]), maxlen=RUNNING_WINDOW)
        self.last, self.diverged_at = tuple(s["last"]), s["diverged_at"]
        self.stopped_at = s.get("stopped_at")          # absent from states before stopping
        self.curve, self.sums = [dict(r) for r in s["curve"]], list(s["sums"])
        self.count, self.reported_at = int(s["count"]), int(s["reported_at"])
        self.iterations_run = int(s["iterations_run"])
