"""Driver side of a running grid: a Ray Tune callback that writes each finished
configuration to the ledger at once, indexes checkpoints, and tells the user how far it is.

Progress goes to the terminal (one line per finished unit), to ``progress.json`` in the
experiment (what ``sweep status`` reads), to ``sweep-progress.log`` in Ray's log folder
(the Ray dashboard's Logs view lists it) and to Ray application metrics
(``sweep_trials{state=...}``, for Prometheus/Grafana).
"""
from __future__ import annotations

import json
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

from ray import tune

from models import atomic
from sweep.run.driver import signals
from sweep.run.driver.time_estimate import Estimate, format_duration
from sweep.run.records import checkpoints, storage
from sweep.run.records.ledger import Ledger, ResultsUnwritable
from sweep.run.records.results import TrialResult, ledger_entry
from sweep.run.scheduling.units import Unit


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S")


@contextmanager
def _writing(path: Path) -> Iterator[None]:
    try:
        yield
    except OSError as exc:
        raise ResultsUnwritable(path, exc) from exc


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


class LedgerCallback(tune.Callback):
    """Write every member of a finished trial to the ledger; print one line per trial."""

    def __init__(self, ledger: Ledger, *, total: int, done_before: int,
                 est: Estimate, name: str, log: Callable[..., None] = print,
                 mirror_to: str | None = None, progress_log: Path | None = None) -> None:
        self.ledger, self.total, self.est, self.log = ledger, total, est, log
        self.done = done_before
        self.counts = {"ok": 0, "diverged": 0, "error": 0}
        self.mirror_to = mirror_to  # storage root that gets a copy of each entry, if any
        self.mirror_failed = False
        self.progress_log = progress_log
        self.metrics = Metrics(name)
        self.running = 0
        self.last_finished: str | None = None
        self.started_units = 0
        self.index = checkpoints.Index(ledger.exp_dir)
        # Trials whose next report starts a new attempt: each trial's first report in this
        # run (it may restart from 0 after a lost attempt that also started at 0) and after
        # a retry.
        self._recovered: set[str] = set()

    # --- Tune's hooks ---------------------------------------------------------------------
    def on_step_begin(self, iteration: int, trials: list, **info: Any) -> None:
        signals.check()  # a Ctrl-C or SIGTERM received during the last step stops the grid

    def on_trial_start(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self.est.first_trial_started()
        self.started_units += 1
        self._recovered.add(trial.trial_id)
        self._publish(trials)

    def on_trial_result(self, iteration: int, trials: list, trial: Any, result: dict,
                        **info: Any) -> None:
        if result.get("final") or "attempt_start" not in result:
            return
        unit = Unit.from_config(trial.config)
        # A checkpoint's report carries the last progress report's iteration: the attempt
        # has reached the checkpoint's, a few iterations further.
        reached = max(int(result["iteration"]), int(result.get("checkpoint_iteration") or 0))
        with _writing(self.index.dir / f"{unit.unit_id}.json"):
            self.index.progress(unit.unit_id, int(result["attempt_start"]), reached,
                                new_attempt=trial.trial_id in self._recovered)
        self._recovered.discard(trial.trial_id)

    def on_trial_recover(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self._recovered.add(trial.trial_id)  # retried: its next report is a new attempt

    def on_checkpoint(self, iteration: int, trials: list, trial: Any, checkpoint: Any,
                      **info: Any) -> None:
        unit = Unit.from_config(trial.config)
        before = self.index.locations().get(unit.unit_id)
        location = storage.location_of(checkpoint.filesystem, checkpoint.path)
        with _writing(self.index.dir / f"{unit.unit_id}.json"):
            self.index.checkpointed(unit.unit_id, location)
        if before and before == unit.resume_from and before != location:
            # An earlier run's checkpoint, which this run's Tune does not manage (it keeps
            # only its own newest): superseded now, so removed here.
            try:
                storage.delete_dir(before)
            except Exception as exc:  # costs disk space, not results
                self.log(f"[checkpoint] warning: could not remove {before}: "
                         f"{type(exc).__name__}: {exc}", flush=True)

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        unit = Unit.from_config(trial.config)
        result = trial.last_result or {}
        if result.get("final") and result.get("results"):
            results = [TrialResult.from_dict(r) for r in json.loads(result["results"])]
            attempts = self.index.attempts(unit.unit_id)
            for r in results:  # what every attempt ran, lost ones included (the driver saw them)
                if attempts and r.iterations_done is not None:
                    r.iterations_run = checkpoints.iterations_run(attempts, r.iterations_done)
                    r.attempts = json.dumps([a[0] for a in attempts])
        else:
            results = [TrialResult.failed("the trial ended without a final result",
                                          order=o) for o in unit.orders]
        self._finish(trial, unit, results, trials)
        latest = getattr(trial, "checkpoint", None)
        also = [storage.location_of(latest.filesystem, latest.path)] if latest else []
        try:
            self.index.forget(unit.unit_id, also)
        except Exception as exc:  # a leftover checkpoint costs disk space, not results
            self.log(f"[checkpoint] warning: could not remove {unit.label}'s checkpoint: "
                     f"{type(exc).__name__}: {exc}", flush=True)

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        unit = Unit.from_config(trial.config)
        message = _error_message(trial)
        self._finish(trial, unit, [TrialResult.failed(message, order=o, pack_id=unit.pack_id,
                                                      pack_size=len(unit.members))
                                   for o in unit.orders], trials)

    # --- bookkeeping ----------------------------------------------------------------------
    def _finish(self, trial: Any, unit: Unit, results: list[TrialResult], trials: list) -> None:
        for config, res in zip(unit.members, results):
            with _writing(self.ledger.dir / f"{config.key}.json"):
                self.ledger.write(config.key, ledger_entry(config, res, trial_id=trial.trial_id,
                                                           finished_at=_now()))
            self._mirror(config.key)
            self.counts[res.status] = self.counts.get(res.status, 0) + 1
            if isinstance(res.wall_time_s, (int, float)) and res.status != "error":
                self.est.finished(res.wall_time_s)
        self.done += len(unit.members)
        self.last_finished = f"{unit.label} at {_now()}"
        line = (f"[grid] {self.done:,}/{self.total:,} done ({self.counts['ok']} ok, "
                f"{self.counts['diverged']} diverged, {self.counts['error']} errors this run), "
                f"{self._running(trials, trial)} running, elapsed "
                f"{format_duration(self.est.elapsed())}, ETA "
                f"{format_duration(self.est.remaining_seconds(self.total - self.done))}")
        self.log(line, flush=True)
        self._publish(trials, line, exclude=trial)

    @staticmethod
    def _running(trials: list, exclude: Any = None) -> int:
        return sum(1 for t in trials if t.status == "RUNNING" and t is not exclude)

    def _publish(self, trials: list, line: str | None = None, exclude: Any = None) -> None:
        """progress.json (for `sweep status`), the dashboard's log line and the metrics."""
        running = self._running(trials, exclude)
        state = {"done": self.done, "total": self.total, "running_units": running,
                 "counts_this_run": self.counts, "last_finished": self.last_finished,
                 "elapsed_s": self.est.elapsed(), "updated_at": _now(),
                 "eta_s": self.est.remaining_seconds(self.total - self.done)}
        try:
            atomic.write_text(self.ledger.exp_dir / "progress.json", json.dumps(state))
            if line and self.progress_log is not None:
                with open(self.progress_log, "a") as fh:
                    fh.write(line + "\n")
        except OSError:
            pass  # progress reports must never cost a trial
        self.metrics.set({"done": self.done, "pending": self.total - self.done,
                          "running_units": running, **self.counts})

    def _mirror(self, key: str) -> None:
        """Copy the new ledger entry to the storage; a failure never stops the grid (the
        local ledger is what resumes; the end of the grid and `sweep collect` copy again)."""
        if not self.mirror_to:
            return
        try:
            storage.mirror_ledger_entry(self.mirror_to, self.ledger.dir / f"{key}.json")
        except Exception as exc:  # an unreachable bucket must not cost the trials
            if not self.mirror_failed:
                self.log(f"[storage] warning: could not copy the ledger to {self.mirror_to}: "
                         f"{type(exc).__name__}: {exc}; will retry at the end", flush=True)
            self.mirror_failed = True


def _error_message(trial: Any) -> str:
    path = getattr(trial, "error_file", None)
    try:
        lines = [ln for ln in Path(path).read_text().splitlines() if ln.strip()]
        return lines[-1][:500] if lines else "unknown error"
    except (OSError, TypeError):
        return str(getattr(trial, "error_msg", None) or "unknown error")[:500]
