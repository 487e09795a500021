"""One trial without Ray: train a configuration, score it, store its files.

Shared by the Ray Tune trainable (``sweep/trainable.py``) and ``sweep train-one``.
"""
from __future__ import annotations

import io
import json
import tempfile
from pathlib import Path
from typing import Any

import torch

from evaluator.sampling import score_generator
from models.samples import sample_images, save_sample_grid
from models.train import train
from sweep import storage
from sweep.config import trial_key

PROGRESS_EVERY = 200  # iterations between live reports to Tune and the dashboard
SAMPLE_GRID = 64
SAMPLE_SEED_OFFSET = 10_000  # sample-grid noise differs from the scoring noise
OBJECTIVE = "objective"  # what searchers maximise: the score, or 0 (a collapsed I) if none


def trial_location(root: str, key: str) -> str:
    return storage.join(root, "trials", key)


def run_configuration(trial: dict[str, Any], images: torch.Tensor, classifier: torch.nn.Module,
                      *, classifier_sha256: str, data_source: str, score_samples: int,
                      device: torch.device, progress=None
                      ) -> tuple[dict[str, Any], torch.nn.Module, dict[str, Any]]:
    """Train one configuration and score it: (final result, generator, training record)."""
    result = train(trial, images, device=device, progress=progress,
                   progress_every=PROGRESS_EVERY)
    record = result.record
    final: dict[str, Any] = {
        "final": True, "trial_key": trial_key(trial), "status": record.status, "score": None,
        "class_histogram": None, "iterations_done": record.iterations_done,
        "iterations_planned": record.iterations_planned, "diverged_at": record.diverged_at,
        "loss_d": record.final_losses.get("loss_d"), "loss_g": record.final_losses.get("loss_g"),
        "train_time_s": record.wall_time_s, "ms_per_iteration": record.ms_per_iteration,
        "score_time_s": 0.0, "data_source": data_source,
        "classifier_sha256": classifier_sha256, "device": record.device,
    }
    if record.status == "ok":
        classifier.to(device).eval()
        scored = score_generator(result.generator, classifier, z_dim=int(trial["z_dim"]),
                                 n_samples=score_samples, seed=int(trial["seed"]),
                                 device=device, classifier_sha256=classifier_sha256)
        final.update(score=scored.score, class_histogram=json.dumps(scored.class_histogram),
                     score_time_s=scored.seconds)
    final["wall_time_s"] = final["train_time_s"] + final["score_time_s"]
    final[OBJECTIVE] = final["score"] if final["score"] is not None else 0.0
    return final, result.generator, record.to_dict()


def store_files(trial: dict, final: dict, generator: torch.nn.Module, record: dict,
                location: str) -> None:
    """config.json, record.json, samples.png and generator.pt into the trial's folder."""
    with tempfile.TemporaryDirectory() as tmp:
        tmp_dir = Path(tmp)
        (tmp_dir / "config.json").write_text(json.dumps(
            {**trial, "trial_key": final["trial_key"], "data_source": final["data_source"],
             "classifier_sha256": final["classifier_sha256"]}, indent=2, sort_keys=True))
        (tmp_dir / "record.json").write_text(json.dumps(
            {**record, **{k: final.get(k) for k in ("score", "class_histogram", "node")}},
            indent=2, sort_keys=True, default=str))
        if final["status"] == "ok":
            samples = sample_images(generator, SAMPLE_GRID, int(trial["z_dim"]),
                                    seed=int(trial["seed"]) + SAMPLE_SEED_OFFSET)
            save_sample_grid(samples.cpu(), tmp_dir / "samples.png")
            buffer = io.BytesIO()
            torch.save({k: v.cpu() for k, v in generator.state_dict().items()}, buffer)
            (tmp_dir / "generator.pt").write_bytes(buffer.getvalue())
        storage.upload_dir(tmp_dir, location)
