"""Train a pack: several configurations of one shape group in one process (SPEC "Packs").

Members share the batches, z and initial weights (``models.streams``); their networks
are stacked (``models.packed_nets``), their losses computed per member (the model's
packed ``models.losses.base.Loss``, which also holds every per-member loss setting and
state) and summed, so each member receives exactly its own gradient,
and each keeps its optimiser (``models.packed_optim``), batch-norm statistics, dropout
stream and divergence. :class:`PackTrainer` is the packed layout of the loop
``models.train.Trainer`` also runs (``models.loop``) and gives every member the result of
its solo run: bit-identical on CPU (tests).

A member whose loss turns NaN/inf is recorded diverged at that iteration and frozen from
then on (weights, moments, running statistics), through a device-side mask: no host sync.
A member a scheduler stops (``stop(k)``, e.g. at an ASHA rung) is frozen the same way.
Once at most half of the members in its tensors still run, the pack compacts
(``models.pack_compaction``): the others leave its tensors, so its cost falls with them,
and stay available from the host (networks, results, records, solo states).
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch

from models import pack_compaction
from models.config import TrialConfig
from models.losses import loss_entry
from models.loop import TrainLoop, TrainResult
from models.pack_plan import check_pack
from models.packed_nets import build_packed_networks, extract_member, solo_networks
from models.packed_optim import PackedOptimizer
from models.streams import dropout_seed
from models.train import Trainer

PACK_STATE_FORMAT = 2   # 2: + the members in the tensors ("columns") and removed ones
GRAPH_WARMUP = 3  # eager iterations (on a side stream) before a CUDA graph is captured


class PackTrainer(TrainLoop):
    """The (G, D) pairs of ``configs`` (one shape group), trained together on ``images``.

    ``cuda_graph``: on CUDA, capture the packed step once and replay it (fewer launches);
    off by default: not yet measured on a GPU. ``progress(iteration, rows)`` gets one dict
    of means per member (a stopped member: its last row).
    """
    kind = "pack"
    state_format = PACK_STATE_FORMAT

    def __init__(self, configs: Sequence[TrialConfig | Mapping], images: torch.Tensor, *,
                 iterations: int | None = None, device: str | torch.device | None = None,
                 dtype: torch.dtype = torch.float32, report_every: int = 200,
                 cuda_graph: bool = False) -> None:
        self.configs = cs = check_pack(configs)
        super().__init__(cs[0], len(cs), images, iterations=iterations, device=device,
                         dtype=dtype, report_every=report_every)
        self.G, self.D = build_packed_networks(cs, self.device, dtype)
        self.dropout_rngs = [torch.Generator(device=self.device).manual_seed(dropout_seed(cs[0]))
                             for _ in self.D.dropout_rates]
        self.D.dropout_generators = list(self.dropout_rngs)
        hyper = ([x.lr for x in cs], [x.beta1 for x in cs], [x.beta2 for x in cs])
        self.opt_g = PackedOptimizer(list(self.G.parameters()), [x.optimG for x in cs], *hyper)
        self.opt_d = PackedOptimizer(list(self.D.parameters()), [x.optimD for x in cs], *hyper)
        # Every per-member loss setting and state (margin, pt_weight, k_t, ...): one object.
        self.loss = loss_entry(cs[0].model)(cs, packed=True, device=self.device, dtype=dtype)
        self._removed: dict[int, dict[str, Any]] = {}  # solo states of compacted-out members
        self.active = torch.ones(len(cs), dtype=torch.bool, device=self.device)    # (M,)
        # On CPU losses are read every iteration, so the host knows when masking starts;
        # elsewhere the device-side mask is always applied.
        self._masked = self.device.type != "cpu"
        # Not for a loss drawing host randomness in its step (WGAN-GP's eps), nor for
        # several D steps an iteration: the graph prepares one optimiser step per replay.
        self.cuda_graph = (bool(cuda_graph) and self.device.type == "cuda"
                           and self.loss.cuda_graph_ok and self.d_steps == 1)
        self._graph: Any = None
        self._warm = 0

    # --- one iteration ------------------------------------------------------------------
    def _step(self, idx: torch.Tensor, z: torch.Tensor, prepare: bool = True) -> torch.Tensor:
        G, D, loss, S = self.G, self.D, self.loss, self.d_steps
        mask = self.active if self._masked else None
        G.member_mask = D.member_mask = mask
        idx = idx.to(self.device, non_blocking=True)                   # (B,) or (S, B)
        z = z.to(self.device, self.data.dtype, non_blocking=True)      # shared by members
        for s in range(S):
            x = self.data[idx if S == 1 else idx[s]]                    # (B, 1024) shared
            z_s = z if S == 1 else z[s]
            if s == S - 1:
                fake = G(z_s)                                           # (M, B, 1024)
                fake_d = fake.detach()   # the D step must not move G
            else:
                with torch.no_grad():
                    fake_d = G(z_s)
            loss_d = loss.d_loss(D, x, fake_d)                          # (M,)
            self.opt_d.zero_grad(set_to_none=True)
            loss_d.sum().backward()    # d(sum)/d(loss_k) = 1: member k gets its own gradient
            if prepare:
                self.opt_d.prepare()
            self.opt_d.apply(mask)

        # G step through the updated D; D's weight gradients are not needed here.
        D.requires_grad_(False)
        loss_g = loss.g_loss(D, fake)
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.sum().backward()
        if prepare:
            self.opt_g.prepare()
        self.opt_g.apply(mask)
        D.requires_grad_(True)
        extra = loss.end_step(mask)
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

    def _stepper(self) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
        return self._graphed_step if self.cuda_graph else self._step

    def _on_divergence(self) -> None:
        self._masked = True  # from now on the host knows a member must stay frozen
        self._compact_if_due()

    def _on_stop(self, k: int) -> None:
        self.active[self.columns.index(k)] = False
        self._masked = True
        self._compact_if_due()

    def _compact_if_due(self) -> None:
        if pack_compaction.due(self):
            pack_compaction.compact(self)

    # --- results ------------------------------------------------------------------------
    def member_networks(self, k: int) -> tuple[torch.nn.Module, torch.nn.Module]:
        """Member ``k``'s (G, D) as solo networks (models.nets classes, solo state_dicts),
        in training mode on the training device."""
        G, D = solo_networks(self.configs[k], self.device, self.data.dtype)
        if k in self._removed:
            G.load_state_dict(self._removed[k]["G"])
            D.load_state_dict(self._removed[k]["D"])
            return G, D
        n, at = self.member_iterations(k), self.columns.index(k)
        g, d = self.loss.forwards  # training forwards per iteration (batch norm counts them)
        return extract_member(self.G, at, G, g * n), extract_member(self.D, at, D, d * n)

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
    def _identity(self) -> tuple[str, str, Any]:
        return "keys", "the pack", [c.key for c in self.configs]

    def _layout_state(self) -> dict[str, Any]:
        return {"dropout_rngs": [g.get_state() for g in self.dropout_rngs],
                "active": self.active.cpu().clone(), "masked": self._masked,
                "logs": [b.state() for b in self.logs], "loss": self.loss.state_dict(),
                "columns": list(self.columns), "removed": dict(self._removed)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from ``state`` (format 2, or 1: a pack never compacted); a compacted
        pack's tensors are first reduced to the members it holds."""
        if state.get("kind") == self.kind and state.get("format") == 1:
            state = {**state, "format": PACK_STATE_FORMAT,
                     "columns": list(range(len(state["keys"]))), "removed": {}}
        if (state.get("format") == self.state_format and state.get("kind") == self.kind
                and state["keys"] == self._identity()[2] and state["columns"] != self.columns):
            self._flush(self.iteration)
            pack_compaction.keep_members(self, state["columns"], snapshot=False)
        super().load_state_dict(state)

    def _load_layout_state(self, state: dict[str, Any]) -> None:
        self._removed = dict(state["removed"])
        for g, s in zip(self.dropout_rngs, state["dropout_rngs"], strict=True):
            g.set_state(s)
        self.active.copy_(state["active"])
        self._masked = self._masked or bool(state["masked"])
        for b, s in zip(self.logs, state["logs"], strict=True):
            b.load(s)
        self.loss.load_state_dict(state.get("loss", {}))  # format 1 before it: GAN/EBGAN

    def member_state_dict(self, k: int) -> dict[str, Any]:
        """Member ``k`` as a solo Trainer state (models.train), e.g. to finish it alone.

        Exact for a member still running; a diverged member's state is marked diverged,
        so a Trainer loaded from it does not train; so is a stopped one's. A member the
        pack compacted out: its state kept on the host then (streams at that iteration)."""
        self._flush(self.iteration)
        if k in self._removed:
            return {**self._removed[k], "attempts": list(self.attempts)}
        c, b, n = self.configs[k], self.logs[k], self.member_iterations(k)
        at = self.columns.index(k)
        G, D = self.member_networks(k)
        opt_g = self.opt_g.member_optimizer(at, list(G.parameters()), n)
        opt_d = self.opt_d.member_optimizer(at, list(D.parameters()), n * self.d_steps)
        rates = self.D.dropout_rates
        rate = c.dropout if c.dropoutD else 0.0
        rng = (self.dropout_rngs[rates.index(rate)].get_state() if rate in rates else
               torch.Generator(device=self.device).manual_seed(dropout_seed(c)).get_state())
        return {"format": Trainer.state_format, "kind": Trainer.kind, "key": c.key,
                "iteration": n, "total": self.total, "G": G.state_dict(), "D": D.state_dict(),
                "opt_g": opt_g.state_dict(), "opt_d": opt_d.state_dict(),
                "stream": self.stream.state_dict(), "dropout_rng": rng,
                **b.state(), "attempts": list(self.attempts), "loss": self.loss.member_state(at)}
