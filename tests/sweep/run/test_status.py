"""`sweep status` on a half-finished experiment, from its files alone (no Ray, no torch)."""
from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys

from sweeps import REPO

FIXTURE = REPO / "tests" / "fixtures" / "legacy-smoke"


def _half_finished(tmp_path):
    exp = tmp_path / "exp"
    shutil.copytree(FIXTURE, exp)
    entries = sorted((exp / "ledger").glob("*.json"))
    gan = [p for p in entries if json.loads(p.read_text())["family"] == "gan"]
    for p in gan[:5]:  # 13 planned: 4 ebgan, 8 gan, 1 ebgan_pt; 5 gan not finished yet
        p.unlink()
    return exp


def status(exp, *args) -> subprocess.CompletedProcess:
    code = ("import sys; from sweep.cli import main; rc = main(sys.argv[1:]); "
            "import json; print(json.dumps(sorted(m for m in ('torch', 'ray') "
            "if m in sys.modules))); sys.exit(rc)")
    return subprocess.run([sys.executable, "-c", code, "status", "--results", str(exp), *args],
                          cwd=REPO, capture_output=True, text=True, timeout=60)


def test_status_counts_a_half_finished_experiment_without_ray(tmp_path):
    exp = _half_finished(tmp_path)
    proc = status(exp)
    assert proc.returncode == 0, proc.stderr
    out, loaded = proc.stdout.rsplit("\n", 2)[0], json.loads(proc.stdout.splitlines()[-1])
    assert loaded == []  # neither torch nor Ray was imported
    rows = {line.split()[0]: line.split()[1:] for line in out.splitlines()[2:6]}
    assert rows["ebgan"][:2] == ["4", "4"] and rows["gan"][:2] == ["3", "8"]
    assert rows["ebgan_pt"][:2] == ["1", "1"] and rows["total"][:2] == ["8", "13"]
    assert "61.5% done" in out  # 8 of 13
    assert "last finished:" in out and "driver: not running" in out


def test_status_reports_a_running_driver_and_its_eta(tmp_path):
    exp = _half_finished(tmp_path)
    (exp / "progress.json").write_text(json.dumps(
        {"done": 8, "total": 13, "running_units": 2, "elapsed_s": 65, "eta_s": 125}))
    with open(exp / ".lock", "a+") as fh:  # what a running `sweep grid` holds
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        fh.write(f"pid {os.getpid()}")
        fh.flush()
        proc = status(exp)
        js = status(exp, "--json")
    assert proc.returncode == 0, proc.stderr
    assert f"driver: running (pid {os.getpid()}); 2 trials running, elapsed 0:01:05, " \
           "ETA 0:02:05" in proc.stdout
    data = json.loads(js.stdout.rsplit("\n", 2)[0])
    assert data["done"] == 8 and data["driver_pid"] == os.getpid()


def test_status_of_no_experiment_is_a_clear_error(tmp_path):
    proc = status(tmp_path / "nothing")
    assert proc.returncode == 2 and proc.stderr.startswith("error: no experiment at")
