"""Run `sweep` commands and the sweep API as real processes, for the run tests.

Every run is started in a session of its own (``start_new_session=True``) with a private
Ray temp folder (``RAY_TMPDIR``). Ray's workers leave the driver's process group (they
call setpgrp) but stay in its session, so after each run every process of that session is
killed: the driver, raylet, gcs_server and workers this test started, nothing else. A
driver killed with SIGKILL therefore leaves no Ray behind for the next test, and no test
joins a Ray instance that someone else started.

Sweep files are copies of examples/smoke.yaml edited through yaml, scored with the
session's one small classifier (tests/sweep/conftest.py).
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import pytest
import yaml

from sweep.config import load_config, trials

REPO = Path(__file__).resolve().parents[3]
HERE = Path(__file__).resolve().parent
SMOKE = REPO / "examples" / "smoke.yaml"
TRIAL_FILES = ("config.json", "samples.png", "generator.pt", "record.json", "curves.csv")
RUN_TIMEOUT_S = 300


# --- processes ---------------------------------------------------------------------------
def _session_members(sid: int) -> list[int]:
    """Live (non-zombie) processes whose session id is ``sid``."""
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            stat = Path(f"/proc/{name}/stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()  # state ppid pgrp session ...
        if fields[0] != "Z" and int(fields[3]) == sid:
            out.append(int(name))
    return out


def reap(proc: subprocess.Popen) -> None:
    """SIGKILL the driver and every process of its session; wait until they are gone."""
    deadline = time.monotonic() + 30
    while members := _session_members(proc.pid):
        for pid in members:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        assert time.monotonic() < deadline, f"processes {members} survive SIGKILL"
        time.sleep(0.1)
    proc.wait()



# Process titles of a Tune trial's actor: Ray names it after the trainable class
# (sweep/run/worker/trainable.py names it SweepTrial; Tune's with_resources wrapper otherwise).
TRIAL_TITLES = ("ray::SweepTrial", "ray::ResourceTrainable")

class Driver:
    """One `sweep grid` (or other `sweep` command) in its own session and Ray temp folder."""

    def __init__(self, args: list[str], cwd: Path, env: dict[str, str] | None = None,
                 command: list[str] | None = None) -> None:
        self.ray_tmp = Path(tempfile.mkdtemp(prefix="rt", dir="/tmp"))  # short: socket paths
        self.log_path = self.ray_tmp / "driver.log"
        full_env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
        full_env.update(PYTHONPATH=os.pathsep.join([str(REPO), str(HERE),
                                                    full_env.get("PYTHONPATH", "")]),
                        RAY_TMPDIR=str(self.ray_tmp), RAY_USAGE_STATS_ENABLED="0", **(env or {}))
        self._log = open(self.log_path, "w")
        cmd = command or [sys.executable, "-m", "sweep", *args]
        self.proc = subprocess.Popen(cmd, cwd=cwd, env=full_env, stdout=self._log,
                                     stderr=subprocess.STDOUT, start_new_session=True)

    def wait(self, timeout: float = RUN_TIMEOUT_S) -> int:
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.close()
            pytest.fail(f"sweep ran past {timeout} s:\n{self.output[-3000:]}")

    @property
    def output(self) -> str:
        self._log.flush()
        return self.log_path.read_text()

    def close(self) -> None:
        reap(self.proc)
        self._log.close()
        shutil.rmtree(self.ray_tmp, ignore_errors=True)


def sweep(*args: str, cwd: Path, env: dict[str, str] | None = None) -> tuple[int, str]:
    """Run a `sweep` command to the end: (exit code, stdout + stderr)."""
    driver = Driver(list(args), cwd, env)
    try:
        rc = driver.wait()
        return rc, driver.output
    finally:
        driver.close()


# --- sweep files and results ---------------------------------------------------------------
def write_sweep(path: Path, classifier: Path, edit: Callable[[dict], Any] | None = None) -> Path:
    """A copy of examples/smoke.yaml scored with ``classifier``, edited by ``edit(doc)``."""
    doc = yaml.safe_load(SMOKE.read_text())
    doc["score"]["classifier"] = str(classifier)
    if edit is not None:
        edit(doc)
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def planned_keys(sweep_file: Path) -> set[str]:
    return {t.key for t in trials(load_config(sweep_file))}


def ledger_entries(results: Path) -> dict[str, dict]:
    return {p.stem: json.loads(p.read_text()) for p in sorted((results / "ledger").glob("*.json"))}


def file_mtimes(trial_dir: str | Path) -> dict[str, int]:
    return {name: (Path(trial_dir) / name).stat().st_mtime_ns for name in TRIAL_FILES}


def only(families: tuple[str, ...]) -> Callable[[dict], None]:
    def edit(doc: dict) -> None:
        doc["families"] = {k: v for k, v in doc["families"].items() if k in families}
    return edit


def api_command(sweep_file: Path, results: Path, trainable: str, **kwargs: Any) -> list[str]:
    """A Python command running ``run_sweep`` with a test trainable of faults.py (pickled
    by value, so Ray's workers need not import the tests) and exiting with its code."""
    code = ("import sys, faults, ray\n"
            "ray.cloudpickle.register_pickle_by_value(faults)\n"
            "from sweep.run.driver.api import run_sweep\n"
            f"run = run_sweep({str(sweep_file)!r}, results={str(results)!r}, "
            f"trainable=faults.{trainable}, **{kwargs!r})\n"
            "print('RUN', run.state, run.exit_code, run.done, run.total, flush=True)\n"
            "sys.exit(run.exit_code)\n")
    return [sys.executable, "-c", code]


def run_api(sweep_file: Path, results: Path, trainable: str, cwd: Path,
            env: dict[str, str] | None = None, **kwargs: Any) -> tuple[int, str]:
    driver = Driver([], cwd, env, command=api_command(sweep_file, results, trainable, **kwargs))
    try:
        rc = driver.wait()
        return rc, driver.output
    finally:
        driver.close()
