"""The Ray Tune trainable: one trial = one unit (a configuration or a pack), trained,
checkpointed, scored and stored.

The heavy shared inputs (training images, classifier weights, the FD reference) reach
every trial through the object store (``tune.with_parameters``), so a worker on another
node needs neither the MNIST files nor the classifier folder. Progress goes to Ray Tune
(live metrics, TensorBoard), to the worker's log (one line per report, shown by the Ray
dashboard for that actor) and, with checkpoints, to the experiment's storage.
"""
from __future__ import annotations

import json
import math
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from ray import tune
from ray.tune.trainable.function_trainable import wrap_function

from evaluator.convnet import ConvNet
from models.train import default_device
from sweep.run.records import checkpoints
from sweep.run.records.results import OBJECTIVE, TrialResult
from sweep.run.scheduling.units import Unit
from sweep.run.worker.rung_loop import Rungs, Schedule, rung_scorer
from sweep.run.worker.unit_runner import (Hooks, Scorer, finish_unit, make_trainer, results_of,
                                          train_unit)


@dataclass(frozen=True)
class Payload:
    """What every trial shares; put in the object store once by the driver."""
    train_images: np.ndarray      # (N, 1024) float32 in [-1, 1]
    data_source: str              # "mnist" or "mnist-5k"
    classifier_state: dict        # ConvNet state_dict
    classifier_args: dict         # ConvNet constructor arguments (from its manifest)
    classifier_sha256: str
    fd_reference: Any             # real-data feature statistics for the FD, or None
    storage_root: str             # local path or URI
    score_samples: int
    cpus_per_trial: float
    checkpoint_every_s: float
    rung_samples: int = 2000      # samples scoring a generator at a rung
    schedules: dict[str, Schedule] | None = None  # scheduled families (sweep.yaml `scheduler:`)
    board: Any = None             # the rung board's actor handle, when a family is scheduled


def node_name() -> str:
    try:
        import ray
        return ray.get_runtime_context().get_node_id()[:12]
    except Exception:  # outside Ray (tests of the pieces)
        return "local"


def _log(unit: Unit, message: str) -> None:
    """One line in this worker's log (the Ray dashboard shows it for the trial's actor)."""
    print(f"[{unit.label}] {message}", flush=True)


def _metrics(unit: Unit, it: int, values: list[dict[str, float]], start: int) -> dict[str, Any]:
    """Live metrics: one TensorBoard run per trial; a pack's members as '<key>/loss_d'."""
    out: dict[str, Any] = {"iteration": it, "timesteps_total": it, "attempt_start": start,
                           "final": False, OBJECTIVE: 0.0}
    if not unit.is_pack:
        out.update(values[0])
    else:
        for member, v in zip(unit.members, values):
            out.update({f"{member.key}/{q}": x for q, x in v.items()})
    return out


def _resume_state(unit: Unit) -> tuple[dict | None, str | None]:
    """The newest usable checkpoint: this run's (a retried trial), else an earlier run's."""
    sources: list[tuple[str, Callable[[], dict]]] = []
    ckpt = tune.get_checkpoint()
    if ckpt is not None:
        def from_tune() -> dict:
            with ckpt.as_directory() as folder:
                return checkpoints.read_state(folder, unit.unit_id)
        sources.append((f"the retried trial's checkpoint {ckpt.path}", from_tune))
    if unit.resume_from:
        sources.append((f"the earlier run's checkpoint {unit.resume_from}",
                        lambda: checkpoints.read_state(unit.resume_from, unit.unit_id)))
    notes = []
    for label, load in sources:
        try:
            return load(), ("; ".join(notes) or None)
        except checkpoints.CheckpointError as bad:
            notes.append(str(bad))
            _log(unit, f"warning: cannot resume from {label}: {bad}")
    if notes:
        _log(unit, "starting from scratch")
    return None, ("; ".join(notes) + "; restarted from scratch") if notes else None


