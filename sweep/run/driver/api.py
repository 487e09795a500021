"""Run a sweep: the programmatic API behind `sweep grid`, `make bench` and the tests.

sweep.yaml -> trials -> (minus the ledger's finished ones) -> units in a seeded hand-out
order -> Ray Tune (UnitSearcher; Optuna families through FamilySearcher) -> ledger ->
trials.parquet. Running it again continues the experiment: finished configurations are
skipped, unfinished ones resume from their last checkpoint.

    from sweep.run.driver.api import run_sweep
    run = run_sweep("examples/smoke.yaml", results="results/smoke")
    run.exit_code, run.counts, run.table
"""
from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from models.config import TrialConfig
from sweep.config import (SweepConfig, budget_text, counts, experiment_dir, load_config,
                          trials)
from sweep.run.driver import cluster, preflight, signals, time_estimate
from sweep.run.driver.signals import GridStopped, stop_on_signals
from sweep.run.records import checkpoints, storage
from sweep.run.records.ledger import Ledger, LedgerError, ResultsUnwritable

# Ray Tune settings for a grid, set by run_sweep (a user's own value wins): the ledger is
# the record of the experiment, so Tune's periodic snapshot (which grows with the trials)
# is rare; loggers are chosen explicitly (JSON for ExperimentAnalysis, TensorBoard); the
# trials waiting for a node are bounded by the grid's elastic limit, not by Tune's cap set
# at the start (sweep/run/driver/elastic.py).
TUNE_ENV = {"TUNE_GLOBAL_CHECKPOINT_S": "600", "TUNE_DISABLE_AUTO_CALLBACK_LOGGERS": "1",
            "RAY_AIR_NEW_OUTPUT": "0", "TUNE_MAX_PENDING_TRIALS_PG": "100000"}


@dataclass(frozen=True)
class SweepRun:
    """What a run of a sweep did."""
    state: str                 # finished | stopped | incomplete
    exit_code: int             # 0 finished, 130 / 143 stopped by SIGINT / SIGTERM, 1 incomplete
    experiment: Path
    table: Path
    total: int                 # configurations the sweep plans
    done: int                  # configurations with a final result (ok, diverged or error)
    counts: dict[str, int]     # the table by status
    ran: int                   # configurations finished by this run
    units: int                 # Ray Tune trials this run planned for the grid families
    slots: int                 # trials at a time
    wall_s: float
    first_trial_s: float | None = None  # from the plan line to the first trial running
    handed_out: int = 0        # grid units handed to Ray Tune
    hand_out_s: float = 0.0    # time the searcher spent handing them out
    signal: str | None = None
    notes: list[str] = field(default_factory=list)


@dataclass
class RunState:
    """How far a run got, filled in as it goes: the cleanup and the summary read it also
    when the run stopped half-way (a signal, a full disk)."""
    conn: Any = None                    # the Ray connection (cluster.Connection), once made
    stopped: GridStopped | None = None  # the signal that stopped the grid, if one did
    plan_at: float | None = None        # when the plan was printed (monotonic seconds)
    fitter: Any = None                  # the tuning.Fitter, once Ray Tune runs
    units: int = 0                      # Ray Tune trials planned for the grid families
    slots: int = 0                      # trials at a time


def run_sweep(config: str | Path | SweepConfig, *, results: str | Path | None = None,
              address: str | None = None, storage_root: str | None = None,
              extend: bool = False, fresh: bool = False, retry_errors: bool = False,
              log: Callable[..., None] = print,
              trainable: Callable[..., None] | None = None) -> SweepRun:
    """Run (or continue) the sweep; see the module docstring.

    ``trainable(config, payload)`` replaces the trial function (tests inject faults with
    it; the bench makes trials return at once); it must report a final result as
    ``sweep.run.worker.trainable.run_trial`` does.
    """
    started = time.monotonic()
    for key, value in TUNE_ENV.items():
        os.environ.setdefault(key, value)
    cfg = config if isinstance(config, SweepConfig) else load_config(config)
    exp = experiment_dir(cfg, results)
    ledger = Ledger(exp)
    if fresh:
        ledger.lock()  # held while renaming: no other driver may start in between
        try:
            moved = ledger.set_aside()
        finally:
            ledger.unlock()
        if moved:
            log(f"--fresh: the earlier experiment was moved to {moved}")
    ledger.lock()
    state = RunState()
    try:
        try:
            _run(cfg, exp, ledger, state, address=address, storage_root=storage_root,
                 extend=extend, retry_errors=retry_errors, log=log, trainable=trainable)
        except GridStopped as stop:
            state.stopped = stop
            log(f"[grid] {stop.name}: stopping now; the trials running were not finished "
                "and run again (from their last checkpoint) next time", flush=True)
        except ResultsUnwritable as full:  # the table could not be written either
            raise LedgerError(
                f"the grid stopped: {full}. The ledger keeps every trial that finished (no "
                "entry is half-written); make room on that disk (or make it writable) and run "
                "the same command again: finished trials are kept, the others resume from "
                "their last checkpoint.") from None
        return _finish(cfg, exp, state, started, log)
    finally:
        ledger.unlock()
        conn = state.conn
        # Stopped by a signal, on a cluster that may be going down with it (Slurm signals
        # every process of the job): disconnect now, or Tune's exit hook would wait a minute
        # on the dead GCS, past Slurm's KillWait (measured: the driver hung there).
        if conn is not None and (conn.started_here or state.stopped is not None):
            import ray
            ray.shutdown()


