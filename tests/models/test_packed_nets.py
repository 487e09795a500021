"""Packed networks and losses against the solo ones, member by member, bit for bit."""
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from models import losses
from models.losses import ebgan, gan
from models.config import TrialConfig
from models.nets import Generator, build_networks, set_dropout_generator
from models.packed_nets import (build_packed_networks, extract_member, load_member,
                                packed_linear, solo_networks)
from models.streams import dropout_seed, init_seed

DT = torch.float64



def config(**over) -> TrialConfig:
    base = dict(family="gan", model="gan", nLayerG=3, nLayerD=3, sizeG=24, sizeD=16,
                dropoutD=False, optimD="adam", optimG="adam", lr=1e-3, seed=5, iterations=10)
    return TrialConfig(**{**base, **over})


def rand(*shape, seed=0):
    return torch.randn(*shape, dtype=DT, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("d_in, d_out, shared, bias", [(20, 7, True, False), (20, 7, False, True),
                                                       (16, 1, False, True), (16, 1, True, True)])
def test_packed_linear_is_nn_linear_per_member(d_in, d_out, shared, bias):
    M, B = 3, 64
    x = rand(B, d_in) if shared else rand(M, B, d_in)
    W, b, g = rand(M, d_out, d_in, seed=1), rand(M, d_out, seed=2), rand(M, B, d_out, seed=3)
    x, W, b = (t.clone().requires_grad_() for t in (x, W, b))
    packed_linear(x, W, b if bias else None).backward(g)
    for m in range(M):
        xm = (x if shared else x[m]).detach().clone().requires_grad_()
        lin = nn.Linear(d_in, d_out, bias=bias).to(DT)
        with torch.no_grad():
            lin.weight.copy_(W[m])
            if bias:
                lin.bias.copy_(b[m])
        y = lin(xm)
        y.backward(g[m])
        assert torch.equal(y, packed_linear(x, W, b if bias else None)[m].detach())
        assert torch.equal(lin.weight.grad, W.grad[m])
        if bias:
            assert torch.equal(lin.bias.grad, b.grad[m])
        if not shared:
            assert torch.equal(xm.grad, x.grad[m])


def test_members_start_from_the_solo_initial_weights_and_extract_to_solo_format():
    cs = [config(), config(lr=0.01, dropoutD=True)]
    G, D = build_packed_networks(cs, "cpu", DT)
    for k in range(2):
        solo_G, solo_D = build_networks(cs[k], torch.Generator().manual_seed(init_seed(cs[k])))
        solo_G, solo_D = solo_G.to(DT), solo_D.to(DT)
        g, d = solo_networks(cs[k], "cpu", DT)
        g, d = extract_member(G, k, g, 0), extract_member(D, k, d, 0)
        assert isinstance(g, Generator)
        for mine, ref in ((g.state_dict(), solo_G.state_dict()),
                          (d.state_dict(), solo_D.state_dict())):
            assert list(mine) == list(ref)
            assert all(torch.equal(mine[n], ref[n]) for n in ref)
    # and back: a solo net loaded into a slot comes out unchanged
    other = Generator(3, 24, generator=torch.Generator().manual_seed(9)).to(DT)
    load_member(G, 1, other)
    out = extract_member(G, 1, solo_networks(cs[1], "cpu", DT)[0], 0).state_dict()
    assert all(torch.equal(out[n], v) for n, v in other.state_dict().items())


@pytest.mark.parametrize("model", ["gan", "ebgan"])
def test_training_forwards_match_solo_with_dropout_groups(model):
    """Rates 0.5, 0.3 and none in one pack: each member gets its solo masks, in order."""
    cs = [config(model=model, dropoutD=True), config(model=model),
          config(model=model, dropoutD=True, dropout=0.3), config(model=model, dropoutD=True)]
    G, D = build_packed_networks(cs, "cpu", DT)
    D.dropout_generators = [torch.Generator().manual_seed(dropout_seed(cs[0])) for _ in range(2)]
    x, z = rand(64, 1024, seed=4).tanh(), rand(64, 100, seed=5)
    fake = G(z)
    outs = [D(x), D(fake), D(x)]                             # three forwards, as an iteration
    for k, c in enumerate(cs):
        g, d = solo_networks(c, "cpu", DT)
        g, d = extract_member(G, k, g, 0), extract_member(D, k, d, 0)
        init_g, init_d = build_networks(c, torch.Generator().manual_seed(init_seed(c)))
        g.load_state_dict(init_g.to(DT).state_dict())
        d.load_state_dict(init_d.to(DT).state_dict())
        set_dropout_generator(d, torch.Generator().manual_seed(dropout_seed(c)))
        fake_k = g(z)
        assert torch.equal(fake_k, fake[k])
        solo_outs = [d(x), d(fake_k), d(x)]
        for mine, ref in zip(outs, solo_outs):
            mine = mine if model == "gan" else mine[0]
            ref = ref if model == "gan" else ref[0]
            assert torch.equal(mine[k], ref)
        packed_d = extract_member(D, k, solo_networks(c, "cpu", DT)[1], 3).state_dict()
        assert all(torch.equal(packed_d[n], v) for n, v in d.state_dict().items())


def test_member_mask_freezes_running_statistics():
    cs = [config(), config(lr=0.01)]
    G, _ = build_packed_networks(cs, "cpu", DT)
    G.member_mask = torch.tensor([True, False])
    G(rand(64, 100))
    bn = G.layers[0]
    assert not torch.equal(bn.running_mean[0], torch.zeros(24))
    assert torch.equal(bn.running_mean[1], torch.zeros(24, dtype=DT))
    assert torch.equal(bn.running_var[1], torch.ones(24, dtype=DT))


def test_packed_losses_are_the_solo_losses_per_member():
    M, B = 3, 64
    lr_, lf = rand(M, B, seed=1) * 3, rand(M, B, seed=2) * 3
    x, recon, S = rand(B, 1024, seed=3), rand(M, B, 1024, seed=4), rand(M, B, 16, seed=5).relu()
    S[1, 3] = 0.0                                          # a dead code: no NaN
    e_real, e_fake = ebgan.energy(x, recon), ebgan.energy(recon, recon.flip(1))
    margin = torch.tensor([[10.0], [3.0], [0.5]], dtype=DT)
    pt_w = torch.tensor([0.1, 0.3], dtype=DT)
    pt_members = torch.tensor([0, 2])
    d_gan, g_gan = gan.packed_d_loss(lr_, lf), gan.packed_g_loss(lf)
    d_eb = ebgan.packed_d_loss(e_real, e_fake, margin)
    g_eb = ebgan.packed_g_loss(e_fake, S, pt_w, pt_members)
    weights = {0: 0.1, 1: 0.0, 2: 0.3}
    for m in range(M):
        assert torch.equal(d_gan[m], losses.gan_d_loss(lr_[m], lf[m]))
        assert torch.equal(g_gan[m], losses.gan_g_loss(lf[m]))
        assert torch.equal(e_real[m], losses.energy(x, recon[m]))
        assert torch.equal(d_eb[m], losses.ebgan_d_loss(e_real[m], e_fake[m], margin[m].item()))
        assert torch.equal(g_eb[m], losses.ebgan_g_loss(e_fake[m], S[m], weights[m]))
    assert torch.equal(ebgan.packed_pulling_away(S)[1], losses.pulling_away(S[1]))
    # hand-derived: orthogonal codes 0, identical codes 1
    eye = torch.eye(4, dtype=DT).expand(2, 4, 4)
    assert ebgan.packed_pulling_away(eye).tolist() == [0.0, 0.0]
    assert ebgan.packed_pulling_away(torch.ones(1, 5, 3, dtype=DT)).item() == pytest.approx(1.0)
    with pytest.raises(ValueError):
        ebgan.packed_pulling_away(rand(2, 1, 4))


def test_pulling_away_gradient_is_the_solo_gradient():
    S = rand(2, 64, 16, seed=7).relu().requires_grad_()
    ebgan.packed_pulling_away(S).sum().backward()
    for m in range(2):
        s = S[m].detach().clone().requires_grad_()
        losses.pulling_away(s).backward()
        assert torch.equal(s.grad, S.grad[m])


def test_shapes_and_eval_mode():
    cs = [config(model="ebgan", dropoutD=True)] * 2
    G, D = build_packed_networks(cs, "cpu", torch.float32)
    z = torch.randn(8, 100)
    assert G(z).shape == (2, 8, 1024)
    recon, code = D(G(z))
    assert recon.shape == (2, 8, 1024) and code.shape == (2, 8, 16)
    G.eval()
    with torch.no_grad():
        a, b = G(z), G(z)
    assert torch.equal(a, b)
    F.mse_loss(recon, torch.zeros_like(recon)).backward()     # differentiable end to end
