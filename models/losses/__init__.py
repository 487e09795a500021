"""The losses: one module per model (gan, ebgan, lsgan, wgan_gp, hinge, began).

Each module ``models/losses/<model>.py`` holds the model's pure loss functions (its
paper's equations in their docstrings), their packed forms and ``LOSS``, its
:class:`models.losses.base.Loss` subclass, which the trainers call; :data:`SPECS`
(``models.losses.specs``, no torch) says what the model needs. :func:`loss_entry` is the
registry: model name -> its Loss class. Adding a loss: docs/adding-a-loss.md.

This package imports no torch itself (``models.config`` reads the model list from it);
the functions of the first two models keep their old names here
(``from models.losses import gan_d_loss, energy, ...``), loaded when first asked for.
"""
from __future__ import annotations

import importlib
from typing import Any

from models.losses.specs import MODELS, SPECS, ModelSpec

__all__ = ["MODELS", "SPECS", "ModelSpec", "loss_entry"]

# Names of models/losses.py before it became this package -> (module, name).
_LEGACY = {"gan_d_loss": ("gan", "d_loss"), "gan_g_loss": ("gan", "g_loss"),
           "energy": ("ebgan", "energy"), "ebgan_d_loss": ("ebgan", "d_loss"),
           "ebgan_g_loss": ("ebgan", "g_loss"), "pulling_away": ("ebgan", "pulling_away"),
           "off_diagonal": ("ebgan", "off_diagonal")}


def loss_entry(model: str) -> Any:
    """The Loss class (``models.losses.base.Loss``) of ``model``."""
    if model not in SPECS:
        raise ValueError(f"model: expected one of {', '.join(MODELS)}, got {model!r}")
    return importlib.import_module(f"models.losses.{model}").LOSS


def __getattr__(name: str) -> Any:
    if name in _LEGACY:
        module, attr = _LEGACY[name]
        return getattr(importlib.import_module(f"models.losses.{module}"), attr)
    raise AttributeError(f"module 'models.losses' has no attribute {name!r}")
