"""WGAN-GP losses (Gulrajani et al. 2017, "Improved Training of Wasserstein GANs",
Algorithm 1), on a scalar-output critic with a linear last layer and no batch norm.

L_D = E_z[D(G(z))] - E_x[D(x)] + lambda E_xh[(||grad_xh D(xh)||_2 - 1)^2], with
xh = eps x + (1 - eps) G(z), eps ~ U[0, 1] per sample; L_G = -E_z[D(G(z))].
No batch norm in the critic: the paper's advice (section 4), since batch norm makes each
sample's critic value, and so the per-sample gradient the penalty constrains, depend on
the rest of the batch. The trainers take ``n_critic`` critic steps per G step, each on
its own real batch and z (``ModelSpec.d_steps``); eps comes from the loss's own stream,
seeded by the trial's seed, so every member of a pack draws the same eps.

Functions take the batch on the last axis of D's outputs ((B,) solo or (M, B) packed;
gradients (..., B, 1024)) and return batch means, () or (M,). Pure.
"""
from __future__ import annotations

from typing import Any

import torch
from torch import nn

from models.losses.base import Loss
from models.streams import derive_seed


def critic_loss(d_real: torch.Tensor, d_fake: torch.Tensor) -> torch.Tensor:
    """The Wasserstein part of L_D: E_z[D(G(z))] - E_x[D(x)] (minus the estimate)."""
    return d_fake.mean(-1) - d_real.mean(-1)


def interpolates(x: torch.Tensor, fake: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
    """xh = eps x + (1 - eps) G(z); eps (B, 1), x (B, 1024), fake (..., B, 1024)."""
    return eps * x + (1.0 - eps) * fake


def gradient_penalty(grad: torch.Tensor) -> torch.Tensor:
    """E_xh[(||grad_xh D(xh)||_2 - 1)^2] from the gradients (..., B, 1024) -> (...)."""
    return (torch.linalg.vector_norm(grad, ord=2, dim=-1) - 1.0).pow(2).mean(-1)


def d_loss(d_real: torch.Tensor, d_fake: torch.Tensor, grad: torch.Tensor,
           gp_weight: float | torch.Tensor) -> torch.Tensor:
    """L_D = E_z[D(G(z))] - E_x[D(x)] + lambda GP (Algorithm 1, line 7)."""
    return critic_loss(d_real, d_fake) + gp_weight * gradient_penalty(grad)


def g_loss(d_fake: torch.Tensor) -> torch.Tensor:
    """L_G = -E_z[D(G(z))] (Algorithm 1, line 11)."""
    return -d_fake.mean(-1)


def critic_input_gradient(D: nn.Module, xh: torch.Tensor) -> torch.Tensor:
    """grad_xh D(xh) per sample, kept in the graph (the penalty's backward needs its
    second derivative). Samples and members are independent, so the gradient of the sum
    of D's outputs is each output's own gradient."""
    xh = xh.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(D(xh).sum(), xh, create_graph=True)
    return grad                                                   # (..., B, 1024)


class WganGpLoss(Loss):
    """Critic and generator of WGAN-GP; logs the Wasserstein estimate E[D(x)] - E[D(G(z))]
    and the penalty of the last critic step."""
    model = "wgan_gp"
    settings = ("gp_weight",)
    cuda_graph_ok = False   # eps is drawn on the host at every critic step

    def __init__(self, configs, *, packed, device, dtype) -> None:
        super().__init__(configs, packed=packed, device=device, dtype=dtype)
        self.eps_rng = torch.Generator().manual_seed(derive_seed(self.configs[0].seed, "gp-eps"))

    @property
    def forwards(self) -> tuple[int, int]:
        # D: real, fake and interpolates at each critic step, the fake at the G step.
        return self.d_steps, 3 * self.d_steps + 1

    def d_loss(self, D: nn.Module, x: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        d_real, d_fake = D(x), D(fake)                           # (B,) or (M, B)
        eps = torch.rand((x.shape[0], 1), generator=self.eps_rng, dtype=self.dtype)
        grad = critic_input_gradient(D, interpolates(x, fake, eps.to(self.device)))
        gp = gradient_penalty(grad)
        self._log = {"wasserstein": -critic_loss(d_real, d_fake).detach(), "gp": gp.detach()}
        return critic_loss(d_real, d_fake) + self.gp_weight * gp

    def g_loss(self, D: nn.Module, fake: torch.Tensor) -> torch.Tensor:
        return g_loss(D(fake))

    def state_dict(self) -> dict[str, Any]:
        return {"eps_rng": self.eps_rng.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if "eps_rng" not in state:
            raise ValueError("the training state lacks the wgan_gp loss's eps_rng")
        self.eps_rng.set_state(state["eps_rng"])

    def member_state(self, k: int) -> dict[str, Any]:
        return self.state_dict()


LOSS = WganGpLoss
