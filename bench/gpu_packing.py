"""The five-way packing table: does a pack pay on this device, and how much?

For the small, the paper's best and the largest architecture of Table 1 (GAN packs, the
24 optimisation settings x dropout of one architecture; 8 for the largest), configuration-
iterations per second of
    (a) one configuration alone on the device,
    (b) several configurations as as many processes sharing it (what `gpu: 0.25` does),
    (c) one pack, eager,
    (d) the same pack with its step captured as a CUDA graph,
    (e) the same with TF32 matmuls,
with the achieved FLOP/s (bench.speed.flops_per_iteration), its fraction of the measured
matmul peak (float32 for a-d, TF32 for e) and the device memory the pack took (peak
allocated, beside models.pack_plan.pack_bytes's estimate).
"""
from __future__ import annotations

import gc
import json
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable

import torch

from bench.gpu_common import CALM, Budget, Part, PartOver, gan, load_images, sync, \
    table1_pack, timed_rate
from bench.speed import flops_per_iteration, matmul_peak
from models.gpu_choices import set_tf32
from models.pack import PackTrainer
from models.pack_plan import pack_bytes
from models.train import Trainer

COLUMNS = [("arch", "architecture", "", 36), ("mode", "mode", "", 26),
           ("members", "configs", "d", 7), ("rate", "cfg-it/s", ".1f", 9),
           ("tflops", "TFLOP/s", ".3f", 8), ("of_peak", "% peak", ".1f", 6),
           ("gib", "GiB", ".2f", 6), ("est_gib", "est. GiB", ".2f", 8),
           ("vs_b", "x (b)", ".2f", 6)]
SPAWN_S = 120.0   # for the worker processes to import torch and load the data


def _memory(device: torch.device) -> Callable[[], float | None]:
    """Start counting the device memory allocated from now; the returned function gives
    the peak since then in GiB (None on the CPU)."""
    if device.type != "cuda":
        return lambda: None
    gc.collect()
    torch.cuda.empty_cache()
    base = torch.cuda.memory_allocated(device)
    torch.cuda.reset_peak_memory_stats(device)
    return lambda: (torch.cuda.max_memory_allocated(device) - base) / 2**30


def _measure(make: Callable[[], Any], budget: Budget, device: torch.device) -> dict[str, Any]:
    peak = _memory(device)
    trainer = make()
    rate, its = timed_rate(trainer, budget.seconds, budget.warmup)
    out = {"rate": rate * getattr(trainer, "members", 1), "iterations_timed": its, "gib": peak()}
    del trainer
    return out


class Workers:
    """``n`` processes of this script (``--worker``), each training one configuration on
    command, started together: the configurations-as-processes row (b)."""

    def __init__(self, script: Path, n: int, spec: dict[str, Any]) -> None:
        self.procs = [subprocess.Popen([sys.executable, str(script), "--worker",
                                        json.dumps({**spec, "index": i})],
                                       stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                       bufsize=1) for i in range(n)]
        self.lines: list[queue.Queue] = []
        self.broken = False
        for p in self.procs:
            q: queue.Queue = queue.Queue()
            threading.Thread(target=lambda p=p, q=q: [q.put(x) for x in p.stdout] + [q.put(None)],
                             daemon=True).start()
            self.lines.append(q)

    def _all(self, deadline: float) -> list[dict[str, Any]]:
        out = []
        for i, q in enumerate(self.lines):
            try:
                line = q.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                raise RuntimeError(f"worker {i} did not answer in time") from None
            if line is None:
                raise RuntimeError(f"worker {i} exited (code {self.procs[i].wait()})")
            out.append(json.loads(line))
        return out

    def send(self, message: dict[str, Any]) -> None:
        for p in self.procs:
            p.stdin.write(json.dumps(message) + "\n")
            p.stdin.flush()

    def ask(self, message: dict[str, Any], timeout: float) -> list[dict[str, Any]]:
        """Send ``message`` to every worker and read one answer each; after any failure
        the workers are closed and ``broken`` (their answers would be out of step)."""
        try:
            self.send(message)
            return self._all(time.monotonic() + timeout)
        except Exception:
            self.broken = True
            self.close()
            raise

    def close(self) -> None:
        for p in self.procs:
            try:
                p.stdin.close()
            except OSError:
                pass
        for p in self.procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()


def worker_main(spec: dict[str, Any]) -> int:
    """One process of row (b): loads the data, then per command builds, warms up, says
    ready, waits for go and trains for the given seconds; prints one JSON line each."""
    device = torch.device(spec["device"])
    if spec.get("threads"):
        torch.set_num_threads(int(spec["threads"]))
    images, _ = load_images(spec.get("bundle"), int(spec["synthetic"]))
    images = images[: spec["images"]].to(device)
    say = lambda **kv: print(json.dumps(kv), flush=True)  # noqa: E731
    say(loaded=True)
    for line in sys.stdin:
        cmd = json.loads(line)
        peak = _memory(device)
        trainer = Trainer(gan(tuple(cmd["arch"]), **CALM[spec["index"] % len(CALM)]), images,
                          device=device)
        trainer.run(until=cmd["warmup"])
        sync(device)
        say(ready=True)
        go = sys.stdin.readline()
        if not go:                     # the parent gave up on this row
            break
        if json.loads(go).get("go"):
            rate, its = timed_rate(trainer, cmd["seconds"], 0)
            say(rate=rate, iterations_timed=its, gib=peak())
        del trainer
    return 0


