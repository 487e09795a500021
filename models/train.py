"""Train one GAN or EBGAN of the MNIST grid (Zhao, Mathieu & LeCun, ICLR 2017, section 4.1).

One D step per G step, batch 64, Adam (betas 0.5, 0.999) or SGD without momentum, the
budget in epochs or iterations (SPEC.md, "Training"). The whole training set lives on the
device as one tensor and batches are gathered by index: no DataLoader, no workers.

:class:`Trainer` runs a configuration step by step and its :meth:`Trainer.state_dict`
holds everything that decides the rest of the run (weights, optimiser and batch-norm
state, the seeded streams, the iteration, the loss window): a run restored from it ends
bit-identically to one never interrupted (same hardware and thread count).
"""
from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from torch import nn

from models.config import TrialConfig, coerce
from models.losses import ebgan_d_loss, ebgan_g_loss, energy, gan_d_loss, gan_g_loss
from models.nets import build_networks, set_dropout_generator
from models.streams import BatchStream, batch_stream, derive_seed, dropout_seed, init_seed

__all__ = ["Trainer", "TrainRecord", "TrainResult", "train", "default_device",
           "planned_iterations", "batch_stream", "derive_seed", "init_seed", "dropout_seed"]

RUNNING_WINDOW = 100   # iterations averaged into running_losses
CUDA_CHECK_EVERY = 50  # on CUDA, read losses back (a host sync) only this often
STATE_FORMAT = 1       # version of Trainer.state_dict's layout

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
    wall_time_s: float               # this attempt, setup included
    ms_per_iteration: float          # training loop only
    device: str
    attempts: list[int] = field(default_factory=lambda: [0])  # iteration each attempt started at
    iterations_run: int = 0          # iterations computed over all attempts (>= iterations_done)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class TrainResult:
    generator: nn.Module  # in eval mode, on the training device
    record: TrainRecord
    curve: list[dict[str, float]] = field(default_factory=list)  # Trainer.curve: report means


def default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def planned_iterations(config: TrialConfig | Mapping, n_images: int,
                       iterations: int | None = None) -> int:
    """The budget: ``iterations``, else the config's iterations, else epochs x (N // batch)."""
    return int(iterations) if iterations is not None else coerce(config).planned_iterations(n_images)


def _optimizer(name: str, params, lr: float, betas: tuple[float, float]) -> torch.optim.Optimizer:
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, betas=betas)
    return torch.optim.SGD(params, lr=lr, momentum=0.0)


