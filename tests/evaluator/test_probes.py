"""The classifier's fixed probes (I and FD of known inputs) and the noise-probe warning."""
import math

import pytest
import torch

from evaluator.probes import (NOISE_PROBE_THRESHOLD, NOISE_PROBES, PROBE_SAMPLES,
                              noise_probe_warning, probe_images)
from models.data import MnistData

NAMES = ["uniform noise", "sparse salt noise 0.05", "sparse salt noise 0.1", "one class",
         "blurred digits", "noisy digits", "real train digits", "real test digits"]


def test_fresh_manifest_holds_every_probe(classifier_5k, mnist_5k):
    _, manifest, lines = classifier_5k
    probes = manifest["probes"]
    assert [p["name"] for p in probes] == NAMES
    for p in probes:
        assert set(p) == {"name", "description", "score", "fd", "n"} and p["description"]
        assert math.isfinite(p["score"]) and p["score"] >= 0
        assert math.isfinite(p["fd"]) and p["fd"] >= 0
    by_name = {p["name"]: p for p in probes}
    n_ones = int((mnist_5k.test_labels == 1).sum())
    expected_n = [PROBE_SAMPLES] * 3 + [n_ones] + [1000] * 2 + [4000, 1000]
    assert [by_name[n]["n"] for n in NAMES] == expected_n
    # The test digits are the reference: FD 0, and I is the manifest's real-data score.
    assert by_name["real test digits"]["fd"] == pytest.approx(0.0, abs=1e-6)
    assert by_name["real test digits"]["score"] == pytest.approx(manifest["real_data_score"],
                                                                 rel=1e-9)
    # Even a one-epoch classifier puts real training digits far closer than noise.
    assert by_name["real train digits"]["fd"] < by_name["uniform noise"]["fd"] / 5
    assert any(line.startswith("classifier probe 'uniform noise'") for line in lines)


def test_probe_images_are_seeded_and_in_range(mnist_5k):
    small = MnistData(mnist_5k.train_images[:300], mnist_5k.train_labels[:300],
                      mnist_5k.test_images[:200], mnist_5k.test_labels[:200], "mnist-5k")
    first = list(probe_images(small, n=100, seed=5))
    again = list(probe_images(small, n=100, seed=5))
    other = list(probe_images(small, n=100, seed=6))
    assert [name for name, _, _ in first] == NAMES
    for (name, _, x), (_, _, y), (_, _, z) in zip(first, again, other):
        assert x.dim() == 4 and x.shape[1:] == (1, 32, 32), name
        assert torch.equal(x, y) and float(x.min()) >= -1 and float(x.max()) <= 1, name
    assert not torch.equal(first[0][2], other[0][2])
    salt = first[2][2]                                         # (100, 1, 32, 32), p = 0.1
    assert set(salt.unique().tolist()) == {-1.0, 1.0}
    assert (salt == 1).double().mean().item() == pytest.approx(0.1, abs=0.01)
    one_class = first[3][2]
    assert one_class.shape[0] == int((small.test_labels == 1).sum())
    # The box filter keeps the black border black and the mean brightness nearly so.
    blurred = first[4][2]
    assert float(blurred[:, :, 0].max()) == -1.0


def probes_with(name: str, score: float) -> dict:
    return {"probes": [{"name": n, "description": "", "score": 0.1, "fd": 1.0, "n": 10}
                       for n in NAMES if n != name]
            + [{"name": name, "description": "", "score": score, "fd": 1.0, "n": 10}]}


def test_noise_probe_warning_fires_above_the_threshold_only():
    assert NOISE_PROBES[0] == "uniform noise" and 0.7 < NOISE_PROBE_THRESHOLD < 3.16
    high = NOISE_PROBE_THRESHOLD + 1.66
    warning = noise_probe_warning(probes_with("uniform noise", high))
    assert warning is not None and "uniform noise" in warning
    assert f"{high:.2f}" in warning and str(NOISE_PROBE_THRESHOLD) in warning
    salt = noise_probe_warning(probes_with("sparse salt noise 0.1", high))
    assert "sparse salt noise 0.1" in salt
    assert noise_probe_warning(probes_with("uniform noise", NOISE_PROBE_THRESHOLD - 0.01)) is None
    # Real digits are meant to score high; a manifest older than the probes has none.
    assert noise_probe_warning(probes_with("real test digits", 11.6)) is None
    assert noise_probe_warning({"test_accuracy": 0.99}) is None
