"""`sweep tensorboard`, `sweep optuna-dashboard`, `sweep dashboard`: where to watch an experiment.

TensorBoard reads the event files Ray Tune's TensorBoard logger writes under
``<storage>/tune/`` (one run per trial, named by family and key) and, in its HParams
dashboard, one session per configuration from ``<experiment>/hparams/`` (written by
``sweep collect`` and ``sweep histograms``); optuna-dashboard reads
the Optuna studies of the experiment (``optuna.journal``). Both bind to 127.0.0.1 only:
from another machine, tunnel with ``ssh -N -L PORT:127.0.0.1:PORT HOST``.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from models.errors import UserError
from sweep.run.records import storage


def _tool(name: str) -> str:
    exe = Path(sys.executable).with_name(name)
    if not exe.exists():
        raise UserError(f"{name} is not installed beside this Python ({exe}); run `make setup`.")
    return str(exe)


def tensorboard(exp: Path, port: int) -> int:
    root = storage.recorded_root(exp) or str(Path(exp).resolve())
    logdir = storage.join(root, "tune")
    if not storage.is_uri(logdir) and not Path(logdir).is_dir():
        raise UserError(f"no Ray Tune folder at {logdir}: run `make grid` first.")
    runs = len(list(Path(logdir).glob("*/*/events.out.tfevents.*"))) if not storage.is_uri(
        logdir) else "?"
    # One HParams session per configuration (sweep/report/hparams.py), beside Tune's runs.
    configs = Path(exp) / "hparams"
    where = ["--logdir", logdir]
    if configs.is_dir():
        where = ["--logdir_spec", f"configurations:{configs.resolve()},trials:{logdir}"]
    sessions = len(list(configs.glob("*/events.out.tfevents.*"))) if configs.is_dir() else 0
    print(f"TensorBoard on http://127.0.0.1:{port} for {logdir} ({runs} trial runs)"
          + (f" and {configs} ({sessions} configurations in HParams)" if sessions else
             " (no HParams sessions yet: run `sweep collect`)") + "; Ctrl-C stops it",
          flush=True)
    return subprocess.call([_tool("tensorboard"), *where, "--host", "127.0.0.1",
                            "--port", str(port)])


def optuna_dashboard(exp: Path, port: int) -> int:
    journal = Path(exp) / "optuna.journal"
    if not journal.is_file():
        raise UserError(f"no Optuna study in {exp} ({journal.name} missing): the sweep has no "
                        "`search: optuna` family, or it has not run yet.")
    print(f"optuna-dashboard on http://127.0.0.1:{port} for {journal}; Ctrl-C stops it",
          flush=True)
    return subprocess.call([_tool("optuna-dashboard"), "--host", "127.0.0.1", "--port",
                            str(port), str(journal)])


def ray_dashboard(address: str) -> int:
    """Print the running Ray instance's dashboard URL and the token it asks for."""
    import ray

    from sweep.run.driver.cluster import auth_token, ray_cli
    try:
        ctx = ray.init(address=address, log_to_driver=False, logging_level="ERROR")
    except (ConnectionError, RuntimeError) as exc:
        raise UserError(f"no running Ray instance found ({exc}); start one with `make grid`.")
    try:
        url = ctx.dashboard_url or ""
        print(f"dashboard: {'http://' + url if url and not url.startswith('http') else url}")
        print(f"token:     {auth_token() or f'(none: run `{ray_cli()} get-auth-token`)'}")
    finally:
        ray.shutdown()
    return 0
