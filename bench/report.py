"""The bench's simple measurements (training and scoring speed) and its printed tables."""
from __future__ import annotations

import os
import platform
import time
from pathlib import Path
from typing import Any

import torch

from bench.speed import ARCHS, BASE
from models.config import TrialConfig
from models.train import Trainer

TIMED_SECONDS = 2.0


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    model = platform.processor() or "CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} logical cores"


def _ebgan(arch: tuple[int, int, int, int]) -> TrialConfig:
    n_g, n_d, s_g, s_d = arch
    return TrialConfig.from_dict({**BASE, "family": "ebgan", "model": "ebgan", "nLayerG": n_g,
                                  "nLayerD": n_d, "sizeG": s_g, "sizeD": s_d, "dropoutD": False,
                                  "optimD": "adam", "optimG": "adam", "lr": 1e-3})


def _ms_per_iteration(config: TrialConfig, images: torch.Tensor, device: torch.device) -> float:
    trainer = Trainer(config, images, device=device)
    trainer.run(until=3)
    t0 = time.perf_counter()
    trainer.run(until=8)
    probe = (time.perf_counter() - t0) / 5
    n = int(min(300, max(10, TIMED_SECONDS / max(probe, 1e-4))))
    t0 = time.perf_counter()
    trainer.run(until=8 + n)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return 1e3 * (time.perf_counter() - t0) / n


def bench_training(images: torch.Tensor, device: torch.device) -> dict[str, Any]:
    default_threads = torch.get_num_threads()
    out: dict[str, Any] = {}
    for name, arch in ARCHS.items():
        row = {}
        for label, threads in (("1 thread", 1), (f"{default_threads} threads", default_threads)):
            torch.set_num_threads(threads)
            row[label] = _ms_per_iteration(_ebgan(arch), images, device)
            print(f"  train EBGAN {name}, {label}: {row[label]:.1f} ms/iteration", flush=True)
        out[name] = row
    torch.set_num_threads(default_threads)
    return out


def bench_scoring(images: torch.Tensor, device: torch.device) -> dict[str, Any]:
    from evaluator.convnet import ConvNet
    from evaluator.frechet import feature_statistics
    from evaluator.sampling import classify_features, score_generator

    trainer = Trainer(_ebgan(ARCHS["paper's best EBGAN (5,2,800,1024)"]), images, device=device)
    trainer.run(until=20)
    generator = trainer.result().generator
    classifier = ConvNet().to(device).eval()
    _, feats = classify_features(classifier, images, device=device)
    reference = feature_statistics(feats.double().numpy())
    out = {}
    for label, ref in (("I only", None), ("I and FD", reference)):
        score_generator(generator, classifier, n_samples=1000, device=device, reference=ref)
        t0 = time.perf_counter()
        score_generator(generator, classifier, n_samples=10_000, device=device, reference=ref)
        out[label] = time.perf_counter() - t0
        print(f"  score 10,000 samples, {label}: {out[label]:.2f} s", flush=True)
    return out


def _section(title: str) -> list[str]:
    return ["", title, "-" * len(title)]


