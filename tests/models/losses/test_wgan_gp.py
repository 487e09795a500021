"""WGAN-GP: the critic loss and the gradient penalty against values derived by hand and a
finite-difference gradient norm."""
import pytest
import torch
from torch import nn

from models.losses import wgan_gp
from models.losses.wgan_gp import (critic_input_gradient, critic_loss, gradient_penalty,
                                   interpolates)

DT = torch.float64


class Linear(nn.Module):
    """D(x) = w . x + b: its gradient is w everywhere."""

    def __init__(self, w: list[float], b: float = 0.0) -> None:
        super().__init__()
        self.lin = nn.Linear(len(w), 1).to(DT)
        with torch.no_grad():
            self.lin.weight.copy_(torch.tensor([w], dtype=DT))
            self.lin.bias.fill_(b)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.lin(x).squeeze(-1)


def test_critic_loss_by_hand():
    # E[D(G(z))] - E[D(x)] = mean(1, 3) - mean(4, 6) = 2 - 5 = -3
    real, fake = torch.tensor([4.0, 6.0], dtype=DT), torch.tensor([1.0, 3.0], dtype=DT)
    assert critic_loss(real, fake).item() == -3.0
    assert wgan_gp.g_loss(fake).item() == -2.0


def test_interpolates_by_hand():
    # eps 0.25: 0.25 * 4 + 0.75 * 0 = 1; eps 1: the real sample
    x, fake = torch.full((2, 3), 4.0, dtype=DT), torch.zeros(2, 3, dtype=DT)
    eps = torch.tensor([[0.25], [1.0]], dtype=DT)
    assert interpolates(x, fake, eps).tolist() == [[1.0] * 3, [4.0] * 3]


def test_penalty_of_a_linear_critic():
    # grad D = w = (3, 4, 0): norm 5 everywhere, penalty (5 - 1)^2 = 16
    D = Linear([3.0, 4.0, 0.0])
    xh = torch.randn(5, 3, dtype=DT)
    grad = critic_input_gradient(D, xh)
    assert grad.tolist() == [[3.0, 4.0, 0.0]] * 5
    assert gradient_penalty(grad).item() == 16.0
    # a unit-norm gradient costs nothing: w = (0.6, 0.8)
    assert gradient_penalty(critic_input_gradient(Linear([0.6, 0.8]), xh[:, :2])).item() == \
        pytest.approx(0.0, abs=1e-15)


def test_d_loss_of_a_linear_critic_by_hand():
    # w = (3, 4), b = 1. Real rows (1, 0), (0, 1): D = 4, 5, mean 4.5. Fake (0, 0), (1, 1):
    # D = 1, 8, mean 4.5. Wasserstein part 4.5 - 4.5 = 0; penalty (5 - 1)^2 = 16, x 10 = 160.
    D = Linear([3.0, 4.0], b=1.0)
    x = torch.tensor([[1.0, 0.0], [0.0, 1.0]], dtype=DT)
    fake = torch.tensor([[0.0, 0.0], [1.0, 1.0]], dtype=DT)
    grad = critic_input_gradient(D, interpolates(x, fake, torch.full((2, 1), 0.3, dtype=DT)))
    assert wgan_gp.d_loss(D(x), D(fake), grad, 10.0).item() == pytest.approx(160.0, abs=1e-12)


def test_penalty_matches_a_finite_difference_gradient_norm():
    """A small nonlinear critic: the penalty from autograd equals the one from central
    differences, (f(x + h e_i) - f(x - h e_i)) / 2h per coordinate, to O(h^2)."""
    torch.manual_seed(0)
    D = nn.Sequential(nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 1)).to(DT)
    f = lambda v: D(v).squeeze(-1)                                  # noqa: E731
    xh = torch.randn(4, 6, dtype=DT)
    h = 1e-5
    fd = torch.zeros(4, 6, dtype=DT)
    with torch.no_grad():
        for i in range(6):
            e = torch.zeros(6, dtype=DT)
            e[i] = h
            fd[:, i] = (f(xh + e) - f(xh - e)) / (2 * h)
    want = ((fd.norm(dim=1) - 1.0) ** 2).mean().item()
    got = gradient_penalty(critic_input_gradient(f, xh)).item()
    assert got == pytest.approx(want, rel=1e-8)


def test_the_penalty_has_a_gradient_for_the_critics_weights():
    # d/dw (|w| - 1)^2 = 2 (|w| - 1) w / |w|: w = (3, 4): 2 * 4 * (0.6, 0.8) = (4.8, 6.4)
    D = Linear([3.0, 4.0])
    gradient_penalty(critic_input_gradient(D, torch.randn(3, 2, dtype=DT))).backward()
    assert D.lin.weight.grad.tolist()[0] == pytest.approx([4.8, 6.4], rel=1e-12)


def test_packed_rows_are_the_solo_values():
    real, fake = torch.randn(3, 16, dtype=DT), torch.randn(3, 16, dtype=DT)
    grad, w = torch.randn(3, 16, 5, dtype=DT), torch.tensor([10.0, 1.0, 0.0], dtype=DT)
    d = wgan_gp.d_loss(real, fake, grad, w)
    for m in range(3):
        assert torch.equal(d[m], wgan_gp.d_loss(real[m], fake[m], grad[m], w[m].item()))
