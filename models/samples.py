"""Samples of a trained generator, as tensors and as the digit grids of Figure 4.

Zhao, Mathieu & LeCun, ICLR 2017, Figure 4: samples of the best GAN, EBGAN and EBGAN-PT.
The noise comes from its own seeded generator, so the same seed shows every model the
same z and a grid can be redrawn exactly.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from torch import nn

IMAGE_SIDE = 32
SAMPLE_CHUNK = 1000  # bounds the memory of a forward pass; BN in eval mode makes it invisible


@torch.no_grad()
def sample_images(generator: nn.Module, n: int, z_dim: int, seed: int,
                  device: str | torch.device | None = None) -> torch.Tensor:
    """``n`` images (n, 1024) in [-1, 1] from z ~ N(0, I) drawn from ``seed`` alone.

    The generator runs in eval mode (batch norm uses its running statistics) and is put
    back in the mode it was in. z is drawn on the CPU so it does not depend on the device.
    """
    if device is None:
        device = next(generator.parameters()).device
    device = torch.device(device)
    z = torch.randn(n, z_dim, generator=torch.Generator().manual_seed(int(seed)))  # (n, z_dim)
    was_training = generator.training
    generator.eval()
    try:
        chunks = [generator(z[i:i + SAMPLE_CHUNK].to(device)) for i in range(0, n, SAMPLE_CHUNK)]
    finally:
        generator.train(was_training)
    return torch.cat(chunks) if chunks else torch.empty(0, IMAGE_SIDE * IMAGE_SIDE, device=device)


def tile(images: torch.Tensor, nrow: int = 8, padding: int = 2) -> np.ndarray:
    """(n, 1024) or (n, 1, 32, 32) in [-1, 1] -> one (H, W) array, ``nrow`` digits a row.

    Empty cells and the gaps between digits take the background value -1.
    """
    x = images.detach().to("cpu", torch.float32).reshape(-1, IMAGE_SIDE, IMAGE_SIDE).numpy()
    n = len(x)
    rows = max(1, math.ceil(n / nrow))
    step = IMAGE_SIDE + padding
    grid = np.full((rows * step + padding, nrow * step + padding), -1.0, dtype=np.float32)
    for k in range(n):
        r, c = divmod(k, nrow)
        top, left = padding + r * step, padding + c * step
        grid[top:top + IMAGE_SIDE, left:left + IMAGE_SIDE] = x[k]
    return grid


def save_sample_grid(images: torch.Tensor, path: str | Path, nrow: int = 8) -> Path:
    """Write ``images`` (e.g. 64 of them: an 8x8 grid) as a grayscale PNG at ``path``."""
    from matplotlib.image import imsave  # no pyplot: works without a display

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    imsave(path, tile(images, nrow), cmap="gray", vmin=-1.0, vmax=1.0, format="png")
    return path
