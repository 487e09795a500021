"""Ray: start an embedded local instance or join a cluster; resources per trial.

The embedded instance binds its dashboard to 127.0.0.1 and keeps Ray's token
authentication on: the dashboard asks for the token that ``ray get-auth-token`` prints.
"""
from __future__ import annotations

import math
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from models import gpu_choices  # AUTO_GPU_FRACTION (bench/gpu_check.py)
from models.errors import UserError
from sweep.config import Resources


class ClusterError(UserError, RuntimeError):
    """The cluster cannot run the grid as configured."""


@dataclass(frozen=True)
class Connection:
    started_here: bool
    address: str
    dashboard_url: str | None


def connect(address: str | None = None, *, dashboard_host: str = "127.0.0.1",
            env: dict[str, str] | None = None) -> Connection:
    """Join ``address`` (or ``RAY_ADDRESS``) if given, else start a local instance.

    ``env``: variables the trials need on every node (the storage's AWS settings), passed
    through the job's runtime_env; a local instance inherits them anyway.
    """
    import ray

    address = address or os.environ.get("RAY_ADDRESS") or None
    if address:
        ctx = ray.init(address=address, log_to_driver=False,
                       runtime_env={"env_vars": dict(env)} if env else None)
        started = False
    else:
        # address="local": a new instance, never one that `ray start` left running here.
        ctx = ray.init(address="local", include_dashboard=True, dashboard_host=dashboard_host,
                       log_to_driver=False)
        started = True
    url = ctx.dashboard_url or None
    if url and not url.startswith("http"):
        url = f"http://{url}"
    return Connection(started, ctx.address_info.get("gcs_address", address or ""), url)


def ray_cli() -> str:
    """The `ray` executable beside this Python (the project's venv)."""
    local = Path(sys.executable).with_name("ray")
    return str(local) if local.exists() else (shutil.which("ray") or "ray")


def auth_token() -> str | None:
    """The token the dashboard asks for, as ``ray get-auth-token`` prints it."""
    try:
        out = subprocess.run([ray_cli(), "get-auth-token"], capture_output=True, text=True,
                             timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    token = out.stdout.strip().splitlines()
    return token[-1].strip() if out.returncode == 0 and token else None


def dashboard_lines(conn: Connection) -> list[str]:
    if not conn.dashboard_url:
        return ["Ray dashboard: not available on this cluster"]
    return [f"Ray dashboard: {conn.dashboard_url}  (token: `{ray_cli()} get-auth-token`; "
            "`make dashboard` prints both)"]


def alive_nodes() -> list[dict[str, float]]:
    import ray
    return [n["Resources"] for n in ray.nodes() if n.get("Alive")]


def node_hosts() -> set[str]:
    """The distinct addresses of the alive nodes (more than one: several machines)."""
    import ray
    return {n["NodeManagerAddress"] for n in ray.nodes() if n.get("Alive")}


def per_trial(res: Resources, nodes: list[dict[str, float]]) -> dict[str, float]:
    """Resolve ``auto`` and refuse a request that no node can ever satisfy."""
    has_gpu = any(n.get("GPU", 0) > 0 for n in nodes)
    cpu = 1.0 if res.cpu == "auto" else float(res.cpu)
    auto_gpu = gpu_choices.AUTO_GPU_FRACTION if has_gpu else 0.0
    gpu = auto_gpu if res.gpu == "auto" else float(res.gpu)
    if gpu > 1 and not float(gpu).is_integer():
        raise ClusterError(f"resources.gpu: {gpu} — a trial may take a fraction of one GPU "
                           "or a whole number of GPUs")
    if not any(n.get("CPU", 0) >= cpu and n.get("GPU", 0) >= gpu for n in nodes):
        have = ", ".join(f"{n.get('CPU', 0):g} CPU / {n.get('GPU', 0):g} GPU" for n in nodes)
        raise ClusterError(
            f"resources per trial ({cpu:g} CPU, {gpu:g} GPU) fit on no node of this cluster "
            f"(nodes: {have or 'none'}); the trials would wait forever. Lower resources.cpu / "
            "resources.gpu in the sweep file (or set them to auto), or add such a node.")
    return {"cpu": cpu, "gpu": gpu}


def concurrent_slots(request: dict[str, float], nodes: list[dict[str, float]],
                     max_concurrent: int | None) -> int:
    """How many trials can run at once on these nodes."""
    slots = 0
    for n in nodes:
        fits = [math.floor(n.get("CPU", 0) / request["cpu"] + 1e-9)]
        if request["gpu"] > 0:
            fits.append(math.floor(n.get("GPU", 0) / request["gpu"] + 1e-9))
        slots += max(0, min(fits))
    slots = max(1, slots)
    return min(slots, max_concurrent) if max_concurrent else slots


def describe_nodes(nodes: list[dict[str, Any]]) -> str:
    cpus = sum(n.get("CPU", 0) for n in nodes)
    gpus = sum(n.get("GPU", 0) for n in nodes)
    return f"{len(nodes)} node(s), {cpus:g} CPU, {gpus:g} GPU"


def gpu_memory_bytes() -> int | None:
    """Memory of one GPU of the cluster: this machine's, else asked of a GPU node."""
    try:
        import torch
        if torch.cuda.is_available():
            return int(torch.cuda.get_device_properties(0).total_memory)
        import ray

        @ray.remote(num_gpus=1, num_cpus=0)
        def probe() -> int:
            import torch
            return int(torch.cuda.get_device_properties(0).total_memory)

        return int(ray.get(probe.remote(), timeout=120))
    except Exception:  # no GPU anywhere, or none free: the caller says so
        return None
