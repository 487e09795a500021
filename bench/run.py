"""`make bench`: what one trial costs on this machine, and what Ray Tune adds to it.

    python -m bench.run [-c sweep.yaml] [--results DIR]

Measures, on the machine at hand (CUDA when available):
  1. ms per training iteration (models.train.train, batch 64, mnist-5k images, after a
     warm-up) of the smallest configuration, the paper's best EBGAN and the largest, with
     1 torch thread and with the default thread count;
  2. seconds to score 10,000 samples (the best EBGAN's generator, a ConvNet);
  3. Ray Tune's overhead per trial: 200 trivial function trials, 2 at a time, with
     reuse_actors (and 50 without: each starts a worker process); then the real driver (sweep.grid.run_grid) on 200 configurations
     of the sweep file's grid at 1 iteration and 100 score samples: its wall time against
     the trials' own wall_time_s;
  4. the smoke sweep (examples/smoke.yaml) end to end through the CLI: wall time, trials/h.
Prints a table and writes bench/results.json. About 5-10 minutes on a 2-core CPU.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import sweep.grid  # noqa: F401  (sets Tune's environment as the grid does, before ray.tune)
import torch
import yaml

from evaluator.convnet import ConvNet
from evaluator.sampling import score_generator
from models.data import load_mnist
from models.train import train
from sweep.config import classifier_dir, load_config

REPO = Path(__file__).resolve().parents[1]
SMOKE = REPO / "examples" / "smoke.yaml"
RESULTS_JSON = Path(__file__).resolve().with_name("results.json")

COMMON = dict(optimD="adam", optimG="adam", lr=1e-3, seed=0, batch_size=64, z_dim=100,
              margin=10.0, pt_weight=0.0, dropout=0.5, beta1=0.5, beta2=0.999)
CONFIGS = {  # EBGANs, Adam/Adam, lr 1e-3
    "smallest (2,2,400,128)": dict(model="ebgan", nLayerG=2, nLayerD=2, sizeG=400, sizeD=128,
                                   dropoutD=False),
    "best EBGAN (5,2,800,1024)": dict(model="ebgan", nLayerG=5, nLayerD=2, sizeG=800,
                                      sizeD=1024, dropoutD=False),
    "largest (5,5,3200,1024,drop)": dict(model="ebgan", nLayerG=5, nLayerD=5, sizeG=3200,
                                         sizeD=1024, dropoutD=True),
}
TIMED_SECONDS = 2.0       # each timed training run lasts about this long
TRIVIAL_TRIALS = 200
# Without reuse_actors every trial starts a worker process (~1-2 s on a 2-core CPU), so 200
# would take minutes; the per-trial cost is steady after a few dozen.
TRIVIAL_TRIALS_NO_REUSE = 50
OVERHEAD_TRIALS = 200


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


# --- 1. training ---------------------------------------------------------------------------
def ms_per_iteration(config: dict, images: torch.Tensor, device: torch.device) -> tuple[float, int]:
    """(ms per iteration, iterations timed) of one configuration, after a warm-up."""
    train(config, images, iterations=3, device=device)                     # warm-up
    probe = train(config, images, iterations=5, device=device).record.ms_per_iteration
    n = int(min(300, max(10, TIMED_SECONDS * 1000 / max(probe, 1e-3))))
    return train(config, images, iterations=n, device=device).record.ms_per_iteration, n


def bench_training(images: torch.Tensor, device: torch.device) -> dict[str, Any]:
    default_threads = torch.get_num_threads()
    out: dict[str, Any] = {}
    for name, cfg in CONFIGS.items():
        config = {**COMMON, **cfg}
        row = {}
        for label, threads in (("1 thread", 1), (f"{default_threads} threads", default_threads)):
            torch.set_num_threads(threads)
            ms, n = ms_per_iteration(config, images, device)
            row[label] = {"ms_per_iteration": ms, "iterations": n}
            print(f"  train {name}, {label}: {ms:.1f} ms/iteration ({n} timed)", flush=True)
        out[name] = row
    torch.set_num_threads(default_threads)
    return out


# --- 2. scoring ----------------------------------------------------------------------------
def bench_scoring(images: torch.Tensor, device: torch.device) -> dict[str, Any]:
    config = {**COMMON, **CONFIGS["best EBGAN (5,2,800,1024)"]}
    generator = train(config, images, iterations=20, device=device).generator
    classifier = ConvNet().to(device).eval()
    score_generator(generator, classifier, n_samples=1000, device=device)   # warm-up
    t0 = time.perf_counter()
    scored = score_generator(generator, classifier, n_samples=10_000, device=device)
    wall = time.perf_counter() - t0
    print(f"  score 10,000 samples: {wall:.2f} s", flush=True)
    return {"seconds_10k": wall, "n_samples": scored.n_samples}


# --- 3a. Ray Tune with a trivial trainable -------------------------------------------------
def _trivial(config: dict) -> None:
    from ray import tune
    tune.report({"value": config["i"]})


def bench_trivial(work: Path, no_reuse_trials: int = TRIVIAL_TRIALS_NO_REUSE) -> dict[str, Any]:
    import logging

    import ray
    from ray import tune

    # By value: a worker then needs neither this module nor what it imports (torch...),
    # so the numbers are Tune's own cost, not the cost of importing the project.
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    ray.init(address="local", include_dashboard=False, log_to_driver=False)
    # No result.json per trial (the grid's TUNE_DISABLE_AUTO_CALLBACK_LOGGERS): not an error.
    logging.getLogger("ray.tune.analysis.experiment_analysis").setLevel(logging.ERROR)
    out = {}
    try:
        trainable = tune.with_resources(_trivial, {"cpu": 1})
        for reuse, n in ((True, TRIVIAL_TRIALS), (False, no_reuse_trials)):
            tuner = tune.Tuner(
                trainable, param_space={"i": tune.grid_search(list(range(n)))},
                tune_config=tune.TuneConfig(reuse_actors=reuse, max_concurrent_trials=2),
                run_config=tune.RunConfig(name=f"trivial-reuse-{reuse}",
                                          storage_path=str(work / "tune"), verbose=0))
            t0 = time.perf_counter()
            grid = tuner.fit()
            wall = time.perf_counter() - t0
            errors = sum(1 for r in grid if r.error)
            out[f"reuse_actors={reuse}"] = {"wall_s": wall, "trials": len(grid),
                                            "errors": errors,
                                            "s_per_trial": wall / n}
            print(f"  trivial trials, reuse_actors={reuse}: {wall:.1f} s for "
                  f"{len(grid)} ({1000 * wall / n:.0f} ms/trial)", flush=True)
    finally:
        ray.shutdown()
    return out


# --- classifier for the real driver and the smoke sweep ------------------------------------
def scoring_classifier(sweep_file: Path, work: Path) -> tuple[Path, str]:
    """The sweep's classifier folder if it exists, else a 1-epoch one made for the bench."""
    cfg = load_config(sweep_file)
    data = load_mnist(cfg.data.source, cfg.data.root, flatten=True)
    from evaluator.classifier import ClassifierError, load_classifier, train_classifier
    folder = classifier_dir(cfg, data.source)
    try:
        load_classifier(folder)
        return folder.resolve(), f"{folder} ({data.source})"
    except ClassifierError as exc:
        why = str(exc).split(";")[0]
    folder = work / f"classifier-{data.source}"
    if not (folder / "manifest.json").exists():
        print(f"  ({why[:200]}: training a 1-epoch classifier for the bench only)", flush=True)
        train_classifier(data, folder, epochs=1, log=lambda line: None)
    return folder.resolve(), f"bench-only 1-epoch classifier ({data.source})"


