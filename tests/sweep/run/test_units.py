"""The grid's units and their seeded, stratified hand-out order (sweep/run/scheduling/units.py)."""
from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from models.pack_plan import plan_packs
from sweep.config import load_config, trials
from sweep.run.scheduling.units import plan_units, shape_groups

REPO = Path(__file__).resolve().parents[3]


def _orders(grid, seed: int) -> dict[str, int]:
    """Trial key -> its position in its family's hand-out order, as the units carry it."""
    units = plan_units(grid, {t.key for t in grid}, seed=seed)
    return {m.key: o for u in units for m, o in zip(u.members, u.orders)}


@pytest.fixture(scope="module")
def grid():
    return trials(load_config(REPO / "sweep.yaml"))


def test_table1_groups_by_architecture(grid):
    groups = shape_groups(grid)
    # GAN: 4^4 architectures x (2 dropout x 2 x 2 optimisers x 3 lr = 24) configurations;
    # EBGAN: 4^4 x 2 dropout; EBGAN-PT: one configuration.
    assert {f: len(g) for f, g in groups.items()} == {"ebgan": 256, "gan": 256, "ebgan_pt": 1}
    assert {len(g) for g in groups["gan"]} == {24} and {len(g) for g in groups["ebgan"]} == {2}


def test_every_configuration_once_and_families_advance_in_proportion(grid):
    units = plan_units(grid, {t.key for t in grid}, seed=0)
    keys = [m.key for u in units for m in u.members]
    assert sorted(keys) == sorted(t.key for t in grid)
    sizes = Counter(t.family for t in grid)  # ebgan 512, gan 6,144, ebgan_pt 1
    seen: Counter = Counter()
    for u in units:
        seen.update(m.family for m in u.members)
        done = sum(seen.values()) / len(grid)
        for fam in ("ebgan", "gan"):
            # within one shape group of its family's proportional share
            assert abs(seen[fam] - done * sizes[fam]) <= 24 + 1, (fam, seen, done)


def test_the_order_is_seeded_and_stable_on_resume(grid):
    all_keys = {t.key for t in grid}
    first = [u.members[0].key for u in plan_units(grid, all_keys, seed=0)]
    assert first == [u.members[0].key for u in plan_units(grid, all_keys, seed=0)]
    assert first != [u.members[0].key for u in plan_units(grid, all_keys, seed=1)]
    # a resumed grid: the pending ones keep their relative order and their positions
    pending = set(first[::3])
    resumed = plan_units(grid, pending, seed=0)
    assert [u.members[0].key for u in resumed] == [k for k in first if k in pending]
    orders = _orders(grid, 0)
    assert all(u.orders[0] == orders[u.members[0].key] for u in resumed)


def test_orders_count_configurations_in_random_groups(grid):
    orders = _orders(grid, 0)
    gan = sorted((orders[t.key], t) for t in grid if t.family == "gan")
    assert [o for o, _ in gan] == list(range(6144))  # a permutation of positions
    first_group = {t.shape_group for o, t in gan[:24]}
    assert len(first_group) == 1  # a prefix of 24 is one whole architecture group
    # not the grid order: the first group handed out is a random architecture
    assert gan[0][1].key != next(t for t in grid if t.family == "gan").key or \
        gan[24][1].shape_group != [t for t in grid if t.family == "gan"][24].shape_group


def test_packs_follow_the_same_order(grid):
    all_keys = {t.key for t in grid}
    singles = plan_units(grid, all_keys, seed=0)
    packs = plan_units(grid, all_keys, seed=0, split=lambda g: plan_packs(g, max_members=24))
    packed = [m for u in packs for m in u.members]
    alone = [u.members[0] for u in singles]
    # the same groups in the same order; within a group, packs sort members by optimiser
    assert [m.shape_group for m in packed] == [m.shape_group for m in alone]
    assert sorted(m.key for m in packed) == sorted(m.key for m in alone)
    assert all(u.orders == tuple(order[m.key] for m in u.members) for u in packs
               for order in [{s.members[0].key: s.orders[0] for s in singles}])
    assert {len(u.members) for u in packs if u.members[0].family == "gan"} == {24}
    assert len({u.pack_id for u in packs if u.is_pack}) == 256 + 256  # gan + ebgan packs
