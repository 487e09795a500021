"""What the driver rebuilds the rung board from (sweep/run/driver/rung_setup.py, the rung
results in the checkpoint index), and the schedules it fits to the budget, without Ray."""
from __future__ import annotations

import json

import pytest
import yaml

from sweep.config import ConfigError, parse_config
from sweep.config.scheduler import SchedulerConfig
from sweep.run.driver.rung_setup import earlier_results, family_budget, schedules
from sweep.run.records.checkpoints import Index
from sweep.run.scheduling.rung_board import RungResult
from sweeps import REPO

EXAMPLE = REPO / "examples" / "asha-smoke.yaml"


def test_the_index_keeps_rung_results_until_the_unit_ends(tmp_path):
    index = Index(tmp_path)
    index.rung_results("u1", {"k1": {"family": "gan", "row": [50, 0.1, 200.0, True]},
                              "k2": {"family": "gan", "row": [50, 0.0, 300.0, False]}})
    index.rung_results("u1", {"k1": {"family": "gan", "row": [50, 0.1, 200.0, True]}})  # again
    index.rung_results("u1", {"k1": {"family": "gan", "row": [150, 0.2, 150.0, None]}})
    again = Index(tmp_path)  # what a driver started after a crash reads
    assert again.rung_rows() == {"k1": ("gan", [[50, 0.1, 200.0, True], [150, 0.2, 150.0, None]]),
                                 "k2": ("gan", [[50, 0.0, 300.0, False]])}
    again.forget("u1")
    assert Index(tmp_path).rung_rows() == {}


def test_earlier_results_from_the_ledger_and_the_index(tmp_path):
    index = Index(tmp_path)
    index.rung_results("u1", {"live": {"family": "gan", "row": [50, 0.3, 100.0, True]},
                              "done": {"family": "gan", "row": [50, 9.9, 1.0, True]}})
    entries = {
        "done": {"family": "gan", "rungs": json.dumps([[50, 0.5, 90.0, True],
                                                       [150, 0.6, 80.0, True]])},
        "stop": {"family": "gan", "rungs": json.dumps([[50, 0.01, 400.0, False]])},
        "plain": {"family": "ebgan", "rungs": None},
    }
    got = earlier_results(entries, Index(tmp_path), {"gan"})
    # the ledger's rows win over the index's for a configuration that has an entry
    assert sorted(got["gan"], key=lambda r: (r.key, r.iteration)) == [
        RungResult("done", 50, 0.5, 90.0, True), RungResult("done", 150, 0.6, 80.0, True),
        RungResult("live", 50, 0.3, 100.0, True), RungResult("stop", 50, 0.01, 400.0, False)]


def test_schedules_fit_an_epochs_budget_once_the_data_is_known():
    raw = yaml.safe_load(EXAMPLE.read_text())
    raw["budget"] = {"epochs": 1, "batch_size": 64}
    raw["families"]["gan"]["scheduler"] = {"type": "hyperband", "grace": 20}
    cfg = parse_config(raw, "x.yaml")
    # 4,000 images / 64 = 62 iterations: rungs 20 (bracket 0) and 60 (both)
    assert family_budget(cfg, 4000) == 62
    (s,) = schedules(cfg, 4000).values()
    assert s.budget == 62 and s.scheduler == SchedulerConfig("hyperband", 20, "score", 3.0, 2)
    with pytest.raises(ConfigError, match=r"x.yaml: families.gan.scheduler.grace: must be "
                                          r"below the budget \(15 iterations\)"):
        schedules(cfg, 1000)   # 1,000 / 64 = 15 iterations
