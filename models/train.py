"""Train one GAN or EBGAN of the MNIST grid (Zhao, Mathieu & LeCun, ICLR 2017, section 4.1).

One D step per G step, batch 64, Adam (betas 0.5, 0.999) or SGD without momentum, the
budget in epochs or iterations (SPEC.md, "Training"). The whole training set lives on the
device as one tensor and batches are gathered by index: no DataLoader, no workers.
"""
from __future__ import annotations

import hashlib
import math
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn

from models.losses import ebgan_d_loss, ebgan_g_loss, energy, gan_d_loss, gan_g_loss
from models.nets import build_networks, set_dropout_generator

RUNNING_WINDOW = 100   # iterations averaged into running_losses
CUDA_CHECK_EVERY = 50  # on CUDA, read losses back (a host sync) only this often

Progress = Callable[[int, dict[str, float]], None]


@dataclass
class TrainRecord:
    """What a training run did; plain values, ready for a results table."""
    iterations_done: int
    iterations_planned: int
    status: str                      # "ok" or "diverged"
    diverged_at: int | None          # first iteration (1-based) with a NaN/inf loss
    final_losses: dict[str, float]   # losses of the last iteration run (non-finite if diverged)
    running_losses: dict[str, float]  # mean over the last <= RUNNING_WINDOW iterations run
    wall_time_s: float               # the whole call, setup included
    ms_per_iteration: float          # training loop only
    device: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class TrainResult:
    generator: nn.Module  # in eval mode, on the training device
    record: TrainRecord


