"""Stopping configurations and compacting packs (issue #20): a stopped configuration is its
solo run stopped at that iteration, and every member a pack keeps after compaction is
still bit-identical to its solo run (float64, CPU, one thread: as tests/models/test_pack.py).
"""
import io
import itertools
import time

import pytest
import torch

from models.config import TrialConfig
from models.pack import PACK_STATE_FORMAT, PackTrainer
from models.train import Trainer

ITERATIONS = 30
EVERY = 4            # reports every 4 iterations: the stops (10, 20) fall between reports
RUNG1, RUNG2 = 10, 20


def config(**over) -> TrialConfig:
    base = dict(family="gan", model="gan", nLayerG=3, nLayerD=3, sizeG=24, sizeD=16,
                dropoutD=False, optimD="adam", optimG="adam", lr=1e-3, seed=11,
                iterations=ITERATIONS, batch_size=32)
    return TrialConfig(**{**base, **over})


def gan_eight() -> list[TrialConfig]:
    """Both optimisers for D and G, with and without dropout: Adam and SGD runs interleave."""
    return [config(optimD=d, optimG=g, dropoutD=drop)
            for d, g, drop in itertools.product(["adam", "sgd"], ["adam", "sgd"], [False, True])]


def ebgan_eight() -> list[TrialConfig]:
    """Margins, pulling-away term and two dropout rates (0.5, 0.3): member k is listed."""
    return [config(model="ebgan", family="ebgan_pt" if pt else "ebgan", margin=m,
                   pt_weight=pt, dropoutD=True, dropout=p, optimD="adam", optimG="sgd")
            for m, pt, p in itertools.product([10.0, 3.0], [0.0, 0.1], [0.5, 0.3])]


# Stopped at the first rung; at the second, 7 (-> 4 of 8 run: compaction to 0, 2, 4, 6,
# which leaves out every odd member: every dropout of the GANs, the EBGANs' rate 0.3), then
# 0 (frozen in the compacted pack); kept to the end.
FIRST, SECOND, KEPT = (1, 3, 5), (7, 0), (2, 4, 6)
COMPACTED = [0, 2, 4, 6]


def solo(c: TrialConfig, images, until: int | None = None) -> Trainer:
    t = Trainer(c, images, device="cpu", dtype=torch.float64, report_every=EVERY)
    t.run(until=until)
    if until is not None:
        t.stop(0)
    return t


def pack_of(cs, images) -> PackTrainer:
    return PackTrainer(cs, images, device="cpu", dtype=torch.float64, report_every=EVERY)


def run_with_stops(pack: PackTrainer, until: int | None = None) -> None:
    """Rung 1 at 10 (stop FIRST), rung 2 at 20 (stop SECOND), then on to ``until``."""
    for rung, stopped in ((RUNG1, FIRST), (RUNG2, SECOND)):
        if pack.iteration < rung:
            pack.run(until=rung)
            for k in stopped:
                pack.stop(k)
    pack.run(until=until)


def equal_states(a: dict, b: dict) -> bool:
    return list(a) == list(b) and all(torch.equal(v, b[n]) for n, v in a.items())


def assert_is(pack: PackTrainer, k: int, ref: Trainer) -> None:
    """Member k of ``pack`` is ``ref`` bit for bit: networks, curve, record."""
    G, D = pack.member_networks(k)
    assert equal_states(G.state_dict(), ref.G.state_dict())
    assert equal_states(D.state_dict(), ref.D.state_dict())
    assert pack.curve(k) == ref.curve
    mine, want = pack.record(k).to_dict(), ref.record().to_dict()
    for volatile in ("wall_time_s", "ms_per_iteration"):
        mine.pop(volatile), want.pop(volatile)
    assert mine == want


@pytest.mark.parametrize("members", [gan_eight, ebgan_eight], ids=["gan", "ebgan"])
def test_stopped_members_and_compaction_keep_every_member_its_solo_run(images, members):
    cs = members()
    pack = pack_of(cs, images)
    pack.run(until=RUNG1)
    for k in FIRST:
        pack.stop(k)
    assert pack.columns == list(range(8))               # 5 of 8 run: no compaction yet
    assert pack.active.tolist() == [k not in FIRST for k in range(8)]
    pack.run(until=RUNG2)
    for k in SECOND:
        pack.stop(k)
    assert pack.columns == COMPACTED and pack.active.tolist() == [False, True, True, True]
    assert all(p.shape[0] == 4 for net in (pack.G, pack.D) for p in net.parameters())
    assert pack.opt_g.kinds == [cs[k].optimG for k in COMPACTED]
    if cs[0].model == "ebgan":                          # PT in 2 and 6; one rate left
        assert pack.loss.margin.tolist() == [cs[k].margin for k in COMPACTED]
        assert pack.loss.pt_members.tolist() == [1, 3] and pack.D.dropout_rates == [0.5]
    else:                                               # KEPT: no dropout left
        assert pack.D.dropout_rates == [] and pack.dropout_rngs == []
    pack.run()
    assert pack.done and pack.iteration == ITERATIONS
    results = pack.results()
    for k in KEPT:
        assert_is(pack, k, solo(cs[k], images))
        assert results[k].record.status == "ok"
    for stopped, at in ((FIRST, RUNG1), (SECOND, RUNG2)):
        for k in stopped:
            ref = solo(cs[k], images, until=at)
            assert_is(pack, k, ref)
            rec = results[k].record
            assert (rec.status, rec.stopped_at, rec.iterations_done) == ("stopped", at, at)
            assert pack.curve(k)[-1]["iteration"] == at       # the means of 9..10, 17..20
            assert equal_states(results[k].generator.state_dict(), ref.G.state_dict())
            assert not results[k].generator.training
            # its solo state (the stream and dropout states: those of the compaction)
            state, want = pack.member_state_dict(k), ref.state_dict()
            for part in ("G", "D"):
                assert equal_states(state[part], want[part])
            assert (state["iteration"], state["stopped_at"]) == (at, at)
            alone = Trainer(cs[k], images, device="cpu", dtype=torch.float64)
            alone.load_state_dict(state)
            assert alone.done and alone.record().status == "stopped"


