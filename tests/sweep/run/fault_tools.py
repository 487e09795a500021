"""Helpers of the fault matrix (tests/sweep/run/test_faults.py): the sweep every row runs,
bounded waits that fail with the driver's output, what a driver's Ray runs (workers,
checkpoints), the comparison with an uninterrupted run, a TCP relay standing for an S3
endpoint that can be stopped and restarted, and the matrix table itself.

Every process here is started by the test, in a session or with a pid of its own, and
stopped by that id: never `ray stop`, never a kill by name.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import pytest
import torch

from sweep.run.records.results import attempts_list
from sweeps import TRIAL_TITLES, Driver, ledger_entries, only, write_sweep

BUDGET = 400          # iterations per trial: ~15 s on a shared 2-core CPU
MIN_CHECKPOINT = 40   # a fault waits for a checkpoint past the trivial one at iteration 1
WAIT_S = 420          # any wait of a row: generous for a loaded 2-core box
MATRIX_FILE = Path("/tmp/ebgan-fault-matrix.md")


# --- the sweep ------------------------------------------------------------------------------
def pair_sweep(path: Path, classifier: Path, **resources: Any) -> Path:
    """Two EBGANs of examples/smoke.yaml (nLayerG 2 and 3, dropout on: every seeded stream),
    BUDGET iterations, one trial at a time, checkpoints as often as the 50x rule allows
    (`checkpoint_every: 0s`: every few seconds here), two retries per trial."""
    top = {k: resources.pop(k) for k in ("storage",) if k in resources}

    def edit(doc: dict) -> None:
        only(("ebgan",))(doc)
        doc["name"] = "pair"
        doc["families"]["ebgan"]["axes"]["dropoutD"] = [True]
        doc["budget"]["iterations"] = BUDGET
        doc["resources"].update({"checkpoint_every": "0s", "max_failures": 2,
                                 "max_concurrent_trials": 1, **resources})
        doc.update(top)
    return write_sweep(path, classifier, edit)


def grid_args(sweep_file: Path, results: Path, *extra: str) -> list[str]:
    return ["grid", "-c", str(sweep_file), "--results", str(results), *extra]


CHECKPOINT_EVERY = 100  # iterations between the extra checkpoints of checkpointing_grid


def checkpointing_grid(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> Driver:
    """`sweep ARGS` (the CLI itself: its messages and exit codes) with the trial function
    swapped for faults.checkpoint_every(CHECKPOINT_EVERY): run_trial plus a checkpoint every
    100 iterations, so that a fault can follow a mid-trial checkpoint whatever checkpoints
    cost on the machine (pickled by value: no node imports the tests)."""
    code = ("import sys, faults, ray\n"
            "ray.cloudpickle.register_pickle_by_value(faults)\n"
            "import sweep.run.driver.api as api\n"
            "from sweep.cli import main\n"
            "run_sweep = api.run_sweep\n"
            "api.run_sweep = lambda *a, **k: run_sweep(\n"
            f"    *a, trainable=faults.checkpoint_every({CHECKPOINT_EVERY}), **k)\n"
            "sys.exit(main(sys.argv[1:]))\n")
    return Driver(args, cwd, env, command=[sys.executable, "-c", code, *args])


# --- bounded waits --------------------------------------------------------------------------
def wait_for(driver: Driver, what: str, probe: Callable[[], Any], timeout: float = WAIT_S,
             every: float = 0.05) -> Any:
    """Poll ``probe()`` until it returns something truthy; fail with the driver's output if
    the driver exits first or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while True:
        got = probe()
        if got:
            return got
        if driver.proc.poll() is not None:
            pytest.fail(f"the driver exited ({driver.proc.returncode}) before {what}:\n"
                        + driver.output[-4000:])
        if time.monotonic() > deadline:
            pytest.fail(f"no {what} within {timeout:.0f} s:\n" + driver.output[-4000:])
        time.sleep(every)


def finish(driver: Driver, timeout: float = WAIT_S) -> tuple[int, str]:
    """Wait for the driver to exit: (exit code, output); the session is reaped after."""
    try:
        return driver.wait(timeout), driver.output
    finally:
        driver.close()


def run_grid(args: list[str], cwd: Path,
             env: dict[str, str] | None = None) -> tuple[int, str, float]:
    """A `sweep` command to its end: (exit code, output, wall seconds)."""
    t0 = time.monotonic()
    rc, out = finish(Driver(args, cwd, env))
    return rc, out, time.monotonic() - t0


