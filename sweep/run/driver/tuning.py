"""Ray Tune runs of one sweep: the grid families' units, then each Optuna family.

One trainable (the payload in the object store once), one ledger callback and the same
loggers (JSON for ``ExperimentAnalysis``, TensorBoard for the loss curves) for every
``Tuner.fit``; each fit is a Tune experiment folder under ``<storage>/tune/``.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable

from ray import tune
from ray.tune.logger import JsonLoggerCallback, TBXLoggerCallback

from sweep.config import Family, SweepConfig
from sweep.run.driver import signals
from sweep.run.driver.callbacks import LedgerCallback
from sweep.run.driver.time_estimate import Estimate
from sweep.run.records import storage
from sweep.run.records.ledger import Ledger
from sweep.run.scheduling.searcher import UnitSearcher
from sweep.run.scheduling.units import Unit
from sweep.run.worker.trainable import Payload, make_trainable, run_trial

PROGRESS_LOG = "sweep-progress.log"  # in Ray's log folder: the dashboard's Logs view lists it
# `reuse_actors: auto` reuses Ray workers when a trial is expected to take less than this:
# a fresh worker costs seconds (torch and the project imported again); `make bench` measures it.
REUSE_BELOW_S = 120.0


class CurvesTBXLogger(TBXLoggerCallback):
    """Ray Tune's TensorBoard logger (the live loss curves) without its HParams session per
    Tune trial: with packs a trial is not a configuration; sweep/report/hparams.py writes
    one session per configuration from the results table."""

    def _try_log_hparams(self, trial, result) -> None:
        pass


def _progress_log() -> Path | None:
    """Ray's session log folder on this node, where the dashboard finds log files."""
    try:
        import ray
        node = ray._private.worker.global_worker.node
        return Path(node.get_logs_dir_path()) / PROGRESS_LOG
    except Exception:  # no local node (Ray client): the terminal and progress.json remain
        return None


def _trial_name(trial: Any) -> str:
    return f"{Unit.from_config(trial.config).label}-{trial.trial_id}"


class Fitter:
    """Runs the sweep's Tune experiments and keeps what the caller reports about them."""

    def __init__(self, cfg: SweepConfig, exp: Path, ledger: Ledger, root: str, data: Any,
                 clf: Any, request: dict[str, float], slots: int, est: Estimate, total: int,
                 done_before: int, mirror_to: str | None, log: Callable[..., None],
                 fn: Callable[..., None] | None) -> None:
        self.cfg, self.exp, self.ledger, self.root, self.log = cfg, exp, ledger, root, log
        self.slots, self.mirror_to, self.est = slots, mirror_to, est
        payload = Payload(data.train_images.numpy(), data.source, clf.state, clf.args,
                          clf.sha256, clf.reference, root, cfg.score.samples, request["cpu"],
                          cfg.resources.checkpoint_every)
        r = cfg.resources
        self.reuse = r.reuse_actors if r.reuse_actors != "auto" else \
            est.mean_unit_seconds() < REUSE_BELOW_S
        self.trainable = make_trainable(payload, request, fn=fn or run_trial, reused=self.reuse)
        log("[plan] Ray workers " + ("reused across trials (short trials): each worker's log "
                                     "in the dashboard names the trial it runs" if self.reuse else
                                     "started per trial: the dashboard names each by the "
                                     "configuration it trains"))
        self.done_before = done_before
        self.callback = LedgerCallback(ledger, total=total, done_before=done_before, est=est,
                                       name=cfg.name, log=log, mirror_to=mirror_to,
                                       progress_log=_progress_log())
        self.handed_out, self.hand_out_s = 0, 0.0

    @property
    def first_trial_at(self) -> float | None:
        return self.est.started

    @property
    def ran(self) -> int:
        return self.callback.done - self.done_before

    def grid(self, units: list[Unit]) -> None:
        if not units:
            return
        searcher = UnitSearcher(units)
        try:
            self._fit(searcher, len(units), "grid")
        finally:
            self.handed_out += searcher.handed_out
            self.hand_out_s += searcher.suggest_seconds

    def optuna(self, family: Family) -> None:
        from sweep.run.scheduling.optuna_search import FamilySearcher

        for seed in self.cfg.seeds:
            done = {k: e for k, e in self.ledger.entries().items()
                    if e.get("family") == family.name and e.get("seed") == seed}
            todo = family.trials - len(done)
            if todo <= 0:
                continue
            searcher = FamilySearcher(self.cfg, family, seed, self.exp, done)
            self.log(f"[optuna] {family.name} seed {seed}: {todo} trials of TPE "
                     f"({len(done)} done before; study in {self.exp / 'optuna.journal'})")
            self._fit(searcher, todo, f"optuna-{family.name}-{seed}")

    def _fit(self, searcher: Any, num_samples: int, label: str) -> None:
        storage_path, storage_fs = storage.tune_storage(self.root)
        r = self.cfg.resources
        tuner = tune.Tuner(
            self.trainable,
            param_space={},
            tune_config=tune.TuneConfig(
                search_alg=searcher, num_samples=num_samples, reuse_actors=self.reuse,
                max_concurrent_trials=r.max_concurrent_trials or self.slots,
                trial_name_creator=_trial_name, trial_dirname_creator=_trial_name),
            run_config=tune.RunConfig(
                name=f"{label}-{time.strftime('%Y%m%d-%H%M%S')}", storage_path=storage_path,
                storage_filesystem=storage_fs,
                callbacks=[self.callback, JsonLoggerCallback(), CurvesTBXLogger()],
                verbose=0, log_to_file=True,
                failure_config=tune.FailureConfig(max_failures=r.max_failures),
                checkpoint_config=tune.CheckpointConfig(num_to_keep=1)),
        )
        with signals.deferred():
            try:
                tuner.fit()
            except OSError as exc:
                # Tune lists its experiment folder once its trials are done; with the storage
                # unreachable (an S3 outage) that fails after every trial has its ledger
                # entry (`error` where it could not write). The ledger is the record: the
                # grid ends as finished or incomplete from it, not with a traceback.
                self.log(f"[storage] warning: Ray Tune could not reach "
                         f"{storage.ray_storage_path(self.root)} ({type(exc).__name__}: "
                         f"{exc})", flush=True)
