"""Packed networks: the G and D of M configurations of one shape, computed as one.

SPEC "Packs": configurations that share model, nLayerG, nLayerD, sizeG, sizeD, z_dim, seed
and budget (``TrialConfig.shape_group``) have identical shapes, batches, z and initial
weights, so their networks can be stacked along a leading member axis M and trained with
batched matmuls: one kernel for M networks instead of M kernels (appendix C's networks,
``models.nets``, unchanged). Members never interact: every op is per member.

Layout and exactness (measured on CPU, float32 and float64): a weight is stored as the
solo ``nn.Linear`` stores it, (M, out, in), and applied as ``bmm(x, W^T)``; with that
layout every member's forward and backward are bit-identical to its solo network's
(the (M, in, out) layout is not: MKL then takes another path). The backward is written
out (:class:`_PackedLinear`) to use the same products as ``nn.Linear``'s, and a 1-unit
output (the GAN logit) uses ``mv`` on CPU as ``addmm`` does there. Batch norm runs on the
(B, M * h) view of the activations: per member and channel, the kernel of
``nn.BatchNorm1d`` (same eps, momentum and unbiased running variance).
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from models.config import TrialConfig
from models.losses.specs import SPECS
from models.nets import (LayerShape, build_networks, discriminator_shapes,
                         generator_shapes)
from models.streams import init_seed

BN_EPS = 1e-5       # nn.BatchNorm1d's defaults, which the solo networks use
BN_MOMENTUM = 0.1


class _PackedLinear(torch.autograd.Function):
    """y_m = x_m W_m^T + b_m for every member m, with nn.Linear's backward products.

    x: (B, in) shared by all members or (M, B, in); weight (M, out, in); bias (M, out) or
    None. Returns (M, B, out).
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None
                ) -> torch.Tensor:
        M = weight.shape[0]
        xb = x.expand(M, *x.shape) if x.dim() == 2 else x                 # (M, B, in)
        if weight.shape[1] == 1 and x.device.type == "cpu":
            # addmm of one output column is a gemv on CPU; bmm would round differently.
            y = torch.stack([torch.mv(xb[m], weight[m, 0]) for m in range(M)]).unsqueeze(2)
            if bias is not None:
                y = y + bias.unsqueeze(1)
        elif bias is None:
            y = torch.bmm(xb, weight.transpose(1, 2))
        else:
            y = torch.baddbmm(bias.unsqueeze(1), xb, weight.transpose(1, 2))
        ctx.save_for_backward(xb, weight)
        ctx.shared, ctx.has_bias = x.dim() == 2, bias is not None
        return y                                                          # (M, B, out)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):                                # (M, B, out)
        xb, weight = ctx.saved_tensors
        gx = gw = gb = None
        if ctx.needs_input_grad[0]:
            gx = torch.bmm(grad, weight)                                  # (M, B, in)
            gx = gx.sum(0) if ctx.shared else gx
        if ctx.needs_input_grad[1]:
            gw = torch.bmm(grad.transpose(1, 2), xb)                      # (M, out, in)
        if ctx.has_bias and ctx.needs_input_grad[2]:
            gb = grad.sum(1)                                              # (M, out)
        return gx, gw, gb


def packed_linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None
                  ) -> torch.Tensor:
    """(B, in) or (M, B, in) -> (M, B, out) with per-member weights (M, out, in)."""
    return _PackedLinear.apply(x, weight, bias)


class PackedLayer(nn.Module):
    """One weight layer of M members: Linear (bias unless batch norm follows) [+ BN]."""

    def __init__(self, members: int, shape: LayerShape) -> None:
        super().__init__()
        self.shape = shape
        self.weight = nn.Parameter(torch.zeros(members, shape.d_out, shape.d_in))
        self.bias = None if shape.batch_norm else nn.Parameter(torch.zeros(members, shape.d_out))
        if shape.batch_norm:
            self.bn_weight = nn.Parameter(torch.ones(members, shape.d_out))
            self.bn_bias = nn.Parameter(torch.zeros(members, shape.d_out))
            self.register_buffer("running_mean", torch.zeros(members, shape.d_out))
            self.register_buffer("running_var", torch.ones(members, shape.d_out))

    def tensors(self) -> list[torch.Tensor]:
        """Parameters then buffers, in the order of the solo Linear and BatchNorm1d."""
        found = [self.weight, self.bias]
        if self.shape.batch_norm:
            found += [self.bn_weight, self.bn_bias, self.running_mean, self.running_var]
        return [t for t in found if t is not None]


