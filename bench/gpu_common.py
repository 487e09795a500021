"""What the parts of the GPU check share: budgets, architectures, timing, tables.

A part is a :class:`Part`: a deadline (its own time cap), rows printed as they come
(flushed, so a window that closes early still shows them) and kept for the JSON.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import torch

from bench.speed import ARCHS, BASE, GAN_SETTINGS
from models.config import TrialConfig

CPU_SCALE = 8  # --cpu: every width divided by this (the same depths), so it runs in seconds


@dataclass(frozen=True)
class Budget:
    """How much each part does; ``gpu`` is the real check, ``cpu`` its tiny rehearsal."""
    archs: dict[str, tuple[int, int, int, int]]   # label: (nLayerG, nLayerD, sizeG, sizeD)
    pack_sizes: tuple[int, ...]      # per architecture: a pack of 24 (8 for the largest)
    seconds: float                   # timed seconds of one packing measurement
    warmup: int                      # iterations before timing (> the graph warm-up + capture)
    processes: int                   # (b): configurations as processes sharing the device
    check_arch: tuple[int, int, int, int]
    check_batch: int
    check_iterations: int            # correctness runs
    tf32_iterations: int             # "a few hundred"
    tf32_seeds: int                  # the seed-to-seed spread
    score_samples: int               # I and FD of each TF32 run
    synthetic_images: int            # without a bundle
    peak_n: int                      # matmul size of the measured peak
    caps: dict[str, float] = field(default_factory=dict)   # part: seconds


GPU = Budget(archs=dict(ARCHS), pack_sizes=(24, 24, 8), seconds=4.0, warmup=6, processes=4,
             check_arch=(2, 2, 400, 128), check_batch=64, check_iterations=50,
             tf32_iterations=300, tf32_seeds=3, score_samples=10_000, synthetic_images=60_000,
             peak_n=8192,
             caps={"correctness": 60, "packing": 240, "tf32": 120, "projection": 20,
                   "advice": 10})

CPU = Budget(archs={f"{name.split(' (')[0]} /{CPU_SCALE} ({a},{b},{c // CPU_SCALE},"
                    f"{d // CPU_SCALE})": (a, b, c // CPU_SCALE, d // CPU_SCALE)
                    for name, (a, b, c, d) in ARCHS.items()},
             pack_sizes=(4, 4, 2), seconds=0.2, warmup=2, processes=2,
             check_arch=(3, 3, 24, 16), check_batch=32, check_iterations=10,
             tf32_iterations=8, tf32_seeds=3, score_samples=500, synthetic_images=1024,
             peak_n=256,
             caps={"correctness": 60, "packing": 120, "tf32": 90, "projection": 30,
                   "advice": 10})

# Optimisation settings that do not diverge, for runs that must keep going to be timed.
CALM = [dict(optimD="sgd", optimG="sgd", lr=0.001, dropoutD=False),
        dict(optimD="sgd", optimG="adam", lr=0.0001, dropoutD=True),
        dict(optimD="adam", optimG="adam", lr=0.0001, dropoutD=False),
        dict(optimD="adam", optimG="sgd", lr=0.001, dropoutD=True)]


def gan(arch: tuple[int, int, int, int], **over: Any) -> TrialConfig:
    """A GAN of ``arch`` on the grid's defaults (batch 64, z 100); ``over`` sets the rest."""
    n_g, n_d, s_g, s_d = arch
    values = {**BASE, "family": "gan", "model": "gan", "nLayerG": n_g, "nLayerD": n_d,
              "sizeG": s_g, "sizeD": s_d, **CALM[0]}
    return TrialConfig.from_dict({**values, **over})


def table1_pack(arch: tuple[int, int, int, int], size: int) -> list[TrialConfig]:
    """The first ``size`` of the 24 GAN settings of one architecture (a Table 1 pack)."""
    return [gan(arch, optimD=d, optimG=g, lr=lr, dropoutD=drop)
            for d, g, lr, drop in GAN_SETTINGS[:size]]


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed_rate(trainer: Any, seconds: float, warmup: int) -> tuple[float, int]:
    """(iterations per second, iterations timed) of a Trainer or PackTrainer: ``warmup``
    iterations, then chunks doubling in length until ``seconds`` have passed. Each
    ``run`` ends with a device sync, so the clock sees finished work."""
    trainer.run(until=trainer.iteration + warmup)
    start_it, chunk, t0 = trainer.iteration, 1, time.perf_counter()
    while True:
        trainer.run(until=trainer.iteration + chunk)
        elapsed = time.perf_counter() - t0
        if elapsed >= seconds or trainer.done:
            break
        chunk = min(2 * chunk, 256)
    done = trainer.iteration - start_it
    if done == 0:
        raise RuntimeError("the run stopped before it could be timed (diverged?)")
    return done / elapsed, done