def _run(cfg: SweepConfig, exp: Path, ledger: Ledger, state: RunState, *, address,
         storage_root, extend, retry_errors, log, trainable) -> None:
    from models.data import load_mnist
    from sweep.run.worker.classifier_setup import ensure_classifier

    grid = trials(cfg)
    ids = preflight.sweep_ids(cfg, grid)
    preflight.check_sweep(cfg, ledger, ids, extend=extend)
    entries = ledger.entries()
    pending = preflight.pending_keys(grid, entries, retry_errors=retry_errors)
    total = sum(counts(cfg).values())
    n_fam = ", ".join(f"{k} {v:,}" for k, v in counts(cfg).items())
    log(f"[plan] {cfg.name}: {total:,} trials ({n_fam}); {len(grid) - len(pending):,} already "
        f"finished, {len(pending):,} grid trials to run")
    data = load_mnist(cfg.data.source, cfg.data.root, flatten=True)
    clf = ensure_classifier(cfg, data, log=log)
    preflight.check_comparable(entries, exp, data.source, clf.sha256)
    from sweep.run.driver import rung_setup
    scheds = rung_setup.schedules(cfg, len(data.train_images))  # grace vs an epochs budget
    root = storage.resolve(storage_root or cfg.storage, exp)
    storage.record_root(exp, root)
    mirror_to = root if storage.is_elsewhere(root, exp) else None

    with stop_on_signals():
        with signals.deferred():  # a signal during ray.init is recorded, raised after it
            state.conn = conn = cluster.connect(address, env=storage.worker_env(root))
            signals.reinstall()
        for line in cluster.dashboard_lines(conn):
            log(line)
        nodes = cluster.alive_nodes()
        log(f"[storage] trial files: {storage.join(root, 'trials')}"
            + ("; ledger and table also copied there" if mirror_to else ""))
        if (storage_root or cfg.storage) is None and len(cluster.node_hosts()) > 1:
            log(f"[storage] warning: this cluster spans several machines but trial files go to "
                f"{root} on the disk of whichever node runs the trial; set `storage:` in the "
                "sweep file (or --storage) to an NFS path or an s3:// URI")
        request = cluster.per_trial(cfg.resources, nodes)
        slots = cluster.concurrent_slots(request, nodes, cfg.resources.max_concurrent_trials)
        from sweep.run.scheduling import units as units_mod
        split = units_mod.splitter(cfg.resources, request, log=log)
        units = units_mod.plan_units(grid, pending, seed=_order_seed(cfg), split=split,
                                     resume_from=checkpoints.Index(exp).locations())
        resumed = sum(1 for u in units if u.resume_from)
        preflight.record_sweep(cfg, exp, ledger, ids, clf.manifest)
        est = _estimate(cfg, entries, units, data.train_images, slots, int(request["cpu"]))
        packed = sum(1 for u in units if u.is_pack)
        log(f"[plan] budget {budget_text(cfg)} of {len(data.train_images):,} {data.source} "
            f"images, batch {cfg.budget.batch_size}; {cfg.score.samples:,} score samples; "
            f"{len(units):,} Ray Tune trials ({packed:,} packs); per trial "
            f"{request['cpu']:g} CPU + {request['gpu']:g} GPU; {slots} at a time on "
            f"{cluster.describe_nodes(nodes)} now (this follows the nodes as they join or "
            "leave; packs are sized now)"
            + (f"; {resumed:,} resume from a checkpoint" if resumed else ""))
        grid_s = est.total_seconds()
        log(f"[plan] estimated time: {time_estimate.format_duration(grid_s)} for the grid on these "
            "resources" + (f"; {time_estimate.format_duration(grid_s + clf.trained_s)} with the "
                           f"classifier trained first ({clf.trained_s:.0f} s)"
                           if clf.trained_s else ""), flush=True)
        board = rung_setup.start(cfg, scheds, entries, checkpoints.Index(exp), log) \
            if scheds else None
        state.plan_at = time.monotonic()
        from sweep.run.driver.tuning import Fitter, GridPlan
        fitter = Fitter(GridPlan(
            cfg, exp, ledger, root, mirror_to, data, clf, request, slots, est, total,
            done_before=len(grid) - len(pending) + _optuna_done(cfg, entries), log=log,
            trainable=trainable, schedules=scheds, board=board))
        state.fitter, state.units, state.slots = fitter, len(units), slots
        fitter.grid(units)
        for fam in (f for f in cfg.families if f.search == "optuna"):
            fitter.optuna(fam)


