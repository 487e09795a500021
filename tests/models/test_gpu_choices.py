"""The GPU choices live in one module, and their readers take them from there."""
from __future__ import annotations

import subprocess
import sys

import pytest

from models import gpu_choices
from models.config import TrialConfig
from models.pack_plan import plan_packs


def test_importing_the_choices_does_not_load_torch():
    code = "import sys, models.gpu_choices; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.fixture
def tf32_restored():
    before = gpu_choices.tf32_enabled()
    yield
    gpu_choices.set_tf32(before)


def test_set_tf32_round_trip(tf32_restored):
    gpu_choices.set_tf32(True)
    assert gpu_choices.tf32_enabled()
    gpu_choices.set_tf32(False)
    assert not gpu_choices.tf32_enabled()


def test_plan_packs_caps_at_the_auto_pack_size():
    assert gpu_choices.AUTO_GPU_PACK == 24
    base = dict(family="gan", model="gan", nLayerG=2, nLayerD=2, sizeG=8, sizeD=8,
                dropoutD=False, optimD="adam", optimG="adam", iterations=5)
    cs = [TrialConfig(**base, lr=1e-3 * (k + 1)) for k in range(30)]
    assert [len(p) for p in plan_packs(cs)] == [15, 15]      # ceil(30 / 24) = 2 near-equal packs


def test_the_readers_take_the_choices_from_here(monkeypatch):
    """One edit of models/gpu_choices.py changes what `auto` means in the sweep."""
    from sweep.config import Resources
    from sweep.run.driver.cluster import per_trial
    from sweep.run.scheduling.units import max_pack_size, splitter

    monkeypatch.setattr(gpu_choices, "AUTO_GPU_PACK", 7)
    monkeypatch.setattr(gpu_choices, "AUTO_GPU_FRACTION", 0.5)
    monkeypatch.setattr(gpu_choices, "PACK_MEMORY_SHARE", 0.25)
    assert max_pack_size(Resources(), {"cpu": 1, "gpu": 0.5}) == 7
    assert per_trial(Resources(), [{"CPU": 4, "GPU": 1}]) == {"cpu": 1.0, "gpu": 0.5}
    lines = []
    splitter(Resources(), {"cpu": 1, "gpu": 0.5}, log=lines.append, gpu_bytes=lambda: 2**33)
    # 8 GiB x gpu 0.5 x share 0.25 = 1 GiB a trial
    assert lines == ["[pack] packs of up to 7 configurations within 1.0 GiB of GPU memory "
                     "per trial"]
