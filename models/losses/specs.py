"""What each model of the grid is, without torch: the registry's table of models.

One :class:`ModelSpec` per model: the discriminator it needs, the settings that apply to
it only, its Adam betas when the sweep file does not choose, its critic steps per G step
and the quantities its training curves log. ``models.config`` reads this table (the list
of models, which setting belongs to which model) and must not load torch; the losses
themselves live in one module per model beside this one (``models/losses/<model>.py``),
found by :func:`models.losses.loss_entry`. Adding a loss: docs/adding-a-loss.md.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ModelSpec:
    """One model: a loss on the shared G and D of appendix C."""
    name: str                        # the sweep file's `model:` and the module's name
    label: str                       # as figures and captions write it
    d_net: str                       # "scalar" (one output per sample) | "autoencoder"
    d_batch_norm: bool = True        # batch norm in D's hidden layers (appendix C)
    settings: tuple[str, ...] = ()   # TrialConfig fields that apply to this model only
    betas: tuple[float, float] | None = None  # Adam betas unless the sweep file sets them
    d_steps: str | None = None       # the setting counting D steps per G step (None: 1)
    quantities: tuple[str, ...] = ()  # logged after loss_d and loss_g, in this order

    def d_steps_of(self, config: Any) -> int:
        """D (critic) steps per iteration; an iteration is one G step."""
        return int(getattr(config, self.d_steps)) if self.d_steps else 1


SPECS: dict[str, ModelSpec] = {s.name: s for s in (
    ModelSpec("gan", "GAN", "scalar"),
    ModelSpec("ebgan", "EBGAN", "autoencoder", settings=("margin", "pt_weight"),
              quantities=("energy_real", "energy_fake")),
    ModelSpec("lsgan", "LSGAN", "scalar"),
    ModelSpec("wgan_gp", "WGAN-GP", "scalar", d_batch_norm=False,
              settings=("gp_weight", "n_critic"), betas=(0.0, 0.9), d_steps="n_critic",
              quantities=("wasserstein", "gp")),
    ModelSpec("hinge", "hinge", "scalar"),
    ModelSpec("began", "BEGAN", "autoencoder", settings=("gamma", "lambda_k"),
              quantities=("k_t", "m_global")),
)}

MODELS = tuple(SPECS)
# Settings that belong to one model; any other model's family refuses them as an axis.
MODEL_SETTINGS = tuple(s for spec in SPECS.values() for s in spec.settings)


def not_applying(model: str) -> tuple[str, ...]:
    """The model-specific settings of other models: an axis of ``model``'s family may not
    vary them (``defaults:`` may still set them for every family)."""
    return tuple(s for s in MODEL_SETTINGS if s not in SPECS[model].settings)


def owner(setting: str) -> str:
    """The model a model-specific setting belongs to."""
    return next(s.name for s in SPECS.values() if setting in s.settings)
