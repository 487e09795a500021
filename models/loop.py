"""The training loop of the MNIST grid, shared by a solo run and a pack (SPEC "Training").

:class:`TrainLoop` owns what does not depend on the layout: the data on the device, the
budget, the batch stream, the iteration loop with its deferred read-back of the losses
(one host sync per ``CUDA_CHECK_EVERY`` iterations on CUDA, every iteration on CPU), the
reports, the per-configuration logs (``models.member_log``), attempts, records and the
common part of the state dict. A layout supplies its networks and optimisers and one
``_step``: ``models.train.Trainer`` (one configuration) and ``models.pack.PackTrainer``
(a pack: several configurations of one shape group, stacked).

A configuration whose loss turns NaN/inf ends its run "diverged" at that iteration: its
log takes nothing more, its curve ends with the means up to it, and when every
configuration has diverged the loop stops with a last report. Nothing is raised.

A scheduler may stop a configuration between two ``run`` calls (:meth:`TrainLoop.stop`,
e.g. at a rung of ASHA): it ends "stopped" at that iteration, its log takes nothing more,
and when every configuration is diverged or stopped the run is done.
"""
from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

import torch
from torch import nn

from models.config import TrialConfig, coerce
from models.losses.specs import SPECS
from models.member_log import MemberLog
from models.streams import BatchStream

CUDA_CHECK_EVERY = 50  # on CUDA, read losses back (a host sync) only this often
STATE_PARTS = ("G", "D", "opt_g", "opt_d", "stream")  # what every layout holds

Progress = Callable[[int, Any], None]  # (iteration, the report: a layout's means)


@dataclass
class TrainRecord:
    """What a training run did; plain values, ready for a results table."""
    iterations_done: int
    iterations_planned: int
    status: str                      # "ok", "diverged" or "stopped"
    diverged_at: int | None          # first iteration (1-based) with a NaN/inf loss
    final_losses: dict[str, float]   # losses of the last iteration run (non-finite if diverged)
    running_losses: dict[str, float]  # mean over the last <= RUNNING_WINDOW iterations run
    wall_time_s: float               # this attempt, setup included
    ms_per_iteration: float          # training loop only
    device: str
    attempts: list[int] = field(default_factory=lambda: [0])  # iteration each attempt started at
    iterations_run: int = 0          # iterations computed over all attempts (>= iterations_done)
    stopped_at: int | None = None    # the iteration a scheduler stopped it at

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class TrainResult:
    generator: nn.Module  # in eval mode, on the training device
    record: TrainRecord
    curve: list[dict[str, float]] = field(default_factory=list)  # report means


def default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def planned_iterations(config: TrialConfig | Mapping, n_images: int,
                       iterations: int | None = None) -> int:
    """The budget: ``iterations``, else the config's iterations, else epochs x (N // batch)."""
    return int(iterations) if iterations is not None else coerce(config).planned_iterations(n_images)


