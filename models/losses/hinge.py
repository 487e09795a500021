"""Hinge losses (Lim & Ye 2017, "Geometric GAN"; Miyato et al. 2018, "Spectral
Normalization for GANs", section 4), on a scalar-output D whose last layer is linear.

Every function takes D's outputs with the batch on the last axis, (B,) solo or (M, B)
packed, and returns the batch mean, () or (M,): one function serves both layouts with
the same ops per member. Pure.
"""
from __future__ import annotations

import torch
from torch import nn

from models.losses.base import Loss


def d_loss(d_real: torch.Tensor, d_fake: torch.Tensor) -> torch.Tensor:
    """L_D = E_x[max(0, 1 - D(x))] + E_z[max(0, 1 + D(G(z)))]."""
    return torch.relu(1.0 - d_real).mean(-1) + torch.relu(1.0 + d_fake).mean(-1)


def g_loss(d_fake: torch.Tensor) -> torch.Tensor:
    """L_G = -E_z[D(G(z))]."""
    return -d_fake.mean(-1)


class HingeLoss(Loss):
    """Hinge discriminator, linear generator loss; logs loss_d and loss_g only."""
    model = "hinge"

    def d_loss(self, D: nn.Module, x: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        return d_loss(D(x), D(fake))

    def g_loss(self, D: nn.Module, fake: torch.Tensor) -> torch.Tensor:
        return g_loss(D(fake))


LOSS = HingeLoss
