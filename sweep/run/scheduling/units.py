"""The grid's work units and the order they are handed to Ray Tune.

A unit is what one Ray Tune trial trains: one configuration, or a pack of configurations
that share their shapes, seed and budget (``TrialConfig.shape_group``: identical batches,
z and initial weights) and train together in one process (``models/pack.py``).

The order is a seeded, stratified random order (SPEC "Order of trials"), decided in one
function, :func:`hand_out_order`: each family's architecture groups in a uniform random
order, the families interleaved so that each advances in proportion to its size. A grid
stopped at any point then holds a uniform random sample of each family's groups, and the
order is the same on every resume (it depends on the sweep's seeds and the full grid,
never on what is already done or on how configurations are packed).

How a shape group's pending configurations are cut into packs is `resources.pack`
(:func:`splitter`): ``auto`` packs on CUDA, as large as the GPU memory a trial gets allows,
and trains one configuration per trial on CPU, where `make bench` measured packing to be
slower (see the README's performance section); ``1`` never packs; ``N`` packs at most N
configurations of one shape group (on CUDA also split to fit the memory).
"""
from __future__ import annotations

import hashlib
import random
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Sequence

from models import gpu_choices  # AUTO_GPU_PACK, PACK_MEMORY_SHARE (bench/gpu_check.py)
from models.config import TrialConfig
from models.streams import derive_seed
from sweep.config import Resources

Group = list[TrialConfig]  # one family's configurations of one shape group, in grid order


@dataclass(frozen=True)
class Unit:
    """One Ray Tune trial: its member configurations and where they stand in the order."""
    members: tuple[TrialConfig, ...]
    orders: tuple[int, ...]           # each member's position in its family's order
    resume_from: str | None = None    # a checkpoint left by an earlier run (records/checkpoints.py)

    @property
    def is_pack(self) -> bool:
        return len(self.members) > 1

    @property
    def unit_id(self) -> str:
        """The trial key of a single configuration; for a pack, a hash of its members' keys."""
        if not self.is_pack:
            return self.members[0].key
        return hashlib.sha256(",".join(sorted(m.key for m in self.members)).encode()).hexdigest()[:16]

    @property
    def pack_id(self) -> str | None:
        return self.unit_id if self.is_pack else None

    @property
    def label(self) -> str:
        """Names its Tune trial and trial folder: '<family>-<key>' or 'pack-<id>'."""
        return f"pack-{self.unit_id}" if self.is_pack else f"{self.members[0].family}-{self.unit_id}"

    def to_config(self) -> dict[str, Any]:
        """The Ray Tune trial config: small, O(members) to build."""
        return {"members": [m.to_dict() for m in self.members], "orders": list(self.orders),
                "unit": self.label, "resume_from": self.resume_from}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Unit:
        return cls(tuple(TrialConfig.from_dict(m) for m in config["members"]),
                   tuple(config.get("orders") or [-1] * len(config["members"])),
                   config.get("resume_from"))

    def describe(self) -> str:
        """One line for the dashboard and the logs: what this trial trains."""
        first = self.members[0]
        if not self.is_pack:
            return first.describe()
        fams = sorted({m.family for m in self.members})
        return (f"pack {self.unit_id} of {len(self.members)} {'/'.join(fams)}: "
                f"nLayerG={first.nLayerG} nLayerD={first.nLayerD} sizeG={first.sizeG} "
                f"sizeD={first.sizeD}, varying dropoutD/optim/lr; keys "
                + " ".join(m.key for m in self.members))


def shape_groups(trials: Iterable[TrialConfig]) -> dict[str, list[Group]]:
    """family -> its shape groups, each in grid order, groups in order of first appearance."""
    by_family: dict[str, dict[tuple, Group]] = defaultdict(dict)
    for t in trials:
        by_family[t.family].setdefault(t.shape_group, []).append(t)
    return {fam: list(groups.values()) for fam, groups in by_family.items()}


def hand_out_order(groups: dict[str, list[Group]], seed: int
                   ) -> list[tuple[Group, int]]:
    """Every group once, as (group, position of its first configuration in its family).

    Within a family the groups are shuffled by a generator seeded with (seed, family).
    Across families, each group is placed at the midpoint of the share of its family it
    completes, and the sequence is sorted by that fraction, so after any prefix every
    family has handed out about the same fraction of its configurations.
    """
    placed = []
    for rank, (family, fam_groups) in enumerate(groups.items()):
        shuffled = list(fam_groups)
        random.Random(derive_seed(seed, "hand-out order", family)).shuffle(shuffled)
        total = sum(len(g) for g in shuffled)
        start = 0
        for g in shuffled:
            placed.append(((start + len(g) / 2) / total, rank, start, g))
            start += len(g)
    placed.sort(key=lambda p: (p[0], p[1]))
    return [(g, start) for _, _, start, g in placed]


def plan_units(trials: Sequence[TrialConfig], pending: set[str], *, seed: int,
               split: Callable[[Group], list[Group]] = lambda g: [[t] for t in g],
               resume_from: dict[str, str] | None = None) -> list[Unit]:
    """The pending configurations of ``trials`` as units, in hand-out order.

    ``split`` cuts a group's pending configurations into packs (default: one per unit);
    ``resume_from`` maps a unit id to the checkpoint an earlier run left for it.
    """
    resume_from = resume_from or {}
    units = []
    for group, start in hand_out_order(shape_groups(trials), seed):
        position = {t.key: start + i for i, t in enumerate(group)}
        todo = [t for t in group if t.key in pending]
        for members in (split(todo) if todo else []):
            unit = Unit(tuple(members), tuple(position[m.key] for m in members))
            units.append(Unit(unit.members, unit.orders, resume_from.get(unit.unit_id)))
    return units


def singles(group: Group) -> list[Group]:
    return [[t] for t in group]


def max_pack_size(resources: Resources, request: dict[str, float]) -> int:
    """The largest pack `resources.pack` allows (before memory limits); 1 = no packing."""
    if resources.pack == "auto":
        return gpu_choices.AUTO_GPU_PACK if request.get("gpu", 0) > 0 else 1
    return int(resources.pack)


def splitter(resources: Resources, request: dict[str, float], *, log=print,
             gpu_bytes: Callable[[], int | None] | None = None) -> Callable[[Group], list[Group]]:
    """A function cutting a shape group's pending configurations into packs."""
    from models.pack_plan import plan_packs

    limit = max_pack_size(resources, request)
    if limit <= 1:
        return singles
    budget = None
    if request.get("gpu", 0) > 0:
        from sweep.run.driver.cluster import gpu_memory_bytes
        total = (gpu_bytes or gpu_memory_bytes)()
        if total is None:
            log("[pack] could not read the GPU memory; packs are not split by memory")
        else:
            budget = int(total * min(1.0, request["gpu"]) * gpu_choices.PACK_MEMORY_SHARE)
            log(f"[pack] packs of up to {limit} configurations within "
                f"{budget / 2**30:.1f} GiB of GPU memory per trial")
    return lambda group: plan_packs(group, max_members=limit, max_bytes=budget)