class TrainLoop:
    """``members`` configurations of one shape group (``first`` decides the data, budget,
    batches and loss names), trained on ``images`` (N, 1024) in [-1, 1].

    A layout sets ``G``, ``D``, ``opt_g``, ``opt_d`` and defines ``_step(idx, z)``, which
    returns the iteration's (members, quantities) losses, or (quantities,) for one member,
    on the device, without a host sync.
    """
    kind: ClassVar[str]          # "solo" or "pack": the state dict's "kind"
    state_format: ClassVar[int]  # version of the layout's state dict
    G: nn.Module
    D: nn.Module
    opt_g: Any
    opt_d: Any

    def __init__(self, first: TrialConfig, members: int, images: torch.Tensor, *,
                 iterations: int | None, device: str | torch.device | None,
                 dtype: torch.dtype, report_every: int) -> None:
        self.started = time.perf_counter()
        self.device = torch.device(device) if device is not None else default_device()
        self.data = images.to(device=self.device, dtype=dtype).reshape(len(images), -1)  # (N, 1024)
        self.total = planned_iterations(first, len(self.data), iterations)
        self.report_every = max(1, int(report_every))
        self.stream = BatchStream(first.seed, len(self.data), first.batch_size, first.z_dim)
        spec = SPECS[first.model]
        self.quantities = ("loss_d", "loss_g") + spec.quantities
        self.d_steps = spec.d_steps_of(first)  # batches per iteration: one per D step
        self.logs = [MemberLog(len(self.quantities)) for _ in range(members)]
        # The configurations whose losses ``_step`` returns, in its order (a pack drops
        # the ones it no longer computes: models.pack_compaction).
        self.columns = list(range(members))
        self.iteration = 0
        self.attempts, self.iterations_run = [0], 0
        self._pending: list[torch.Tensor] = []   # (M, Q) or (Q,) values not yet read back
        self._reported_at = 0
        self.loop_seconds = 0.0

    @property
    def members(self) -> int:
        return len(self.logs)

    @property
    def diverged(self) -> bool:
        """Every configuration has diverged."""
        return all(log.diverged_at is not None for log in self.logs)

    @property
    def finished(self) -> bool:
        """Every configuration has diverged or been stopped."""
        return not any(log.running for log in self.logs)

    @property
    def done(self) -> bool:
        return self.iteration >= self.total or self.finished

    # --- what a layout supplies ---------------------------------------------------------
    def _step(self, idx: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def _stepper(self) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
        return self._step

    def _on_divergence(self) -> None:
        """Called after a read-back that found a configuration's first non-finite loss."""

    def _on_stop(self, k: int) -> None:
        """Called when configuration ``k`` has been stopped (:meth:`stop`)."""

    def _report_value(self, rows: list[dict[str, float]]) -> Any:
        """What ``progress`` receives: one dict of means per configuration."""
        return rows

    # --- reading losses back and reporting ----------------------------------------------
    def _flush(self, upto: int) -> None:
        """Read pending values back (one sync); account each log up to its divergence."""
        if not self._pending:
            return
        P = len(self._pending)
        cols = self.columns
        rows = torch.stack(self._pending).double().cpu().view(P, len(cols), -1).tolist()
        first = upto - P + 1                                             # rows: (P, M, Q)
        self._pending.clear()
        diverged = False
        for offset, row in enumerate(rows):
            for k, values in zip(cols, row):
                log = self.logs[k]
                if log.running and log.add(first + offset, values):
                    log.report(first + offset, self.quantities)      # the end of its run
                    diverged = True
        if diverged:
            self._on_divergence()

    def _report(self, it: int, progress: Progress | None) -> None:
        for log in self.logs:
            if log.running:
                log.report(it, self.quantities)
        self._reported_at = it
        if progress is not None:
            progress(it, self._report_value(self._last_rows()))

    def _last_rows(self) -> list[dict[str, float]]:
        return [{q: v for q, v in (log.curve[-1] if log.curve else {}).items() if q != "iteration"}
                for log in self.logs]

    # --- the loop -----------------------------------------------------------------------
    def _next_batches(self) -> tuple[torch.Tensor, torch.Tensor]:
        """One iteration's batches: (B,), (B, z_dim) for one D step per G step, else
        ``d_steps`` consecutive draws of the stream stacked, (S, B), (S, B, z_dim)."""
        if self.d_steps == 1:
            return self.stream.next()
        draws = [self.stream.next() for _ in range(self.d_steps)]
        return torch.stack([i for i, _ in draws]), torch.stack([z for _, z in draws])

    def run(self, until: int | None = None, *, progress: Progress | None = None,
            on_iteration: Callable[[int], None] | None = None) -> None:
        """Train up to iteration ``until`` (default: the budget), or until every
        configuration diverged or was stopped.

        Every ``report_every`` iterations (and at the end) each running configuration's
        means since its last report go to its curve, and ``progress(iteration, report)``
        gets them (a stopped configuration: its last row). ``on_iteration(iteration)`` runs
        after every iteration (e.g. to checkpoint), except one at which the run diverged.
        """
        stop = self.total if until is None else min(int(until), self.total)
        check_every = 1 if self.device.type == "cpu" else CUDA_CHECK_EVERY
        step = self._stepper()
        loop_start = time.perf_counter()
        finished_before = self.finished
        while self.iteration < stop and not self.finished:
            idx, z = self._next_batches()
            self.iteration += 1
            self.iterations_run += 1
            it = self.iteration
            self._pending.append(step(idx, z))
            report = it % self.report_every == 0 or it == self.total
            if it % check_every == 0 or report or it == stop:
                self._flush(it)
                if self.finished:
                    break
                if report:
                    self._report(it, progress)
            if on_iteration is not None:
                on_iteration(it)
        self._flush(self.iteration)
        if self.finished and not finished_before and self._reported_at != self.iteration:
            self._reported_at = self.iteration       # the end of a diverged run: a last report
            if progress is not None:
                progress(self.iteration, self._report_value(self._last_rows()))
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        self.loop_seconds += time.perf_counter() - loop_start

    # --- the scheduler's decision -------------------------------------------------------
    def stop(self, k: int) -> None:
        """Configuration ``k`` stops now, at ``self.iteration``: its log takes nothing more
        (its curve ends with the means since its last report), it is frozen, and its record
        says "stopped" at this iteration. A no-op for one diverged or already stopped."""
        self._flush(self.iteration)
        log = self.logs[k]
        if not log.running:
            return
        log.stop(self.iteration, self.quantities)
        self._on_stop(k)

    # --- results ------------------------------------------------------------------------
    def member_iterations(self, k: int) -> int:
        """Iterations configuration ``k`` trained: up to its divergence or its stop, else
        the loop's."""
        log = self.logs[k]
        end = log.diverged_at if log.diverged_at is not None else log.stopped_at
        return self.iteration if end is None else end

    def record(self, k: int = 0) -> TrainRecord:
        """Configuration ``k``'s record; wall time and ms/iteration are the loop's shared by
        its configurations (the machine time each cost)."""
        b = self.logs[k]
        running = ([sum(col) / len(col) for col in zip(*b.window)] if b.window
                   else [math.nan, math.nan])
        per_member = 1000.0 * self.loop_seconds / max(self.iteration - self.attempts[-1], 1)
        return TrainRecord(
            iterations_done=self.member_iterations(k), iterations_planned=self.total,
            status=("diverged" if b.diverged_at is not None else
                    "stopped" if b.stopped_at is not None else "ok"), diverged_at=b.diverged_at,
            final_losses={"loss_d": b.last[0], "loss_g": b.last[1]},
            running_losses={"loss_d": running[0], "loss_g": running[1]},
            wall_time_s=(time.perf_counter() - self.started) / self.members,
            ms_per_iteration=per_member / self.members, device=str(self.device),
            attempts=list(self.attempts), iterations_run=b.iterations_run,
            stopped_at=b.stopped_at)

    # --- checkpoints --------------------------------------------------------------------
    def _identity(self) -> tuple[str, str, Any]:
        """(the state key naming what was trained, its noun in messages, its value)."""
        raise NotImplementedError

    def _layout_state(self) -> dict[str, Any]:
        raise NotImplementedError

    def _load_layout_state(self, state: dict[str, Any]) -> None:
        raise NotImplementedError

    def state_dict(self) -> dict[str, Any]:
        """Everything that determines the rest of the run (plain tensors and numbers)."""
        self._flush(self.iteration)
        name, _, value = self._identity()
        return {"format": self.state_format, "kind": self.kind, name: value,
                "iteration": self.iteration, "total": self.total,
                **{part: getattr(self, part).state_dict() for part in STATE_PARTS},
                "reported_at": self._reported_at, "attempts": list(self.attempts),
                "iterations_run": self.iterations_run, **self._layout_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from ``state``: a new attempt starts at its iteration."""
        if state.get("format") != self.state_format or state.get("kind") != self.kind:
            raise ValueError(f"not a {self.kind} training state of format {self.state_format}")
        name, noun, value = self._identity()
        if state[name] != value or state["total"] != self.total:
            raise ValueError(f"the state is of {noun} {state[name]} ({state['total']} "
                             f"iterations), not {value} ({self.total})")
        for part in STATE_PARTS:
            getattr(self, part).load_state_dict(state[part])
        self._load_layout_state(state)
        self.iteration = int(state["iteration"])
        self._reported_at = int(state["reported_at"])
        self.attempts = [*state["attempts"], self.iteration]
        self.iterations_run = int(state["iterations_run"])
