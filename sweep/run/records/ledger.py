"""The experiment's own record of finished trials: what makes a rerun resume.

Ray Tune checkpoints its experiment state only every so often, so ``Tuner.restore`` after
a kill re-runs trials that had finished (ray#8647, #12347, #14003). Instead, the driver
writes each trial's final result atomically under the trial's configuration key the
moment it ends (a Tune callback, so it also holds when trials run on other nodes), and a
rerun submits only the configurations with no entry yet.

Layout of an experiment directory::

    experiment.json   sweep name, source file, hash of the resolved trial list
    ledger/<key>.json one per finished trial (status ok | diverged | error)
    .lock             held (flock) by the running `sweep grid`

An entry that does not parse (a disk that lost data, a hand edit) stops the run with a
message naming the file: silently skipping it would retrain the trial, silently keeping
its name as "done" would lose it.
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import os
from pathlib import Path
from typing import Any, Iterable

from models import atomic
from models.errors import UserError


class LedgerError(UserError, RuntimeError):
    """The experiment directory cannot be used as asked (locked, or a different sweep)."""


class ResultsUnwritable(BaseException):
    """The driver cannot write the experiment directory (disk full, read-only): the grid
    stops. A BaseException, like signals.GridStopped, so that Ray Tune (which wraps what
    its callbacks raise into a TuneError with a traceback) lets it through; ``run_sweep``
    turns it into a LedgerError with one clear message."""

    def __init__(self, path: Path, exc: OSError) -> None:
        self.path, self.reason = Path(path), exc.strerror or str(exc)
        super().__init__(f"cannot write {self.path} ({self.reason})")


def trials_hash(keys: Iterable[str]) -> str:
    return hashlib.sha256("\n".join(sorted(keys)).encode()).hexdigest()[:16]


class Ledger:
    def __init__(self, exp_dir: Path) -> None:
        self.exp_dir = Path(exp_dir)
        self.dir = self.exp_dir / "ledger"
        self.meta_path = self.exp_dir / "experiment.json"
        self._lock_fh = None

    # --- entries ---------------------------------------------------------------------
    def write(self, key: str, entry: dict[str, Any]) -> None:
        atomic.write_text(self.dir / f"{key}.json", json.dumps(entry, sort_keys=True, default=str))

    def entries(self) -> dict[str, dict[str, Any]]:
        """Every entry by trial key; LedgerError naming the first one that does not parse."""
        out = {}
        if self.dir.is_dir():
            for path in sorted(self.dir.glob("*.json")):
                try:
                    entry = json.loads(path.read_text())
                    if not isinstance(entry, dict) or "status" not in entry:
                        raise ValueError("not a ledger entry (no status)")
                except (OSError, ValueError) as exc:
                    raise LedgerError(
                        f"the ledger entry {path} is damaged ({type(exc).__name__}: {exc}). "
                        "Nothing was changed. If the storage holds a copy (ledger/ there), "
                        "copy it back; else move the file out of ledger/ and the trial will "
                        "run again.") from None
                out[path.stem] = entry
        return out

    # --- the sweep this directory belongs to ----------------------------------------
    def metadata(self) -> dict[str, Any] | None:
        try:
            return json.loads(self.meta_path.read_text())
        except FileNotFoundError:
            return None

    def check_sweep(self, name: str, source: str, keys: list[str], *, extend: bool,
                    record: bool = True) -> None:
        """Refuse to mix two different sweeps in one directory; record this one (unless
        ``record`` is false: the caller records it with ``record_sweep`` once every other
        check passed, so a refused run leaves the experiment as it was)."""
        meta, digest = self.metadata(), trials_hash(keys)
        if meta is not None and meta["trials_hash"] != digest:
            old = set(meta.get("trial_keys", []))
            if not extend:
                raise LedgerError(
                    f"{self.exp_dir} holds an experiment made from a different sweep "
                    f"({meta.get('source')}, {len(old)} trials; now {source}, {len(keys)} "
                    "trials). Rerun with --extend to add the new configurations to it, "
                    "--fresh to set the old results aside and start again, or --results DIR "
                    "to use another directory.")
            removed = old - set(keys)
            if removed:
                raise LedgerError(
                    f"--extend only adds configurations, but {len(removed)} trial(s) of the "
                    f"experiment in {self.exp_dir} are no longer in {source}; use --fresh or "
                    "another --results directory.")
        if record:
            self.record_sweep(name, source, keys)

    def record_sweep(self, name: str, source: str, keys: list[str]) -> None:
        atomic.write_text(self.meta_path, json.dumps(
            {"name": name, "source": source, "trials_hash": trials_hash(keys),
             "trial_keys": sorted(keys)}))

    def set_aside(self) -> Path | None:
        """--fresh: move the old experiment out of the way (nothing is deleted)."""
        # The lock file alone (left by lock()) is no experiment.
        if not self.exp_dir.exists() or all(p.name == ".lock" for p in self.exp_dir.iterdir()):
            return None
        import time
        stamp = time.strftime('%Y%m%d-%H%M%S')
        target = self.exp_dir.with_name(f"{self.exp_dir.name}.old-{stamp}")
        n = 1
        while target.exists():  # two --fresh runs in the same second
            n += 1
            target = self.exp_dir.with_name(f"{self.exp_dir.name}.old-{stamp}-{n}")
        self.exp_dir.rename(target)
        return target

    # --- one writer at a time -------------------------------------------------------
    def lock(self) -> None:
        """Hold an exclusive flock for the driver's lifetime; the OS drops it on any exit."""
        self.exp_dir.mkdir(parents=True, exist_ok=True)
        fh = open(self.exp_dir / ".lock", "a+")
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip() or "another process"
            fh.close()
            raise LedgerError(f"{self.exp_dir} is in use by a running `sweep grid` ({holder}); "
                              "wait for it to finish or stop it first") from None
        fh.seek(0)
        fh.truncate()
        fh.write(f"pid {os.getpid()}")
        fh.flush()
        self._lock_fh = fh

    def unlock(self) -> None:
        if self._lock_fh is not None:
            fcntl.flock(self._lock_fh, fcntl.LOCK_UN)
            self._lock_fh.close()
            self._lock_fh = None
