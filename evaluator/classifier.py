"""Train, save and load the scoring classifier (paper section 4.1, appendix C).

Zhao, Mathieu & LeCun, ICLR 2017, score their MNIST generators with "a regular 3-layer
ConvNet trained on the entire MNIST training set". Since the score depends on that
classifier's confidence, every score must name the classifier that made it: the weights
are saved with a manifest (data, accuracy, confusion matrix, SHA-256 of the weights, the
score of the real test digits as a reference line, and the probes of
``evaluator.probes``), beside the real test set's feature statistics, the reference of the
Frechet distance (Heusel et al. 2017; SPEC "A second metric"). The folder's files and the
checks made when loading it are in ``evaluator.classifier_files``.

    out_dir/convnet.pt          state_dict (torch.save)
    out_dir/real_features.npz   mean and covariance of the test set's ConvNet features
    out_dir/manifest.json       everything else
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import io
import math
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.metrics import accuracy_score, confusion_matrix

# Re-exported: callers import the classifier's files and errors from here.
from evaluator.classifier_files import (MANIFEST_FILE, REFERENCE_FILE,  # noqa: F401
                                        WEIGHTS_FILE, ClassifierError, load_classifier,
                                        load_fd_reference, save_reference, write_manifest)
from evaluator.convnet import IMAGE_SIZE, N_CLASSES, ConvNet
from evaluator.frechet import feature_statistics
from evaluator.probes import PROBE_SAMPLES, noise_probe_warning, score_probes
from evaluator.sampling import classify_features
from evaluator.score import modified_inception_score
from models.atomic import write_bytes
from models.train import default_device

if TYPE_CHECKING:
    from models.data import MnistData

BATCH_SIZE = 128
LR = 2e-3
# Random shifts of up to 2 pixels: MNIST digits fit a 20x20 box centred in 28x28, padded
# here to 32x32, so they stay whole; worth 0.4% accuracy on the 4,000-digit subset
# (98.6% vs 98.2%, seed 0).
MAX_SHIFT = 2
# A small set needs more passes than full MNIST to see enough examples (and for the
# batch-norm running statistics to settle): at least one full-MNIST epoch's worth.
MIN_EXAMPLES_SEEN = 60_000
MIN_EPOCHS, MAX_EPOCHS = 3, 20
LOG_EVERY_S = 10.0  # a progress line at least this often within a long epoch


def default_epochs(n_train: int) -> int:
    """Passes over the training set: MIN_EPOCHS on full MNIST, 15 on the 4,000-digit subset."""
    return max(MIN_EPOCHS, min(MAX_EPOCHS, math.ceil(MIN_EXAMPLES_SEEN / max(n_train, 1))))


def random_shift(x: torch.Tensor, max_shift: int, gen: torch.Generator) -> torch.Tensor:
    """Shift each image by up to ``max_shift`` pixels in x and y, filling with background -1."""
    b, s = x.shape[0], max_shift
    padded = F.pad(x, (s, s, s, s), value=-1.0)                   # (B, 1, 32+2s, 32+2s)
    dy = torch.randint(0, 2 * s + 1, (b,), generator=gen).to(x.device)  # (B,)
    dx = torch.randint(0, 2 * s + 1, (b,), generator=gen).to(x.device)  # (B,)
    ar = torch.arange(IMAGE_SIZE, device=x.device)               # (32,)
    rows = (dy[:, None] + ar)[:, :, None]                          # (B, 32, 1)
    cols = (dx[:, None] + ar)[:, None, :]                          # (B, 1, 32)
    batch = torch.arange(b, device=x.device)[:, None, None]       # (B, 1, 1)
    return padded[batch, 0, rows, cols].unsqueeze(1)               # (B, 1, 32, 32)


def eta_seconds(elapsed: float, done: int, total: int) -> float:
    """Time left if the remaining ``total - done`` steps go at the pace of the first ``done``."""
    return elapsed / max(done, 1) * max(total - done, 0)


def _clock(seconds: float) -> str:
    m, s = divmod(int(round(seconds)), 60)
    return f"{m // 60}:{m % 60:02d}:{s:02d}" if m >= 60 else f"{m}:{s:02d}"


def _progress(elapsed: float, done: int, total: int) -> str:
    return f"elapsed {_clock(elapsed)}, about {_clock(eta_seconds(elapsed, done, total))} left"


def estimate_training_seconds(n_train: int, epochs: int | None = None,
                               device: torch.device | str | None = None,
                               steps: int = 6) -> float:
    """Seconds ``train_classifier`` will take here: a few timed training steps on random
    images, times the steps of all epochs, plus the test pass and the probes (about
    one epoch's worth of forward passes each). What `sweep grid` tells before training."""
    device = torch.device(device) if device is not None else default_device()
    epochs = default_epochs(n_train) if epochs is None else int(epochs)
    model = ConvNet().to(device).train()
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    x = torch.randn(BATCH_SIZE, 1, IMAGE_SIZE, IMAGE_SIZE, device=device)  # (B, 1, 32, 32)
    y = torch.randint(0, N_CLASSES, (BATCH_SIZE,), device=device)           # (B,)
    for i in range(steps + 1):
        if i == 1:  # the first step warms up (allocations)
            t0 = time.perf_counter()
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    per_step = (time.perf_counter() - t0) / steps
    return per_step * (epochs + 1) * math.ceil(n_train / BATCH_SIZE)


def train_classifier(data: MnistData, out_dir: str | Path, *, epochs: int | None = None,
                     seed: int = 0, device: torch.device | str | None = None,
                     log: Callable[[str], None] = print,
                     probe_samples: int = PROBE_SAMPLES) -> dict:
    """Train the ConvNet on ``data``'s training split, test it, save weights + manifest.

    Args:
        data: MNIST as ``models.data.load_mnist`` returns it (images may be flattened).
        out_dir: folder for ``convnet.pt``, ``real_features.npz`` and ``manifest.json``
            (created; each replaced atomically, the manifest last: after a crash in
            between, the old manifest's SHA-256 no longer matches and ``load_classifier``
            refuses the set).
        epochs: passes over the training set; default ``default_epochs(n_train)``.
        seed: the only source of randomness (initial weights, batch order, shifts, dropout).
        device: default ``models.train.default_device()`` (CUDA when available, else CPU).
        log: receives one progress line per epoch (and one every LOG_EVERY_S within a long
            epoch), each with the elapsed time and an estimate of the time left.
        probe_samples: images per probe (``evaluator.probes``).

    Returns:
        The manifest (also written to ``out_dir/manifest.json``).
    """
    out_dir = Path(out_dir)
    device = torch.device(device) if device is not None else default_device()
    x_train = data.train_images.reshape(-1, 1, IMAGE_SIZE, IMAGE_SIZE).float()  # (N, 1, 32, 32)
    y_train = data.train_labels.long()                                         # (N,)
    n_train = x_train.shape[0]
    epochs = default_epochs(n_train) if epochs is None else int(epochs)
    if epochs < 1 or n_train < 1:
        raise ValueError(f"need epochs >= 1 and training images; got {epochs}, {n_train}")

    # --- seeding: the one place randomness is fixed ---------------------------------
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # initial weights, dropout
    gen = torch.Generator().manual_seed(seed)  # batch order and shifts
    if device.type == "cuda":
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False
    # ---------------------------------------------------------------------------------

    model = ConvNet().to(device)
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    steps_per_epoch = math.ceil(n_train / BATCH_SIZE)
    total = epochs * steps_per_epoch
    # Linear decay to 0: large steps early, small final steps that settle the weights.
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: 1.0 - step / total)
    t0 = last_log = time.perf_counter()
    done = 0
    model.train()
    for epoch in range(epochs):
        order = torch.randperm(n_train, generator=gen)            # (N,)
        loss_sum = 0.0
        for step, start in enumerate(range(0, n_train, BATCH_SIZE), 1):
            idx = order[start:start + BATCH_SIZE]
            x = random_shift(x_train[idx].to(device), MAX_SHIFT, gen)  # (B, 1, 32, 32)
            y = y_train[idx].to(device)                                # (B,)
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            loss_sum += float(loss.detach()) * idx.numel()
            done += 1
            now = time.perf_counter()
            if now - last_log >= LOG_EVERY_S and step < steps_per_epoch:
                log(f"classifier epoch {epoch + 1}/{epochs}: step {step}/{steps_per_epoch} "
                    f"({_progress(now - t0, done, total)})")
                last_log = now
        last_log = time.perf_counter()
        log(f"classifier epoch {epoch + 1}/{epochs}: train loss {loss_sum / n_train:.4f} "
            f"({_progress(last_log - t0, done, total)})")
    train_seconds = time.perf_counter() - t0

    # One pass over the test set gives both the accuracy and the FD reference features.
    log_probs, features = classify_features(model, data.test_images,
                                            device=device)  # (M, 10), (M, D)
    y_true = data.test_labels.cpu().numpy()
    y_pred = log_probs.argmax(dim=1).numpy()
    cm = confusion_matrix(y_true, y_pred, labels=list(range(N_CLASSES)))  # rows: true class
    support = cm.sum(axis=1)
    per_class = [float(cm[i, i] / support[i]) if support[i] else None for i in range(N_CLASSES)]
    accuracy = float(accuracy_score(y_true, y_pred))
    log(f"classifier test accuracy {accuracy:.4f} on {len(y_true)} {data.source} test digits")

    buf = io.BytesIO()
    torch.save(model.state_dict(), buf)
    weights = buf.getvalue()
    out_dir.mkdir(parents=True, exist_ok=True)
    write_bytes(out_dir / WEIGHTS_FILE, weights)
    manifest = {
        "data_source": data.source,
        "n_train": int(n_train),
        "n_test": int(len(y_true)),
        "test_accuracy": accuracy,
        "per_class_accuracy": per_class,
        "confusion_matrix": cm.tolist(),
        "real_data_score": modified_inception_score(log_probs),
        "epochs": epochs,
        "seed": seed,
        "batch_size": BATCH_SIZE,
        "lr": LR,
        "max_shift": MAX_SHIFT,
        "convnet": model.config(),
        "weights_file": WEIGHTS_FILE,
        "weights_sha256": hashlib.sha256(weights).hexdigest(),
        "train_seconds": round(train_seconds, 2),
        "device": str(device),
        "torch_version": torch.__version__,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
    manifest.update(_fd_reference_and_probes(model.eval(), data, features, out_dir, device,
                                             probe_samples, log))
    write_manifest(out_dir, manifest)
    return manifest


def add_fd_reference(folder: str | Path, data: MnistData, *,
                     device: torch.device | str | None = None,
                     log: Callable[[str], None] = print,
                     probe_samples: int = PROBE_SAMPLES) -> dict:
    """Give a classifier trained before FD existed its reference statistics and probes.

    Writes ``real_features.npz`` and adds ``real_features_*`` and ``probes`` to the
    manifest; ``convnet.pt`` and ``weights_sha256`` are left as they are, so scores made
    with the classifier stay comparable. Running it again recomputes the same values.

    Args:
        folder: a classifier folder that ``load_classifier`` accepts.
        data: the data the classifier was tested on (same source, same test set).

    Returns:
        The updated manifest.

    Raises:
        ClassifierError: the folder does not load.
        ValueError: ``data`` is not the classifier's test set.
    """
    folder = Path(folder)
    device = torch.device(device) if device is not None else default_device()
    model, manifest = load_classifier(folder, device=device)
    n_test = int(data.test_labels.shape[0])
    if data.source != manifest["data_source"] or n_test != manifest.get("n_test", n_test):
        raise ValueError(f"the classifier in {folder} was tested on {manifest.get('n_test')} "
                         f"{manifest['data_source']} digits, not on these {n_test} "
                         f"{data.source} digits: its FD reference must be its own test set")
    log_probs, features = classify_features(model, data.test_images, device=device)
    score = modified_inception_score(log_probs)
    if not math.isclose(score, manifest["real_data_score"], rel_tol=1e-3):
        raise ValueError(f"these test digits score I = {score:.4f} with the classifier in "
                         f"{folder}, its manifest records {manifest['real_data_score']:.4f}: "
                         "not its test set")
    manifest.update(_fd_reference_and_probes(model, data, features, folder, device,
                                             probe_samples, log))
    write_manifest(folder, manifest)
    return manifest


def _fd_reference_and_probes(model: ConvNet, data: MnistData, test_features: torch.Tensor,
                             out_dir: Path, device: torch.device, probe_samples: int,
                             log: Callable[[str], None]) -> dict:
    """Save the test features' statistics, score the probes: the manifest entries."""
    t0 = time.perf_counter()
    reference = feature_statistics(test_features)              # mean (D,), cov (D, D)
    entries = save_reference(out_dir, reference)
    probes = score_probes(model, reference, data, n=probe_samples, device=device)
    for p in probes:
        log(f"classifier probe {p['name']!r}: I {p['score']:.3f}, FD {p['fd']:.3f} (n {p['n']})")
    entries["probes"] = probes
    warning = noise_probe_warning(entries)
    if warning:
        log(f"warning: {warning}")
    log(f"classifier FD reference and probes: {time.perf_counter() - t0:.1f} s")
    return entries