def test_resume_of_a_compacted_pack_is_bit_identical(images):
    cs = ebgan_eight()
    whole = pack_of(cs, images)
    run_with_stops(whole)
    first = pack_of(cs, images)
    run_with_stops(first, until=23)
    buffer = io.BytesIO()
    torch.save(first.state_dict(), buffer)
    buffer.seek(0)
    state = torch.load(buffer, weights_only=False)
    assert state["format"] == PACK_STATE_FORMAT == 2 and state["columns"] == COMPACTED
    second = pack_of(cs, images)
    second.load_state_dict(state)
    assert second.columns == COMPACTED and second.iteration == 23
    second.run()
    for k in range(8):
        a, b = whole.record(k), second.record(k)
        assert (a.status, a.stopped_at, a.iterations_done) == (b.status, b.stopped_at,
                                                               b.iterations_done)
        assert whole.curve(k) == second.curve(k)
        for x, y in zip(whole.member_networks(k), second.member_networks(k)):
            assert equal_states(x.state_dict(), y.state_dict())
    assert second.record(2).attempts == [0, 23]


def test_a_format_1_state_still_loads(images):
    """A state written before stopping existed (no columns, no removed members, logs
    without stopped_at) continues as before."""
    cs = gan_eight()[:4]
    whole = pack_of(cs, images)
    whole.run()
    first = pack_of(cs, images)
    first.run(until=12)
    state = first.state_dict()
    del state["columns"], state["removed"]
    for log in state["logs"]:
        del log["stopped_at"]
    state["format"] = 1
    second = pack_of(cs, images)
    second.load_state_dict(state)
    second.run()
    for k in range(4):
        assert whole.curve(k) == second.curve(k)
        for x, y in zip(whole.member_networks(k), second.member_networks(k)):
            assert equal_states(x.state_dict(), y.state_dict())


B = dict(optimD="sgd", optimG="sgd", lr=1e30)          # diverges at once (iteration 1 here)


def test_stop_of_a_diverged_or_stopped_member_changes_nothing(images):
    cs = [config(), config(**B), config(dropoutD=True), config(optimD="sgd")]
    pack = PackTrainer(cs, images, device="cpu", report_every=EVERY)     # float32
    pack.run(until=5)
    assert pack.record(1).status == "diverged" and pack.columns == [0, 1, 2, 3]
    settled = lambda: repr({n: v for n, v in pack.record(1).to_dict().items()  # noqa: E731
                            if n not in ("wall_time_s", "ms_per_iteration")})  # NaN != NaN
    before = settled()
    pack.stop(1)
    assert settled() == before
    pack.stop(2)
    pack.run(until=8)
    pack.stop(2)                                         # again, later: still at 5
    assert (pack.record(2).status, pack.record(2).stopped_at) == ("stopped", 5)
    assert pack.columns == [0, 3]                       # 2 of 4 run: compacted
    pack.stop(0)
    pack.stop(3)
    assert pack.finished and pack.done and pack.iteration == 8
    pack.run()                                           # nothing left to train
    assert pack.iteration == 8
    assert [r.record.status for r in pack.results()] == ["stopped", "diverged", "stopped",
                                                         "stopped"]


def test_divergence_also_compacts(images):
    cs = [config(), config(**B), config(**B), config(optimD="sgd")]
    pack = PackTrainer(cs, images, device="cpu", report_every=EVERY)
    pack.run(until=3)
    assert pack.columns == [0, 3] and pack.record(2).status == "diverged"
    pack.run()
    ref = Trainer(cs[3], images, device="cpu", report_every=EVERY)
    ref.run()
    assert equal_states(pack.member_networks(3)[0].state_dict(), ref.G.state_dict())