# --- 3b. the real driver on 200 configurations ---------------------------------------------
def overhead_sweep(sweep_file: Path, classifier: Path, path: Path) -> int:
    """A sweep file with 200 configurations spread over the grid, 1 iteration, 100 samples."""
    cfg = load_config(sweep_file)
    raw = yaml.safe_load(sweep_file.read_text())
    trials = [t for t in cfg.trials() if t["seed"] == cfg.seeds[0]]
    step = len(trials) / min(OVERHEAD_TRIALS, len(trials))
    picked = [trials[int(i * step)] for i in range(min(OVERHEAD_TRIALS, len(trials)))]
    families = {}
    for i, t in enumerate(picked):  # one single-point family per picked configuration
        axes = cfg.family(t["family"]).axes
        families[f"{t['family']}-{i:03d}"] = {"model": t["model"],
                                              "axes": {a: [t[a]] for a in axes}}
    doc = {**raw, "name": "bench-overhead", "seeds": [cfg.seeds[0]], "storage": None,
           "budget": {**(raw.get("budget") or {}), "iterations": 1},
           "score": {**(raw.get("score") or {}), "samples": 100, "classifier": str(classifier)},
           "families": families}
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return len(picked)


def bench_driver(sweep_file: Path, classifier: Path, work: Path) -> dict[str, Any]:
    import pandas as pd

    from sweep.grid import run_grid

    path = work / "overhead.yaml"
    n = overhead_sweep(sweep_file, classifier, path)
    exp = work / "overhead"
    stamps: dict[str, float] = {}
    slots = [1]

    def log(msg: str, **_: Any) -> None:
        if msg.startswith("[plan] estimated"):
            stamps["fit_start"] = time.perf_counter()
        m = re.search(r"; (\d+) at a time on", msg)
        if m:
            slots[0] = int(m.group(1))
        if msg.startswith("[plan]") or msg.startswith("[grid] finished"):
            print(f"    {msg}", flush=True)

    args = argparse.Namespace(config=str(path), results=str(exp), address=None, storage=None,
                              fresh=False, extend=False)
    t0 = time.perf_counter()
    rc = run_grid(args, log=log)
    end = time.perf_counter()
    df = pd.read_parquet(exp / "trials.parquet")
    own = float(df["wall_time_s"].fillna(0).sum())
    fit = end - stamps.get("fit_start", t0)
    out = {"rc": rc, "trials": len(df), "planned": n, "slots": slots[0],
           "ok": int((df["status"] == "ok").sum()),
           "run_grid_wall_s": end - t0, "fit_wall_s": fit, "trials_own_s": own,
           "wall_per_trial_s": (end - t0) / max(len(df), 1),
           "own_per_trial_s": own / max(len(df), 1),
           # slot-seconds per trial outside the trial's own timed work (train + score):
           # Tune scheduling, actor start, payload fetch, writing the trial's files.
           "overhead_per_trial_s": (fit * slots[0] - own) / max(len(df), 1)}
    print(f"  real driver, {len(df)} trials: run_grid {out['run_grid_wall_s']:.1f} s "
          f"(trials phase {fit:.1f} s on {slots[0]} slots), trials' own time {own:.1f} s",
          flush=True)
    return out