class Trainer:
    """One configuration's (G, D) pair, trained on ``images`` (N, 1024) in [-1, 1].

    A NaN/inf loss ends the run with status "diverged"; it is reported, never raised.
    """

    def __init__(self, config: TrialConfig | Mapping, images: torch.Tensor, *,
                 iterations: int | None = None, device: str | torch.device | None = None,
                 dtype: torch.dtype = torch.float32, report_every: int = 200) -> None:
        self.started = time.perf_counter()
        self.config = c = coerce(config)
        self.device = torch.device(device) if device is not None else default_device()
        self.data = images.to(device=self.device, dtype=dtype).reshape(len(images), -1)  # (N, 1024)
        self.total = planned_iterations(c, len(self.data), iterations)
        self.report_every = max(1, int(report_every))
        self.stream = BatchStream(c.seed, len(self.data), c.batch_size, c.z_dim)
        G, D = build_networks(c, torch.Generator().manual_seed(init_seed(c)))
        self.G = G.to(self.device, dtype).train()
        self.D = D.to(self.device, dtype).train()
        self.dropout_rng = torch.Generator(device=self.device).manual_seed(dropout_seed(c))
        set_dropout_generator(self.D, self.dropout_rng)
        betas = (c.beta1, c.beta2)
        self.opt_g = _optimizer(c.optimG, self.G.parameters(), c.lr, betas)
        self.opt_d = _optimizer(c.optimD, self.D.parameters(), c.lr, betas)
        self.quantities = ("loss_d", "loss_g") + (("energy_real", "energy_fake")
                                                  if c.model == "ebgan" else ())
        self.iteration = 0
        self.window: deque = deque(maxlen=RUNNING_WINDOW)
        self.last = (math.nan, math.nan)
        self.diverged_at: int | None = None
        self.curve: list[dict[str, float]] = []  # one row per report: the means since the last
        self.attempts, self.iterations_run = [0], 0
        self._sums, self._count = [0.0] * len(self.quantities), 0
        self._pending: list[torch.Tensor] = []   # (Q,) values not yet read back
        self._reported_at = 0
        self.loop_seconds = 0.0

    @property
    def done(self) -> bool:
        return self.diverged_at is not None or self.iteration >= self.total

    # --- one iteration ------------------------------------------------------------------
    def _step(self, idx: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        c, G, D = self.config, self.G, self.D
        x = self.data[idx.to(self.device, non_blocking=True)]           # (B, 1024)
        z = z.to(self.device, self.data.dtype, non_blocking=True)      # (B, z_dim)
        fake = G(z)                                                     # (B, 1024)

        # D step on a detached copy: this loss must not move G.
        fake_d = fake.detach()
        if c.model == "gan":
            loss_d = gan_d_loss(D(x), D(fake_d))
            extra: tuple[torch.Tensor, ...] = ()
        else:
            recon_real, _ = D(x)                                        # (B, 1024)
            recon_fake, _ = D(fake_d)                                   # (B, 1024)
            e_real, e_fake = energy(x, recon_real), energy(fake_d, recon_fake)  # (B,), (B,)
            loss_d = ebgan_d_loss(e_real, e_fake, c.margin)
            extra = (e_real.detach().mean(), e_fake.detach().mean())
        self.opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        self.opt_d.step()

        # G step through the updated D; D's weight gradients are not needed here.
        D.requires_grad_(False)
        if c.model == "gan":
            loss_g = gan_g_loss(D(fake))
        else:
            recon, code = D(fake)
            loss_g = ebgan_g_loss(energy(fake, recon), code, c.pt_weight)
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        self.opt_g.step()
        D.requires_grad_(True)
        return torch.stack([loss_d.detach(), loss_g.detach(), *extra])  # (Q,)

    def _flush(self, upto: int) -> None:
        """Read pending values back (one sync); note the first non-finite iteration."""
        if not self._pending:
            return
        rows = torch.stack(self._pending).double().cpu().tolist()  # (P, Q)
        first = upto - len(rows) + 1
        self._pending.clear()
        for offset, row in enumerate(rows):
            pair = (row[0], row[1])
            self.window.append(pair)
            self.last = pair
            self._sums = [s + v for s, v in zip(self._sums, row)]
            self._count += 1
            if self.diverged_at is None and not all(math.isfinite(v) for v in pair):
                self.diverged_at = first + offset

    def _report(self, it: int, progress: Progress | None) -> None:
        values = {q: s / max(self._count, 1) for q, s in zip(self.quantities, self._sums)}
        self.curve.append({"iteration": it, **values})
        self._sums, self._count = [0.0] * len(self.quantities), 0
        self._reported_at = it
        if progress is not None:
            progress(it, values)

    # --- the loop -----------------------------------------------------------------------
    def run(self, until: int | None = None, *, progress: Progress | None = None,
            on_iteration: Callable[[int], None] | None = None) -> None:
        """Train up to iteration ``until`` (default: the budget), or until divergence.

        Every ``report_every`` iterations (and at the end) the means of the losses since
        the last report go to ``curve`` and ``progress(iteration, means)``.
        ``on_iteration(iteration)`` runs after every iteration (e.g. to checkpoint).
        """
        stop = self.total if until is None else min(int(until), self.total)
        check_every = 1 if self.device.type == "cpu" else CUDA_CHECK_EVERY
        loop_start = time.perf_counter()
        while self.iteration < stop and self.diverged_at is None:
            idx, z = self.stream.next()
            self.iteration += 1
            self.iterations_run += 1
            it = self.iteration
            self._pending.append(self._step(idx, z))
            report = it % self.report_every == 0 or it == self.total
            if it % check_every == 0 or report or it == stop:
                self._flush(it)
                if self.diverged_at is not None:
                    break
                if report:
                    self._report(it, progress)
            if on_iteration is not None:
                on_iteration(it)
        self._flush(self.iteration)
        if self.diverged_at is not None and self._reported_at != self.iteration:
            self._report(self.iteration, progress)  # the end of a diverged run
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        self.loop_seconds += time.perf_counter() - loop_start

    # --- results ------------------------------------------------------------------------
    def record(self) -> TrainRecord:
        running = ([sum(col) / len(col) for col in zip(*self.window)] if self.window
                   else [math.nan, math.nan])
        return TrainRecord(
            iterations_done=self.iteration, iterations_planned=self.total,
            status="diverged" if self.diverged_at is not None else "ok",
            diverged_at=self.diverged_at,
            final_losses={"loss_d": self.last[0], "loss_g": self.last[1]},
            running_losses={"loss_d": running[0], "loss_g": running[1]},
            wall_time_s=time.perf_counter() - self.started,
            ms_per_iteration=1000.0 * self.loop_seconds / max(self.iteration - self.attempts[-1], 1),
            device=str(self.device), attempts=list(self.attempts), iterations_run=self.iterations_run)

    def result(self) -> TrainResult:
        self.G.eval()
        set_dropout_generator(self.D, None)  # a torch.Generator should not travel with D
        return TrainResult(generator=self.G, record=self.record(), curve=list(self.curve))

    # --- checkpoints --------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Everything that determines the rest of the run (plain tensors and numbers)."""
        self._flush(self.iteration)
        return {"format": STATE_FORMAT, "kind": "solo", "key": self.config.key,
                "iteration": self.iteration, "total": self.total,
                **parts_state(self), "dropout_rng": self.dropout_rng.get_state(),
                "window": list(self.window), "last": self.last, "diverged_at": self.diverged_at,
                "curve": list(self.curve), "sums": list(self._sums), "count": self._count,
                "reported_at": self._reported_at, "attempts": list(self.attempts),
                "iterations_run": self.iterations_run}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from ``state``: a new attempt starts at its iteration."""
        if state.get("format") != STATE_FORMAT or state.get("kind") != "solo":
            raise ValueError(f"not a solo training state of format {STATE_FORMAT}")
        if state["key"] != self.config.key or state["total"] != self.total:
            raise ValueError(f"the state is of trial {state['key']} ({state['total']} "
                             f"iterations), not {self.config.key} ({self.total})")
        load_parts(self, state)
        self.dropout_rng.set_state(state["dropout_rng"])
        self.iteration = int(state["iteration"])
        self.window = deque((tuple(p) for p in state["window"]), maxlen=RUNNING_WINDOW)
        self.last, self.diverged_at = tuple(state["last"]), state["diverged_at"]
        self.curve = [dict(r) for r in state["curve"]]
        self._sums, self._count = list(state["sums"]), int(state["count"])
        self._reported_at = int(state["reported_at"])
        self.attempts = [*state["attempts"], self.iteration]
        self.iterations_run = int(state["iterations_run"])


def train(config: TrialConfig | Mapping, images: torch.Tensor, *, iterations: int | None = None,
          device: str | torch.device | None = None, progress: Progress | None = None,
          progress_every: int = 200, dtype: torch.dtype = torch.float32) -> TrainResult:
    """Train the (G, D) pair of ``config`` on ``images`` (N, 1024) in [-1, 1] to the end."""
    trainer = Trainer(config, images, iterations=iterations, device=device, dtype=dtype,
                      report_every=progress_every)
    trainer.run(progress=progress)
    return trainer.result()


STATE_PARTS = ("G", "D", "opt_g", "opt_d", "stream")  # what a trainer (solo or pack) holds


def parts_state(trainer: Any) -> dict[str, Any]:
    """The state dicts of a trainer's networks, optimisers and batch stream."""
    return {name: getattr(trainer, name).state_dict() for name in STATE_PARTS}


def load_parts(trainer: Any, state: dict[str, Any]) -> None:
    """Load what :func:`parts_state` saved into a trainer built for the same run."""
    for name in STATE_PARTS:
        getattr(trainer, name).load_state_dict(state[name])
