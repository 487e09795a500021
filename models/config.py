"""One configuration of the grid, typed: everything that decides how it trains.

Zhao, Mathieu & LeCun, ICLR 2017, Table 1: a trial of the MNIST grid is a model (GAN or
EBGAN; or one of the other losses of SPEC "Other GAN losses"), the four shape axes, dropout in D, the two optimisers and the learning rate; the
settings the paper does not sweep (margin m = 10, the pulling-away weight, z size, ...)
and the budget complete it. :class:`TrialConfig` owns their defaults and checks, builds
from the sweep file's rows and from Optuna's flat dicts alike, and gives the stable key
that names the trial's ledger entry and folder (the resume contract: see :attr:`key`).
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import MISSING, asdict, dataclass, fields
from typing import Any, Callable, Mapping

from models.checks import Invalid, boolean, integer, number, one_of, optional, string
from models.errors import UserError
from models.losses.specs import MODELS, SPECS, not_applying, owner

OPTIMIZERS = ("adam", "sgd")
TABLE1_AXES = ("nLayerG", "nLayerD", "sizeG", "sizeD", "dropoutD", "optimD", "optimG", "lr")
SHAPE_AXES = ("model", "nLayerG", "nLayerD", "sizeG", "sizeD", "z_dim")
BUDGET_KEYS = ("epochs", "iterations", "batch_size")
# What configurations of one shape group share (TrialConfig.shape_group): the unit the
# sweep hands out, and the sampling unit of the report's partial-grid estimate.
# n_critic too: it sets how many batches an iteration draws from the shared stream.
SHAPE_GROUP_KEYS = (*SHAPE_AXES, "n_critic", "seed", *BUDGET_KEYS)
# Figure 2's groups: label -> the sweep family whose trials it shows (EBGAN-PT is not one).
FIGURE2_GROUPS = {"EBGAN": "ebgan", "GAN": "gan"}

# A setting that configurations written by earlier versions carried with this value: it
# stays in the key's canonical form so their keys do not change (see TrialConfig.key).
LEGACY_KEY_FIELDS: dict[str, Any] = {"inject_error": False}
# Settings added after keys were first written: left out of the key's canonical form
# while they hold their default, so no earlier configuration's key changes. A setting
# added from now on goes here too (docs/adding-a-loss.md).
KEY_OMITTED_AT_DEFAULT = ("gp_weight", "n_critic", "gamma", "lambda_k")


class TrialConfigError(UserError, ValueError):
    """A trial setting that cannot run; the message names the key and the value."""


@dataclass(frozen=True)
class TrialConfig:
    """The settings of one trial. Field names are those of sweep.yaml and the results table."""

    family: str               # the sweep family it belongs to (ebgan, gan, ebgan_pt, ...)
    model: str                # gan | ebgan | lsgan | wgan_gp | hinge | began (models.losses)
    nLayerG: int              # weight layers in G (Table 1: 2-5)
    nLayerD: int              # weight layers in D; EBGAN: encoder nLayerD - 1, decoder 1
    sizeG: int                # units per hidden layer of G
    sizeD: int                # units per hidden layer of D
    dropoutD: bool            # dropout after each hidden activation of D
    optimD: str               # adam | sgd
    optimG: str               # adam | sgd
    lr: float                 # learning rate of both nets
    margin: float = 10.0      # EBGAN hinge margin m (paper: 10, not tuned)
    pt_weight: float = 0.0    # pulling-away term weight (EBGAN-PT: 0.1)
    z_dim: int = 100          # latent size, z ~ N(0, I)
    dropout: float = 0.5      # dropout rate in D when dropoutD is true
    beta1: float = 0.5        # Adam betas (DCGAN convention)
    beta2: float = 0.999
    seed: int = 0             # the sweep's seed axis: batch order, z, init, dropout masks
    epochs: int = 20          # passes over the training set
    iterations: int | None = None  # overrides epochs when set
    batch_size: int = 64
    # Settings of one model each (models.losses.specs); the others ignore them.
    gp_weight: float = 10.0   # WGAN-GP: gradient penalty weight lambda (its paper: 10)
    n_critic: int = 5         # WGAN-GP: critic steps per G step (its paper: 5)
    gamma: float = 0.5        # BEGAN: diversity ratio E[L(G(z))] / E[L(x)] aimed at
    lambda_k: float = 0.001   # BEGAN: learning rate of k_t

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            try:
                normal = CHECKS[f.name](value)
            except Invalid as bad:
                raise TrialConfigError(f"trial setting {f.name}: {bad} (got {value!r})") from None
            object.__setattr__(self, f.name, normal)  # e.g. lr 1 -> 1.0: one key per value

    # --- building -----------------------------------------------------------------------
    @classmethod
    def from_dict(cls, values: Mapping[str, Any], *, ignore_extra: bool = False) -> TrialConfig:
        """From a sweep-file row, an Optuna trial's flat dict or a ledger entry.

        Unknown keys are refused unless ``ignore_extra`` (a ledger entry also holds the
        result). ``inject_error: false``, written by earlier versions, is accepted.
        """
        names = {f.name for f in fields(cls)}
        extra = [k for k in values if k not in names]
        for k in extra:
            if k in LEGACY_KEY_FIELDS and values[k] == LEGACY_KEY_FIELDS[k]:
                continue
            if not ignore_extra:
                raise TrialConfigError(f"unknown trial setting {k!r} (got {values[k]!r}); "
                                       f"expected one of {', '.join(sorted(names))}")
        missing = [f.name for f in fields(cls) if f.name not in values and f.default is MISSING]
        if missing:
            raise TrialConfigError(f"trial setting {missing[0]!r} is missing")
        return cls(**{k: v for k, v in values.items() if k in names})

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def replace(self, **changes: Any) -> TrialConfig:
        return TrialConfig.from_dict({**self.to_dict(), **changes})

    # --- identity -----------------------------------------------------------------------
    @property
    def key(self) -> str:
        """A stable id of the configuration: same settings, same key, on any machine.

        The first 16 hex digits of the SHA-256 of the compact, key-sorted JSON of the
        settings. ``inject_error: false`` stays in that JSON: every configuration written
        before it stopped being a setting carried it, and their keys must not change. The
        settings of KEY_OMITTED_AT_DEFAULT leave it while at their default, for the same
        reason (they did not exist when those keys were written).
        """
        values = {k: v for k, v in self.to_dict().items()
                  if not (k in KEY_OMITTED_AT_DEFAULT and v == FIELD_DEFAULTS[k])}
        return trial_key({**values, **LEGACY_KEY_FIELDS})

    @property
    def shape_group(self) -> tuple:
        """Configurations with the same group have identical tensor shapes, batches, z and
        initial weights (common random numbers): they can train as one pack."""
        return tuple(getattr(self, k) for k in SHAPE_GROUP_KEYS)

    def planned_iterations(self, n_images: int) -> int:
        """The budget: ``iterations`` if set, else epochs x (images // batch)."""
        if self.iterations is not None:
            return self.iterations
        return self.epochs * (n_images // self.batch_size)

    def describe(self) -> str:
        """A one-line label, e.g. 'gan 1a2b.. nLayerG=5 nLayerD=2 sizeG=1600 sizeD=1024 ...'."""
        drop = "dropout" if self.dropoutD else "no dropout"
        text = (f"{self.family} {self.key} nLayerG={self.nLayerG} nLayerD={self.nLayerD} "
                f"sizeG={self.sizeG} sizeD={self.sizeD} {drop} {self.optimD}/{self.optimG} "
                f"lr={self.lr:g}")
        if self.model == "ebgan":
            text += f" m={self.margin:g}" + (f" PT={self.pt_weight:g}" if self.pt_weight else "")
        elif SPECS[self.model].settings:
            text += "".join(f" {k}={getattr(self, k):g}" for k in SPECS[self.model].settings)
        return text


def trial_key(values: Mapping[str, Any]) -> str:
    """SHA-256 (16 hex digits) of the compact, key-sorted JSON of ``values``."""
    canonical = json.dumps(dict(values), sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


# Every field's check: it normalises the value (1 -> 1.0 for floats) or raises Invalid.
CHECKS: dict[str, Callable[[Any], Any]] = {
    "family": string, "model": one_of(MODELS),
    "nLayerG": integer(2), "nLayerD": integer(2), "sizeG": integer(1), "sizeD": integer(1),
    "dropoutD": boolean, "optimD": one_of(OPTIMIZERS), "optimG": one_of(OPTIMIZERS),
    "lr": number(0.0, lo_open=True, hi_open=False),
    "margin": number(0.0, lo_open=True, hi_open=False), "pt_weight": number(0.0, hi_open=False),
    "z_dim": integer(1), "dropout": number(0.0, 1.0), "beta1": number(0.0, 1.0),
    "beta2": number(0.0, 1.0), "seed": integer(0), "epochs": integer(1),
    "iterations": optional(integer(1)), "batch_size": integer(2),
    "gp_weight": number(0.0, hi_open=False), "n_critic": integer(1),
    "gamma": number(0.0, 1.0, lo_open=True, hi_open=False),
    "lambda_k": number(0.0, 1.0, hi_open=False),
}
FIELD_DEFAULTS: dict[str, Any] = {f.name: f.default for f in fields(TrialConfig)
                                  if f.default is not MISSING}
# The settings a sweep file may turn into an axis of a family.
AXIS_KEYS = (*TABLE1_AXES, "margin", "pt_weight", "z_dim", "dropout", "beta1", "beta2",
             "gp_weight", "n_critic", "gamma", "lambda_k")
# Those of them the sweep file's `defaults:` section sets for every family.
DEFAULT_KEYS = ("margin", "pt_weight", "z_dim", "dropout", "beta1", "beta2",
                "gp_weight", "n_critic", "gamma", "lambda_k")


def check_applies(model: str, setting: str) -> None:
    """Refuse (Invalid) a model-specific setting that does not belong to ``model``: an
    axis or an explicit setting of a family of that model would have no effect."""
    if setting in not_applying(model):
        raise Invalid(f"does not apply to model {model} (it is a setting of {owner(setting)})")


def coerce(config: TrialConfig | Mapping[str, Any]) -> TrialConfig:
    """A TrialConfig as it is, or one built from a mapping (tests, notebooks)."""
    return config if isinstance(config, TrialConfig) else TrialConfig.from_dict(config)
