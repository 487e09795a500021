"""How far a running grid is, told four ways: one terminal line per finished unit,
``progress.json`` in the experiment (what ``sweep status`` reads), ``sweep-progress.log`` in
Ray's log folder (the Ray dashboard's Logs view lists it) and Ray application metrics
(``sweep_trials{state=...}``, for Prometheus/Grafana). None of them may ever cost a trial.
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Callable

from models import atomic
from sweep.run.driver.time_estimate import Estimate, format_duration


def now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S")


class Metrics:
    """Counts of the grid as Ray application metrics (exported to Prometheus)."""

    def __init__(self, name: str) -> None:
        try:
            from ray.util.metrics import Gauge
            self.gauge = Gauge("sweep_trials", description="configurations of a sweep by state",
                               tag_keys=("sweep", "state"))
            self.name = name
        except Exception:  # metrics are a convenience, never a reason to stop
            self.gauge = None

    def set(self, counts: dict[str, int]) -> None:
        if self.gauge is None:
            return
        for state, n in counts.items():
            try:
                self.gauge.set(n, tags={"sweep": self.name, "state": state})
            except Exception:
                self.gauge = None
                return


def running(trials: list, exclude: Any = None) -> int:
    """Tune trials running now, leaving out ``exclude`` (the one that just ended)."""
    return sum(1 for t in trials if t.status == "RUNNING" and t is not exclude)


class Progress:
    """The grid's counts and time estimate, and where they are published."""

    def __init__(self, exp_dir: Path, *, total: int, done_before: int, est: Estimate,
                 name: str, log: Callable[..., None] = print,
                 progress_log: Path | None = None) -> None:
        self.exp_dir, self.total, self.est, self.log = exp_dir, total, est, log
        self.done = done_before
        self.counts = {"ok": 0, "diverged": 0, "error": 0}  # this run's, by status
        self.last_finished: str | None = None
        self.progress_log = progress_log
        self.metrics = Metrics(name)

    def started(self, trials: list) -> None:
        self.est.first_trial_started()
        self.publish(trials)

    def finished(self, label: str, statuses: list[str], seconds: list[float | None],
                 trials: list, trial: Any) -> None:
        """A unit ended with these members' statuses and wall times: count, print, publish."""
        for status, wall in zip(statuses, seconds):
            self.counts[status] = self.counts.get(status, 0) + 1
            if isinstance(wall, (int, float)) and status != "error":
                self.est.finished(wall)
        self.done += len(statuses)
        self.last_finished = f"{label} at {now()}"
        line = (f"[grid] {self.done:,}/{self.total:,} done ({self.counts['ok']} ok, "
                f"{self.counts['diverged']} diverged, {self.counts['error']} errors"
                + (f", {self.counts['stopped']} stopped early" if self.counts.get("stopped") else "")
                + " this run), "
                f"{running(trials, trial)} running, elapsed "
                f"{format_duration(self.est.elapsed())}, ETA "
                f"{format_duration(self.est.remaining_seconds(self.total - self.done))}")
        self.log(line, flush=True)
        self.publish(trials, line, exclude=trial)

    def publish(self, trials: list, line: str | None = None, exclude: Any = None) -> None:
        """progress.json (for `sweep status`), the dashboard's log line and the metrics."""
        now_running = running(trials, exclude)
        state = {"done": self.done, "total": self.total, "running_units": now_running,
                 "counts_this_run": self.counts, "last_finished": self.last_finished,
                 "elapsed_s": self.est.elapsed(), "updated_at": now(),
                 "eta_s": self.est.remaining_seconds(self.total - self.done)}
        try:
            atomic.write_text(self.exp_dir / "progress.json", json.dumps(state))
            if line and self.progress_log is not None:
                with open(self.progress_log, "a") as fh:
                    fh.write(line + "\n")
        except OSError:
            pass  # progress reports must never cost a trial
        self.metrics.set({"done": self.done, "pending": self.total - self.done,
                          "running_units": now_running, **self.counts})
