"""A SweepConfig -> its trials: every grid point of every family, once per seed.

A trial's settings are the sweep's ``defaults`` and ``budget``, overridden by the family's
axes, as a :class:`models.config.TrialConfig`. A model with Adam betas of its own
(WGAN-GP: (0.0, 0.9), ``models.losses.specs``) gets them here, for each beta that neither
``defaults:`` nor the family's axes set. Optuna families are sampled at run time
(``sweep/run/scheduling/optuna_search.py``) from :func:`base_settings` and the searched axes.
"""
from __future__ import annotations

import itertools
import math
from dataclasses import asdict
from pathlib import Path
from typing import Any

from models.config import TrialConfig
from models.losses.specs import SPECS
from sweep.config.sweep_file import Family, SweepConfig


def base_settings(cfg: SweepConfig, family: Family, seed: int) -> dict[str, Any]:
    """The settings every trial of ``family`` shares before its axes are applied."""
    values = {"family": family.name, "model": family.model, **asdict(cfg.defaults),
              "seed": seed, **asdict(cfg.budget)}
    betas = SPECS[family.model].betas
    if betas is not None:
        for key, value in zip(("beta1", "beta2"), betas):
            if key not in cfg.defaults_given:
                values[key] = value
    return values


def grid_trials(cfg: SweepConfig, family: Family) -> list[TrialConfig]:
    """Every grid point of ``family``, seed by seed, in the sweep file's axis order."""
    names = list(family.axes)
    out = []
    for seed in cfg.seeds:
        base = base_settings(cfg, family, seed)
        for point in itertools.product(*(family.axes[a] for a in names)):
            out.append(TrialConfig.from_dict({**base, **dict(zip(names, point))}))
    return out


def trials(cfg: SweepConfig) -> list[TrialConfig]:
    """Every grid trial of the sweep (Optuna families are sampled at run time)."""
    return [t for f in cfg.families if f.search == "grid" for t in grid_trials(cfg, f)]


def one_trial(cfg: SweepConfig, family_name: str, settings: list[str],
              iterations: int | None = None) -> TrialConfig:
    """The family's first grid point with ``KEY=VALUE`` overrides (``sweep train-one``);
    values are parsed as YAML and checked like the sweep file's."""
    import yaml

    from models.checks import Invalid
    from models.config import TrialConfigError, check_applies
    from sweep.config.sweep_file import ConfigError

    names = [f.name for f in cfg.families]
    if family_name not in names:
        raise ConfigError(f"--family: unknown family {family_name!r}; {cfg.path} has "
                          f"{', '.join(names)}.")
    family = cfg.family(family_name)
    values = base_settings(cfg, family, cfg.seeds[0])
    overrides = {}
    for item in settings:
        key, sep, raw = item.partition("=")
        if not sep:
            raise ConfigError(f"--set: {item!r} is not KEY=VALUE.")
        if key not in values and key not in family.axes:
            allowed = sorted((set(values) | set(family.axes)) - {"family", "model"})
            raise ConfigError(f"--set: unknown setting {key!r} (got {item!r}); expected one "
                              f"of {', '.join(allowed)}.")
        try:
            check_applies(family.model, key)
        except Invalid as bad:
            raise ConfigError(f"--set: {key}: {bad} (got {item!r}).") from None
        overrides[key] = yaml.safe_load(raw)
    for axis, spec in family.axes.items():
        if axis in overrides:
            continue
        if not isinstance(spec, tuple):
            raise ConfigError(f"--set: axis {axis} of family {family_name} is a distribution; "
                              f"give it a value with --set {axis}=...")
        values[axis] = spec[0]
    values.update(overrides)
    if iterations is not None:
        values["iterations"] = iterations
    try:
        return TrialConfig.from_dict(values)
    except TrialConfigError as bad:
        raise ConfigError(f"--set: {bad}.") from None


def family_count(cfg: SweepConfig, family: Family) -> int:
    if family.search == "optuna":
        return family.trials * len(cfg.seeds)
    return math.prod(len(v) for v in family.axes.values()) * len(cfg.seeds)


def counts(cfg: SweepConfig) -> dict[str, int]:
    return {f.name: family_count(cfg, f) for f in cfg.families}


def classifier_dir(cfg: SweepConfig, source: str) -> Path:
    """The scoring classifier's folder; ``auto`` keeps one per data source."""
    if cfg.score.classifier == "auto":
        return Path("results") / "classifier" / source
    return Path(cfg.score.classifier)


def experiment_dir(cfg: SweepConfig, results: str | Path | None = None) -> Path:
    """Where an experiment lives: ``--results DIR``, else ``results/<sweep name>``."""
    return Path(results) if results else Path("results") / cfg.name


# Training images of each fixed data source (models/data.py; a test checks them), so that a
# budget in epochs is known in iterations before any data is loaded. `auto` is decided at
# run time (full MNIST when present, else the 5,000 bundled digits).
TRAIN_IMAGES = {"mnist": 60_000, "mnist-5k": 4_000}


def planned_budget(cfg: SweepConfig) -> int | None:
    """Iterations per configuration: ``budget.iterations``, else epochs x (images // batch)
    when the data source fixes the number of images, else None (``auto``)."""
    b = cfg.budget
    if b.iterations is not None:
        return int(b.iterations)
    n = TRAIN_IMAGES.get(cfg.data.source)
    return None if n is None else b.epochs * (n // b.batch_size)


def budget_text(cfg: SweepConfig) -> str:
    """The training budget as the plan lines say it: '40 iterations' or '20 epochs'."""
    b = cfg.budget
    return f"{b.iterations} iterations" if b.iterations else f"{b.epochs} epochs"


def schedule(cfg: SweepConfig, family: Family, budget: int | None = None) -> dict[str, Any]:
    """A scheduled family's rungs (per bracket) and the least and most iterations it can
    cost, for ``budget`` iterations per configuration (default: ``planned_budget``; with a
    budget in epochs and ``data.source: auto`` the rungs are known once the data is)."""
    from sweep.config.scheduler import cost_bounds, rungs

    sched = family.scheduler
    budget = budget or planned_budget(cfg)
    out: dict[str, Any] = {**sched.to_dict(), "budget": budget}
    if budget is not None and sched.brackets is not None:
        n = family_count(cfg, family)
        least, most = cost_bounds(sched, n, budget)
        out.update(rungs=[rungs(sched, budget, s) for s in range(sched.brackets)],
                   least_iterations=least, most_iterations=most)
    return out


def plan(cfg: SweepConfig) -> dict[str, Any]:
    """What ``sweep plan`` prints: counts, axes, budget (JSON-ready; also plan.json)."""
    n = counts(cfg)
    scheduled = [f for f in cfg.families if f.scheduler is not None]
    extra: dict[str, Any] = {}
    if scheduled:  # plans without a scheduler keep their keys (plan.json of old runs)
        extra = {"schedulers": {f.name: schedule(cfg, f) for f in scheduled},
                 "rung_samples": cfg.score.rung_samples}
    return {
        "name": cfg.name,
        "families": n,
        "total": sum(n.values()),
        "seeds": list(cfg.seeds),
        "axes": {f.name: {a: (list(v) if isinstance(v, tuple) else v) for a, v in f.axes.items()}
                 for f in cfg.families},
        "search": {f.name: f.search for f in cfg.families},
        "budget": asdict(cfg.budget),
        "defaults": asdict(cfg.defaults),
        "data": asdict(cfg.data),
        "score_samples": cfg.score.samples,
        "report": {"families": list(cfg.report.families) if cfg.report.families else None},
        **extra,
    }
