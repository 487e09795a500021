"""sweep.yaml -> frozen, validated dataclasses -> the flat list of trial configurations.

Everything is checked before anything runs. A bad file is refused with a ConfigError whose
message names the file, the key path and the bad value (the CLI turns it into exit code 2).
The search space is data: only this module and ``sweep/search.py`` know its shape.
"""
from __future__ import annotations

import hashlib
import itertools
import json
import math
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

import yaml

from sweep.checks import (Invalid, auto_or, boolean, integer, list_of, number, one_of,
                          optional, string)

TABLE1_AXES = ("nLayerG", "nLayerD", "sizeG", "sizeD", "dropoutD", "optimD", "optimG", "lr")
MODELS = ("gan", "ebgan")
OPTIMIZERS = ("adam", "sgd")
SEARCHES = ("grid", "optuna")
DATA_SOURCES = ("auto", "mnist", "mnist-5k")
DISTRIBUTIONS = ("loguniform", "uniform", "int", "choice")
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


class ConfigError(ValueError):
    """A sweep file that cannot run; the message names file, key path and value."""


# Every setting a trial can carry, with its check. Table 1's eight axes, then the defaults.
TRIAL_KEYS: dict[str, Callable[[Any], Any]] = {
    "nLayerG": integer(2), "nLayerD": integer(2), "sizeG": integer(1), "sizeD": integer(1),
    "dropoutD": boolean, "optimD": one_of(OPTIMIZERS), "optimG": one_of(OPTIMIZERS),
    "lr": number(0.0, lo_open=True, hi_open=False),
    "margin": number(0.0, lo_open=True, hi_open=False), "pt_weight": number(0.0, hi_open=False),
    "z_dim": integer(1), "dropout": number(0.0, 1.0), "beta1": number(0.0, 1.0),
    "beta2": number(0.0, 1.0),
    "inject_error": boolean,  # test-only: the trial raises, to exercise retries and `error`
}


@dataclass(frozen=True)
class Defaults:
    """Settings not swept by the paper; any of them may become an axis of a family."""
    margin: float = 10.0       # EBGAN hinge margin m (paper: 10)
    pt_weight: float = 0.0     # pulling-away term weight (EBGAN-PT: 0.1)
    z_dim: int = 100           # latent size, z ~ N(0, I)
    dropout: float = 0.5       # dropout rate in D when dropoutD is true
    beta1: float = 0.5         # Adam betas (DCGAN convention)
    beta2: float = 0.999
    inject_error: bool = False  # test-only


@dataclass(frozen=True)
class DataConfig:
    source: str = "auto"       # auto | mnist | mnist-5k
    root: str | None = None    # folder of the IDX files; None: $MNIST_ROOT or the cache


@dataclass(frozen=True)
class Budget:
    epochs: int = 20           # passes over the training set
    iterations: int | None = None  # overrides epochs when set
    batch_size: int = 64


@dataclass(frozen=True)
class ScoreConfig:
    samples: int = 10000       # generated samples per trial
    classifier: str = "auto"   # folder of the ConvNet weights + manifest; auto: results/classifier/<source>


@dataclass(frozen=True)
class Resources:
    cpu: float | str = "auto"  # CPUs per trial, or auto (1)
    gpu: float | str = "auto"  # GPU fraction per trial, or auto (0.25 with GPUs, else 0)
    max_concurrent_trials: int | None = None
    max_failures: int = 2      # retries before a raising trial is recorded as `error`


@dataclass(frozen=True)
class Family:
    name: str
    model: str                 # gan | ebgan
    axes: dict[str, Any]       # axis -> tuple of values (grid) or {kind: args} (optuna)
    search: str = "grid"       # grid | optuna
    trials: int | None = None  # number of Optuna trials per seed


@dataclass(frozen=True)
class SweepConfig:
    name: str
    path: str
    seeds: tuple[int, ...]
    data: DataConfig
    budget: Budget
    defaults: Defaults
    score: ScoreConfig
    resources: Resources
    storage: str | None
    families: tuple[Family, ...]

    def family(self, name: str) -> Family:
        for f in self.families:
            if f.name == name:
                return f
        raise KeyError(f"no family {name!r} in {self.path}; it has "
                       f"{', '.join(f.name for f in self.families)}")

    def trials(self) -> list[dict[str, Any]]:
        """Every grid trial, one flat dict each (Optuna families are sampled at run time)."""
        return [t for f in self.families if f.search == "grid" for t in grid_trials(self, f)]

    def counts(self) -> dict[str, int]:
        return {f.name: family_count(self, f) for f in self.families}


