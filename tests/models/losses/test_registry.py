"""The registry of losses: one entry per model, the D each needs, the settings each
reads per member, and keep() (a pack dropping members) on every packed loss."""
from dataclasses import fields

import pytest
import torch

from models.config import TrialConfig
from models.losses import MODELS, SPECS, loss_entry
from models.losses.specs import not_applying
from models.nets import build_networks

DT = torch.float64


def config(model: str, **over) -> TrialConfig:
    base = dict(family=model, model=model, nLayerG=2, nLayerD=3, sizeG=8, sizeD=8,
                dropoutD=False, optimD="adam", optimG="adam", lr=1e-3)
    return TrialConfig(**{**base, **over})


def test_six_models_each_with_its_entry():
    assert MODELS == ("gan", "ebgan", "lsgan", "wgan_gp", "hinge", "began")
    names = {f.name for f in fields(TrialConfig)}
    for model in MODELS:
        entry = loss_entry(model)
        assert entry.model == model == SPECS[model].name
        assert set(entry.settings) <= set(SPECS[model].settings) <= names
    with pytest.raises(ValueError, match="model"):
        loss_entry("wgan")


def test_settings_that_belong_to_other_models():
    assert not_applying("gan") == ("margin", "pt_weight", "gp_weight", "n_critic", "gamma",
                                   "lambda_k")
    assert not_applying("wgan_gp") == ("margin", "pt_weight", "gamma", "lambda_k")
    assert not_applying("began") == ("margin", "pt_weight", "gp_weight", "n_critic")


@pytest.mark.parametrize("model", MODELS)
def test_each_model_gets_the_discriminator_its_spec_names(model):
    G, D = build_networks(config(model), torch.Generator().manual_seed(0))
    out = D.eval()(torch.zeros(5, 1024))
    norms = [m for m in D.modules() if isinstance(m, torch.nn.BatchNorm1d)]
    if SPECS[model].d_net == "scalar":
        assert out.shape == (5,)
    else:
        recon, code = out
        assert recon.shape == (5, 1024) and code.shape == (5, 8)
    # nLayerD 3: the input layer has no batch norm, the second hidden layer has, except in
    # the WGAN-GP critic
    assert len(norms) == (0 if model == "wgan_gp" else 1)


def test_ebgan_keep_selects_margins_and_pulling_away_members():
    cs = [config("ebgan", margin=m, pt_weight=w)
          for m, w in ((1.0, 0.0), (2.0, 0.1), (3.0, 0.0), (4.0, 0.2))]
    loss = loss_entry("ebgan")(cs, packed=True, device="cpu", dtype=DT)
    assert loss.pt_members.tolist() == [1, 3]
    e_real, e_fake = torch.rand(4, 6, dtype=DT) * 5, torch.rand(4, 6, dtype=DT) * 5
    from models.losses.ebgan import packed_d_loss
    full = packed_d_loss(e_real, e_fake, loss.margin_col)
    loss.keep(torch.tensor([3, 1]))
    assert loss.margin.tolist() == [4.0, 2.0] and loss.margin_col.shape == (2, 1)
    assert loss.pt_members.tolist() == [0, 1] and loss.pt_weights.tolist() == [0.2, 0.1]
    assert [c.margin for c in loss.configs] == [4.0, 2.0]
    kept = packed_d_loss(e_real[[3, 1]], e_fake[[3, 1]], loss.margin_col)
    assert torch.equal(kept, full[[3, 1]])
    loss.keep(torch.tensor([1]))                      # the member with PT weight 0.1
    assert loss.pt_members.tolist() == [0]
    loss.keep(torch.tensor([], dtype=torch.long))     # an empty pack has nothing left
    assert loss.pt_members is None


def test_began_and_wgan_gp_keep_their_rows():
    cs = [config("began", gamma=g) for g in (0.3, 0.5, 0.7)]
    loss = loss_entry("began")(cs, packed=True, device="cpu", dtype=DT)
    loss.k_t.copy_(torch.tensor([0.1, 0.2, 0.3], dtype=DT))
    loss.keep(torch.tensor([2, 0]))
    assert loss.gamma.tolist() == [0.7, 0.3] and loss.k_t.tolist() == [0.3, 0.1]
    assert loss.lambda_k.tolist() == [0.001, 0.001]
    assert loss.member_state(0)["k_t"].item() == 0.3
    w = loss_entry("wgan_gp")([config("wgan_gp", gp_weight=v) for v in (10.0, 1.0)],
                              packed=True, device="cpu", dtype=DT)
    w.keep(torch.tensor([1]))
    assert w.gp_weight.tolist() == [1.0]
    with pytest.raises(ValueError, match="packed"):
        loss_entry("gan")([config("gan")], packed=False, device="cpu", dtype=DT).keep(
            torch.tensor([0]))


def test_a_state_without_the_began_k_t_is_refused():
    loss = loss_entry("began")([config("began")], packed=False, device="cpu", dtype=DT)
    with pytest.raises(ValueError, match="k_t"):
        loss.load_state_dict({})
    loss_entry("gan")([config("gan")], packed=False, device="cpu", dtype=DT).load_state_dict({})