def _order_seed(cfg: SweepConfig) -> int:
    from models.streams import derive_seed
    return derive_seed("hand-out order", *cfg.seeds)


def _optuna_done(cfg: SweepConfig, entries: dict[str, dict]) -> int:
    names = {f.name for f in cfg.families if f.search == "optuna"}
    return sum(1 for e in entries.values() if e.get("family") in names)


def _estimate(cfg: SweepConfig, entries: dict[str, dict], units: list, images, slots: int,
              threads: int) -> time_estimate.Estimate:
    configs: list[TrialConfig] = [m for u in units for m in u.members]
    n_optuna = sum(f.trials * len(cfg.seeds) for f in cfg.families if f.search == "optuna")
    mean = time_estimate.from_history(list(entries.values()))
    if mean is not None:
        prior = [mean] * (len(configs) + n_optuna)
    else:
        prior = time_estimate.config_seconds(configs, images, cfg.score.samples, threads)
        prior += [sum(prior) / len(prior)] * n_optuna if prior else []
    overhead = time_estimate.TRIAL_OVERHEAD_S * (len(units) + n_optuna)
    if prior:
        prior = [p + overhead / len(prior) for p in prior]
    return time_estimate.Estimate(prior, slots, units=len(units) + n_optuna)


def _finish(cfg: SweepConfig, exp: Path, state: RunState, started: float, log) -> SweepRun:
    from sweep.run.records.results import collect

    fitter = state.fitter
    df = collect(exp, mirror=False, log=log)
    if fitter is not None and fitter.plan.mirror_to:
        storage.try_mirror_experiment(exp, fitter.plan.mirror_to, log=log)
    total = sum(counts(cfg).values())
    by_status = {str(k): int(v) for k, v in df["status"].value_counts().items()} if len(df) else {}
    stopped = state.stopped
    done = len(df)
    if done >= total:
        result_state, code = "finished", 0
    elif stopped is not None:
        result_state, code = "stopped", stopped.exit_code
    else:
        result_state, code = "incomplete", 1
    statuses = ", ".join(f"{k} {v}" for k, v in sorted(by_status.items()))
    log(f"[grid] {result_state}: {done:,} of {total:,} trials in {exp / 'trials.parquet'}"
        + (f" ({statuses})" if statuses else ""))
    if result_state != "finished":
        log("[grid] run the same command again to continue: finished trials are kept, "
            "the rest run")
    plan_at = state.plan_at
    first = fitter.first_trial_at if fitter is not None else None
    return SweepRun(
        state=result_state, exit_code=code, experiment=exp, table=exp / "trials.parquet",
        total=total, done=done, counts=by_status, ran=fitter.ran if fitter else 0,
        units=state.units, slots=state.slots,
        wall_s=time.monotonic() - started,
        first_trial_s=(first - plan_at) if first is not None and plan_at is not None else None,
        handed_out=fitter.handed_out if fitter else 0,
        hand_out_s=fitter.hand_out_s if fitter else 0.0,
        signal=stopped.name if stopped is not None else None)


logging.getLogger("ray.tune.analysis.experiment_analysis").setLevel(logging.ERROR)