# --- what the driver's experiment shows -------------------------------------------------------
def index(results: Path) -> dict[str, dict]:
    """The driver's checkpoint index: unit id -> {"location", "attempts"} (torn ones left out)."""
    out = {}
    for path in (results / "checkpoints").glob("*.json"):
        try:
            out[path.stem] = json.loads(path.read_text())
        except (OSError, ValueError):
            pass
    return out


def checkpoint_iteration(location: str, read: Callable[[str], bytes] | None = None) -> int | None:
    """The iteration of the checkpoint at ``location`` (None while it cannot be read)."""
    try:
        raw = read(location + "/checkpoint.json") if read else \
            Path(location, "checkpoint.json").read_bytes()
        return int(json.loads(raw)["iteration"])
    except Exception:
        return None


def checkpointed(results: Path, at_least: int = MIN_CHECKPOINT,
                 read: Callable[[str], bytes] | None = None) -> dict[str, tuple[str, int]]:
    """Units whose indexed checkpoint is at ``at_least`` iterations or more:
    unit id -> (location, iteration)."""
    out = {}
    for unit, entry in index(results).items():
        if entry.get("location"):
            it = checkpoint_iteration(entry["location"], read)
            if it is not None and it >= at_least:
                out[unit] = (entry["location"], it)
    return out


def indexed_iteration(results: Path, unit: str) -> int:
    """The iteration of the unit's indexed checkpoint (a rerun resumes from it)."""
    it = checkpoint_iteration(index(results)[unit]["location"])
    assert it is not None and it >= MIN_CHECKPOINT, (unit, index(results)[unit])
    return it


def no_checkpoints_left(results: Path) -> None:
    """A finished grid keeps no checkpoint: neither in Tune's folders nor in the index."""
    left = sorted(str(p.relative_to(results)) for p in results.glob("tune/*/*/checkpoint_*"))
    assert not left, f"checkpoints left behind: {left}"
    assert not list((results / "checkpoints").glob("*.json"))


def reached(results: Path, unit: str) -> int:
    """The furthest iteration the driver saw the unit's current attempt report."""
    return max(a[1] for a in index(results)[unit]["attempts"])


PAST = 30  # a fault lands this many (reported) iterations after the last checkpoint


def past_checkpoint(driver: Driver, results: Path, unit: str, checkpoint: int) -> None:
    """Wait until ``unit`` has reported PAST iterations beyond its checkpoint: a fault
    rarely lands on a checkpoint, and the work after it is what a fault costs."""
    def far_enough() -> bool:
        try:
            return reached(results, unit) >= checkpoint + PAST
        except (KeyError, ValueError):  # no index entry (yet, or any more)
            return False
    wait_for(driver, f"{unit} {PAST} iterations past its checkpoint at {checkpoint}",
             far_enough, timeout=120)


