"""The driver's part of early stopping: each scheduled family's schedule (its budget known
now that the data is), the rung board actor, and its state rebuilt from what earlier runs
recorded: the rung results in the ledger (finished and stopped configurations) and in the
checkpoint index (configurations still training), fed to the board in iteration order.
"""
from __future__ import annotations

import json
from typing import Any, Callable

from sweep.config import ConfigError, SweepConfig
from sweep.config.scheduler import fit_budget
from sweep.run.records import checkpoints
from sweep.run.scheduling.rung_board import RungResult
from sweep.run.worker.rung_loop import Schedule


def family_budget(cfg: SweepConfig, n_images: int) -> int:
    """Iterations per configuration: ``budget.iterations``, else epochs x (images // batch)."""
    b = cfg.budget
    return int(b.iterations) if b.iterations is not None else b.epochs * (n_images // b.batch_size)


def schedules(cfg: SweepConfig, n_images: int) -> dict[str, Schedule]:
    """Every scheduled family's schedule; ConfigError (exit 2) if its grace does not fit the
    budget (known only now when the budget is in epochs)."""
    budget = family_budget(cfg, n_images)

    def fail(key: str, value: Any, problem: str) -> ConfigError:
        return ConfigError(f"{cfg.path}: {key}: {problem} (got {value!r}).")

    return {f.name: Schedule(fit_budget(f.scheduler, budget, f"families.{f.name}.scheduler",
                                        fail), budget)
            for f in cfg.families if f.scheduler is not None}


def earlier_results(entries: dict[str, dict], index: checkpoints.Index,
                    families: set[str]) -> dict[str, list[RungResult]]:
    """family -> the rung results recorded before this run (ledger, then checkpoint index)."""
    out: dict[str, list[RungResult]] = {f: [] for f in families}
    seen: set[str] = set()
    for key, e in entries.items():
        if e.get("family") in families and e.get("rungs"):
            rows = json.loads(e["rungs"]) if isinstance(e["rungs"], str) else e["rungs"]
            out[e["family"]].extend(RungResult.from_row(key, row) for row in rows)
            seen.add(key)
    for key, (family, rows) in index.rung_rows().items():
        if family in families and key not in seen:
            out[family].extend(RungResult.from_row(key, row) for row in rows)
    return out


def start(cfg: SweepConfig, scheds: dict[str, Schedule], entries: dict[str, dict],
          index: checkpoints.Index, log: Callable[..., None] = print) -> Any:
    """The rung board actor, holding every earlier rung result of the scheduled families."""
    import ray

    from sweep.run.scheduling.rung_board import start_board

    board = start_board({f: (s.scheduler, s.budget) for f, s in scheds.items()})
    earlier = earlier_results(entries, index, set(scheds))
    for family, s in scheds.items():
        n = ray.get(board.restore.remote(family, earlier[family]))
        sch = s.scheduler
        log(f"[{sch.type}] {family}: stops at rungs on {sch.metric} (grace {sch.grace:,}, "
            f"reduction {sch.reduction:g}, budget {s.budget:,}, scored on "
            f"{cfg.score.rung_samples:,} samples)"
            + (f"; {n:,} rung results of earlier runs take part" if n else ""))
    return board
