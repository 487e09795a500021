"""What one configuration's run produced: one definition, from which the ledger entry, the
final report to Ray Tune and the results table's columns are all derived."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from typing import Any

from models.config import TrialConfig

OBJECTIVE = "objective"  # what searchers maximise: the score, or 0 (a collapsed I) if none
STATUSES = ("ok", "diverged", "error")


@dataclass
class TrialResult:
    """The result of one configuration (a pack's members get one each)."""

    status: str                          # ok | diverged | error
    score: float | None = None           # modified inception score I (higher is better)
    fd: float | None = None              # Frechet distance to real test digits (lower is better)
    error: str | None = None             # why a trial is `error`
    class_histogram: str | None = None   # JSON list: samples the classifier put in each digit
    iterations_done: int | None = None   # the iteration the run ended at
    iterations_planned: int | None = None
    iterations_run: int | None = None    # over all attempts (> done when an attempt was lost)
    attempts: str | None = None          # JSON list: the iteration each attempt started from
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

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {', '.join(STATUSES)}, got {self.status!r}")

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


def histogram_json(counts: list[int]) -> str:
    return json.dumps([int(c) for c in counts])
