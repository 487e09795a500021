"""Train one configuration of the MNIST grid (Zhao, Mathieu & LeCun, ICLR 2017, section 4.1).

Any model of ``models.losses``: the trainer calls the model's loss (``models.losses.base.Loss``)
and knows no model by name. One D step per G step (WGAN-GP: n_critic, each on its own
batch; an iteration is one G step), batch 64, Adam (betas 0.5, 0.999) or SGD without momentum, the
budget in epochs or iterations (SPEC.md, "Training"). The whole training set lives on the
device as one tensor and batches are gathered by index: no DataLoader, no workers.

:class:`Trainer` is the solo layout of the shared loop (``models.loop``): one (G, D) pair
and its step. Its :meth:`Trainer.state_dict` holds everything that decides the rest of the
run (weights, optimiser and batch-norm state, the seeded streams, the iteration, the loss
window): a run restored from it ends bit-identically to one never interrupted (same
hardware and thread count).
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from models.config import TrialConfig, coerce
from models.loop import (Progress, TrainLoop, TrainRecord, TrainResult, default_device,
                         planned_iterations)
from models.losses import loss_entry
from models.nets import build_networks, set_dropout_generator
from models.streams import batch_stream, derive_seed, dropout_seed, init_seed

__all__ = ["Trainer", "TrainRecord", "TrainResult", "train", "default_device",
           "planned_iterations", "batch_stream", "derive_seed", "init_seed", "dropout_seed",
           "STATE_FORMAT"]

STATE_FORMAT = 1       # version of Trainer.state_dict's layout


def _optimizer(name: str, params, lr: float, betas: tuple[float, float]) -> torch.optim.Optimizer:
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, betas=betas)
    return torch.optim.SGD(params, lr=lr, momentum=0.0)


class Trainer(TrainLoop):
    """One configuration's (G, D) pair, trained on ``images`` (N, 1024) in [-1, 1].

    A NaN/inf loss ends the run with status "diverged"; it is reported, never raised.
    ``progress(iteration, means)`` gets one dict of means.
    """
    kind = "solo"
    state_format = STATE_FORMAT

    def __init__(self, config: TrialConfig | Mapping, images: torch.Tensor, *,
                 iterations: int | None = None, device: str | torch.device | None = None,
                 dtype: torch.dtype = torch.float32, report_every: int = 200) -> None:
        self.config = c = coerce(config)
        super().__init__(c, 1, images, iterations=iterations, device=device, dtype=dtype,
                         report_every=report_every)
        G, D = build_networks(c, torch.Generator().manual_seed(init_seed(c)))
        self.G = G.to(self.device, dtype).train()
        self.D = D.to(self.device, dtype).train()
        self.dropout_rng = torch.Generator(device=self.device).manual_seed(dropout_seed(c))
        set_dropout_generator(self.D, self.dropout_rng)
        betas = (c.beta1, c.beta2)
        self.opt_g = _optimizer(c.optimG, self.G.parameters(), c.lr, betas)
        self.opt_d = _optimizer(c.optimD, self.D.parameters(), c.lr, betas)
        self.loss = loss_entry(c.model)([c], packed=False, device=self.device, dtype=dtype)

    # The run's log (models.member_log), under the names the solo trainer always had.
    @property
    def curve(self) -> list[dict[str, float]]:
        """One row per report: the means since the last."""
        return self.logs[0].curve

    @property
    def diverged_at(self) -> int | None:
        return self.logs[0].diverged_at

    # --- one iteration ------------------------------------------------------------------
    def _step(self, idx: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        G, D, loss, S = self.G, self.D, self.loss, self.d_steps
        idx = idx.to(self.device, non_blocking=True)                   # (B,) or (S, B)
        z = z.to(self.device, self.data.dtype, non_blocking=True)      # (B, z_dim) or (S, ...)
        for s in range(S):
            x = self.data[idx if S == 1 else idx[s]]                    # (B, 1024)
            z_s = z if S == 1 else z[s]
            if s == S - 1:
                fake = G(z_s)                                           # (B, 1024)
                fake_d = fake.detach()   # the D step must not move G
            else:
                with torch.no_grad():
                    fake_d = G(z_s)
            loss_d = loss.d_loss(D, x, fake_d)
            self.opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            self.opt_d.step()

        # G step through the updated D; D's weight gradients are not needed here.
        D.requires_grad_(False)
        loss_g = loss.g_loss(D, fake)
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        self.opt_g.step()
        D.requires_grad_(True)
        return torch.stack([loss_d.detach(), loss_g.detach(), *loss.end_step()])  # (Q,)

    def _report_value(self, rows: list[dict[str, float]]) -> dict[str, float]:
        return rows[0]

    # --- results ------------------------------------------------------------------------
    def result(self) -> TrainResult:
        self.G.eval()
        set_dropout_generator(self.D, None)  # a torch.Generator should not travel with D
        return TrainResult(generator=self.G, record=self.record(), curve=list(self.curve))

    # --- checkpoints --------------------------------------------------------------------
    def _identity(self) -> tuple[str, str, Any]:
        return "key", "trial", self.config.key

    def _layout_state(self) -> dict[str, Any]:
        # The log's keys (window, last, diverged_at, curve, sums, count, reported_at,
        # iterations_run) sit at the top level: STATE_FORMAT 1, as PackTrainer writes a member.
        # "loss": the loss's training state (BEGAN's k_t, WGAN-GP's eps stream); states
        # written before it existed (GAN, EBGAN) have none and load as they did.
        return {"dropout_rng": self.dropout_rng.get_state(), **self.logs[0].state(),
                "loss": self.loss.state_dict()}

    def _load_layout_state(self, state: dict[str, Any]) -> None:
        self.dropout_rng.set_state(state["dropout_rng"])
        self.logs[0].load(state)
        self.loss.load_state_dict(state.get("loss", {}))


def train(config: TrialConfig | Mapping, images: torch.Tensor, *, iterations: int | None = None,
          device: str | torch.device | None = None, progress: Progress | None = None,
          progress_every: int = 200, dtype: torch.dtype = torch.float32) -> TrainResult:
    """Train the (G, D) pair of ``config`` on ``images`` (N, 1024) in [-1, 1] to the end."""
    trainer = Trainer(config, images, iterations=iterations, device=device, dtype=dtype,
                      report_every=progress_every)
    trainer.run(progress=progress)
    return trainer.result()
