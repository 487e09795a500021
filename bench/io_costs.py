"""What a trial checkpoint costs, to a local folder and to S3 (a local moto server).

A checkpoint is the training state (``Trainer.state_dict()``: weights, Adam moments,
batch-norm statistics, streams) written with torch.save and copied to the experiment's
storage, as Ray Tune persists a reported checkpoint (``pyarrow.fs.copy_files``). Its share
of training time at the default interval is cost / ``resources.checkpoint_every``.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pyarrow.fs as pafs
import torch

from bench.speed import ARCHS, configs_of
from models.train import Trainer
from sweep.config.sweep_file import DEFAULT_CHECKPOINT_EVERY_S
from sweep.run.records import checkpoints, storage


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Moto:
    """A moto S3 server on 127.0.0.1 with one bucket, its AWS variables set while open."""

    def __enter__(self) -> str:
        import boto3
        port = _free_port()
        exe = Path(sys.executable).with_name("moto_server")
        self.proc = subprocess.Popen([str(exe), "-H", "127.0.0.1", "-p", str(port)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.env = {"AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}", "AWS_ACCESS_KEY_ID": "bench",
                    "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "us-east-1"}
        self.saved = {k: os.environ.get(k) for k in self.env}
        os.environ.update(self.env)
        s3 = boto3.client("s3", endpoint_url=self.env["AWS_ENDPOINT_URL"], region_name="us-east-1")
        for _ in range(100):
            try:
                s3.create_bucket(Bucket="bench")
                return "s3://bench/checkpoints"
            except Exception:
                time.sleep(0.2)
        raise RuntimeError("moto_server did not start")

    def __exit__(self, *exc: Any) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)
        for k, v in self.saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _persist(state: dict, root: str, unit: str) -> tuple[float, int]:
    """Seconds to write a checkpoint and copy it to ``root``; its size in bytes."""
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        meta = checkpoints.write_state(state, Path(tmp), unit)
        fs, path = storage.filesystem(storage.join(root, unit))
        fs.create_dir(path, recursive=True)
        pafs.copy_files(tmp, path, destination_filesystem=fs)
        seconds = time.perf_counter() - t0
    checkpoints.read_state(storage.join(root, unit), unit)  # and it reads back intact
    return seconds, meta["bytes"]


def bench_checkpoints(images: torch.Tensor, work: Path, log=print) -> dict[str, Any]:
    out: dict[str, Any] = {"interval_s": DEFAULT_CHECKPOINT_EVERY_S}
    states = {}
    for name in ("paper's best EBGAN (5,2,800,1024)", "largest (5,5,3200,1024)"):
        trainer = Trainer(configs_of(ARCHS[name])[0], images[:512], device="cpu")
        trainer.run(until=2)
        states[name] = trainer.state_dict()
    local = str(work / "checkpoints")
    with Moto() as s3_root:
        for where, root in (("local", local), ("S3 (moto)", s3_root)):
            for name, state in states.items():
                if where != "local" and name.startswith("largest"):
                    continue  # moto (pure Python) takes minutes for 460 MB: not S3's speed
                seconds, size = min(_persist(state, root, f"u{i}") for i in range(2))
                out[f"{where}, {name}"] = {
                    "seconds": seconds, "megabytes": size / 1e6,
                    "share_at_default_interval": seconds / DEFAULT_CHECKPOINT_EVERY_S}
                log(f"  checkpoint {name} to {where}: {size / 1e6:.0f} MB in {seconds:.2f} s "
                    f"({100 * seconds / DEFAULT_CHECKPOINT_EVERY_S:.2f}% of training at one every "
                    f"{DEFAULT_CHECKPOINT_EVERY_S:.0f} s)", flush=True)
    return out
