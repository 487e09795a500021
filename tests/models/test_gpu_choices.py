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
