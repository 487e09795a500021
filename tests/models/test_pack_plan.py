"""Pack sizing: the memory estimate by hand, and the split of a grid into packs."""
import itertools

import pytest

from models.config import TrialConfig
from models.nets import parameter_count
from models.pack_plan import check_pack, pack_bytes, plan_packs


def config(**over) -> TrialConfig:
    base = dict(family="gan", model="gan", nLayerG=2, nLayerD=2, sizeG=400, sizeD=128,
                dropoutD=False, optimD="adam", optimG="adam", lr=1e-3)
    return TrialConfig(**{**base, **over})


def test_pack_bytes_by_hand():
    c = config()
    # G: 100*400 + 2*400 (BN) + 400*1024 + 1024; D: 1024*128 + 128 + 128 + 1
    params = 100 * 400 + 800 + 400 * 1024 + 1024 + 1024 * 128 + 128 + 128 + 1
    assert parameter_count(c) == params
    # activations: 6 copies x batch 64 x (G widths 400 + 1024, D widths 128 + 1, 3 forwards)
    activations = 6 * 64 * ((400 + 1024) + 3 * (128 + 1))
    assert pack_bytes(c, 1) == 4 * (4 * params + activations)          # 16 bytes a parameter
    assert pack_bytes(c, 24) == 24 * pack_bytes(c, 1)
    assert pack_bytes(c, 1, dtype_bytes=8) == 2 * pack_bytes(c, 1)
    assert pack_bytes(c, 1, batch_size=128) > pack_bytes(c, 1)
    with pytest.raises(ValueError):
        pack_bytes(c, 0)


def grid():
    """Two shape groups of the GAN optimisation settings, interleaved."""
    return [config(sizeG=s, optimD=d, optimG=g, lr=lr, dropoutD=drop)
            for drop, s, d, g, lr in itertools.product([False, True], [400, 800], ["adam", "sgd"],
                                                        ["adam", "sgd"], [0.01, 0.001, 0.0001])]


def test_plan_packs_one_group_each_every_configuration_once():
    cs = grid()                                                    # 2 groups of 24
    packs = plan_packs(cs, max_members=10)                          # 24 -> 8 + 8 + 8
    assert [len(p) for p in packs] == [8, 8, 8, 8, 8, 8]
    assert sorted(c.key for p in packs for c in p) == sorted(c.key for c in cs)
    for p in packs:
        check_pack(p)                                               # one shape group
        order = [(c.optimD, c.optimG) for c in p]
        assert order == sorted(order)                               # few optimiser runs
    assert [p[0].sizeG for p in packs] == [400] * 3 + [800] * 3      # first appearance first
    assert [len(p) for p in plan_packs(cs)] == [24, 24]


def test_plan_packs_by_bytes():
    cs = [c for c in grid() if c.sizeG == 400]
    one = pack_bytes(cs[0], 1)
    packs = plan_packs(cs, max_bytes=5 * one)
    assert max(len(p) for p in packs) <= 5 and sum(len(p) for p in packs) == 24
    assert all(pack_bytes(p[0], len(p)) <= 5 * one for p in packs)
    with pytest.raises(ValueError, match="max_bytes"):
        plan_packs(cs, max_bytes=one - 1)
    with pytest.raises(ValueError):
        plan_packs(cs, max_members=0)
