"""`scheduler:` per family (sweep/config/scheduler.py): the rung schedule, the cost bounds,
the bracket placement and the validation (exit 2, the key named).

Rungs by hand, Ray Tune's formula (``_Bracket``): int(log(budget / grace) / log(reduction)
- s + 1) rungs at grace x reduction^(k + s), those below the budget decide.
  grace 1000, reduction 3, budget 10,000: log(10)/log(3) = 2.096 -> 3 rungs: 1000, 3000, 9000.
  grace 50, reduction 3, budget 300: log(6)/log(3) = 1.63 -> 2 rungs: 50, 150; bracket 1:
  int(1.63) = 1 rung at 150.
"""
from __future__ import annotations

import copy
import math
import os
from pathlib import Path

import pytest
import yaml

from sweep.cli import main
from sweep.config import ConfigError, load_config, parse_config, plan
from sweep.config.scheduler import (SchedulerConfig, bracket_of, bracket_weights, cost_bounds,
                                    key_rungs, max_brackets, rungs)

REPO = Path(__file__).resolve().parents[3]
EXAMPLE = REPO / "examples" / "asha-smoke.yaml"


def asha(grace: int, reduction: float = 3.0, metric: str = "score") -> SchedulerConfig:
    return SchedulerConfig("asha", grace, metric, reduction, 1)


@pytest.mark.parametrize("grace,reduction,budget,expected", [
    (1000, 3, 10_000, [1000, 3000, 9000]),
    (1000, 3, 9_001, [1000, 3000, 9000]),
    (1000, 3, 8_999, [1000, 3000]),
    (1000, 4, 10_000, [1000, 4000]),
    (50, 3, 300, [50, 150]),
    (100, 2, 1_000, [100, 200, 400, 800]),
    (999, 3, 1_000, [999]),
])
def test_rungs_by_hand(grace, reduction, budget, expected):
    assert rungs(asha(grace, reduction), budget) == expected


def test_rungs_are_ray_tunes():
    from ray.tune.schedulers.async_hyperband import _Bracket
    for grace, red, budget in [(1000, 3, 10_000), (50, 3, 300), (7, 2.5, 1234), (10, 4, 640),
                               (1000, 3, 27_000), (2, 2, 64)]:
        for s in range(max_brackets(grace, red, budget)):
            ray_rungs = sorted(int(m) for m, _ in _Bracket(grace, budget, red, s)._rungs)
            assert rungs(SchedulerConfig("hyperband", grace, "score", red, 3), budget, s) == \
                [r for r in ray_rungs if r < budget], (grace, red, budget, s)


def test_hyperband_brackets_and_their_weights():
    hb = SchedulerConfig("hyperband", 50, "score", 3.0, 2)
    assert max_brackets(50, 3.0, 300) == 2
    assert rungs(hb, 300, 1) == [150]
    # Ray's softmax over the brackets' sizes (2 rungs, 1 rung): e^0 / (e^0 + e^-1) = 0.731
    w = bracket_weights(hb, 300)
    assert w[0] == pytest.approx(1 / (1 + math.exp(-1)))
    keys = [f"{i:016x}" for i in range(2000)]
    placed = [bracket_of(hb, 300, k) for k in keys]
    assert placed == [bracket_of(hb, 300, k) for k in keys]  # a key's bracket never changes
    assert abs(placed.count(0) / len(keys) - w[0]) < 0.03
    assert {tuple(key_rungs(hb, 300, k)) for k in keys} == {(50, 150), (150,)}
    assert all(bracket_of(asha(50), 300, k) == 0 for k in keys[:50])


def test_cost_bounds_by_hand():
    # 16 configurations, budget 300: at most 16 x 300 = 4,800; at least the first to reach
    # rung 50 goes on to 300 and the 15 others stop at 50: 300 + 15 x 50 = 1,050.
    assert cost_bounds(asha(50), 16, 300) == (1050, 4800)
    assert cost_bounds(asha(1000), 1, 10_000) == (10_000, 10_000)


def test_the_example_parses_and_plans():
    cfg = load_config(EXAMPLE)
    (fam,) = cfg.families
    assert fam.scheduler == SchedulerConfig("asha", 50, "score", 3.0, 1)
    assert cfg.score.rung_samples == 500
    p = plan(cfg)
    assert p["schedulers"]["gan"]["rungs"] == [[50, 150]]
    assert (p["schedulers"]["gan"]["least_iterations"],
            p["schedulers"]["gan"]["most_iterations"]) == (1050, 4800)
    assert p["rung_samples"] == 500


def test_no_scheduler_no_new_plan_keys():
    raw = yaml.safe_load(EXAMPLE.read_text())
    del raw["families"]["gan"]["scheduler"]
    cfg = parse_config(raw, "x.yaml")
    assert cfg.families[0].scheduler is None
    assert "schedulers" not in plan(cfg) and "rung_samples" not in plan(cfg)
    assert parse_config({**raw, "score": {}}, "x.yaml").score.rung_samples == 2000


