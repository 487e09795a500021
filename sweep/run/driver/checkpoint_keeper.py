"""The driver's side of checkpoints while a grid runs: the index of where each unit's
newest checkpoint is and what its attempts ran (``records/checkpoints.py``), and removing
the checkpoints nothing will resume from any more."""
from __future__ import annotations

import json
from contextlib import contextmanager
from typing import Any, Callable, Iterator

from sweep.run.records import checkpoints, storage
from sweep.run.records.ledger import ResultsUnwritable
from sweep.run.scheduling.units import Unit


@contextmanager
def writing(path: Any) -> Iterator[None]:
    """A failed write of the experiment's records stops the grid (ResultsUnwritable)."""
    try:
        yield
    except OSError as exc:
        raise ResultsUnwritable(path, exc) from exc


class CheckpointKeeper:
    """Keeps the checkpoint index up to date from Tune's reports and checkpoints."""

    def __init__(self, index: checkpoints.Index, log: Callable[..., None] = print) -> None:
        self.index, self.log = index, log
        # Trials whose next report starts a new attempt: each trial's first report in this
        # run (it may restart from 0 after a lost attempt that also started at 0) and after
        # a retry.
        self._new_attempt: set[str] = set()

    def attempt_starts(self, trial: Any) -> None:
        """The trial started or was retried: its next report is a new attempt."""
        self._new_attempt.add(trial.trial_id)

    def reported(self, trial: Any, result: dict) -> None:
        """A progress report: the attempt it belongs to has reached its iteration; a rung
        report's results go to the index (the board is rebuilt from it after a crash)."""
        if result.get("final"):
            return
        if result.get("rung_results"):
            unit = Unit.from_config(trial.config)
            with writing(self.index.dir / f"{unit.unit_id}.json"):
                self.index.rung_results(unit.unit_id, json.loads(result["rung_results"]))
        if "attempt_start" not in result:
            return
        unit = Unit.from_config(trial.config)
        # A checkpoint's report carries the last progress report's iteration: the attempt
        # has reached the checkpoint's, a few iterations further.
        reached = max(int(result["iteration"]), int(result.get("checkpoint_iteration") or 0))
        with writing(self.index.dir / f"{unit.unit_id}.json"):
            self.index.progress(unit.unit_id, int(result["attempt_start"]), reached,
                                new_attempt=trial.trial_id in self._new_attempt)
        self._new_attempt.discard(trial.trial_id)

    def checkpointed(self, trial: Any, checkpoint: Any) -> None:
        unit = Unit.from_config(trial.config)
        before = self.index.locations().get(unit.unit_id)
        location = storage.location_of(checkpoint.filesystem, checkpoint.path)
        with writing(self.index.dir / f"{unit.unit_id}.json"):
            self.index.checkpointed(unit.unit_id, location)
        if before and before == unit.resume_from and before != location:
            # An earlier run's checkpoint, which this run's Tune does not manage (it keeps
            # only its own newest): superseded now, so removed here.
            try:
                storage.delete_dir(before)
            except Exception as exc:  # costs disk space, not results
                self.log(f"[checkpoint] warning: could not remove {before}: "
                         f"{type(exc).__name__}: {exc}", flush=True)

    def attempts(self, unit: Unit) -> list[list[int]]:
        return self.index.attempts(unit.unit_id)

    def forget(self, trial: Any, unit: Unit) -> None:
        """The unit is finished: its index entry and checkpoints go."""
        latest = getattr(trial, "checkpoint", None)
        also = [storage.location_of(latest.filesystem, latest.path)] if latest else []
        try:
            self.index.forget(unit.unit_id, also)
        except Exception as exc:  # a leftover checkpoint costs disk space, not results
            self.log(f"[checkpoint] warning: could not remove {unit.label}'s checkpoint: "
                     f"{type(exc).__name__}: {exc}", flush=True)