def test_a_solo_run_stops(images):
    c = config(iterations=25)
    t = Trainer(c, images, device="cpu", report_every=EVERY)
    t.run(until=7)
    t.stop(0)
    assert t.done and t.finished
    t.run()
    assert t.iteration == 7
    result = t.result()
    assert (result.record.status, result.record.stopped_at, result.record.iterations_done,
            result.record.iterations_run) == ("stopped", 7, 7, 7)
    assert [r["iteration"] for r in result.curve] == [4, 7]       # means of 1-4, 5-7
    unstopped = Trainer(c, images, device="cpu", report_every=EVERY)
    unstopped.run(until=7)
    assert equal_states(result.generator.state_dict(), unstopped.G.state_dict())
    again = Trainer(c, images, device="cpu", report_every=EVERY)
    again.load_state_dict(t.state_dict())
    assert again.done and again.record().stopped_at == 7


def test_cost_per_iteration_falls_with_compaction(images):
    """Printed, not asserted (speed targets belong in ``make bench``)."""
    cs = [config(sizeG=256, sizeD=256, optimD=d, optimG=g, dropoutD=drop, iterations=60)
          for d, g, drop in itertools.product(["adam", "sgd"], ["adam", "sgd"], [False, True])]
    pack = PackTrainer(cs, images, device="cpu")                            # float32

    def cpu_ms(until: int) -> float:
        start, n = time.process_time(), until - pack.iteration
        pack.run(until=until)
        return 1000.0 * (time.process_time() - start) / n

    pack.run(until=5)                                                       # warm up
    before = cpu_ms(25)
    for k in range(6):
        pack.stop(k)
    assert pack.columns == [6, 7]
    after = cpu_ms(45)
    print(f"\npack of 8 (256-unit nets, float32, CPU): {before:.1f} ms/iteration; "
          f"after compaction to 2: {after:.1f} ms/iteration ({after / before:.0%})")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("graph", [False, True], ids=["eager", "cuda-graph"])
def test_cuda_pack_compacts_and_the_rest_run_on(images, graph):
    """On CUDA (losses read back every 50 iterations) a stop flushes first, and a captured
    graph is captured again after compaction; the kept members match a pack of them alone
    (calm settings: cuBLAS does not round as the CPU does, test_pack.py)."""
    calm = [dict(optimD="sgd", optimG="sgd", lr=0.001),
            dict(optimD="sgd", optimG="adam", lr=0.0001, dropoutD=True)]
    cs = [config(**calm[k % 2], iterations=80, margin=float(k + 1)) for k in range(4)]
    pack = PackTrainer(cs, images, device="cuda", dtype=torch.float64, cuda_graph=graph)
    pack.run(until=30)
    pack.stop(0)
    pack.stop(2)
    assert pack.columns == [1, 3]
    pack.run()
    alone = PackTrainer(cs, images, device="cuda", dtype=torch.float64, cuda_graph=graph)
    alone.run(until=30)
    for k in (1, 3):
        ref = Trainer(cs[k], images, device="cuda", dtype=torch.float64)
        ref.run()
        G = pack.member_networks(k)[0].state_dict()
        assert all(torch.allclose(G[n].float(), v.float(), rtol=1e-6, atol=1e-7)
                   for n, v in ref.G.state_dict().items())
    assert pack.record(0).stopped_at == pack.record(2).stopped_at == 30
    assert torch.equal(pack.member_networks(0)[0].state_dict()["net.0.weight"],
                       alone.member_networks(0)[0].state_dict()["net.0.weight"])


@pytest.mark.parametrize("model,setting,values", [
    ("began", "gamma", [0.3, 0.5, 0.7, 0.9]),        # k_t: per-member training state
    ("wgan_gp", "gp_weight", [1.0, 5.0, 10.0, 20.0]),  # 5 critic steps per iteration
], ids=["began", "wgan_gp"])
def test_compaction_keeps_each_loss_its_per_member_rows(images, model, setting, values):
    """Members 0 and 2 stop at 10 (2 of 4 run: compaction keeps 1 and 3, and the loss keeps
    their rows); resumed from a state taken after compaction, every member is its solo run."""
    cs = [config(model=model, family=model, iterations=16, **{setting: v}) for v in values]
    pack = pack_of(cs, images)
    pack.run(until=RUNG1)
    for k in (0, 2):
        pack.stop(k)
    assert pack.columns == [1, 3]
    assert getattr(pack.loss, setting).tolist() == [values[1], values[3]]
    pack.run(until=13)
    buffer = io.BytesIO()
    torch.save(pack.state_dict(), buffer)
    buffer.seek(0)
    second = pack_of(cs, images)
    second.load_state_dict(torch.load(buffer, weights_only=False))
    assert second.columns == [1, 3]
    second.run()
    for k in range(4):
        ref = solo(cs[k], images, until=RUNG1 if k in (0, 2) else None)
        ref.attempts = [0, 13]                  # the only difference a resume makes
        assert_is(second, k, ref)
        if model == "began":
            assert torch.equal(second.member_state_dict(k)["loss"]["k_t"],
                               ref.state_dict()["loss"]["k_t"])