def tables(r: dict[str, Any]) -> str:
    lines = [f"device: {r['device']}   torch {r['torch']}, default threads {r['threads']}",
             "load average (1/5/15 min) at start {:.1f} {:.1f} {:.1f}, at end {:.1f} {:.1f} {:.1f}"
             .format(*r["load_average_at_start"], *r["load_average_at_end"])]
    if "training" in r:
        labels = list(next(iter(r["training"].values())))
        lines += _section("training, ms per iteration (EBGAN, batch 64)")
        lines.append(f"{'':<38}" + "".join(f"{t:>14}" for t in labels))
        lines += [f"{n:<38}" + "".join(f"{row[t]:>14.1f}" for t in labels)
                  for n, row in r["training"].items()]
    if "scoring" in r:
        lines += _section("scoring 10,000 samples (best EBGAN G + ConvNet)")
        lines += [f"{k:<38}{v:>10.2f} s" for k, v in r["scoring"].items()]
    if "packing" in r:
        p = r["packing"]
        lines += _section(f"packing: {p['threads']} thread per trial, {p['slots']} trials at a "
                          f"time (GAN packs: 12 optimisation settings x dropout)")
        lines.append(f"{'architecture':<36}{'pack':>5}{'ms/cfg-it alone':>16}{'packed':>9}"
                     f"{'cfgs/h alone':>14}{'packed':>9}{'speed-up':>9}{'GFLOP/s':>9}{'packed':>8}")
        for n, row in p.items():
            if isinstance(row, dict) and "speedup" in row:
                lines.append(f"{n:<36}{row['pack_size']:>5}{row['solo_ms_per_config_iteration']:>16.1f}"
                             f"{row['packed_ms_per_config_iteration']:>9.1f}"
                             f"{row['solo_configs_per_hour']:>14.1f}{row['packed_configs_per_hour']:>9.1f}"
                             f"{row['speedup']:>9.2f}{row['solo_flops'] / 1e9:>9.1f}"
                             f"{row['packed_flops'] / 1e9:>8.1f}")
        pj = p["projection"]
        lines.append(f"device matmul peak (float32, 2048^2): {p['peak_flops'] / 1e9:.1f} GFLOP/s")
        lines.append(f"full Table 1 ({pj['configurations']:,} configurations, 20 epochs) on this "
                     f"device: {pj['solo_hours']:,.0f} h one per trial, {pj['packed_hours']:,.0f} h "
                     f"packed ({pj['solo_hours'] / 24:,.1f} / {pj['packed_hours'] / 24:,.1f} days)")
    if "handout" in r:
        lines += _section("handing out trials: Ray Tune's SearchGenerator + UnitSearcher")
        for n, row in r["handout"].items():
            lines.append(f"{row['trials']:>8,} trials: plan {row['plan_s']:.1f} s, then "
                         f"{row['ms_per_trial']:.2f} ms per trial ({row['per_second']:,.0f}/s)")
    if "driver" in r:
        lines += _section("the real driver, 1-iteration trials that return at once, 2 slots")
        lines.append(f"{'trials':>9}{'plan line':>11}{'1st trial':>11}{'finished/s':>12}"
                     f"{'Ctrl-C->exit':>14}{'exit code':>11}")
        for row in r["driver"].values():
            lines.append(f"{row['trials']:>9,}{row['plan_s']:>10.1f}s"
                         f"{row['start_to_first_trial_s']:>10.1f}s{row['finished_per_s']:>12.1f}"
                         f"{row['ctrl_c_s']:>13.1f}s{row['exit_code']:>11}")
    if "histograms" in r:
        from bench.histograms import table as histograms_table
        lines += _section("the report at full size (faked Table 1 results)")
        lines += histograms_table(r["histograms"])
    if "tune" in r:
        lines += _section("Ray Tune per trial (trivial trials, 2 at a time)")
        for n, row in r["tune"].items():
            lines.append(f"{n:<52}{1e3 * row['s_per_trial']:>8.0f} ms{row['bytes_per_trial'] / 1e3:>9.1f} kB")
    if "checkpoints" in r:
        c = r["checkpoints"]
        lines += _section(f"checkpoints (one every {c['interval_s']:.0f} s by default)")
        for n, row in c.items():
            if isinstance(row, dict):
                lines.append(f"{n:<58}{row['megabytes']:>7.0f} MB{row['seconds']:>7.2f} s"
                             f"{100 * row['share_at_default_interval']:>8.2f}%")
    if "search" in r:
        from bench.search import table as search_table
        lines += _section("search: ASHA against the full grid (bench/search.py), through the CLI")
        lines += search_table(r["search"])
    if "smoke" in r:
        s = r["smoke"]
        lines += _section("smoke sweep (examples/smoke.yaml) through the CLI")
        lines.append(f"{s['trials']} trials in {s['wall_s']:.1f} s ({s['trials_per_hour']:,.0f}/h);"
                     f" mean trial {s['trial_seconds_mean']:.1f} s")
    return "\n".join(lines)