# --- loading -------------------------------------------------------------------------------
class _Loader:
    def __init__(self, path: str) -> None:
        self.path = path

    def fail(self, key: str, value: Any, problem: str) -> ConfigError:
        return ConfigError(f"{self.path}: {key}: {problem} (got {value!r}).")

    def section(self, raw: dict, key: str, cls: type, checks: dict[str, Callable]) -> Any:
        value = raw.get(key, {})
        if value is None:
            value = {}
        if not isinstance(value, dict):
            raise self.fail(key, value, "must be a mapping")
        kwargs = {}
        for sub, v in value.items():
            if sub not in checks:
                raise self.fail(f"{key}.{sub}", v, f"unknown key; expected one of {', '.join(checks)}")
            kwargs[sub] = self.check(f"{key}.{sub}", v, checks[sub])
        return cls(**kwargs)

    def check(self, key: str, value: Any, check: Callable) -> Any:
        try:
            return check(value)
        except Invalid as bad:
            raise self.fail(key, value, str(bad)) from None




def load_config(path: str | Path) -> SweepConfig:
    """Read and validate a sweep file; raise ConfigError naming file, key and value."""
    path = str(path)
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the sweep file ({exc.strerror}).") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not a text file ({exc.reason} at byte {exc.start}).") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        # PyYAML's own message spans several lines; keep the CLI's error to one line.
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = " ".join(str(getattr(exc, "problem", None) or exc).split())
        raise ConfigError(f"{path}: not valid YAML ({where}{problem}).") from None
    return parse_config(raw, path)


TOP_KEYS = ("name", "seeds", "data", "budget", "defaults", "score", "resources", "storage",
            "families")


def parse_config(raw: Any, path: str = "<sweep>") -> SweepConfig:
    ld = _Loader(path)
    if not isinstance(raw, dict):
        raise ld.fail("(top level)", raw, "must be a mapping of settings")
    for key in raw:
        if key not in TOP_KEYS:
            raise ld.fail(key, raw[key], f"unknown key; expected one of {', '.join(TOP_KEYS)}")
    for key in ("name", "families"):
        if key not in raw:
            raise ld.fail(key, None, "is required")
    name = ld.check("name", raw["name"], string)
    if not NAME_PATTERN.match(name):
        raise ld.fail("name", name, "must be letters, digits, '_', '.' or '-' (it names a folder)")
    seeds = ld.check("seeds", raw.get("seeds", [0]), list_of(integer(0)))
    data = ld.section(raw, "data", DataConfig,
                      {"source": one_of(DATA_SOURCES), "root": optional(string)})
    budget = ld.section(raw, "budget", Budget,
                        {"epochs": integer(1), "iterations": optional(integer(1)),
                         "batch_size": integer(2)})
    defaults = ld.section(raw, "defaults", Defaults,
                          {k: TRIAL_KEYS[k] for k in Defaults.__dataclass_fields__})
    score = ld.section(raw, "score", ScoreConfig, {"samples": integer(2), "classifier": string})
    resources = ld.section(raw, "resources", Resources, {
        "cpu": auto_or(number(0.0, lo_open=True, hi_open=False)),
        "gpu": auto_or(number(0.0, hi_open=False)),
        "max_concurrent_trials": optional(integer(1)), "max_failures": integer(0)})
    storage = ld.check("storage", raw.get("storage"), optional(string))
    fams = raw["families"]
    if not isinstance(fams, dict) or not fams:
        raise ld.fail("families", fams, "must be a non-empty mapping of family name -> family")
    families = tuple(_parse_family(ld, str(k), v) for k, v in fams.items())
    return SweepConfig(name, path, seeds, data, budget, defaults, score, resources, storage,
                       families)


FAMILY_KEYS = ("model", "search", "trials", "axes")


