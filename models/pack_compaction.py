"""Compacting a pack: members that no longer train leave its tensors (issue #20).

A member of a pack (``models.pack``) that diverged, or that a scheduler stopped at a rung
(ASHA: Li et al., "A System for Massively Parallel Hyperparameter Tuning", MLSys 2020),
is frozen through the device-side mask, but its slices still take a full share of every
batched matmul. Once at most half of the members still in the tensors are running,
:func:`compact` removes the others' slices: from the packed networks (weights, biases,
batch-norm parameters and statistics), both optimisers (moments, step count), the
per-member loss settings and the dropout streams (one per rate still in use). Each
removed member is first kept on the host as its solo training state
(``PackTrainer.member_state_dict``), so its networks, record and curve stay available.

The members that remain compute exactly what they computed before: no op of a member
reads another member's slices (``models.packed_nets``), so they stay bit-identical to
their solo runs (tests/models/test_pack_compaction.py). A pack that halves each time it
compacts copies each member's state O(log M) times at most.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

if TYPE_CHECKING:
    from models.pack import PackTrainer
    from models.packed_nets import _PackedNet


def due(pack: PackTrainer) -> bool:
    """At most half of the members still in the tensors are running, and at least one."""
    running = sum(pack.logs[k].running for k in pack.columns)
    return running >= 1 and 2 * running <= len(pack.columns)


def compact(pack: PackTrainer) -> None:
    """Keep only the running members in the pack's tensors (the others are kept on the
    host first); the losses read back so far are accounted before."""
    pack._flush(pack.iteration)
    keep_members(pack, [k for k in pack.columns if pack.logs[k].running])


def keep_members(pack: PackTrainer, keep: Sequence[int], *, snapshot: bool = True) -> None:
    """Reduce the pack's tensors to configurations ``keep`` (indices into ``pack.configs``,
    in the order of ``pack.columns``). ``snapshot``: keep each removed member's solo state
    on the host (off only when a state about to be loaded brings them)."""
    if pack._pending:
        raise RuntimeError("losses of the current width are still pending")
    if any(k not in pack.columns for k in keep) or list(keep) != sorted(
            keep, key=pack.columns.index):
        raise ValueError(f"members {list(keep)} are not a subsequence of the pack's "
                         f"{pack.columns}")
    if snapshot:
        for k in pack.columns:
            if k not in keep:
                pack._removed[k] = to_host(pack.member_state_dict(k))
    positions = [pack.columns.index(k) for k in keep]
    index = torch.tensor(positions, dtype=torch.long, device=pack.device)
    configs = [pack.configs[k] for k in keep]
    generators = dict(zip(pack.D.dropout_rates, pack.dropout_rngs))
    for net in (pack.G, pack.D):
        _keep_slices(net, index)
    pack.D.set_dropout_rates([c.dropout if c.dropoutD else 0.0 for c in configs])
    pack.dropout_rngs = [generators[rate] for rate in pack.D.dropout_rates]
    pack.D.dropout_generators = list(pack.dropout_rngs)
    pack.opt_g = pack.opt_g.select(positions, list(pack.G.parameters()))
    pack.opt_d = pack.opt_d.select(positions, list(pack.D.parameters()))
    pack.loss.keep(index)
    pack.active = pack.active.index_select(0, index)
    pack.columns = list(keep)
    # On CPU the host knows every divergence (losses are read every iteration): with
    # only running members left, no mask is needed until the next one.
    pack._masked = pack.device.type != "cpu" or not bool(pack.active.all())
    pack._graph, pack._warm = None, 0      # a captured CUDA graph holds the old tensors


@torch.no_grad()
def _keep_slices(net: _PackedNet, index: torch.Tensor) -> None:
    """Every packed parameter and buffer of ``net`` reduced to the members at ``index``."""
    for layer in net.layers:
        for name, p in list(layer.named_parameters(recurse=False)):
            setattr(layer, name, nn.Parameter(p.index_select(0, index)))
        for name, b in list(layer.named_buffers(recurse=False)):
            setattr(layer, name, b.index_select(0, index))
    net.members = len(index)


def to_host(value: Any) -> Any:
    """``value`` with every tensor in it copied to the CPU (dicts, lists, tuples kept)."""
    if isinstance(value, torch.Tensor):
        return value.detach().to("cpu", copy=True)
    if isinstance(value, dict):
        return {k: to_host(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(to_host(v) for v in value)
    return value
