"""examples/slurm/grid.sbatch under a real Slurm (slurmctld + slurmd on this machine, one
node: slurm_local.py): the smoke sweep as a batch job, and the same job requeued mid-grid.

Skips where Slurm is not installed and cannot be. Slow: minutes each (`make test-slow`).
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pandas as pd
import pytest

from fault_tools import attempts, checkpointed, no_checkpoints_left
from slurm_local import local_slurm
from sweeps import REPO, file_mtimes, ledger_entries, planned_keys, write_sweep

pytestmark = pytest.mark.slow

SCRIPT = REPO / "examples" / "slurm" / "grid.sbatch"
JOB_TIMEOUT_S = 900
REQUEUE_BUDGET = 400   # iterations: trials long enough to be caught running, with checkpoints


@pytest.fixture(scope="module")
def slurm():
    with local_slurm() as s:
        yield s


def job_env(sweep_file: Path, results: Path) -> dict[str, str]:
    """What sbatch passes to the job (--export=ALL): the sweep, the results, the project."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("RAY_", "AWS_", "SLURM_")) and k != "PYTHONPATH"}
    env.update(SWEEP=str(sweep_file), RESULTS=str(results), PYTHONPATH=str(REPO))
    return env


def submit(slurm, tmp_path: Path, sweep_file: Path, results: Path) -> tuple[int, Path]:
    out = tmp_path / "job.out"
    job = slurm.submit(SCRIPT, "--nodes=1", "--cpus-per-task=2", "--time=30",
                       f"--output={out}", cwd=REPO, env=job_env(sweep_file, results))
    return job, out


def read(path: Path) -> str:
    return path.read_text()[-5000:] if path.exists() else "(no output)"


def test_grid_job_completes(slurm, small_classifier, tmp_path):
    """sbatch grid.sbatch with the smoke sweep: the job completes, 13 configurations."""
    sweep_file = write_sweep(tmp_path / "smoke.yaml", small_classifier)
    results = tmp_path / "results"
    t0 = time.monotonic()
    job, out = submit(slurm, tmp_path, sweep_file, results)
    info = slurm.wait(job, ("COMPLETED", "FAILED", "CANCELLED", "TIMEOUT"), JOB_TIMEOUT_S)
    wall = time.monotonic() - t0
    assert (info["JobState"], info["ExitCode"]) == ("COMPLETED", "0:0"), read(out)
    df = pd.read_parquet(results / "trials.parquet")
    assert len(df) == 13 and df["trial_key"].is_unique
    assert set(df["trial_key"]) == planned_keys(sweep_file)
    assert (df["status"] == "ok").all(), df[["trial_key", "status", "error"]]
    log = out.read_text()
    assert "sweep grid ended with 0" in log and "[grid] finished: 13 of 13" in log, log[-3000:]
    assert not list(Path("/tmp").glob(f"ray-{job}-*"))  # Ray stopped, its folder removed
    print(f"\n[timing] Slurm job, smoke sweep (13 trials), 1 node x 2 CPU: {wall:.1f} s "
          "from sbatch to COMPLETED")


def test_requeued_job_resumes(slurm, small_classifier, tmp_path):
    """`scontrol requeue` while trials run: the requeued job (same id) finishes the grid; no
    finished configuration runs again; a running one resumes from its checkpoint."""
    def edit(doc: dict) -> None:
        doc["budget"]["iterations"] = REQUEUE_BUDGET
        doc["resources"]["checkpoint_every"] = "0s"   # as often as the 2% rule allows
    sweep_file = write_sweep(tmp_path / "smoke.yaml", small_classifier, edit)
    results = tmp_path / "results"
    t0 = time.monotonic()
    job, out = submit(slurm, tmp_path, sweep_file, results)

    deadline = time.monotonic() + JOB_TIMEOUT_S
    while True:  # a finished configuration, and a running one with a checkpoint past 40
        done = ledger_entries(results) if (results / "ledger").is_dir() else {}
        ck = {u: v for u, v in checkpointed(results).items()
              if u not in done and v[1] < 0.6 * REQUEUE_BUDGET}  # far from its end
        if done and ck:
            break
        assert slurm.job(job)["JobState"] in ("PENDING", "RUNNING"), read(out)
        assert time.monotonic() < deadline, read(out)
        time.sleep(0.5)
    mtimes = {k: file_mtimes(e["trial_dir"]) for k, e in done.items()}
    requeued_at = time.monotonic()
    slurm.run("scontrol", "requeue", str(job))
    slurm.wait(job, ("PENDING",), 120)
    stopped_s = time.monotonic() - requeued_at
    # Slurm holds a requeued job for two minutes (its BeginTime); the test needs no wait.
    slurm.run("scontrol", "update", f"JobId={job}", "StartTime=now")
    info = slurm.wait(job, ("COMPLETED", "FAILED", "CANCELLED", "TIMEOUT"), JOB_TIMEOUT_S)
    wall = time.monotonic() - t0
    assert (info["JobState"], info["ExitCode"], info["Restarts"]) == ("COMPLETED", "0:0", "1"), \
        read(out)
    log = out.read_text()
    assert "SIGTERM: stopping the grid" in log and "sweep grid ended with 143" in log, log[-4000:]

    entries = ledger_entries(results)
    assert set(entries) == planned_keys(sweep_file)
    assert all(e["status"] == "ok" for e in entries.values())
    for key, before in done.items():  # finished before the requeue: not run again
        assert entries[key]["trial_id"] == before["trial_id"], key
        assert entries[key]["finished_at"] == before["finished_at"], key
        assert file_mtimes(entries[key]["trial_dir"]) == mtimes[key], key
    resumed = {u: attempts(entries[u]) for u in ck}
    assert any(len(a) == 2 and a[0] == 0 and a[1] >= ck[u][1] for u, a in resumed.items()), \
        (resumed, ck)
    no_checkpoints_left(results)
    df = pd.read_parquet(results / "trials.parquet")
    assert len(df) == 13 and df["trial_key"].is_unique
    unit = next(u for u, a in resumed.items() if len(a) == 2)
    print(f"\n[timing] Slurm requeue, smoke sweep at {REQUEUE_BUDGET} iterations, 1 node x "
          f"2 CPU: {wall:.1f} s from sbatch to COMPLETED (requeued after {len(done)} "
          f"finished; the job was pending again {stopped_s:.1f} s after `scontrol requeue`; "
          f"{unit} resumed from iteration {resumed[unit][1]}; "
          f"attempts {json.dumps(resumed)})")
