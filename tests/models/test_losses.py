"""Losses checked against values derived by hand (eq. 1, 2, 14 of the EBGAN paper)."""
import itertools
import math

import pytest
import torch

from models.losses import (ebgan_d_loss, ebgan_g_loss, energy, gan_d_loss, gan_g_loss,
                           pulling_away)


# ---- GAN ------------------------------------------------------------------------------

def test_gan_losses_at_zero_logits():
    # sigmoid(0) = 1/2: each cross-entropy term is -log(1/2) = log 2
    zeros = torch.zeros(8)
    assert gan_d_loss(zeros, zeros).item() == pytest.approx(2 * math.log(2), abs=1e-6)
    assert gan_g_loss(zeros).item() == pytest.approx(math.log(2), abs=1e-6)


def test_gan_losses_at_log3():
    # logit log 3 -> D = 3/4. Real term -log(3/4); fake term -log(1 - 3/4) = log 4.
    l3 = torch.full((5,), math.log(3.0))
    assert gan_d_loss(l3, l3).item() == pytest.approx(math.log(4 / 3) + math.log(4), abs=1e-6)
    # non-saturating G: -log D(G(z)) = -log(3/4)
    assert gan_g_loss(l3).item() == pytest.approx(math.log(4 / 3), abs=1e-6)


def test_gan_losses_are_batch_means():
    real, fake = torch.tensor([0.0, math.log(3.0)]), torch.tensor([0.0, -math.log(3.0)])
    # real: (log 2 + log 4/3) / 2; fake logit -log 3 -> D = 1/4, -log(3/4): (log 2 + log 4/3) / 2
    expected = math.log(2) + math.log(4 / 3)
    assert gan_d_loss(real, fake).item() == pytest.approx(expected, abs=1e-6)


def test_gan_d_loss_confident_discriminator_near_zero():
    assert gan_d_loss(torch.full((4,), 30.0), torch.full((4,), -30.0)).item() < 1e-10


# ---- EBGAN ----------------------------------------------------------------------------

def test_energy_is_per_sample_l2_norm():
    x = torch.zeros(2, 1024)
    recon = torch.zeros(2, 1024)
    recon[0, :2] = torch.tensor([3.0, 4.0])   # ||(3, 4)|| = 5
    recon[1, :] = 0.5                         # sqrt(1024 * 0.25) = 16
    assert torch.allclose(energy(x, recon), torch.tensor([5.0, 16.0]))
    assert energy(x, recon).shape == (2,)


def test_ebgan_d_loss_hinge():
    real, fake = torch.tensor([1.0, 2.0]), torch.tensor([4.0, 12.0])
    # m = 10: sample 1: 1 + max(0, 10 - 4) = 7; sample 2: 2 + max(0, 10 - 12) = 2; mean 4.5
    assert ebgan_d_loss(real, fake, 10.0).item() == pytest.approx(4.5)


def test_ebgan_d_loss_no_gradient_beyond_margin():
    fake = torch.tensor([4.0, 12.0], requires_grad=True)
    ebgan_d_loss(torch.tensor([1.0, 2.0]), fake, 10.0).backward()
    # d/dfake of mean(max(0, m - fake)): -1/2 inside the margin, 0 beyond it
    assert fake.grad.tolist() == [-0.5, 0.0]


def test_ebgan_g_loss():
    e = torch.tensor([3.0, 5.0])
    assert ebgan_g_loss(e).item() == pytest.approx(4.0)
    identical = torch.ones(2, 8)                 # f_PT = 1
    assert ebgan_g_loss(e, identical, 0.1).item() == pytest.approx(4.1)
    assert ebgan_g_loss(e, identical, 0.0).item() == pytest.approx(4.0)
    with pytest.raises(ValueError):
        ebgan_g_loss(e, None, 0.1)


# ---- pulling-away term (eq. 14) -------------------------------------------------------

def pt_double_loop(S: torch.Tensor) -> float:
    rows = S.tolist()
    n = len(rows)
    total = 0.0
    for i, j in itertools.product(range(n), repeat=2):
        if i == j:
            continue
        dot = sum(a * b for a, b in zip(rows[i], rows[j]))
        ni = math.sqrt(sum(a * a for a in rows[i]))
        nj = math.sqrt(sum(b * b for b in rows[j]))
        total += (dot / (ni * nj)) ** 2
    return total / (n * (n - 1))


def test_pt_orthogonal_rows_zero():
    assert pulling_away(torch.eye(5)).item() == 0.0
    assert pulling_away(3 * torch.eye(4, 7)).item() == 0.0


def test_pt_identical_rows_one():
    assert pulling_away(torch.ones(6, 3)).item() == pytest.approx(1.0, abs=1e-6)
    # squared cosine: opposite rows count as much as identical ones
    assert pulling_away(torch.tensor([[1.0, 2.0], [-1.0, -2.0]])).item() == pytest.approx(1.0)


def test_pt_hand_value():
    # rows (1, 0) and (1, 1): cos = 1/sqrt 2, squared 1/2; two ordered pairs / (2 * 1) = 1/2
    assert pulling_away(torch.tensor([[1.0, 0.0], [1.0, 1.0]])).item() == pytest.approx(0.5)


def test_pt_matches_double_loop_float64():
    S = torch.randn(9, 13, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    assert abs(pulling_away(S).item() - pt_double_loop(S)) < 1e-12


def test_pt_scale_invariant():
    S = torch.randn(7, 5, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    scales = torch.tensor([0.1, 2.0, 3.0, -1.0, 50.0, 1e-3, 7.0], dtype=torch.float64)
    assert abs(pulling_away(S * scales[:, None]).item() - pulling_away(S).item()) < 1e-12
    assert abs(pulling_away(1e4 * S).item() - pulling_away(S).item()) < 1e-12


def test_pt_zero_row_is_finite():
    S = torch.tensor([[0.0, 0.0], [1.0, 0.0], [1.0, 0.0]])
    # only the pair (1, 2) and (2, 1) are parallel: 2 / (3 * 2) = 1/3
    assert pulling_away(S).item() == pytest.approx(1 / 3)


def test_pt_refuses_fewer_than_two_rows():
    with pytest.raises(ValueError):
        pulling_away(torch.ones(1, 4))
    with pytest.raises(ValueError):
        pulling_away(torch.ones(4))


def test_pt_has_gradient():
    S = torch.randn(4, 3, generator=torch.Generator().manual_seed(2), requires_grad=True)
    pulling_away(S).backward()
    assert torch.isfinite(S.grad).all() and S.grad.abs().sum() > 0
