"""sweep.yaml -> frozen, validated dataclasses (:class:`SweepConfig`).

Everything is checked before anything runs. A bad file is refused with a ConfigError whose
message names the file, the key path and the bad value (the CLI turns it into exit code 2).
The values of trial settings are checked by the same functions as
``models.config.TrialConfig`` (``models.config.CHECKS``), so a file and a trial can never
disagree on what is valid. ``sweep/config/trials.py`` turns a SweepConfig into trials.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field, fields, make_dataclass
from pathlib import Path
from typing import Any, Callable

import yaml

from models.checks import (Invalid, auto_or, duration, integer, list_of, number, one_of,
                           optional, string)
from models.config import (AXIS_KEYS, BUDGET_KEYS, CHECKS, DEFAULT_KEYS, MODELS, TABLE1_AXES,
                           TrialConfig, check_applies)
from models.errors import UserError
from sweep.config.scheduler import SchedulerConfig, parse_scheduler

SEARCHES = ("grid", "optuna")
DATA_SOURCES = ("auto", "mnist", "mnist-5k")
DISTRIBUTIONS = ("loguniform", "uniform", "int", "choice")
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
DEFAULT_CHECKPOINT_EVERY_S = 300.0  # 5 minutes; `make bench` measures what a checkpoint costs


class ConfigError(UserError, ValueError):
    """A sweep file that cannot run; the message names file, key path and value."""


def _section_of_trial_defaults(name: str, keys: tuple[str, ...]) -> type:
    """A frozen dataclass whose fields and defaults are TrialConfig's (one definition)."""
    spec = [(f.name, f.type, field(default=f.default)) for f in fields(TrialConfig)
            if f.name in keys]
    return make_dataclass(name, spec, frozen=True)


# Settings not swept by the paper (margin, pt_weight, z_dim, dropout, beta1, beta2, and the
# other losses' gp_weight, n_critic, gamma, lambda_k); any of them may become an axis of a
# family (a model-specific one only of its model's families). Fields and defaults:
# TrialConfig's.
Defaults = _section_of_trial_defaults("Defaults", DEFAULT_KEYS)
# epochs (passes over the training set), iterations (overrides epochs), batch_size.
Budget = _section_of_trial_defaults("Budget", BUDGET_KEYS)


@dataclass(frozen=True)
class DataConfig:
    source: str = "auto"       # auto | mnist | mnist-5k
    root: str | None = None    # folder of the IDX files; None: $MNIST_ROOT or the cache


@dataclass(frozen=True)
class ScoreConfig:
    samples: int = 10000       # generated samples per trial
    rung_samples: int = 2000   # samples scoring a generator at a scheduler's rungs
    classifier: str = "auto"   # folder of the ConvNet weights + manifest; auto: results/classifier/<source>


@dataclass(frozen=True)
class Resources:
    cpu: float | str = "auto"  # CPUs per trial, or auto (1)
    gpu: float | str = "auto"  # GPU fraction per trial, or auto (0.25 with GPUs, else 0)
    max_concurrent_trials: int | None = None
    max_failures: int = 2      # retries of a trial that raises before it is recorded as `error`
    pack: int | str = "auto"   # configurations per Ray Tune trial: auto | 1 | a maximum
    checkpoint_every: float = DEFAULT_CHECKPOINT_EVERY_S  # seconds between trial checkpoints
    reuse_actors: bool | str = "auto"  # auto: reuse Ray workers when trials are short (a
    #   fresh worker costs seconds), else one per trial, named by its configuration


@dataclass(frozen=True)
class Family:
    name: str
    model: str                 # gan | ebgan | lsgan | wgan_gp | hinge | began
    axes: dict[str, Any]       # axis -> tuple of values (grid) or {kind: args} (optuna)
    search: str = "grid"       # grid | optuna
    trials: int | None = None  # number of Optuna trials per seed
    scheduler: SchedulerConfig | None = None  # early stopping at rungs; None: full budget


@dataclass(frozen=True)
class ReportConfig:
    families: tuple[str, ...] | None = None  # families the figures compare, in order, the
    #   last the baseline; None: the paper's ebgan, gan (sweep/report/family_view.py)


