"""Shared fixtures of the evaluator tests: the 5,000 bundled digits and one classifier."""
from __future__ import annotations

from pathlib import Path

import pytest

from evaluator.classifier import train_classifier
from models.data import MnistData, load_mnist


@pytest.fixture(scope="session")
def mnist_5k() -> MnistData:
    return load_mnist("mnist-5k")


@pytest.fixture(scope="session")
def classifier_5k(mnist_5k, tmp_path_factory) -> tuple[Path, dict, list[str]]:
    """(folder, manifest, log lines) of a ConvNet trained for one epoch on mnist-5k, with
    its FD reference and full-size probes (~40 s on 2 CPU cores). Do not modify it: copy
    the folder first."""
    out = tmp_path_factory.mktemp("classifier_5k")
    lines: list[str] = []
    manifest = train_classifier(mnist_5k, out, epochs=1, seed=0, device="cpu", log=lines.append)
    return out, manifest, lines
