"""`sweep grid`: the sweep file's trials on Ray Tune, resumable and fault tolerant.

sweep.yaml -> trial list -> (minus the ledger's finished trials) -> Ray Tune -> ledger ->
trials.parquet. Running the same command again continues the experiment; see ledger.py.
"""
from __future__ import annotations

import json
import logging
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

# Before Ray Tune is imported: we keep our own ledger, so Tune's periodic experiment
# snapshot (which grows with the number of trials) and its per-trial loggers are only
# overhead. Users may still override both.
os.environ.setdefault("TUNE_GLOBAL_CHECKPOINT_S", "600")
os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")
os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")

from ray import tune  # noqa: E402

from evaluator.classifier import ClassifierError  # noqa: E402
from models.data import DataError  # noqa: E402
from sweep import cluster, estimate, search, storage  # noqa: E402
from sweep.classifier_setup import ensure_classifier  # noqa: E402
from sweep.config import SweepConfig, experiment_dir, load_config, plan, trial_key  # noqa: E402
from sweep.ledger import Ledger, LedgerError, atomic_write_text  # noqa: E402
from sweep.results import collect  # noqa: E402
from sweep.trainable import Payload, trial_of, with_payload  # noqa: E402

FINAL_KEYS = ("status", "score", "class_histogram", "iterations_done", "iterations_planned",
              "diverged_at", "loss_d", "loss_g", "train_time_s", "score_time_s",
              "wall_time_s", "ms_per_iteration", "data_source", "classifier_sha256",
              "device", "node", "trial_dir", search.OBJECTIVE)


class LedgerCallback(tune.Callback):
    """Driver side: write each finished trial to the ledger at once; print one line."""

    def __init__(self, ledger: Ledger, total: int, done_before: int, est: estimate.Estimate,
                 log=print, mirror_to: str | None = None) -> None:
        self.ledger, self.total, self.est, self.log = ledger, total, est, log
        self.done = done_before
        self.counts = {"ok": 0, "diverged": 0, "error": 0}
        self.mirror_to = mirror_to  # storage root that gets a copy of each entry, if any
        self.mirror_failed = False

    def _finish(self, trial: Any, entry: dict[str, Any], trials: list) -> None:
        settings = trial_of(trial.config)
        key = trial_key(settings)
        entry = {**settings, "trial_key": key, "trial_id": trial.trial_id,
                 "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S"), **entry}
        self.ledger.write(key, entry)
        self._mirror(key)
        self.done += 1
        self.counts[entry["status"]] = self.counts.get(entry["status"], 0) + 1
        if isinstance(entry.get("wall_time_s"), (int, float)):
            self.est.finished_seconds.append(entry["wall_time_s"])
        running = sum(1 for t in trials if t.status == "RUNNING" and t is not trial)
        remaining = self.total - self.done
        elapsed = time.monotonic() - self.est.started
        self.log(f"[grid] {self.done:,}/{self.total:,} done ({self.counts['ok']} ok, "
                 f"{self.counts['diverged']} diverged, {self.counts['error']} errors this run), "
                 f"{running} running, elapsed {estimate.format_duration(elapsed)}, "
                 f"ETA {estimate.format_duration(self.est.remaining_seconds(remaining))}",
                 flush=True)

    def _mirror(self, key: str) -> None:
        """Copy the new ledger entry to the storage; a failure never stops the grid (the
        local ledger is what resumes; the end of the grid and `sweep collect` copy again)."""
        if not self.mirror_to:
            return
        try:
            storage.mirror_ledger_entry(self.mirror_to, self.ledger.dir / f"{key}.json")
        except Exception as exc:  # an unreachable bucket must not cost the trials
            if not self.mirror_failed:
                self.log(f"[storage] warning: could not copy the ledger to {self.mirror_to}: "
                         f"{type(exc).__name__}: {exc}; will retry at the end", flush=True)
            self.mirror_failed = True

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        result = trial.last_result or {}
        if not result.get("final"):
            entry = {"status": "error", "error": "the trial ended without a final result"}
        else:
            entry = {k: result.get(k) for k in FINAL_KEYS}
        self._finish(trial, entry, trials)

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self._finish(trial, {"status": "error", "error": _error_message(trial),
                             search.OBJECTIVE: 0.0}, trials)


def _error_message(trial: Any) -> str:
    path = getattr(trial, "error_file", None)
    try:
        lines = [ln for ln in Path(path).read_text().splitlines() if ln.strip()]
        return lines[-1][:500] if lines else "unknown error"
    except (OSError, TypeError):
        return str(getattr(trial, "error_msg", None) or "unknown error")[:500]


