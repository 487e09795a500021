"""What a configuration costs on this device: ms per iteration alone and packed, FLOP/s,
scoring, and the projected wall time of the full Table 1 grid.

Packs are measured against one configuration per trial the way the grid runs without them
(same resources: each trial gets `cpu` threads, `slots` trials at a time), for a small
architecture, the paper's best EBGAN and the largest of Table 1, with the 24 GAN
optimisation settings x dropout of one architecture (a Table 1 pack).
"""
from __future__ import annotations

import time
from typing import Any

import torch

from models.config import TrialConfig
from models.nets import discriminator_shapes, generator_shapes
from models.train import Trainer

BASE = dict(seed=0, batch_size=64, z_dim=100, margin=10.0, pt_weight=0.0, dropout=0.5,
            beta1=0.5, beta2=0.999, iterations=10**6)
ARCHS = {  # name: (nLayerG, nLayerD, sizeG, sizeD)
    "small (2,2,400,128)": (2, 2, 400, 128),
    "paper's best EBGAN (5,2,800,1024)": (5, 2, 800, 1024),
    "largest (5,5,3200,1024)": (5, 5, 3200, 1024),
}
GAN_SETTINGS = [(d, g, lr, drop) for d in ("adam", "sgd") for g in ("adam", "sgd")
                for lr in (0.01, 0.001, 0.0001) for drop in (True, False)]  # 24


def configs_of(arch: tuple[int, int, int, int], model: str = "gan") -> list[TrialConfig]:
    n_g, n_d, s_g, s_d = arch
    return [TrialConfig.from_dict({**BASE, "family": model, "model": model, "nLayerG": n_g,
                                   "nLayerD": n_d, "sizeG": s_g, "sizeD": s_d, "dropoutD": drop,
                                   "optimD": d, "optimG": g, "lr": lr})
            for d, g, lr, drop in GAN_SETTINGS]


def flops_per_iteration(c: TrialConfig) -> float:
    """Matmul FLOPs of one training iteration: 2 FLOPs per weight per sample for each
    forward pass, twice that for a backward pass. G: forward + backward (3x); D: three
    forward passes (real, fake for D, fake for G), two backward passes with weight
    gradients (D step) and one to its input only (G step): 3 + 4 + 1 = 8x."""
    weights = lambda shapes: sum(s.d_in * s.d_out for s in shapes)  # noqa: E731
    p_g = weights(generator_shapes(c.nLayerG, c.sizeG, c.z_dim))
    p_d = weights(discriminator_shapes(c.model, c.nLayerD, c.sizeD))
    return 2.0 * c.batch_size * (3 * p_g + 8 * p_d)


def _timed(make, images: torch.Tensor, device: torch.device, iterations: int) -> float:
    """Seconds per iteration of a fresh trainer, after a warm-up of 2 iterations."""
    trainer = make()
    trainer.run(until=2)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    t0 = time.perf_counter()
    trainer.run(until=2 + iterations)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return (time.perf_counter() - t0) / iterations


def matmul_peak(device: torch.device, n: int = 2048, reps: int = 5) -> float:
    """FLOP/s of a large float32 matmul here: the ceiling the training could approach."""
    a = torch.randn(n, n, device=device)
    b = torch.randn(n, n, device=device)
    a @ b
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    t0 = time.perf_counter()
    for _ in range(reps):
        a @ b
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return 2.0 * n ** 3 * reps / (time.perf_counter() - t0)


def bench_packing(images: torch.Tensor, device: torch.device, *, threads: int, slots: int,
                  seconds: float = 4.0, log=print) -> dict[str, Any]:
    """Per architecture: configurations per hour and FLOP/s, one per trial vs packed."""
    from models.pack import PackTrainer

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    out: dict[str, Any] = {"threads": threads, "slots": slots, "peak_flops": matmul_peak(device)}
    try:
        for name, arch in ARCHS.items():
            # A pack of 24 of the largest holds ~13 GB: fine on a GPU, not twice in 24 GB RAM.
            size = 8 if device.type == "cpu" and name.startswith("largest") else 24
            configs = configs_of(arch)[:size]
            budget = configs[0].replace(iterations=None).planned_iterations(60_000)
            probe = _timed(lambda: Trainer(configs[0], images, device=device), images, device, 2)
            n = int(min(50, max(3, seconds / max(probe, 1e-4))))
            solo = [_timed(lambda c=c: Trainer(c, images, device=device), images, device, n)
                    for c in (configs[0], configs[-1])]  # the first and last settings
            solo_s = sum(solo) / len(solo)
            packed_s = _timed(lambda: PackTrainer(configs, images, device=device), images,
                              device, max(2, n // len(configs)))
            flops = flops_per_iteration(configs[0])
            row = {"iterations_timed": n, "pack_size": len(configs),
                   "solo_ms_per_config_iteration": 1e3 * solo_s,
                   "packed_ms_per_config_iteration": 1e3 * packed_s / len(configs),
                   "solo_configs_per_hour": slots * 3600 / (solo_s * budget),
                   "packed_configs_per_hour": slots * 3600 / (packed_s / len(configs) * budget),
                   "solo_flops": flops / solo_s, "packed_flops": flops * len(configs) / packed_s,
                   "flops_per_iteration": flops}
            row["speedup"] = row["packed_configs_per_hour"] / row["solo_configs_per_hour"]
            out[name] = row
            log(f"  packing {name}: {row['solo_ms_per_config_iteration']:.1f} ms/config-iteration "
                f"alone, {row['packed_ms_per_config_iteration']:.1f} packed "
                f"(x{row['speedup']:.2f})", flush=True)
    finally:
        torch.set_num_threads(before)
    out["projection"] = project_table1(out, slots)
    return out


def project_table1(measured: dict[str, Any], slots: int) -> dict[str, float]:
    """Wall time of the full Table 1 grid here: each configuration's time interpolated by
    its FLOPs between the measured architectures (piecewise linear), `slots` at a time."""
    from pathlib import Path

    from sweep.config import load_config, trials

    import numpy as np

    rows = sorted((m["flops_per_iteration"], m["solo_ms_per_config_iteration"],
                   m["packed_ms_per_config_iteration"])
                  for m in measured.values() if isinstance(m, dict) and "speedup" in m)
    x, solo_ms, packed_ms = (np.array(col) for col in zip(*rows))
    grid = trials(load_config(Path(__file__).resolve().parents[1] / "sweep.yaml"))
    flops = np.array([flops_per_iteration(c) for c in grid])
    its = np.array([c.planned_iterations(60_000) for c in grid])
    solo = float((np.interp(flops, x, solo_ms) / 1e3 * its).sum())
    packed = float((np.interp(flops, x, packed_ms) / 1e3 * its).sum())
    return {"configurations": len(grid), "solo_hours": solo / slots / 3600,
            "packed_hours": packed / slots / 3600}
