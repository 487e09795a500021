"""GAN losses (Goodfellow et al. 2014): the GAN family of the EBGAN grid (Zhao, Mathieu &
LeCun, ICLR 2017, section 4.1), on D's logit (a scalar-output D with batch norm).

Solo functions take logits (B,) and return the batch mean; ``packed_*`` take (M, B) and
return (M,), each member's value computed with the solo ops in the solo order (a test
checks them bit for bit). Pure: no optimizer inside.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from models.losses.base import Loss


def d_loss(logits_real: torch.Tensor, logits_fake: torch.Tensor) -> torch.Tensor:
    """GAN discriminator loss (Goodfellow et al. 2014): -log D(x) - log(1 - D(G(z))).

    Binary cross-entropy on logits, real labelled 1 and fake 0, each term a batch mean.
    """
    real = F.binary_cross_entropy_with_logits(logits_real, torch.ones_like(logits_real))
    fake = F.binary_cross_entropy_with_logits(logits_fake, torch.zeros_like(logits_fake))
    return real + fake


def g_loss(logits_fake: torch.Tensor) -> torch.Tensor:
    """Non-saturating GAN generator loss: L_G = -log D(G(z)) = -log sigmoid(logit)."""
    return F.binary_cross_entropy_with_logits(logits_fake, torch.ones_like(logits_fake))


def packed_d_loss(logits_real: torch.Tensor, logits_fake: torch.Tensor) -> torch.Tensor:
    """GAN discriminator loss per member: -log D(x) - log(1 - D(G(z))), batch means.

    logits (M, B) -> (M,).
    """
    real = F.binary_cross_entropy_with_logits(logits_real, torch.ones_like(logits_real),
                                              reduction="none").mean(1)
    fake = F.binary_cross_entropy_with_logits(logits_fake, torch.zeros_like(logits_fake),
                                              reduction="none").mean(1)
    return real + fake


def packed_g_loss(logits_fake: torch.Tensor) -> torch.Tensor:
    """Non-saturating generator loss per member: -log sigmoid(logit), (M, B) -> (M,)."""
    return F.binary_cross_entropy_with_logits(logits_fake, torch.ones_like(logits_fake),
                                              reduction="none").mean(1)


class GanLoss(Loss):
    """BCE discriminator, non-saturating generator; logs loss_d and loss_g only."""
    model = "gan"

    def d_loss(self, D: nn.Module, x: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        f = packed_d_loss if self.packed else d_loss
        return f(D(x), D(fake))

    def g_loss(self, D: nn.Module, fake: torch.Tensor) -> torch.Tensor:
        return (packed_g_loss if self.packed else g_loss)(D(fake))


LOSS = GanLoss
