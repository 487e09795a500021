"""Every model trains 50 iterations in float64, solo and as a pack of 4 whose members are
their solo runs bit for bit (SPEC "Packs"); a member forced to diverge diverges at its
solo iteration and disturbs no one; BEGAN's k_t and WGAN-GP's eps stream are training
state: checkpoints resume bit-identically, solo and packed, and a member continues alone.
(GAN and EBGAN: tests/models/test_pack.py.)"""
import io
import math

import pytest
import torch

from models.config import TrialConfig
from models.pack import PackTrainer
from models.train import Trainer

ITERATIONS = 50
NEW_MODELS = ("lsgan", "wgan_gp", "hinge", "began")
# The model's own setting, varied in the pack's fourth member.
OWN = {"lsgan": dict(beta1=0.0), "wgan_gp": dict(gp_weight=1.0), "hinge": dict(beta2=0.9),
       "began": dict(gamma=0.7, lambda_k=0.01)}
# SGD with this lr diverges (iteration 26 for LSGAN, 1 for the others, here); hinge and
# BEGAN have bounded losses and need an absurd one.
DIVERGES = {"lsgan": 1e4, "wgan_gp": 1e30, "hinge": 1e200, "began": 1e200}


def config(model: str, **over) -> TrialConfig:
    base = dict(family=model, model=model, nLayerG=3, nLayerD=3, sizeG=24, sizeD=16,
                dropoutD=False, optimD="adam", optimG="adam", lr=1e-3, seed=11,
                iterations=ITERATIONS, batch_size=32)
    if model == "wgan_gp":
        base.update(beta1=0.0, beta2=0.9)
    return TrialConfig(**{**base, **over})


def four(model: str) -> list[TrialConfig]:
    return [config(model), config(model, lr=1e-4, dropoutD=True),
            config(model, optimD="sgd", optimG="sgd", lr=0.01), config(model, **OWN[model])]


def solo(c: TrialConfig, images) -> Trainer:
    t = Trainer(c, images, device="cpu", dtype=torch.float64, report_every=1)
    t.run()
    return t


def same(a, b) -> bool:
    """Equal, NaN equal to NaN (a diverged run's values)."""
    if isinstance(a, torch.Tensor):
        return a.shape == b.shape and bool(((a == b) | (a.isnan() & b.isnan())).all())
    return a == b or (math.isnan(a) and math.isnan(b))


def assert_is_solo(pack: PackTrainer, k: int, ref: Trainer) -> None:
    assert len(pack.curve(k)) == len(ref.curve)
    for row, want in zip(pack.curve(k), ref.curve):
        assert row.keys() == want.keys() and all(same(row[q], v) for q, v in want.items())
    for mine, want in zip(pack.member_networks(k), (ref.G, ref.D)):
        mine, want = mine.state_dict(), want.state_dict()
        assert list(mine) == list(want) and all(same(mine[n], want[n]) for n in want)
    rec, want = pack.record(k).to_dict(), ref.record().to_dict()
    for field in ("iterations_done", "status", "diverged_at", "iterations_run"):
        assert rec[field] == want[field], field
    for field in ("final_losses", "running_losses"):
        assert all(same(rec[field][q], v) for q, v in want[field].items())


@pytest.mark.parametrize("model", NEW_MODELS)
def test_a_pack_of_four_is_four_solo_runs(images, model):
    cs = four(model)
    pack = PackTrainer(cs, images, device="cpu", dtype=torch.float64, report_every=1)
    pack.run()
    assert pack.iteration == ITERATIONS
    for k, c in enumerate(cs):
        ref = solo(c, images)
        assert ref.record().status == "ok"
        assert_is_solo(pack, k, ref)
    logged = set(pack.curve(0)[-1]) - {"iteration", "loss_d", "loss_g"}
    assert logged == {"lsgan": set(), "hinge": set(), "wgan_gp": {"wasserstein", "gp"},
                      "began": {"k_t", "m_global"}}[model]


@pytest.mark.parametrize("model", NEW_MODELS)
def test_a_member_forced_to_diverge_diverges_at_its_solo_iteration(images, model):
    cs = [config(model), config(model, optimD="sgd", optimG="sgd", lr=DIVERGES[model]),
          config(model, lr=1e-4)]
    pack = PackTrainer(cs, images, device="cpu", dtype=torch.float64, report_every=1)
    pack.run()
    refs = [solo(c, images) for c in cs]
    assert [r.record().status for r in refs] == ["ok", "diverged", "ok"]
    for k in range(3):
        assert_is_solo(pack, k, refs[k])
    assert pack.record(1).diverged_at == refs[1].record().diverged_at


