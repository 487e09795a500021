"""The Frechet distance (Heusel et al. 2017) in the ConvNet's feature space: hand-derived
values, its invariances, real against noise, and the checksummed reference file."""
import shutil

import numpy as np
import pytest
import scipy.linalg
import torch

from evaluator.classifier import ClassifierError, load_classifier, load_fd_reference
from evaluator.classifier_files import REFERENCE_FILE
from evaluator.frechet import FeatureStats, feature_statistics, frechet_distance, psd_sqrt
from evaluator.sampling import classify_features


def gaussian(mean, cov) -> FeatureStats:
    return FeatureStats(np.asarray(mean, float), np.asarray(cov, float), n=100)


def random_cov(rng: np.random.Generator, d: int, rank: int) -> np.ndarray:
    x = rng.standard_normal((rank, d))
    return x.T @ x / rank                                            # (d, d) PSD, rank <= rank


def test_diagonal_gaussians_closed_form():
    # With diagonal covariances a and b the matrices commute, (C1 C2)^{1/2} = diag(sqrt(a b)),
    # and FD = |mu1 - mu2|^2 + sum (sqrt(a_i) - sqrt(b_i))^2:
    #   mu1 = (0, 0, 0), mu2 = (1, 2, 2):          |mu1 - mu2|^2 = 1 + 4 + 4 = 9
    #   a = (1, 4, 9), b = (4, 4, 1): (1 - 2)^2 + (2 - 2)^2 + (3 - 1)^2 = 1 + 0 + 4 = 5
    #   FD = 14.
    a = gaussian([0, 0, 0], np.diag([1.0, 4.0, 9.0]))
    b = gaussian([1, 2, 2], np.diag([4.0, 4.0, 1.0]))
    assert frechet_distance(a, b) == pytest.approx(14.0, abs=1e-10)
    # One dimension: N(0, 4) vs N(3, 1): 3^2 + (2 - 1)^2 = 10.
    assert frechet_distance(gaussian([0], [[4.0]]), gaussian([3], [[1.0]])) == pytest.approx(10.0)


def test_rotation_leaves_the_distance_unchanged():
    # Rotating both Gaussians by one orthogonal Q changes no distance: the same pair as
    # above, now with full (non-diagonal) covariances, is still at FD = 14.
    q, _ = np.linalg.qr(np.random.default_rng(0).standard_normal((3, 3)))
    a = gaussian(q @ [0, 0, 0], q @ np.diag([1.0, 4.0, 9.0]) @ q.T)
    b = gaussian(q @ [1, 2, 2], q @ np.diag([4.0, 4.0, 1.0]) @ q.T)
    assert abs(a.cov[0, 1]) > 0.1
    assert frechet_distance(a, b) == pytest.approx(14.0, abs=1e-9)


def test_non_commuting_covariances_match_scipy_sqrtm():
    rng = np.random.default_rng(1)
    c1, c2 = random_cov(rng, 20, 50), random_cov(rng, 20, 50)
    assert not np.allclose(c1 @ c2, c2 @ c1)
    a, b = gaussian(rng.standard_normal(20), c1), gaussian(rng.standard_normal(20), c2)
    diff = a.mean - b.mean
    expected = (diff @ diff + np.trace(c1) + np.trace(c2)
                - 2 * np.trace(scipy.linalg.sqrtm(c1 @ c2)).real)
    assert frechet_distance(a, b) == pytest.approx(expected, rel=1e-9)
    assert frechet_distance(b, a) == pytest.approx(expected, rel=1e-9)  # symmetric
    np.testing.assert_allclose(psd_sqrt(c1) @ psd_sqrt(c1), c1, atol=1e-10)


def test_identical_statistics_are_at_zero():
    rng = np.random.default_rng(2)
    for n in (500, 30):  # full rank, and rank-deficient (n < D) as a small test set gives
        s = feature_statistics(rng.standard_normal((n, 64)) ** 2)
        assert frechet_distance(s, s) == pytest.approx(0.0, abs=1e-9 * np.trace(s.cov))


def test_statistics_match_numpy_and_ignore_order():
    rng = np.random.default_rng(3)
    f = np.maximum(rng.standard_normal((400, 32)), 0)                   # (400, 32) ReLU-like
    s = feature_statistics(torch.from_numpy(f).float())
    assert s.n == 400 and s.mean.dtype == s.cov.dtype == np.float64
    np.testing.assert_allclose(s.mean, f.mean(0), atol=1e-7)
    np.testing.assert_allclose(s.cov, np.cov(f, rowvar=False), atol=1e-7)
    shuffled = feature_statistics(f[rng.permutation(400)])
    np.testing.assert_allclose(shuffled.cov, feature_statistics(f).cov, rtol=0, atol=1e-12)
    other = feature_statistics(rng.standard_normal((300, 32)))
    assert frechet_distance(other, shuffled) == pytest.approx(
        frechet_distance(other, feature_statistics(f)), rel=1e-10)


def test_bad_inputs_are_refused():
    with pytest.raises(ValueError, match="N >= 2"):
        feature_statistics(np.zeros((1, 4)))
    with pytest.raises(ValueError, match="NaN"):
        feature_statistics(np.full((3, 4), np.nan))
    with pytest.raises(ValueError, match="dimensions differ"):
        frechet_distance(gaussian([0, 0], np.eye(2)), gaussian([0], [[1.0]]))
    with pytest.raises(ValueError, match="covariance"):
        FeatureStats(np.zeros(2), np.eye(3), 5)


def features_of(model, images) -> FeatureStats:
    return feature_statistics(classify_features(model, images)[1])


def test_real_digits_are_close_and_noise_is_far(classifier_5k, mnist_5k):
    folder, manifest, _ = classifier_5k
    model, _ = load_classifier(folder)
    reference = load_fd_reference(folder)                           # the 1,000 test digits
    assert reference.n == manifest["n_test"] == 1000 and reference.mean.shape == (1024,)
    # The stored statistics are those of the test set's features.
    again = features_of(model, mnist_5k.test_images)
    np.testing.assert_allclose(reference.cov, again.cov, rtol=1e-9, atol=1e-9)
    real = frechet_distance(reference, features_of(model, mnist_5k.train_images[:3000]))
    gen = torch.Generator().manual_seed(0)
    noise = torch.rand(3000, 1, 32, 32, generator=gen) * 2 - 1       # (3000, 1, 32, 32)
    far = frechet_distance(reference, features_of(model, noise))
    spread = float(np.trace(reference.cov))  # the FD of the test set to a point mass at its mean
    assert real < 0.1 * spread
    assert far > 10 * real


def test_reference_file_checksum_is_enforced(classifier_5k, tmp_path):
    folder = tmp_path / "c"
    shutil.copytree(classifier_5k[0], folder)
    path = folder / REFERENCE_FILE
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    path.write_bytes(bytes(raw))
    for load in (load_classifier, load_fd_reference):
        with pytest.raises(ClassifierError, match="make classifier") as err:
            load(folder)
        assert str(path) in str(err.value) and "SHA-256" in str(err.value)
    path.unlink()
    for load in (load_classifier, load_fd_reference):
        with pytest.raises(ClassifierError, match="make classifier") as err:
            load(folder)
        assert str(path) in str(err.value)
