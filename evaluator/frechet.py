"""The Frechet distance between feature Gaussians: the FID recipe with the MNIST ConvNet.

Heusel, Ramsauer, Unterthiner, Nessler & Hochreiter, "GANs Trained by a Two Time-Scale
Update Rule Converge to a Local Nash Equilibrium", NeurIPS 2017, fit a Gaussian to the
features of real and of generated images and report the Frechet (2-Wasserstein) distance
between the two Gaussians N(mu1, C1) and N(mu2, C2):

    FD = |mu1 - mu2|^2 + tr(C1) + tr(C2) - 2 tr((C1 C2)^{1/2}).

They take Inception's pool features; this project (SPEC "A second metric") takes the
scoring ConvNet's penultimate features instead (the 64 * 4 * 4 = 1024 flattened conv
features feeding its linear read-out, ``ConvNet.features_and_logits``). Lower is better; it
sits beside the paper's score I, it does not replace it.

The matrix square root: with A = C1^{1/2} (the symmetric PSD root, by ``eigh``), C1 C2 is
similar to A C2 A (A^{-1} (A A C2) A when A is invertible, by continuity otherwise), a
symmetric PSD matrix, so

    tr((C1 C2)^{1/2}) = sum_i sqrt(lambda_i(A C2 A)),

with the eigenvalues clipped at 0 (rounding makes the smallest ones slightly negative).
Two ``eigh`` of symmetric matrices instead of the general ``scipy.linalg.sqrtm``: faster,
never complex, and A of a fixed reference is computed once (``FeatureStats.sqrt_cov``).

Pure functions, float64 throughout: features in, statistics out; statistics in, a number out.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from contextlib import nullcontext

import numpy as np
import torch

try:
    from threadpoolctl import threadpool_limits  # a requirement of scikit-learn
except ImportError:  # a bare PyTorch image (bench/gpu_check.py): BLAS keeps its own threads
    def threadpool_limits(limits=None, user_api=None):  # noqa: ARG001
        return nullcontext()

# The eigendecompositions run on one BLAS thread. A 1024 x 1024 eigh takes ~0.2-0.4 s on one
# core; on two cores that other work (or other trials of a sweep) keeps busy, OpenBLAS's
# threads wait on each other and the same call was measured at 1-10 s.
BLAS_THREADS = 1


@dataclass(frozen=True, eq=False)
class FeatureStats:
    """The Gaussian fitted to a set of feature vectors: mean, covariance, sample count."""

    mean: np.ndarray
    """(D,) float64 mean of the features."""
    cov: np.ndarray
    """(D, D) float64 covariance (unbiased, divided by n - 1, as ``np.cov``)."""
    n: int
    """How many feature vectors the statistics were computed from."""

    def __post_init__(self) -> None:
        mean = np.asarray(self.mean, dtype=np.float64)
        cov = np.asarray(self.cov, dtype=np.float64)
        d = mean.shape[0] if mean.ndim == 1 else -1
        if mean.ndim != 1 or cov.shape != (d, d):
            raise ValueError(f"need a (D,) mean and a (D, D) covariance; got {mean.shape} and "
                             f"{cov.shape}")
        if not (np.isfinite(mean).all() and np.isfinite(cov).all()):
            raise ValueError("feature statistics contain NaN or inf")
        object.__setattr__(self, "mean", mean)
        object.__setattr__(self, "cov", cov)
        object.__setattr__(self, "n", int(self.n))

    @cached_property
    def sqrt_cov(self) -> np.ndarray:
        """(D, D) C^{1/2}, computed on first use and kept: a reference's is reused by every FD."""
        return psd_sqrt(self.cov)


def feature_statistics(features: torch.Tensor | np.ndarray) -> FeatureStats:
    """Mean and covariance (float64) of (N, D) features, N >= 2; their order does not matter."""
    if isinstance(features, torch.Tensor):
        f = features.detach().to("cpu", torch.float64).numpy()
    else:
        f = np.asarray(features, dtype=np.float64)
    if f.ndim != 2 or f.shape[0] < 2:
        raise ValueError(f"need (N, D) features with N >= 2; got shape {f.shape}")
    if not np.isfinite(f).all():
        raise ValueError("features contain NaN or inf")
    mean = f.mean(axis=0)                         # (D,)
    centred = f - mean                            # (N, D)
    cov = centred.T @ centred / (f.shape[0] - 1)  # (D, D)
    cov = (cov + cov.T) / 2                       # exactly symmetric for eigh
    return FeatureStats(mean, cov, f.shape[0])


def psd_sqrt(cov: np.ndarray) -> np.ndarray:
    """The symmetric PSD square root of a symmetric PSD matrix (negative eigenvalues -> 0)."""
    cov = np.asarray(cov, dtype=np.float64)
    with threadpool_limits(limits=BLAS_THREADS, user_api="blas"):
        w, v = np.linalg.eigh((cov + cov.T) / 2)            # (D,), (D, D)
        return (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T  # (D, D)


def trace_sqrt_product(sqrt_cov1: np.ndarray, cov2: np.ndarray) -> float:
    """tr((C1 C2)^{1/2}) = sum sqrt(eig(A C2 A)), A = C1^{1/2} (see the module docstring)."""
    with threadpool_limits(limits=BLAS_THREADS, user_api="blas"):
        m = sqrt_cov1 @ cov2 @ sqrt_cov1           # (D, D) symmetric PSD up to rounding
        w = np.linalg.eigvalsh((m + m.T) / 2)      # (D,)
    return float(np.sqrt(np.clip(w, 0.0, None)).sum())


def frechet_distance(a: FeatureStats, b: FeatureStats) -> float:
    """FD = |mu1 - mu2|^2 + tr(C1) + tr(C2) - 2 tr((C1 C2)^{1/2}) (Heusel et al. 2017).

    ``a`` is the side whose square root is used (and cached): pass the fixed reference
    first. The value is symmetric in (a, b) up to rounding. Mathematically >= 0; a
    rounding residue below 0 (identical statistics) is returned as 0.

    Raises:
        ValueError: the two statistics have different feature dimensions.
    """
    if a.mean.shape != b.mean.shape:
        raise ValueError(f"feature dimensions differ: {a.mean.shape[0]} vs {b.mean.shape[0]}")
    diff = a.mean - b.mean                                           # (D,)
    fd = (float(diff @ diff) + float(np.trace(a.cov)) + float(np.trace(b.cov))
          - 2.0 * trace_sqrt_product(a.sqrt_cov, b.cov))
    return max(fd, 0.0)
