"""How long will the grid take? Told before the first trial, kept current while it runs.

Before anything finished: time a few iterations of the smallest and the largest
configuration here, and interpolate each configuration's cost by its parameter count
(fully connected nets: time per iteration grows about linearly with the weights); a pack
is counted as its members one after another (what packing saves is measured by
`make bench`, not assumed). Once configurations have finished (this run or earlier ones),
their measured throughput takes over. The clock starts with the first trial, so Ray's
start-up never inflates the ETA.
"""
from __future__ import annotations

import time
from typing import TYPE_CHECKING, Sequence

if TYPE_CHECKING:  # torch is imported by the functions that time training: `sweep status`
    import torch   # formats durations without it
    from models.config import TrialConfig

TIMING_ITERATIONS = 6
SCORE_SECONDS_PER_10K = 6.0  # CPU figure (make bench); small next to training
TRIAL_OVERHEAD_S = 0.7       # Ray Tune + driver per trial, measured by `make bench`


def _ms_per_iteration(config: TrialConfig, images: torch.Tensor, threads: int) -> float:
    """Timed with the thread count a trial gets, so the figure matches the trials'."""
    import torch

    from models.train import train

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        record = train(config, images[: max(256, config.batch_size * 2)],
                       iterations=TIMING_ITERATIONS, device="cpu").record
    finally:
        torch.set_num_threads(before)
    return record.ms_per_iteration


def config_seconds(configs: Sequence[TrialConfig], images: torch.Tensor, score_samples: int,
                   threads: int = 1) -> list[float]:
    """Estimated seconds of each configuration, from two timed configurations."""
    from models.nets import parameter_count

    if not configs:
        return []
    sizes = [parameter_count(c) for c in configs]
    lo = min(range(len(configs)), key=sizes.__getitem__)
    hi = max(range(len(configs)), key=sizes.__getitem__)
    t_lo = _ms_per_iteration(configs[lo], images, threads)
    t_hi = _ms_per_iteration(configs[hi], images, threads) if hi != lo else t_lo
    span = max(1, sizes[hi] - sizes[lo])
    score_s = SCORE_SECONDS_PER_10K * score_samples / 10_000
    return [(t_lo + (t_hi - t_lo) * (size - sizes[lo]) / span) / 1000
            * c.planned_iterations(len(images)) + score_s
            for c, size in zip(configs, sizes)]


def format_duration(seconds: float) -> str:
    if seconds != seconds or seconds == float("inf"):
        return "?"
    seconds = int(round(seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours:02d}h{minutes:02d}m"
    return f"{hours}:{minutes:02d}:{secs:02d}"


class Estimate:
    """Remaining time = remaining configurations / measured throughput, or, before any
    finished, their prior seconds spread over the concurrent slots."""

    def __init__(self, prior_seconds: list[float], slots: int, units: int | None = None,
                 clock=time.monotonic) -> None:
        self.prior = prior_seconds      # per configuration still to run
        self.units = len(prior_seconds) if units is None else units  # Ray Tune trials
        self.slots = max(1, slots)
        self.clock = clock
        self.finished_seconds: list[float] = []
        self.started: float | None = None

    def first_trial_started(self) -> None:
        if self.started is None:
            self.started = self.clock()

    def elapsed(self) -> float:
        return 0.0 if self.started is None else self.clock() - self.started

    def finished(self, seconds: float) -> None:
        self.finished_seconds.append(seconds)

    def total_seconds(self) -> float:
        return sum(self.prior) / self.slots

    def mean_unit_seconds(self) -> float:
        """Expected seconds of one Ray Tune trial (a configuration or a pack)."""
        return sum(self.prior) / max(1, self.units)

    def remaining_seconds(self, remaining: int) -> float:
        """``remaining`` configurations still to finish."""
        if self.finished_seconds and self.elapsed() > 0:
            return self.elapsed() / len(self.finished_seconds) * remaining
        n = max(1, len(self.prior))
        return sum(self.prior) / n * remaining / self.slots


def from_history(entries: list[dict]) -> float | None:
    """Mean wall time of finished configurations, if there are enough to trust."""
    times = [e["wall_time_s"] for e in entries if isinstance(e.get("wall_time_s"), (int, float))]
    return sum(times) / len(times) if len(times) >= 3 else None
