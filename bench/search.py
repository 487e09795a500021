"""`make bench` section `search`: early stopping (ASHA, issue #20) against the full grid.

A fixed space of 64 configurations of small networks: 48 GANs (2 architectures x the 12
optimisation settings of Table 1 (optimD x optimG x lr) x dropout in D) and 16 EBGANs
(2 architectures x dropout x lr x margin), at a CPU-sized budget (:data:`BUDGET`), run through
the real CLI (``sweep grid``) three times:

- ``full grid``: every configuration to the budget, one per Ray Tune trial;
- ``asha``: each family with ``scheduler: {type: asha, metric: fd, grace, reduction: 3}``
  (Li et al., "A System for Massively Parallel Hyperparameter Tuning", MLSys 2020);
- ``asha + packs``: the same with packs forced (``resources.pack``): the decisions are per
  member and a pack compacts as its members stop (``models/pack_compaction.py``).

Printed per run: configuration-iterations trained (the table's ``iterations_run``, all
attempts) and wall time, both also as a share of the full grid's; configurations stopped;
the best final FD and I among configurations trained to the budget, and the rank of the
best-FD configuration in the full grid (by final FD, 1 = best). The issue's goal: at most a
quarter of the grid's iterations, with a configuration in the full grid's top 5%.

Also measured (issue #20, item 2): what scoring at the rungs costs the paper's best EBGAN
(5, 2, 800, 1024) at grace 1,000 and reduction 3 over the paper's budget (20 epochs of
MNIST), against its training time, one thread as a grid trial gets (goal: under 3%).

Each run's experiment folder and measurement (``bench-search.json``) stay under the bench's
``--results`` folder: a rerun reads them instead of training again.
"""
from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

import yaml

from bench.grid_process import run_grid