def _prepare(cfg: SweepConfig, exp: Path, ledger: Ledger, args: Any
             ) -> tuple[list[dict[str, Any]], list[str]]:
    """Refuse a different sweep; (the grid trials, the ids that make up the sweep)."""
    trials = cfg.trials()
    keys = [trial_key(t) for t in trials]
    # An Optuna family is identified by its space, not its budget: raising `trials` continues it.
    optuna_families = [f"optuna:{f.name}:{json.dumps(f.axes, default=str)}"
                       for f in cfg.families if f.search == "optuna"]
    ledger.check_sweep(cfg.name, cfg.path, keys + optuna_families, extend=args.extend,
                       record=False)
    return trials, keys + optuna_families


def _record(cfg: SweepConfig, exp: Path, ledger: Ledger, ids: list[str]) -> None:
    """Every check passed: this sweep is now the experiment's. A run refused earlier
    (classifier, data, resources) leaves experiment.json, sweep.yaml and plan.json as
    they were; otherwise a refused --extend would lock the old sweep file out."""
    ledger.record_sweep(cfg.name, cfg.path, ids)
    shutil.copyfile(cfg.path, exp / "sweep.yaml")
    atomic_write_text(exp / "plan.json", json.dumps(plan(cfg), indent=2))


def _check_comparable(ledger: Ledger, data_source: str, sha: str) -> None:
    """Never mix scores from different data or classifiers in one experiment."""
    # Every entry and both fields: returning after the first match skipped the classifier.
    for entry in ledger.entries().values():
        for field, now in (("data_source", data_source), ("classifier_sha256", sha)):
            then = entry.get(field)
            if then and then != now:
                raise LedgerError(
                    f"{ledger.exp_dir}: earlier trials used {field} {then}, this run would use "
                    f"{now}; their scores would not be comparable. Restore the earlier setting, "
                    "or start a new experiment with --fresh or --results DIR.")


def run_grid(args: Any, log=print) -> int:
    cfg = load_config(args.config)
    exp = experiment_dir(cfg, args.results)
    ledger = Ledger(exp)
    if args.fresh:
        ledger.lock()  # held while renaming: no other driver may start in between
        try:
            moved = ledger.set_aside()
        finally:
            ledger.unlock()
        if moved:
            log(f"--fresh: the earlier experiment was moved to {moved}")
    ledger.lock()
    conn = None
    try:
        trials, sweep_ids = _prepare(cfg, exp, ledger, args)
        from models.data import load_mnist
        data = load_mnist(cfg.data.source, cfg.data.root, flatten=True)
        classifier_state, manifest = ensure_classifier(cfg, data, log=log)
        _check_comparable(ledger, data.source, manifest["weights_sha256"])
        atomic_write_text(exp / "classifier.json", json.dumps(manifest, indent=2))
        done = ledger.done_keys()
        if getattr(args, "retry_errors", False):
            done -= {k for k, e in ledger.entries().items() if e.get("status") == "error"}
        pending = [t for t in trials if trial_key(t) not in done]
        given = getattr(args, "storage", None) or cfg.storage
        root = storage.resolve(given, exp)
        storage.record_root(exp, root)
        mirror_to = root if storage.is_elsewhere(root, exp) else None

        conn = cluster.connect(args.address, env=storage.worker_env(root))
        for line in cluster.dashboard_lines(conn):
            log(line)
        nodes = cluster.alive_nodes()
        log(f"[storage] trial files: {storage.join(root, 'trials')}"
            + ("; ledger and table also copied there" if mirror_to else ""))
        if given is None and len(cluster.node_hosts()) > 1:
            log(f"[storage] warning: this cluster spans several machines but trial files go to "
                f"{root} on the disk of whichever node runs the trial; set `storage:` in the "
                "sweep file (or --storage) to an NFS path or an s3:// URI")
        request = cluster.per_trial(cfg.resources, nodes)
        slots = cluster.concurrent_slots(request, nodes, cfg.resources.max_concurrent_trials)
        _record(cfg, exp, ledger, sweep_ids)
        est = _estimate(cfg, ledger, pending, data.train_images, slots,
                        max(1, int(request["cpu"])))
        total = sum(cfg.counts().values())
        log(f"[plan] {cfg.name}: {total:,} trials ({', '.join(f'{k} {v:,}' for k, v in cfg.counts().items())}); "
            f"{len(done):,} already finished, {len(pending):,} grid trials to run")
        budget = (f"{cfg.budget.iterations} iterations" if cfg.budget.iterations
                  else f"{cfg.budget.epochs} epochs")
        log(f"[plan] budget {budget} of {len(data.train_images):,} {data.source} images, batch "
            f"{cfg.budget.batch_size}; {cfg.score.samples:,} score samples; per trial "
            f"{request['cpu']:g} CPU + {request['gpu']:g} GPU; {slots} at a time on "
            f"{cluster.describe_nodes(nodes)}")
        log(f"[plan] estimated time: {estimate.format_duration(est.total_seconds())} "
            f"for the grid on these resources")

        payload = Payload(data.train_images.numpy(), data.source, classifier_state,
                          manifest["convnet"], manifest["weights_sha256"], root,
                          cfg.score.samples, request["cpu"])
        trainable = with_payload(payload, request)
        callback = LedgerCallback(ledger, total, len(done), est, log=log, mirror_to=mirror_to)
        if pending:
            _fit(cfg, trainable, search.grid_space(pending), root, callback, None,
                 "grid", cfg.resources.max_concurrent_trials)
        for fam in (f for f in cfg.families if f.search == "optuna"):
            _run_optuna(cfg, fam, ledger, trainable, root, callback, log)
        df = collect(exp, mirror=False)
        if mirror_to:
            _mirror_experiment(exp, mirror_to, log)
        counts = df["status"].value_counts().to_dict() if len(df) else {}
        state = "finished" if len(df) >= total else "stopped"
        log(f"[grid] {state}: {len(df):,} of {total:,} trials in {exp / 'trials.parquet'} "
            f"({', '.join(f'{k} {v}' for k, v in sorted(counts.items()))})")
        if state == "stopped":
            log("[grid] run the same command again to continue: finished trials are kept, "
                "the rest run (ignore Ray's Tuner.restore hint above)")
        return 0
    finally:
        ledger.unlock()
        if conn is not None and conn.started_here:
            import ray
            ray.shutdown()


