"""The GPU check: in one command, does the packed trainer work on this GPU and do packs pay?

    python3 bench/gpu_check.py            # on a CUDA machine: about 5-8 minutes
    python3 bench/gpu_check.py --cpu      # the same parts with tiny budgets, in seconds

Runs from the repository root without the project installed, with what a GPU image ships
(PyTorch, numpy, pandas, pyyaml): nothing on its path imports Ray, Optuna, mlxtend,
scikit-learn or SciPy. Data: the bundle `make gpu-bundle` wrote (build/gpu-bundle: MNIST
digits, the scoring classifier and its FD reference), else synthetic MNIST-shaped rows.
Four parts, each with its own time cap, each printing its table as it goes:

    correctness   pack members vs solo runs, divergence, resume, CUDA graph vs eager
    packing       the five-way table (bench/gpu_packing.py)
    tf32          I and FD (or losses) with and without TF32 vs the seed spread
    projection    Table 1's wall time on this device, one per slot and packed
    advice        what models/gpu_choices.py should say, from the tables above

All tables go to a JSON file too (build/gpu-check.json; --cpu: build/gpu-check-cpu.json),
rewritten after every part. A part that fails says why; the script still exits 0.
docs/gpu.md says how to run it on a device machine and how to read it.
"""
from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if sys.path and Path(sys.path[0]).resolve() == ROOT / "bench":
    sys.path[0] = str(ROOT)          # run as a script: import the project, not bench/'s names
elif str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import argparse  # noqa: E402
import datetime as dt  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import platform  # noqa: E402
import subprocess  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402
from typing import Any  # noqa: E402

import torch  # noqa: E402

from bench import gpu_common as common  # noqa: E402
from bench.gpu_bundle import BUNDLE_DIR  # noqa: E402

PARTS = ("correctness", "packing", "tf32", "projection", "advice")
GRACE_S = 30.0   # past a part's cap, a hung part is abandoned and the JSON written as it is


def environment(device: torch.device) -> dict[str, Any]:
    from models import gpu_choices as g

    env = {"started_utc": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
           "python": platform.python_version(), "torch": torch.__version__,
           "cuda_runtime": torch.version.cuda, "device": str(device),
           "cpu_threads": torch.get_num_threads(), "cpus": os.cpu_count(),
           "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None,
           "gpu_choices": {k: getattr(g, k) for k in ("MEASURED_ON", "AUTO_GPU_PACK",
                                                      "AUTO_GPU_FRACTION", "PACK_MEMORY_SHARE",
                                                      "CUDA_GRAPH", "TF32")}}
    try:
        env["commit"] = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                                       capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        env["commit"] = None
    if device.type == "cuda":
        p = torch.cuda.get_device_properties(device)
        env.update(gpu=p.name, capability=f"{p.major}.{p.minor}",
                   gpu_memory_gib=p.total_memory / 2**30, cudnn=torch.backends.cudnn.version())
    return env


class Report:
    """The JSON beside the printed tables, rewritten whole after every part."""

    def __init__(self, path: Path, env: dict[str, Any], data: dict[str, Any]) -> None:
        self.path = path
        self.doc: dict[str, Any] = {"environment": env, "data": data, "parts": {}}
        self.lock = threading.Lock()

    def record(self, part: common.Part, status: str) -> None:
        with self.lock:
            self.doc["parts"][part.name] = {
                "status": status, "seconds": round(time.perf_counter() - part.started, 2),
                "cap_s": part.cap_s, **part.info, "rows": list(part.rows)}
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps(self.doc, indent=1, default=str) + "\n")
            tmp.replace(self.path)


