"""Hinge losses against values derived by hand."""
import torch

from models.losses import hinge

DT = torch.float64


def test_d_loss_by_hand():
    # real [2, 0.5]: max(0, 1 - 2) = 0, max(0, 1 - 0.5) = 0.5 -> mean 0.25
    # fake [-3, 0]: max(0, 1 - 3) = 0, max(0, 1 + 0) = 1 -> mean 0.5; L_D = 0.75
    real, fake = torch.tensor([2.0, 0.5], dtype=DT), torch.tensor([-3.0, 0.0], dtype=DT)
    assert hinge.d_loss(real, fake).item() == 0.75


def test_outside_the_margin_the_discriminator_loss_is_zero():
    # D(x) >= 1 and D(G(z)) <= -1: both hinges are flat, L_D = 0, and so is its gradient
    real = torch.tensor([1.0, 5.0], dtype=DT, requires_grad=True)
    fake = torch.tensor([-1.0, -7.0], dtype=DT, requires_grad=True)
    loss = hinge.d_loss(real, fake)
    loss.backward()
    assert loss.item() == 0.0 and real.grad.abs().sum() == 0 and fake.grad.abs().sum() == 0


def test_g_loss_is_minus_the_mean_output():
    # -mean(-3, 0) = 1.5
    assert hinge.g_loss(torch.tensor([-3.0, 0.0], dtype=DT)).item() == 1.5


def test_packed_rows_are_the_solo_values():
    real, fake = torch.randn(3, 16, dtype=DT), torch.randn(3, 16, dtype=DT)
    d, g = hinge.d_loss(real, fake), hinge.g_loss(fake)
    for m in range(3):
        assert torch.equal(d[m], hinge.d_loss(real[m], fake[m]))
        assert torch.equal(g[m], hinge.g_loss(fake[m]))
