"""The GPU choices of the grid in one place: what ``auto`` means on CUDA.

`bench/gpu_check.py` measures what these should be (docs/gpu.md); when its table says
otherwise, this module is the one edit. Its readers, at call time: ``resources.pack: auto``
and the pack's memory share (sweep/run/scheduling/units.py), ``resources.gpu: auto``
(sweep/run/driver/cluster.py), the default pack cap (models/pack_plan.py), and a trial's
trainer on CUDA: CUDA graphs and TF32 (sweep/run/worker/unit_runner.py).

Provenance: ``MEASURED_ON`` says where the values below were last measured. Until a GPU
run exists they are reasoned guesses, each with its reason beside it. Importing this module
does not import torch (the sweep's CLI reads it before deciding to load torch).
"""
from __future__ import annotations

MEASURED_ON = "not yet run on a GPU"  # replace with the device, date and gpu-check JSON

# resources.pack: auto on CUDA. Table 1's GAN shape groups hold 24 configurations
# (12 optimisation settings x dropout on/off); a pack never mixes shape groups.
AUTO_GPU_PACK = 24

# resources.gpu: auto: the fraction of one GPU a trial asks Ray for (four trials share it).
# Four small fully connected GANs keep one GPU busier than one does.
AUTO_GPU_FRACTION = 0.25

# Of the GPU memory a trial gets, the share its pack may plan to fill by
# models.pack_plan.pack_bytes (an estimate; the CUDA context and the data come on top).
PACK_MEMORY_SHARE = 0.8

# Capture the packed step as a CUDA graph (PackTrainer(cuda_graph=...)). Off until the
# check shows graphs faster and their losses equal to eager ones.
CUDA_GRAPH = False

# TF32 matmuls in training (Ampere and later). Off until the check shows I and FD unchanged
# within the seed-to-seed spread (the paper compares scores to a few hundredths).
TF32 = False


def set_tf32(enabled: bool) -> None:
    """Allow (or forbid) TF32 in float32 CUDA matmuls; no effect on the CPU.

    Newer PyTorch has ``fp32_precision`` and refuses a mix with the legacy ``allow_tf32``
    flag; older PyTorch has only the flag. Convolutions (the scoring ConvNet) are left as
    they are.
    """
    import torch

    matmul = torch.backends.cuda.matmul
    if hasattr(matmul, "fp32_precision"):
        matmul.fp32_precision = "tf32" if enabled else "ieee"
    else:
        matmul.allow_tf32 = bool(enabled)


def tf32_enabled() -> bool:
    """Whether float32 CUDA matmuls may use TF32 now."""
    import torch

    matmul = torch.backends.cuda.matmul
    if hasattr(matmul, "fp32_precision"):
        return matmul.fp32_precision == "tf32"
    return bool(matmul.allow_tf32)
