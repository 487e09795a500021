"""Fixed probes of the scoring classifier: what I and FD say about known inputs.

The score I = E_x KL(p(y) || p(y|x)) of Zhao, Mathieu & LeCun, ICLR 2017 (section 4.1)
trusts the classifier: a generator of noise that the classifier happens to classify
confidently and in balanced classes scores high. These probes, scored once when the
classifier is trained and kept in its manifest (key ``"probes"``), show where the
classifier puts inputs whose quality is known, on both metrics: I, and the Frechet
distance to the real test set's features (Heusel et al. 2017, ``evaluator.frechet``).

    uniform noise                 pixels U[-1, 1]                      (pure noise)
    sparse salt noise 0.05 / 0.1  white pixels with p, on black -1     (pure noise)
    one class                     real test digits of class 1 only     (collapsed)
    blurred digits                real test digits, 3x3 box filter
    noisy digits                  real test digits + N(0, 0.5^2), clamped to [-1, 1]
    real train digits             real training digits                 (FD floor)
    real test digits              the reference itself                 (I of real data, FD 0)

Each probe is a dict {"name", "description", "score" (I), "fd", "n"}.
"""
from __future__ import annotations

import math
from collections.abc import Iterator
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import nn

from evaluator.convnet import IMAGE_SIZE
from evaluator.frechet import FeatureStats, feature_statistics, frechet_distance
from evaluator.sampling import classify_features
from evaluator.score import modified_inception_score

if TYPE_CHECKING:
    from models.data import MnistData

PROBE_SAMPLES = 10_000
PROBE_SEED = 0  # fixed, independent of the classifier's seed: every classifier sees the same probes
ONE_CLASS = 1
NOISE_SD = 0.5
NOISE_PROBES = ("uniform noise", "sparse salt noise 0.05", "sparse salt noise 0.1")
# Above it, a pure-noise probe means a classifier too easily fooled: see noise_probe_warning.
NOISE_PROBE_THRESHOLD = 1.5


def probe_images(data: MnistData, n: int = PROBE_SAMPLES, seed: int = PROBE_SEED
                 ) -> Iterator[tuple[str, str, torch.Tensor]]:
    """(name, description, images (B, 1, 32, 32) in [-1, 1]) of every probe, seeded.

    Noise probes have ``n`` images; those made from real digits have ``n`` or all the
    split has (``one class``: the test digits of class 1 alone, about a tenth). One probe
    at a time, so that only one is in memory.
    """
    gen = torch.Generator().manual_seed(seed)
    shape = (n, 1, IMAGE_SIZE, IMAGE_SIZE)
    yield ("uniform noise", "i.i.d. pixels uniform in [-1, 1]",
           torch.rand(shape, generator=gen) * 2 - 1)                     # (n, 1, 32, 32)
    for p in (0.05, 0.1):
        yield (f"sparse salt noise {p}", f"white pixels with probability {p} on black -1",
               torch.where(torch.rand(shape, generator=gen) < p, 1.0, -1.0))  # (n, 1, 32, 32)
    test_all = data.test_images.reshape(-1, 1, IMAGE_SIZE, IMAGE_SIZE).float()  # (M, 1, 32, 32)
    yield ("one class", f"real test digits of class {ONE_CLASS} only (a collapsed generator)",
           test_all[data.test_labels == ONE_CLASS][:n])                  # (~M/10, 1, 32, 32)
    test = test_all
    if test.shape[0] > n:
        test = test[torch.randperm(test.shape[0], generator=gen)[:n]]    # (n, 1, 32, 32)
    # Box filter with the background value outside the image, so borders stay black.
    padded = F.pad(test, (1, 1, 1, 1), value=-1.0)                       # (n', 1, 34, 34)
    yield ("blurred digits", "real test digits through a 3x3 box filter",
           F.avg_pool2d(padded, 3, stride=1))                            # (n', 1, 32, 32)
    noise = NOISE_SD * torch.randn(test.shape, generator=gen)            # (n', 1, 32, 32)
    yield ("noisy digits", f"real test digits + Gaussian noise sd {NOISE_SD}, clamped to "
           "[-1, 1]", (test + noise).clamp(-1, 1))
    train = data.train_images.reshape(-1, 1, IMAGE_SIZE, IMAGE_SIZE)     # (N, 1, 32, 32)
    pick = torch.randperm(train.shape[0], generator=gen)[:n]
    yield ("real train digits", "real training digits (the FD a perfect generator gets)",
           train[pick].float())                                          # (n'', 1, 32, 32)
    yield ("real test digits", "the real test digits: the FD reference itself", test)


def score_probes(classifier: nn.Module, reference: FeatureStats, data: MnistData, *,
                 n: int = PROBE_SAMPLES, seed: int = PROBE_SEED,
                 device: torch.device | str | None = None) -> list[dict]:
    """I and FD (against ``reference``) of every probe of ``probe_images``, in that order."""
    probes = []
    for name, description, images in probe_images(data, n, seed):
        log_probs, features = classify_features(classifier, images,
                                                device=device)  # (B, 10), (B, D)
        probes.append({"name": name, "description": description,
                       "score": modified_inception_score(log_probs),
                       "fd": frechet_distance(reference, feature_statistics(features)),
                       "n": int(images.shape[0])})
    return probes


def noise_probe_warning(manifest: dict) -> str | None:
    """One sentence when a pure-noise probe scores I above NOISE_PROBE_THRESHOLD, else None.

    Such a classifier is too easily fooled to rank generators: noise outranks digits.
    A manifest without probes (a classifier older than them) gives None.

    The threshold, 1.5, from what was measured (probe seed 0, classifier seed 0), I of:

                                 uniform  salt .05  salt .1  noisy digits  blurred  real
        full MNIST, 3 epochs      0.000    0.657     0.332      1.943       3.516   11.603
        mnist-5k, 15 epochs       0.000    0.422     0.762      2.040       2.084    9.227
        mnist-5k, 1 epoch         0.007    0.048     0.050      0.370       0.060    0.937

    (test accuracies 99.3%, 98.6%, 92.4%), and a classifier trained on the 4,000-digit
    subset gave a trained pure-noise generator I = 3.16. Pure noise must rank below digits
    that are degraded but still recognisable (the noisy digits: about 2 with both good
    classifiers), or a grid's diverged generators outrank its blurry real ones. 1.5 sits
    twice above the worst pure-noise probe of a good classifier (0.76) and below both the
    noisy-digit probes and that fooled 3.16. Neither trained classifier was fooled by the
    i.i.d. probes: the warning is a tripwire for a classifier that is, not a proof that
    structured noise (a generator's) cannot fool one.
    """
    noisy = [p for p in manifest.get("probes") or [] if p.get("name") in NOISE_PROBES
             and isinstance(p.get("score"), (int, float)) and not math.isnan(p["score"])
             and p["score"] > NOISE_PROBE_THRESHOLD]
    if not noisy:
        return None
    worst = max(noisy, key=lambda p: p["score"])
    return (f"The classifier gives the pure-noise probe '{worst['name']}' I = "
            f"{worst['score']:.2f}, above the threshold {NOISE_PROBE_THRESHOLD}: it is too "
            f"easily fooled to rank generators (train it on full MNIST).")
