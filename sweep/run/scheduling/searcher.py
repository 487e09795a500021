"""Hand Ray Tune the grid's pending units one by one, in constant time each.

Ray Tune's ``BasicVariantGenerator`` deep-copies the whole search space for every trial
it generates, so a ``tune.grid_search`` over the list of pending trials costs O(n) per
trial and O(n^2) per grid (minutes before the first of 6,657 trials starts). A
``Searcher`` (Tune's documented extension point) serves the precomputed list instead:
``suggest`` returns the next unit's small config, and nothing per trial copies or
serialises the list. Retries (``FailureConfig``) restart the same Tune trial without
asking the searcher; ``max_concurrent_trials`` wraps it in Tune's ConcurrencyLimiter.
"""
from __future__ import annotations

import json
import time
from typing import Any, Sequence

from ray.tune.search import Searcher

from sweep.run.records.results import OBJECTIVE
from sweep.run.scheduling.units import Unit


class UnitSearcher(Searcher):
    """Serves ``units`` in their order, then says it is finished."""

    def __init__(self, units: Sequence[Unit]) -> None:
        super().__init__(metric=OBJECTIVE, mode="max")
        self._units = units
        self._next = 0
        self.suggest_seconds = 0.0  # time spent handing out (what `make bench` reports)

    @property
    def handed_out(self) -> int:
        return self._next

    def suggest(self, trial_id: str) -> dict[str, Any] | str | None:
        if self._next >= len(self._units):
            return Searcher.FINISHED
        t0 = time.perf_counter()
        config = self._units[self._next].to_config()
        self._next += 1
        self.suggest_seconds += time.perf_counter() - t0
        return config

    def on_trial_complete(self, trial_id: str, result: dict | None = None,
                          error: bool = False) -> None:
        """Nothing to learn: the ledger callback records results."""

    # Tune snapshots its searcher with the experiment state. Ours is rebuilt from the
    # sweep file and the ledger on every run, so only the position is saved: a snapshot
    # that pickled the whole list would grow with the grid.
    def save(self, checkpoint_path: str) -> None:
        with open(checkpoint_path, "w") as fh:
            json.dump({"next": self._next, "units": len(self._units)}, fh)

    def restore(self, checkpoint_path: str) -> None:
        with open(checkpoint_path) as fh:
            self._next = int(json.load(fh)["next"])
