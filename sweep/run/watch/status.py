"""`sweep status`: an experiment's progress from its files alone (no Ray, no torch).

Done / planned by family and status from the ledger and plan.json, the last finished
trial, and, while a driver holds the experiment's lock, its live progress (progress.json,
written as each trial ends: trials running, elapsed time, ETA).
"""
from __future__ import annotations

import fcntl
import json
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from models.errors import UserError
from sweep.run.driver.time_estimate import format_duration
from sweep.run.records.ledger import Ledger


def driver_pid(exp: Path) -> int | None:
    """The pid of the `sweep grid` holding the experiment, or None if none does."""
    lock = exp / ".lock"
    if not lock.exists():
        return None
    with open(lock) as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            text = lock.read_text().strip()
            return int(text.split()[-1]) if text.split() and text.split()[-1].isdigit() else -1
        fcntl.flock(fh, fcntl.LOCK_UN)
    return None


def read_status(exp: Path) -> dict[str, Any]:
    exp = Path(exp)
    if not exp.is_dir():
        raise UserError(f"no experiment at {exp}: run `sweep grid` (make grid) first, or give "
                        "--results DIR / -c SWEEP.yaml of an existing one.")
    try:
        plan = json.loads((exp / "plan.json").read_text())
    except (OSError, ValueError):
        plan = {}
    entries = Ledger(exp).entries()
    by_family: dict[str, Counter] = defaultdict(Counter)
    for e in entries.values():
        by_family[str(e.get("family"))][str(e.get("status"))] += 1
    planned = plan.get("families") or {}
    families = {fam: {"planned": planned.get(fam), "done": sum(by_family[fam].values()),
                      **{s: by_family[fam][s] for s in ("ok", "diverged", "error", "stopped")}}
                for fam in dict.fromkeys([*planned, *by_family])}
    last = max(entries.values(), key=lambda e: str(e.get("finished_at", "")), default=None)
    pid = driver_pid(exp)
    live = None
    if pid is not None:
        try:
            live = json.loads((exp / "progress.json").read_text())
        except (OSError, ValueError):
            live = None
    return {"experiment": str(exp), "name": plan.get("name"), "families": families,
            "done": len(entries), "total": plan.get("total"),
            "last_finished": None if last is None else {
                k: last.get(k) for k in ("trial_key", "family", "status", "score", "fd",
                                         "finished_at")},
            "driver_pid": pid, "live": live}


def render(s: dict[str, Any]) -> str:
    total = s["total"]
    stopped = any(f.get("stopped") for f in s["families"].values())  # a scheduler's
    lines = [f"experiment {s['experiment']}" + (f" (sweep {s['name']})" if s["name"] else ""),
             f"  {'family':<14}{'done':>8}{'planned':>9}{'ok':>7}{'diverged':>10}{'error':>7}"
             + (f"{'stopped':>9}" if stopped else "")]
    for fam, f in s["families"].items():
        lines.append(f"  {fam:<14}{f['done']:>8,}{f['planned'] or 0:>9,}{f['ok']:>7,}"
                     f"{f['diverged']:>10,}{f['error']:>7,}"
                     + (f"{f.get('stopped', 0):>9,}" if stopped else ""))
    lines.append(f"  {'total':<14}{s['done']:>8,}{total or 0:>9,}"
                 + ("" if total is None else f"   {100 * s['done'] / max(total, 1):.1f}% done"))
    last = s["last_finished"]
    if last:
        score = "-" if last["score"] is None else f"{last['score']:.3f}"
        lines.append(f"last finished: {last['family']} {last['trial_key']} ({last['status']}, "
                     f"I = {score}) at {last['finished_at']}")
    if s["driver_pid"] is None:
        lines.append("driver: not running (`make grid` continues the experiment)")
    else:
        live = s["live"] or {}
        eta = live.get("eta_s")
        lines.append(f"driver: running (pid {s['driver_pid']}); {live.get('running_units', '?')} "
                     f"trials running, elapsed {format_duration(live.get('elapsed_s') or 0)}, "
                     f"ETA {format_duration(eta) if eta is not None else '?'}")
    return "\n".join(lines)
