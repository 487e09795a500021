"""Fully connected networks of the EBGAN MNIST grid search.

Zhao, Mathieu & LeCun, "Energy-based Generative Adversarial Networks", ICLR 2017,
section 4.1 and appendix C: ReLU between layers, batch normalization after each weight
layer except the generator's output and the discriminator's input, G ends in Tanh,
weights of D ~ N(0, 0.002) and of G ~ N(0, 0.02), biases 0. Project choice (SPEC.md):
no batch norm on any output layer (GAN logit, EBGAN reconstruction).
"""
from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

IMAGE_DIM = 1024  # MNIST padded to 32x32, flattened
G_INIT_STD = 0.02
D_INIT_STD = 0.002


class GeneratorDropout(nn.Module):
    """Inverted dropout whose masks come from ``self.generator`` when one is set.

    ``nn.Dropout`` only draws from the global RNG; a dedicated generator keeps the masks
    reproducible and independent of the data-order, noise and init streams.
    """

    def __init__(self, p: float) -> None:
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"dropout rate must be in [0, 1), got {p}")
        self.p = p
        self.generator: torch.Generator | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        keep = torch.empty_like(x).bernoulli_(1.0 - self.p, generator=self.generator)
        return x * keep / (1.0 - self.p)

    def extra_repr(self) -> str:
        return f"p={self.p}"


def _hidden(d_in: int, d_out: int, *, batch_norm: bool, dropout: float) -> list[nn.Module]:
    """Linear -> [BatchNorm] -> ReLU -> [Dropout].

    A Linear directly followed by batch norm has no bias: batch norm subtracts the batch
    mean and so removes it exactly; the bias would get a zero gradient up to rounding,
    which Adam rescales into steps of size lr anyway.
    """
    layers: list[nn.Module] = [nn.Linear(d_in, d_out, bias=not batch_norm)]
    if batch_norm:
        layers.append(nn.BatchNorm1d(d_out))
    layers.append(nn.ReLU())
    if dropout > 0.0:
        layers.append(GeneratorDropout(dropout))
    return layers


def _init_linear(module: nn.Module, std: float, generator: torch.Generator | None) -> None:
    """Weights ~ N(0, std), biases 0, in module order (so one generator seeds them all)."""
    for layer in module.modules():
        if isinstance(layer, nn.Linear):
            nn.init.normal_(layer.weight, 0.0, std, generator=generator)
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)


class Generator(nn.Module):
    """G: z (z_dim) -> size x (n_layers - 1) -> 1024, Tanh output in [-1, 1]."""

    def __init__(self, n_layers: int, size: int, z_dim: int = 100,
                 generator: torch.Generator | None = None) -> None:
        super().__init__()
        if n_layers < 2:
            raise ValueError(f"the generator needs >= 2 weight layers, got {n_layers}")
        self.z_dim = z_dim
        layers: list[nn.Module] = []
        d_in = z_dim
        for _ in range(n_layers - 1):
            layers += _hidden(d_in, size, batch_norm=True, dropout=0.0)
            d_in = size
        layers += [nn.Linear(d_in, IMAGE_DIM), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        _init_linear(self, G_INIT_STD, generator)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)  # (B, z_dim) -> (B, 1024)


def _encoder(n_weight_layers: int, size: int, dropout: float) -> nn.Sequential:
    """1024 -> size x n_weight_layers; no batch norm on the input layer (appendix C)."""
    layers: list[nn.Module] = []
    d_in = IMAGE_DIM
    for i in range(n_weight_layers):
        layers += _hidden(d_in, size, batch_norm=i > 0, dropout=dropout)
        d_in = size
    return nn.Sequential(*layers)


class GanDiscriminator(nn.Module):
    """Binary GAN discriminator: 1024 -> size x (n_layers - 1) -> 1 logit."""

    def __init__(self, n_layers: int, size: int, dropout: float = 0.0,
                 generator: torch.Generator | None = None) -> None:
        super().__init__()
        if n_layers < 2:
            raise ValueError(f"the discriminator needs >= 2 weight layers, got {n_layers}")
        self.features = _encoder(n_layers - 1, size, dropout)
        self.head = nn.Linear(size, 1)
        _init_linear(self, D_INIT_STD, generator)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.features(x)              # (B, 1024) -> (B, size)
        return self.head(h).squeeze(1)    # (B,) logits


class AutoEncoderDiscriminator(nn.Module):
    """EBGAN discriminator: encoder 1024 -> size x (n_layers - 1), decoder size -> 1024.

    ``forward`` returns the reconstruction and the code S the pulling-away term needs.
    The code is the encoder's last activation before dropout: dropout is noise on the
    decoder's input, not part of the representation whose cosines eq. 14 measures.
    """

    def __init__(self, n_layers: int, size: int, dropout: float = 0.0,
                 generator: torch.Generator | None = None) -> None:
        super().__init__()
        if n_layers < 2:
            raise ValueError(f"the discriminator needs >= 2 weight layers, got {n_layers}")
        encoder = _encoder(n_layers - 1, size, dropout)
        if dropout > 0.0:
            # Keep the last dropout apart so the code can be read before it.
            self.encoder = nn.Sequential(*list(encoder)[:-1])
            self.code_dropout: nn.Module = encoder[-1]
        else:
            self.encoder, self.code_dropout = encoder, nn.Identity()
        self.decoder = nn.Linear(size, IMAGE_DIM)
        _init_linear(self, D_INIT_STD, generator)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        code = self.encoder(x)                           # (B, 1024) -> (B, size)
        recon = self.decoder(self.code_dropout(code))    # (B, 1024)
        return recon, code


def build_networks(config: Mapping, generator: torch.Generator | None = None
                   ) -> tuple[Generator, nn.Module]:
    """(G, D) for a trial configuration; ``generator`` draws the initial weights (G first)."""
    model = config["model"]
    dropout = float(config.get("dropout", 0.5)) if config["dropoutD"] else 0.0
    G = Generator(int(config["nLayerG"]), int(config["sizeG"]),
                  int(config.get("z_dim", 100)), generator)
    if model == "gan":
        D: nn.Module = GanDiscriminator(int(config["nLayerD"]), int(config["sizeD"]),
                                        dropout, generator)
    elif model == "ebgan":
        D = AutoEncoderDiscriminator(int(config["nLayerD"]), int(config["sizeD"]),
                                     dropout, generator)
    else:
        raise ValueError(f"config key 'model': expected 'gan' or 'ebgan', got {model!r}")
    return G, D


def set_dropout_generator(module: nn.Module, generator: torch.Generator | None) -> None:
    """Point every GeneratorDropout of ``module`` at ``generator`` (None: global RNG)."""
    for layer in module.modules():
        if isinstance(layer, GeneratorDropout):
            layer.generator = generator
