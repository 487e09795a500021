"""An experiment directory before its grid runs: which sweep it holds, what is left to run.

``run_sweep`` (sweep/run/driver/api.py) calls these in order: refuse a different sweep
(:func:`check_sweep`), never mix data or classifiers (:func:`check_comparable`), find the
pending configurations (:func:`pending_keys`), and, once every check passed, record the
sweep as the experiment's (:func:`record_sweep`): a refused run leaves the directory as it
was.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from models import atomic
from models.config import TrialConfig
from sweep.config import SweepConfig, plan
from sweep.run.records.ledger import Ledger, LedgerError


def sweep_ids(cfg: SweepConfig, grid: list[TrialConfig]) -> list[str]:
    """What identifies the sweep: its grid trial keys, and each Optuna family's space (not
    its budget: raising `trials` continues the family)."""
    optuna = [f"optuna:{f.name}:{json.dumps(f.axes, default=str)}"
              for f in cfg.families if f.search == "optuna"]
    return [t.key for t in grid] + optuna


def check_sweep(cfg: SweepConfig, ledger: Ledger, ids: list[str], *, extend: bool) -> None:
    """Refuse a different sweep (unless --extend only adds to it); records nothing."""
    ledger.check_sweep(cfg.name, cfg.path, ids, extend=extend, record=False)


def check_comparable(entries: dict[str, dict[str, Any]], exp: Path, data_source: str,
                     sha: str) -> None:
    """Never mix scores from different data or classifiers in one experiment."""
    for entry in entries.values():
        for field, now in (("data_source", data_source), ("classifier_sha256", sha)):
            then = entry.get(field)
            if then and then != now:
                raise LedgerError(
                    f"{exp}: earlier trials used {field} {then}, this run would use "
                    f"{now}; their scores would not be comparable. Restore the earlier setting, "
                    "or start a new experiment with --fresh or --results DIR.")


def pending_keys(grid: list[TrialConfig], entries: dict[str, dict[str, Any]], *,
                 retry_errors: bool) -> set[str]:
    done = {k for k, e in entries.items() if not (retry_errors and e.get("status") == "error")}
    return {t.key for t in grid} - done


def record_sweep(cfg: SweepConfig, exp: Path, ledger: Ledger, ids: list[str],
                 manifest: dict[str, Any]) -> None:
    """Every check passed: this sweep is now the experiment's. A run refused earlier
    (classifier, data, resources) leaves experiment.json, sweep.yaml and plan.json as
    they were; otherwise a refused --extend would lock the old sweep file out."""
    ledger.record_sweep(cfg.name, cfg.path, ids)
    if Path(cfg.path).is_file():  # a SweepConfig built in code has no file to keep
        shutil.copyfile(cfg.path, exp / "sweep.yaml")
    atomic.write_text(exp / "plan.json", json.dumps(plan(cfg), indent=2))
    atomic.write_text(exp / "classifier.json", json.dumps(manifest, indent=2))
