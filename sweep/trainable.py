"""The Ray Tune function trainable: one trial = train one configuration, score it, store it.

The heavy shared inputs (training images, classifier weights) reach every trial through
the object store (``tune.with_parameters``), so a worker on another node needs neither the
MNIST files nor the classifier folder. The trial's files (configuration, samples, record,
generator weights) go to ``<storage>/trials/<trial key>/``, a local folder or a bucket.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from ray import tune

from evaluator.convnet import ConvNet
from sweep.trial import OBJECTIVE, run_configuration, store_files, trial_location


@dataclass(frozen=True)
class Payload:
    """What every trial shares; put in the object store once by the driver."""
    train_images: np.ndarray      # (N, 1024) float32 in [-1, 1]
    data_source: str              # "mnist" or "mnist-5k"
    classifier_state: dict        # ConvNet state_dict
    classifier_args: dict         # ConvNet constructor arguments (from its manifest)
    classifier_sha256: str
    storage_root: str             # local path or URI
    score_samples: int
    cpus_per_trial: float


def trial_of(config: dict[str, Any]) -> dict[str, Any]:
    """Grid trials arrive as {"trial": {...}}; Optuna trials as the flat settings."""
    return dict(config["trial"]) if "trial" in config else dict(config)


def node_name() -> str:
    try:
        import ray
        return ray.get_runtime_context().get_node_id()[:12]
    except Exception:  # outside Ray (tests of the pieces)
        return "local"


def run_trial(config: dict[str, Any], payload: Payload) -> None:
    """Train, score, store; report live progress and one final result to Ray Tune."""
    trial = trial_of(config)
    # Concurrent trials share the machine: each uses only the CPUs it was given.
    torch.set_num_threads(max(1, int(math.floor(payload.cpus_per_trial))))
    if trial.get("inject_error"):
        raise RuntimeError("injected error (inject_error: true, a test-only setting)")
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")

    def progress(iteration: int, losses: dict[str, float]) -> None:
        tune.report({"iteration": iteration, **losses, "final": False, OBJECTIVE: 0.0})

    classifier = ConvNet(**payload.classifier_args)
    classifier.load_state_dict(payload.classifier_state)
    images = torch.from_numpy(np.array(payload.train_images, copy=True))  # (N, 1024)
    final, generator, record = run_configuration(
        trial, images, classifier, classifier_sha256=payload.classifier_sha256,
        data_source=payload.data_source, score_samples=payload.score_samples,
        device=device, progress=progress)
    final.update(node=node_name(), trial_dir=trial_location(payload.storage_root,
                                                             final["trial_key"]))
    store_files(trial, final, generator, record, final["trial_dir"])
    tune.report(final)


def with_payload(payload: Payload, resources: dict[str, float]) -> Any:
    """The trainable Ray Tune runs: shared inputs in the object store, resources attached."""
    trainable = tune.with_parameters(run_trial, payload=payload)
    return tune.with_resources(trainable, resources)
