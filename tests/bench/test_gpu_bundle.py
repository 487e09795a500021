"""The GPU check's data bundle (`make gpu-bundle`) and the TF32 part scoring with it."""
from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import pytest
import torch

from bench import gpu_common as common
from bench.gpu_bundle import BundleError, load_bundle, make_bundle
from bench.gpu_tf32 import run_tf32

REPO = Path(__file__).resolve().parents[2]
MNIST = Path("/work/shared/mnist")
needs_mnist = pytest.mark.skipif(not MNIST.is_dir(), reason=f"no MNIST files in {MNIST}")


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    """A bundle of full MNIST and the legacy-smoke classifier given an FD reference."""
    from evaluator.classifier import add_fd_reference
    from models.data import load_mnist

    tmp = tmp_path_factory.mktemp("bundle")
    classifier = tmp / "classifier"
    shutil.copytree(REPO / "tests/fixtures/legacy-smoke/classifier", classifier)
    add_fd_reference(classifier, load_mnist("mnist-5k"), device="cpu", log=lambda *_: None,
                     probe_samples=100)
    make_bundle(classifier, tmp / "gpu-bundle", mnist_root=MNIST)
    return tmp / "gpu-bundle"


@needs_mnist
def test_bundle_holds_mnist_and_the_classifier_checked(bundle):
    manifest = json.loads((bundle / "manifest.json").read_text())
    assert manifest["digits"] == {"train": 60_000, "test": 10_000}
    assert manifest["fd_reference"] is True and manifest["classifier_data_source"] == "mnist-5k"
    assert set(manifest["files"]) == {"mnist.npz", "classifier/manifest.json",
                                      "classifier/convnet.pt", "classifier/real_features.npz"}
    b = load_bundle(bundle)
    assert b.train_images.shape == (60_000, 1024) and b.test_images.shape == (10_000, 1024)
    assert b.train_images.min() == -1.0 and b.train_images.max() == 1.0   # 0 -> -1, 255 -> 1
    assert b.test_labels.bincount().tolist()[:2] == [980, 1135]          # MNIST's test set
    size = sum(f["bytes"] for f in manifest["files"].values())
    assert size < 20 * 2**20                                            # travels with the tree


@needs_mnist
def test_a_changed_file_is_refused(bundle, tmp_path):
    copy = tmp_path / "b"
    shutil.copytree(bundle, copy)
    weights = copy / "classifier" / "convnet.pt"
    raw = bytearray(weights.read_bytes())
    raw[len(raw) // 2] ^= 0xFF                                          # one byte flipped
    weights.write_bytes(bytes(raw))
    with pytest.raises(BundleError, match="convnet.pt does not match its SHA-256"):
        load_bundle(copy)
    (copy / "mnist.npz").unlink()
    with pytest.raises(BundleError, match="mnist.npz is missing"):
        load_bundle(copy)
    with pytest.raises(BundleError, match="make gpu-bundle"):
        load_bundle(tmp_path / "nothing")
    images, data = common.load_images(str(tmp_path / "nothing"), 64)
    assert data["mode"] == "synthetic" and "no bundle at" in data["why"]
    assert images.shape == (64, 1024) and -1 <= images.min() and images.max() <= 1


@needs_mnist
def test_tf32_part_scores_i_and_fd_with_the_bundle(bundle):
    images, data = common.load_images(str(bundle), 64)
    assert data["mode"] == "bundle" and data["fd_reference"]
    budget = dataclasses.replace(common.CPU, tf32_iterations=3, tf32_seeds=2, score_samples=100)
    part = common.Part("tf32", 600, log=lambda *a, **k: None)
    run_tf32(part, budget, images[:512], torch.device("cpu"), data, scale=16)
    assert part.info["compares"] == "I and FD"
    scored = [r for r in part.rows if r.get("quantity") in ("I", "FD")]
    assert [r["quantity"] for r in scored] == ["I", "FD"] * 3
    # On the CPU the TF32 switch does nothing: the two arms are the same runs.
    assert all(r["fp32"] == r["tf32"] and r["delta_mean"] == 0 for r in scored)
    assert all(r["fp32_spread"] > 0 and r["fp32_mean"] >= 0 for r in scored)
