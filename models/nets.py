"""Fully connected networks of the EBGAN MNIST grid search.

Zhao, Mathieu & LeCun, "Energy-based Generative Adversarial Networks", ICLR 2017,
section 4.1 and appendix C: ReLU between layers, batch normalization after each weight
layer except the generator's output and the discriminator's input, G ends in Tanh,
weights of D ~ N(0, 0.002) and of G ~ N(0, 0.02), biases 0. Project choice (SPEC.md):
no batch norm on any output layer (GAN logit, EBGAN reconstruction). Which D a model
trains (one output per sample, or the auto-encoder) and whether its hidden layers have
batch norm (not WGAN-GP's critic) is the model's ``models.losses.specs.ModelSpec``.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch
from torch import nn

from models.config import TrialConfig, coerce
from models.losses.specs import MODELS, SPECS

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


@dataclass(frozen=True)
class LayerShape:
    """One weight layer: Linear d_in -> d_out, then (if hidden) [batch norm] -> ReLU.

    The one description of a network's shapes: the modules below are built from it and
    :func:`parameter_count` (the estimate of a grid's cost) counts from it.
    """
    d_in: int
    d_out: int
    hidden: bool       # followed by ReLU (and by dropout in D when dropoutD)
    batch_norm: bool   # a Linear followed by batch norm has no bias

    @property
    def n_params(self) -> int:
        """Weights, then the bias (no batch norm) or the two batch-norm affine vectors."""
        return self.d_in * self.d_out + (2 * self.d_out if self.batch_norm else self.d_out)


def generator_shapes(n_layers: int, size: int, z_dim: int = 100) -> list[LayerShape]:
    """G: z_dim -> size x (n_layers - 1) -> 1024; batch norm on every hidden layer."""
    if n_layers < 2:
        raise ValueError(f"the generator needs >= 2 weight layers, got {n_layers}")
    hidden = [LayerShape(z_dim if i == 0 else size, size, True, True) for i in range(n_layers - 1)]
    return [*hidden, LayerShape(size, IMAGE_DIM, False, False)]


def encoder_shapes(n_weight_layers: int, size: int, batch_norm: bool = True
                   ) -> list[LayerShape]:
    """1024 -> size x n_weight_layers; no batch norm on the input layer (appendix C)."""
    return [LayerShape(IMAGE_DIM if i == 0 else size, size, True, batch_norm and i > 0)
            for i in range(n_weight_layers)]


def discriminator_shapes(model: str, n_layers: int, size: int) -> list[LayerShape]:
    """Scalar D (GAN logit, LSGAN/hinge/WGAN-GP output): encoder + 1 output; auto-encoder
    D (EBGAN, BEGAN): encoder (n_layers - 1 layers) + decoder -> 1024."""
    if n_layers < 2:
        raise ValueError(f"the discriminator needs >= 2 weight layers, got {n_layers}")
    spec = SPECS.get(model)
    if spec is None:
        raise ValueError(f"config key 'model': expected one of {', '.join(MODELS)}, got {model!r}")
    out = 1 if spec.d_net == "scalar" else IMAGE_DIM
    return [*encoder_shapes(n_layers - 1, size, spec.d_batch_norm),
            LayerShape(size, out, False, False)]


def parameter_count(config: TrialConfig | Mapping) -> int:
    """Parameters of G and D of a configuration, from their shapes (no network built)."""
    c = coerce(config)
    shapes = [*generator_shapes(c.nLayerG, c.sizeG, c.z_dim),
              *discriminator_shapes(c.model, c.nLayerD, c.sizeD)]
    return sum(s.n_params for s in shapes)


def _hidden(shape: LayerShape, dropout: float) -> list[nn.Module]:
    """Linear -> [BatchNorm] -> ReLU -> [Dropout].

    A Linear directly followed by batch norm has no bias: batch norm subtracts the batch
    mean and so removes it exactly; the bias would get a zero gradient up to rounding,
    which Adam rescales into steps of size lr anyway.
    """
    layers: list[nn.Module] = [nn.Linear(shape.d_in, shape.d_out, bias=not shape.batch_norm)]
    if shape.batch_norm:
        layers.append(nn.BatchNorm1d(shape.d_out))
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
        self.z_dim = z_dim
        *hidden, out = generator_shapes(n_layers, size, z_dim)
        layers = [m for shape in hidden for m in _hidden(shape, 0.0)]
        layers += [nn.Linear(out.d_in, out.d_out), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        _init_linear(self, G_INIT_STD, generator)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)  # (B, z_dim) -> (B, 1024)


def _encoder(shapes: list[LayerShape], dropout: float) -> nn.Sequential:
    return nn.Sequential(*[m for shape in shapes for m in _hidden(shape, dropout)])


class GanDiscriminator(nn.Module):
    """Scalar-output D: 1024 -> size x (n_layers - 1) -> 1 (the GAN logit; the linear
    output of LSGAN, hinge and the WGAN-GP critic). ``model`` picks batch norm or not."""

    def __init__(self, n_layers: int, size: int, dropout: float = 0.0,
                 generator: torch.Generator | None = None, model: str = "gan") -> None:
        super().__init__()
        *encoder, head = discriminator_shapes(model, n_layers, size)
        self.features = _encoder(encoder, dropout)
        self.head = nn.Linear(head.d_in, head.d_out)
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
                 generator: torch.Generator | None = None, model: str = "ebgan") -> None:
        super().__init__()
        *encoder_shape, decoder = discriminator_shapes(model, n_layers, size)
        encoder = _encoder(encoder_shape, dropout)
        if dropout > 0.0:
            # Keep the last dropout apart so the code can be read before it.
            self.encoder = nn.Sequential(*list(encoder)[:-1])
            self.code_dropout: nn.Module = encoder[-1]
        else:
            self.encoder, self.code_dropout = encoder, nn.Identity()
        self.decoder = nn.Linear(decoder.d_in, decoder.d_out)
        _init_linear(self, D_INIT_STD, generator)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        code = self.encoder(x)                           # (B, 1024) -> (B, size)
        recon = self.decoder(self.code_dropout(code))    # (B, 1024)
        return recon, code


def build_networks(config: TrialConfig | Mapping, generator: torch.Generator | None = None
                   ) -> tuple[Generator, nn.Module]:
    """(G, D) for a trial configuration; ``generator`` draws the initial weights (G first)."""
    c = coerce(config)
    dropout = c.dropout if c.dropoutD else 0.0
    G = Generator(c.nLayerG, c.sizeG, c.z_dim, generator)
    D_class = GanDiscriminator if SPECS[c.model].d_net == "scalar" else AutoEncoderDiscriminator
    D: nn.Module = D_class(c.nLayerD, c.sizeD, dropout, generator, model=c.model)
    return G, D


def set_dropout_generator(module: nn.Module, generator: torch.Generator | None) -> None:
    """Point every GeneratorDropout of ``module`` at ``generator`` (None: global RNG)."""
    for layer in module.modules():
        if isinstance(layer, GeneratorDropout):
            layer.generator = generator
