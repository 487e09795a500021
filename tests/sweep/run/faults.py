"""Test-only trainables for the sweep API (``run_sweep(..., trainable=...)``): faults are
injected here, never through a field of the trials' configuration. Each reads its knobs
from environment variables that only these functions look at."""
from __future__ import annotations

import os
from pathlib import Path

from sweep.run.records.results import TrialResult
from sweep.run.scheduling.units import Unit
from sweep.run.worker.trainable import final_report, run_trial
from sweep.run.worker.unit_runner import Hooks


def fail_family(config, payload) -> None:
    """Raises for trials of the family named by SWEEP_TEST_FAIL_FAMILY; the rest run."""
    unit = Unit.from_config(config)
    if any(m.family == os.environ["SWEEP_TEST_FAIL_FAMILY"] for m in unit.members):
        raise RuntimeError(f"injected error in {unit.label} (a test trainable)")
    run_trial(config, payload)


def raise_once(config, payload) -> None:
    """Raises at iteration SWEEP_TEST_RAISE_AT of the trial whose key is
    SWEEP_TEST_RAISE_KEY (or every trial if unset), the first time only (a marker file in
    SWEEP_TEST_MARKERS remembers it), after a checkpoint at SWEEP_TEST_CHECKPOINT_AT."""
    unit = Unit.from_config(config)
    at = int(os.environ["SWEEP_TEST_RAISE_AT"])
    wanted = os.environ.get("SWEEP_TEST_RAISE_KEY")
    marker = Path(os.environ["SWEEP_TEST_MARKERS"]) / unit.unit_id
    every = frozenset(int(x) for x in os.environ.get("SWEEP_TEST_CHECKPOINT_AT", "").split(",")
                      if x)

    def on_iteration(it: int) -> None:
        if it == at and (wanted is None or wanted == unit.unit_id) and not marker.exists():
            marker.parent.mkdir(parents=True, exist_ok=True)
            marker.write_text("raised")
            raise RuntimeError(f"injected fault at iteration {it} (a test trainable)")

    run_trial(config, payload, hooks=Hooks(on_iteration=on_iteration, checkpoint_at=every))


def instant(config, payload) -> None:
    """Returns at once with an `ok` result and no training: what the driver costs."""
    from ray import tune
    unit = Unit.from_config(config)
    tune.report(final_report([TrialResult(status="ok", score=0.0, order=o,
                                          pack_size=len(unit.members))
                              for o in unit.orders]))


def checkpoint_every(n: int):
    """A trainable: run_trial plus a checkpoint every ``n`` iterations (besides the ones
    the checkpoint policy takes). The fault tests place a fault after a mid-trial
    checkpoint; on a loaded machine the policy (never more often than 50x a checkpoint's
    cost) may space its checkpoints past a short trial's end. A closure, so the value
    travels with the function to any node."""
    def trainable(config, payload) -> None:
        unit = Unit.from_config(config)
        total = unit.members[0].planned_iterations(len(payload.train_images))
        run_trial(config, payload, hooks=Hooks(checkpoint_at=frozenset(range(n, total, n))))
    return trainable
