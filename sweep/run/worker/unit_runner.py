"""One unit (a configuration, or a pack of them) without Ray: train, score, store files.

Shared by the Ray Tune trainable (``sweep/run/worker/trainable.py``) and ``sweep train-one``.
Each configuration's folder gets ``config.json`` (the settings it ran with, its data and
classifier), ``record.json`` (what the run did), ``curves.csv`` (the losses as reported),
and, when it trained to the end or a scheduler stopped it, ``samples.png`` and
``generator.pt`` (at that point): the same files whether it trained alone or in a pack.
"""
from __future__ import annotations

import csv
import io
import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch
from torch import nn

from evaluator.sampling import score_generator
from models import gpu_choices  # CUDA_GRAPH, TF32 (bench/gpu_check.py)
from models.config import TrialConfig
from models.samples import sample_images, save_sample_grid
from models.train import TrainResult, Trainer
from sweep.run.records import storage
from sweep.run.records.results import TrialResult, histogram_json
from sweep.run.scheduling.units import Unit

CURVE_POINTS = 100        # about this many reports (curve rows) per trial
MAX_REPORT_EVERY = 200    # but at least one every 200 iterations
SAMPLE_GRID = 64
SAMPLE_SEED_OFFSET = 10_000  # sample-grid noise differs from the scoring noise

Progress = Callable[[int, list[dict[str, float]]], None]


@dataclass(frozen=True)
class Scorer:
    """What scores a generator: the ConvNet, its identity, the FD reference, the sample count."""
    classifier: nn.Module
    sha256: str
    samples: int
    data_source: str
    reference: Any = None  # real-data feature statistics for the FD (None: no FD)


@dataclass
class Hooks:
    """Ways for tests and the bench to reach into a run; production runs pass none."""
    on_iteration: Callable[[int], None] | None = None  # may raise: fault injection
    checkpoint_at: frozenset[int] = field(default_factory=frozenset)  # force checkpoints


