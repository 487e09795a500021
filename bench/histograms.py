"""`make histograms` on Table 1's full grid, faked: how long the report takes at full size.

    python -m bench.histograms [-c sweep.yaml] [--fanova]

Builds a results table with every configuration of the sweep file (Table 1: 512 EBGANs,
6,144 GANs, 1 EBGAN-PT) and made-up results that depend on the settings the way a
researcher would expect (GANs fail at lr 0.01 with SGD, EBGANs score higher, larger nets
take longer), writes plan.json and a classifier.json, then times ``sweep histograms`` as
a real process (all figures, the analysis, summary.md and the HParams sessions) and the
importance evaluators on the 6,144-configuration GAN family (fANOVA with ``--fanova``: it
takes minutes on 2 cores).
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]


def fake_table(sweep_file: Path, exp: Path, seed: int = 0) -> pd.DataFrame:
    """The sweep file's configurations with synthetic results; writes the experiment."""
    from sweep.config import load_config, plan, trials

    cfg = load_config(sweep_file)
    rng = np.random.default_rng(seed)
    rows = []
    for i, t in enumerate(trials(cfg)):
        c = t.to_dict()
        gan = c["model"] == "gan"
        base = (1.0 + 0.4 * (c["optimD"] == "adam") + 0.3 * (c["optimG"] == "adam")
                - 0.5 * (c["lr"] == 0.0001)) if gan else 1.9 + 0.05 * c["nLayerG"]
        score = float(np.clip(base + rng.normal(0, 0.15), 0.05, 2.3))
        fails = gan and c["lr"] == 0.01 and "sgd" in (c["optimD"], c["optimG"]) \
            and rng.random() < 0.3
        rows.append({**c, "trial_key": t.key, "status": "diverged" if fails else "ok",
                     "score": np.nan if fails else score,
                     "fd": np.nan if fails else float(np.exp(4.5 - 1.2 * score
                                                             + rng.normal(0, 0.2))),
                     "iterations_done": 18740, "order": i,
                     "wall_time_s": 30.0 + 0.02 * (c["sizeG"] + c["sizeD"]) * c["nLayerG"],
                     "data_source": "mnist", "trial_dir": str(exp / "trials" / t.key)})
    df = pd.DataFrame(rows)
    exp.mkdir(parents=True, exist_ok=True)
    df.to_parquet(exp / "trials.parquet")
    (exp / "plan.json").write_text(json.dumps(plan(cfg)))
    (exp / "classifier.json").write_text(json.dumps(
        {"real_data_score": 2.25, "test_accuracy": 0.993, "data_source": "mnist", "n_test": 10000}))
    return df


def time_importance(df: pd.DataFrame, evaluator: str) -> float:
    from sweep.report.analysis.importance import importances
    t0 = time.perf_counter()
    importances(df[df["family"] == "gan"], "score", evaluator=evaluator)
    return time.perf_counter() - t0


def bench_histograms(sweep_file: Path, work: Path, fanova: bool = False) -> dict[str, Any]:
    exp = work / "histograms"
    df = fake_table(sweep_file, exp)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    cpu0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "sweep", "histograms", "--results", str(exp)],
                          cwd=REPO, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    cpu1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-3000:])
    out = {"rows": len(df), "families": df["family"].value_counts().to_dict(),
           "histograms_s": seconds, "histograms_cpu_s": cpu, "ped_anova_gan_s": time_importance(df, "ped-anova"),
           "load_average": os.getloadavg()}
    if fanova:
        out["fanova_gan_s"] = time_importance(df, "fanova")
    return out


def table(r: dict[str, Any]) -> list[str]:
    lines = [f"sweep histograms on {r['rows']:,} faked trials "
             f"({', '.join(f'{v:,} {k}' for k, v in r['families'].items())}): "
             f"{r['histograms_s']:.1f} s wall, {r['histograms_cpu_s']:.1f} s CPU (target < 60 s)",
             f"importance of I on the 6,144 GANs: PED-ANOVA {r['ped_anova_gan_s']:.1f} s"
             + (f", fANOVA {r['fanova_gan_s']:.1f} s" if "fanova_gan_s" in r else "")]
    return lines


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.histograms", description=__doc__.splitlines()[0])
    p.add_argument("-c", "--config", default="sweep.yaml")
    p.add_argument("--fanova", action="store_true", help="also time fANOVA (minutes)")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="ebgan-bench-hist-") as work:
        r = bench_histograms(Path(args.config).resolve(), Path(work), args.fanova)
    print("\n".join(table(r)) + f"\n(load average {r['load_average'][0]:.1f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