def run_packing(part: Part, budget: Budget, images: torch.Tensor, device: torch.device,
                data: dict[str, Any], script: Path) -> None:
    images = images.to(device)
    cuda = device.type == "cuda"
    n = budget.processes
    workers = Workers(script, n, {"device": str(device), "bundle": data.get("folder"),
                                  "synthetic": budget.synthetic_images, "images": len(images),
                                  "threads": None if cuda else 1})
    why = None
    try:
        ready = workers._all(time.monotonic() + min(SPAWN_S, part.left()))
        assert all(r.get("loaded") for r in ready)
        part.info["workers_started_s"] = round(time.perf_counter() - part.started, 2)
    except Exception as exc:  # row (b) cannot run; the others can
        workers.close()
        workers, why = None, f"failed: the {n} worker processes did not start ({exc})"
    reps = 20 if cuda else 5     # a TF32 8192^3 matmul takes ~3 ms on a recent GPU
    peaks = {"float32": matmul_peak(device, budget.peak_n, reps)}
    if cuda:
        set_tf32(True)
        peaks["tf32"] = matmul_peak(device, budget.peak_n, reps)
        set_tf32(False)
    part.info["peak_flops"] = peaks
    part.title(f"packing on {device}: configuration-iterations per second; measured matmul peak "
               + ", ".join(f"{k} {v / 1e12:.2f} TFLOP/s" for k, v in peaks.items()), COLUMNS)
    try:
        for (label, arch), size in zip(budget.archs.items(), budget.pack_sizes):
            configs = table1_pack(arch, size)
            flops = flops_per_iteration(configs[0])
            est = pack_bytes(configs[0], size) / 2**30
            modes = [("a", "(a) one alone", 1), ("b", f"(b) {n} processes (gpu: {1 / n:g})", n),
                     ("c", f"(c) pack of {size}, eager", size),
                     ("d", f"(d) pack of {size}, CUDA graph", size),
                     ("e", f"(e) pack of {size}, graph + TF32", size)]
            rates: dict[str, float] = {}
            for key, mode, members in modes:
                row = {"arch": label, "mode": mode, "key": key, "members": members,
                       "flops_per_iteration": flops,
                       "est_gib": est if key in "cde" else None}
                started = time.perf_counter()
                try:
                    part.need(3 * budget.seconds + (10 if cuda else 0))
                    row.update(_mode(key, arch, configs, images, budget, device, workers,
                                     part, why if workers is None else None))
                except PartOver:
                    raise
                except Exception as exc:  # one mode failing (OOM, capture) leaves the rest
                    row["status"] = f"failed: {type(exc).__name__}: {str(exc)[:160]}"
                finally:
                    row["wall_s"] = round(time.perf_counter() - started, 2)
                    set_tf32(False)
                    gc.collect()
                    if cuda:
                        torch.cuda.empty_cache()
                if "rate" in row:
                    rates[key] = row["rate"]
                    row["tflops"] = row["rate"] * flops / 1e12
                    ref = peaks["tf32" if key == "e" else "float32"]
                    row["of_peak"] = 100.0 * row["rate"] * flops / ref
                    row["vs_b"] = row["rate"] / rates["b"] if "b" in rates else None
                part.row(row)
    except PartOver as over:
        part.row({"arch": "(the rest)", "status": str(over)})
    finally:
        if workers is not None:
            workers.close()


def _mode(key: str, arch, configs, images, budget: Budget, device: torch.device,
          workers: Workers | None, part: Part, why: str | None) -> dict[str, Any]:
    if key == "a":
        return _measure(lambda: Trainer(gan(arch, **CALM[2]), images, device=device), budget,
                        device)
    if key == "b":
        if workers is None or workers.broken:
            return {"status": why or "failed: the worker processes failed on an earlier row"}
        timeout = max(30.0, 6 * budget.seconds + 60)
        workers.ask({"arch": list(arch), "warmup": budget.warmup, "seconds": budget.seconds},
                    timeout)
        got = workers.ask({"go": True}, timeout)
        gib = [g["gib"] for g in got]
        return {"rate": sum(g["rate"] for g in got), "iterations_timed": min(
            g["iterations_timed"] for g in got), "gib": None if None in gib else max(gib),
            "per_process": got}
    if device.type != "cuda":
        if key == "c":
            return _measure(lambda: PackTrainer(configs, images, device=device), budget, device)
        return {"status": "skipped: needs CUDA"}
    graph = key in "de"
    if key == "e":
        set_tf32(True)
    return _measure(lambda: PackTrainer(configs, images, device=device, cuda_graph=graph),
                    budget, device)
