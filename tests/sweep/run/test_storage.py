"""Where trial files live (sweep/run/records/storage.py): a local folder, and s3:// on a local moto
server, through the same functions."""
from __future__ import annotations

import json

import pyarrow.fs as pafs

from sweep.run.records import storage


def _roundtrip(root: str) -> None:
    loc = storage.join(root, "trials", "k1")
    storage.write_bytes(storage.join(loc, "a.json"), b'{"x": 1}')
    assert storage.exists(storage.join(loc, "a.json"))
    assert json.loads(storage.read_bytes(storage.join(loc, "a.json"))) == {"x": 1}
    assert storage.file_sizes(loc) == {"a.json": 8}
    storage.delete_dir(loc)
    assert not storage.exists(storage.join(loc, "a.json"))
    storage.delete_dir(loc)  # a folder that is not there: nothing to do


def test_local_paths(tmp_path):
    root = storage.resolve(None, tmp_path / "exp")
    assert root == str((tmp_path / "exp").resolve())
    assert storage.resolve("s3://bucket/prefix/", tmp_path) == "s3://bucket/prefix"
    assert storage.join("s3://b/p/", "trials", "k") == "s3://b/p/trials/k"
    _roundtrip(root)
    assert storage.location_of(pafs.LocalFileSystem(), "/a/b") == "/a/b"
    assert storage.location_of(None, "/a/b") == "/a/b"
    assert not storage.is_elsewhere(root, tmp_path / "exp")
    assert storage.is_elsewhere("s3://b/p", tmp_path / "exp")


def test_mirroring_copies_the_table_and_new_entries_once(tmp_path):
    exp, elsewhere = tmp_path / "exp", tmp_path / "nfs"
    (exp / "ledger").mkdir(parents=True)
    (exp / "ledger" / "k1.json").write_text('{"status": "ok"}')
    (exp / "trials.parquet").write_bytes(b"table")
    storage.record_root(exp, str(elsewhere))
    assert storage.mirror_experiment(exp) == 2  # the table and one entry
    assert storage.mirror_experiment(exp) == 1  # the table again; the entry is there
    assert (elsewhere / "ledger" / "k1.json").read_text() == '{"status": "ok"}'
    logs = []
    assert storage.try_mirror_experiment(exp, log=logs.append)
    bad = tmp_path / "file-not-dir"
    bad.write_text("x")
    assert not storage.try_mirror_experiment(exp, str(bad / "sub"), log=logs.append)
    assert "warning: could not copy" in logs[-1] and "sweep collect" in logs[-1]


def test_s3_through_moto(local_s3):
    endpoint, s3 = local_s3
    s3.create_bucket(Bucket="sweep")
    _roundtrip("s3://sweep/exp")
    fs, path = storage.filesystem("s3://sweep/exp/x")
    assert path == "sweep/exp/x" and storage.location_of(fs, path) == "s3://sweep/exp/x"
    assert storage.worker_env("s3://sweep/exp")["AWS_ENDPOINT_URL"] == endpoint
    assert storage.worker_env("/local/path") == {}
