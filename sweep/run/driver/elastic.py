"""The grid follows the cluster's size while it runs: nodes may join and leave mid-grid.

How many trials run at once is the limit of Ray Tune's ``ConcurrencyLimiter`` around the
searcher (trials handed out and not finished). It starts at the slots of the nodes alive
when the grid starts (``cluster.concurrent_slots``), and :class:`ElasticLimit`, a Tune
callback, asks Ray for the alive nodes every ``POLL_S`` seconds and sets the limit to the
slots they have now: a node that joins gets trials at the next poll (plus the seconds a
trial process takes to start there); a node that leaves lowers the limit, and its running
trials, which Tune retries from their last checkpoint, wait for a free slot. The searcher
still hands out one unit per free slot, in constant time, so a grid of thousands never
holds more than the limit of pending trials. A ``max_concurrent_trials`` in the sweep file
stays an upper bound. Pack sizes are chosen once, at the start, from the GPUs seen then.

Tune caps the trials that wait for a node (``TUNE_MAX_PENDING_TRIALS_PG``) at the limit it
sees when the grid starts; the limiter already bounds them, so the driver lifts that cap
(``api.TUNE_ENV``): otherwise nodes joining a grid that started on one slot would be filled
one trial start at a time.
"""
from __future__ import annotations

import time
from typing import Any, Callable

from ray import tune
from ray.tune.search import ConcurrencyLimiter, Searcher

from sweep.run.driver import cluster

POLL_S = 2.0  # between two looks at the cluster (ray.nodes(): one request to the GCS)


class ElasticLimit(tune.Callback):
    """Wraps ``searcher`` in a ConcurrencyLimiter (``.limiter``) whose limit it keeps equal
    to the slots of the alive nodes (at most ``cap``)."""

    def __init__(self, searcher: Searcher, request: dict[str, float], cap: int | None,
                 slots: int, *, log: Callable[..., None] = print,
                 on_resize: Callable[[int], None] | None = None, poll_s: float = POLL_S,
                 nodes: Callable[[], list[dict[str, float]]] = cluster.alive_nodes,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limiter = ConcurrencyLimiter(searcher, max_concurrent=max(1, slots))
        self.request, self.cap, self.log, self.on_resize = request, cap, log, on_resize
        self.poll_s, self.nodes, self.clock = poll_s, nodes, clock
        self.last_poll = clock()
        self.resizes: list[tuple[float, int]] = []  # (seconds since start, new limit)
        self._started = self.last_poll

    @property
    def slots(self) -> int:
        return self.limiter.max_concurrent

    def __getstate__(self) -> dict[str, Any]:
        # Tune pickles its callbacks into tuner.pkl; the driver's hooks (a bound method of
        # the Fitter reaches the grid's images and classifier: 28 MB there) do not travel.
        return {**self.__dict__, "on_resize": None, "log": print}

    def on_step_begin(self, iteration: int, trials: list, **info: Any) -> None:
        now = self.clock()
        if now - self.last_poll < self.poll_s:
            return
        self.last_poll = now
        self.poll()

    def poll(self) -> None:
        """Look at the cluster now; resize the limit if its slots changed."""
        try:
            nodes = self.nodes()
        except Exception as exc:  # the GCS busy or restarting: keep the limit, look again
            self.log(f"[cluster] warning: could not list the nodes ({type(exc).__name__}: "
                     f"{exc}); keeping {self.slots} trials at a time", flush=True)
            return
        if not nodes:  # no node alive: nothing fits now; the limit waits for them
            return
        slots = cluster.concurrent_slots(self.request, nodes, self.cap)
        if slots == self.slots:
            return
        self.log(f"[cluster] now {cluster.describe_nodes(nodes)}: {slots} trials at a time "
                 f"(was {self.slots})", flush=True)
        self.limiter.set_max_concurrency(slots)
        self.resizes.append((self.clock() - self._started, slots))
        if self.on_resize is not None:
            self.on_resize(slots)