def run_part(name: str, report: Report, budget: common.Budget, fn, grace: float) -> common.Part:
    """Run one part under its cap; a part that hangs past cap + grace ends the process
    (JSON written, exit 0): the minutes left are better spent on a rerun with --only."""
    part = common.Part(name, budget.caps[name])

    def hung() -> None:
        print(f"\n[{name}] hung past its cap of {part.cap_s:g} s + {grace:g} s: giving up",
              flush=True)
        report.record(part, f"failed: still running {part.cap_s + grace:g} s after it started")
        os._exit(0)

    watchdog = threading.Timer(part.cap_s + grace, hung)
    watchdog.daemon = True
    watchdog.start()
    try:
        fn(part)
        status = "ok"
    except common.PartOver as over:
        status = f"stopped: {over} (the rows so far stand)"
        print(f"  [{name}] {status}", flush=True)
    except Exception as exc:  # the check goes on with the next part
        status = f"failed: {type(exc).__name__}: {exc}"
        print(f"  [{name}] {status}\n{traceback.format_exc(limit=4)}", flush=True)
    finally:
        watchdog.cancel()
    report.record(part, status)
    return part


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python3 bench/gpu_check.py",
                                description=__doc__.split("\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cpu", action="store_true", help="the CPU rehearsal: tiny budgets")
    p.add_argument("--bundle", default=str(ROOT / BUNDLE_DIR),
                   help="the data bundle (default: %(default)s); 'none': synthetic data")
    p.add_argument("--out", default=None, help="the JSON (default: build/gpu-check.json, "
                   "--cpu: build/gpu-check-cpu.json)")
    p.add_argument("--only", nargs="+", choices=PARTS, default=list(PARTS),
                   help="run only these parts (projection and advice read the others)")
    p.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker is not None:
        from bench.gpu_packing import worker_main
        return worker_main(json.loads(args.worker))

    t0 = time.perf_counter()
    cuda = torch.cuda.is_available() and not args.cpu
    device = torch.device("cuda" if cuda else "cpu")
    budget = common.GPU if cuda else common.CPU
    if not cuda:
        torch.set_num_threads(1)   # one thread per configuration, as the grid runs on CPUs
        if not args.cpu:
            print("no CUDA device here: running the CPU rehearsal (--cpu)", flush=True)
    torch.manual_seed(0)
    out = Path(args.out) if args.out else ROOT / "build" / (
        "gpu-check.json" if cuda else "gpu-check-cpu.json")
    bundle = None if args.bundle == "none" else args.bundle
    images, data = common.load_images(bundle, budget.synthetic_images)
    if not cuda:
        images = images[: budget.synthetic_images]
    env = environment(device)
    print(f"gpu check on {env.get('gpu', device)} (torch {env['torch']}, CUDA "
          f"{env['cuda_runtime']}), commit {env['commit']}; data: {data['mode']} "
          f"({data.get('folder') or data.get('why')}); JSON: {out}", flush=True)
    report = Report(out, env, data)
    grace = GRACE_S if cuda else 15.0
    scale = 1 if cuda else common.CPU_SCALE
    script = Path(__file__).resolve()
    done: dict[str, common.Part] = {}
    rows = lambda name: done[name].rows if name in done else []  # noqa: E731
    def part_function(name: str):
        """The part's function; its module is imported inside the part, so an import that
        fails on this image fails that part alone."""
        def correctness(part):
            from bench.gpu_correctness import run_correctness
            run_correctness(part, budget, images, device)

        def packing(part):
            from bench.gpu_packing import run_packing
            run_packing(part, budget, images, device, data, script)

        def tf32(part):
            from bench.gpu_tf32 import run_tf32
            run_tf32(part, budget, images, device, data, scale)

        def projection(part):
            from bench.gpu_projection import run_projection
            run_projection(part, rows("packing"))

        def advice(part):
            from bench.gpu_advice import run_advice
            run_advice(part, rows("packing"), rows("correctness"),
                       done["tf32"].info if "tf32" in done else {}, cuda)
        return locals()[name]

    for name in args.only:
        done[name] = run_part(name, report, budget, part_function(name), grace)
    print(f"\ndone in {time.perf_counter() - t0:.0f} s; tables in {out}", flush=True)
    for name, part in report.doc["parts"].items():
        print(f"  {name:<12} {part['seconds']:6.1f} s  {part['status']}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
