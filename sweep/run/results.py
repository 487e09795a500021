"""The results table: one row per finished configuration, from the ledger, as Parquet and CSV.

``pd.read_parquet("results/table1/trials.parquet")`` is all a reader needs. The table is
rebuilt from the ledger at any time (``sweep collect``), also while a grid is running, and
written atomically (temp file + rename) so a reader never sees half a table. Its columns
come from ``sweep/run/result.py`` (settings, then results); columns of entries written by
other versions follow at the end.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from models.atomic import atomic_path
from sweep.run import storage
from sweep.run.ledger import Ledger
from sweep.run.result import RETIRED_COLUMNS, TABLE_COLUMNS

TABLE = "trials.parquet"
CSV = "trials.csv"


def table(exp_dir: Path) -> pd.DataFrame:
    """The ledger as a DataFrame with a fixed column order (extra columns at the end)."""
    rows = list(Ledger(exp_dir).entries().values())
    df = pd.DataFrame(rows).drop(columns=list(RETIRED_COLUMNS), errors="ignore")
    for col in TABLE_COLUMNS:
        if col not in df.columns:
            df[col] = None
    extra = [c for c in df.columns if c not in TABLE_COLUMNS]
    df = df[[*TABLE_COLUMNS, *extra]]
    for col in ("score", "fd"):
        df[col] = pd.to_numeric(df[col], errors="coerce").astype("float64")
    df["order"] = pd.to_numeric(df["order"], errors="coerce").astype("Int64")
    return df.sort_values(["family", "trial_key"], kind="stable").reset_index(drop=True)


def _atomic(path: Path, write) -> None:
    with atomic_path(path) as tmp:
        write(tmp)


def collect(exp_dir: Path, *, mirror: bool = True, log=print) -> pd.DataFrame:
    """Write ``trials.parquet`` and ``trials.csv`` from the ledger; return the table.

    ``mirror``: when the experiment's trial files live elsewhere (``storage:``, recorded
    by ``sweep grid``), copy the table and the ledger there as well (a failure is a
    warning: the local table is written either way).
    """
    exp_dir = Path(exp_dir)
    exp_dir.mkdir(parents=True, exist_ok=True)
    df = table(exp_dir)
    _atomic(exp_dir / TABLE, lambda p: df.to_parquet(p, index=False))
    _atomic(exp_dir / CSV, lambda p: df.to_csv(p, index=False))
    if mirror:
        storage.try_mirror_experiment(exp_dir, log=log)
    return df
