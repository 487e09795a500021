"""Seeding: the one place where the randomness of a training run is decided.

- batch order and latent noise z: the seed alone, so every configuration trained with the
  same seed sees the same batches and the same z (common random numbers, SPEC "Training");
- initial weights: the seed and the network shapes;
- dropout masks: their own stream, so enabling dropout moves no other stream.

Streams are ``torch.Generator``s seeded by a stable hash (hashlib, not Python's salted
``hash``). A :class:`BatchStream` can be saved and restored mid-epoch, so a checkpointed
run resumes with exactly the batches and z it would have drawn.
"""
from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import torch

from models.config import TrialConfig


def derive_seed(*parts: object) -> int:
    """A 63-bit seed from ``parts``, stable across processes and platforms."""
    digest = hashlib.sha256(repr(parts).encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1


def init_seed(config: TrialConfig) -> int:
    """Initial weights depend on the seed and the shapes only (not on lr, optimiser...)."""
    c = config
    return derive_seed(c.seed, "init", c.model, c.nLayerG, c.nLayerD, c.sizeG, c.sizeD, c.z_dim)


def dropout_seed(config: TrialConfig) -> int:
    return derive_seed(config.seed, "dropout")


class BatchStream:
    """Endless epochs of (indices (B,), z (B, z_dim)) drawn on the CPU.

    Each epoch is one permutation of the images (the last incomplete batch dropped) and
    one draw of z for the whole epoch, so a shorter budget sees a prefix of the same
    stream and the stream is the same on every device.
    """

    def __init__(self, seed: int, n_images: int, batch_size: int, z_dim: int) -> None:
        self.steps = n_images // batch_size
        if self.steps == 0:
            raise ValueError(f"{n_images} images hold no full batch of {batch_size}")
        self.n_images, self.batch_size, self.z_dim = n_images, batch_size, z_dim
        self.order = torch.Generator().manual_seed(derive_seed(int(seed), "batch-order"))
        self.noise = torch.Generator().manual_seed(derive_seed(int(seed), "z"))
        self._epoch_start: tuple[torch.Tensor, torch.Tensor] | None = None
        self._pos = self.steps  # draw an epoch on the first call

    def _draw(self) -> None:
        self._epoch_start = (self.order.get_state(), self.noise.get_state())
        perm = torch.randperm(self.n_images, generator=self.order)[: self.steps * self.batch_size]
        self._idx = perm.view(self.steps, self.batch_size)                            # (S, B)
        self._z = torch.randn(self.steps, self.batch_size, self.z_dim, generator=self.noise)  # (S, B, z_dim)
        self._pos = 0

    def next(self) -> tuple[torch.Tensor, torch.Tensor]:
        if self._pos >= self.steps:
            self._draw()
        k = self._pos
        self._pos += 1
        return self._idx[k], self._z[k]                                                # (B,), (B, z_dim)

    def state_dict(self) -> dict[str, Any]:
        """The generators' states at the start of the current epoch and the position in it."""
        if self._epoch_start is None:
            return {"order": self.order.get_state(), "noise": self.noise.get_state(), "pos": None}
        return {"order": self._epoch_start[0], "noise": self._epoch_start[1], "pos": self._pos}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.order.set_state(state["order"])
        self.noise.set_state(state["noise"])
        if state["pos"] is None:
            self._epoch_start, self._pos = None, self.steps
        else:
            self._draw()
            self._pos = int(state["pos"])


def batch_stream(seed: int, n_images: int, batch_size: int, z_dim: int, iterations: int
                 ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """(indices (B,), z (B, z_dim)) for each of ``iterations`` steps."""
    stream = BatchStream(seed, n_images, batch_size, z_dim)
    for _ in range(iterations):
        yield stream.next()