def _mirror_experiment(exp: Path, root: str, log) -> None:
    try:
        storage.mirror_experiment(exp, root)
        log(f"[storage] ledger and trials.parquet/csv copied to {root}")
    except Exception as exc:  # the local ledger and table are complete; say how to retry
        log(f"[storage] warning: could not copy the ledger and table to {root}: "
            f"{type(exc).__name__}: {exc}; `sweep collect` copies them again")


def _estimate(cfg: SweepConfig, ledger: Ledger, pending: list[dict], images, slots: int,
              threads: int) -> estimate.Estimate:
    mean = estimate.from_history(list(ledger.entries().values()))
    n_optuna = sum(f.trials * len(cfg.seeds) for f in cfg.families if f.search == "optuna")
    if mean is not None:
        prior = [mean] * (len(pending) + n_optuna)
    else:
        per = estimate.per_trial_seconds(pending, images, cfg.score.samples, threads)
        prior = list(per.values())
        if n_optuna and prior:
            prior += [sum(prior) / len(prior)] * n_optuna
    return estimate.Estimate(prior, slots, len(prior))


def _trial_name(trial: Any) -> str:
    settings = trial_of(trial.config)
    return f"{settings.get('family', 'trial')}-{trial_key(settings)}-{trial.trial_id}"


def _fit(cfg: SweepConfig, trainable: Any, space: dict, root: str, callback: LedgerCallback,
         searcher: Any, label: str, max_concurrent: int | None, num_samples: int = 1) -> None:
    run_name = f"{label}-{time.strftime('%Y%m%d-%H%M%S')}"
    storage_path, storage_fs = storage.tune_storage(root)
    tuner = tune.Tuner(
        trainable,
        param_space=space,
        tune_config=tune.TuneConfig(reuse_actors=True, search_alg=searcher,
                                    num_samples=num_samples,
                                    max_concurrent_trials=max_concurrent,
                                    trial_name_creator=_trial_name,
                                    trial_dirname_creator=_trial_name),
        run_config=tune.RunConfig(
            name=run_name, storage_path=storage_path, storage_filesystem=storage_fs,
            callbacks=[callback],
            verbose=0, log_to_file=True,
            failure_config=tune.FailureConfig(max_failures=cfg.resources.max_failures),
            checkpoint_config=tune.CheckpointConfig(num_to_keep=1)),
    )
    logging.getLogger("ray.tune.analysis.experiment_analysis").setLevel(logging.ERROR)
    tuner.fit()


def _run_optuna(cfg: SweepConfig, fam: Any, ledger: Ledger, trainable: Any, root: str,
                callback: LedgerCallback, log) -> None:
    for seed in cfg.seeds:
        done = [e for e in ledger.entries().values()
                if e.get("family") == fam.name and e.get("seed") == seed]
        todo = fam.trials - len(done)
        if todo <= 0:
            continue
        space = search.optuna_space(cfg, fam, seed)
        searcher = search.optuna_searcher(space, seed, done)
        log(f"[optuna] {fam.name} seed {seed}: {todo} trials of TPE ({len(done)} done before)")
        _fit(cfg, trainable, space, root, callback, searcher, f"optuna-{fam.name}-{seed}",
             cfg.resources.max_concurrent_trials, num_samples=todo)


def main_grid(args: Any) -> int:
    try:
        return run_grid(args)
    except (LedgerError, cluster.ClusterError, ClassifierError, DataError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