def relative_gap(a: torch.Tensor | float, b: torch.Tensor | float) -> float:
    """max |a - b| / max |b| (0 when both are 0; NaNs equal to NaNs)."""
    a, b = torch.as_tensor(a, dtype=torch.float64), torch.as_tensor(b, dtype=torch.float64)
    both_nan = a.isnan() & b.isnan()
    diff = torch.where(both_nan, torch.zeros_like(a), (a - b).abs())
    scale = float(torch.where(b.isnan(), torch.zeros_like(b), b.abs()).max()) if b.numel() else 0.0
    gap = float(diff.max()) if diff.numel() else 0.0
    if math.isnan(gap):
        return math.inf
    return gap / scale if scale > 0 else (0.0 if gap == 0 else math.inf)


def state_gap(mine: dict[str, torch.Tensor], want: dict[str, torch.Tensor]) -> float:
    """The largest :func:`relative_gap` over the float tensors of two state dicts."""
    gaps = [relative_gap(mine[k].cpu(), v.cpu()) for k, v in want.items() if v.is_floating_point()]
    return max(gaps, default=0.0)


class PartOver(Exception):
    """The part's time cap is reached: the rows so far stand."""


class Part:
    """One part of the check: its cap, its table, its rows."""

    def __init__(self, name: str, cap_s: float, log: Callable[..., None] = print) -> None:
        self.name, self.cap_s, self.log = name, float(cap_s), log
        self.started = time.perf_counter()
        self.rows: list[dict[str, Any]] = []
        self.info: dict[str, Any] = {}
        self.columns: list[tuple[str, str, str, int]] = []

    def left(self) -> float:
        return self.cap_s - (time.perf_counter() - self.started)

    def need(self, seconds: float) -> None:
        """Refuse to start work that would not finish inside the cap."""
        if self.left() < seconds:
            raise PartOver(f"skipped: the part's time cap of {self.cap_s:g} s")

    def title(self, text: str, columns: list[tuple[str, str, str, int]]) -> None:
        """Print the table's title and header; columns are (key, header, format, width)."""
        self.columns = columns
        head = "  ".join(h.ljust(w) if fmt == "" else h.rjust(w) for _, h, fmt, w in columns)
        self.log(f"\n{text}\n{'-' * len(head)}\n{head.rstrip()}", flush=True)

    def row(self, values: dict[str, Any]) -> dict[str, Any]:
        """Keep ``values`` and print them under the header (a status other than ok last)."""
        self.rows.append(values)
        cells = []
        for key, _, fmt, width in self.columns:     # text left, numbers right
            v = values.get(key)
            text = "-" if v is None else (format(v, fmt) if isinstance(v, (int, float))
                                          and not isinstance(v, bool) else str(v))
            cells.append(text.ljust(width) if fmt == "" else text.rjust(width))
        status = values.get("status", "ok")
        line = "  ".join(cells) + ("" if status == "ok" else f"  {status}")
        self.log(line.rstrip(), flush=True)
        return values


def load_images(bundle: str | None, synthetic: int) -> tuple[torch.Tensor, dict[str, Any]]:
    """(N, 1024) training images in [-1, 1] and what they are: the bundle's MNIST digits,
    else ``synthetic`` seeded uniform MNIST-shaped rows (with the reason)."""
    from bench.gpu_bundle import BundleError, load_bundle

    if bundle is not None:
        try:
            b = load_bundle(bundle)
            return b.train_images, {"mode": "bundle", "folder": str(b.folder),
                                    "classifier": str(b.classifier_folder),
                                    "fd_reference": bool(b.manifest.get("fd_reference")),
                                    "classifier_data_source": b.manifest.get(
                                        "classifier_data_source"),
                                    "images": len(b.train_images)}
        except BundleError as exc:
            why = str(exc)
        except Exception as exc:  # e.g. a truncated npz: the check goes on with synthetic data
            why = f"the bundle {bundle} did not load ({type(exc).__name__}: {exc})"
    else:
        why = "no bundle asked for"
    g = torch.Generator().manual_seed(0)
    images = torch.rand(synthetic, 1024, generator=g) * 2 - 1        # (N, 1024)
    return images, {"mode": "synthetic", "why": why, "images": synthetic}
