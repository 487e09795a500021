"""Where trial files live: a local folder, an NFS path, or an ``s3://bucket/prefix`` URI.

Everything goes through ``pyarrow.fs`` so the same code writes to a laptop's disk and to a
bucket; S3 endpoint and credentials come from the standard AWS environment variables
(``AWS_ENDPOINT_URL`` for S3-compatible servers).
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pyarrow.fs as pafs


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
        path = Path(location)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
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
