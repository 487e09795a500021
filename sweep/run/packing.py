"""How a grid's configurations are packed into Ray Tune trials (`resources.pack`).

``auto`` packs on CUDA, as large as the GPU memory a trial gets allows, and trains one
configuration per trial on CPU, where `make bench` measured packing to be slower (see the
README's performance section); ``1`` never packs; ``N`` packs at most N configurations of
one shape group (on CUDA also split to fit the memory).
"""
from __future__ import annotations

from typing import Callable

from models.config import TrialConfig
from sweep.config import Resources

Group = list[TrialConfig]
MEMORY_SHARE = 0.8  # of the trial's GPU memory a pack may plan to use


def singles(group: Group) -> list[Group]:
    return [[t] for t in group]


def chunks(group: Group, size: int) -> list[Group]:
    return [group[i:i + size] for i in range(0, len(group), size)]


def max_pack_size(resources: Resources, request: dict[str, float]) -> int:
    """The largest pack `resources.pack` allows (before memory limits); 1 = no packing."""
    on_gpu = request.get("gpu", 0) > 0
    if resources.pack == "auto":
        return 10**9 if on_gpu else 1
    return int(resources.pack)


def splitter(resources: Resources, request: dict[str, float], *, log=print,
             gpu_bytes: Callable[[], int | None] | None = None) -> Callable[[Group], list[Group]]:
    """A function cutting a shape group's pending configurations into packs."""
    limit = max_pack_size(resources, request)
    if limit <= 1:
        return singles
    if request.get("gpu", 0) <= 0:
        return lambda group: chunks(group, limit)
    from models.pack import split_by_memory
    from sweep.run.cluster import gpu_memory_bytes
    total = (gpu_bytes or gpu_memory_bytes)()
    budget = None if total is None else int(total * min(1.0, request["gpu"]) * MEMORY_SHARE)
    if budget is None:
        log("[pack] could not read the GPU memory; packs are not split by memory")
    return lambda group: [p for c in chunks(group, limit)
                          for p in (split_by_memory(c, budget) if budget else [c])]