def session_pids(sid: int) -> list[int]:
    pids = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                fields = Path(f"/proc/{name}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if fields[0] != "Z" and int(fields[3]) == sid:
                pids.append(int(name))
    return pids


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
    except OSError:
        return ""




def trial_workers(sid: int, logs: Path, label: str) -> list[int]:
    """The live trial actors of session ``sid`` (found by process title) whose worker log
    (``worker-<id>-<job>-<pid>.out`` under ``logs``) names the trial ``label``."""
    out = []
    for pid in session_pids(sid):
        if cmdline(pid).startswith(TRIAL_TITLES):
            named = [f for f in logs.glob(f"worker-*-{pid}.out") if f"[{label}]" in f.read_text()]
            if named:
                out.append(pid)
    return out


def snapshot(folder: Path, skip: tuple[str, ...] = (".lock",)) -> dict[str, tuple[str, int]]:
    """Every file under ``folder``: relative path -> (SHA-256, mtime in ns)."""
    return {str(p.relative_to(folder)): (hashlib.sha256(p.read_bytes()).hexdigest(),
                                         p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file() and p.name not in skip}


def ledger_consistent(results: Path, planned: set[str]) -> dict[str, dict]:
    """Every ledger file parses and names a planned trial, no temp file is left beside them,
    and trials.parquet (when written) has exactly the ledger's trials."""
    import pandas as pd

    left = [p.name for p in (results / "ledger").iterdir() if not p.name.endswith(".json")] \
        if (results / "ledger").is_dir() else []
    assert not left, f"files beside the ledger entries: {left}"
    entries = ledger_entries(results)
    assert set(entries) <= planned, set(entries) - planned
    assert all("status" in e for e in entries.values())
    if (results / "trials.parquet").exists():
        table = pd.read_parquet(results / "trials.parquet")
        assert sorted(table["trial_key"]) == sorted(entries)
    return entries


# --- the same result as an uninterrupted run ------------------------------------------------
def read_local(location: str) -> bytes:
    return Path(location).read_bytes()


def assert_identical(results: Path, baseline: Path,
                     read: Callable[[str], bytes] = read_local) -> dict[str, dict]:
    """Every trial finished ok with the uninterrupted run's generator weights (torch.equal),
    sample grid (bytes) and score; returns the ledger."""
    got, want = ledger_entries(results), ledger_entries(baseline)
    assert set(got) == set(want), (sorted(got), sorted(want))
    for key, entry in got.items():
        assert entry["status"] == "ok", (key, entry.get("error"))
        a = torch.load(io.BytesIO(read(entry["trial_dir"] + "/generator.pt")), weights_only=True)
        b = torch.load(io.BytesIO(read_local(want[key]["trial_dir"] + "/generator.pt")),
                       weights_only=True)
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), key
        assert read(entry["trial_dir"] + "/samples.png") == \
            read_local(want[key]["trial_dir"] + "/samples.png"), key
        assert (entry["score"], entry["fd"]) == (want[key]["score"], want[key]["fd"]), key
        assert entry["iterations_done"] == BUDGET, key
    return got


def attempts(entry: dict) -> list[int]:
    return attempts_list(entry["attempts"])


def iterations_lost(entries: dict[str, dict]) -> int:
    return sum(e["iterations_run"] - e["iterations_done"] for e in entries.values())


# --- a stoppable S3 endpoint ------------------------------------------------------------------
RELAY = r"""
import asyncio, sys
listen, target = int(sys.argv[1]), int(sys.argv[2])
async def pipe(r, w):
    try:
        while data := await r.read(65536):
            w.write(data)
            await w.drain()
    except Exception:
        pass
    finally:
        w.close()
async def serve(r, w):
    try:
        tr, tw = await asyncio.open_connection("127.0.0.1", target)
    except OSError:
        w.close()
        return
    await asyncio.gather(pipe(r, tw), pipe(tr, w))
async def main():
    server = await asyncio.start_server(serve, "127.0.0.1", listen, reuse_address=True)
    print("relay up", flush=True)
    async with server:
        await server.serve_forever()
asyncio.run(main())
"""


class Relay:
    """A TCP relay 127.0.0.1:``port`` -> 127.0.0.1:``target``: the S3 endpoint the sweep
    sees. Killing it refuses every connection, as a stopped server does, while the moto
    server behind keeps the objects (a restarted S3 keeps its data; a restarted moto would
    not)."""

    def __init__(self, port: int, target: int, log: Path) -> None:
        self.port, self.target, self.log = port, target, log
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        with open(self.log, "a") as out:
            self.proc = subprocess.Popen([sys.executable, "-c", RELAY, str(self.port),
                                          str(self.target)], stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while "relay up" not in self.log.read_text().split("relay stopped")[-1]:
            assert self.proc.poll() is None and time.monotonic() < deadline, \
                self.log.read_text()[-2000:]
            time.sleep(0.05)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=30)
            with open(self.log, "a") as out:
                out.write("relay stopped\n")


# --- the matrix -----------------------------------------------------------------------------
@dataclass
class Row:
    fault: str
    outcome: str
    seconds_lost: float | None
    iterations_lost: int | None


def render(rows: list[Row], expected: list[str], note: str) -> str:
    lines = ["| fault | outcome | seconds lost | iterations lost |", "|---|---|---|---|"]
    done = {r.fault: r for r in rows}
    for fault in expected:
        r = done.get(fault)
        if r is None:
            lines.append(f"| {fault} | NOT PASSED (failed or not run) | - | - |")
            continue
        secs = "-" if r.seconds_lost is None else f"{round(r.seconds_lost) or 0:+d}"  # no "-0"
        its = "-" if r.iterations_lost is None else f"{r.iterations_lost:,}"
        lines.append(f"| {fault} | {r.outcome} | {secs} | {its} |")
    return "\n".join(lines) + "\n\n" + note + "\n"