@dataclass(frozen=True)
class SweepConfig:
    name: str
    path: str
    seeds: tuple[int, ...]
    data: DataConfig
    budget: Any               # Budget
    defaults: Any             # Defaults
    score: ScoreConfig
    resources: Resources
    storage: str | None
    families: tuple[Family, ...]
    defaults_given: tuple[str, ...] = ()  # the keys `defaults:` sets explicitly
    report: ReportConfig = ReportConfig()

    def family(self, name: str) -> Family:
        for f in self.families:
            if f.name == name:
                return f
        raise KeyError(f"no family {name!r} in {self.path}; it has "
                       f"{', '.join(f.name for f in self.families)}")


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
            "families", "report")
MAX_REPORT_FAMILIES = 8  # one Okabe-Ito colour each (sweep/report/family_view.py)
RESOURCE_CHECKS: dict[str, Callable] = {
    "cpu": auto_or(number(0.0, lo_open=True, hi_open=False)),
    "gpu": auto_or(number(0.0, hi_open=False)),
    "max_concurrent_trials": optional(integer(1)), "max_failures": integer(0),
    "pack": auto_or(integer(1)), "checkpoint_every": duration,
    "reuse_actors": auto_or(CHECKS["dropoutD"]),  # auto, or a boolean
}


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
    seeds = ld.check("seeds", raw.get("seeds", [0]), list_of(CHECKS["seed"]))
    data = ld.section(raw, "data", DataConfig,
                      {"source": one_of(DATA_SOURCES), "root": optional(string)})
    budget = ld.section(raw, "budget", Budget, {k: CHECKS[k] for k in BUDGET_KEYS})
    defaults = ld.section(raw, "defaults", Defaults, {k: CHECKS[k] for k in DEFAULT_KEYS})
    score = ld.section(raw, "score", ScoreConfig, {"samples": integer(2), "classifier": string,
                                                   "rung_samples": integer(2)})
    resources = ld.section(raw, "resources", Resources, RESOURCE_CHECKS)
    storage = ld.check("storage", raw.get("storage"), optional(string))
    fams = raw["families"]
    if not isinstance(fams, dict) or not fams:
        raise ld.fail("families", fams, "must be a non-empty mapping of family name -> family")
    families = tuple(_parse_family(ld, str(k), v, budget.iterations) for k, v in fams.items())
    given = tuple(raw.get("defaults") or {})
    report = ld.section(raw, "report", ReportConfig,
                        {"families": _report_families([f.name for f in families])})
    return SweepConfig(name, path, seeds, data, budget, defaults, score, resources, storage,
                       families, given, report)


def _report_families(names: list[str]) -> Callable[[Any], tuple[str, ...]]:
    """The check of ``report.families``: 1 to 8 distinct families of this file."""
    def check(value: Any) -> tuple[str, ...]:
        fams = list_of(string)(value)  # a non-empty list without duplicates
        if len(fams) > MAX_REPORT_FAMILIES:
            raise Invalid(f"must name at most {MAX_REPORT_FAMILIES} families (one colour-blind-"
                          "safe colour each)")
        for f in fams:
            if f not in names:
                raise Invalid(f"no family {f!r} in this file; it has {', '.join(names)}")
        return fams
    return check


FAMILY_KEYS = ("model", "search", "trials", "axes", "scheduler")


def _parse_family(ld: _Loader, name: str, raw: Any, budget_iterations: int | None) -> Family:
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
    model = ld.check(f"{where}.model", raw["model"], CHECKS["model"])
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
        if axis not in AXIS_KEYS:
            raise ld.fail(key, values, f"unknown axis; expected one of {', '.join(AXIS_KEYS)}")
        ld.check(key, values, lambda _: check_applies(model, axis))
        if isinstance(values, dict):
            if search != "optuna":
                raise ld.fail(key, values, "a distribution needs search: optuna (a grid takes a list)")
            axes[axis] = _parse_distribution(ld, key, values, CHECKS[axis])
        else:
            axes[axis] = ld.check(key, values, list_of(CHECKS[axis]))
    missing = [a for a in TABLE1_AXES if a not in axes]
    if missing:
        raise ld.fail(f"{where}.axes", sorted(axes), f"is missing the Table 1 axes {', '.join(missing)}")
    scheduler = None
    if raw.get("scheduler") is not None:
        scheduler = parse_scheduler(raw["scheduler"], f"{where}.scheduler", ld.check, ld.fail,
                                    budget_iterations)
    return Family(name, model, axes, search, trials, scheduler)


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
