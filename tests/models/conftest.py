"""Shared fixtures of the model tests."""
from __future__ import annotations

import pytest
import torch


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    # Tiny networks: intra-op threads only add synchronisation, and on a shared machine
    # they stall badly; the bit-identity tests also need a fixed thread count.
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def images() -> torch.Tensor:
    """512 real digits (mnist-5k), flattened: (512, 1024) in [-1, 1]."""
    from models.data import load_mnist
    return load_mnist("mnist-5k", flatten=True).train_images[:512]
