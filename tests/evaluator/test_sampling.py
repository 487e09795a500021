"""Scoring generators: collapsed ones score ~0, real digits score high, one seed one result."""
import pytest
import torch
from torch import nn

from evaluator.convnet import ConvNet
from evaluator.frechet import feature_statistics
from evaluator.sampling import (GeneratorScore, classify_features, classify_log_probs,
                                score_generator)
from models.data import MnistData


@pytest.fixture(scope="module")
def data(mnist_5k) -> MnistData:
    return mnist_5k


class NearestMean(nn.Module):
    """A stand-in classifier, built instantly: logits = -|x - mean of class c|^2 / T.

    About 80% accurate on MNIST, which is all these tests need; the trained ConvNet is
    exercised in test_classifier.py.
    """

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, temperature: float = 10.0) -> None:
        super().__init__()
        flat = images.reshape(-1, 1024)
        means = torch.stack([flat[labels == c].mean(0) for c in range(10)])  # (10, 1024)
        self.register_buffer("means", means)
        self.temperature = temperature

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        d2 = torch.cdist(x.reshape(-1, 1024), self.means) ** 2   # (B, 10)
        return -d2 / self.temperature                            # (B, 10)


@pytest.fixture(scope="module")
def classifier(data):
    return NearestMean(data.train_images, data.train_labels), {"weights_sha256": "ab" * 32}


class ConstantGenerator(nn.Module):
    """Ignores z and always draws the same image: the fully collapsed generator."""

    def __init__(self, image: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("image", image.reshape(1, 1024))
        self.modes: list[bool] = []

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        self.modes.append(self.training)
        return self.image.expand(z.shape[0], 1024)              # (B, 1024)


class RealDigits:
    """A "generator" that hands out the real test digits in order: a perfect generator."""

    def __init__(self, images: torch.Tensor) -> None:
        self.images, self.next = images.reshape(-1, 1024), 0

    def __call__(self, z: torch.Tensor) -> torch.Tensor:
        idx = (self.next + torch.arange(z.shape[0])) % self.images.shape[0]
        self.next += z.shape[0]
        return self.images[idx]                                  # (B, 1024)


def mlp_generator(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(100, 64), nn.BatchNorm1d(64), nn.ReLU(), nn.Linear(64, 1024), nn.Tanh())


def test_collapsed_generator_scores_zero(classifier, data):
    model, manifest = classifier
    g = ConstantGenerator(data.test_images[0]).train()
    result = score_generator(g, model, n_samples=300, batch_size=128,
                             classifier_sha256=manifest["weights_sha256"])
    assert isinstance(result, GeneratorScore)
    assert result.score == pytest.approx(0.0, abs=1e-6)
    assert max(result.class_histogram) == 300 == result.n_samples
    assert result.classifier_sha256 == manifest["weights_sha256"] and result.seconds > 0
    # Eval mode while scoring (batch norm with running statistics), training mode given back.
    assert set(g.modes) == {False} and g.training


def test_real_digits_score_high_and_spread(classifier, data):
    model, _ = classifier
    result = score_generator(RealDigits(data.test_images), model, n_samples=1000, batch_size=250)
    # Balanced, confidently classified digits: I well above the ~0 of a collapsed generator.
    assert result.score > 1.0
    assert sum(result.class_histogram) == 1000 and len(result.class_histogram) == 10
    assert min(result.class_histogram) >= 50  # every class is present (about 100 each)


def test_same_seed_same_result(classifier):
    model, _ = classifier
    g1, g2 = mlp_generator(), mlp_generator()
    state = torch.get_rng_state()
    a = score_generator(g1, model, n_samples=250, batch_size=64, seed=3)
    b = score_generator(g2, model, n_samples=250, batch_size=64, seed=3)
    # The noise comes from a private torch.Generator: the global RNG is left alone.
    assert torch.equal(state, torch.get_rng_state())
    c = score_generator(g1, model, n_samples=250, batch_size=64, seed=4)
    assert (a.score, a.class_histogram) == (b.score, b.class_histogram)
    assert a.score != c.score
    assert sum(a.class_histogram) == 250 == a.n_samples  # 250 is not a multiple of 64


def test_classify_log_probs(classifier, data):
    model, _ = classifier
    x = data.test_images[:100]                                   # (100, 1, 32, 32)
    lp = classify_log_probs(model, x, batch_size=32)
    assert lp.shape == (100, 10) and lp.dtype == torch.float32
    torch.testing.assert_close(torch.logsumexp(lp, 1), torch.zeros(100), atol=1e-5, rtol=0)
    # Flat or not, any batch size: the same values up to float32 rounding.
    torch.testing.assert_close(classify_log_probs(model, x.flatten(1), batch_size=100), lp,
                               atol=1e-4, rtol=1e-5)


def test_bad_generator_output_is_refused(classifier):
    model, _ = classifier
    with pytest.raises(ValueError, match="NaN"):
        score_generator(lambda z: torch.full((z.shape[0], 1024), float("nan")), model, n_samples=10)
    with pytest.raises(ValueError, match="shape"):
        score_generator(lambda z: torch.zeros(z.shape[0], 784), model, n_samples=10)
    with pytest.raises(ValueError, match="n_samples"):
        score_generator(mlp_generator(), model, n_samples=1)


def count_conv_passes(net: ConvNet) -> list[int]:
    """A counter of the batches that go through ``net``'s conv stack."""
    count = [0]
    net.features.register_forward_hook(lambda *args: count.__setitem__(0, count[0] + 1))
    return count


def test_fd_beside_the_score_from_the_same_forward_pass(data):
    torch.manual_seed(0)
    net = ConvNet().eval()  # untrained: the identities below hold for any weights
    passes = count_conv_passes(net)
    x = data.test_images                                         # (1000, 1, 32, 32)
    log_probs, features = classify_features(net, x, batch_size=300)
    assert log_probs.shape == (1000, 10) and features.shape == (1000, 1024)
    assert passes[0] == 4  # 300 + 300 + 300 + 100
    reference = feature_statistics(features)
    plain = score_generator(RealDigits(x), net, n_samples=1000, batch_size=250)
    assert plain.fd is None and passes[0] == 4 + 4
    scored = score_generator(RealDigits(x), net, n_samples=1000, batch_size=250,
                             reference=reference)
    # One pass per batch gives both log p(y|x) and the features: never a second one.
    assert passes[0] == 4 + 4 + 4
    # The samples are the reference's own images: FD 0, and I is unchanged by asking for FD.
    assert scored.fd == pytest.approx(0.0, abs=1e-6 * float(reference.cov.trace()))
    assert scored.score == pytest.approx(plain.score, rel=1e-6)
    assert scored.class_histogram == plain.class_histogram
    collapsed = score_generator(ConstantGenerator(x[0]), net, n_samples=300, reference=reference)
    assert collapsed.fd > 0.1 * float(reference.cov.trace())


def test_fd_needs_a_classifier_with_features(classifier, data):
    model, _ = classifier
    reference = feature_statistics(torch.rand(10, 1024))
    with pytest.raises(TypeError, match="features_and_logits"):
        score_generator(RealDigits(data.test_images), model, n_samples=10, reference=reference)
