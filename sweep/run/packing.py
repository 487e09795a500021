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
AUTO_GPU_PACK = 24  # Table 1's GAN groups: 12 optimisation settings x dropout on/off


def singles(group: Group) -> list[Group]:
    return [[t] for t in group]


def max_pack_size(resources: Resources, request: dict[str, float]) -> int:
    """The largest pack `resources.pack` allows (before memory limits); 1 = no packing."""
    if resources.pack == "auto":
        return AUTO_GPU_PACK if request.get("gpu", 0) > 0 else 1
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
        from sweep.run.cluster import gpu_memory_bytes
        total = (gpu_bytes or gpu_memory_bytes)()
        if total is None:
            log("[pack] could not read the GPU memory; packs are not split by memory")
        else:
            budget = int(total * min(1.0, request["gpu"]) * MEMORY_SHARE)
            log(f"[pack] packs of up to {limit} configurations within "
                f"{budget / 2**30:.1f} GiB of GPU memory per trial")
    return lambda group: plan_packs(group, max_members=limit, max_bytes=budget)
