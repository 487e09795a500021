"""Driver side of a running grid: one Ray Tune callback that hands each event to the
observer whose job it is.

- :class:`LedgerWriter` writes every member of a finished trial to the ledger at once
  (and copies the entry to the storage, :class:`EntryMirror`);
- :class:`~sweep.run.driver.checkpoint_keeper.CheckpointKeeper` keeps the checkpoint index
  and removes checkpoints nothing resumes from;
- :class:`~sweep.run.driver.progress.Progress` tells the user how far the grid is;
- :func:`sweep.run.driver.signals.check` stops the grid on a Ctrl-C or SIGTERM.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

from ray import tune

from sweep.run.driver import signals
from sweep.run.driver.checkpoint_keeper import CheckpointKeeper, writing
from sweep.run.driver.progress import Progress, now
from sweep.run.records import checkpoints, storage
from sweep.run.records.ledger import Ledger
from sweep.run.records.results import TrialResult, ledger_entry
from sweep.run.scheduling.units import Unit


class EntryMirror:
    """Copies new ledger entries to the storage; a failure never stops the grid (the local
    ledger is what resumes; the end of the grid and `sweep collect` copy again)."""

    def __init__(self, mirror_to: str | None, log: Callable[..., None] = print) -> None:
        self.mirror_to, self.log = mirror_to, log
        self.failed = False

    def copy(self, entry: Path) -> None:
        if not self.mirror_to:
            return
        try:
            storage.mirror_ledger_entry(self.mirror_to, entry)
        except Exception as exc:  # an unreachable bucket must not cost the trials
            if not self.failed:
                self.log(f"[storage] warning: could not copy the ledger to {self.mirror_to}: "
                         f"{type(exc).__name__}: {exc}; will retry at the end", flush=True)
            self.failed = True


class LedgerWriter:
    """Files each member's result in the ledger (the record the grid resumes from)."""

    def __init__(self, ledger: Ledger, mirror: EntryMirror) -> None:
        self.ledger, self.mirror = ledger, mirror

    def write(self, trial: Any, unit: Unit, results: list[TrialResult]) -> None:
        for config, res in zip(unit.members, results):
            with writing(self.ledger.dir / f"{config.key}.json"):
                self.ledger.write(config.key, ledger_entry(config, res, trial_id=trial.trial_id,
                                                           finished_at=now()))
            self.mirror.copy(self.ledger.dir / f"{config.key}.json")


def failed_results(unit: Unit, message: str) -> list[TrialResult]:
    """One `error` result per member, placed like a finished one (order, pack)."""
    return [TrialResult.failed(message, order=o, pack_id=unit.pack_id,
                               pack_size=len(unit.members)) for o in unit.orders]


def final_results(trial: Any, unit: Unit, attempts: list[list[int]]) -> list[TrialResult]:
    """The members' results from the trial's final report, with what every attempt ran (lost
    ones included: the driver saw them); `error` for each member if there is none."""
    result = trial.last_result or {}
    if not (result.get("final") and result.get("results")):
        return failed_results(unit, "the trial ended without a final result")
    results = [TrialResult.from_dict(r) for r in json.loads(result["results"])]
    for r in results:
        if attempts and r.iterations_done is not None:
            r.iterations_run = checkpoints.iterations_run(attempts, r.iterations_done)
            r.attempts = [a[0] for a in attempts]
    return results


class GridCallback(tune.Callback):
    """Ray Tune's events of a grid, each handed to the observer that deals with it."""

    def __init__(self, ledger: Ledger, progress: Progress, *, mirror_to: str | None = None,
                 log: Callable[..., None] = print) -> None:
        self.progress = progress
        self.writer = LedgerWriter(ledger, EntryMirror(mirror_to, log))
        self.keeper = CheckpointKeeper(checkpoints.Index(ledger.exp_dir), log)

    def on_step_begin(self, iteration: int, trials: list, **info: Any) -> None:
        signals.check()  # a Ctrl-C or SIGTERM received during the last step stops the grid

    def on_trial_start(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self.keeper.attempt_starts(trial)
        self.progress.started(trials)

    def on_trial_result(self, iteration: int, trials: list, trial: Any, result: dict,
                        **info: Any) -> None:
        self.keeper.reported(trial, result)

    def on_trial_recover(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self.keeper.attempt_starts(trial)

    def on_checkpoint(self, iteration: int, trials: list, trial: Any, checkpoint: Any,
                      **info: Any) -> None:
        self.keeper.checkpointed(trial, checkpoint)

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        unit = Unit.from_config(trial.config)
        self._finish(trial, unit, final_results(trial, unit, self.keeper.attempts(unit)), trials)
        self.keeper.forget(trial, unit)

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        unit = Unit.from_config(trial.config)
        self._finish(trial, unit, failed_results(unit, _error_message(trial)), trials)

    def _finish(self, trial: Any, unit: Unit, results: list[TrialResult], trials: list) -> None:
        self.writer.write(trial, unit, results)
        self.progress.finished(unit.label, [r.status for r in results],
                               [r.wall_time_s for r in results], trials, trial)


def _error_message(trial: Any) -> str:
    path = getattr(trial, "error_file", None)
    try:
        lines = [ln for ln in Path(path).read_text().splitlines() if ln.strip()]
        return lines[-1][:500] if lines else "unknown error"
    except (OSError, TypeError):
        return str(getattr(trial, "error_msg", None) or "unknown error")[:500]
