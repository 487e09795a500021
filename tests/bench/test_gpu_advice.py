"""The rules from the check's tables to models/gpu_choices.py, on rows made by hand."""
from __future__ import annotations

from bench.gpu_advice import suggest


def rows(arch: str, rates: dict[str, float], gib: float | None = None,
         est: float | None = None) -> list[dict]:
    out = []
    for key in "abcde":
        r = {"arch": arch, "key": key}
        if key in rates:
            r["rate"] = rates[key]
        else:
            r["status"] = "skipped: needs CUDA"
        if key in "cde":
            r.update(gib=gib, est_gib=est)
        out.append(r)
    return out


GRAPH_PASS = [{"check": "CUDA graph vs eager: loss curves", "verdict": "pass"},
              {"check": "CUDA graph vs eager: weights", "verdict": "pass"}]


def test_a_measured_gpu_run():
    packing = (rows("A", dict(a=10, b=20, c=100, d=150, e=200), gib=1.0, est=0.5)
               + rows("B", dict(a=10, b=12, c=30, d=31, e=40), gib=0.2, est=0.4))
    s = suggest(packing, GRAPH_PASS, {"tf32_within_spread": True, "compares": "I and FD"})
    assert s["AUTO_GPU_PACK"][0] == 24           # best packs 200 >= 1.1 x 20, 40 >= 1.1 x 12
    assert s["AUTO_GPU_FRACTION"][0] == 0.25     # b/a = 2.0 and 1.2, both >= 1.1
    assert s["PACK_MEMORY_SHARE"] == (0.4, "packs used up to 2.00 x the estimate")  # 0.8 / 2
    assert s["CUDA_GRAPH"] == (False, "(d) does not beat (c) by 10%")            # 31 / 30
    assert s["TF32"][0] is True                  # 200/150 and 40/31 >= 1.1, within spread


def test_what_a_run_did_not_measure_keeps_its_value():
    packing = rows("A", dict(a=10, c=9), gib=None, est=0.1)      # CPU: no (b) here, no d/e
    s = suggest(packing, [{"check": "CUDA graph vs eager", "status": "skipped: needs CUDA"}],
                {"tf32_within_spread": True})
    assert {k: why for k, (_, why) in s.items()} == dict.fromkeys(
        ["AUTO_GPU_PACK", "AUTO_GPU_FRACTION", "PACK_MEMORY_SHARE", "CUDA_GRAPH", "TF32"],
        "not measured")


def test_packs_that_do_not_pay_and_a_failing_graph():
    packing = rows("A", dict(a=10, b=9, c=9.5, d=20, e=30))
    graph = [GRAPH_PASS[0], {"check": "CUDA graph vs eager: weights", "verdict": "FAIL"}]
    s = suggest(packing, graph, {"tf32_within_spread": False})
    assert s["AUTO_GPU_PACK"][0] == 24           # best pack (e) 30 >= 1.1 x 9
    assert s["AUTO_GPU_FRACTION"] == (1.0, "(b) processes sharing do not beat (a) alone")
    assert s["CUDA_GRAPH"] == (False, "graph rows do not all pass")
    assert s["TF32"] == (False, "moves a score past the seed spread")
    s = suggest(rows("A", dict(a=10, b=20, c=15, d=16, e=17)), GRAPH_PASS, {})
    assert s["AUTO_GPU_PACK"] == (1, "no pack mode beats (b) on every architecture")