# --- 4. the smoke sweep through the CLI ----------------------------------------------------
def bench_smoke(classifier: Path, work: Path) -> dict[str, Any]:
    doc = yaml.safe_load(SMOKE.read_text())
    doc["score"]["classifier"] = str(classifier)
    path = work / "smoke.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    n = len(load_config(path).trials())
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "sweep", "grid", "-c", str(path), "--results",
                             str(work / "smoke")], cwd=REPO, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        text, _ = proc.communicate(timeout=600)
    finally:
        try:  # whatever Ray left in the sweep's session (nothing, after a clean exit)
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"the smoke sweep failed (exit {proc.returncode}):\n{text[-3000:]}")
    elapsed = re.findall(r"elapsed (\d+):(\d\d):(\d\d)", text)
    grid_s = (lambda h, m, s: 3600 * int(h) + 60 * int(m) + int(s))(*elapsed[-1]) if elapsed else None
    print(f"  smoke sweep ({n} trials): {wall:.1f} s end to end", flush=True)
    return {"trials": n, "wall_s": wall, "trials_per_hour": n / wall * 3600,
            "trials_phase_s": grid_s,
            "trials_per_hour_trials_phase": (n / grid_s * 3600) if grid_s else None}


# --- the table -----------------------------------------------------------------------------
def table(r: dict[str, Any]) -> str:
    lines = [f"device: {r['device']}   torch {r['torch']}, default threads {r['threads']}",
             "load average (1/5/15 min) at start {:.1f} {:.1f} {:.1f}, at end {:.1f} {:.1f} {:.1f}"
             " (other processes share this machine: numbers are only as quiet as it was)".format(
                 *r["load_average_at_start"], *r["load_average_at_end"]),
             f"data: {r['data']}; classifier for the sweeps: {r['classifier']}", ""]
    thread_labels = list(next(iter(r["training"].values())))
    head = f"{'training, ms/iteration (batch 64)':<36}" + "".join(f"{t:>14}" for t in thread_labels)
    lines += [head, "-" * len(head)]
    for name, row in r["training"].items():
        lines.append(f"{name:<36}" + "".join(f"{row[t]['ms_per_iteration']:>14.1f}"
                                             for t in thread_labels))
    lines += ["", f"score 10,000 samples (best EBGAN G + ConvNet): {r['scoring']['seconds_10k']:.2f} s", ""]
    lines.append(f"{'Ray Tune, trivial function trials, 2 at a time':<52}{'trials':>7}{'wall s':>9}{'ms/trial':>10}")
    for label, row in r["trivial"].items():
        lines.append(f"  {label:<50}{row['trials']:>7}{row['wall_s']:>9.1f}"
                     f"{1000 * row['s_per_trial']:>10.0f}")
    d = r["driver"]
    lines += ["", f"real driver (run_grid), {d['trials']} configurations of the grid, 1 iteration, "
                  f"100 score samples, {d['slots']} at a time:",
              f"  run_grid wall {d['run_grid_wall_s']:.1f} s ({d['wall_per_trial_s']:.2f} s/trial); "
              f"trials phase {d['fit_wall_s']:.1f} s",
              f"  trials' own wall_time_s: {d['trials_own_s']:.1f} s ({d['own_per_trial_s']:.2f} s/trial)",
              f"  overhead per trial (slot-seconds outside train+score): {d['overhead_per_trial_s']:.2f} s"]
    s = r["smoke"]
    lines += ["", f"smoke sweep ({s['trials']} trials, CLI end to end): {s['wall_s']:.1f} s, "
                  f"{s['trials_per_hour']:,.0f} trials/hour"
              + (f" (trials phase {s['trials_phase_s']} s: {s['trials_per_hour_trials_phase']:,.0f} trials/hour)"
                 if s["trials_phase_s"] else "")]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.splitlines()[0])
    parser.add_argument("-c", "--config", default="sweep.yaml",
                        help="sweep file whose grid the driver benchmark samples")
    parser.add_argument("--results", default=None,
                        help="keep the bench's experiments here (default: a temp folder, deleted)")
    parser.add_argument("--no-reuse-trials", type=int, default=TRIVIAL_TRIALS_NO_REUSE,
                        help="trivial trials without reuse_actors (default %(default)s; "
                             f"{TRIVIAL_TRIALS} with reuse)")
    args = parser.parse_args(argv)
    sweep_file = Path(args.config).resolve()
    work = Path(args.results or tempfile.mkdtemp(prefix="ebgan-bench-")).resolve()
    work.mkdir(parents=True, exist_ok=True)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    t_start = time.perf_counter()
    data = load_mnist("mnist-5k", flatten=True)
    images = data.train_images  # (4000, 1024)
    r: dict[str, Any] = {"device": device_name(device), "device_type": device.type,
                         "load_average_at_start": os.getloadavg(),
                         "torch": torch.__version__, "threads": torch.get_num_threads(),
                         "data": f"{len(images):,} {data.source} images"}
    print(f"bench on {r['device']} (torch {r['torch']}, {r['threads']} threads)", flush=True)
    try:
        r["training"] = bench_training(images, device)
        r["scoring"] = bench_scoring(images, device)
        classifier, r["classifier"] = scoring_classifier(sweep_file, work)
        smoke_classifier, _ = scoring_classifier(SMOKE, work)
        r["smoke"] = bench_smoke(smoke_classifier, work)
        r["trivial"] = bench_trivial(work, args.no_reuse_trials)
        r["driver"] = bench_driver(sweep_file, classifier, work)
    finally:
        if args.results is None:
            shutil.rmtree(work, ignore_errors=True)
    r["bench_seconds"] = time.perf_counter() - t_start
    r["load_average_at_end"] = os.getloadavg()
    RESULTS_JSON.write_text(json.dumps(r, indent=2) + "\n")
    print()
    print(table(r))
    print(f"\n(bench took {r['bench_seconds']:.0f} s; results in {RESULTS_JSON})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
