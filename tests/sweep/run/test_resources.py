"""Resources per trial and trials at a time (sweep/run/driver/cluster.py,
sweep/run/scheduling/units.py): values derived by hand from the nodes Ray would report."""
from __future__ import annotations

import pytest

from models.config import TrialConfig
from sweep.config.sweep_file import Resources
from sweep.run.driver.cluster import ClusterError, concurrent_slots, per_trial
from sweep.run.scheduling.units import max_pack_size, splitter

CPU_BOX = [{"CPU": 2.0}]
GPU_CLUSTER = [{"CPU": 4.0}, {"CPU": 8.0, "GPU": 1.0}, {"CPU": 8.0, "GPU": 1.0}]


def test_auto_is_one_cpu_and_a_quarter_gpu_where_there_are_gpus():
    assert per_trial(Resources(), CPU_BOX) == {"cpu": 1.0, "gpu": 0.0}
    assert per_trial(Resources(), GPU_CLUSTER) == {"cpu": 1.0, "gpu": 0.25}
    assert per_trial(Resources(cpu=2, gpu=1), GPU_CLUSTER) == {"cpu": 2.0, "gpu": 1.0}


@pytest.mark.parametrize("res, nodes, fragment", [
    (Resources(gpu=1), CPU_BOX, "fit on no node"),
    (Resources(cpu=16), GPU_CLUSTER, "fit on no node"),
    (Resources(gpu=1.5), GPU_CLUSTER, "a fraction of one GPU or a whole number"),
])
def test_impossible_requests_are_refused(res, nodes, fragment):
    with pytest.raises(ClusterError, match=fragment):
        per_trial(res, nodes)


def test_slots_count_what_fits_on_each_node():
    # 2 CPUs, 1 CPU per trial: 2 at a time.
    assert concurrent_slots({"cpu": 1.0, "gpu": 0.0}, CPU_BOX, None) == 2
    # GPU nodes: min(8 / 1 CPU, 1 / 0.25 GPU) = 4 each; the CPU-only node runs none.
    assert concurrent_slots({"cpu": 1.0, "gpu": 0.25}, GPU_CLUSTER, None) == 8
    assert concurrent_slots({"cpu": 3.0, "gpu": 0.25}, GPU_CLUSTER, None) == 4  # 8 // 3 = 2 each
    assert concurrent_slots({"cpu": 1.0, "gpu": 0.0}, GPU_CLUSTER, 5) == 5  # capped
    assert concurrent_slots({"cpu": 4.0, "gpu": 0.0}, [{"CPU": 2.0}], None) == 1  # at least 1


def _group(n: int) -> list[TrialConfig]:
    return [TrialConfig.from_dict(dict(family="gan", model="gan", nLayerG=2, nLayerD=2,
                                       sizeG=400, sizeD=128, dropoutD=i % 2 == 0,
                                       optimD="adam", optimG="sgd", lr=10.0 ** -(1 + i)))
            for i in range(n)]


def test_pack_auto_packs_on_gpus_only_and_a_number_caps_it():
    assert max_pack_size(Resources(), {"cpu": 1, "gpu": 0.0}) == 1
    assert max_pack_size(Resources(), {"cpu": 1, "gpu": 0.25}) == 24
    assert max_pack_size(Resources(pack=5), {"cpu": 1, "gpu": 0.0}) == 5
    assert splitter(Resources(), {"cpu": 1, "gpu": 0.0})(_group(3)) == [[c] for c in _group(3)]
    packs = splitter(Resources(pack=4), {"cpu": 1, "gpu": 0.0})(_group(10))
    assert sorted(len(p) for p in packs) == [3, 3, 4]  # near-equal packs of at most 4
    assert sorted(c.key for p in packs for c in p) == sorted(c.key for c in _group(10))


def test_gpu_packs_are_split_to_fit_the_memory():
    # (2,2,400,128) GAN: 100*400 + 800 + 400*1024 + 1024 + 1024*128 + 128 + 129 parameters
    # = 583,105; x 16 bytes (weights, gradients, Adam moments) = 9.3 MB plus activations.
    one = splitter(Resources(pack=24), {"cpu": 1, "gpu": 1.0}, gpu_bytes=lambda: 10**12)
    assert [len(p) for p in one(_group(24))] == [24]
    tight = splitter(Resources(pack=24), {"cpu": 1, "gpu": 1.0},
                     gpu_bytes=lambda: int(12 * 9.4e6 / 0.8 * 1.02))
    sizes = [len(p) for p in tight(_group(24))]
    assert sum(sizes) == 24 and max(sizes) <= 12