class _PackedNet(nn.Module):
    """Layers from a LayerShape list; hidden ones: Linear -> [BN] -> ReLU -> [dropout]."""

    def __init__(self, members: int, shapes: Sequence[LayerShape],
                 dropout: Sequence[float] = ()) -> None:
        super().__init__()
        self.members = members
        self.layers = nn.ModuleList(PackedLayer(members, s) for s in shapes)
        # Members whose BN running statistics may change (None: all); set by the trainer
        # so a diverged member stays frozen.
        self.member_mask: torch.Tensor | None = None
        self.dropout_rates: list[float] = []
        self.set_dropout_rates(list(dropout) or [0.0] * members)
        # One generator per rate, each seeded as a solo run's (models.streams.dropout_seed).
        self.dropout_generators: list[torch.Generator | None] = [None] * len(self.dropout_rates)

    def set_dropout_rates(self, rates: Sequence[float]) -> None:
        """Each member's dropout rate (0: none); the distinct rates, sorted, are
        ``dropout_rates`` (set ``dropout_generators`` to match)."""
        for i in range(len(self.dropout_rates)):
            delattr(self, f"drop_select{i}")
        self.dropout_rates = sorted({p for p in rates if p > 0.0})
        device = self.layers[0].weight.device
        for i, p in enumerate(self.dropout_rates):
            self.register_buffer(f"drop_select{i}",
                                 torch.tensor([r == p for r in rates], device=device),
                                 persistent=False)
        self.dropout_all = len(self.dropout_rates) == 1 and all(r > 0.0 for r in rates)

    def _batch_norm(self, layer: PackedLayer, y: torch.Tensor) -> torch.Tensor:
        M, B, h = y.shape
        flat = y.transpose(0, 1).contiguous().view(B, M * h)              # (B, M * h)
        rm, rv = layer.running_mean, layer.running_var
        mask = self.member_mask if self.training else None
        if mask is not None:
            rm, rv = rm.clone(), rv.clone()
        out = F.batch_norm(flat, rm.view(-1), rv.view(-1), layer.bn_weight.view(-1),
                           layer.bn_bias.view(-1), self.training, BN_MOMENTUM, BN_EPS)
        if mask is not None:
            keep = mask.view(M, 1)
            layer.running_mean.copy_(torch.where(keep, rm, layer.running_mean))
            layer.running_var.copy_(torch.where(keep, rv, layer.running_var))
        return out.view(B, M, h).transpose(0, 1)                          # (M, B, h)

    def _dropout(self, h: torch.Tensor) -> torch.Tensor:
        """Each rate's mask (B, h) drawn as the solo GeneratorDropout draws it, applied to
        the members with that rate: (x * keep) / (1 - p), the solo's op order."""
        if not self.training:
            return h
        M, B, d = h.shape
        for i, p in enumerate(self.dropout_rates):
            keep = torch.empty((B, d), dtype=h.dtype, device=h.device).bernoulli_(
                1.0 - p, generator=self.dropout_generators[i])
            dropped = h * keep.unsqueeze(0) / (1.0 - p)                  # (M, B, d)
            select = getattr(self, f"drop_select{i}").view(M, 1, 1)
            h = dropped if self.dropout_all else torch.where(select, dropped, h)
        return h

    def _hidden(self, layer: PackedLayer, h: torch.Tensor) -> torch.Tensor:
        y = packed_linear(h, layer.weight, layer.bias)                    # (M, B, out)
        if layer.shape.batch_norm:
            y = self._batch_norm(layer, y)
        return torch.relu(y)

    def _encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The hidden layers: (last activation before dropout, after dropout)."""
        h = x
        for layer in self.layers[:-1]:
            code = self._hidden(layer, h)                                  # (M, B, size)
            h = self._dropout(code)
        return code, h


class PackedGenerator(_PackedNet):
    """M generators: z (B, z_dim) shared -> (M, B, 1024) in [-1, 1]."""

    def __init__(self, members: int, n_layers: int, size: int, z_dim: int = 100) -> None:
        super().__init__(members, generator_shapes(n_layers, size, z_dim))
        self.z_dim = z_dim

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        _, h = self._encode(z)
        out = self.layers[-1]
        return torch.tanh(packed_linear(h, out.weight, out.bias))        # (M, B, 1024)


class PackedGanDiscriminator(_PackedNet):
    """M scalar-output discriminators (``models.nets.GanDiscriminator``): (B, 1024) shared
    or (M, B, 1024) -> (M, B) outputs."""

    def __init__(self, members: int, n_layers: int, size: int,
                 dropout: Sequence[float] = (), model: str = "gan") -> None:
        super().__init__(members, discriminator_shapes(model, n_layers, size), dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _, h = self._encode(x)
        head = self.layers[-1]
        return packed_linear(h, head.weight, head.bias).squeeze(2)        # (M, B)


class PackedAutoEncoderDiscriminator(_PackedNet):
    """M EBGAN auto-encoders: input -> (reconstructions (M, B, 1024), codes (M, B, size)).

    The code is the encoder's last activation before dropout, as in the solo network.
    """

    def __init__(self, members: int, n_layers: int, size: int,
                 dropout: Sequence[float] = (), model: str = "ebgan") -> None:
        super().__init__(members, discriminator_shapes(model, n_layers, size), dropout)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        code, h = self._encode(x)
        dec = self.layers[-1]
        return packed_linear(h, dec.weight, dec.bias), code


# --- solo <-> packed ------------------------------------------------------------------
def _solo_tensors(solo: nn.Module) -> list[list[torch.Tensor]]:
    """Per weight layer of a solo net: Linear weight [, bias] [, BN weight, bias, running
    mean, running var], the order of PackedLayer.tensors."""
    linears = [m for m in solo.modules() if isinstance(m, nn.Linear)]
    norms = iter(m for m in solo.modules() if isinstance(m, nn.BatchNorm1d))
    out = []
    for lin in linears:
        found = [lin.weight] + ([lin.bias] if lin.bias is not None else [])
        if lin.bias is None:
            bn = next(norms)
            found += [bn.weight, bn.bias, bn.running_mean, bn.running_var]
        out.append(found)
    return out


def _pairs(packed: _PackedNet, solo: nn.Module) -> list[tuple[torch.Tensor, torch.Tensor]]:
    solo_layers = _solo_tensors(solo)
    if len(solo_layers) != len(packed.layers):
        raise ValueError(f"a solo net of {len(solo_layers)} layers does not fit a pack of "
                         f"{len(packed.layers)}")
    pairs = [(p, s) for layer, ts in zip(packed.layers, solo_layers)
             for p, s in zip(layer.tensors(), ts, strict=True)]
    for p, s in pairs:
        if p.shape[1:] != s.shape:
            raise ValueError(f"shape {tuple(s.shape)} does not fit a pack slot "
                             f"{tuple(p.shape[1:])}")
    return pairs


@torch.no_grad()
def load_member(packed: _PackedNet, k: int, solo: nn.Module) -> None:
    """Copy a solo network's weights and batch-norm statistics into member ``k``."""
    for p, s in _pairs(packed, solo):
        p[k].copy_(s)


