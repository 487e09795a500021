"""Networks of appendix C: layer structure, parameter counts derived by hand, init, ranges."""
import pytest
import torch
from torch import nn

from models.nets import (AutoEncoderDiscriminator, GanDiscriminator, Generator,
                         GeneratorDropout, build_networks, set_dropout_generator)


def n_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def config(**over):
    base = dict(family="ebgan", model="ebgan", nLayerG=2, nLayerD=2, sizeG=400, sizeD=128,
                dropoutD=False, dropout=0.5, z_dim=100, optimD="adam", optimG="adam",
                lr=1e-3, seed=0)
    base.update(over)
    return base


def kinds(seq: nn.Sequential) -> list[str]:
    return [type(m).__name__ for m in seq]


# ---- parameter counts, by hand -------------------------------------------------------

def test_generator_two_layers_400():
    # Linear 100->400 without bias (followed by BN): 100*400 = 40000
    # BN(400): weight + bias = 2*400 = 800
    # Linear 400->1024 with bias (output, no BN): 400*1024 + 1024 = 410624
    assert n_params(Generator(2, 400)) == 40000 + 800 + 410624 == 451424


def test_generator_four_layers_32():
    # 100->32 no bias: 3200; BN 64
    # two hidden 32->32 no bias + BN: 2 * (1024 + 64) = 2176
    # 32->1024 with bias: 32768 + 1024 = 33792
    assert n_params(Generator(4, 32)) == 3200 + 64 + 2176 + 33792 == 39232


def test_gan_discriminator_two_layers_128():
    # input layer 1024->128 has no BN, so it keeps its bias: 131072 + 128 = 131200
    # logit 128->1 with bias: 128 + 1 = 129
    assert n_params(GanDiscriminator(2, 128)) == 131200 + 129 == 131329


def test_gan_discriminator_three_layers_64():
    # 1024->64 with bias: 65536 + 64 = 65600
    # 64->64 without bias + BN(64): 4096 + 128 = 4224
    # logit 64->1: 65
    assert n_params(GanDiscriminator(3, 64)) == 65600 + 4224 + 65 == 69889


def test_ebgan_discriminator_two_layers_128():
    # encoder: one layer 1024->128 with bias (input layer, no BN): 131072 + 128 = 131200
    # decoder 128->1024 with bias (output, no BN): 131072 + 1024 = 132096
    assert n_params(AutoEncoderDiscriminator(2, 128)) == 131200 + 132096 == 263296


def test_ebgan_discriminator_four_layers_32():
    # encoder: 1024->32 with bias = 32800; two 32->32 no bias + BN: 2 * (1024 + 64) = 2176
    # decoder 32->1024 with bias = 33792
    assert n_params(AutoEncoderDiscriminator(4, 32)) == 32800 + 2176 + 33792 == 68768


def test_dropout_adds_no_parameters():
    assert n_params(GanDiscriminator(3, 64, dropout=0.5)) == 69889
    assert n_params(AutoEncoderDiscriminator(4, 32, dropout=0.5)) == 68768


# ---- layer structure ------------------------------------------------------------------

def test_generator_structure():
    G = Generator(3, 16)
    assert kinds(G.net) == ["Linear", "BatchNorm1d", "ReLU", "Linear", "BatchNorm1d", "ReLU",
                            "Linear", "Tanh"]
    linears = [m for m in G.net if isinstance(m, nn.Linear)]
    assert [(l.in_features, l.out_features, l.bias is not None) for l in linears] == [
        (100, 16, False), (16, 16, False), (16, 1024, True)]


def test_gan_discriminator_structure_with_dropout():
    D = GanDiscriminator(3, 16, dropout=0.5)
    assert kinds(D.features) == ["Linear", "ReLU", "GeneratorDropout",
                                 "Linear", "BatchNorm1d", "ReLU", "GeneratorDropout"]
    assert D.features[0].bias is not None and D.features[3].bias is None
    assert (D.head.in_features, D.head.out_features) == (16, 1)