def _parse_family(ld: _Loader, name: str, raw: Any) -> Family:
    where = f"families.{name}"
    if not NAME_PATTERN.match(name):
        raise ld.fail(where, name, "family names must be letters, digits, '_', '.' or '-'")
    if not isinstance(raw, dict):
        raise ld.fail(where, raw, "must be a mapping with model and axes")
    for key in raw:
        if key not in FAMILY_KEYS:
            raise ld.fail(f"{where}.{key}", raw[key],
                          f"unknown key; expected one of {', '.join(FAMILY_KEYS)}")
    if "model" not in raw:
        raise ld.fail(f"{where}.model", None, f"is required ({' or '.join(MODELS)})")
    model = ld.check(f"{where}.model", raw["model"], one_of(MODELS))
    search = ld.check(f"{where}.search", raw.get("search", "grid"), one_of(SEARCHES))
    trials = ld.check(f"{where}.trials", raw.get("trials"), optional(integer(1)))
    if search == "optuna" and trials is None:
        raise ld.fail(f"{where}.trials", None, "is required with search: optuna")
    if search == "grid" and trials is not None:
        raise ld.fail(f"{where}.trials", trials, "only applies to search: optuna (a grid runs every point)")
    axes_raw = raw.get("axes")
    if not isinstance(axes_raw, dict) or not axes_raw:
        raise ld.fail(f"{where}.axes", axes_raw, "must be a non-empty mapping of axis -> list of values")
    axes: dict[str, Any] = {}
    for axis, values in axes_raw.items():
        key = f"{where}.axes.{axis}"
        if axis not in TRIAL_KEYS:
            raise ld.fail(key, values, f"unknown axis; expected one of {', '.join(TRIAL_KEYS)}")
        if isinstance(values, dict):
            if search != "optuna":
                raise ld.fail(key, values, "a distribution needs search: optuna (a grid takes a list)")
            axes[axis] = _parse_distribution(ld, key, values, TRIAL_KEYS[axis])
        else:
            axes[axis] = ld.check(key, values, list_of(TRIAL_KEYS[axis]))
    missing = [a for a in TABLE1_AXES if a not in axes]
    if missing:
        raise ld.fail(f"{where}.axes", sorted(axes), f"is missing the Table 1 axes {', '.join(missing)}")
    return Family(name, model, axes, search, trials)


def _parse_distribution(ld: _Loader, key: str, raw: dict, check: Callable) -> dict[str, Any]:
    if len(raw) != 1 or next(iter(raw)) not in DISTRIBUTIONS:
        raise ld.fail(key, raw, f"a distribution is one of {', '.join(DISTRIBUTIONS)}: [args]")
    kind, args = next(iter(raw.items()))
    if kind == "choice":
        return {"choice": ld.check(f"{key}.choice", args, list_of(check))}
    if not isinstance(args, list) or len(args) != 2:
        raise ld.fail(f"{key}.{kind}", args, "must be [low, high]")
    lo, hi = (ld.check(f"{key}.{kind}", a, check) for a in args)
    if isinstance(lo, bool) or not isinstance(lo, (int, float)):
        raise ld.fail(f"{key}.{kind}", args, "a numeric range needs a numeric axis")
    if not lo < hi:
        raise ld.fail(f"{key}.{kind}", args, "low must be below high")
    if kind == "int" and not (isinstance(lo, int) and isinstance(hi, int)):
        raise ld.fail(f"{key}.{kind}", args, "int bounds must be integers")
    if kind == "loguniform" and lo <= 0:
        raise ld.fail(f"{key}.{kind}", args, "loguniform needs low > 0")
    return {kind: [lo, hi]}


# --- trials --------------------------------------------------------------------------------
def base_trial(cfg: SweepConfig, family: Family, seed: int) -> dict[str, Any]:
    """The settings every trial of ``family`` shares before its axes are applied."""
    return {"family": family.name, "model": family.model, **asdict(cfg.defaults),
            "seed": seed, **asdict(cfg.budget)}


def grid_trials(cfg: SweepConfig, family: Family) -> list[dict[str, Any]]:
    names = list(family.axes)
    out = []
    for seed in cfg.seeds:
        for point in itertools.product(*(family.axes[a] for a in names)):
            out.append({**base_trial(cfg, family, seed), **dict(zip(names, point))})
    return out


def family_count(cfg: SweepConfig, family: Family) -> int:
    if family.search == "optuna":
        return family.trials * len(cfg.seeds)
    return math.prod(len(v) for v in family.axes.values()) * len(cfg.seeds)


def trial_key(trial: dict[str, Any]) -> str:
    """A stable id of a configuration: same settings, same key, on any machine."""
    canonical = json.dumps(trial, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def classifier_dir(cfg: SweepConfig, source: str) -> Path:
    """The scoring classifier's folder; ``auto`` keeps one per data source."""
    if cfg.score.classifier == "auto":
        return Path("results") / "classifier" / source
    return Path(cfg.score.classifier)


def experiment_dir(cfg: SweepConfig, results: str | Path | None = None) -> Path:
    """Where an experiment lives: ``--results DIR``, else ``results/<sweep name>``."""
    return Path(results) if results else Path("results") / cfg.name


def plan(cfg: SweepConfig) -> dict[str, Any]:
    """What ``sweep plan`` prints: counts, axes, budget (JSON-ready)."""
    counts = cfg.counts()
    return {
        "name": cfg.name,
        "families": counts,
        "total": sum(counts.values()),
        "seeds": list(cfg.seeds),
        "axes": {f.name: {a: (list(v) if isinstance(v, tuple) else v) for a, v in f.axes.items()}
                 for f in cfg.families},
        "search": {f.name: f.search for f in cfg.families},
        "budget": asdict(cfg.budget),
        "defaults": asdict(cfg.defaults),
        "data": asdict(cfg.data),
        "score_samples": cfg.score.samples,
    }
