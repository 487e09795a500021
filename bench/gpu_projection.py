"""Table 1's wall time on this device, projected from the packing table's rates.

Each of Table 1's configurations (sweep.yaml, its planned iterations on 60,000 digits) is
given the device's configuration-iterations per second interpolated by its FLOPs between
the measured architectures (``bench.speed.project_table1``, piecewise linear, clamped at
the ends); the sum is the wall time on one device for each way of running the grid:
    one-per-slot   (b): configurations as processes sharing the device (`gpu: 0.25` today)
    alone          (a): one configuration at a time
    packed         (c): eager packs, what `pack: auto` runs with the defaults of
                   models.gpu_choices; and the fastest pack mode measured (c, d or e).
A measured rate is the whole device's, so the slots are 1.
"""
from __future__ import annotations

from typing import Any

from bench.gpu_common import Part
from bench.speed import project_table1

COLUMNS = [("way", "way of running Table 1", "", 44), ("hours", "hours", ".1f", 10),
           ("vs_b", "x one-per-slot", ".2f", 14)]


def _rates(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """{arch: {mode key: rate, "flops": FLOPs per iteration}} from the packing rows."""
    out: dict[str, dict[str, Any]] = {}
    for r in rows:
        if "rate" in r and r.get("key"):
            out.setdefault(r["arch"], {"flops": r["flops_per_iteration"]})[r["key"]] = r["rate"]
    return out


def run_projection(part: Part, packing_rows: list[dict[str, Any]]) -> None:
    part.title("projection: Table 1 (sweep.yaml) on one such device, from the packing rates",
               COLUMNS)
    rates = _rates(packing_rows)
    ways = {"(b) one per slot, processes sharing": "b", "(a) one at a time": "a",
            "(c) packs, eager (the defaults)": "c", "fastest pack mode measured": "best"}
    for arch in rates.values():
        packs = {k: arch[k] for k in "cde" if k in arch}
        if packs:
            arch["best"] = max(packs.values())
    hours: dict[str, float] = {}
    for way, key in ways.items():
        have = {a: r for a, r in rates.items() if key in r}
        if len(have) < len(rates) or not have:
            part.row({"way": way, "status": "skipped: not measured for every architecture"})
            continue
        measured = {a: {"speedup": 1.0, "flops_per_iteration": r["flops"],
                        "solo_ms_per_config_iteration": 1e3 / r[key],
                        "packed_ms_per_config_iteration": 1e3 / r[key]}
                    for a, r in have.items()}
        p = project_table1(measured, slots=1)
        hours[key] = p["solo_hours"]
        part.info["configurations"] = p["configurations"]
        part.row({"way": way, "key": key, "hours": p["solo_hours"],
                  "vs_b": hours["b"] / p["solo_hours"] if "b" in hours else None})
    if "configurations" in part.info:
        part.log(f"  ({part.info['configurations']:,} configurations, their planned iterations "
                 "on 60,000 digits; rates interpolated by FLOPs)", flush=True)
