"""LSGAN losses (Mao et al. 2017, "Least Squares Generative Adversarial Networks", eq. 2),
on a scalar-output D whose last layer is linear (SPEC "Other GAN losses").

The 0-1 coding variant, the paper's eq. 9: a = 0 (fake) and b = 1 (real) for D, c = 1
for G (not eq. 8's a = -1, b = 1, c = 0). Every function takes D's outputs with
the batch on the last axis, (B,) solo or (M, B) packed, and returns the batch mean, ()
or (M,): one function serves both layouts with the same ops per member. Pure.
"""
from __future__ import annotations

import torch
from torch import nn

from models.losses.base import Loss


def d_loss(d_real: torch.Tensor, d_fake: torch.Tensor) -> torch.Tensor:
    """L_D = 1/2 E_x[(D(x) - 1)^2] + 1/2 E_z[D(G(z))^2]   (a = 0, b = 1)."""
    return 0.5 * (d_real - 1.0).pow(2).mean(-1) + 0.5 * d_fake.pow(2).mean(-1)


def g_loss(d_fake: torch.Tensor) -> torch.Tensor:
    """L_G = 1/2 E_z[(D(G(z)) - 1)^2]   (c = 1)."""
    return 0.5 * (d_fake - 1.0).pow(2).mean(-1)


class LsganLoss(Loss):
    """Least squares on D's linear output; logs loss_d and loss_g only."""
    model = "lsgan"

    def d_loss(self, D: nn.Module, x: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        return d_loss(D(x), D(fake))

    def g_loss(self, D: nn.Module, fake: torch.Tensor) -> torch.Tensor:
        return g_loss(D(fake))


LOSS = LsganLoss
