"""PackedOptimizer against torch.optim.Adam / SGD run on each member alone."""
import math

import pytest
import torch

from models.packed_optim import PackedOptimizer, _runs

DT = torch.float64
KINDS = ["adam", "sgd", "adam", "adam", "sgd", "adam"]
LR = [0.01, 0.01, 0.001, 0.0001, 0.5, 0.003]
BETA1 = [0.5, 0.5, 0.9, 0.0, 0.5, 0.3]
BETA2 = [0.999, 0.999, 0.99, 0.9, 0.999, 0.5]
SHAPES = [(6, 7, 5), (6, 7), (6, 1)]



def gradients(steps: int, seed: int = 0) -> list[list[torch.Tensor]]:
    """Per step, per parameter: gradients spanning 1e-9..10 so eps and bias corrections matter."""
    g = torch.Generator().manual_seed(seed)
    return [[torch.randn(*s, dtype=DT, generator=g) * 10.0 ** (-(t % 11) + 1) for s in SHAPES]
            for t in range(steps)]


def initial() -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    return [torch.randn(*s, dtype=DT, generator=g) for s in SHAPES]


def run_packed(grads, active_at=None, frozen=()):
    params = [p.clone().requires_grad_() for p in initial()]
    opt = PackedOptimizer(params, KINDS, LR, BETA1, BETA2)
    active = torch.ones(len(KINDS), dtype=torch.bool)
    for t, gs in enumerate(grads):
        for p, g in zip(params, gs):
            p.grad = g.clone()
            if active_at is not None and t >= active_at:
                p.grad[list(frozen)] = math.nan            # a diverged member's gradient
        if active_at is not None and t == active_at:
            active[list(frozen)] = False
        opt.step(active if active_at is not None else None)
    return params, opt


def run_solo(k, grads):
    params = [p[k].clone().requires_grad_() for p in initial()]
    if KINDS[k] == "adam":
        opt = torch.optim.Adam(params, lr=LR[k], betas=(BETA1[k], BETA2[k]))
    else:
        opt = torch.optim.SGD(params, lr=LR[k], momentum=0.0)
    for gs in grads:
        for p, g in zip(params, gs):
            p.grad = g[k].clone()
        opt.step()
    return params, opt


def test_runs():
    assert _runs([True, True, False, True]) == [(0, 2), (3, 4)]
    assert _runs([False, False]) == [] and _runs([True]) == [(0, 1)]


def test_every_member_is_its_torch_optimizer():
    grads = gradients(12)
    packed, opt = run_packed(grads)
    for k in range(len(KINDS)):
        solo, solo_opt = run_solo(k, grads)
        for p, s in zip(packed, solo):
            # float64, 12 steps: required 1e-12 relative; on CPU it is bit-identical.
            assert (p[k] - s).abs().max() <= 1e-12 * s.abs().max()
            assert torch.equal(p[k].detach(), s.detach())
        # the solo-format state a member would hand to models.train.Trainer
        rebuilt = opt.member_optimizer(k, [s.detach().clone().requires_grad_() for s in solo], 12)
        mine, ref = rebuilt.state_dict(), solo_opt.state_dict()
        assert mine["param_groups"] == ref["param_groups"]
        for i, st in ref["state"].items():
            assert set(mine["state"][i]) == set(st)
            assert all(torch.equal(mine["state"][i][n], v) for n, v in st.items())


def test_frozen_member_stays_put_and_others_do_not_notice():
    grads = gradients(8)
    free, _ = run_packed(grads)
    at_3, _ = run_packed(grads[:3])
    frozen, opt = run_packed(grads, active_at=3, frozen=(0, 4))   # one Adam, one SGD member
    for p_free, p_frozen, p3 in zip(free, frozen, at_3):
        for k in range(len(KINDS)):
            if k in (0, 4):
                assert torch.equal(p_frozen[k], p3[k])          # as after its 3rd step
            else:
                assert torch.equal(p_frozen[k], p_free[k])
    assert all(torch.isfinite(m).all() for ms in opt.exp_avg for m in ms)


def test_state_dict_resumes_exactly():
    grads = gradients(9)
    whole, _ = run_packed(grads)
    params, opt = run_packed(grads[:4])
    state = opt.state_dict()
    params2 = [p.detach().clone().requires_grad_() for p in params]
    opt2 = PackedOptimizer(params2, KINDS, LR, BETA1, BETA2)
    opt2.load_state_dict(state)
    for gs in grads[4:]:
        for p, g in zip(params2, gs):
            p.grad = g.clone()
        opt2.step()
    assert all(torch.equal(a, b) for a, b in zip(whole, params2))
    with pytest.raises(ValueError):
        PackedOptimizer(params2, KINDS, [0.1] * 6, BETA1, BETA2).load_state_dict(state)


def test_refuses_bad_settings():
    p = [torch.zeros(2, 3)]
    with pytest.raises(ValueError):
        PackedOptimizer(p, ["adam", "rmsprop"], [0.1] * 2, [0.5] * 2, [0.9] * 2)
    with pytest.raises(ValueError):
        PackedOptimizer(p, ["adam"] * 3, [0.1] * 3, [0.5] * 3, [0.9] * 3)
