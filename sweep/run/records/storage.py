"""Where trial files live: a local folder, an NFS path, or an ``s3://bucket/prefix`` URI.

Everything goes through ``pyarrow.fs`` so the same code writes to a laptop's disk and to a
bucket; S3 endpoint and credentials come from the standard AWS environment variables
(``AWS_ENDPOINT_URL`` for S3-compatible servers).
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import pyarrow.fs as pafs

from models import atomic


def is_uri(location: str) -> bool:
    return "://" in location


def resolve(storage: str | None, exp_dir: Path) -> str:
    """The storage root: the given path/URI, or the experiment directory itself."""
    if storage is None:
        return str(exp_dir.resolve())
    return storage.rstrip("/") if is_uri(storage) else str(Path(storage).expanduser().resolve())


def join(root: str, *parts: str) -> str:
    return "/".join([root.rstrip("/"), *parts])


def filesystem(location: str) -> tuple[pafs.FileSystem, str]:
    """(filesystem, path inside it) for a local path or a URI."""
    if is_uri(location):
        return _from_uri(location)
    return pafs.LocalFileSystem(), str(Path(location).resolve())


def _from_uri(uri: str) -> tuple[pafs.FileSystem, str]:
    endpoint = os.environ.get("AWS_ENDPOINT_URL")
    if uri.startswith("s3://") and endpoint:
        # pyarrow does not read AWS_ENDPOINT_URL by itself in every version.
        bucket_path = uri[len("s3://"):]
        scheme = "http" if endpoint.startswith("http://") else "https"
        fs = pafs.S3FileSystem(endpoint_override=endpoint.split("://", 1)[-1], scheme=scheme,
                               region=os.environ.get("AWS_DEFAULT_REGION", "us-east-1"))
        return fs, bucket_path
    return pafs.FileSystem.from_uri(uri)


def write_bytes(location: str, payload: bytes) -> None:
    """Write a whole file; local files are replaced atomically (temp file + rename)."""
    if not is_uri(location):
        atomic.write_bytes(Path(location), payload)
        return
    fs, path = filesystem(location)
    fs.create_dir(path.rsplit("/", 1)[0], recursive=True)
    with fs.open_output_stream(path) as out:
        out.write(payload)


def read_bytes(location: str) -> bytes:
    if not is_uri(location):
        return Path(location).read_bytes()
    fs, path = filesystem(location)
    with fs.open_input_stream(path) as src:
        return src.read()


def delete_dir(location: str) -> None:
    """Remove a folder (path or URI) and everything in it; nothing if it is not there."""
    fs, path = filesystem(location)
    if fs.get_file_info(path).type != pafs.FileType.NotFound:
        fs.delete_dir(path)


def location_of(fs: pafs.FileSystem | None, path: str) -> str:
    """A path inside ``fs`` (as Ray Tune hands checkpoints) as a location this module reads."""
    if fs is None or isinstance(fs, pafs.LocalFileSystem):
        return path
    scheme = {"s3": "s3", "gcs": "gs", "hdfs": "hdfs"}.get(fs.type_name, fs.type_name)
    return f"{scheme}://{path.lstrip('/')}"


def exists(location: str) -> bool:
    fs, path = filesystem(location)
    return fs.get_file_info(path).type != pafs.FileType.NotFound


def upload_dir(local: Path, location: str) -> None:
    """Copy every file of a local folder to ``location`` (a folder path or URI)."""
    for file in sorted(local.iterdir()):
        if file.is_file():
            write_bytes(join(location, file.name), file.read_bytes())


def ray_storage_path(root: str) -> str:
    """Ray Tune's ``storage_path`` for an experiment stored at ``root``."""
    return join(root, "tune")


