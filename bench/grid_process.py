"""`sweep grid` as a child process for the bench: the project on its path, killed with its
whole process group (Ray's workers included) when it ends or times out."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import IO

REPO = Path(__file__).resolve().parents[1]


def run_grid(sweep_file: Path, results: Path, *, timeout: float,
             out: IO[str] | int = subprocess.PIPE) -> tuple[int, str | None]:
    """Run ``sweep grid -c sweep_file --results results``; (exit code, its output when
    ``out`` is a pipe, else None: it went to ``out``)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, "-m", "sweep", "grid", "-c", str(sweep_file),
                             "--results", str(results)], cwd=REPO, env=env, stdout=out,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        text, _ = proc.communicate(timeout=timeout)
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    return proc.returncode, text
