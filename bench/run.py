"""`make bench`: speed and cost on the machine at hand, printed as tables.

    python -m bench.run [-c sweep.yaml] [--results DIR] [--only SECTION ...]

Sections (all by default): training (ms/iteration), scoring (I + FD of 10,000 samples),
packing (packed vs one configuration per trial, FLOP/s, projected Table 1 time), handout
(Ray Tune getting trials from the searcher, per trial), driver (the real driver on 6,657
and 99,855 trials: first trial, throughput, Ctrl-C), tune (Ray Tune's cost per trial:
reused workers, loggers), checkpoints (local and S3), smoke (the smoke sweep end to end),
histograms (`sweep histograms` on a faked full Table 1 table: bench/histograms.py), search
(early stopping against the full grid: 64 small configurations run three times through the
CLI, bench/search.py). Writes bench/results.json. About 10 minutes on a 2-core CPU without
`search`, which alone takes about half an hour; other processes on the machine skew every
number (the load average is printed).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
import yaml

from bench import report
from bench.grid_process import run_grid
from models.data import load_mnist
from models.train import default_device

REPO = Path(__file__).resolve().parents[1]
SMOKE = REPO / "examples" / "smoke.yaml"
RESULTS_JSON = Path(__file__).resolve().with_name("results.json")
SECTIONS = ("training", "scoring", "packing", "handout", "driver", "tune", "checkpoints",
            "smoke", "histograms", "search")


def bench_classifier(work: Path) -> Path:
    """A 1-epoch mnist-5k classifier for the sweeps the bench runs (timings do not depend
    on its accuracy)."""
    from evaluator.classifier import train_classifier
    folder = work / "classifier"
    if not (folder / "manifest.json").exists():
        train_classifier(load_mnist("mnist-5k"), folder, epochs=1, log=lambda line: None,
                         probe_samples=200)
    return folder


def bench_smoke(classifier: Path, work: Path) -> dict[str, Any]:
    doc = yaml.safe_load(SMOKE.read_text())
    doc["score"]["classifier"] = str(classifier)
    path = work / "smoke.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    t0 = time.perf_counter()
    code, text = run_grid(path, work / "smoke", timeout=900)
    wall = time.perf_counter() - t0
    if code != 0:
        raise RuntimeError(f"the smoke sweep failed (exit {code}):\n{(text or '')[-3000:]}")
    import pandas as pd
    df = pd.read_parquet(work / "smoke" / "trials.parquet")
    return {"trials": len(df), "wall_s": wall, "trials_per_hour": len(df) / wall * 3600,
            "trial_seconds_mean": float(df["wall_time_s"].mean())}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.splitlines()[0])
    parser.add_argument("-c", "--config", default="sweep.yaml", help="the grid the driver runs")
    parser.add_argument("--results", default=None,
                        help="keep the bench's experiments here (default: a temp folder, deleted)")
    parser.add_argument("--only", nargs="+", choices=SECTIONS, default=list(SECTIONS))
    args = parser.parse_args(argv)
    sweep_file = Path(args.config).resolve()
    work = Path(args.results or tempfile.mkdtemp(prefix="ebgan-bench-")).resolve()
    work.mkdir(parents=True, exist_ok=True)
    device = default_device()
    images = load_mnist("mnist-5k", flatten=True).train_images  # (4000, 1024)
    r: dict[str, Any] = {"device": report.device_name(device), "device_type": device.type,
                         "load_average_at_start": os.getloadavg(), "torch": torch.__version__,
                         "threads": torch.get_num_threads(), "cpus": os.cpu_count()}
    print(f"bench on {r['device']} (torch {r['torch']}, {r['threads']} threads)", flush=True)
    t_start = time.perf_counter()
    try:
        from bench import driver, io_costs, speed
        if "training" in args.only:
            r["training"] = report.bench_training(images, device)
        if "scoring" in args.only:
            r["scoring"] = report.bench_scoring(images, device)
        if "packing" in args.only:
            slots = max(1, (os.cpu_count() or 1)) if device.type == "cpu" else 4
            r["packing"] = speed.bench_packing(images, device, threads=1, slots=slots)
        if "handout" in args.only:
            r["handout"] = {f"{n} seed(s)": driver.hand_out_cost(sweep_file, seeds=n)
                            for n in (1, 15)}
        classifier = bench_classifier(work) if {"driver", "smoke"} & set(args.only) else None
        if "driver" in args.only:
            r["driver"] = {f"{n} seed(s)": driver.driver_at_scale(sweep_file, classifier, work, n)
                           for n in (1, 15)}
        if "tune" in args.only:
            r["tune"] = driver.trivial_trials(work)
        if "checkpoints" in args.only:
            r["checkpoints"] = io_costs.bench_checkpoints(images, work)
        if "smoke" in args.only:
            r["smoke"] = bench_smoke(classifier, work)
        if "histograms" in args.only:
            from bench.histograms import bench_histograms
            r["histograms"] = bench_histograms(sweep_file, work)
        if "search" in args.only:
            from bench.search import bench_search
            r["search"] = bench_search(work, images, device,
                                       log=lambda line: print(line, flush=True))
    finally:
        if args.results is None:
            shutil.rmtree(work, ignore_errors=True)
    r["bench_seconds"] = time.perf_counter() - t_start
    r["load_average_at_end"] = os.getloadavg()
    RESULTS_JSON.write_text(json.dumps(r, indent=2, default=str) + "\n")
    print()
    print(report.tables(r))
    print(f"\n(bench took {r['bench_seconds']:.0f} s; results in {RESULTS_JSON})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
