"""Correctness of the packed trainer on the device, in float32 (SPEC "Packs").

On the CPU a pack member is bit-identical to its solo run (tests/models/test_pack.py), so
there the tolerance is 0. On CUDA the pack's batched matmuls and the solo run's matmuls
sum in different orders, so their float32 results differ by rounding that training then
carries along. The tolerance is measured, not assumed: the same solo run computed on the
CPU and on the device is a second correct float32 implementation, and a member may be at
most TOLERANCE_FACTOR times as far from its device solo run as that (and never need to be
closer than FLOOR_ULPS float32 ulps). Only optimisation settings that are not chaotic are
compared (tests/models/test_pack.py's docstring: others amplify any rounding to O(1)).
"""
from __future__ import annotations

import io

import torch

from bench.gpu_common import CALM, Budget, Part, gan, relative_gap, state_gap
from models.pack import PackTrainer
from models.train import Trainer

TOLERANCE_FACTOR = 4.0
FLOOR_ULPS = 64
DIVERGES = dict(optimD="sgd", optimG="sgd", lr=1e30, dropoutD=False)   # NaN at iteration 1

COLUMNS = [("check", "check", "", 44), ("gap", "rel. gap", ".2e", 9),
           ("tolerance", "tolerance", ".2e", 9), ("exact", "bit-identical", "", 13),
           ("verdict", "verdict", "", 7)]


def _configs(budget: Budget, settings: list[dict]) -> list:
    return [gan(budget.check_arch, **s, iterations=budget.check_iterations,
                batch_size=budget.check_batch, seed=5) for s in settings]


def _gap(G, D, record, ref: Trainer) -> float:
    """The largest relative gap of (G, D, final losses) to the solo run ``ref``."""
    losses = relative_gap(torch.tensor(list(record.final_losses.values())),
                          torch.tensor(list(ref.record().final_losses.values())))
    return max(state_gap(G.state_dict(), ref.G.state_dict()),
               state_gap(D.state_dict(), ref.D.state_dict()), losses)


def _member_gap(pack: PackTrainer, k: int, ref: Trainer) -> float:
    return _gap(*pack.member_networks(k), pack.record(k), ref)


def _solo(c, images, device) -> Trainer:
    t = Trainer(c, images.to(device), device=device)
    t.run()
    return t


def _verdict(part: Part, check: str, gap: float, tol: float) -> None:
    part.row({"check": check, "gap": gap, "tolerance": tol, "exact": "yes" if gap == 0 else "no",
              "verdict": "pass" if gap <= tol else "FAIL"})


def run_correctness(part: Part, budget: Budget, images: torch.Tensor,
                    device: torch.device) -> None:
    part.title(f"correctness on {device} (float32, {budget.check_iterations} iterations, "
               f"GAN {budget.check_arch}, batch {budget.check_batch})", COLUMNS)
    images = images.to(device)
    cs = _configs(budget, CALM)
    solos = [_solo(c, images, device) for c in cs]
    if device.type == "cpu":
        tol, why = 0.0, "the CPU contract: bit-identical"
    else:
        cpu = torch.device("cpu")
        spread = max(_gap(t.G, t.D, t.record(), s)
                     for t, s in ((_solo(c, images, cpu), s) for c, s in zip(cs, solos)))
        tol = max(TOLERANCE_FACTOR * spread, FLOOR_ULPS * torch.finfo(torch.float32).eps)
        why = (f"{TOLERANCE_FACTOR:g} x the CPU-vs-{device.type} gap of the solo runs "
               f"({spread:.2e}), at least {FLOOR_ULPS} ulps")
    part.info["tolerance"] = {"value": tol, "why": why}
    part.log(f"  tolerance {tol:.2e}: {why}", flush=True)

    part.need(5)
    pack = PackTrainer(cs, images, device=device)
    pack.run()
    for k, (c, ref) in enumerate(zip(cs, solos)):
        _verdict(part, f"member {k} vs solo ({c.optimD}/{c.optimG} lr {c.lr:g}"
                 f"{' drop' if c.dropoutD else ''})", _member_gap(pack, k, ref), tol)

    part.need(5)   # a diverging member: recorded at its solo iteration, the others untouched
    bad = _configs(budget, [DIVERGES])[0]
    with_bad = PackTrainer([cs[0], bad, cs[2]], images, device=device)
    with_bad.run()
    solo_bad = _solo(bad, images, device)
    at, want = with_bad.record(1).diverged_at, solo_bad.record().diverged_at
    same_at = at is not None and at == want
    part.row({"check": f"diverging member stops at {at} (solo: {want})",
              "exact": "yes" if same_at else "no", "verdict": "pass" if same_at else "FAIL"})
    for k, j in ((0, 0), (2, 2)):
        _verdict(part, f"member {j} beside the diverged one vs solo",
                 _member_gap(with_bad, k, solos[j]), tol)

    part.need(5)   # resume: stop halfway, save, load into a fresh pack, finish
    half = budget.check_iterations // 2
    first = PackTrainer(cs, images, device=device)
    first.run(until=half)
    buffer = io.BytesIO()
    torch.save(first.state_dict(), buffer)
    buffer.seek(0)
    second = PackTrainer(cs, images, device=device)
    second.load_state_dict(torch.load(buffer, weights_only=False))
    second.run()
    gap = max(state_gap(a.state_dict(), b.state_dict()) for k in range(len(cs))
              for a, b in zip(second.member_networks(k), pack.member_networks(k)))
    _verdict(part, f"resumed at {half} vs uninterrupted", gap, tol)

    part.need(5)   # a scheduler stops all but member 0 halfway: frozen, then compacted
    stopped = PackTrainer(cs, images, device=device)
    stopped.run(until=half)
    for k in range(1, len(cs)):
        stopped.stop(k)
    stopped.run()
    _verdict(part, f"member 0 after the pack compacted to {stopped.columns} vs solo",
             _member_gap(stopped, 0, solos[0]), tol)
    gap = max(state_gap(a.state_dict(), b.state_dict()) for k in range(1, len(cs))
              for a, b in zip(stopped.member_networks(k), first.member_networks(k)))
    _verdict(part, f"members stopped at {half} vs the pack at {half}", gap, tol)

    if device.type != "cuda":
        part.row({"check": "CUDA graph vs eager", "status": "skipped: needs CUDA"})
        return
    part.need(10)
    try:
        graphed = PackTrainer(cs, images, device=device, cuda_graph=True)
        graphed.run()
    except Exception as exc:  # the capture itself is what is being tried
        part.row({"check": "CUDA graph vs eager", "verdict": "FAIL",
                  "status": f"failed: capture raised {type(exc).__name__}: {exc}"})
        return
    curves = max(relative_gap(torch.tensor([list(r.values()) for r in graphed.curve(k)]),
                              torch.tensor([list(r.values()) for r in pack.curve(k)]))
                 for k in range(len(cs)))
    _verdict(part, "CUDA graph vs eager: loss curves", curves, tol)
    gap = max(state_gap(a.state_dict(), b.state_dict()) for k in range(len(cs))
              for a, b in zip(graphed.member_networks(k), pack.member_networks(k)))
    _verdict(part, "CUDA graph vs eager: weights", gap, tol)
