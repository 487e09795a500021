"""The GPU check's data, made beforehand on a machine that has it (`make gpu-bundle`).

A GPU window may come without the MNIST files, without network and without the
classifier. The bundle is one folder that travels with the working tree (ignored by git,
~12 MiB):

    mnist.npz        the MNIST training and test digits, uint8 (N, 28, 28), and labels
    classifier/      the scoring ConvNet folder as the sweep saved it (convnet.pt, its
                     manifest and, when it has one, the FD reference real_features.npz)
    manifest.json    SHA-256 and size of every file, the data and classifier it came from

``python -m bench.gpu_bundle [--classifier DIR] [--mnist-root DIR] [--out DIR]``.
:func:`load_bundle` checks every checksum before anything is used.
"""
from __future__ import annotations

import argparse
import hashlib
import io
import json
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

BUNDLE_DIR = Path("build") / "gpu-bundle"
DIGITS_FILE = "mnist.npz"
CLASSIFIER_DIR = "classifier"
MANIFEST = "manifest.json"
BUNDLE_FORMAT = 1


class BundleError(Exception):
    """The bundle is missing, incomplete or does not match its manifest."""


@dataclass
class Bundle:
    folder: Path
    train_images: torch.Tensor     # (N, 1024) float32 in [-1, 1], padded to 32x32
    test_images: torch.Tensor      # (M, 1024)
    test_labels: torch.Tensor      # (M,)
    manifest: dict[str, Any]

    @property
    def classifier_folder(self) -> Path:
        return self.folder / CLASSIFIER_DIR


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def make_bundle(classifier: str | Path, out: str | Path = BUNDLE_DIR,
                mnist_root: str | Path | None = None) -> dict[str, Any]:
    """Write the bundle to ``out`` (replacing one there); return its manifest.

    Raises:
        models.data.DataError: the MNIST files are missing or corrupt (nothing is downloaded).
        evaluator.classifier_files.ClassifierError: the classifier folder does not load.
    """
    from evaluator.classifier_files import load_classifier
    from models.data import default_root, load_idx_files

    classifier, out = Path(classifier), Path(out)
    root = Path(mnist_root) if mnist_root is not None else default_root()
    _, cls_manifest = load_classifier(classifier)          # checks the classifier's SHA-256s
    arrays = load_idx_files(root, allow_download=False)     # checks the MNIST SHA-256s
    if out.exists():
        shutil.rmtree(out)
    (out / CLASSIFIER_DIR).mkdir(parents=True)
    np.savez_compressed(out / DIGITS_FILE,
                        train_images=arrays["train-images-idx3-ubyte.gz"],
                        train_labels=arrays["train-labels-idx1-ubyte.gz"],
                        test_images=arrays["t10k-images-idx3-ubyte.gz"],
                        test_labels=arrays["t10k-labels-idx1-ubyte.gz"])
    names = ["manifest.json", cls_manifest["weights_file"]]
    if "real_features_file" in cls_manifest:
        names.append(cls_manifest["real_features_file"])
    for name in names:
        shutil.copyfile(classifier / name, out / CLASSIFIER_DIR / name)
    files = [DIGITS_FILE, *(f"{CLASSIFIER_DIR}/{n}" for n in names)]
    manifest = {
        "format": BUNDLE_FORMAT, "mnist_root": str(root),
        "digits": {"train": int(len(arrays["train-labels-idx1-ubyte.gz"])),
                   "test": int(len(arrays["t10k-labels-idx1-ubyte.gz"]))},
        "classifier_from": str(classifier), "classifier_data_source": cls_manifest["data_source"],
        "classifier_test_accuracy": cls_manifest["test_accuracy"],
        "fd_reference": "real_features_file" in cls_manifest,
        "files": {f: {"sha256": sha256(out / f), "bytes": (out / f).stat().st_size}
                  for f in files},
    }
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def load_bundle(folder: str | Path = BUNDLE_DIR) -> Bundle:
    """The bundle's digits (model range, flattened) after checking every file's SHA-256."""
    from models.data import to_model_range

    folder = Path(folder)
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
    except FileNotFoundError:
        raise BundleError(f"no bundle at {folder} (make it with `make gpu-bundle`)") from None
    except (OSError, ValueError) as exc:
        raise BundleError(f"the bundle manifest {folder / MANIFEST} is unreadable: {exc}") from None
    if manifest.get("format") != BUNDLE_FORMAT or not isinstance(manifest.get("files"), dict):
        raise BundleError(f"{folder / MANIFEST} is not a bundle manifest of format {BUNDLE_FORMAT}")
    for name, entry in manifest["files"].items():
        path = folder / name
        if not path.is_file():
            raise BundleError(f"the bundle file {path} is missing")
        if sha256(path) != entry["sha256"]:
            raise BundleError(f"the bundle file {path} does not match its SHA-256 in "
                              f"{folder / MANIFEST}: remake the bundle")
    with np.load(io.BytesIO((folder / DIGITS_FILE).read_bytes()), allow_pickle=False) as z:
        train, test = to_model_range(z["train_images"]), to_model_range(z["test_images"])
        labels = torch.from_numpy(np.array(z["test_labels"], dtype=np.int64))
    return Bundle(folder, train.flatten(1), test.flatten(1), labels, manifest)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.gpu_bundle",
                                description=__doc__.split("\n")[0])
    p.add_argument("--classifier", default="results/classifier/mnist",
                   help="a saved scoring classifier folder (default: %(default)s)")
    p.add_argument("--mnist-root", default=None, help="the MNIST IDX files (default: MNIST_ROOT)")
    p.add_argument("--out", default=str(BUNDLE_DIR), help="(default: %(default)s)")
    args = p.parse_args(argv)
    from models.errors import UserError
    try:
        m = make_bundle(args.classifier, args.out, args.mnist_root)
    except UserError as exc:
        print(f"gpu-bundle: {exc}", file=sys.stderr)
        return 2
    size = sum(f["bytes"] for f in m["files"].values())
    print(f"[gpu-bundle] {args.out}: {m['digits']['train']:,} + {m['digits']['test']:,} digits, "
          f"classifier of {m['classifier_data_source']} (test accuracy "
          f"{m['classifier_test_accuracy']:.2%}, FD reference: "
          f"{'yes' if m['fd_reference'] else 'no'}), {size / 2**20:.1f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
