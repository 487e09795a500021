"""The grid follows the cluster's size while it runs (sweep/run/elastic.py).

The limit's arithmetic on node lists written by hand, with Tune's real ConcurrencyLimiter
and the grid's searcher; then (slow) a real 2-node Ray cluster on this machine that the
worker joins 20 s into the grid and leaves before its end (test_cluster.py's Cluster).
"""
from __future__ import annotations

import json
import time

import pandas as pd
import pytest

from sweep.config import load_config, trials
from sweep.run.driver.elastic import ElasticLimit
from sweep.run.scheduling.searcher import UnitSearcher
from sweep.run.scheduling.units import plan_units
from sweeps import SMOKE

ONE_CPU = {"CPU": 1.0, "GPU": 0.0}
TWO_CPU = {"CPU": 2.0, "GPU": 0.0}


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def handed(limit: ElasticLimit, n: int) -> int:
    """Ask the limiter for ``n`` trials; how many it handed out."""
    return sum(limit.limiter.suggest(f"t{i}-{time.monotonic_ns()}") is not None
               for i in range(n))


def test_limit_follows_the_nodes():
    grid = trials(load_config(SMOKE))
    units = plan_units(grid, {t.key for t in grid}, seed=0)
    nodes, clock, lines = [ONE_CPU], Clock(), []
    limit = ElasticLimit(UnitSearcher(units), {"cpu": 1.0, "gpu": 0.0}, None, slots=1,
                         log=lambda line, **kw: lines.append(line), nodes=lambda: list(nodes),
                         clock=clock, poll_s=2.0)
    assert handed(limit, 3) == 1          # 1 node x 1 CPU: one trial
    nodes.append(TWO_CPU)                 # a node of 2 CPUs joins
    clock.now = 1.9
    limit.on_step_begin(0, [])
    assert limit.slots == 1 and handed(limit, 3) == 0   # not looked yet: 2 s between polls
    clock.now = 2.0
    limit.on_step_begin(0, [])
    assert limit.slots == 3 and handed(limit, 5) == 2   # 1 + 2 CPUs: two more
    assert lines == ["[cluster] now 2 node(s), 3 CPU, 0 GPU: 3 trials at a time (was 1)"]
    nodes.remove(TWO_CPU)                 # it leaves: three trials live, the limit is 1
    clock.now = 4.0
    limit.on_step_begin(0, [])
    assert limit.slots == 1 and handed(limit, 3) == 0
    assert limit.resizes == [(2.0, 3), (4.0, 1)]
    nodes.clear()                         # the GCS lists no node for a moment: keep the limit
    clock.now = 6.0
    limit.on_step_begin(0, [])
    assert limit.slots == 1


def test_cap_of_the_sweep_file_stays_an_upper_bound():
    units = plan_units(trials(load_config(SMOKE)), set(), seed=0)
    nodes, clock = [ONE_CPU], Clock()
    limit = ElasticLimit(UnitSearcher(units), {"cpu": 1.0, "gpu": 0.0}, 2, slots=1,
                         log=lambda *a, **k: None, nodes=lambda: list(nodes), clock=clock)
    nodes += [TWO_CPU, TWO_CPU]
    clock.now = 10.0
    limit.on_step_begin(0, [])
    assert limit.slots == 2               # 5 CPUs, but max_concurrent_trials: 2


def test_lost_cluster_listing_keeps_the_limit():
    lines = []

    def unreachable() -> list:
        raise ConnectionError("GCS unavailable")
    limit = ElasticLimit(UnitSearcher([]), {"cpu": 1.0, "gpu": 0.0}, None, slots=4,
                         log=lambda line, **kw: lines.append(line), nodes=unreachable)
    limit.poll()
    assert limit.slots == 4 and "keeping 4 trials at a time" in lines[0]


# --- a real cluster that grows and shrinks under a running grid -----------------------------
JOIN_AFTER_S = 20


