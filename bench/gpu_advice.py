"""From the check's tables to models/gpu_choices.py: what each choice should be.

Each rule reads only the measured rows (docs/gpu.md, "Turning the table into defaults"); a
choice the run did not measure keeps its current value with the reason "not measured".
A gain counts only above MARGIN, so noise does not flip a default.
"""
from __future__ import annotations

from typing import Any

from bench.gpu_common import Part
from models import gpu_choices

MARGIN = 1.10   # a mode must be 10% faster than the one it would replace

COLUMNS = [("choice", "choice", "", 18), ("now", "now", "", 6), ("suggested", "suggested", "", 9),
           ("why", "why", "", 50)]


def _by_arch(rows: list[dict[str, Any]]) -> dict[str, dict[str, dict[str, Any]]]:
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for r in rows:
        if r.get("key"):
            out.setdefault(r["arch"], {})[r["key"]] = r
    return out


def _rate(modes: dict[str, dict[str, Any]], key: str) -> float | None:
    return modes.get(key, {}).get("rate")


def _all_faster(archs, fast: str, slow: str) -> bool | None:
    """Whether ``fast`` beats ``slow`` by MARGIN on every architecture (None: unmeasured)."""
    pairs = [(_rate(m, fast), _rate(m, slow)) for m in archs.values()]
    if not pairs or any(f is None or s is None for f, s in pairs):
        return None
    return all(f >= MARGIN * s for f, s in pairs)


def suggest(packing: list[dict[str, Any]], correctness: list[dict[str, Any]],
            tf32: dict[str, Any]) -> dict[str, tuple[Any, str]]:
    """{choice: (suggested value, why)} from the rows of the three measuring parts."""
    g, archs = gpu_choices, _by_arch(packing)
    best = {a: max((m[k]["rate"], k) for k in "cde" if "rate" in m.get(k, {}))
            for a, m in archs.items() if any("rate" in m.get(k, {}) for k in "cde")}
    out: dict[str, tuple[Any, str]] = {}

    b_rates = [_rate(m, "b") for m in archs.values()]
    pays = (None if not archs or len(best) < len(archs) or None in b_rates else
            all(best[a][0] >= MARGIN * _rate(m, "b") for a, m in archs.items()))
    out["AUTO_GPU_PACK"] = ((g.AUTO_GPU_PACK, "not measured") if pays is None else
                            (g.AUTO_GPU_PACK, "the best pack mode beats (b) on every architecture")
                            if pays else (1, "no pack mode beats (b) on every architecture"))

    shares = _all_faster(archs, "b", "a")
    out["AUTO_GPU_FRACTION"] = ((g.AUTO_GPU_FRACTION, "not measured") if shares is None else
                                (0.25, "(b) processes sharing beat (a) one alone everywhere")
                                if shares else (1.0, "(b) processes sharing do not beat (a) alone"))

    ratios = [m[k]["gib"] / m[k]["est_gib"] for m in archs.values() for k in "cde"
              if m.get(k, {}).get("gib") and m[k].get("est_gib")]
    worst = max(ratios, default=None)
    out["PACK_MEMORY_SHARE"] = (
        (g.PACK_MEMORY_SHARE, "not measured") if worst is None else
        (g.PACK_MEMORY_SHARE, f"packs used at most {worst:.2f} x the estimate") if worst <= 1.0
        else (round(g.PACK_MEMORY_SHARE / worst, 2),
              f"packs used up to {worst:.2f} x the estimate"))

    graph_rows = [r for r in correctness if str(r.get("check", "")).startswith("CUDA graph")]
    graph_ok = bool(graph_rows) and all(r.get("verdict") == "pass" for r in graph_rows)
    faster = _all_faster(archs, "d", "c")
    out["CUDA_GRAPH"] = ((g.CUDA_GRAPH, "not measured") if faster is None or not graph_rows else
                         (True, "(d) beats (c) and graphs give eager's losses")
                         if faster and graph_ok else
                         (False, "graph rows do not all pass" if not graph_ok
                          else "(d) does not beat (c) by 10%"))

    within = tf32.get("tf32_within_spread")
    quicker = _all_faster(archs, "e", "d")
    out["TF32"] = ((g.TF32, "not measured") if within is None or quicker is None else
                   (True, f"within the seed spread ({tf32.get('compares')}) and (e) beats (d)")
                   if within and quicker else
                   (False, "moves a score past the seed spread" if not within
                    else "(e) does not beat (d) by 10%"))
    return out


def run_advice(part: Part, packing: list[dict[str, Any]], correctness: list[dict[str, Any]],
               tf32: dict[str, Any], on_gpu: bool) -> None:
    part.title("suggested models/gpu_choices.py" + ("" if on_gpu else
               " (CPU rehearsal: these numbers are not for the GPU defaults)"), COLUMNS)
    for choice, (value, why) in suggest(packing, correctness, tf32).items():
        part.row({"choice": choice, "now": str(getattr(gpu_choices, choice)),
                  "suggested": str(value), "value": value, "why": why})