def run_trial(config: dict[str, Any], payload: Payload, hooks: Hooks | None = None) -> None:
    """Train a unit (resuming from its checkpoint), score, store; report to Ray Tune."""
    unit = Unit.from_config(config)
    # Concurrent trials share the machine: each uses only the CPUs it was given.
    torch.set_num_threads(max(1, int(math.floor(payload.cpus_per_trial))))
    device = default_device()
    images = torch.from_numpy(np.array(payload.train_images, copy=True))  # (N, 1024)
    trainer = make_trainer(unit, images, device)
    state, note = _resume_state(unit)
    if state is not None:
        trainer.load_state_dict(state)
    _log(unit, f"{unit.describe()} on {device}: "
               + (f"resumed at iteration {trainer.iteration:,}" if state else "started")
               + f", {trainer.total:,} iterations planned")
    policy = checkpoints.CheckpointPolicy(payload.checkpoint_every_s)
    last: dict[str, Any] = {"iteration": trainer.iteration, "final": False, OBJECTIVE: 0.0}
    classifier = ConvNet(**payload.classifier_args)
    classifier.load_state_dict(payload.classifier_state)
    scorer = Scorer(classifier, payload.classifier_sha256, payload.score_samples,
                    payload.data_source, payload.fd_reference)
    rungs = _rungs(unit, payload, scorer, device, state)

    def progress(it: int, values: list[dict[str, float]]) -> None:
        last.clear()
        last.update(_metrics(unit, it, values, trainer.attempts[-1]))
        tune.report(dict(last))
        shown = ", ".join(f"{q} {x:.4f}" for q, x in values[0].items() if q != "iteration")
        _log(unit, f"iteration {it:,}/{trainer.total:,}: {shown}"
                   + (f" (first of {len(values)} members)" if unit.is_pack else ""))

    def save(tr: Any) -> None:
        t0 = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix="ckpt-") as tmp:
            state = tr.state_dict()
            if rungs is not None:
                state["rungs"] = rungs.state()  # a resumed trial keeps its rung results
            checkpoints.write_state(state, Path(tmp), unit.unit_id)
            tune.report({**last, "checkpoint_iteration": tr.iteration},
                        checkpoint=tune.Checkpoint.from_directory(tmp))
        policy.saved(time.perf_counter() - t0)

    def at_rung(metrics: dict[str, Any]) -> None:
        tune.report({**last, **metrics})
        stopped = [m.key for k, m in enumerate(unit.members)
                   if trainer.record(k).stopped_at == metrics["rung_iteration"]]
        _log(unit, f"rung at iteration {metrics['rung_iteration']:,}: "
                   + (f"stopped {' '.join(stopped)}" if stopped else "every member scored continues"))

    train_unit(trainer, progress=progress, checkpoint=save, due=policy.due, hooks=hooks,
               rungs=rungs, at_rung=at_rung)
    results = finish_unit(unit, results_of(trainer), scorer, device=device,
                          storage_root=payload.storage_root, node=node_name(), note=note,
                          rungs=rungs)
    _log(unit, "finished: " + ", ".join(f"{m.key} {r.status} I={r.score}"
                                        for m, r in zip(unit.members, results)))
    tune.report(final_report(results))


def _rungs(unit: Unit, payload: Payload, scorer: Scorer, device: torch.device,
           state: dict | None) -> Rungs | None:
    """The unit's rung loop, if a member's family is scheduled; its rung results from the
    checkpoint, handed to the board as well (idempotent: the board keeps what it knows)."""
    if payload.board is None or not any(m.family in (payload.schedules or {})
                                        for m in unit.members):
        return None

    score = rung_scorer(unit, scorer.classifier, scorer.reference, payload.rung_samples, device)
    rungs = Rungs(unit, payload.schedules or {}, payload.board, score)
    if state is not None:
        rungs.load(state.get("rungs"))
        rungs.tell_board()
    return rungs


def final_report(results: list[TrialResult]) -> dict[str, Any]:
    """The last report: every member's result (as JSON text, which no logger tries to plot)."""
    return {"final": True, "results": json.dumps([r.to_dict() for r in results]),
            OBJECTIVE: max(r.objective for r in results)}


REUSED_REPR = "sweep trials (a reused worker: its log names the trial it runs)"


def make_trainable(payload: Payload, resources: dict[str, float],
                   fn: Callable[..., None] = run_trial, *, reused: bool = False) -> type:
    """The Tune trainable: ``fn(config, payload)`` as an actor class whose repr (what the
    Ray dashboard shows for the actor) is the configuration it trains. Ray takes the repr
    once, when the actor starts: a reused actor (``reused``) says so instead."""
    base = wrap_function(tune.with_parameters(fn, payload=payload))

    class SweepTrial(base):  # type: ignore[misc, valid-type]
        def __repr__(self) -> str:
            if reused:
                return REUSED_REPR
            try:
                return Unit.from_config(self.config).describe()
            except Exception:  # no config yet: Tune's placeholder actor
                return "sweep trial"

    trainable = tune.with_resources(SweepTrial, resources)
    trainable.__name__ = trainable.__qualname__ = "SweepTrial"  # the dashboard's Class column
    return trainable
