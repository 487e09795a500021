"""The losses of ``models.losses`` for M packed members at once: one value per member.

Zhao, Mathieu & LeCun, ICLR 2017, eq. 1, 2 and 14, and the GAN losses of Goodfellow et
al. 2014. Pure functions; inputs carry a leading member axis M, outputs are (M,). Each
member's value (and gradient) is computed with the same ops, in the same order, as the
solo function on that member's tensors, so packed training reproduces solo training
(SPEC "Packs"); a test checks them against ``models.losses`` bit for bit.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from models.losses import off_diagonal
from models.packed_nets import packed_linear


def gan_d_loss(logits_real: torch.Tensor, logits_fake: torch.Tensor) -> torch.Tensor:
    """GAN discriminator loss per member: -log D(x) - log(1 - D(G(z))), batch means.

    logits (M, B) -> (M,).
    """
    real = F.binary_cross_entropy_with_logits(logits_real, torch.ones_like(logits_real),
                                              reduction="none").mean(1)
    fake = F.binary_cross_entropy_with_logits(logits_fake, torch.zeros_like(logits_fake),
                                              reduction="none").mean(1)
    return real + fake


def gan_g_loss(logits_fake: torch.Tensor) -> torch.Tensor:
    """Non-saturating generator loss per member: -log sigmoid(logit), (M, B) -> (M,)."""
    return F.binary_cross_entropy_with_logits(logits_fake, torch.ones_like(logits_fake),
                                              reduction="none").mean(1)


def energy(x: torch.Tensor, recon: torch.Tensor) -> torch.Tensor:
    """EBGAN energy ||Dec(Enc(x)) - x||_2 per sample: x (B, 1024) shared or (M, B, 1024),
    recon (M, B, 1024) -> (M, B)."""
    return torch.linalg.vector_norm(recon - x, ord=2, dim=-1)


def ebgan_d_loss(energy_real: torch.Tensor, energy_fake: torch.Tensor,
                 margin: torch.Tensor) -> torch.Tensor:
    """EBGAN discriminator loss, eq. 1, per member: mean of D(x) + max(0, m - D(G(z))).

    energies (M, B), margin (M, 1) -> (M,).
    """
    return (energy_real + torch.clamp(margin - energy_fake, min=0.0)).mean(1)


def ebgan_g_loss(energy_fake: torch.Tensor, codes_fake: torch.Tensor,
                 pt_weight: torch.Tensor, pt_members: torch.Tensor | None) -> torch.Tensor:
    """EBGAN generator loss, eq. 2 (+ eq. 14): L_G = D(G(z)) + w * f_PT(S) per member.

    energy_fake (M, B); codes_fake (M, B, d); pt_members: indices (P,) of the members
    with a pulling-away term and pt_weight (P,) their weights, or None when there are
    none. Members without the term never compute it, as their solo runs, so a NaN there
    cannot reach them.
    """
    loss = energy_fake.mean(1)                                        # (M,)
    if pt_members is None:
        return loss
    if len(pt_members) == len(loss):
        return loss + pt_weight * pulling_away(codes_fake)
    term = pt_weight * pulling_away(codes_fake.index_select(0, pt_members))  # (P,)
    return loss.index_add(0, pt_members, term)


def pulling_away(S: torch.Tensor) -> torch.Tensor:
    """Pulling-away term, eq. 14, per member: 1/(N(N-1)) sum_{i != j} cos(S_i, S_j)^2.

    S (M, N, d) -> (M,). The cosines are ``unit @ unit^T`` with the products of the solo
    ``mm`` (forward and backward), hence ``packed_linear``.
    """
    if S.dim() != 3 or S.shape[1] < 2:
        raise ValueError(f"pulling_away needs S of shape (M, N, d) with N >= 2, "
                         f"got {tuple(S.shape)}")
    n = S.shape[1]
    unit = F.normalize(S, p=2.0, dim=2)                               # (M, N, d)
    cos = packed_linear(unit, unit)                                   # (M, N, N)
    off = cos.flatten(1).index_select(1, off_diagonal(n, S.device))  # (M, N (N - 1))
    return off.pow(2).sum(1) / (n * (n - 1))
