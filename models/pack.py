"""Train a pack: several configurations of one shape group in one process (SPEC "Packs").

Members share the batches, z and initial weights (``models.streams``); their networks
are stacked (``models.packed_nets``), their losses computed per member
(``models.packed_losses``) and summed, so each member receives exactly its own gradient,
and each keeps its optimiser (``models.packed_optim``), batch-norm statistics, dropout
stream and divergence. :class:`PackTrainer` has :class:`models.train.Trainer`'s interface
and gives every member the result of its solo run: bit-identical on CPU (tests).

A member whose loss turns NaN/inf is recorded diverged at that iteration and frozen from
then on (weights, moments, running statistics), through a device-side mask: no host sync.
"""
from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch

from models import packed_losses as L
from models.config import TrialConfig
from models.pack_plan import check_pack
from models.pack_record import MemberLog
from models.packed_nets import build_packed_networks, extract_member, solo_networks
from models.packed_optim import PackedOptimizer
from models.streams import BatchStream, dropout_seed
from models.train import (CUDA_CHECK_EVERY, STATE_FORMAT, TrainRecord, TrainResult,
                          default_device, load_parts, parts_state, planned_iterations)

PACK_STATE_FORMAT = 1
GRAPH_WARMUP = 3  # eager iterations (on a side stream) before a CUDA graph is captured

PackProgress = Callable[[int, list[dict[str, float]]], None]


