"""How long will the grid take? Told before the first trial, kept current while it runs.

Before anything finished: time a few iterations of the smallest and the largest
configuration here, and interpolate each trial's cost by its parameter count (fully
connected nets: time per iteration grows about linearly with the weights). Once trials
have finished (this run or earlier ones), their measured wall times take over.
"""
from __future__ import annotations

import time
from typing import Any

import torch

from models.train import planned_iterations, train

TIMING_ITERATIONS = 6
SCORE_SECONDS_PER_10K = 6.0  # CPU figure (make bench); small next to training
TRIAL_OVERHEAD_S = 0.7       # Ray Tune + driver per trial, measured by `make bench`


def parameter_count(trial: dict[str, Any]) -> int:
    """Weights of G and D, counted from the shapes (building 6,657 nets would take minutes).

    Mirrors models/nets.py: a Linear followed by batch norm has no bias and 2 BN
    parameters per unit; D's input layer keeps its bias and has no batch norm.
    """
    z, n_g, s_g = int(trial.get("z_dim", 100)), int(trial["nLayerG"]), int(trial["sizeG"])
    n_d, s_d, image = int(trial["nLayerD"]), int(trial["sizeD"]), 1024
    g = (z * s_g + 2 * s_g) + (n_g - 2) * (s_g * s_g + 2 * s_g) + (s_g * image + image)
    d_hidden = (image * s_d + s_d) + (n_d - 2) * (s_d * s_d + 2 * s_d)
    d_out = s_d * image + image if trial["model"] == "ebgan" else s_d + 1
    return g + d_hidden + d_out


def _ms_per_iteration(trial: dict[str, Any], images: torch.Tensor, threads: int) -> float:
    """Timed with the thread count a trial gets, so the figure matches the trials'."""
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        record = train(trial, images[: max(256, trial["batch_size"] * 2)],
                       iterations=TIMING_ITERATIONS, device="cpu").record
    finally:
        torch.set_num_threads(before)
    return record.ms_per_iteration


def per_trial_seconds(trials: list[dict[str, Any]], images: torch.Tensor,
                      score_samples: int, threads: int = 1) -> dict[str, float]:
    """Estimated seconds per trial (keyed by index) from two timed configurations."""
    if not trials:
        return {}
    sizes = [parameter_count(t) for t in trials]
    lo, hi = min(range(len(trials)), key=sizes.__getitem__), max(range(len(trials)), key=sizes.__getitem__)
    t_lo = _ms_per_iteration(trials[lo], images, threads)
    t_hi = _ms_per_iteration(trials[hi], images, threads) if hi != lo else t_lo
    span = max(1, sizes[hi] - sizes[lo])
    score_s = SCORE_SECONDS_PER_10K * score_samples / 10_000
    out = {}
    for i, t in enumerate(trials):
        ms = t_lo + (t_hi - t_lo) * (sizes[i] - sizes[lo]) / span
        out[str(i)] = ms / 1000 * planned_iterations(t, len(images)) + score_s + TRIAL_OVERHEAD_S
    return out


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
    """Remaining time = remaining trials x mean seconds per trial / concurrent slots."""

    def __init__(self, prior_seconds: list[float], slots: int, pending: int) -> None:
        self.prior = prior_seconds      # per pending trial, from timing or earlier trials
        self.slots = max(1, slots)
        self.pending = pending
        self.finished_seconds: list[float] = []
        self.started = time.monotonic()

    def total_seconds(self) -> float:
        return sum(self.prior) / self.slots

    def remaining_seconds(self, remaining: int) -> float:
        if self.finished_seconds:
            done = len(self.finished_seconds)
            elapsed = time.monotonic() - self.started
            return elapsed / done * remaining  # measured throughput, concurrency included
        mean = sum(self.prior) / len(self.prior) if self.prior else 0.0
        return mean * remaining / self.slots


def from_history(entries: list[dict[str, Any]]) -> float | None:
    """Mean wall time of finished trials, if there are enough to trust."""
    times = [e["wall_time_s"] for e in entries if isinstance(e.get("wall_time_s"), (int, float))]
    return sum(times) / len(times) if len(times) >= 3 else None