@pytest.mark.slow
def test_worker_joins_and_leaves_mid_grid(small_classifier, tmp_path):
    """Grid on the head alone (1 CPU); the worker (1 CPU) joins 20 s in and gets trials;
    it leaves after finishing one: the grid finishes on the head, every configuration once."""
    import subprocess

    from test_cluster import (CLUSTER_ITERATIONS, REPO, SWEEP_TIMEOUT_S, Cluster,
                              check_every_trial_once, grid_command, smoke_file, tail)

    cluster = Cluster(tmp_path, workers=0)
    sweep_file = smoke_file(tmp_path, small_classifier, CLUSTER_ITERATIONS)
    results, log = tmp_path / "exp", tmp_path / "grid.log"
    start = time.monotonic()
    with open(log, "w") as out:
        grid = subprocess.Popen(grid_command(sweep_file, results, "--address", cluster.address),
                                env=cluster.env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT)
    try:
        while time.monotonic() - start < JOIN_AFTER_S:
            assert grid.poll() is None, tail(log)
            time.sleep(0.5)
        worker = cluster.add_worker()
        joined = time.monotonic()
        worker_id = next(n for n, i in cluster.node_ids().items() if not i["head"] and i["alive"])
        first_trial = None
        while grid.poll() is None and time.monotonic() - start < SWEEP_TIMEOUT_S:
            if first_trial is None and worker.runs_trial():
                first_trial = time.monotonic()
            done = [json.loads(p.read_text()) for p in (results / "ledger").glob("*.json")]
            if (any(worker_id.startswith(e["node"]) for e in done) and len(done) <= 13 - 3
                    and worker.runs_trial()):
                break  # it has finished a trial and runs the next one: leave now
            time.sleep(0.2)
        assert first_trial is not None, "the worker never ran a trial\n" + tail(log)
        done_at_leave = len(done)
        assert done_at_leave < 13, "the grid ended before the worker left\n" + tail(log)
        left = time.monotonic()
        worker.stop()  # SIGTERM to `ray start --block`: the node leaves the cluster
        rc = grid.wait(timeout=SWEEP_TIMEOUT_S)
    finally:
        if grid.poll() is None:
            grid.kill()
            grid.wait()
        cluster.stop()
    wall = time.monotonic() - start
    output = log.read_text()
    assert rc == 0, output[-4000:]
    df: pd.DataFrame = check_every_trial_once(results, sweep_file)
    nodes = df["node"].value_counts()
    assert len(nodes) == 2, nodes     # trials ran on both nodes
    head_runs = [k for k, n in df.set_index("trial_key")["node"].items()
                 if not worker_id.startswith(n)]
    assert head_runs
    assert "[cluster] now 2 node(s), 2 CPU, 0 GPU: 2 trials at a time (was 1)" in output
    assert "[cluster] now 1 node(s), 1 CPU, 0 GPU: 1 trials at a time (was 2)" in output
    print(f"\n[timing] elastic grid, smoke sweep at {CLUSTER_ITERATIONS} iterations: "
          f"{wall:.1f} s; worker listed {joined - start:.1f} s in, its first trial process "
          f"{first_trial - joined:.1f} s later; it left {left - start:.1f} s in after "
          f"{done_at_leave} trials; trials per node {dict(nodes)}")


class Driver:
    """Stands for the Fitter: its resize hook is a bound method that reaches the grid's data."""
    def __init__(self) -> None:
        self.images = bytearray(8_000_000)   # what a bound method would drag into tuner.pkl
        self.sizes: list[int] = []

    def resized(self, slots: int) -> None:
        self.sizes.append(slots)


def test_pickled_limit_leaves_the_drivers_hooks_behind():
    """Tune pickles its callbacks into tuner.pkl (a full results disk showed 28 MB of it)."""
    import pickle

    grid = trials(load_config(SMOKE))
    units = plan_units(grid, {t.key for t in grid}, seed=0)
    driver = Driver()
    limit = ElasticLimit(UnitSearcher(units), {"cpu": 1.0, "gpu": 0.0}, None, slots=1,
                         on_resize=driver.resized)
    blob = pickle.dumps(limit)
    assert len(blob) < 1_000_000                   # without the hook: the searcher's units
    restored = pickle.loads(blob)
    assert restored.on_resize is None and restored.slots == 1
    assert limit.on_resize == driver.resized       # the live one keeps its hook
