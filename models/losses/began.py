"""BEGAN losses (Berthelot et al. 2017, "BEGAN: Boundary Equilibrium GANs",
section 3.4), on EBGAN's auto-encoder D (appendix C's, batch norm and all).

L(v) = mean |v - Dec(Enc(v))| per sample (the L1 error, eta = 1);
L_D = L(x) - k_t L(G(z)),   L_G = L(G(z)),
k_{t+1} = clip(k_t + lambda_k (gamma L(x) - L(G(z))), 0, 1), k_0 = 0;
the convergence measure M_global = L(x) + |gamma L(x) - L(G(z))| (section 3.4.1).
In the update and in M_global, L(x) is the D step's and L(G(z)) the G step's (the
paper's L(G(z_G))), both batch means. k_t is training state: one value per member,
saved with the checkpoint.

Functions take the batch on the last axis ((B,) solo or (M, B) packed; images
(..., B, 1024)) and return batch means, () or (M,). Pure.
"""
from __future__ import annotations

import torch
from torch import nn

from models.losses.base import Loss


def l1_error(v: torch.Tensor, recon: torch.Tensor) -> torch.Tensor:
    """L(v) = mean over pixels of |v - D(v)|: (..., B, 1024) -> (..., B)."""
    return (recon - v).abs().mean(-1)


def d_loss(l_real: torch.Tensor, l_fake: torch.Tensor,
           k_t: float | torch.Tensor) -> torch.Tensor:
    """L_D = L(x) - k_t L(G(z)), batch means: (..., B) -> (...)."""
    return l_real.mean(-1) - k_t * l_fake.mean(-1)


def g_loss(l_fake: torch.Tensor) -> torch.Tensor:
    """L_G = L(G(z)), the batch mean."""
    return l_fake.mean(-1)


def k_update(k_t: torch.Tensor, l_real: torch.Tensor, l_fake: torch.Tensor,
             gamma: float | torch.Tensor, lambda_k: float | torch.Tensor) -> torch.Tensor:
    """k_{t+1} = clip(k_t + lambda_k (gamma L(x) - L(G(z))), 0, 1) (batch means)."""
    return torch.clamp(k_t + lambda_k * (gamma * l_real - l_fake), 0.0, 1.0)


def convergence(l_real: torch.Tensor, l_fake: torch.Tensor,
                gamma: float | torch.Tensor) -> torch.Tensor:
    """M_global = L(x) + |gamma L(x) - L(G(z))| (batch means)."""
    return l_real + torch.abs(gamma * l_real - l_fake)


class BeganLoss(Loss):
    """BEGAN's equilibrium-controlled auto-encoder losses; logs k_t (after this
    iteration's update) and M_global."""
    model = "began"
    settings = ("gamma", "lambda_k")
    state = ("k_t",)

    def __init__(self, configs, *, packed, device, dtype) -> None:
        super().__init__(configs, packed=packed, device=device, dtype=dtype)
        shape = (len(self.configs),) if packed else ()
        self.k_t = torch.zeros(shape, device=self.device, dtype=dtype)       # k_0 = 0

    def d_loss(self, D: nn.Module, x: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        recon_real, _ = D(x)
        recon_fake, _ = D(fake)
        l_real, l_fake = l1_error(x, recon_real), l1_error(fake, recon_fake)  # (..., B)
        self._l_real = l_real.detach().mean(-1)
        return d_loss(l_real, l_fake, self.k_t)

    def g_loss(self, D: nn.Module, fake: torch.Tensor) -> torch.Tensor:
        recon, _ = D(fake)
        loss = g_loss(l1_error(fake, recon))
        self._l_fake = loss.detach()
        return loss

    def end_step(self, active: torch.Tensor | None = None) -> tuple[torch.Tensor, ...]:
        new = k_update(self.k_t, self._l_real, self._l_fake, self.gamma, self.lambda_k)
        # In place: a captured CUDA graph keeps reading the same tensor.
        self.k_t.copy_(new if active is None else torch.where(active, new, self.k_t))
        return self.k_t.clone(), convergence(self._l_real, self._l_fake, self.gamma)


LOSS = BeganLoss
