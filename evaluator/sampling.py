"""Score a generator: sample, classify, modified inception score (paper section 4.1) and FD.

Zhao, Mathieu & LeCun, ICLR 2017, section 4.1 and appendix C: every generator of the MNIST
grid is ranked by I = E_x KL(p(y) || p(y|x)) over its samples, p(y|x) given by a fixed
ConvNet. The project draws 10,000 samples per trial (SPEC "The score") from z ~ N(0, I)
with a seeded torch.Generator, so two generators scored with the same seed see the same
noise (common random numbers). Beside I, the Frechet distance of the samples' ConvNet
features to the real test set's (Heusel et al. 2017; ``evaluator.frechet``).
"""
from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

import torch
from torch import nn

from evaluator.convnet import IMAGE_SIZE, N_CLASSES
from evaluator.frechet import FeatureStats, feature_statistics, frechet_distance
from evaluator.score import modified_inception_score

N_SAMPLES = 10_000


@dataclass(frozen=True)
class GeneratorScore:
    """What scoring a generator produced, kept beside the trial's result."""

    score: float
    """Modified inception score I of the samples (higher is better; about 0 if collapsed)."""
    class_histogram: list[int]
    """How many samples the classifier assigned to each digit 0..9 (argmax of p(y|x))."""
    n_samples: int
    """Number of generated samples the score was computed on."""
    classifier_sha256: str | None
    """SHA-256 of the classifier weights: scores compare only under the same classifier."""
    seconds: float
    """Wall-clock time of sampling + classifying + scoring (FD included)."""
    fd: float | None = None
    """Frechet distance of the samples' ConvNet features to the real test set's (lower is
    better; SPEC "A second metric"); None when no reference statistics were given."""


@contextmanager
def _eval_mode(*modules: object) -> Iterator[None]:
    """Eval mode (batch-norm running statistics, no dropout) during scoring, then restored,
    so scoring in the middle of training does not silently switch training off."""
    nets = [m for m in modules if isinstance(m, nn.Module)]
    was_training = [m.training for m in nets]
    for m in nets:
        m.eval()
    try:
        yield
    finally:
        for m, flag in zip(nets, was_training):
            m.train(flag)


def _module_device(module: object) -> torch.device:
    if isinstance(module, nn.Module):
        for p in module.parameters():
            return p.device
    return torch.device("cpu")


def _as_images(x: torch.Tensor) -> torch.Tensor:
    """(B, 1024) or (B, 1, 32, 32) -> (B, 1, 32, 32); anything else is refused."""
    if x.dim() == 2 and x.shape[1] == IMAGE_SIZE * IMAGE_SIZE:
        return x.view(-1, 1, IMAGE_SIZE, IMAGE_SIZE)
    if x.dim() == 4 and tuple(x.shape[1:]) == (1, IMAGE_SIZE, IMAGE_SIZE):
        return x
    raise ValueError(f"expected images of shape (B, 1024) or (B, 1, 32, 32), got {tuple(x.shape)}")


def classify_log_probs(classifier: nn.Module, images: torch.Tensor, batch_size: int = 1000,
                       device: torch.device | str | None = None) -> torch.Tensor:
    """log p(y|x) of every image, in batches, without gradients.

    Args:
        classifier: maps (B, 1, 32, 32) images in [-1, 1] to (B, 10) logits.
        images: (N, 1, 32, 32) or (N, 1024), on any device.
        batch_size: images per forward pass (memory bound only; results do not depend on it
            beyond float rounding).
        device: where to run; default the classifier's device.

    Returns:
        (N, 10) float32 log-softmax on the CPU.
    """
    return _classify(classifier, images, batch_size, device, with_features=False)[0]


def classify_features(classifier: nn.Module, images: torch.Tensor, batch_size: int = 1000,
                      device: torch.device | str | None = None
                      ) -> tuple[torch.Tensor, torch.Tensor]:
    """log p(y|x) and the penultimate features of every image, from one forward pass each.

    Args:
        classifier: has ``features_and_logits`` (``evaluator.convnet.ConvNet``).
        images, batch_size, device: as ``classify_log_probs``.

    Returns:
        (N, 10) float32 log-softmax and (N, D) float32 features, both on the CPU.
    """
    log_probs, features = _classify(classifier, images, batch_size, device, with_features=True)
    return log_probs, features


