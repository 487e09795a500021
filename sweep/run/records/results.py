"""What one configuration's run produced, and the results table built from it.

:class:`TrialResult` is the one definition from which the ledger entry, the final report to
Ray Tune and the results table's columns are all derived. The table has one row per
finished configuration, from the ledger, as Parquet and CSV:
``pd.read_parquet("results/table1/trials.parquet")`` is all a reader needs. It is rebuilt
from the ledger at any time (``sweep collect``), also while a grid is running, and written
atomically (temp file + rename) so a reader never sees half a table. Its columns are the
settings, then the results; columns of entries written by other versions follow at the end.
"""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from models.atomic import atomic_path
from models.config import TrialConfig
from sweep.run.records import storage
from sweep.run.records.ledger import Ledger

if TYPE_CHECKING:
    import pandas as pd

OBJECTIVE = "objective"  # what searchers maximise: the score, or 0 (a collapsed I) if none
STATUSES = ("ok", "diverged", "error", "stopped")  # stopped: by a scheduler, at a rung


@dataclass
class TrialResult:
    """The result of one configuration (a pack's members get one each)."""

    status: str                          # ok | diverged | error | stopped
    score: float | None = None           # modified inception score I (higher is better)
    fd: float | None = None              # Frechet distance to real test digits (lower is better)
    error: str | None = None             # why a trial is `error`
    class_histogram: str | None = None   # JSON list: samples the classifier put in each digit
    iterations_done: int | None = None   # the iteration the run ended at
    iterations_planned: int | None = None
    iterations_run: int | None = None    # over all attempts (> done when an attempt was lost)
    attempts: list[int] | None = None    # the iteration each attempt started from
    checkpoint_note: str | None = None   # a checkpoint that could not be used, and why
    diverged_at: int | None = None       # first iteration with a NaN/inf loss
    loss_d: float | None = None          # losses of the last iteration
    loss_g: float | None = None
    wall_time_s: float | None = None     # training + scoring of this configuration
    train_time_s: float | None = None
    score_time_s: float | None = None
    ms_per_iteration: float | None = None
    data_source: str | None = None       # mnist | mnist-5k
    classifier_sha256: str | None = None  # scores compare only under the same classifier
    device: str | None = None
    node: str | None = None              # Ray node-id prefix that ran it
    trial_dir: str | None = None         # its files: a path or an s3:// URI
    pack_id: str | None = None           # configurations trained together (execution detail)
    pack_size: int | None = None
    order: int | None = None             # position in its family's seeded hand-out order
    objective: float = 0.0               # = score, or 0 without one (searchers maximise it)
    # A family with a scheduler (sweep.yaml `scheduler:`) scores its configurations at rungs
    # on score.rung_samples samples; score and fd above stay the full-budget scores.
    stopped_at: int | None = None        # the rung a scheduler stopped it at (status stopped)
    rung_score: float | None = None      # I at its last rung
    rung_fd: float | None = None         # FD at its last rung
    rungs: str | None = None             # JSON list of [iteration, I, FD, continued] per rung
    rung_time_s: float | None = None     # scoring at rungs (a pack's: shared by its members)

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {', '.join(STATUSES)}, got {self.status!r}")
        self.attempts = attempts_list(self.attempts)

    def set_score(self, score: float, fd: float | None, class_histogram: str,
                  seconds: float) -> None:
        """Record the scoring of a generator; the objective searchers maximise is I."""
        self.score, self.fd, self.class_histogram = score, fd, class_histogram
        self.score_time_s = seconds
        self.objective = float(score)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def failed(cls, message: str, **known: Any) -> TrialResult:
        return cls(status="error", error=message[:500], **known)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrialResult:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in names})


RESULT_COLUMNS = tuple(f.name for f in fields(TrialResult))
SETTING_COLUMNS = tuple(f.name for f in fields(TrialConfig))
# The results table: identity, every setting, every result field, then bookkeeping.
TABLE_COLUMNS = ("trial_key", *SETTING_COLUMNS, *RESULT_COLUMNS, "trial_id", "finished_at")
# Columns of tables written by earlier versions that no longer mean anything.
RETIRED_COLUMNS = ("inject_error",)


def ledger_entry(config: TrialConfig, result: TrialResult, *, trial_id: str,
                 finished_at: str) -> dict[str, Any]:
    """The JSON written to ledger/<key>.json when a configuration ends."""
    return {**config.to_dict(), "trial_key": config.key, "trial_id": trial_id,
            "finished_at": finished_at, **result.to_dict()}


def attempts_list(value: Any) -> list[int] | None:
    """A ledger entry's ``attempts`` as a list. Entries written before 2026-11-30 hold the
    list as JSON text inside the JSON; both read the same."""
    if isinstance(value, str):
        value = json.loads(value)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return [int(a) for a in value]


def histogram_json(counts: list[int]) -> str:
    return json.dumps([int(c) for c in counts])


TABLE = "trials.parquet"
CSV = "trials.csv"


def table(exp_dir: Path) -> pd.DataFrame:
    """The ledger as a DataFrame with a fixed column order (extra columns at the end)."""
    import pandas as pd  # workers import TrialResult from here and need no pandas

    rows = list(Ledger(exp_dir).entries().values())
    df = pd.DataFrame(rows).drop(columns=list(RETIRED_COLUMNS), errors="ignore")
    for col in TABLE_COLUMNS:
        if col not in df.columns:
            df[col] = None
    extra = [c for c in df.columns if c not in TABLE_COLUMNS]
    df = df[[*TABLE_COLUMNS, *extra]]
    for col in ("score", "fd", "rung_score", "rung_fd"):
        df[col] = pd.to_numeric(df[col], errors="coerce").astype("float64")
    for col in ("order", "stopped_at"):
        df[col] = pd.to_numeric(df[col], errors="coerce").astype("Int64")
    df["attempts"] = df["attempts"].map(attempts_list)  # old ledgers: JSON text
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
