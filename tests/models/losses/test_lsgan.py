"""LSGAN (0-1 coding) against values derived by hand."""
import pytest
import torch

from models.losses import lsgan

DT = torch.float64


def test_d_loss_by_hand():
    # real [1, 3]: (1 - 1)^2 = 0, (3 - 1)^2 = 4 -> mean 2, half 1
    # fake [0, 2]: 0^2 = 0, 2^2 = 4 -> mean 2, half 1; L_D = 2
    real, fake = torch.tensor([1.0, 3.0], dtype=DT), torch.tensor([0.0, 2.0], dtype=DT)
    assert lsgan.d_loss(real, fake).item() == 2.0


def test_a_perfect_discriminator_has_zero_loss_and_its_generator_one_half():
    # D(x) = b = 1, D(G(z)) = a = 0: L_D = 0; L_G = 1/2 (0 - 1)^2 = 1/2
    ones, zeros = torch.ones(4, dtype=DT), torch.zeros(4, dtype=DT)
    assert lsgan.d_loss(ones, zeros).item() == 0.0
    assert lsgan.g_loss(zeros).item() == 0.5


def test_g_loss_by_hand():
    # fake [0, 2]: (0 - 1)^2 = 1, (2 - 1)^2 = 1 -> mean 1, half 0.5
    assert lsgan.g_loss(torch.tensor([0.0, 2.0], dtype=DT)).item() == 0.5


def test_packed_rows_are_the_solo_values():
    real, fake = torch.randn(3, 16, dtype=DT), torch.randn(3, 16, dtype=DT)
    d, g = lsgan.d_loss(real, fake), lsgan.g_loss(fake)                  # (3,)
    assert d.shape == g.shape == (3,)
    for m in range(3):
        assert torch.equal(d[m], lsgan.d_loss(real[m], fake[m]))
        assert torch.equal(g[m], lsgan.g_loss(fake[m]))
    assert lsgan.d_loss(torch.full((2,), 2.0), torch.full((2,), -1.0)).item() == pytest.approx(1.0)
