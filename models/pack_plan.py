"""Planning packs (SPEC "Packs"): which configurations may share one (:func:`check_pack`),
how much memory a pack of M members needs (:func:`pack_bytes`), and a split of a list of
configurations into packs that fit (:func:`plan_packs`).

The estimate counts, per member, the parameters of G and D (``models.nets``'s shapes)
with their gradients and Adam's two moments, 4 values per parameter (16 bytes in
float32), plus the activations autograd keeps for one iteration: G's forward and D's
three forwards (real and fake for the D step, fake again for the G step), each hidden
layer keeping about ACTIVATION_COPIES tensors of (batch, width). It is an estimate for
planning, not a measurement; the CUDA context and the training set come on top, once per
process.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from models.config import SHAPE_GROUP_KEYS, TrialConfig, coerce
from models.gpu_choices import AUTO_GPU_PACK
from models.nets import discriminator_shapes, generator_shapes, parameter_count

VALUES_PER_PARAMETER = 4   # weight, gradient, Adam's exp_avg and exp_avg_sq
ACTIVATION_COPIES = 6      # per layer and forward: linear out, BN in/out, ReLU, dropout mask/out
D_FORWARDS = 3


def check_pack(configs: Sequence[TrialConfig | Mapping]) -> list[TrialConfig]:
    """The configurations, if they can train as one pack; else a ValueError that names
    the settings that differ."""
    cs = [coerce(c) for c in configs]
    if not cs:
        raise ValueError("a pack needs at least one configuration")
    names = SHAPE_GROUP_KEYS
    differ = [n for n in names if len({getattr(c, n) for c in cs}) > 1]
    if differ:
        values = {n: sorted({str(getattr(c, n)) for c in cs}) for n in differ}
        raise ValueError("a pack's configurations must share one shape group; they differ in "
                         + ", ".join(f"{n} {v}" for n, v in values.items()))
    return cs


def pack_bytes(config: TrialConfig | Mapping, members: int, *, batch_size: int | None = None,
               dtype_bytes: int = 4) -> int:
    """Estimated device memory of a pack of ``members`` configurations shaped like ``config``.

    ``batch_size`` defaults to the configuration's (64 in the paper's grid).
    """
    c = coerce(config)
    if members < 1:
        raise ValueError(f"a pack has at least one member, got {members}")
    batch = c.batch_size if batch_size is None else int(batch_size)
    widths_g = sum(s.d_out for s in generator_shapes(c.nLayerG, c.sizeG, c.z_dim))
    widths_d = sum(s.d_out for s in discriminator_shapes(c.model, c.nLayerD, c.sizeD))
    activations = ACTIVATION_COPIES * batch * (widths_g + D_FORWARDS * widths_d)
    per_member = VALUES_PER_PARAMETER * parameter_count(c) + activations
    return members * per_member * dtype_bytes


def plan_packs(configs: Sequence[TrialConfig | Mapping], *, max_members: int = AUTO_GPU_PACK,
               max_bytes: int | None = None, dtype_bytes: int = 4) -> list[list[TrialConfig]]:
    """Split ``configs`` into packs: one shape group each, at most ``max_members`` members
    and (when given) at most ``max_bytes`` by :func:`pack_bytes`.

    Groups keep their first appearance's order; a group too big for one pack is cut into
    packs of near-equal size. Within a pack, members are ordered by (optimD, optimG), so
    each optimiser updates few contiguous runs of members (``models.packed_optim``); the
    order is otherwise that of ``configs``. Every configuration lands in exactly one pack.
    """
    if max_members < 1:
        raise ValueError(f"max_members must be >= 1, got {max_members}")
    groups: dict[tuple, list[TrialConfig]] = {}
    for cfg in (coerce(c) for c in configs):
        groups.setdefault(cfg.shape_group, []).append(cfg)
    packs = []
    for members in groups.values():
        cap = max_members
        if max_bytes is not None:
            cap = min(cap, max_bytes // pack_bytes(members[0], 1, dtype_bytes=dtype_bytes))
            if cap < 1:
                raise ValueError(f"one member of {members[0].describe()} needs "
                                 f"{pack_bytes(members[0], 1, dtype_bytes=dtype_bytes)} bytes, "
                                 f"more than max_bytes={max_bytes}")
        n_packs = math.ceil(len(members) / cap)
        ordered = sorted(members, key=lambda c: (c.optimD, c.optimG))
        size, extra = divmod(len(ordered), n_packs)
        start = 0
        for i in range(n_packs):
            stop = start + size + (1 if i < extra else 0)
            packs.append(ordered[start:stop])
            start = stop
    return packs