def tune_storage(root: str) -> tuple[str, pafs.FileSystem | None]:
    """(storage_path, storage_filesystem) for Ray Tune's RunConfig.

    For a URI, Tune gets the same filesystem our own writes use (so AWS_ENDPOINT_URL holds
    for it too, whatever pyarrow reads by itself); the filesystem pickles without
    credentials, so each node resolves them from its own environment.
    """
    location = ray_storage_path(root)
    if not is_uri(location):
        return location, None
    fs, path = filesystem(location)
    return path, fs


# --- the driver's records, copied beside the trial files ------------------------------
# The ledger and the results table are written where the driver runs (they are what a
# rerun resumes from); with storage elsewhere, a copy goes there too, so the bucket or
# NFS folder alone holds the whole experiment.
ROOT_FILE = "storage.json"   # in the experiment directory: where its trial files went
MIRRORED = ("experiment.json", "plan.json", "classifier.json", "sweep.yaml",
            "trials.parquet", "trials.csv")
AWS_ENV = ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ACCESS_KEY_ID",
           "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_DEFAULT_REGION", "AWS_REGION")


def record_root(exp_dir: Path, root: str) -> None:
    """Remember the experiment's storage root (``sweep collect`` mirrors to it later)."""
    write_bytes(str(Path(exp_dir) / ROOT_FILE), json.dumps({"root": root}).encode())


def recorded_root(exp_dir: Path) -> str | None:
    try:
        return json.loads((Path(exp_dir) / ROOT_FILE).read_text())["root"]
    except (OSError, ValueError, KeyError):
        return None


def is_elsewhere(root: str | None, exp_dir: Path) -> bool:
    """True when trial files live outside the experiment directory."""
    return bool(root) and (is_uri(root) or Path(root).resolve() != Path(exp_dir).resolve())


def mirror_ledger_entry(root: str, ledger_file: Path) -> None:
    write_bytes(join(root, "ledger", ledger_file.name), ledger_file.read_bytes())


def mirror_experiment(exp_dir: Path, root: str | None = None) -> int:
    """Copy the table, the metadata and any ledger entry not there yet to ``root``
    (default: the recorded root); returns the number of files copied (0: nothing to do)."""
    exp_dir = Path(exp_dir)
    root = root or recorded_root(exp_dir)
    if not is_elsewhere(root, exp_dir):
        return 0
    copied = 0
    for name in MIRRORED:
        if (exp_dir / name).is_file():
            write_bytes(join(root, name), (exp_dir / name).read_bytes())
            copied += 1
    there = file_sizes(join(root, "ledger"))
    for entry in sorted((exp_dir / "ledger").glob("*.json")):
        if there.get(entry.name) != entry.stat().st_size:  # missing, or an older entry
            mirror_ledger_entry(root, entry)
            copied += 1
    return copied


def try_mirror_experiment(exp_dir: Path, root: str | None = None, log=print) -> bool:
    """The one mirroring policy: copy, and on failure warn once with how to retry.

    The local ledger and table are complete either way (they are what a rerun resumes
    from), so an unreachable bucket never fails a grid or a collect.
    """
    root = root or recorded_root(exp_dir)
    try:
        if mirror_experiment(exp_dir, root):
            log(f"[storage] ledger and trials.parquet/csv copied to {root}")
        return True
    except Exception as exc:
        log(f"[storage] warning: could not copy the ledger and table to {root}: "
            f"{type(exc).__name__}: {exc}; `sweep collect` copies them again")
        return False


def file_sizes(location: str) -> dict[str, int]:
    """{name: size} of the files directly inside a folder (empty if it does not exist)."""
    fs, path = filesystem(location)
    infos = fs.get_file_info(pafs.FileSelector(path, allow_not_found=True))
    return {i.base_name: i.size for i in infos if i.type == pafs.FileType.File}


def worker_env(root: str) -> dict[str, str]:
    """The AWS variables set here, for the nodes of a cluster to write to an S3 ``root``."""
    if not is_uri(root):
        return {}
    return {k: os.environ[k] for k in AWS_ENV if os.environ.get(k)}