@pytest.mark.parametrize("model", ("wgan_gp", "began"))
def test_checkpoints_resume_bit_identically(images, model, tmp_path):
    cs = four(model)
    whole = PackTrainer(cs, images, device="cpu", dtype=torch.float64, report_every=5)
    whole.run(until=12)
    first = PackTrainer(cs, images, device="cpu", dtype=torch.float64, report_every=5)
    first.run(until=7)
    buffer = io.BytesIO()
    torch.save(first.state_dict(), buffer)
    buffer.seek(0)
    second = PackTrainer(cs, images, device="cpu", dtype=torch.float64, report_every=5)
    second.load_state_dict(torch.load(buffer, weights_only=False))
    second.run(until=12)
    for k in range(4):
        for a, b in zip(whole.member_networks(k), second.member_networks(k)):
            assert all(torch.equal(v, b.state_dict()[n]) for n, v in a.state_dict().items())
        assert whole.curve(k) == second.curve(k)
    assert torch.equal(whole.loss.state_dict().get("k_t", torch.zeros(0)),
                       second.loss.state_dict().get("k_t", torch.zeros(0)))
    # solo: stop at 7, save, restore into a new trainer, finish: as the whole solo run
    ref = Trainer(cs[3], images, device="cpu", dtype=torch.float64, report_every=5)
    ref.run(until=12)
    part = Trainer(cs[3], images, device="cpu", dtype=torch.float64, report_every=5)
    part.run(until=7)
    torch.save(part.state_dict(), tmp_path / "solo.pt")
    rest = Trainer(cs[3], images, device="cpu", dtype=torch.float64, report_every=5)
    rest.load_state_dict(torch.load(tmp_path / "solo.pt", weights_only=False))
    rest.run(until=12)
    assert rest.curve == ref.curve
    assert all(torch.equal(v, rest.G.state_dict()[n]) for n, v in ref.G.state_dict().items())
    # a member of the pack stopped at 7 continues alone as its solo run
    alone = Trainer(cs[3], images, device="cpu", dtype=torch.float64, report_every=5)
    alone.load_state_dict(first.member_state_dict(3))
    alone.run(until=12)
    assert all(torch.equal(v, alone.D.state_dict()[n]) for n, v in ref.D.state_dict().items())
    assert all(torch.equal(v, alone.G.state_dict()[n]) for n, v in ref.G.state_dict().items())


def test_a_state_written_before_the_loss_state_still_loads_for_gan_and_ebgan(images):
    for model in ("gan", "ebgan"):
        c = config(model, iterations=6)
        t = Trainer(c, images, device="cpu", dtype=torch.float64)
        t.run(until=3)
        old = {k: v for k, v in t.state_dict().items() if k != "loss"}      # format 1 as written
        Trainer(c, images, device="cpu", dtype=torch.float64).load_state_dict(old)
        p = PackTrainer([c, c.replace(lr=1e-4)], images, device="cpu", dtype=torch.float64)
        p.run(until=3)
        old = {k: v for k, v in p.state_dict().items() if k != "loss"}
        PackTrainer([c, c.replace(lr=1e-4)], images, device="cpu",
                    dtype=torch.float64).load_state_dict(old)
    c = config("began", iterations=6)
    old = {k: v for k, v in Trainer(c, images, device="cpu").state_dict().items() if k != "loss"}
    with pytest.raises(ValueError, match="k_t"):
        Trainer(c, images, device="cpu").load_state_dict(old)


def test_an_iteration_of_wgan_gp_is_one_g_step_of_n_critic_batches(images):
    # n_critic 3 and 4 iterations: 12 batches drawn, the stream 12 draws on; Adam counted 12
    # critic steps and 4 generator steps
    c = config("wgan_gp", n_critic=3, iterations=4)
    t = Trainer(c, images, device="cpu", dtype=torch.float64)
    t.run()
    assert t.stream.state_dict()["pos"] == 12                 # 512 // 32 = 16 batches an epoch
    d_step = next(iter(t.opt_d.state.values()))["step"].item()
    g_step = next(iter(t.opt_g.state.values()))["step"].item()
    assert (d_step, g_step) == (12, 4)
