"""Optuna families of sweep.yaml: a seeded TPE search on a study kept on disk.

A family with ``search: optuna`` becomes Tune domains searched by Ray Tune's
``OptunaSearch`` (TPE), maximising the score. The study lives in the experiment directory
(``optuna.journal``, Optuna's JournalStorage), so ``make optuna-dashboard`` shows it and a
rerun continues the study itself: raising the family's ``trials`` runs exactly the new
trials. On every run the study is reconciled with the ledger (a trial the ledger holds but
the study missed is added; a trial left running by a killed driver is marked failed), the
sampler is seeded by the sweep seed and the study's size (a rerun must not replay the
same random start-up points), and a suggestion whose configuration is already finished or
running is answered from the ledger and asked again, so every trial is a new configuration.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import optuna
from ray import tune
from ray.tune.search import Searcher
from ray.tune.search.optuna import OptunaSearch

from models.config import TrialConfig
from models.streams import derive_seed
from sweep.config import Family, SweepConfig, base_settings
from sweep.run.records.results import OBJECTIVE
from sweep.run.scheduling.units import Unit

JOURNAL = "optuna.journal"
MAX_REPEATS = 50  # suggestions in a row that repeat a known configuration before giving up


def storage(exp_dir: Path) -> optuna.storages.BaseStorage:
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend
    return JournalStorage(JournalFileBackend(str(Path(exp_dir) / JOURNAL)))


def study_name(family: Family, seed: int) -> str:
    return f"{family.name}-seed{seed}"


def domain(spec: Any) -> Any:
    """One axis: a tuple of values (a choice) or {kind: args} -> a Tune domain."""
    if isinstance(spec, tuple):
        return tune.choice(list(spec))
    (kind, args), = spec.items()
    if kind == "choice":
        return tune.choice(list(args))
    if kind == "uniform":
        return tune.uniform(*args)
    if kind == "loguniform":
        return tune.loguniform(*args)
    if kind == "int":
        return tune.randint(args[0], args[1] + 1)  # inclusive upper bound in sweep.yaml
    raise ValueError(f"unknown distribution {kind!r}")


def split_space(cfg: SweepConfig, family: Family, seed: int) -> tuple[dict, dict]:
    """(fixed settings, searched axes as Tune domains) of one family and seed."""
    fixed: dict[str, Any] = base_settings(cfg, family, seed)
    searched = {}
    for axis, spec in family.axes.items():
        if isinstance(spec, tuple) and len(spec) == 1:
            fixed[axis] = spec[0]
        else:
            searched[axis] = domain(spec)
    return fixed, searched


class FamilySearcher(Searcher):
    """OptunaSearch on the family's persistent study, handing out units of new configurations."""

    def __init__(self, cfg: SweepConfig, family: Family, seed: int, exp_dir: Path,
                 done: dict[str, dict]) -> None:
        super().__init__(metric=OBJECTIVE, mode="max")
        self.fixed, searched = split_space(cfg, family, seed)
        self.distributions = OptunaSearch.convert_search_space(searched)
        store = storage(exp_dir)
        name = study_name(family, seed)
        study = optuna.create_study(storage=store, study_name=name, direction="maximize",
                                    load_if_exists=True)
        self._reconcile(study, done)
        sampler = optuna.samplers.TPESampler(
            seed=derive_seed(seed, "optuna", family.name, len(study.trials)) % 2**32)
        self.inner = OptunaSearch(space=self.distributions, metric=OBJECTIVE, mode="max",
                                  sampler=sampler, study_name=name, storage=store)
        self.done = done                 # key -> ledger entry of this family and seed
        self.running: set[str] = set()   # keys handed out in this run
        self._asked: dict[str, str] = {}  # Tune trial id -> the id its suggestion was asked as

    def _reconcile(self, study: optuna.Study, done: dict[str, dict]) -> None:
        """Add finished trials the study missed; fail those a killed driver left running."""
        known = {self._key(t.params) for t in study.trials
                 if t.state == optuna.trial.TrialState.COMPLETE}
        for key, entry in done.items():
            if key not in known:
                params = {k: entry[k] for k in self.distributions}
                study.add_trial(optuna.trial.create_trial(
                    params=params, distributions=self.distributions,
                    value=float(entry.get(OBJECTIVE) or 0.0)))
        for t in study.trials:
            if t.state == optuna.trial.TrialState.RUNNING:
                study.tell(t.number, state=optuna.trial.TrialState.FAIL)

    def _key(self, params: dict[str, Any]) -> str:
        return TrialConfig.from_dict({**self.fixed, **params}).key

    def suggest(self, trial_id: str) -> dict[str, Any] | None:
        for attempt in range(MAX_REPEATS):
            tid = trial_id if attempt == 0 else f"{trial_id}-repeat{attempt}"
            params = self.inner.suggest(tid)
            if params is None or params == Searcher.FINISHED:
                return params
            config = TrialConfig.from_dict({**self.fixed, **params})
            if config.key in self.done:  # answer from the ledger, ask again
                value = float(self.done[config.key].get(OBJECTIVE) or 0.0)
                self.inner.on_trial_complete(tid, {OBJECTIVE: value})
            elif config.key in self.running:
                self.inner.on_trial_complete(tid, None, error=True)
            else:
                self._asked[trial_id] = tid
                self.running.add(config.key)
                return Unit((config,), (-1,)).to_config()
        raise RuntimeError(f"the Optuna study suggested {MAX_REPEATS} known configurations "
                           "in a row: the search space seems exhausted")

    def on_trial_complete(self, trial_id: str, result: dict | None = None,
                          error: bool = False) -> None:
        final = result if result and result.get("final") else None
        self.inner.on_trial_complete(self._asked.pop(trial_id, trial_id), final,
                                     error=error or final is None)