def _classify(classifier: nn.Module, images: torch.Tensor, batch_size: int,
              device: torch.device | str | None, *, with_features: bool
              ) -> tuple[torch.Tensor, torch.Tensor | None]:
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if with_features and not callable(getattr(classifier, "features_and_logits", None)):
        raise TypeError(f"the Frechet distance needs the classifier's features: "
                        f"{type(classifier).__name__} has no features_and_logits method")
    device = torch.device(device) if device is not None else _module_device(classifier)
    images = _as_images(images)                                          # (N, 1, 32, 32)
    out, feats = [], []
    with _eval_mode(classifier), torch.inference_mode():
        for start in range(0, images.shape[0], batch_size):
            x = images[start:start + batch_size].to(device, torch.float32)  # (B, 1, 32, 32)
            if with_features:
                f, logits = classifier.features_and_logits(x)            # (B, D), (B, 10)
                feats.append(f.float().cpu())                            # (B, D)
            else:
                logits = classifier(x)                                   # (B, 10)
            out.append(torch.log_softmax(logits.float(), dim=1).cpu())   # (B, 10)
    if not out:
        return torch.empty(0, N_CLASSES), (torch.empty(0, 0) if with_features else None)
    return torch.cat(out), (torch.cat(feats) if with_features else None)  # (N, 10), (N, D)


def score_generator(generator: Callable[[torch.Tensor], torch.Tensor], classifier: nn.Module, *,
                    z_dim: int = 100, n_samples: int = N_SAMPLES, batch_size: int = 1000,
                    seed: int = 0, device: torch.device | str | None = None,
                    classifier_sha256: str | None = None,
                    reference: FeatureStats | None = None) -> GeneratorScore:
    """Modified inception score (and, given a reference, FD) of ``n_samples`` images.

    Args:
        generator: an nn.Module or callable mapping z (B, z_dim) to images (B, 1024) (or
            (B, 1, 32, 32)) in [-1, 1]; it must already live on ``device``.
        classifier: the scoring ConvNet (see ``evaluator.classifier.load_classifier``).
        z_dim: latent size; z ~ N(0, I).
        n_samples: generated samples (10,000 in this project).
        batch_size: samples generated and classified per step.
        seed: seeds the noise alone (a private torch.Generator; global RNG untouched), so
            the same seed gives the same z for every generator.
        device: where to run both nets; default the classifier's device.
        classifier_sha256: recorded in the result (``manifest["weights_sha256"]``).
        reference: the real test set's feature statistics
            (``evaluator.reference.load_fd_reference``); when given, the result's ``fd``
            is the Frechet distance of the samples' features to it (SPEC "A second
            metric"), the features coming from the same forward pass as log p(y|x). The
            classifier must then have ``features_and_logits``. None: ``fd`` is None.

    Raises:
        ValueError: bad sizes, or the generator produced the wrong shape or non-finite values.
    """
    if n_samples < 2 or batch_size < 1 or z_dim < 1:
        raise ValueError(f"need n_samples >= 2, batch_size >= 1, z_dim >= 1; got "
                         f"{n_samples}, {batch_size}, {z_dim}")
    t0 = time.perf_counter()
    device = torch.device(device) if device is not None else _module_device(classifier)
    # z drawn on the CPU: the same seed gives the same noise on any device.
    rng = torch.Generator(device="cpu").manual_seed(seed)
    chunks, feature_chunks = [], []
    with_features = reference is not None
    with _eval_mode(generator, classifier), torch.inference_mode():
        for start in range(0, n_samples, batch_size):
            b = min(batch_size, n_samples - start)
            z = torch.randn(b, z_dim, generator=rng).to(device)          # (B, z_dim)
            x = _as_images(generator(z))                                 # (B, 1, 32, 32)
            if not torch.isfinite(x).all():
                raise ValueError("the generator produced NaN or inf pixels (diverged?)")
            lp, f = _classify(classifier, x, batch_size, device, with_features=with_features)
            chunks.append(lp)                                            # (B, 10)
            feature_chunks.append(f)                                     # (B, D) or None
    log_probs = torch.cat(chunks)                                        # (N, 10)
    fd = None
    if reference is not None:
        fd = frechet_distance(reference, feature_statistics(torch.cat(feature_chunks)))
    hist = torch.bincount(log_probs.argmax(dim=1), minlength=log_probs.shape[1])  # (10,)
    return GeneratorScore(score=modified_inception_score(log_probs),
                          class_histogram=[int(c) for c in hist],
                          n_samples=int(log_probs.shape[0]),
                          classifier_sha256=classifier_sha256,
                          seconds=time.perf_counter() - t0, fd=fd)