def test_ebgan_discriminator_structure():
    D = AutoEncoderDiscriminator(3, 16, dropout=0.5)
    assert kinds(D.encoder) == ["Linear", "ReLU", "GeneratorDropout",
                                "Linear", "BatchNorm1d", "ReLU"]
    assert isinstance(D.code_dropout, GeneratorDropout)
    assert (D.decoder.in_features, D.decoder.out_features) == (16, 1024)
    assert isinstance(AutoEncoderDiscriminator(2, 16).code_dropout, nn.Identity)


def test_build_networks_follows_config():
    G, D = build_networks(config(model="gan", nLayerG=3, nLayerD=4, sizeG=24, sizeD=8,
                                 dropoutD=True))
    assert isinstance(G, Generator) and isinstance(D, GanDiscriminator)
    assert sum(isinstance(m, nn.Linear) for m in G.modules()) == 3
    assert sum(isinstance(m, nn.Linear) for m in D.modules()) == 4
    assert sum(isinstance(m, GeneratorDropout) for m in D.modules()) == 3
    G, D = build_networks(config(dropoutD=False))
    assert isinstance(D, AutoEncoderDiscriminator)
    assert not any(isinstance(m, GeneratorDropout) for m in D.modules())
    with pytest.raises(ValueError, match="unknown trial setting 'unknown_key'"):
        build_networks(config(unknown_key="refused"))  # a typo is an error, not ignored
    with pytest.raises(ValueError, match="model"):
        build_networks(config(model="vae"))
    with pytest.raises(ValueError):
        Generator(1, 16)


# ---- init and outputs -----------------------------------------------------------------

def test_init_statistics():
    g = torch.Generator().manual_seed(0)
    G, D = build_networks(config(nLayerG=3, sizeG=800, nLayerD=3, sizeD=256), g)
    for net, std in ((G, 0.02), (D, 0.002)):
        for layer in net.modules():
            if isinstance(layer, nn.Linear):
                w = layer.weight
                # >= 80,000 draws: the sample std is within ~0.3% of the true one.
                assert abs(w.std().item() - std) < 0.03 * std
                assert abs(w.mean().item()) < 0.05 * std
                if layer.bias is not None:
                    assert torch.count_nonzero(layer.bias) == 0
            if isinstance(layer, nn.BatchNorm1d):
                assert torch.all(layer.weight == 1) and torch.all(layer.bias == 0)


def test_init_reproducible_from_generator():
    a = build_networks(config(), torch.Generator().manual_seed(3))
    b = build_networks(config(), torch.Generator().manual_seed(3))
    for net_a, net_b in zip(a, b):
        for pa, pb in zip(net_a.parameters(), net_b.parameters()):
            assert torch.equal(pa, pb)


def test_output_shapes_and_ranges():
    torch.manual_seed(0)
    G = Generator(3, 32)
    z = 10 * torch.randn(16, 100)  # large inputs push Tanh to its limits
    x = G(z)
    assert x.shape == (16, 1024)
    assert x.min() >= -1 and x.max() <= 1
    logits = GanDiscriminator(3, 32)(x)
    assert logits.shape == (16,)
    recon, code = AutoEncoderDiscriminator(3, 32)(x)
    assert recon.shape == (16, 1024) and code.shape == (16, 32)
    assert code.min() >= 0  # the code is a ReLU activation


def test_generator_dropout():
    drop = GeneratorDropout(0.5)
    x = torch.ones(4, 1000)
    drop.eval()
    assert torch.equal(drop(x), x)
    drop.train()
    set_dropout_generator(nn.Sequential(drop), torch.Generator().manual_seed(1))
    y1 = drop(x)
    assert set(y1.unique().tolist()) == {0.0, 2.0}  # inverted dropout: kept units scaled 1/(1-p)
    assert abs((y1 == 0).float().mean().item() - 0.5) < 0.05
    drop.generator = torch.Generator().manual_seed(1)
    assert torch.equal(drop(x), y1)
    with pytest.raises(ValueError):
        GeneratorDropout(1.0)
