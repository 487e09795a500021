"""Per-member Adam or SGD over packed parameters (M, ...): one update for all members.

SPEC "Training": Adam (betas per configuration, eps 1e-8, no weight decay) or SGD without
momentum. Each member's update is ``torch.optim.Adam``'s single-tensor formula (the CPU
path) or ``torch.optim.SGD``'s, with that member's lr and betas, written so that every
member's values come out bit-identical to the torch optimiser run on it alone (measured
on CPU in float32 and float64; the scalar arguments of the fused kernels are per-member
tensors here, multiplied in where the kernel multiplies them). A member can be frozen
(``active`` False): its weights and moments then stay as they are, whatever its gradient.

Members using the same optimiser are updated as contiguous runs of the member axis
(slices, no gathers); ``models.pack_plan`` orders a pack so there are few runs.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

KINDS = ("adam", "sgd")
ADAM_EPS = 1e-8


def _runs(flags: Sequence[bool]) -> list[tuple[int, int]]:
    """Maximal [start, stop) ranges of consecutive True flags."""
    runs, start = [], None
    for i, f in enumerate([*flags, False]):
        if f and start is None:
            start = i
        elif not f and start is not None:
            runs.append((start, i))
            start = None
    return runs


class PackedOptimizer:
    """Adam or SGD, chosen per member, over ``params`` whose first axis is the member.

    ``step(active)`` first refreshes the step's bias corrections (host scalars copied into
    device buffers, :meth:`prepare`), then updates (:meth:`apply`); a CUDA graph captures
    only ``apply`` and calls ``prepare`` before each replay.
    """

    def __init__(self, params: Sequence[torch.Tensor], kinds: Sequence[str],
                 lr: Sequence[float], beta1: Sequence[float], beta2: Sequence[float]) -> None:
        self.params = list(params)
        M = len(kinds)
        bad = [k for k in kinds if k not in KINDS]
        if bad or not (len(lr) == len(beta1) == len(beta2) == M):
            raise ValueError(f"one optimiser (adam|sgd), lr and betas per member; "
                             f"got {list(kinds)}")
        if any(p.shape[0] != M for p in self.params):
            raise ValueError(f"every packed parameter needs a first axis of {M} members")
        self.kinds = list(kinds)
        self.lr = [float(v) for v in lr]
        self.beta1 = [float(v) for v in beta1]
        self.beta2 = [float(v) for v in beta2]
        self.adam_runs = _runs([k == "adam" for k in kinds])
        self.sgd_runs = _runs([k == "sgd" for k in kinds])
        ref = self.params[0]
        vec = lambda v: torch.tensor(v, dtype=torch.float64).to(ref.device, ref.dtype)  # noqa: E731
        self._neg_lr = vec([-v for v in self.lr])                      # (M,)
        self._w1 = vec([1.0 - b for b in self.beta1])                  # lerp weight
        self._beta2 = vec(self.beta2)
        self._w2 = vec([1.0 - b for b in self.beta2])
        self._neg_step_size = torch.zeros_like(self._neg_lr)           # refreshed per step
        self._bc2_sqrt = torch.ones_like(self._neg_lr)
        self.steps = 0
        zeros = lambda: [[torch.zeros_like(p[a:b]) for a, b in self.adam_runs]  # noqa: E731
                         for p in self.params]
        self.exp_avg, self.exp_avg_sq = zeros(), zeros()             # per parameter, per run

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.params:
            if set_to_none:
                p.grad = None
            elif p.grad is not None:
                p.grad.zero_()

    def prepare(self) -> None:
        """Count the step and set its bias corrections, as torch.optim.Adam computes them
        (Python floats, cast to the parameters' dtype as its kernels cast scalars)."""
        self.steps += 1
        if not self.adam_runs:
            return
        s = float(self.steps)
        nss = [-(lr / (1.0 - b1 ** s)) for lr, b1 in zip(self.lr, self.beta1)]
        bc2 = [(1.0 - b2 ** s) ** 0.5 for b2 in self.beta2]
        host = torch.tensor([nss, bc2], dtype=torch.float64).to(self._neg_lr.dtype)
        self._neg_step_size.copy_(host[0], non_blocking=True)
        self._bc2_sqrt.copy_(host[1], non_blocking=True)

    @torch.no_grad()
    def apply(self, active: torch.Tensor | None = None) -> None:
        """Update every parameter; members where ``active`` (M,) is False stay unchanged."""
        for i, p in enumerate(self.params):
            g = p.grad
            if g is None:
                continue
            shape = (-1,) + (1,) * (p.dim() - 1)
            col = lambda t, a, b: t[a:b].view(shape)                    # noqa: E731
            for a, b in self.sgd_runs:
                neg_lr, pr, gr = col(self._neg_lr, a, b), p[a:b], g[a:b]
                if active is None:
                    pr.addcmul_(neg_lr, gr)                                 # p - lr * g
                else:
                    self._store(pr, pr.addcmul(neg_lr, gr), active, a, b, shape)
            for j, (a, b) in enumerate(self.adam_runs):
                m, v, pr, gr = self.exp_avg[i][j], self.exp_avg_sq[i][j], p[a:b], g[a:b]
                w1, b2, w2 = col(self._w1, a, b), col(self._beta2, a, b), col(self._w2, a, b)
                nss, bc2 = col(self._neg_step_size, a, b), col(self._bc2_sqrt, a, b)
                if active is None:
                    m.lerp_(gr, w1)
                    v.mul_(b2).addcmul_(w2 * gr, gr)
                    pr.addcdiv_(nss * m, v.sqrt().div_(bc2).add_(ADAM_EPS))
                    continue
                m_new = m.lerp(gr, w1)
                v_new = v.mul(b2).addcmul_(w2 * gr, gr)
                new = pr.addcdiv(nss * m_new, v_new.sqrt().div_(bc2).add_(ADAM_EPS))
                for dst, value in ((m, m_new), (v, v_new), (pr, new)):
                    self._store(dst, value, active, a, b, shape)

    @staticmethod
    def _store(dst: torch.Tensor, new: torch.Tensor, active: torch.Tensor, a: int, b: int,
               shape: tuple[int, ...]) -> None:
        dst.copy_(torch.where(active[a:b].view(shape), new, dst))

    def step(self, active: torch.Tensor | None = None) -> None:
        self.prepare()
        self.apply(active)

    # --- state ----------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {"steps": self.steps, "kinds": list(self.kinds), "lr": list(self.lr),
                "beta1": list(self.beta1), "beta2": list(self.beta2),
                "exp_avg": [[t.clone() for t in ts] for ts in self.exp_avg],
                "exp_avg_sq": [[t.clone() for t in ts] for ts in self.exp_avg_sq]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        mine = (self.kinds, self.lr, self.beta1, self.beta2)
        if (state["kinds"], state["lr"], state["beta1"], state["beta2"]) != mine:
            raise ValueError("the optimiser state is of other members or settings")
        self.steps = int(state["steps"])
        for dst, src in ((self.exp_avg, state["exp_avg"]), (self.exp_avg_sq, state["exp_avg_sq"])):
            for ts, ss in zip(dst, src, strict=True):
                for t, s in zip(ts, ss, strict=True):
                    t.copy_(s)

    def _adam_slot(self, k: int) -> tuple[int, int]:
        """(the Adam run holding member ``k``, k's offset in it)."""
        j, (a, _) = next((j, r) for j, r in enumerate(self.adam_runs) if r[0] <= k < r[1])
        return j, k - a

    def select(self, members: Sequence[int], params: Sequence[torch.Tensor]) -> PackedOptimizer:
        """The optimiser of ``members`` (ascending positions) alone, over ``params`` (their
        slices of this one's parameters, same order), with their moments and step count:
        each continues exactly as it would have here (``models.pack_compaction``)."""
        pick = lambda values: [values[m] for m in members]             # noqa: E731
        new = PackedOptimizer(params, pick(self.kinds), pick(self.lr), pick(self.beta1),
                              pick(self.beta2))
        new.steps = self.steps
        for mine, theirs in ((self.exp_avg, new.exp_avg), (self.exp_avg_sq, new.exp_avg_sq)):
            for i in range(len(params)):
                for j, (a, b) in enumerate(new.adam_runs):
                    slots = [self._adam_slot(m) for m in members[a:b]]
                    theirs[i][j].copy_(torch.stack([mine[i][r][o] for r, o in slots]))
        return new

    def member_optimizer(self, k: int, params: Sequence[torch.Tensor], steps: int
                         ) -> torch.optim.Optimizer:
        """Member ``k``'s state as the torch optimiser its solo run holds after ``steps``
        updates, over ``params`` (the solo network's, in the packed order)."""
        if self.kinds[k] == "sgd":
            return torch.optim.SGD(params, lr=self.lr[k], momentum=0.0)
        opt = torch.optim.Adam(params, lr=self.lr[k], betas=(self.beta1[k], self.beta2[k]))
        j, o = self._adam_slot(k)
        if steps > 0:
            for i, p in enumerate(params):
                opt.state[p] = {"step": torch.tensor(float(steps)),
                                "exp_avg": self.exp_avg[i][j][o].clone(),
                                "exp_avg_sq": self.exp_avg_sq[i][j][o].clone()}
        return opt
