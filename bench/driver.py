"""What the driver costs at the real scale, and what Ray Tune adds per trial.

- Hand-out: Ray Tune's SearchGenerator asking UnitSearcher for trials, timed per trial
  over the first trials of the full list (the old grid_search path cost O(n) per trial).
- The real driver (`run_sweep`, in its own process) on the default sweep.yaml (6,657
  trials) and a 99,855-trial extension (Table 1 x 15 seeds), 1-iteration budget, trials
  that return at once: time from start to the plan line and to the first trial running,
  trials finished per second, then SIGINT and the time until the process has exited.
- Trivial function trials with and without reused workers (what `reuse_actors: auto`
  weighs), with and without the JSON + TensorBoard loggers (their cost per trial).
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
WINDOW_S = 25.0  # how long each driver runs before it is interrupted


def hand_out_cost(sweep_file: Path, n_first: int = 3000, seeds: int = 1) -> dict[str, Any]:
    """ms per trial for Ray Tune to get and build the first ``n_first`` trials."""
    from ray.tune.experiment import Experiment
    from ray.tune.search.search_generator import SearchGenerator

    from sweep.config import load_config, trials
    from sweep.run.scheduling.searcher import UnitSearcher
    from sweep.run.scheduling.units import plan_units

    doc = yaml.safe_load(sweep_file.read_text())
    doc["seeds"] = list(range(seeds))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "s.yaml"
        path.write_text(yaml.safe_dump(doc))
        t0 = time.perf_counter()
        grid = trials(load_config(path))
        units = plan_units(grid, {t.key for t in grid}, seed=0)
        plan_s = time.perf_counter() - t0
        gen = SearchGenerator(UnitSearcher(units))
        gen.add_configurations([Experiment("x", _noop, num_samples=len(units),
                                           storage_path=tmp)])
        t0 = time.perf_counter()
        for _ in range(n_first):
            gen.next_trial()
        per = (time.perf_counter() - t0) / n_first
    return {"trials": len(grid), "plan_s": plan_s, "ms_per_trial": 1e3 * per,
            "per_second": 1 / per}


def _noop(config):  # registered with Tune by hand_out_cost, never run
    pass


DRIVER = """
import json, sys, time
T0 = time.monotonic()
import ray, bench.trainables as t
ray.cloudpickle.register_pickle_by_value(t)
from sweep.run.driver.api import run_sweep
marks = {}
def log(msg, **kw):
    if msg.startswith("[plan] estimated") and "plan" not in marks:
        marks["plan"] = time.monotonic() - T0
    print(msg, flush=True)
run = run_sweep(sys.argv[1], results=sys.argv[2], trainable=t.instant, log=log)
print("RESULT " + json.dumps({"plan_s": marks.get("plan"), "first_trial_after_plan_s":
      run.first_trial_s, "done": run.ran, "wall_s": run.wall_s, "state": run.state,
      "handed_out": run.handed_out, "hand_out_s": run.hand_out_s, "exit_code": run.exit_code}),
      flush=True)
sys.exit(run.exit_code)
"""


def driver_at_scale(sweep_file: Path, classifier: Path, work: Path, seeds: int,
                    window_s: float = WINDOW_S, log=print) -> dict[str, Any]:
    doc = yaml.safe_load(sweep_file.read_text())
    doc.update(name=f"bench-driver-{seeds}", seeds=list(range(seeds)), storage=None)
    doc["budget"] = {**(doc.get("budget") or {}), "iterations": 1}
    doc["score"] = {**(doc.get("score") or {}), "samples": 100, "classifier": str(classifier)}
    doc.setdefault("resources", {})["reuse_actors"] = True
    path = work / f"driver-{seeds}.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    results = work / f"driver-{seeds}"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
           "RAY_USAGE_STATS_ENABLED": "0"}
    start = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-c", DRIVER, str(path), str(results)], cwd=REPO,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    lines: list[str] = []
    first_done = None
    try:
        for line in proc.stdout:  # type: ignore[union-attr]
            lines.append(line)
            if line.startswith("[grid] ") and " done (" in line and first_done is None:
                first_done = time.monotonic()
            if first_done is not None and time.monotonic() - first_done > window_s:
                break
        sent = time.monotonic()
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=120)
        exited = time.monotonic()
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # whatever Ray left in the session
        except (ProcessLookupError, PermissionError):
            pass
    lines += rest.splitlines(keepends=True)
    result = next((json.loads(ln[7:]) for ln in lines if ln.startswith("RESULT ")), None)
    if result is None:
        raise RuntimeError("the bench driver failed:\n" + "".join(lines[-40:]))
    out = {**result, "ctrl_c_s": exited - sent, "window_s": window_s,
           "exit_code": proc.returncode}
    out["finished_per_s"] = result["done"] / max(1e-9, (sent - first_done) if first_done else 1)
    out["start_to_first_trial_s"] = (result["plan_s"] or 0) + (result["first_trial_after_plan_s"]
                                                              or float("nan"))
    plan_line = next((ln for ln in lines if ln.startswith("[plan] ") and "trials (" in ln), "")
    out["trials"] = int(plan_line.split(": ", 1)[1].split(" trials")[0].replace(",", ""))
    log(f"  driver, {seeds} seed(s): first trial {out['start_to_first_trial_s']:.1f} s after "
        f"start, {out['finished_per_s']:.1f} trials/s finished, Ctrl-C -> exit in "
        f"{out['ctrl_c_s']:.1f} s (exit code {out['exit_code']})", flush=True)
    return out


def trivial_trials(work: Path, n: int = 60, log=print) -> dict[str, Any]:
    """Ray Tune's own cost per trial: reused workers or not, loggers or not."""
    import logging

    import ray
    from ray import tune
    from ray.tune.logger import JsonLoggerCallback, TBXLoggerCallback

    import bench.trainables as trainables
    ray.cloudpickle.register_pickle_by_value(trainables)
    os.environ["TUNE_DISABLE_AUTO_CALLBACK_LOGGERS"] = "1"
    ray.init(address="local", include_dashboard=False, log_to_driver=False)
    logging.getLogger("ray.tune.analysis.experiment_analysis").setLevel(logging.ERROR)
    out = {}
    try:
        for reuse, loggers, count in ((True, False, n), (True, True, n), (False, False, n // 3)):
            callbacks = [JsonLoggerCallback(), TBXLoggerCallback()] if loggers else []
            tuner = tune.Tuner(
                tune.with_resources(trainables.reporting, {"cpu": 1}),
                param_space={"i": tune.grid_search(list(range(count)))},
                tune_config=tune.TuneConfig(reuse_actors=reuse, max_concurrent_trials=2),
                run_config=tune.RunConfig(name=f"trivial-{reuse}-{loggers}", callbacks=callbacks,
                                          storage_path=str(work / "tune"), verbose=0))
            t0 = time.perf_counter()
            tuner.fit()
            wall = time.perf_counter() - t0
            label = f"reuse_actors={reuse}, loggers={'JSON+TensorBoard' if loggers else 'none'}"
            folder = work / "tune" / f"trivial-{reuse}-{loggers}"
            size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
            out[label] = {"trials": count, "wall_s": wall, "s_per_trial": wall / count,
                          "bytes_per_trial": size / count}
            log(f"  trivial trials, {label}: {1e3 * wall / count:.0f} ms/trial", flush=True)
    finally:
        ray.shutdown()
    return out
