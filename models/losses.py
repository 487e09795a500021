"""Losses of the GAN and EBGAN grid (Zhao, Mathieu & LeCun, ICLR 2017, eq. 1, 2 and 14).

Pure functions: tensors in, a scalar tensor (batch mean) out; no optimizer inside.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def gan_d_loss(logits_real: torch.Tensor, logits_fake: torch.Tensor) -> torch.Tensor:
    """GAN discriminator loss (Goodfellow et al. 2014): -log D(x) - log(1 - D(G(z))).

    Binary cross-entropy on logits, real labelled 1 and fake 0, each term a batch mean.
    """
    real = F.binary_cross_entropy_with_logits(logits_real, torch.ones_like(logits_real))
    fake = F.binary_cross_entropy_with_logits(logits_fake, torch.zeros_like(logits_fake))
    return real + fake


def gan_g_loss(logits_fake: torch.Tensor) -> torch.Tensor:
    """Non-saturating GAN generator loss: L_G = -log D(G(z)) = -log sigmoid(logit)."""
    return F.binary_cross_entropy_with_logits(logits_fake, torch.ones_like(logits_fake))


def energy(x: torch.Tensor, recon: torch.Tensor) -> torch.Tensor:
    """EBGAN energy (section 2.1): D(x) = ||Dec(Enc(x)) - x||_2 per sample, shape (B,)."""
    return torch.linalg.vector_norm(recon - x, ord=2, dim=1)  # (B, 1024) -> (B,)


def ebgan_d_loss(energy_real: torch.Tensor, energy_fake: torch.Tensor,
                 margin: float) -> torch.Tensor:
    """EBGAN discriminator loss, eq. 1: L_D = D(x) + max(0, m - D(G(z))), batch mean."""
    return (energy_real + torch.clamp(margin - energy_fake, min=0.0)).mean()


def ebgan_g_loss(energy_fake: torch.Tensor, codes_fake: torch.Tensor | None = None,
                 pt_weight: float = 0.0) -> torch.Tensor:
    """EBGAN generator loss, eq. 2 (+ eq. 14 for EBGAN-PT): L_G = D(G(z)) + w * f_PT(S)."""
    loss = energy_fake.mean()
    if pt_weight != 0.0:
        if codes_fake is None:
            raise ValueError("pt_weight != 0 needs the encoder codes of the generated batch")
        loss = loss + pt_weight * pulling_away(codes_fake)
    return loss


def pulling_away(S: torch.Tensor) -> torch.Tensor:
    """Pulling-away term, eq. 14: f_PT(S) = 1/(N(N-1)) sum_{i != j} (S_i.S_j / (|S_i||S_j|))^2.

    S is (N, d), N >= 2: the squared cosine similarity of every ordered pair of distinct
    rows, averaged; 0 for orthogonal rows, 1 for parallel ones. A zero row has no
    direction: F.normalize maps it to zero, so it counts as orthogonal to everything
    rather than turning the loss into NaN (ReLU codes can be all zero).
    """
    if S.dim() != 2 or S.shape[0] < 2:
        raise ValueError(f"pulling_away needs S of shape (N, d) with N >= 2, got {tuple(S.shape)}")
    n = S.shape[0]
    unit = F.normalize(S, p=2.0, dim=1)                       # (N, d)
    cos = unit @ unit.T                                       # (N, N)
    off = cos.flatten().index_select(0, off_diagonal(n, S.device))  # (N (N - 1),)
    return off.pow(2).sum() / (n * (n - 1))


def off_diagonal(n: int, device: torch.device) -> torch.Tensor:
    """Flat indices of the off-diagonal entries of an (n, n) matrix, row by row (the order
    a boolean mask gives), computed on the device: indexing with a mask would make the GPU
    wait for the host to count its entries at every step."""
    k = torch.arange(n * (n - 1), device=device)
    i, r = k // (n - 1), k % (n - 1)
    return i * n + r + (r >= i).long()                       # (n (n - 1),)
