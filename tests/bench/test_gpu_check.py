"""The GPU check's CPU rehearsal (`python3 bench/gpu_check.py --cpu`), so it cannot rot
between GPU windows: it runs in a subprocess where importing Ray, Optuna, mlxtend,
scikit-learn, SciPy or threadpoolctl fails, and its JSON must hold every part with values
that can be derived here.
"""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BLOCKED = ("ray", "optuna", "mlxtend", "sklearn", "scipy", "threadpoolctl")


def blocked_env(folder: Path) -> dict[str, str]:
    """The environment of a Python where importing any of BLOCKED raises ImportError."""
    folder.mkdir(exist_ok=True)
    for name in BLOCKED:  # found first on the path: any import of these raises
        (folder / f"{name}.py").write_text(
            f"raise ImportError('the GPU check must not import {name}')\n")
    return {**os.environ, "PYTHONPATH": str(folder)}   # not the repo: the script finds it


@pytest.fixture(scope="module")
def rehearsal(tmp_path_factory) -> dict:
    """The JSON of one `--cpu` run without a bundle (synthetic data)."""
    tmp = tmp_path_factory.mktemp("gpu-check")
    env = blocked_env(tmp / "blocked")
    out = tmp / "check.json"
    proc = subprocess.run([sys.executable, "bench/gpu_check.py", "--cpu", "--bundle", "none",
                           "--out", str(out)], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    doc = json.loads(out.read_text())
    doc["stdout"] = proc.stdout
    return doc


def by_key(rows: list[dict], **match) -> list[dict]:
    return [r for r in rows if all(r.get(k) == v for k, v in match.items())]


def test_every_part_ran_without_the_sweep_stack(rehearsal):
    parts = rehearsal["parts"]
    assert list(parts) == ["correctness", "packing", "tf32", "projection", "advice"]
    assert {name: p["status"] for name, p in parts.items()} == dict.fromkeys(parts, "ok")
    assert rehearsal["data"]["mode"] == "synthetic" and rehearsal["data"]["images"] == 1024
    assert rehearsal["environment"]["device"] == "cpu"
    assert rehearsal["environment"]["gpu_choices"]["AUTO_GPU_PACK"] == 24
    for title in ("correctness on cpu", "packing on cpu", "TF32 on cpu", "projection"):
        assert title in rehearsal["stdout"]        # printed as it went, not only in the JSON


def test_correctness_on_the_cpu_is_bit_identical(rehearsal):
    part = rehearsal["parts"]["correctness"]
    assert part["tolerance"]["value"] == 0.0         # the CPU contract of models/pack.py
    judged = [r for r in part["rows"] if "gap" in r]
    assert len(judged) == 4 + 2 + 1 + 2   # members, beside a diverged one, resume, stopped
    assert all(r["gap"] == 0.0 and r["verdict"] == "pass" for r in judged)
    assert any("compacted to [0]" in r["check"] for r in judged)
    diverged = [r for r in part["rows"] if r["check"].startswith("diverging member")]
    assert diverged[0]["verdict"] == "pass" and "stops at 1 (solo: 1)" in diverged[0]["check"]
    assert part["rows"][-1]["status"] == "skipped: needs CUDA"


def test_the_five_way_packing_table(rehearsal):
    rows = rehearsal["parts"]["packing"]["rows"]
    assert len(rows) == 3 * 5
    assert [r["key"] for r in rows] == list("abcde") * 3
    assert [r["members"] for r in rows if r["key"] == "c"] == [4, 4, 2]
    assert all(r["members"] == 2 for r in rows if r["key"] == "b")   # --cpu: 2 processes
    small = rows[0]["flops_per_iteration"]
    # small /8: G 100->50->1024 = 5,000 + 51,200 weights; D 1024->16->1 = 16,384 + 16;
    # 2 FLOPs x batch 64 x (3 x G + 8 x D) = 128 x (168,600 + 131,200) = 38,374,400.
    assert small == 38_374_400
    for r in rows:
        if r["key"] in "abc":
            assert "status" not in r and r["rate"] > 0
            assert math.isclose(r["tflops"], r["rate"] * r["flops_per_iteration"] / 1e12)
        else:
            assert r["status"] == "skipped: needs CUDA"
        if r["key"] == "b":
            assert r["vs_b"] == 1.0 and len(r["per_process"]) == 2
    peak = rehearsal["parts"]["packing"]["peak_flops"]["float32"]
    assert all(math.isclose(r["of_peak"], 100 * r["rate"] * r["flops_per_iteration"] / peak)
               for r in rows if "rate" in r)


def test_tf32_on_the_cpu_changes_nothing_and_seeds_do(rehearsal):
    part = rehearsal["parts"]["tf32"]
    assert part["compares"] == "losses and weights"
    losses = [r for r in part["rows"] if r["quantity"] in ("loss_d", "loss_g")]
    weights = [r for r in part["rows"] if r["quantity"] == "G weights"]
    assert len(losses) == 6 and len(weights) == 3
    # The switch does nothing on the CPU: both arms are the same runs, exactly.
    assert all(r["delta_mean"] == 0 and r["delta_same_seed"] == 0 for r in losses)
    assert all(r["fp32"] == r["tf32"] and len(r["fp32"]) == 3 for r in losses)
    assert all(r["delta_same_seed"] == 0 for r in weights)
    assert all(r["fp32_spread"] > 0 for r in losses)          # three seeds, three runs
    assert part["tf32_within_spread"] is True


def test_projection_of_table1(rehearsal):
    part = rehearsal["parts"]["projection"]
    assert part["configurations"] == 6657             # sweep.yaml's Table 1 (sweep plan)
    rows = {r["key"]: r for r in part["rows"]}
    assert set(rows) == {"a", "b", "c", "best"}
    assert rows["b"]["vs_b"] == 1.0 and all(r["hours"] > 0 for r in rows.values())
    assert rows["best"]["hours"] == rows["c"]["hours"]   # on the CPU only (c) is measured
    assert math.isclose(rows["c"]["vs_b"], rows["b"]["hours"] / rows["c"]["hours"])


def test_advice_keeps_what_the_cpu_cannot_measure(rehearsal):
    rows = {r["choice"]: r for r in rehearsal["parts"]["advice"]["rows"]}
    assert set(rows) == {"AUTO_GPU_PACK", "AUTO_GPU_FRACTION", "PACK_MEMORY_SHARE",
                         "CUDA_GRAPH", "TF32"}
    for choice in ("PACK_MEMORY_SHARE", "CUDA_GRAPH", "TF32"):   # no CUDA memory, no d/e
        assert rows[choice]["why"] == "not measured"
        assert rows[choice]["suggested"] == rows[choice]["now"]
    assert rows["AUTO_GPU_PACK"]["why"] != "not measured"      # (a), (b), (c) ran
    assert "CPU rehearsal" in rehearsal["stdout"]


def test_fd_without_threadpoolctl(tmp_path):
    """The bundle's FD runs on an image without scikit-learn's threadpoolctl. By hand, for
    N(0, 1) and N(1, 4): |0 - 1|^2 + 1 + 4 - 2 sqrt(1 * 4) = 2."""
    code = ("import sys; sys.path.insert(0, '.'); import numpy as np\n"
            "from evaluator.frechet import FeatureStats, frechet_distance\n"
            "a = FeatureStats(np.zeros(1), np.eye(1), 2)\n"
            "b = FeatureStats(np.ones(1), 4 * np.eye(1), 2)\n"
            "print(frechet_distance(a, b), 'threadpoolctl' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=blocked_env(tmp_path),
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    value, loaded = out.stdout.split()
    assert math.isclose(float(value), 2.0, rel_tol=1e-12) and loaded == "False"
