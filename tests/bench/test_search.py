"""The search bench's sweep files and its comparison with the full grid, on rows by hand."""
from __future__ import annotations

import math
from pathlib import Path

import pytest

from bench.search import BUDGET, GRACE, PACK, RUNS, compare, sweep_document, table
from sweep.config.sweep_file import parse_config
from sweep.config.trials import counts, plan


@pytest.mark.parametrize("run", list(RUNS))
def test_each_run_is_a_valid_sweep_of_the_same_64_configurations(run):
    kind, pack = RUNS[run]
    scheduled = kind is not None
    cfg = parse_config(sweep_document("search", Path("/nowhere"), kind, pack))
    assert counts(cfg) == {"gan": 48, "ebgan": 16}        # 2 x 12 x 2 and 2 x 2 x 2 x 2
    assert cfg.budget.iterations == BUDGET and cfg.resources.pack == pack
    assert pack == (PACK if run == "asha + packs" else 1)
    schedulers = plan(cfg).get("schedulers", {})
    assert sorted(schedulers) == (["ebgan", "gan"] if scheduled else [])
    for s in schedulers.values():                           # 150, 450, 1350 below 3000
        assert s["metric"] == "fd" and s["rungs"][0] == [GRACE, 3 * GRACE, 9 * GRACE]
        # hyperband: bracket k starts at GRACE x 3^k; asha: the one bracket
        assert s["rungs"][1:] == ([[3 * GRACE, 9 * GRACE], [9 * GRACE]] if kind == "hyperband"
                                  else [])


def row(key: str, fd: float | None, *, status: str = "ok", done: int = 100, run: int | None = None,
        score: float = 1.0) -> dict:
    return {"trial_key": key, "family": "gan", "status": status, "iterations_done": done,
            "iterations_planned": 100, "iterations_run": done if run is None else run,
            "score": score, "fd": fd}


FULL = {"run": "full grid", "wall_s": 100.0, "rows": [
    row("a", 10.0), row("b", 20.0, score=2.0), row("c", 30.0), row("d", None, status="diverged",
                                                                   done=7)]}


def test_the_full_grid_against_itself():
    c = compare(FULL, FULL)
    assert c["iterations"] == 307 and c["iterations_share"] == 1.0 and c["wall_share"] == 1.0
    assert (c["best_key"], c["best_fd"], c["rank_in_full_grid"], c["to_budget"]) == ("a", 10.0, 1, 3)
    assert c["best_score"] == 2.0 and c["top_share"] == 0.25


def test_a_run_that_stopped_the_best_configuration_early():
    run = {"run": "asha", "wall_s": 40.0, "rows": [
        row("a", None, status="stopped", done=10), row("b", 20.0, run=130),   # a lost attempt
        row("c", 30.0), row("d", None, status="diverged", done=7)]}
    c = compare(FULL, run)
    # 10 + 130 + 100 + 7 iterations of the grid's 307; b is second best in the full grid
    assert c["iterations"] == 247 and c["iterations_share"] == pytest.approx(247 / 307)
    assert c["wall_share"] == 0.4 and c["stopped"] == 1 and c["to_budget"] == 2
    assert (c["best_key"], c["best_fd"], c["rank_in_full_grid"]) == ("b", 20.0, 2)
    lines = table({"configurations": 4, "budget": 100, "grace": 10, "reduction": 3,
                   "score_samples": 2000, "rung_samples": 1000, "rows": [c]})
    assert lines[-1].split()[:4] == ["asha", "247", "80%", "40s"]
    assert lines[-1].endswith("2 of 4")


def test_a_stopped_configuration_never_counts_as_the_best():
    """Its FD (if any were recorded) is not a final one: it counts as the worst."""
    run = {"run": "asha", "wall_s": 1.0, "rows": [row("a", 1.0, status="stopped", done=10),
                                                 row("c", 30.0)]}
    c = compare(FULL, run)
    assert c["best_key"] == "c" and c["rank_in_full_grid"] == 3
    assert not math.isinf(c["best_fd"])
