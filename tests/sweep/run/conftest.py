"""The run tests' shared grid: the smoke sweep, run once per session."""
from __future__ import annotations

import time

import pytest

from sweeps import Driver, sweep, write_sweep


# --- a finished smoke run, shared by the tests that need one -------------------------------
@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory, small_classifier):
    """examples/smoke.yaml (13 trials) run once: (work folder, sweep file, results, output,
    the second `sweep grid` tried on the same results while it ran: (exit code, output),
    whether the first was still running when the second ended, the first one's pid).

    The lock test rides on this run (saving a sweep): the first run's table is then
    checked in full by test_smoke_sweep_end_to_end, so "not disturbed" means all of it.
    """
    work = tmp_path_factory.mktemp("smoke")
    sweep_file = write_sweep(work / "smoke.yaml", small_classifier)
    results = work / "results"
    args = ["grid", "-c", str(sweep_file), "--results", str(results)]
    t0 = time.monotonic()
    first = Driver(args, work)
    try:
        lock, deadline = results / ".lock", time.monotonic() + 120
        while not (lock.exists() and lock.read_text() == f"pid {first.proc.pid}"):
            assert first.proc.poll() is None, first.output[-3000:]
            assert time.monotonic() < deadline, first.output[-3000:]
            time.sleep(0.05)
        second = sweep(*args, cwd=work)
        first_running = first.proc.poll() is None
        rc = first.wait()
        out = first.output
    finally:
        first.close()
    print(f"smoke sweep: {time.monotonic() - t0:.1f} s")
    assert rc == 0, out[-3000:]
    return work, sweep_file, results, out, second, first_running, first.proc.pid