def test_hyperband_takes_every_bracket_the_budget_allows():
    raw = yaml.safe_load(EXAMPLE.read_text())
    raw["families"]["gan"]["scheduler"] = {"type": "hyperband", "grace": 50}
    cfg = parse_config(raw, "x.yaml")
    assert cfg.families[0].scheduler.brackets == 2
    assert plan(cfg)["schedulers"]["gan"]["rungs"] == [[50, 150], [150]]
    # a budget in epochs: the brackets are known once the data is (the driver fits them)
    raw["budget"] = {"epochs": 1, "batch_size": 64}
    assert parse_config(raw, "x.yaml").families[0].scheduler.brackets is None


BAD = {
    "unknown type": ({"type": "pbt", "grace": 50}, "families.gan.scheduler.type", "pbt"),
    "grace = budget": ({"type": "asha", "grace": 300}, "families.gan.scheduler.grace", "300"),
    "grace > budget": ({"type": "asha", "grace": 5000}, "families.gan.scheduler.grace", "5000"),
    "reduction < 2": ({"type": "asha", "grace": 50, "reduction": 1.5},
                      "families.gan.scheduler.reduction", "1.5"),
    "metric": ({"type": "asha", "grace": 50, "metric": "loss"}, "families.gan.scheduler.metric",
               "loss"),
    "unknown key": ({"type": "asha", "grace": 50, "patience": 3},
                    "families.gan.scheduler.patience", "3"),
    "no grace": ({"type": "asha"}, "families.gan.scheduler.grace", "None"),
    "grace 0": ({"type": "asha", "grace": 0}, "families.gan.scheduler.grace", "0"),
    "brackets with asha": ({"type": "asha", "grace": 50, "brackets": 2},
                           "families.gan.scheduler.brackets", "2"),
    "too many brackets": ({"type": "hyperband", "grace": 50, "brackets": 3},
                          "families.gan.scheduler.brackets", "3"),
    "not a mapping": ("asha", "families.gan.scheduler", "asha"),
}


@pytest.mark.parametrize("name", list(BAD))
def test_bad_scheduler_is_refused_naming_the_key(name):
    value, key, shown = BAD[name]
    raw = yaml.safe_load(EXAMPLE.read_text())
    raw["families"]["gan"]["scheduler"] = value
    with pytest.raises(ConfigError) as err:
        parse_config(copy.deepcopy(raw), "x.yaml")
    assert f"x.yaml: {key}:" in str(err.value) and shown in str(err.value)


def test_bad_rung_samples_is_refused():
    raw = yaml.safe_load(EXAMPLE.read_text())
    raw["score"]["rung_samples"] = 1
    with pytest.raises(ConfigError, match="score.rung_samples"):
        parse_config(raw, "x.yaml")


def test_bad_scheduler_exits_2_with_one_paragraph(tmp_path, capsys):
    raw = yaml.safe_load(EXAMPLE.read_text())
    raw["families"]["gan"]["scheduler"]["reduction"] = 1
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(raw))
    assert main(["plan", "-c", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1
    assert "families.gan.scheduler.reduction" in err and "Traceback" not in err


def test_plan_prints_the_rungs_and_the_cost(capsys):
    assert main(["plan", "-c", str(EXAMPLE)]) == 0
    out = capsys.readouterr().out
    assert ("gan: asha on score (grace 50, reduction 3): rungs at 50, 150 iterations, then "
            "the budget (300); costs 1,050 to 4,800 iterations (22% to 100% of the full "
            "grid)") in out


def test_an_epochs_budget_on_a_fixed_data_source_plans_its_rungs(tmp_path, capsys):
    """20 epochs of full MNIST at batch 64 = 20 x (60,000 // 64) = 18,740 iterations: rungs
    at 1,000, 3,000, 9,000 (27,000 is past the budget); with `auto` they wait for the data."""
    raw = yaml.safe_load(EXAMPLE.read_text())
    raw["budget"] = {"epochs": 20, "batch_size": 64}
    raw["data"] = {"source": "mnist"}
    for fam in raw["families"].values():
        fam.pop("scheduler", None)
    first = next(iter(raw["families"].values()))
    first["scheduler"] = {"type": "asha", "metric": "fd", "grace": 1000, "reduction": 3}
    path = tmp_path / "epochs.yaml"
    path.write_text(yaml.safe_dump(raw))
    assert main(["plan", "-c", str(path)]) == 0
    assert "rungs at 1,000, 3,000, 9,000 iterations, then the budget (18,740)" in \
        capsys.readouterr().out
    raw["data"] = {"source": "auto"}
    path.write_text(yaml.safe_dump(raw))
    assert main(["plan", "-c", str(path)]) == 0
    assert "known once the data is" in capsys.readouterr().out


def test_the_planned_image_counts_are_the_data_sources():
    from models.data import load_mnist
    from sweep.config.trials import TRAIN_IMAGES
    assert TRAIN_IMAGES["mnist-5k"] == len(load_mnist("mnist-5k").train_images)
    if os.environ.get("MNIST_ROOT"):
        assert TRAIN_IMAGES["mnist"] == len(load_mnist("mnist").train_images)