class PackTrainer:
    """The (G, D) pairs of ``configs`` (one shape group), trained together on ``images``.

    ``cuda_graph``: on CUDA, capture the packed step once and replay it (fewer launches);
    off by default: not yet measured on a GPU.
    """

    def __init__(self, configs: Sequence[TrialConfig | Mapping], images: torch.Tensor, *,
                 iterations: int | None = None, device: str | torch.device | None = None,
                 dtype: torch.dtype = torch.float32, report_every: int = 200,
                 cuda_graph: bool = False) -> None:
        self.started = time.perf_counter()
        self.configs = cs = check_pack(configs)
        c = cs[0]
        self.device = torch.device(device) if device is not None else default_device()
        self.data = images.to(device=self.device, dtype=dtype).reshape(len(images), -1)  # (N, 1024)
        self.total = planned_iterations(c, len(self.data), iterations)
        self.report_every = max(1, int(report_every))
        self.stream = BatchStream(c.seed, len(self.data), c.batch_size, c.z_dim)
        self.G, self.D = build_packed_networks(cs, self.device, dtype)
        self.dropout_rngs = [torch.Generator(device=self.device).manual_seed(dropout_seed(c))
                             for _ in self.D.dropout_rates]
        self.D.dropout_generators = list(self.dropout_rngs)
        hyper = ([x.lr for x in cs], [x.beta1 for x in cs], [x.beta2 for x in cs])
        self.opt_g = PackedOptimizer(list(self.G.parameters()), [x.optimG for x in cs], *hyper)
        self.opt_d = PackedOptimizer(list(self.D.parameters()), [x.optimD for x in cs], *hyper)
        vec = lambda v: torch.tensor(v, dtype=torch.float64).to(self.device, dtype)  # noqa: E731
        self.margin = vec([x.margin for x in cs]).view(-1, 1)                      # (M, 1)
        pt = [k for k, x in enumerate(cs) if x.pt_weight != 0.0]
        self.pt_members = torch.tensor(pt, dtype=torch.long, device=self.device) if pt else None
        self.pt_weight = vec([cs[k].pt_weight for k in pt])                        # (P,)
        self.quantities = ("loss_d", "loss_g") + (("energy_real", "energy_fake")
                                                  if c.model == "ebgan" else ())
        self.active = torch.ones(len(cs), dtype=torch.bool, device=self.device)    # (M,)
        # On CPU losses are read every iteration, so the host knows when masking starts;
        # elsewhere the device-side mask is always applied.
        self._masked = self.device.type != "cpu"
        self.logs = [MemberLog(len(self.quantities)) for _ in cs]
        self.iteration = 0
        self.attempts, self.iterations_run = [0], 0
        self._pending: list[torch.Tensor] = []   # (M, Q) values not yet read back
        self._reported_at = 0
        self.loop_seconds = 0.0
        self.cuda_graph = bool(cuda_graph) and self.device.type == "cuda"
        self._graph: Any = None
        self._warm = 0

    @property
    def members(self) -> int:
        return len(self.configs)

    @property
    def done(self) -> bool:
        return self.iteration >= self.total or all(log.diverged_at is not None for log in self.logs)

    # --- one iteration ------------------------------------------------------------------
    def _step(self, idx: torch.Tensor, z: torch.Tensor, prepare: bool = True) -> torch.Tensor:
        G, D = self.G, self.D
        mask = self.active if self._masked else None
        G.member_mask = D.member_mask = mask
        x = self.data[idx.to(self.device, non_blocking=True)]           # (B, 1024) shared
        z = z.to(self.device, self.data.dtype, non_blocking=True)      # (B, z_dim) shared
        fake = G(z)                                                     # (M, B, 1024)

        # D step on a detached copy: this loss must not move G.
        fake_d = fake.detach()
        if self.configs[0].model == "gan":
            loss_d = L.gan_d_loss(D(x), D(fake_d))                      # (M,)
            extra: tuple[torch.Tensor, ...] = ()
        else:
            recon_real, _ = D(x)                                        # (M, B, 1024)
            recon_fake, _ = D(fake_d)
            e_real, e_fake = L.energy(x, recon_real), L.energy(fake_d, recon_fake)  # (M, B)
            loss_d = L.ebgan_d_loss(e_real, e_fake, self.margin)
            extra = (e_real.detach().mean(1), e_fake.detach().mean(1))
        self.opt_d.zero_grad(set_to_none=True)
        loss_d.sum().backward()        # d(sum)/d(loss_k) = 1: member k gets its own gradient
        if prepare:
            self.opt_d.prepare()
        self.opt_d.apply(mask)

        # G step through the updated D; D's weight gradients are not needed here.
        D.requires_grad_(False)
        if self.configs[0].model == "gan":
            loss_g = L.gan_g_loss(D(fake))
        else:
            recon, code = D(fake)
            loss_g = L.ebgan_g_loss(L.energy(fake, recon), code, self.pt_weight, self.pt_members)
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.sum().backward()
        if prepare:
            self.opt_g.prepare()
        self.opt_g.apply(mask)
        D.requires_grad_(True)
        values = torch.stack([loss_d.detach(), loss_g.detach(), *extra], dim=1)   # (M, Q)
        self.active &= torch.isfinite(values[:, 0]) & torch.isfinite(values[:, 1])
        return values

    def _graphed_step(self, idx: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """The step as a CUDA graph: a few eager iterations on a side stream (the warm-up
        capture needs), then one capture, replayed with the inputs copied in."""
        if self._graph is None and self._warm < GRAPH_WARMUP:
            self._warm += 1
            side = torch.cuda.Stream(self.device)
            side.wait_stream(torch.cuda.current_stream(self.device))
            with torch.cuda.stream(side):
                out = self._step(idx, z)
            torch.cuda.current_stream(self.device).wait_stream(side)
            return out
        if self._graph is None:
            self._static = (idx.to(self.device), z.to(self.device, self.data.dtype))
        self._static[0].copy_(idx, non_blocking=True)
        self._static[1].copy_(z, non_blocking=True)
        self.opt_d.prepare()
        self.opt_g.prepare()
        if self._graph is None:
            graph = torch.cuda.CUDAGraph()
            for rng in self.dropout_rngs:
                graph.register_generator_state(rng)
            with torch.cuda.graph(graph):
                self._static_out = self._step(*self._static, prepare=False)
            self._graph = graph
        self._graph.replay()
        return self._static_out.clone()

    def _flush(self, upto: int) -> None:
        """Read pending values back (one sync); account each member up to its divergence."""
        if not self._pending:
            return
        rows = torch.stack(self._pending).double().cpu().tolist()       # (P, M, Q)
        first = upto - len(rows) + 1
        self._pending.clear()
        for offset, row in enumerate(rows):
            for log, values in zip(self.logs, row):
                if log.diverged_at is None and log.add(first + offset, values):
                    log.report(first + offset, self.quantities)      # the end of its run
                    self._masked = True

    def _report(self, it: int, progress: PackProgress | None) -> None:
        for log in self.logs:
            if log.diverged_at is None:
                log.report(it, self.quantities)
        self._reported_at = it
        if progress is not None:
            progress(it, self._last_rows())

    def _last_rows(self) -> list[dict[str, float]]:
        return [{q: v for q, v in log.curve[-1].items() if q != "iteration"} for log in self.logs]

    # --- the loop -----------------------------------------------------------------------
    def run(self, until: int | None = None, *, progress: PackProgress | None = None,
            on_iteration: Callable[[int], None] | None = None) -> None:
        """Train up to iteration ``until`` (default: the budget) or until every member diverged.

        Every ``report_every`` iterations (and at the end) each running member's means
        since its last report go to its curve, and ``progress(iteration, rows)`` gets one
        dict per member: those means, or a stopped member's last row.
        """
        stop = self.total if until is None else min(int(until), self.total)
        check_every = 1 if self.device.type == "cpu" else CUDA_CHECK_EVERY
        step = self._graphed_step if self.cuda_graph else self._step
        loop_start = time.perf_counter()
        while self.iteration < stop and not self.done:
            idx, z = self.stream.next()
            self.iteration += 1
            self.iterations_run += 1
            it = self.iteration
            self._pending.append(step(idx, z))
            report = it % self.report_every == 0 or it == self.total
            if it % check_every == 0 or report or it == stop:
                self._flush(it)
                if self.done and it < self.total:
                    break
                if report:
                    self._report(it, progress)
            if on_iteration is not None:
                on_iteration(it)
        self._flush(self.iteration)
        if self.done and self._reported_at != self.iteration and progress is not None:
            self._reported_at = self.iteration     # every member diverged: a last report
            progress(self.iteration, self._last_rows())
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        self.loop_seconds += time.perf_counter() - loop_start

    # --- results ------------------------------------------------------------------------
    def member_iterations(self, k: int) -> int:
        """Iterations member ``k`` trained: up to its divergence, else the pack's."""
        return self.logs[k].diverged_at or self.iteration

    def member_networks(self, k: int) -> tuple[torch.nn.Module, torch.nn.Module]:
        """Member ``k``'s (G, D) as solo networks (models.nets classes, solo state_dicts),
        in training mode on the training device."""
        G, D = solo_networks(self.configs[k], self.device, self.data.dtype)
        n = self.member_iterations(k)
        # G runs one training forward an iteration, D three: real, fake (D step), fake (G step).
        return extract_member(self.G, k, G, n), extract_member(self.D, k, D, 3 * n)

    def record(self, k: int) -> TrainRecord:
        """Member ``k``'s record as its solo run writes it; wall time and ms/iteration are
        the pack's shared by its members (the machine time it cost)."""
        b = self.logs[k]
        running = ([sum(col) / len(col) for col in zip(*b.window)] if b.window
                   else [math.nan, math.nan])
        per_member = 1000.0 * self.loop_seconds / max(self.iteration - self.attempts[-1], 1)
        return TrainRecord(
            iterations_done=self.member_iterations(k), iterations_planned=self.total,
            status="diverged" if b.diverged_at is not None else "ok", diverged_at=b.diverged_at,
            final_losses={"loss_d": b.last[0], "loss_g": b.last[1]},
            running_losses={"loss_d": running[0], "loss_g": running[1]},
            wall_time_s=(time.perf_counter() - self.started) / self.members,
            ms_per_iteration=per_member / self.members, device=str(self.device),
            attempts=list(self.attempts), iterations_run=b.iterations_run)

    def curve(self, k: int) -> list[dict[str, float]]:
        return self.logs[k].curve

    def results(self) -> list[TrainResult]:
        """One TrainResult per member, in the order of ``configs``; generators in eval mode."""
        out = []
        for k in range(self.members):
            G, _ = self.member_networks(k)
            out.append(TrainResult(generator=G.eval(), record=self.record(k),
                                   curve=list(self.curve(k))))
        return out

    # --- checkpoints --------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Everything that determines the rest of the pack's run."""
        self._flush(self.iteration)
        return {"format": PACK_STATE_FORMAT, "kind": "pack",
                "keys": [c.key for c in self.configs], "iteration": self.iteration,
                "total": self.total, **parts_state(self),
                "dropout_rngs": [g.get_state() for g in self.dropout_rngs],
                "active": self.active.cpu().clone(), "masked": self._masked,
                "logs": [b.state() for b in self.logs], "reported_at": self._reported_at,
                "attempts": list(self.attempts), "iterations_run": self.iterations_run}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from ``state``: a new attempt starts at its iteration."""
        if state.get("format") != PACK_STATE_FORMAT or state.get("kind") != "pack":
            raise ValueError(f"not a pack training state of format {PACK_STATE_FORMAT}")
        keys = [c.key for c in self.configs]
        if state["keys"] != keys or state["total"] != self.total:
            raise ValueError(f"the state is of the pack {state['keys']} ({state['total']} "
                             f"iterations), not {keys} ({self.total})")
        load_parts(self, state)
        for g, s in zip(self.dropout_rngs, state["dropout_rngs"], strict=True):
            g.set_state(s)
        self.active.copy_(state["active"])
        self._masked = self._masked or bool(state["masked"])
        for b, s in zip(self.logs, state["logs"], strict=True):
            b.load(s)
        self.iteration = int(state["iteration"])
        self._reported_at = int(state["reported_at"])
        self.attempts = [*state["attempts"], self.iteration]
        self.iterations_run = int(state["iterations_run"])

    def member_state_dict(self, k: int) -> dict[str, Any]:
        """Member ``k`` as a solo Trainer state (models.train), e.g. to finish it alone.

        Exact for a member still running; a diverged member's state is marked diverged,
        so a Trainer loaded from it does not train."""
        self._flush(self.iteration)
        c, b, n = self.configs[k], self.logs[k], self.member_iterations(k)
        G, D = self.member_networks(k)
        opt_g = self.opt_g.member_optimizer(k, list(G.parameters()), n)
        opt_d = self.opt_d.member_optimizer(k, list(D.parameters()), n)
        rates = self.D.dropout_rates
        rate = c.dropout if c.dropoutD else 0.0
        rng = (self.dropout_rngs[rates.index(rate)].get_state() if rate in rates else
               torch.Generator(device=self.device).manual_seed(dropout_seed(c)).get_state())
        return {"format": STATE_FORMAT, "kind": "solo", "key": c.key, "iteration": n,
                "total": self.total, "G": G.state_dict(), "D": D.state_dict(),
                "opt_g": opt_g.state_dict(), "opt_d": opt_d.state_dict(),
                "stream": self.stream.state_dict(), "dropout_rng": rng,
                **b.state(), "attempts": list(self.attempts)}
