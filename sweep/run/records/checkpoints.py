"""Trial checkpoints: a training state saved through Ray Tune, checked by a SHA-256.

A checkpoint is a folder with ``state.pt`` (``Trainer.state_dict()`` or a pack's, saved
with torch.save) and ``checkpoint.json`` (its SHA-256, size, iteration and unit). Ray Tune
persists the folder to the experiment's storage (local, NFS or s3://) when the trial
reports it, keeps only the newest (``CheckpointConfig(num_to_keep=1)``) and hands it back
to a retried trial (``tune.get_checkpoint()``). For a rerun after the driver died, the
driver keeps an index by unit id (``<experiment>/checkpoints/<unit id>.json``): the next
run hands each unfinished unit the location of its last checkpoint. When a unit's final
files are written, its checkpoints and its index entry are removed.
"""
from __future__ import annotations

import hashlib
import io
import json
import time
from pathlib import Path
from typing import Any

import torch

from models import atomic
from sweep.run.records import storage

STATE_FILE = "state.pt"
META_FILE = "checkpoint.json"
FORMAT = 1
MAX_SHARE = 0.02  # checkpoints may cost at most this share of training time
INDEX_DIR = "checkpoints"


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be used (missing, truncated, corrupt); the message says why."""


def write_state(state: dict[str, Any], folder: Path, unit_id: str) -> dict[str, Any]:
    """Write ``state`` into ``folder``; returns the metadata written beside it."""
    buf = io.BytesIO()
    torch.save(state, buf)
    payload = buf.getvalue()
    meta = {"format": FORMAT, "unit": unit_id, "iteration": int(state["iteration"]),
            "sha256": hashlib.sha256(payload).hexdigest(), "bytes": len(payload),
            "saved_at": time.strftime("%Y-%m-%dT%H:%M:%S")}
    folder.mkdir(parents=True, exist_ok=True)
    (folder / STATE_FILE).write_bytes(payload)
    (folder / META_FILE).write_text(json.dumps(meta))
    return meta


def read_state(location: str | Path, unit_id: str) -> dict[str, Any]:
    """The state saved at ``location`` (a folder path or URI), after checking its SHA-256."""
    where = str(location)
    try:
        meta = json.loads(storage.read_bytes(storage.join(where, META_FILE)))
        payload = storage.read_bytes(storage.join(where, STATE_FILE))
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"checkpoint {where} cannot be read ({type(exc).__name__}: "
                              f"{exc})") from None
    if meta.get("format") != FORMAT or meta.get("unit") != unit_id:
        raise CheckpointError(f"checkpoint {where} is of unit {meta.get('unit')} format "
                              f"{meta.get('format')}, not {unit_id} format {FORMAT}")
    digest = hashlib.sha256(payload).hexdigest()
    if len(payload) != meta.get("bytes") or digest != meta.get("sha256"):
        raise CheckpointError(f"checkpoint {where} is corrupt: {len(payload):,} bytes with "
                              f"SHA-256 {digest[:12]}.., expected {meta.get('bytes'):,} bytes "
                              f"with {str(meta.get('sha256'))[:12]}..")
    try:
        return torch.load(io.BytesIO(payload), map_location="cpu", weights_only=True)
    except Exception as exc:  # a matching checksum makes this unlikely: a format change
        raise CheckpointError(f"checkpoint {where} does not load ({exc})") from None


class CheckpointPolicy:
    """Checkpoint every ``every_s`` seconds, never more often than 1/MAX_SHARE times the
    last checkpoint's cost (so checkpoints take at most 2% of training time)."""

    def __init__(self, every_s: float, *, clock=time.monotonic) -> None:
        self.every_s, self.clock = float(every_s), clock
        self.last = clock()
        self.cost_s = 0.0

    @property
    def interval_s(self) -> float:
        return max(self.every_s, self.cost_s / MAX_SHARE)

    def due(self) -> bool:
        return self.clock() - self.last >= self.interval_s

    def saved(self, cost_s: float) -> None:
        self.cost_s, self.last = cost_s, self.clock()


