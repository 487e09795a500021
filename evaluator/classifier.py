"""Train, save and load the scoring classifier (paper section 4.1, appendix C).

Zhao, Mathieu & LeCun, ICLR 2017, score their MNIST generators with "a regular 3-layer
ConvNet trained on the entire MNIST training set". Since the score depends on that
classifier's confidence, every score must name the classifier that made it: the weights
are saved with a manifest (data, accuracy, confusion matrix, SHA-256 of the weights, and
the score of the real test digits as a reference line), and loading refuses any weights
whose SHA-256 differs from the manifest's.

    out_dir/convnet.pt      state_dict (torch.save)
    out_dir/manifest.json   everything else
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import io
import json
import math
import os
import random
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.metrics import accuracy_score, confusion_matrix

from evaluator.convnet import IMAGE_SIZE, N_CLASSES, ConvNet
from evaluator.sampling import classify_log_probs
from evaluator.score import modified_inception_score

if TYPE_CHECKING:
    from models.data import MnistData

WEIGHTS_FILE = "convnet.pt"
MANIFEST_FILE = "manifest.json"
REBUILD = "rebuild it with `make classifier` (or `sweep classifier -c sweep.yaml`)"
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
MANIFEST_KEYS = ("data_source", "weights_file", "weights_sha256", "convnet", "test_accuracy",
                 "real_data_score")


class ClassifierError(Exception):
    """The saved classifier is missing, corrupt or does not match its manifest."""


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


def train_classifier(data: MnistData, out_dir: str | Path, *, epochs: int | None = None,
                     seed: int = 0, device: torch.device | str | None = None,
                     log: Callable[[str], None] = print) -> dict:
    """Train the ConvNet on ``data``'s training split, test it, save weights + manifest.

    Args:
        data: MNIST as ``models.data.load_mnist`` returns it (images may be flattened).
        out_dir: folder for ``convnet.pt`` and ``manifest.json`` (created; each replaced
            atomically, the manifest last: after a crash in between, the old manifest's
            SHA-256 no longer matches and ``load_classifier`` refuses the pair).
        epochs: passes over the training set; default ``default_epochs(n_train)``.
        seed: the only source of randomness (initial weights, batch order, shifts, dropout).
        device: default CUDA when available, else CPU.
        log: receives one progress line per epoch.

    Returns:
        The manifest (also written to ``out_dir/manifest.json``).
    """
    out_dir = Path(out_dir)
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
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
    t0 = time.perf_counter()
    model.train()
    for epoch in range(epochs):
        order = torch.randperm(n_train, generator=gen)            # (N,)
        loss_sum = 0.0
        for start in range(0, n_train, BATCH_SIZE):
            idx = order[start:start + BATCH_SIZE]
            x = random_shift(x_train[idx].to(device), MAX_SHIFT, gen)  # (B, 1, 32, 32)
            y = y_train[idx].to(device)                                # (B,)
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            loss_sum += float(loss.detach()) * idx.numel()
        log(f"classifier epoch {epoch + 1}/{epochs}: train loss {loss_sum / n_train:.4f} "
            f"({time.perf_counter() - t0:.1f} s)")
    train_seconds = time.perf_counter() - t0

    log_probs = classify_log_probs(model, data.test_images, device=device)  # (M, 10)
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
    _atomic_write(out_dir / WEIGHTS_FILE, weights)
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
    _atomic_write(out_dir / MANIFEST_FILE, (json.dumps(manifest, indent=2) + "\n").encode())
    return manifest


def load_classifier(out_dir: str | Path, device: torch.device | str | None = None
                    ) -> tuple[ConvNet, dict]:
    """The saved ConvNet (eval mode) and its manifest, after checking the weights' SHA-256.

    Raises:
        ClassifierError: the manifest or weights are missing, unreadable, or do not match.
    """
    out_dir = Path(out_dir)
    manifest_path = out_dir / MANIFEST_FILE
    try:
        manifest = json.loads(manifest_path.read_text())
    except FileNotFoundError:
        raise ClassifierError(f"No trained classifier: {manifest_path} does not exist; "
                              f"{REBUILD}.") from None
    except (OSError, ValueError) as exc:
        raise ClassifierError(f"The classifier manifest {manifest_path} is unreadable "
                              f"({exc}); {REBUILD}.") from None
    missing = [k for k in MANIFEST_KEYS if not isinstance(manifest, dict) or k not in manifest]
    if missing:
        raise ClassifierError(f"The classifier manifest {manifest_path} lacks {', '.join(missing)}; "
                              f"{REBUILD}.")
    weights_path = out_dir / manifest["weights_file"]
    try:
        weights = weights_path.read_bytes()
    except OSError as exc:
        raise ClassifierError(f"The classifier weights {weights_path} named by {manifest_path} "
                              f"cannot be read ({exc.strerror or exc}); {REBUILD}.") from None
    actual = hashlib.sha256(weights).hexdigest()
    if actual != manifest["weights_sha256"]:
        raise ClassifierError(
            f"The classifier weights {weights_path} have SHA-256 {actual}, but {manifest_path} "
            f"records {manifest['weights_sha256']}: the file is corrupt or was replaced, and "
            f"scores made with it would not be comparable; {REBUILD}.")
    try:
        state = torch.load(io.BytesIO(weights), map_location="cpu", weights_only=True)
        model = ConvNet(**manifest["convnet"])
        model.load_state_dict(state)
    except Exception as exc:  # any unpickling / shape error means the same thing to the user
        raise ClassifierError(f"The classifier weights {weights_path} do not load into the "
                              f"ConvNet of {manifest_path} ({exc}); {REBUILD}.") from None
    model.to(torch.device(device) if device is not None else "cpu").eval()
    return model, manifest


def _atomic_write(path: Path, payload: bytes) -> None:
    """Write to a temporary file in the same folder, then rename: readers never see half a file."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
