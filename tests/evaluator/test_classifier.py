"""Training, saving and loading the scoring classifier; its manifest guards every score."""
import hashlib
import json
import shutil

import numpy as np
import pytest
import torch

from evaluator.classifier import (MANIFEST_FILE, REFERENCE_FILE, WEIGHTS_FILE, ClassifierError,
                                  add_fd_reference, default_epochs, eta_seconds,
                                  load_classifier, load_fd_reference, train_classifier)
from evaluator.sampling import classify_log_probs
from evaluator.score import modified_inception_score
from models.data import MnistData

N_TRAIN, N_TEST = 512, 200
PROBE_N = 200  # images per probe: enough to exercise them, quick


@pytest.fixture(scope="module")
def small(mnist_5k) -> MnistData:
    d = mnist_5k
    return MnistData(d.train_images[:N_TRAIN], d.train_labels[:N_TRAIN],
                     d.test_images[:N_TEST], d.test_labels[:N_TEST], d.source)


@pytest.fixture(scope="module")
def trained(small, tmp_path_factory):
    out = tmp_path_factory.mktemp("classifier")
    manifest = train_classifier(small, out, epochs=1, seed=0, device="cpu", log=lambda s: None,
                                probe_samples=PROBE_N)
    return out, manifest


@pytest.fixture
def copy_of(trained, tmp_path):
    """A private copy of the trained classifier folder, free to damage."""
    out = tmp_path / "c"
    shutil.copytree(trained[0], out)
    return out


def test_manifest_records_what_made_the_classifier(trained, small):
    out, m = trained
    assert json.loads((out / MANIFEST_FILE).read_text()) == m
    assert m["data_source"] == "mnist-5k"
    assert (m["n_train"], m["n_test"], m["epochs"], m["seed"]) == (N_TRAIN, N_TEST, 1, 0)
    assert m["weights_sha256"] == hashlib.sha256((out / WEIGHTS_FILE).read_bytes()).hexdigest()
    assert m["real_features_file"] == REFERENCE_FILE and m["real_features_n"] == N_TEST
    reference_sha = hashlib.sha256((out / REFERENCE_FILE).read_bytes()).hexdigest()
    assert m["real_features_sha256"] == reference_sha
    cm = torch.tensor(m["confusion_matrix"])
    assert cm.shape == (10, 10) and int(cm.sum()) == N_TEST
    assert m["test_accuracy"] == pytest.approx(int(cm.trace()) / N_TEST, abs=1e-12)
    for c in range(10):
        assert m["per_class_accuracy"][c] == pytest.approx(float(cm[c, c] / cm[c].sum()))
    assert m["real_data_score"] > 0
    assert m["torch_version"] == torch.__version__ and m["created"]
    # Files were written through temporary names and renamed: none is left behind.
    assert sorted(p.name for p in out.iterdir()) == sorted([MANIFEST_FILE, WEIGHTS_FILE,
                                                            REFERENCE_FILE])


def test_load_round_trip(trained, small):
    out, m = trained
    model, manifest = load_classifier(out)
    again, _ = load_classifier(out, device="cpu")
    assert manifest == m and not model.training
    x = small.test_images                                           # (200, 1, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(model(x), again(x), rtol=0, atol=0)
    # The loaded weights are the trained ones: they reproduce the recorded accuracy and score.
    log_probs = classify_log_probs(model, x)                        # (200, 10)
    acc = (log_probs.argmax(1) == small.test_labels).double().mean().item()
    assert acc == pytest.approx(m["test_accuracy"], abs=1e-12)
    assert modified_inception_score(log_probs) == pytest.approx(m["real_data_score"], rel=1e-6)


def test_same_seed_same_weights_flat_or_not(trained, small, tmp_path):
    # One seed fixes everything; flattened images (what the GANs use) train identically.
    flat = MnistData(small.train_images.flatten(1), small.train_labels,
                     small.test_images.flatten(1), small.test_labels, small.source)
    m = train_classifier(flat, tmp_path, epochs=1, seed=0, device="cpu", log=lambda s: None,
                         probe_samples=PROBE_N)
    assert m["weights_sha256"] == trained[1]["weights_sha256"]
    assert m["probes"] == trained[1]["probes"]


def test_eta_seconds():
    # 30 s for the first 10 of 40 steps: 30 steps left at 3 s each.
    assert eta_seconds(30.0, 10, 40) == pytest.approx(90.0)
    assert eta_seconds(30.0, 40, 40) == 0.0 and eta_seconds(0.0, 0, 40) == 0.0


def test_progress_lines_say_elapsed_and_time_left(classifier_5k):
    lines = [line for line in classifier_5k[2] if line.startswith("classifier epoch")]
    assert lines and lines[-1].startswith("classifier epoch 1/1: train loss")
    for line in lines:
        assert "elapsed " in line and " left)" in line, line