BUDGET = 3000            # iterations per configuration (a few minutes of CPU each)
GRACE = 150              # the first rung; then 450 and 1350 (reduction 3)
REDUCTION = 3
SCORE_SAMPLES = 2000     # final I and FD
RUNG_SAMPLES = 2000      # I and FD at a rung: score.rung_samples' default, as many as the final score
PACK = 8                 # members per pack in the packed run
ARCHITECTURES = {"nLayerG": [2, 3], "nLayerD": [2], "sizeG": [128], "sizeD": [64]}
FAMILIES = {
    "gan": {"model": "gan", "axes": {**ARCHITECTURES, "dropoutD": [False, True],
                                     "optimD": ["adam", "sgd"], "optimG": ["adam", "sgd"],
                                     "lr": [0.01, 0.001, 0.0001]}},              # 48
    "ebgan": {"model": "ebgan", "axes": {**ARCHITECTURES, "dropoutD": [False, True],
                                         "optimD": ["adam"], "optimG": ["adam"],
                                         "lr": [0.001, 0.0001], "margin": [5.0, 10.0]}},  # 16
}
RUNS = {  # name -> (scheduler type, None for the full grid; pack)
    "full grid": (None, 1),
    "asha": ("asha", 1),
    "asha + packs": ("asha", PACK),
    "hyperband": ("hyperband", 1),   # asynchronous: brackets protect some configurations longer
}
TIMEOUT_S = 3600
PAPER_BEST_EBGAN = "paper's best EBGAN (5,2,800,1024)"   # bench.speed.ARCHS
PAPER_BUDGET = 20 * (60_000 // 64)      # 20 epochs of MNIST at batch 64: 18,740 iterations
PAPER_GRACE = 1000
PAPER_RUNG_SAMPLES = 2000               # score.rung_samples' default


def configurations() -> int:
    return sum(math.prod(len(v) for v in f["axes"].values()) for f in FAMILIES.values())


def sweep_document(name: str, classifier: Path, scheduler_type: str | None,
                   pack: int) -> dict[str, Any]:
    """The sweep file of one run (``sweep/config/sweep_file.py``'s keys)."""
    scheduled = scheduler_type is not None
    scheduler = {"type": scheduler_type, "metric": "fd", "grace": GRACE, "reduction": REDUCTION}
    families = {fam: {"model": spec["model"], **({"scheduler": scheduler} if scheduled else {}),
                      "axes": spec["axes"]} for fam, spec in FAMILIES.items()}
    score: dict[str, Any] = {"samples": SCORE_SAMPLES, "classifier": str(classifier)}
    if scheduled:
        score["rung_samples"] = RUNG_SAMPLES
    return {"name": name, "seeds": [0], "data": {"source": "mnist-5k"},
            "budget": {"iterations": BUDGET, "batch_size": 64}, "score": score,
            "resources": {"cpu": 1, "gpu": "auto", "max_failures": 1, "pack": pack},
            "families": families}


def folder_name(run: str) -> str:
    return "search-" + run.replace(" + ", "-").replace(" ", "-")


def search_classifier(work: Path) -> Path:
    """The ConvNet the three runs score with: mnist-5k at its default 15 epochs (98.6% test
    accuracy here, 90 s on the 2-core CPU), kept in ``work``."""
    from evaluator.classifier import train_classifier
    from models.data import load_mnist
    folder = work / "classifier-search"
    if not (folder / "manifest.json").exists():
        train_classifier(load_mnist("mnist-5k"), folder, log=lambda line: None)
    return folder


def run_once(run: str, classifier: Path, work: Path, log=print) -> dict[str, Any]:
    """One run through the CLI, or its measurement from an earlier bench (same folder)."""
    scheduler_type, pack = RUNS[run]
    folder = work / folder_name(run)
    measured = folder / "bench-search.json"
    if measured.exists():
        log(f"[search] {run}: read {measured}")
        return json.loads(measured.read_text())
    folder.mkdir(parents=True, exist_ok=True)
    sweep_file = work / f"{folder_name(run)}.yaml"
    doc = sweep_document(folder_name(run), classifier, scheduler_type, pack)
    sweep_file.write_text(yaml.safe_dump(doc, sort_keys=False))
    log(f"[search] {run}: sweep grid -c {sweep_file} --results {folder / 'experiment'}")
    t0 = time.perf_counter()
    with open(work / f"{folder_name(run)}.log", "w") as out:
        code, _ = run_grid(sweep_file, folder / "experiment", timeout=TIMEOUT_S, out=out)
    wall = time.perf_counter() - t0
    if code != 0:
        raise RuntimeError(f"the {run} sweep failed (exit {code}); see {out.name}")
    rows = table_rows(folder / "experiment")
    if len(rows) != configurations():
        raise RuntimeError(f"the {run} sweep recorded {len(rows)} of {configurations()} "
                           f"configurations; see {out.name}")
    result = {"run": run, "wall_s": wall, "pack": pack, "scheduled": scheduler_type is not None,
              "scheduler": scheduler_type, "rows": rows}
    measured.write_text(json.dumps(result, indent=1) + "\n")
    return result


def table_rows(experiment: Path) -> list[dict[str, Any]]:
    """What the comparison needs of each configuration, from the results table."""
    import pandas as pd
    df = pd.read_parquet(experiment / "trials.parquet")
    keep = ["trial_key", "family", "status", "iterations_run", "iterations_done",
            "iterations_planned", "score", "fd"]
    rows = df[keep].to_dict("records")
    for r in rows:
        for k in ("iterations_run", "iterations_done", "iterations_planned"):
            r[k] = None if pd.isna(r[k]) else int(r[k])
        for k in ("score", "fd"):
            r[k] = None if r[k] is None or pd.isna(r[k]) else float(r[k])
    return rows


def _fd(row: dict[str, Any]) -> float:
    """A configuration's final FD; one without (diverged, stopped, error) counts as worst."""
    finished = row["status"] == "ok" and row["iterations_done"] == row["iterations_planned"]
    return row["fd"] if finished and row["fd"] is not None else math.inf


def compare(full: dict[str, Any], run: dict[str, Any]) -> dict[str, Any]:
    """``run`` against the full grid: costs, the best configuration, its rank there."""
    rows, grid = run["rows"], {r["trial_key"]: r for r in full["rows"]}
    iterations = sum(r["iterations_run"] or 0 for r in rows)
    best = min(rows, key=_fd)
    full_fd = _fd(grid[best["trial_key"]])
    rank = 1 + sum(_fd(r) < full_fd for r in grid.values())
    return {"run": run["run"], "iterations": iterations,
            "iterations_share": iterations / max(sum(r["iterations_run"] or 0
                                                     for r in full["rows"]), 1),
            "wall_s": run["wall_s"], "wall_share": run["wall_s"] / full["wall_s"],
            "stopped": sum(r["status"] == "stopped" for r in rows),
            "to_budget": sum(_fd(r) < math.inf for r in rows),
            "best_key": best["trial_key"], "best_family": best["family"],
            "best_fd": _fd(best), "best_fd_score": best["score"],
            "best_score": max((r["score"] for r in rows if _fd(r) < math.inf), default=None),
            "rank_in_full_grid": rank, "configurations": len(grid),
            "top_share": rank / len(grid)}


def rung_cost(images: Any, device: Any, log=print) -> dict[str, Any]:
    """Seconds of rung scoring (I and FD of PAPER_RUNG_SAMPLES samples, per rung) of the
    paper's best EBGAN against its training time to PAPER_BUDGET, both on one thread."""
    import torch

    from bench.report import _ebgan, _ms_per_iteration
    from bench.speed import ARCHS
    from evaluator.convnet import ConvNet
    from evaluator.frechet import feature_statistics
    from evaluator.sampling import classify_features, score_generator
    from models.train import Trainer
    from sweep.config.scheduler import SchedulerConfig, rungs

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        config = _ebgan(ARCHS[PAPER_BEST_EBGAN])
        ms = _ms_per_iteration(config, images, device)
        trainer = Trainer(config, images, device=device)
        trainer.run(until=20)
        classifier = ConvNet().to(device).eval()   # untrained: the cost is the same
        _, feats = classify_features(classifier, images[:2000], device=device)
        reference = feature_statistics(feats.double().numpy())
        score = lambda: score_generator(trainer.G, classifier, n_samples=PAPER_RUNG_SAMPLES,  # noqa: E731
                                        device=device, reference=reference)
        score()
        seconds = []
        for _ in range(3):
            t0 = time.perf_counter()
            score()
            seconds.append(time.perf_counter() - t0)
    finally:
        torch.set_num_threads(threads)
    at = rungs(SchedulerConfig(type="asha", grace=PAPER_GRACE, metric="fd",
                               reduction=REDUCTION), PAPER_BUDGET)
    rung_s, train_s = len(at) * sorted(seconds)[1], PAPER_BUDGET * ms / 1e3
    log(f"  rung scoring of the paper's best EBGAN: {rung_s:.1f} s against {train_s:.0f} s "
        f"of training ({rung_s / train_s:.2%})")
    return {"rungs": at, "samples": PAPER_RUNG_SAMPLES, "budget": PAPER_BUDGET,
            "ms_per_iteration": ms, "score_s": sorted(seconds)[1], "rung_s": rung_s,
            "train_s": train_s, "share": rung_s / train_s}


def bench_search(work: Path, images: Any, device: Any, log=print) -> dict[str, Any]:
    """The three runs (in ``work``), their comparison, and the cost of rung scoring."""
    cost = rung_cost(images, device, log)
    classifier = search_classifier(work)
    runs = {name: run_once(name, classifier, work, log) for name in RUNS}
    full = runs["full grid"]
    return {"budget": BUDGET, "grace": GRACE, "reduction": REDUCTION,
            "configurations": configurations(), "score_samples": SCORE_SAMPLES,
            "rung_samples": RUNG_SAMPLES, "rows": [compare(full, r) for r in runs.values()],
            "rung_cost": cost}


def table(r: dict[str, Any]) -> list[str]:
    lines = [f"{r['configurations']} configurations (48 GANs, 16 EBGANs; small nets), "
             f"{r['budget']:,} iterations each; ASHA (hyperband: its brackets) on FD, grace {r['grace']}, reduction "
             f"{r['reduction']}; final scores on {r['score_samples']:,} samples, rungs on "
             f"{r['rung_samples']:,}",
             f"{'run':<14}{'iterations':>12}{'share':>7}{'wall':>9}{'share':>7}{'stopped':>9}"
             f"{'to budget':>10}{'best FD':>9}{'its I':>7}{'best I':>8}{'rank in grid':>14}"]
    for row in r["rows"]:
        lines.append(f"{row['run']:<14}{row['iterations']:>12,}{row['iterations_share']:>7.0%}"
                     f"{row['wall_s']:>8.0f}s{row['wall_share']:>7.0%}{row['stopped']:>9}"
                     f"{row['to_budget']:>10}{row['best_fd']:>9.2f}"
                     f"{row['best_fd_score'] or math.nan:>7.2f}{row['best_score'] or math.nan:>8.2f}"
                     f"{row['rank_in_full_grid']:>7} of {row['configurations']}")
    c = r.get("rung_cost")
    if c:
        lines.append(f"rung scoring, paper's best EBGAN, 1 thread: {len(c['rungs'])} rungs "
                     f"({', '.join(f'{i:,}' for i in c['rungs'])}) x {c['samples']:,} samples = "
                     f"{c['rung_s']:.1f} s against {c['train_s']:,.0f} s of training to "
                     f"{c['budget']:,} iterations: {c['share']:.2%} (goal < 3%)")
    return lines