# ---------------------------------------------------------------------------------------
# Seeding: the one place where randomness is decided.
# - batch order and latent noise: the seed alone, so every configuration trained with the
#   same seed sees the same batches and the same z (common random numbers);
# - initial weights: the seed and the network shapes;
# - dropout masks: their own stream, so enabling dropout moves no other stream.
# Streams are torch.Generators seeded by a stable hash (hashlib, not Python's salted hash).
# ---------------------------------------------------------------------------------------
def derive_seed(*parts: object) -> int:
    """A 63-bit seed from ``parts``, stable across processes and platforms."""
    digest = hashlib.sha256(repr(parts).encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1


def init_seed(config: Mapping) -> int:
    return derive_seed(int(config["seed"]), "init", config["model"], int(config["nLayerG"]),
                       int(config["nLayerD"]), int(config["sizeG"]), int(config["sizeD"]),
                       int(config.get("z_dim", 100)))


def dropout_seed(config: Mapping) -> int:
    return derive_seed(int(config["seed"]), "dropout")


def epoch_stream(seed: int, n_images: int, batch_size: int, z_dim: int
                 ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Endless epochs of (indices (S, B), z (S, B, z_dim)) on the CPU, S = n_images // B.

    Drawn on the CPU so the stream is the same on every device; the last incomplete batch
    of each permutation is dropped. z is drawn for whole epochs so a shorter budget sees
    a prefix of the same stream.
    """
    steps = n_images // batch_size
    if steps == 0:
        raise ValueError(f"{n_images} images hold no full batch of {batch_size}")
    order = torch.Generator().manual_seed(derive_seed(int(seed), "batch-order"))
    noise = torch.Generator().manual_seed(derive_seed(int(seed), "z"))
    while True:
        perm = torch.randperm(n_images, generator=order)[: steps * batch_size]
        z = torch.randn(steps, batch_size, z_dim, generator=noise)   # (S, B, z_dim)
        yield perm.view(steps, batch_size), z                         # (S, B), (S, B, z_dim)


def batch_stream(seed: int, n_images: int, batch_size: int, z_dim: int, iterations: int
                 ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """(indices (B,), z (B, z_dim)) for each of ``iterations`` steps; what train() uses."""
    done = 0
    for idx, z in epoch_stream(seed, n_images, batch_size, z_dim):
        for k in range(min(len(idx), iterations - done)):
            yield idx[k], z[k]
        done += len(idx)
        if done >= iterations:
            return


# ---------------------------------------------------------------------------------------
def _optimizer(name: str, params, lr: float, betas: tuple[float, float]) -> torch.optim.Optimizer:
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, betas=betas)
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=0.0)
    raise ValueError(f"optimizer: expected 'adam' or 'sgd', got {name!r}")


def _check_config(config: Mapping) -> None:
    for key in ("model", "nLayerG", "nLayerD", "sizeG", "sizeD", "dropoutD",
                "optimD", "optimG", "lr", "seed"):
        if key not in config:
            raise ValueError(f"config key {key!r} is missing")
    if config["model"] not in ("gan", "ebgan"):
        raise ValueError(f"config key 'model': expected 'gan' or 'ebgan', got {config['model']!r}")
    for key in ("optimD", "optimG"):
        if config[key] not in ("adam", "sgd"):
            raise ValueError(f"config key {key!r}: expected 'adam' or 'sgd', got {config[key]!r}")
    for key in ("nLayerG", "nLayerD"):
        if int(config[key]) < 2:
            raise ValueError(f"config key {key!r}: expected >= 2, got {config[key]!r}")


def planned_iterations(config: Mapping, n_images: int, iterations: int | None = None) -> int:
    """The budget: ``iterations``, else config["iterations"], else epochs * (N // batch)."""
    if iterations is None:
        iterations = config.get("iterations")
    if iterations is None:
        iterations = int(config.get("epochs", 20)) * (n_images // int(config.get("batch_size", 64)))
    return int(iterations)


def default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def train(config: Mapping, images: torch.Tensor, *, iterations: int | None = None,
          device: str | torch.device | None = None, progress: Progress | None = None,
          progress_every: int = 200) -> TrainResult:
    """Train the (G, D) pair of ``config`` on ``images`` (N, 1024) in [-1, 1].

    A NaN/inf loss ends the run with status "diverged"; it is reported, never raised.
    """
    start = time.perf_counter()
    _check_config(config)
    device = torch.device(device) if device is not None else default_device()
    is_gan = config["model"] == "gan"
    batch_size, z_dim = int(config.get("batch_size", 64)), int(config.get("z_dim", 100))
    margin, pt_weight = float(config.get("margin", 10.0)), float(config.get("pt_weight", 0.0))
    betas = (float(config.get("beta1", 0.5)), float(config.get("beta2", 0.999)))
    lr = float(config["lr"])

    data = images.to(device=device, dtype=torch.float32).reshape(len(images), -1)  # (N, 1024)
    total = planned_iterations(config, len(data), iterations)

    G, D = build_networks(config, torch.Generator().manual_seed(init_seed(config)))
    G, D = G.to(device).train(), D.to(device).train()
    set_dropout_generator(D, torch.Generator(device=device).manual_seed(dropout_seed(config)))
    opt_g = _optimizer(config["optimG"], G.parameters(), lr, betas)
    opt_d = _optimizer(config["optimD"], D.parameters(), lr, betas)

    check_every = 1 if device.type == "cpu" else CUDA_CHECK_EVERY
    pending: list[torch.Tensor] = []          # (2,) loss pairs not yet read back
    window: deque = deque(maxlen=RUNNING_WINDOW)
    last = (math.nan, math.nan)
    diverged_at: int | None = None
    reported_at = 0

    def flush(upto: int) -> None:
        """Read pending losses back (one sync); note the first non-finite iteration."""
        nonlocal last, diverged_at
        if not pending:
            return
        values = torch.stack(pending).cpu().tolist()  # (P, 2)
        first = upto - len(values) + 1
        pending.clear()
        for offset, pair in enumerate(values):
            window.append(pair)
            last = (pair[0], pair[1])
            if diverged_at is None and not all(math.isfinite(v) for v in pair):
                diverged_at = first + offset

    loop_start = time.perf_counter()
    it = 0
    for idx, z in batch_stream(int(config["seed"]), len(data), batch_size, z_dim, total):
        it += 1
        x = data[idx.to(device, non_blocking=True)]        # (B, 1024)
        z = z.to(device, non_blocking=True)                # (B, z_dim)
        fake = G(z)                                        # (B, 1024)

        # D step on a detached copy: this loss must not move G.
        fake_d = fake.detach()
        if is_gan:
            loss_d = gan_d_loss(D(x), D(fake_d))
        else:
            recon_real, _ = D(x)                           # (B, 1024)
            recon_fake, _ = D(fake_d)                      # (B, 1024)
            loss_d = ebgan_d_loss(energy(x, recon_real), energy(fake_d, recon_fake), margin)
        opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        opt_d.step()

        # G step through the updated D; D's weight gradients are not needed here.
        D.requires_grad_(False)
        if is_gan:
            loss_g = gan_g_loss(D(fake))
        else:
            recon, code = D(fake)
            loss_g = ebgan_g_loss(energy(fake, recon), code, pt_weight)
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        opt_g.step()
        D.requires_grad_(True)

        pending.append(torch.stack([loss_d.detach(), loss_g.detach()]))
        report = progress is not None and (it % progress_every == 0 or it == total)
        if it % check_every == 0 or report or it == total:
            flush(it)
            if diverged_at is not None:
                break
            if report:
                progress(it, {"loss_d": last[0], "loss_g": last[1]})
                reported_at = it
    flush(it)
    if progress is not None and reported_at != it:  # the end of a diverged run
        progress(it, {"loss_d": last[0], "loss_g": last[1]})
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    loop_s = time.perf_counter() - loop_start

    G.eval()
    set_dropout_generator(D, None)  # a torch.Generator should not travel with the module
    running = [sum(col) / len(col) for col in zip(*window)] if window else [math.nan] * 2
    record = TrainRecord(
        iterations_done=it, iterations_planned=total,
        status="diverged" if diverged_at is not None else "ok", diverged_at=diverged_at,
        final_losses={"loss_d": last[0], "loss_g": last[1]},
        running_losses={"loss_d": running[0], "loss_g": running[1]},
        wall_time_s=time.perf_counter() - start,
        ms_per_iteration=1000.0 * loop_s / max(it, 1), device=str(device))
    return TrainResult(generator=G, record=record)
