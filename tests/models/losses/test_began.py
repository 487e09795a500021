"""BEGAN: the losses, k_t's update over three steps and M_global, by hand."""
import pytest
import torch
from torch import nn

from models.config import TrialConfig
from models.losses import began

DT = torch.float64


class ZeroAutoEncoder(nn.Module):
    """Reconstructs everything as 0, so L(v) = mean |v|: the test picks L by picking v."""

    def forward(self, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return torch.zeros_like(v), v


def config(**over) -> TrialConfig:
    base = dict(family="began", model="began", nLayerG=2, nLayerD=2, sizeG=8, sizeD=8,
                dropoutD=False, optimD="adam", optimG="adam", lr=1e-3, gamma=0.5,
                lambda_k=0.1)
    return TrialConfig(**{**base, **over})


def test_l1_error_is_the_per_sample_mean_absolute_error():
    v, recon = torch.zeros(2, 4, dtype=DT), torch.tensor([[1, -1, 2, 0], [4, 4, 4, 4]], dtype=DT)
    assert began.l1_error(v, recon).tolist() == [1.0, 4.0]         # (1+1+2+0)/4, 16/4


def test_losses_by_hand():
    # L(x) per sample [1, 3] -> 2; L(G(z)) [0.5, 1.5] -> 1; k_t 0.25: L_D = 2 - 0.25 = 1.75
    l_real, l_fake = torch.tensor([1.0, 3.0], dtype=DT), torch.tensor([0.5, 1.5], dtype=DT)
    assert began.d_loss(l_real, l_fake, 0.25).item() == 1.75
    assert began.g_loss(l_fake).item() == 1.0
    # M_global = 2 + |0.5 * 2 - 1| = 2
    assert began.convergence(torch.tensor(2.0), torch.tensor(1.0), 0.5).item() == 2.0


def test_k_t_over_three_steps_through_the_loss():
    """gamma 0.5, lambda_k 0.1, k_0 = 0, with (L(x), L(G(z))) = (1, 0.2), (0.8, 0.1), (0.5, 1.5):
    k_1 = 0 + 0.1 (0.5 - 0.2) = 0.03
    k_2 = 0.03 + 0.1 (0.4 - 0.1) = 0.06
    k_3 = clip(0.06 + 0.1 (0.25 - 1.5), 0, 1) = clip(-0.065) = 0
    L_D uses the k before the step: 1 - 0 * 0.2 = 1, 0.8 - 0.03 * 0.1 = 0.797, 0.5 - 0.06 * 1.5 = 0.41.
    M_global = L(x) + |gamma L(x) - L(G(z))|: 1.3, 1.1, 1.75."""
    loss = began.BeganLoss([config()], packed=False, device="cpu", dtype=DT)
    D = ZeroAutoEncoder()
    want_k, want_d, want_m = [0.03, 0.06, 0.0], [1.0, 0.797, 0.41], [1.3, 1.1, 1.75]
    for t, (lx, lg) in enumerate([(1.0, 0.2), (0.8, 0.1), (0.5, 1.5)]):
        x, fake = torch.full((4, 6), lx, dtype=DT), torch.full((4, 6), -lg, dtype=DT)
        assert loss.d_loss(D, x, fake).item() == pytest.approx(want_d[t], abs=1e-15)
        assert loss.g_loss(D, fake).item() == pytest.approx(lg, abs=1e-15)
        k_t, m_global = loss.end_step()
        assert k_t.item() == pytest.approx(want_k[t], abs=1e-15)
        assert m_global.item() == pytest.approx(want_m[t], abs=1e-15)
    assert loss.k_t.item() == 0.0                                      # clipped at 0
    assert loss.state_dict()["k_t"].item() == 0.0


def test_k_t_is_clipped_at_one_and_is_per_member_in_a_pack():
    # lambda_k 1, gamma 0.5, L(x) 1, L(G(z)) 0: k += 0.5 each step: 0.5, 1.0, clip(1.5) = 1
    # member 1 (gamma 0.2): k += 0.2: 0.2, 0.4, 0.6
    cs = [config(lambda_k=1.0), config(lambda_k=1.0, gamma=0.2)]
    loss = began.BeganLoss(cs, packed=True, device="cpu", dtype=DT)
    D = ZeroAutoEncoder()
    x, fake = torch.ones(3, 5, dtype=DT), torch.zeros(2, 3, 5, dtype=DT)
    seen = []
    for _ in range(3):
        loss.d_loss(D, x, fake)
        loss.g_loss(D, fake)
        seen.append(loss.end_step()[0].tolist())
    assert seen == [[0.5, 0.2], [1.0, 0.4], [1.0, pytest.approx(0.6, abs=1e-15)]]
    # a frozen member (active False) keeps its k_t
    loss.d_loss(D, x, fake)
    loss.g_loss(D, fake)
    loss.end_step(torch.tensor([True, False]))
    assert loss.k_t.tolist() == [1.0, pytest.approx(0.6, abs=1e-15)]
