"""Families of sweep.yaml -> Ray Tune search spaces.

A grid family becomes one ``tune.grid_search`` over the exact list of its trials (only
those not yet in the ledger). An Optuna family becomes Tune domains searched by
``OptunaSearch`` (TPE, seeded), maximising the score; its finished trials are handed back
to the sampler on a rerun, so a resumed search continues where it was.
"""
from __future__ import annotations

from typing import Any

from ray import tune

from sweep.config import Family, SweepConfig, base_trial
from sweep.trial import OBJECTIVE


def grid_space(trials: list[dict[str, Any]]) -> dict[str, Any]:
    return {"trial": tune.grid_search(trials)}


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


def optuna_space(cfg: SweepConfig, family: Family, seed: int) -> dict[str, Any]:
    """Flat settings: the family's fixed values plus one Tune domain per searched axis."""
    space: dict[str, Any] = base_trial(cfg, family, seed)
    for axis, spec in family.axes.items():
        if isinstance(spec, tuple) and len(spec) == 1:
            space[axis] = spec[0]
        else:
            space[axis] = domain(spec)
    return space


def optuna_searcher(space: dict[str, Any], seed: int, done: list[dict[str, Any]]) -> Any:
    """OptunaSearch with a seeded TPE sampler, warm-started from finished trials."""
    import optuna
    from ray.tune.search.optuna import OptunaSearch

    searched = [k for k, v in space.items() if hasattr(v, "sample")]
    points = [{k: entry[k] for k in searched} for entry in done]
    rewards = [entry.get(OBJECTIVE, 0.0) for entry in done]
    return OptunaSearch(metric=OBJECTIVE, mode="max",
                        sampler=optuna.samplers.TPESampler(seed=seed),
                        points_to_evaluate=points or None,
                        evaluated_rewards=rewards or None)