def strip_reference(folder):
    """Make ``folder`` look like a classifier trained before FD and probes existed."""
    m = json.loads((folder / MANIFEST_FILE).read_text())
    for key in ("real_features_file", "real_features_sha256", "real_features_n", "probes"):
        del m[key]
    (folder / MANIFEST_FILE).write_text(json.dumps(m))
    (folder / REFERENCE_FILE).unlink()


def test_old_classifier_loads_without_reference_and_can_be_upgraded(trained, copy_of, small):
    strip_reference(copy_of)
    weights = (copy_of / WEIGHTS_FILE).read_bytes()
    model, manifest = load_classifier(copy_of)
    assert load_fd_reference(copy_of) is None and "probes" not in manifest
    lines = []
    upgraded = add_fd_reference(copy_of, small, device="cpu", log=lines.append,
                                probe_samples=PROBE_N)
    # The weights and their checksum are untouched; the reference and probes are back.
    assert (copy_of / WEIGHTS_FILE).read_bytes() == weights
    assert upgraded["weights_sha256"] == trained[1]["weights_sha256"]
    assert json.loads((copy_of / MANIFEST_FILE).read_text()) == upgraded
    assert load_classifier(copy_of)[1] == upgraded
    ref, fresh = load_fd_reference(copy_of), load_fd_reference(trained[0])
    np.testing.assert_allclose(ref.cov, fresh.cov, rtol=1e-9, atol=1e-12)
    for p, q in zip(upgraded["probes"], trained[1]["probes"]):
        assert p["name"] == q["name"] and p["n"] == q["n"]
        assert p["score"] == pytest.approx(q["score"], rel=1e-6)
        assert p["fd"] == pytest.approx(q["fd"], rel=1e-6, abs=1e-9)
    assert any("probe" in line for line in lines)


def test_upgrade_refuses_other_data(copy_of, mnist_5k):
    strip_reference(copy_of)
    with pytest.raises(ValueError, match="test set"):
        add_fd_reference(copy_of, mnist_5k, device="cpu", log=lambda s: None)
    assert not (copy_of / REFERENCE_FILE).exists()


def test_default_epochs():
    # Full MNIST: 3 passes; the 4,000-digit subset: 15 passes, the same 60,000 examples seen.
    assert default_epochs(60_000) == 3 and default_epochs(4_000) == 15 and default_epochs(10) == 20


def test_flipped_byte_is_refused(copy_of):
    path = copy_of / WEIGHTS_FILE
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    path.write_bytes(bytes(raw))
    with pytest.raises(ClassifierError) as err:
        load_classifier(copy_of)
    assert str(path) in str(err.value) and "make classifier" in str(err.value)
    assert "SHA-256" in str(err.value)


def test_missing_manifest_is_refused(copy_of):
    (copy_of / MANIFEST_FILE).unlink()
    with pytest.raises(ClassifierError, match="make classifier") as err:
        load_classifier(copy_of)
    assert str(copy_of / MANIFEST_FILE) in str(err.value)


def test_missing_weights_are_refused(copy_of):
    (copy_of / WEIGHTS_FILE).unlink()
    with pytest.raises(ClassifierError, match="make classifier") as err:
        load_classifier(copy_of)
    assert str(copy_of / WEIGHTS_FILE) in str(err.value)


def test_edited_manifest_sha_is_refused(copy_of):
    path = copy_of / MANIFEST_FILE
    m = json.loads(path.read_text())
    m["weights_sha256"] = "0" * 64
    path.write_text(json.dumps(m))
    with pytest.raises(ClassifierError, match="0{64}"):
        load_classifier(copy_of)


def test_unreadable_manifest_is_refused(copy_of):
    (copy_of / MANIFEST_FILE).write_text("{not json")
    with pytest.raises(ClassifierError, match="unreadable"):
        load_classifier(copy_of)


def test_weights_that_do_not_unpickle_are_refused(copy_of):
    # Garbage whose SHA-256 the manifest agrees with: torch.load(weights_only=True) fails.
    path, garbage = copy_of / WEIGHTS_FILE, b"not a checkpoint"
    path.write_bytes(garbage)
    m = json.loads((copy_of / MANIFEST_FILE).read_text())
    m["weights_sha256"] = hashlib.sha256(garbage).hexdigest()
    (copy_of / MANIFEST_FILE).write_text(json.dumps(m))
    with pytest.raises(ClassifierError, match="do not load"):
        load_classifier(copy_of)


@pytest.mark.slow
def test_reaches_target_accuracy_on_the_5k_subset(mnist_5k, tmp_path):
    # SPEC: >= 99% on full MNIST; on the 4,000 / 1,000 offline subset the project asks 97.5%.
    m = train_classifier(mnist_5k, tmp_path, seed=0, device="cpu", log=lambda s: None,
                         probe_samples=PROBE_N)
    assert (m["n_train"], m["n_test"]) == (4000, 1000)
    assert m["test_accuracy"] >= 0.975


def test_the_training_time_is_estimated_before_training():
    """`sweep grid` says how long the classifier will take before it trains it."""
    from evaluator.classifier import estimate_training_seconds
    one = estimate_training_seconds(4000, epochs=1, steps=2)
    assert 0 < one < 600
