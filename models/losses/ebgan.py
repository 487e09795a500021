"""EBGAN losses (Zhao, Mathieu & LeCun, ICLR 2017, eq. 1, 2 and 14), on the auto-encoder D.

The energy is the per-sample L2 norm of the reconstruction error (SPEC "Losses"). Solo
functions take (B, ...) tensors and return batch means; ``packed_*`` take a leading
member axis M and return (M,), each member's value computed with the solo ops in the
solo order (a test checks them bit for bit). Pure: no optimizer inside.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from models.losses.base import Loss
from models.packed_nets import packed_linear


def energy(x: torch.Tensor, recon: torch.Tensor) -> torch.Tensor:
    """EBGAN energy (section 2.1): D(x) = ||Dec(Enc(x)) - x||_2 per sample.

    Solo (B, 1024) -> (B,); packed: x (B, 1024) shared or (M, B, 1024), recon
    (M, B, 1024) -> (M, B).
    """
    return torch.linalg.vector_norm(recon - x, ord=2, dim=-1)


def d_loss(energy_real: torch.Tensor, energy_fake: torch.Tensor,
           margin: float) -> torch.Tensor:
    """EBGAN discriminator loss, eq. 1: L_D = D(x) + max(0, m - D(G(z))), batch mean."""
    return (energy_real + torch.clamp(margin - energy_fake, min=0.0)).mean()


def g_loss(energy_fake: torch.Tensor, codes_fake: torch.Tensor | None = None,
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


# --- packed: a leading member axis M ----------------------------------------------------
def packed_d_loss(energy_real: torch.Tensor, energy_fake: torch.Tensor,
                  margin: torch.Tensor) -> torch.Tensor:
    """EBGAN discriminator loss, eq. 1, per member: mean of D(x) + max(0, m - D(G(z))).

    energies (M, B), margin (M, 1) -> (M,).
    """
    return (energy_real + torch.clamp(margin - energy_fake, min=0.0)).mean(1)


def packed_g_loss(energy_fake: torch.Tensor, codes_fake: torch.Tensor,
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
        return loss + pt_weight * packed_pulling_away(codes_fake)
    term = pt_weight * packed_pulling_away(codes_fake.index_select(0, pt_members))  # (P,)
    return loss.index_add(0, pt_members, term)


def packed_pulling_away(S: torch.Tensor) -> torch.Tensor:
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


class EbganLoss(Loss):
    """Eq. 1 and 2 (+ eq. 14 where pt_weight != 0); logs the mean energies of the D step."""
    model = "ebgan"
    settings = ("margin", "pt_weight")

    def __init__(self, configs, *, packed, device, dtype) -> None:
        super().__init__(configs, packed=packed, device=device, dtype=dtype)
        if packed:
            self._split_pt()

    def _split_pt(self) -> None:
        """The packed margin as (M, 1); the members with a pulling-away term apart."""
        self.margin_col = self.margin.view(-1, 1)                             # (M, 1)
        pt = self.pt_weight.nonzero().view(-1)
        self.pt_members = pt if len(pt) else None                             # (P,)
        self.pt_weights = self.pt_weight.index_select(0, pt)                  # (P,)

    def keep(self, index: torch.Tensor) -> None:
        super().keep(index)
        self._split_pt()

    def d_loss(self, D: nn.Module, x: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        recon_real, _ = D(x)                                    # (B, 1024) or (M, B, 1024)
        recon_fake, _ = D(fake)
        e_real, e_fake = energy(x, recon_real), energy(fake, recon_fake)  # (B,) or (M, B)
        self._log = {"energy_real": e_real.detach().mean(-1),
                     "energy_fake": e_fake.detach().mean(-1)}
        if self.packed:
            return packed_d_loss(e_real, e_fake, self.margin_col)
        return d_loss(e_real, e_fake, self.margin)

    def g_loss(self, D: nn.Module, fake: torch.Tensor) -> torch.Tensor:
        recon, code = D(fake)
        if self.packed:
            return packed_g_loss(energy(fake, recon), code, self.pt_weights, self.pt_members)
        return g_loss(energy(fake, recon), code, self.pt_weight)


LOSS = EbganLoss
