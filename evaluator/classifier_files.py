"""The files of a saved scoring classifier, and the checks that guard every score.

Zhao, Mathieu & LeCun, ICLR 2017 (section 4.1) score generators with an MNIST ConvNet; the
score depends on that classifier's confidence, so every score names the classifier that
made it. A classifier folder holds

    convnet.pt          state_dict (torch.save)
    real_features.npz   the real test set's ConvNet feature statistics, float64: mean (D,),
                        cov (D, D), n: the reference of the Frechet distance (SPEC "A
                        second metric"); absent in folders made before FD existed
    manifest.json       everything else: data, accuracy, SHA-256 of both files, probes

and loading refuses any file whose SHA-256 differs from the manifest's.
"""
from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import numpy as np
import torch

from evaluator.convnet import ConvNet
from evaluator.frechet import FeatureStats
from models.atomic import write_bytes
from models.errors import UserError

WEIGHTS_FILE = "convnet.pt"
REFERENCE_FILE = "real_features.npz"
MANIFEST_FILE = "manifest.json"
REBUILD = "rebuild it with `make classifier` (or `sweep classifier -c sweep.yaml`)"
MANIFEST_KEYS = ("data_source", "weights_file", "weights_sha256", "convnet", "test_accuracy",
                 "real_data_score")
# Present together, or (a classifier trained before FD existed) both absent.
REFERENCE_KEYS = ("real_features_file", "real_features_sha256")


class ClassifierError(UserError):
    """The saved classifier is missing, corrupt or does not match its manifest."""


def read_manifest(folder: str | Path) -> dict:
    """The manifest of ``folder``, with its required keys; ClassifierError otherwise."""
    manifest_path = Path(folder) / MANIFEST_FILE
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
        raise ClassifierError(f"The classifier manifest {manifest_path} lacks "
                              f"{', '.join(missing)}; {REBUILD}.")
    partial = [k for k in REFERENCE_KEYS if k not in manifest]
    if len(partial) == 1:
        raise ClassifierError(f"The classifier manifest {manifest_path} lacks {partial[0]}; "
                              f"{REBUILD}.")
    return manifest


def write_manifest(folder: str | Path, manifest: dict) -> None:
    """Replace ``folder``'s manifest atomically (readers see the old one or the new one)."""
    write_bytes(Path(folder) / MANIFEST_FILE, (json.dumps(manifest, indent=2) + "\n").encode())


def read_checked(folder: str | Path, manifest: dict, file_key: str, sha_key: str,
                 what: str) -> bytes:
    """The bytes of the file ``manifest[file_key]``, after checking them against ``sha_key``."""
    manifest_path = Path(folder) / MANIFEST_FILE
    path = Path(folder) / manifest[file_key]
    try:
        payload = path.read_bytes()
    except OSError as exc:
        raise ClassifierError(f"The classifier {what} {path} named by {manifest_path} "
                              f"cannot be read ({exc.strerror or exc}); {REBUILD}.") from None
    actual = hashlib.sha256(payload).hexdigest()
    if actual != manifest[sha_key]:
        raise ClassifierError(
            f"The classifier {what} {path} have SHA-256 {actual}, but {manifest_path} "
            f"records {manifest[sha_key]}: the file is corrupt or was replaced, and "
            f"scores made with it would not be comparable; {REBUILD}.")
    return payload


def load_classifier(out_dir: str | Path, device: torch.device | str | None = None
                    ) -> tuple[ConvNet, dict]:
    """The saved ConvNet (eval mode) and its manifest, after checking the SHA-256 of the
    weights and, when the manifest names one, of the FD reference file.

    Raises:
        ClassifierError: the manifest or a file it names is missing, unreadable, or does
            not match.
    """
    out_dir = Path(out_dir)
    manifest = read_manifest(out_dir)
    weights_path = out_dir / manifest["weights_file"]
    weights = read_checked(out_dir, manifest, "weights_file", "weights_sha256", "weights")
    try:
        state = torch.load(io.BytesIO(weights), map_location="cpu", weights_only=True)
        model = ConvNet(**manifest["convnet"])
        model.load_state_dict(state)
    except Exception as exc:  # any unpickling / shape error means the same thing to the user
        raise ClassifierError(f"The classifier weights {weights_path} do not load into the "
                              f"ConvNet of {out_dir / MANIFEST_FILE} ({exc}); {REBUILD}.") from None
    if "real_features_file" in manifest:
        read_checked(out_dir, manifest, *REFERENCE_KEYS, "FD reference statistics")
    model.to(torch.device(device) if device is not None else "cpu").eval()
    return model, manifest


def save_reference(out_dir: str | Path, stats: FeatureStats) -> dict:
    """Write ``stats`` to ``out_dir/real_features.npz`` (atomically); the manifest entries."""
    buf = io.BytesIO()
    np.savez(buf, mean=stats.mean, cov=stats.cov, n=np.int64(stats.n))
    payload = buf.getvalue()
    write_bytes(Path(out_dir) / REFERENCE_FILE, payload)
    return {"real_features_file": REFERENCE_FILE,
            "real_features_sha256": hashlib.sha256(payload).hexdigest(),
            "real_features_n": int(stats.n)}


def load_fd_reference(out_dir: str | Path, manifest: dict | None = None) -> FeatureStats | None:
    """The real test set's feature statistics, to pass as ``score_generator(reference=...)``.

    None when the classifier predates FD (its manifest names no reference file; add one
    with ``evaluator.classifier.add_fd_reference``): scores then carry ``fd=None``.

    Raises:
        ClassifierError: the file is missing, does not match its SHA-256, or is malformed.
    """
    out_dir = Path(out_dir)
    manifest = read_manifest(out_dir) if manifest is None else manifest
    if "real_features_file" not in manifest:
        return None
    payload = read_checked(out_dir, manifest, *REFERENCE_KEYS, "FD reference statistics")
    path = out_dir / manifest["real_features_file"]
    try:
        with np.load(io.BytesIO(payload), allow_pickle=False) as z:
            return FeatureStats(z["mean"], z["cov"], int(z["n"]))
    except Exception as exc:  # bad zip, missing array or bad shapes: the same to the user
        raise ClassifierError(f"The FD reference statistics {path} are malformed ({exc}); "
                              f"{REBUILD}.") from None