def report_every(total: int) -> int:
    """Iterations between reports: about CURVE_POINTS per trial, at most MAX_REPORT_EVERY."""
    return max(1, min(MAX_REPORT_EVERY, total // CURVE_POINTS))


def trial_location(root: str, key: str) -> str:
    return storage.join(root, "trials", key)


def make_trainer(unit: Unit, images: torch.Tensor, device: torch.device,
                 iterations: int | None = None) -> Any:
    """A Trainer for one configuration, a PackTrainer for a pack (same interface)."""
    total = unit.members[0].planned_iterations(len(images)) if iterations is None else iterations
    every = report_every(total)
    if device.type == "cuda":
        gpu_choices.set_tf32(gpu_choices.TF32)
    if unit.is_pack:
        from models.pack import PackTrainer
        return PackTrainer(list(unit.members), images, iterations=iterations, device=device,
                           report_every=every, cuda_graph=gpu_choices.CUDA_GRAPH)
    return Trainer(unit.members[0], images, iterations=iterations, device=device,
                   report_every=every)


def train_unit(trainer: Any, *, progress: Progress | None = None,
               checkpoint: Callable[[Any], None] | None = None,
               due: Callable[[], bool] | None = None, hooks: Hooks | None = None,
               rungs: Any = None, at_rung: Callable[[dict[str, Any]], None] | None = None
               ) -> None:
    """Run ``trainer`` to its end; ``checkpoint(trainer)`` whenever ``due()`` or a hook says.

    With ``rungs`` (``sweep/run/worker/rung_loop.Rungs``) it stops at each rung, scores the
    members due there, stops those the board rejects and hands ``at_rung`` the rung metrics.
    """
    hooks = hooks or Hooks()

    def on_iteration(it: int) -> None:
        if hooks.on_iteration is not None:
            hooks.on_iteration(it)
        if checkpoint is not None and not trainer.done and (
                it in hooks.checkpoint_at or (due is not None and due())):
            checkpoint(trainer)

    solo = isinstance(trainer, Trainer)
    wrapped = (lambda it, values: progress(it, [values])) if (solo and progress) else progress
    while True:
        stop = rungs.next_stop(trainer) if rungs is not None else None
        trainer.run(until=stop, progress=wrapped, on_iteration=on_iteration)
        if stop is None or trainer.done or trainer.iteration < stop:
            return
        metrics = rungs.at_rung(trainer)
        if at_rung is not None:
            at_rung(metrics)


def results_of(trainer: Any) -> list[TrainResult]:
    return [trainer.result()] if isinstance(trainer, Trainer) else trainer.results()


def finish_unit(unit: Unit, trained: list[TrainResult], scorer: Scorer, *,
                device: torch.device, storage_root: str, node: str = "local",
                location: Callable[[TrialConfig], str] | None = None,
                note: str | None = None, rungs: Any = None) -> list[TrialResult]:
    """Score every member that trained to the end and write every member's files."""
    out = []
    for k, (config, order, trained_one) in enumerate(zip(unit.members, unit.orders, trained)):
        record = trained_one.record
        result = TrialResult(
            status=record.status, iterations_done=record.iterations_done,
            iterations_planned=record.iterations_planned, iterations_run=record.iterations_run,
            attempts=list(record.attempts), checkpoint_note=note,
            diverged_at=record.diverged_at, loss_d=record.final_losses.get("loss_d"),
            loss_g=record.final_losses.get("loss_g"), train_time_s=record.wall_time_s,
            score_time_s=0.0, ms_per_iteration=record.ms_per_iteration,
            data_source=scorer.data_source, classifier_sha256=scorer.sha256,
            device=record.device, node=node, pack_id=unit.pack_id,
            pack_size=len(unit.members), order=order if order >= 0 else None,
            stopped_at=record.stopped_at)
        if rungs is not None and rungs.at[k]:
            for name, value in rungs.member(k).items():
                setattr(result, name, value)
            result.rung_time_s = rungs.seconds / len(unit.members)
        if record.status == "ok":
            scorer.classifier.to(device).eval()
            scored = score_generator(trained_one.generator, scorer.classifier,
                                     z_dim=config.z_dim, n_samples=scorer.samples,
                                     seed=config.seed, device=device,
                                     classifier_sha256=scorer.sha256, reference=scorer.reference)
            result.set_score(scored.score, scored.fd,
                             histogram_json(scored.class_histogram), scored.seconds)
        result.wall_time_s = ((result.train_time_s or 0.0) + (result.score_time_s or 0.0)
                              + (result.rung_time_s or 0.0))
        result.trial_dir = (location or (lambda c: trial_location(storage_root, c.key)))(config)
        store_files(config, result, trained_one, result.trial_dir)
        out.append(result)
    return out


def store_files(config: TrialConfig, result: TrialResult, trained: TrainResult,
                location: str) -> None:
    """config.json, record.json, curves.csv, and samples.png + generator.pt if it trained to
    the end or was stopped by a scheduler (its generator at that point)."""
    with tempfile.TemporaryDirectory() as tmp:
        tmp_dir = Path(tmp)
        (tmp_dir / "config.json").write_text(json.dumps(
            {**config.to_dict(), "trial_key": config.key, "data_source": result.data_source,
             "classifier_sha256": result.classifier_sha256}, indent=2, sort_keys=True))
        (tmp_dir / "record.json").write_text(json.dumps(
            {**trained.record.to_dict(), **{k: getattr(result, k) for k in
                                            ("score", "fd", "class_histogram", "node",
                                             "pack_id", "pack_size", "checkpoint_note")},
             **({k: getattr(result, k) for k in ("rung_score", "rung_fd", "rungs")}
                if result.rungs is not None else {})},
            indent=2, sort_keys=True, default=str))
        write_curves(trained.curve, tmp_dir / "curves.csv")
        if result.status in ("ok", "stopped"):
            samples = sample_images(trained.generator, SAMPLE_GRID, config.z_dim,
                                    seed=config.seed + SAMPLE_SEED_OFFSET)
            save_sample_grid(samples.cpu(), tmp_dir / "samples.png")
            buffer = io.BytesIO()
            torch.save({k: v.detach().cpu() for k, v in trained.generator.state_dict().items()},
                       buffer)
            (tmp_dir / "generator.pt").write_bytes(buffer.getvalue())
        storage.upload_dir(tmp_dir, location)


def write_curves(curve: list[dict[str, float]], path: Path) -> None:
    """One row per report: iteration and the mean losses (EBGAN: energies) since the last."""
    columns = list(dict.fromkeys(k for row in curve for k in row)) or ["iteration", "loss_d",
                                                                     "loss_g"]
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns)
        writer.writeheader()
        writer.writerows(curve)


def run_unit(unit: Unit, images: torch.Tensor, scorer: Scorer, *, device: torch.device,
             storage_root: str, progress: Progress | None = None, iterations: int | None = None,
             location: Callable[[TrialConfig], str] | None = None) -> list[TrialResult]:
    """Train and finish a unit in one go, no checkpoints (``sweep train-one``, tests)."""
    trainer = make_trainer(unit, images, device, iterations)
    train_unit(trainer, progress=progress)
    return finish_unit(unit, results_of(trainer), scorer, device=device,
                       storage_root=storage_root, location=location)
