"""What a loss gives the trainers: :class:`Loss`, one run's loss, solo or packed.

``models.train.Trainer`` (one configuration) and ``models.pack.PackTrainer`` (M
configurations of one shape group) call the same four methods of the model's ``Loss``
and nothing model-specific: :meth:`Loss.d_loss` (the discriminator/critic loss of one D
step), :meth:`Loss.g_loss` (the generator loss through the updated D), :meth:`Loss.end_step`
(the quantities logged after loss_d and loss_g, and any training state the loss carries,
e.g. BEGAN's k_t) and the state dict. A solo loss holds its settings as Python floats, as
the config gives them; a packed loss holds one row per member (an (M,) tensor) in the
tensors named by ``rows``, and :meth:`Loss.keep` keeps only some members' rows (a pack
that drops stopped members). Each model's module (``models/losses/<model>.py``) defines
the pure loss functions and its ``Loss`` subclass; docs/adding-a-loss.md has the steps.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import torch
from torch import nn

from models.config import TrialConfig
from models.losses.specs import SPECS, ModelSpec


class Loss:
    """The loss of one run: one configuration (``packed`` False) or a pack of them.

    Subclasses set ``model`` and ``settings`` (the TrialConfig fields read per member) and
    define ``d_loss`` and ``g_loss``; those with state or logged quantities define
    ``end_step`` and add the state's tensors to ``state`` (names) and ``rows``.
    Losses are per member, shape () solo or (M,) packed; a pack sums them before its
    backward, so each member gets exactly its own gradient.
    """
    model: ClassVar[str]
    settings: ClassVar[tuple[str, ...]] = ()   # per-member settings, e.g. ("margin",)
    state: ClassVar[tuple[str, ...]] = ()      # per-member training state, e.g. ("k_t",)
    cuda_graph_ok: ClassVar[bool] = True       # False: the step draws host randomness

    def __init__(self, configs: Sequence[TrialConfig], *, packed: bool,
                 device: torch.device | str, dtype: torch.dtype) -> None:
        self.configs = list(configs)
        self.packed = packed
        self.device, self.dtype = torch.device(device), dtype
        c = self.configs[0]
        self.d_steps = self.spec.d_steps_of(c)
        for name in self.settings:
            values = [getattr(x, name) for x in self.configs]
            setattr(self, name, self.vector(values) if packed else values[0])
        self._log: dict[str, torch.Tensor] = {}

    @property
    def spec(self) -> ModelSpec:
        return SPECS[self.model]

    @property
    def rows(self) -> tuple[str, ...]:
        """The attributes holding one row per member (packed)."""
        return (*self.settings, *self.state)

    def vector(self, values: Sequence[float]) -> torch.Tensor:
        """Per-member values as an (M,) tensor, float64 first so each member's value is
        the one its solo run multiplies in."""
        return torch.tensor(list(values), dtype=torch.float64).to(self.device, self.dtype)

    # --- the step ---------------------------------------------------------------------
    def d_loss(self, D: nn.Module, x: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        """One D step's loss: x (B, 1024) real, fake (B, 1024) or (M, B, 1024) detached."""
        raise NotImplementedError

    def g_loss(self, D: nn.Module, fake: torch.Tensor) -> torch.Tensor:
        """The G step's loss of ``fake`` (with its graph) through the updated D."""
        raise NotImplementedError

    def end_step(self, active: torch.Tensor | None = None) -> tuple[torch.Tensor, ...]:
        """After the G step: update the loss's state (members where ``active`` is False
        keep theirs) and return the logged quantities, detached, () or (M,) each."""
        return tuple(self._log[q] for q in self.spec.quantities)

    @property
    def forwards(self) -> tuple[int, int]:
        """Training-mode forwards of (G, D) per iteration: batch norm counts them. One G
        forward per D step (the last one's graph serves the G step); D sees real and fake
        at each D step and the fake again at the G step."""
        return self.d_steps, 2 * self.d_steps + 1

    # --- members and state --------------------------------------------------------------
    def keep(self, index: torch.Tensor) -> None:
        """Keep only the members ``index`` (a LongTensor of rows, in the new order)."""
        if not self.packed:
            raise ValueError("keep() is for a packed loss")
        index = index.to(self.device)
        for name in self.rows:
            setattr(self, name, getattr(self, name).index_select(0, index))
        self.configs = [self.configs[int(i)] for i in index.tolist()]

    def state_dict(self) -> dict[str, Any]:
        """The loss's training state (empty when it has none)."""
        return {name: getattr(self, name).detach().cpu().clone() for name in self.state}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        missing = [name for name in self.state if name not in state]
        if missing:
            raise ValueError(f"the training state lacks the {self.model} loss's "
                             f"{', '.join(missing)}")
        for name in self.state:
            getattr(self, name).copy_(state[name])

    def member_state(self, k: int) -> dict[str, Any]:
        """Member ``k``'s state as its solo run's :meth:`state_dict` holds it."""
        return {name: getattr(self, name)[k].detach().cpu().clone() for name in self.state}
