"""summary.md's section on the families with a scheduler (sweep.yaml ``scheduler:``).

Per scheduled family, from the results table and plan.json alone: the configurations
started, how many were stopped at each rung, how many reached the budget (and failed), the
iterations spent against what the same configurations cost trained to the full budget, and
the best configuration found (by the scheduler's metric, among those trained to the budget)
with its final I and FD. Li et al. (MLSys 2020) measure ASHA by the same two numbers: the
share of the budget spent and the quality of the best configuration it finds.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from sweep.report.experiment import Experiment
from sweep.report.panels import plain, record


def _budget(sched: dict[str, Any], t: pd.DataFrame) -> int | None:
    if sched.get("budget"):
        return int(sched["budget"])
    planned = pd.to_numeric(t["iterations_planned"], errors="coerce").dropna()
    return int(planned.max()) if len(planned) else None


def _spent(t: pd.DataFrame) -> int:
    """Iterations computed, lost attempts included (``iterations_run``; else done)."""
    run = pd.to_numeric(t["iterations_run"], errors="coerce")
    done = pd.to_numeric(t["iterations_done"], errors="coerce")
    return int(run.fillna(done).fillna(0).sum())


def family_section(t: pd.DataFrame, sched: dict[str, Any]) -> dict[str, Any]:
    """The numbers of one scheduled family's trials ``t``."""
    st = t["status"]
    stopped = t[st == "stopped"]
    by_rung = pd.to_numeric(stopped["stopped_at"], errors="coerce").dropna().astype(int)
    budget = _budget(sched, t)
    spent, full = _spent(t), (len(t) * budget if budget else None)
    metric = sched.get("metric", "score")
    ok = t[(st == "ok") & np.isfinite(pd.to_numeric(t[metric], errors="coerce").to_numpy(float))]
    best = None
    if len(ok):
        row = ok.sort_values([metric, "trial_key"], ascending=[metric == "fd", True]).iloc[0]
        best = record(row)
    return {"scheduler": {k: sched.get(k) for k in ("type", "metric", "grace", "reduction",
                                                    "brackets")},
            "budget": budget, "started": int(len(t)),
            "stopped": {int(r): int(n) for r, n in sorted(by_rung.value_counts().items())},
            "reached_budget": int((st == "ok").sum()),
            "failed": int(st.isin(["diverged", "error"]).sum()),
            "iterations": spent, "full_budget_iterations": full,
            "fraction": plain(spent / full) if full else None, "best": best}


def early_stopping(exp: Experiment) -> dict[str, dict[str, Any]]:
    """Every scheduled family of plan.json that has trials in the table."""
    out = {}
    for fam, sched in ((exp.plan or {}).get("schedulers") or {}).items():
        t = exp.trials[exp.trials["family"] == fam]
        if len(t):
            out[fam] = family_section(t, sched)
    return out


def render_early_stopping(sections: dict[str, dict[str, Any]]) -> list[str]:
    """summary.md lines: one table row per scheduled family."""
    if not sections:
        return []
    lines = ["", "## Early stopping (families with a scheduler)", "",
             "Configurations a scheduler stopped at a rung (status `stopped`) are results, "
             "but not trained to the budget: Figures 2 and 3 leave them out.", "",
             "| family | scheduler | started | stopped (at rung: n) | reached the budget | "
             "failed | iterations spent | of the full budget | best (by the metric) | I | FD |",
             "|---|---|---:|---|---:|---:|---:|---:|---|---:|---:|"]
    for fam, s in sections.items():
        sch = s["scheduler"]
        name = (f"{sch['type']} on {sch['metric']}, grace {sch['grace']:,}, reduction "
                f"{sch['reduction']:g}" + (f", {sch['brackets']} brackets"
                                           if (sch.get("brackets") or 1) > 1 else ""))
        stopped = ", ".join(f"{r:,}: {n:,}" for r, n in s["stopped"].items()) or "none"
        full = "–" if s["full_budget_iterations"] is None else \
            f"{s['full_budget_iterations']:,} ({100 * s['fraction']:.1f}%)"
        b = s["best"] or {}
        best_i = "–" if b.get("score") is None else f"{b['score']:.3f}"
        best_fd = "–" if b.get("fd") is None else f"{b['fd']:.2f}"
        lines.append(f"| {fam} | {name} | {s['started']:,} | {stopped} | "
                     f"{s['reached_budget']:,} | {s['failed']:,} | {s['iterations']:,} | "
                     f"{full} | {b.get('trial_key', '–')} | {best_i} | {best_fd} |")
    return lines
