"""The grid's scoring classifier: loaded, or trained once when there is none.

A classifier that exists but is corrupt is reported (ClassifierError), never silently
replaced: scores made with the old one would stop being comparable. A classifier trained
by an earlier version (no FD reference, no probes) gets both added, its weights untouched.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from evaluator import classifier as clf_mod
from sweep.config import SweepConfig, classifier_dir
from sweep.run.driver.time_estimate import format_duration


@dataclass(frozen=True)
class Classifier:
    """What the trials need of the classifier (it travels in the payload)."""
    state: dict                # ConvNet state_dict, on the CPU
    args: dict                 # ConvNet constructor arguments
    manifest: dict
    sha256: str
    reference: Any             # real-data feature statistics for the FD, or None
    trained_s: float | None    # seconds it took to train it in this run, if it was


def ensure_classifier(cfg: SweepConfig, data: Any, *, log=print) -> Classifier:
    folder = classifier_dir(cfg, data.source)
    trained_s = None
    if not (folder / clf_mod.MANIFEST_FILE).exists():
        guess = clf_mod.estimate_training_seconds(len(data.train_images))
        log(f"[classifier] none in {folder}: training one on {data.source} "
            f"({len(data.train_images):,} images) before the first trial: about "
            f"{format_duration(guess)} (the grid's plan and estimate follow)")
        t0 = time.perf_counter()
        clf_mod.train_classifier(data, folder, log=log)
        trained_s = time.perf_counter() - t0
    model, manifest = clf_mod.load_classifier(folder)
    if not manifest.get("probes") or not manifest.get("real_features_file"):
        log(f"[classifier] {folder} predates the FD metric: adding the real-data feature "
            "statistics and the probes (its weights are unchanged)")
        clf_mod.add_fd_reference(folder, data, log=log)
        model, manifest = clf_mod.load_classifier(folder)
    if manifest.get("data_source") != data.source:
        log(f"[classifier] note: trained on {manifest.get('data_source')}, the grid trains on "
            f"{data.source}; scores are comparable among themselves (same classifier)")
    warn = clf_mod.noise_probe_warning(manifest)
    if warn:
        log(f"[classifier] warning: {warn}")
    reference = clf_mod.load_fd_reference(folder, manifest)
    state = {k: v.cpu() for k, v in model.state_dict().items()}
    return Classifier(state, manifest["convnet"], manifest, manifest["weights_sha256"],
                      reference, trained_s)
