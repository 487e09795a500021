"""The results table: one row per finished trial, from the ledger, as Parquet and CSV.

``pd.read_parquet("results/table1/trials.parquet")`` is all a reader needs. The table is
rebuilt from the ledger at any time (``sweep collect``), also while a grid is running, and
written atomically (temp file + rename) so a reader never sees half a table.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from sweep import storage
from sweep.atomic import atomic_path
from sweep.config import TRIAL_KEYS
from sweep.ledger import Ledger

TABLE = "trials.parquet"
CSV = "trials.csv"
LEAD = ["trial_key", "family", "model", *TRIAL_KEYS, "seed", "epochs", "iterations",
        "batch_size"]
RESULT = ["score", "status", "error", "class_histogram", "iterations_done",
          "iterations_planned", "diverged_at", "loss_d", "loss_g", "wall_time_s",
          "train_time_s", "score_time_s", "ms_per_iteration", "data_source",
          "classifier_sha256", "device", "node", "trial_id", "trial_dir", "finished_at"]


def table(exp_dir: Path) -> pd.DataFrame:
    """The ledger as a DataFrame with a fixed column order (extra columns at the end)."""
    rows = list(Ledger(exp_dir).entries().values())
    df = pd.DataFrame(rows)
    for col in LEAD + RESULT:
        if col not in df.columns:
            df[col] = None
    extra = [c for c in df.columns if c not in LEAD + RESULT]
    df = df[LEAD + RESULT + extra]
    df["score"] = pd.to_numeric(df["score"], errors="coerce").astype("float64")
    return df.sort_values(["family", "trial_key"], kind="stable").reset_index(drop=True)


def _atomic(path: Path, write) -> None:
    with atomic_path(path) as tmp:
        write(tmp)


def collect(exp_dir: Path, mirror: bool = True) -> pd.DataFrame:
    """Write ``trials.parquet`` and ``trials.csv`` from the ledger; return the table.

    ``mirror``: when the experiment's trial files live elsewhere (``storage:``, recorded
    by ``sweep grid``), copy the table and the ledger there as well.
    """
    exp_dir = Path(exp_dir)
    exp_dir.mkdir(parents=True, exist_ok=True)
    df = table(exp_dir)
    _atomic(exp_dir / TABLE, lambda p: df.to_parquet(p, index=False))
    _atomic(exp_dir / CSV, lambda p: df.to_csv(p, index=False))
    if mirror:
        storage.mirror_experiment(exp_dir)
    return df
