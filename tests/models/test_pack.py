"""Packed training against solo training: every member is its solo run (SPEC "Packs").

Tolerance. The required agreement is 1e-9 relative (float64, 50 iterations). On this CPU
it is in fact bit-identical for every setting, and it has to be: the solo-vs-solo spread
measured here (float64, these shapes, 50 iterations, the same run on 1 vs 2 threads, i.e.
a different but equivalent summation order) is chaotic for several settings:
    GAN adam/adam lr 0.01:  weights 1e+00 apart (1e-10 at 10 iterations, 1e-6 at 20)
    EBGAN adam lr 0.001:    1e-7 .. 5e-1 (margin 3 the worst)
    GAN with an SGD net or lr <= 0.001: 1e-16 .. 1e-9
so a pack that rounded even once differently would miss any useful tolerance on those;
no setting gets a looser one.
"""
import io
import itertools
import math

import pytest
import torch
from torch import nn

from evaluator.convnet import ConvNet
from evaluator.sampling import score_generator
from models.config import TrialConfig
from models.pack import PackTrainer
from models.pack_plan import check_pack
from models.samples import sample_images
from models.train import Trainer

RTOL = 1e-9
ITERATIONS = 50




@pytest.fixture(scope="module")
def classifier() -> ConvNet:
    with torch.random.fork_rng():
        torch.manual_seed(0)
        return ConvNet().eval()                                          # untrained, float32


def config(**over) -> TrialConfig:
    base = dict(family="gan", model="gan", nLayerG=3, nLayerD=3, sizeG=24, sizeD=16,
                dropoutD=False, optimD="adam", optimG="adam", lr=1e-3, seed=11,
                iterations=ITERATIONS, batch_size=32)
    return TrialConfig(**{**base, **over})


class Float64(nn.Module):
    """Feeds the float32 z of sample_images / score_generator to a float64 generator."""

    def __init__(self, g: nn.Module) -> None:
        super().__init__()
        self.g = g

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.g(z.double())


def same(a, b) -> bool:
    """Equal, NaN equal to NaN (a diverged run's values)."""
    if isinstance(a, torch.Tensor):
        return a.shape == b.shape and bool(((a == b) | (a.isnan() & b.isnan())).all())
    return a == b or (math.isnan(a) and math.isnan(b))


