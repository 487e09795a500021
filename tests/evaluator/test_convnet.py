"""The scoring ConvNet: three conv layers and a linear read-out on 32x32 inputs (section 4.1)."""
import pytest
import torch
from torch import nn

from evaluator.convnet import FEATURE_DIM, ConvNet


def test_three_conv_layers_and_a_linear_readout():
    net = ConvNet()
    convs = [m for m in net.modules() if isinstance(m, nn.Conv2d)]
    linears = [m for m in net.modules() if isinstance(m, nn.Linear)]
    assert len(convs) == 3 and len(linears) == 1
    assert linears[0].out_features == 10
    # Small enough to train on two CPU cores in minutes.
    assert sum(p.numel() for p in net.parameters()) < 200_000


def test_accepts_flat_and_image_inputs():
    torch.manual_seed(0)
    net = ConvNet().eval()
    x = torch.rand(5, 1, 32, 32) * 2 - 1                    # (5, 1, 32, 32)
    logits = net(x)
    assert logits.shape == (5, 10)
    torch.testing.assert_close(net(x.reshape(5, 1024)), logits, rtol=0, atol=0)


def test_config_rebuilds_the_same_network():
    # Both settings differ from the defaults (widths (16, 32, 64), dropout 0.3), so a
    # config() that dropped either would rebuild another network.
    net = ConvNet(widths=(8, 8, 16), dropout=0.1)
    twin = ConvNet(**net.config())
    twin.load_state_dict(net.state_dict())
    assert [m.p for m in twin.modules() if isinstance(m, nn.Dropout)] == [0.1]
    x = torch.rand(8, 1024, generator=torch.Generator().manual_seed(0)) * 2 - 1
    torch.testing.assert_close(twin.eval()(x), net.eval()(x), rtol=0, atol=0)
    # In training mode, with the same random stream, the same units are dropped (p = 0.1).
    with torch.random.fork_rng():
        torch.manual_seed(1)
        mine = twin.train()(x)
        torch.manual_seed(1)
        want = net.train()(x)
    torch.testing.assert_close(mine, want, rtol=0, atol=0)


def test_refuses_other_than_three_layers():
    with pytest.raises(ValueError, match="three"):
        ConvNet(widths=(8, 16))


def test_gradients_reach_every_parameter():
    torch.manual_seed(0)
    net = ConvNet()
    x, y = torch.rand(16, 1, 32, 32) * 2 - 1, torch.arange(16) % 10
    nn.functional.cross_entropy(net(x), y).backward()
    for name, p in net.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_features_and_logits_come_from_one_pass():
    torch.manual_seed(0)
    net = ConvNet().eval()
    x = torch.rand(5, 1, 32, 32) * 2 - 1                    # (5, 1, 32, 32)
    features, logits = net.features_and_logits(x)
    assert features.shape == (5, FEATURE_DIM) == (5, 64 * 4 * 4) and net.feature_dim == FEATURE_DIM
    torch.testing.assert_close(logits, net(x), rtol=0, atol=0)
    # Penultimate: the read-out is one Linear of these features (dropout is off in eval).
    torch.testing.assert_close(net.head[2](features), logits, rtol=0, atol=0)
    assert (features >= 0).all()  # after the last ReLU
