"""Trainables for the bench: trials that cost nothing, so what is measured is the driver
and Ray Tune (pickled by value: Ray's workers need not import the bench)."""
from __future__ import annotations


def instant(config, payload) -> None:
    """A grid trial that returns at once with an `ok` result (`run_sweep(trainable=...)`)."""
    from ray import tune

    from sweep.run.records.results import TrialResult
    from sweep.run.scheduling.units import Unit
    from sweep.run.worker.trainable import final_report

    unit = Unit.from_config(config)
    tune.report(final_report([TrialResult(status="ok", score=0.0, order=o,
                                          pack_size=len(unit.members)) for o in unit.orders]))


def reporting(config) -> None:
    """A plain Tune function trial: three reports, as a short real trial makes."""
    from ray import tune
    for i in range(3):
        tune.report({"iteration": i, "value": config["i"]})