def close(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Within RTOL of the reference's magnitude (integers: equal)."""
    if not a.is_floating_point():
        return torch.equal(a, b)
    return bool((a - b).abs().max() <= RTOL * b.abs().max())


def solo(c: TrialConfig, images, dtype=torch.float64) -> Trainer:
    t = Trainer(c, images, device="cpu", dtype=dtype, report_every=1)
    t.run()
    return t


def assert_member_is_solo(pack: PackTrainer, k: int, ref: Trainer, classifier=None,
                          generator: nn.Module | None = None) -> None:
    """Curve, weights and batch-norm statistics, record; with a classifier, also the
    samples and the score of ``generator`` (the member's TrainResult generator)."""
    c = pack.configs[k]
    mine_curve, ref_curve = pack.curve(k), ref.curve
    assert [r["iteration"] for r in mine_curve] == [r["iteration"] for r in ref_curve]
    for row, want in zip(mine_curve, ref_curve):
        assert row.keys() == want.keys()
        assert all(abs(row[q] - v) <= RTOL * abs(v) for q, v in want.items()), (c.describe(), row)
    G, D = pack.member_networks(k)
    for mine, want in ((G.state_dict(), ref.G.state_dict()), (D.state_dict(), ref.D.state_dict())):
        assert list(mine) == list(want)                   # the solo format, key for key
        assert all(close(mine[n], want[n]) for n in want), c.describe()
    rec, want = pack.record(k), ref.record()
    for field in ("iterations_done", "iterations_planned", "status", "diverged_at",
                  "iterations_run"):
        assert getattr(rec, field) == getattr(want, field), field
    for field in ("final_losses", "running_losses"):
        mine_v, want_v = getattr(rec, field), getattr(want, field)
        assert all(abs(mine_v[q] - v) <= RTOL * abs(v) for q, v in want_v.items())
    if classifier is None:
        return
    g = generator
    assert not g.training
    a = sample_images(Float64(g), 64, c.z_dim, seed=2)
    b = sample_images(Float64(ref.G), 64, c.z_dim, seed=2)
    assert close(a, b)
    score = lambda net: score_generator(Float64(net), classifier, z_dim=c.z_dim,  # noqa: E731
                                        n_samples=200, batch_size=200, seed=3)
    sa, sb = score(g), score(ref.G)
    assert abs(sa.score - sb.score) <= RTOL * abs(sb.score)
    assert sa.class_histogram == sb.class_histogram


def test_gan_pack_of_all_twelve_optimisation_settings_with_and_without_dropout(images, classifier):
    cs = [config(optimD=d, optimG=g, lr=lr, dropoutD=drop)
          for d, g, lr, drop in itertools.product(["adam", "sgd"], ["adam", "sgd"],
                                                  [0.01, 0.001, 0.0001], [False, True])]
    pack = PackTrainer(cs, images, device="cpu", dtype=torch.float64, report_every=1)
    pack.run()
    assert pack.done and pack.iteration == ITERATIONS
    results = pack.results()
    for k, c in enumerate(cs):
        assert_member_is_solo(pack, k, solo(c, images), classifier, results[k].generator)


def test_ebgan_pack_margin_pulling_away_and_dropout(images, classifier):
    cs = [config(model="ebgan", family="ebgan_pt" if pt else "ebgan", margin=m, pt_weight=pt,
                 dropoutD=drop)
          for m, pt, drop in itertools.product([10.0, 3.0], [0.0, 0.1], [False, True])]
    pack = PackTrainer(cs, images, device="cpu", dtype=torch.float64, report_every=1)
    pack.run()
    results = pack.results()
    for k, c in enumerate(cs):
        assert_member_is_solo(pack, k, solo(c, images), classifier, results[k].generator)


A = dict(optimD="sgd", optimG="sgd", lr=0.01)
B = dict(optimD="sgd", optimG="sgd", lr=1e30)          # diverges at once (iteration 1 here)
B4 = dict(optimD="sgd", optimG="sgd", lr=1e4)          # diverges later (iteration 4 here)
C = dict(optimD="adam", optimG="adam", lr=0.001, dropoutD=True)


def test_diverged_member_is_its_solo_run_and_disturbs_nobody(images):
    cs = [config(**A, iterations=40), config(**B, iterations=40), config(**B4, iterations=40),
          config(**C, iterations=40)]
    pack = PackTrainer(cs, images, device="cpu", report_every=3)            # float32
    pack.run()
    for k in (1, 2):
        ref = Trainer(cs[k], images, device="cpu", report_every=3)
        ref.run()
        rec, want = pack.record(k), ref.record()
        assert want.status == rec.status == "diverged"
        assert rec.diverged_at == want.diverged_at == rec.iterations_done == want.iterations_done
        assert all(same(rec.final_losses[q], v) for q, v in want.final_losses.items())
        assert all(same(rec.running_losses[q], v) for q, v in want.running_losses.items())
        G, D = pack.member_networks(k)
        assert all(same(G.state_dict()[n], v) for n, v in ref.G.state_dict().items())
        assert all(same(D.state_dict()[n], v) for n, v in ref.D.state_dict().items())
        assert len(pack.curve(k)) == len(ref.curve)
        assert all(same(r[q], v) for r, w in zip(pack.curve(k), ref.curve) for q, v in w.items())
    assert (pack.record(1).diverged_at, pack.record(2).diverged_at) == (1, 4)
    # The others: bit-identical to a pack without the diverging members.
    without = PackTrainer([cs[0], cs[3]], images, device="cpu", report_every=3)
    without.run()
    for k, j in ((0, 0), (3, 1)):
        assert pack.curve(k) == without.curve(j)
        for mine, theirs in zip(pack.member_networks(k), without.member_networks(j)):
            theirs = theirs.state_dict()
            assert all(torch.equal(v, theirs[n]) for n, v in mine.state_dict().items())
    assert [r.record.status for r in pack.results()] == ["ok", "diverged", "diverged", "ok"]


def test_resume_is_bit_identical(images):
    cs = [config(**A, iterations=30), config(**B, iterations=30), config(**B4, iterations=30),
          config(**C, iterations=30)]
    whole = PackTrainer(cs, images, device="cpu", report_every=7)
    whole.run()
    first = PackTrainer(cs, images, device="cpu", report_every=7)
    first.run(until=2)
    first.run(until=3)                   # a run continues where the last stopped
    assert [first.record(k).status for k in range(4)] == ["ok", "diverged", "ok", "ok"]
    buffer = io.BytesIO()
    torch.save(first.state_dict(), buffer)
    buffer.seek(0)
    second = PackTrainer(cs, images, device="cpu", report_every=7)
    second.load_state_dict(torch.load(buffer, weights_only=False))
    assert not second.done and second.iteration == 3
    second.run()
    for k in range(4):
        assert pack_equal(whole, second, k)
        assert second.record(k).attempts == [0, 3]
    with pytest.raises(ValueError, match="pack"):
        PackTrainer(cs[:3], images, device="cpu").load_state_dict(first.state_dict())


def pack_equal(p: PackTrainer, q: PackTrainer, k: int) -> bool:
    nets = zip(p.member_networks(k), q.member_networks(k))
    weights = all(same(v, b.state_dict()[n]) for a, b in nets for n, v in a.state_dict().items())
    rows = all(same(x[n], y[n]) for x, y in zip(p.curve(k), q.curve(k)) for n in x)
    ends = [(r.status, r.diverged_at, r.iterations_done) for r in (p.record(k), q.record(k))]
    return weights and rows and len(p.curve(k)) == len(q.curve(k)) and ends[0] == ends[1]


def test_a_member_continues_alone_from_the_pack(images):
    cs = [config(**A, iterations=30), config(**C, iterations=30)]
    pack = PackTrainer(cs, images, device="cpu", report_every=5)
    pack.run(until=12)
    ref = Trainer(cs[1], images, device="cpu", report_every=5)
    ref.run()
    alone = Trainer(cs[1], images, device="cpu", report_every=5)
    alone.load_state_dict(pack.member_state_dict(1))
    alone.run()
    for mine, want in ((alone.G, ref.G), (alone.D, ref.D)):
        want = want.state_dict()
        assert all(torch.equal(v, want[n]) for n, v in mine.state_dict().items())
    assert alone.curve == ref.curve and alone.record().final_losses == ref.record().final_losses


def test_progress_and_the_end_of_an_all_diverged_pack(images):
    calls = []
    pack = PackTrainer([config(**A, iterations=25), config(**C, iterations=25)], images,
                       device="cpu", report_every=10)
    pack.run(progress=lambda it, rows: calls.append((it, rows)))
    assert [it for it, _ in calls] == [10, 20, 25]
    assert all(len(rows) == 2 and set(rows[0]) == {"loss_d", "loss_g"} for _, rows in calls)
    assert calls[-1][1][1] == {q: v for q, v in pack.curve(1)[-1].items() if q != "iteration"}
    calls.clear()
    lost = PackTrainer([config(**B, iterations=25)], images, device="cpu", report_every=10)
    lost.run(progress=lambda it, rows: calls.append((it, rows)))
    assert lost.done and lost.iteration == lost.record(0).diverged_at < 10
    assert [it for it, _ in calls] == [lost.iteration]


def test_a_diverged_run_ends_alike_alone_and_as_a_pack_of_one(images):
    """One loop: the last report of a diverged run (B4 diverges at iteration 4 here) is
    the same alone and packed, and is recorded whether or not anyone listens."""
    c = config(**B4, iterations=25)
    seen: dict[str, list] = {"alone": [], "packed": []}
    alone = Trainer(c, images, device="cpu", report_every=10)
    alone.run(progress=lambda it, means: seen["alone"].append((it, means)),
              on_iteration=lambda it: seen["alone"].append(it))
    packed = PackTrainer([c], images, device="cpu", report_every=10)
    packed.run(progress=lambda it, rows: seen["packed"].append((it, rows[0])),
               on_iteration=lambda it: seen["packed"].append(it))
    quiet = PackTrainer([c], images, device="cpu", report_every=10)
    quiet.run()
    # iterations 1-3 run on; the 4th diverges and ends the run with one report at 4
    for calls in seen.values():
        assert calls[:3] == [1, 2, 3] and len(calls) == 4 and calls[3][0] == 4
    last = alone.curve[-1]
    assert all(same(seen[who][3][1][q], last[q]) for who in seen for q in alone.quantities)
    assert not math.isfinite(last["loss_d"] + last["loss_g"])
    states = [t.state_dict() for t in (alone, packed, quiet)]
    assert [s["reported_at"] for s in states] == [4, 4, 4]
    assert [s["iteration"] for s in states] == [4, 4, 4]


def test_members_of_different_shape_groups_are_refused():
    with pytest.raises(ValueError, match=r"sizeG.*seed|sizeG"):
        check_pack([config(), config(sizeG=32)])
    with pytest.raises(ValueError, match="seed"):
        check_pack([config(), config(seed=1)])
    with pytest.raises(ValueError, match="iterations"):
        check_pack([config(), config(iterations=7)])
    with pytest.raises(ValueError, match="model"):
        check_pack([config(), config(model="ebgan")])
    with pytest.raises(ValueError, match="at least one"):
        check_pack([])
    assert len(check_pack([config(), config(lr=0.01, margin=3.0, dropoutD=True)])) == 2


cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
# Non-chaotic settings only: on CUDA neither cuBLAS nor the foreach Adam of the solo run
# round as the CPU does, and the chaotic settings amplify any rounding (module docstring).
CALM = [dict(optimD="sgd", optimG="sgd", lr=0.001), dict(optimD="sgd", optimG="adam", lr=0.0001)]


@cuda
def test_cuda_pack_matches_solo_runs_and_flags_divergence_on_device(images):
    cs = [config(**CALM[0], iterations=20), config(**B, iterations=20),
          config(**CALM[1], iterations=20)]
    pack = PackTrainer(cs, images, device="cuda", dtype=torch.float64, report_every=1)
    pack.run()
    for k in (0, 2):
        ref = Trainer(cs[k], images, device="cuda", dtype=torch.float64, report_every=1)
        ref.run()
        G = pack.member_networks(k)[0].state_dict()
        assert all(torch.allclose(G[n].float(), v.float(), rtol=1e-6, atol=1e-7)
                   for n, v in ref.G.state_dict().items())
    cpu = Trainer(cs[1], images, device="cpu", dtype=torch.float64)
    cpu.run()
    assert pack.record(1).diverged_at == cpu.record().diverged_at


@cuda
def test_cuda_graph_step_matches_the_eager_step(images):
    cs = [config(**CALM[0], iterations=20), config(**CALM[1], iterations=20, dropoutD=True)]
    eager = PackTrainer(cs, images, device="cuda", dtype=torch.float64)
    eager.run()
    graphed = PackTrainer(cs, images, device="cuda", dtype=torch.float64, cuda_graph=True)
    graphed.run()
    for k in range(2):
        a, b = graphed.member_networks(k)[0].state_dict(), eager.member_networks(k)[0].state_dict()
        assert all(torch.allclose(a[n].float(), v.float(), rtol=1e-6, atol=1e-7)
                   for n, v in b.items())