@torch.no_grad()
def extract_member(packed: _PackedNet, k: int, solo: nn.Module, batches_tracked: int) -> nn.Module:
    """Member ``k`` copied into ``solo`` (a network of the solo class and shapes), whose
    state_dict is then exactly a solo run's; ``batches_tracked`` is the number of
    training-mode forwards its batch-norm layers saw (num_batches_tracked)."""
    for p, s in _pairs(packed, solo):
        s.copy_(p[k])
    for m in solo.modules():
        if isinstance(m, nn.BatchNorm1d):
            m.num_batches_tracked.fill_(batches_tracked)
    return solo


def solo_networks(config: TrialConfig, device: torch.device | str, dtype: torch.dtype
                  ) -> tuple[nn.Module, nn.Module]:
    """Empty-weight solo (G, D) of ``config`` to extract a member into (global RNG untouched)."""
    G, D = build_networks(config, torch.Generator())
    return G.to(device, dtype), D.to(device, dtype)


def build_packed_networks(configs: Sequence[TrialConfig], device: torch.device | str,
                          dtype: torch.dtype = torch.float32
                          ) -> tuple[PackedGenerator, _PackedNet]:
    """Packed (G, D) of configurations of one shape group, each member initialised exactly
    as its solo run: the solo nets are built once from the init stream and copied in."""
    c = configs[0]
    M = len(configs)
    rates = [cfg.dropout if cfg.dropoutD else 0.0 for cfg in configs]
    G = PackedGenerator(M, c.nLayerG, c.sizeG, c.z_dim)
    scalar = SPECS[c.model].d_net == "scalar"
    D_class = PackedGanDiscriminator if scalar else PackedAutoEncoderDiscriminator
    D = D_class(M, c.nLayerD, c.sizeD, rates, model=c.model)
    solo_G, solo_D = build_networks(c, torch.Generator().manual_seed(init_seed(c)))
    for k in range(M):
        load_member(G, k, solo_G)
        load_member(D, k, solo_D)
    # float32 first, then the cast: the solo nets are built in float32 and cast too.
    return G.to(device, dtype).train(), D.to(device, dtype).train()
