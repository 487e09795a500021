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
from sweep.run import storage

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
        self.saved_count = 0

    @property
    def interval_s(self) -> float:
        return max(self.every_s, self.cost_s / MAX_SHARE)

    def due(self) -> bool:
        return self.clock() - self.last >= self.interval_s

    def saved(self, cost_s: float) -> None:
        self.cost_s, self.last = cost_s, self.clock()
        self.saved_count += 1


# --- the driver's index: unit id -> where its last checkpoint is ---------------------------
def record(exp_dir: Path, unit_id: str, location: str, iteration: int | None) -> None:
    atomic.write_text(Path(exp_dir) / INDEX_DIR / f"{unit_id}.json",
                      json.dumps({"location": location, "iteration": iteration}))


def recorded(exp_dir: Path) -> dict[str, str]:
    """unit id -> checkpoint location, for the units an earlier run left unfinished."""
    out = {}
    for path in sorted((Path(exp_dir) / INDEX_DIR).glob("*.json")):
        try:
            out[path.stem] = json.loads(path.read_text())["location"]
        except (OSError, ValueError, KeyError):
            continue  # a torn entry means no usable checkpoint, not a failed grid
    return out


def forget(exp_dir: Path, unit_id: str, also: list[str] = ()) -> None:
    """Remove a finished unit's checkpoints (the indexed one and ``also``) and its entry."""
    entry = Path(exp_dir) / INDEX_DIR / f"{unit_id}.json"
    locations = list(also)
    try:
        locations.append(json.loads(entry.read_text())["location"])
    except (OSError, ValueError, KeyError):
        pass
    for location in dict.fromkeys(locations):
        storage.delete_dir(location)
    entry.unlink(missing_ok=True)
