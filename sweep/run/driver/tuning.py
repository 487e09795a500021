"""Ray Tune runs of one sweep: the grid families' units, then each Optuna family.

One trainable (the payload in the object store once), one grid callback and the same
loggers (JSON for ``ExperimentAnalysis``, TensorBoard for the loss curves) for every
``Tuner.fit``; each fit is a Tune experiment folder under ``<storage>/tune/``.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from ray import tune
from ray.tune.logger import JsonLoggerCallback, TBXLoggerCallback

from models.data import MnistData
from sweep.config import Family, SweepConfig
from sweep.run.driver import signals
from sweep.run.driver.callbacks import GridCallback
from sweep.run.driver.progress import Progress
from sweep.run.driver.elastic import ElasticLimit
from sweep.run.driver.time_estimate import Estimate
from sweep.run.records import storage
from sweep.run.records.ledger import Ledger
from sweep.run.scheduling.searcher import UnitSearcher
from sweep.run.scheduling.units import Unit
from sweep.run.worker.classifier_setup import Classifier
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


@dataclass(frozen=True)
class GridPlan:
    """What run_sweep decided before the first trial: everything the Tune runs need."""
    cfg: SweepConfig
    exp: Path                      # the experiment folder (ledger, table, plan)
    ledger: Ledger
    root: str                      # where trial files go: a path or a URI
    mirror_to: str | None          # the storage root that gets copies of the records, if any
    data: MnistData                # the training images
    clf: Classifier                # the scoring classifier
    request: dict[str, float]      # resources per trial: {"cpu": .., "gpu": ..}
    slots: int                     # trials at a time
    est: Estimate                  # the time estimate, updated as trials finish
    total: int                     # configurations the sweep plans
    done_before: int               # of them finished before this run
    log: Callable[..., None] = print
    trainable: Callable[..., None] | None = None  # replaces run_trial (tests, the bench)
    schedules: dict[str, Any] | None = None  # scheduled families (rung_setup.Schedule)
    board: Any = None              # the rung board actor, when a family is scheduled


class Fitter:
    """Runs the sweep's Tune experiments and keeps what the caller reports about them."""

    def __init__(self, plan: GridPlan) -> None:
        self.plan = plan
        self.slots = plan.slots  # trials at a time now: follows the cluster (elastic)
        cfg, r = plan.cfg, plan.cfg.resources
        payload = Payload(plan.data.train_images.numpy(), plan.data.source, plan.clf.state,
                          plan.clf.args, plan.clf.sha256, plan.clf.reference, plan.root,
                          cfg.score.samples, plan.request["cpu"], r.checkpoint_every,
                          cfg.score.rung_samples, plan.schedules or None, plan.board)
        self.reuse = r.reuse_actors if r.reuse_actors != "auto" else \
            plan.est.mean_unit_seconds() < REUSE_BELOW_S
        self.trainable = make_trainable(payload, plan.request, fn=plan.trainable or run_trial,
                                        reused=self.reuse)
        plan.log("[plan] Ray workers " + (
            "reused across trials (short trials): each worker's log in the dashboard names "
            "the trial it runs" if self.reuse else
            "started per trial: the dashboard names each by the configuration it trains"))
        self.progress = Progress(plan.exp, total=plan.total, done_before=plan.done_before,
                                 est=plan.est, name=cfg.name, log=plan.log,
                                 progress_log=_progress_log())
        self.callback = GridCallback(plan.ledger, self.progress, mirror_to=plan.mirror_to,
                                     log=plan.log)
        self.handed_out, self.hand_out_s = 0, 0.0

    @property
    def first_trial_at(self) -> float | None:
        return self.plan.est.started

    @property
    def ran(self) -> int:
        return self.progress.done - self.plan.done_before

    def _resized(self, slots: int) -> None:
        """The cluster grew or shrank: the next fit starts at its size, the ETA follows."""
        self.slots = self.plan.est.slots = slots

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

        for seed in self.plan.cfg.seeds:
            done = {k: e for k, e in self.plan.ledger.entries().items()
                    if e.get("family") == family.name and e.get("seed") == seed}
            todo = family.trials - len(done)
            if todo <= 0:
                continue
            searcher = FamilySearcher(self.plan.cfg, family, seed, self.plan.exp, done)
            self.plan.log(f"[optuna] {family.name} seed {seed}: {todo} trials of TPE "
                          f"({len(done)} done before; study in {self.plan.exp / 'optuna.journal'})")
            self._fit(searcher, todo, f"optuna-{family.name}-{seed}")

    def _fit(self, searcher: Any, num_samples: int, label: str) -> None:
        storage_path, storage_fs = storage.tune_storage(self.plan.root)
        r = self.plan.cfg.resources
        elastic = ElasticLimit(searcher, self.plan.request, r.max_concurrent_trials,
                               self.slots, log=self.plan.log, on_resize=self._resized)
        tuner = tune.Tuner(
            self.trainable,
            param_space={},
            tune_config=tune.TuneConfig(
                search_alg=elastic.limiter, num_samples=num_samples, reuse_actors=self.reuse,
                trial_name_creator=_trial_name, trial_dirname_creator=_trial_name),
            run_config=tune.RunConfig(
                name=f"{label}-{time.strftime('%Y%m%d-%H%M%S')}", storage_path=storage_path,
                storage_filesystem=storage_fs,
                callbacks=[self.callback, elastic, JsonLoggerCallback(), CurvesTBXLogger()],
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
                self.plan.log(f"[storage] warning: Ray Tune could not reach "
                              f"{storage.ray_storage_path(self.plan.root)} "
                              f"({type(exc).__name__}: {exc})", flush=True)