# --- the driver's index of unfinished units --------------------------------------------------
class Index:
    """Per unfinished unit (``<experiment>/checkpoints/<unit id>.json``): where its last
    checkpoint is, its attempts as [start iteration, furthest iteration reported], and, in
    a family with a scheduler, its members' rung results ({key: {family, rows}}, rows as
    ``RungResult.to_row``), which the rung board is rebuilt from after a driver crash.

    Kept by the driver as results and checkpoints arrive, so a rerun after the driver died
    resumes each unit from its checkpoint and still knows what the lost attempts ran.
    """

    def __init__(self, exp_dir: Path) -> None:
        self.dir = Path(exp_dir) / INDEX_DIR
        self.entries: dict[str, dict[str, Any]] = {}
        for path in sorted(self.dir.glob("*.json")):
            try:
                entry = json.loads(path.read_text())
                self.entries[path.stem] = {"location": entry.get("location"),
                                           "attempts": list(entry.get("attempts") or [])}
                if entry.get("rungs"):
                    self.entries[path.stem]["rungs"] = dict(entry["rungs"])
            except (OSError, ValueError, AttributeError):
                continue  # a torn entry means no usable checkpoint, not a failed grid

    def locations(self) -> dict[str, str]:
        """unit id -> its last checkpoint, for the units an earlier run left unfinished."""
        return {u: e["location"] for u, e in self.entries.items() if e["location"]}

    def attempts(self, unit_id: str) -> list[list[int]]:
        return [list(a) for a in self.entries.get(unit_id, {}).get("attempts", [])]

    def rung_rows(self) -> dict[str, tuple[str, list[list]]]:
        """key -> (family, its rung rows) of every unfinished unit's members."""
        return {key: (r["family"], r["rows"]) for e in self.entries.values()
                for key, r in e.get("rungs", {}).items()}

    def rung_results(self, unit_id: str, rows: dict[str, dict]) -> None:
        """A rung report: ``{key: {"family": f, "row": [iteration, I, FD, continued]}}``."""
        entry = self.entries.setdefault(unit_id, {"location": None, "attempts": []})
        rungs = entry.setdefault("rungs", {})
        for key, r in rows.items():
            mine = rungs.setdefault(key, {"family": r["family"], "rows": []})
            if all(old[0] != r["row"][0] for old in mine["rows"]):
                mine["rows"].append(r["row"])
        self._save(unit_id)

    def _save(self, unit_id: str) -> None:
        atomic.write_text(self.dir / f"{unit_id}.json", json.dumps(self.entries[unit_id]))

    def checkpointed(self, unit_id: str, location: str) -> None:
        self.entries.setdefault(unit_id, {"location": None, "attempts": []})["location"] = location
        self._save(unit_id)

    def progress(self, unit_id: str, start: int, iteration: int, new_attempt: bool) -> None:
        """A report of the attempt that started at ``start`` has reached ``iteration``."""
        entry = self.entries.setdefault(unit_id, {"location": None, "attempts": []})
        attempts = entry["attempts"]
        if new_attempt or not attempts or attempts[-1][0] != start:
            attempts.append([start, iteration])
        else:
            attempts[-1][1] = max(attempts[-1][1], iteration)
        self._save(unit_id)

    def forget(self, unit_id: str, also: list[str] = ()) -> None:
        """Remove a finished unit's checkpoints (the indexed one and ``also``) and its entry."""
        entry = self.entries.pop(unit_id, {})
        for location in dict.fromkeys([*also, entry.get("location")]):
            if location:
                storage.delete_dir(location)
        (self.dir / f"{unit_id}.json").unlink(missing_ok=True)


def iterations_run(attempts: list[list[int]], done: int) -> int:
    """Iterations computed over all attempts: each lost attempt from its start to the furthest
    iteration it reported, the last one from its start to the end (``done``)."""
    if not attempts:
        return done
    lost = sum(max(0, reached - start) for start, reached in attempts[:-1])
    return lost + done - attempts[-1][0]
