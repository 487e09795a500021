"""sweep.yaml -> validated frozen dataclasses (sweep/config/sweep_file.py) -> trials
(sweep/config/trials.py).

Counts are derived by hand from Table 1 of the EBGAN paper:
EBGAN 4*4*4*4*2*1*1*1 = 512, GAN 4*4*4*4*2*2*2*3 = 6,144, EBGAN-PT one point = 1.
"""
from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import math
from collections import Counter
from pathlib import Path
from typing import Any, Callable

import pytest
import yaml

from models.config import KEY_OMITTED_AT_DEFAULT, TABLE1_AXES, TrialConfig
from sweep.config import (ConfigError, budget_text, counts, load_config, parse_config, plan,
                          trials)
from sweep.config.sweep_file import Defaults


def trial_key(t: dict) -> str:
    return TrialConfig.from_dict(t).key


def cfg_trials(cfg) -> list[dict]:
    return [t.to_dict() for t in trials(cfg)]

REPO = Path(__file__).resolve().parents[3]
SWEEP_YAML = REPO / "sweep.yaml"

# Every key a trial carries: identity, Table 1, the defaults, the seed and the budget.
TRIAL_FIELDS = {"family", "model", *TABLE1_AXES, "margin", "pt_weight", "z_dim", "dropout",
                "beta1", "beta2", "seed", "epochs", "iterations", "batch_size",
                "gp_weight", "n_critic", "gamma", "lambda_k"}


@pytest.fixture(scope="module")
def default_raw() -> dict[str, Any]:
    return yaml.safe_load(SWEEP_YAML.read_text())


@pytest.fixture(scope="module")
def default_cfg():
    return load_config(SWEEP_YAML)


@pytest.fixture(scope="module")
def default_trials(default_cfg) -> list[dict[str, Any]]:
    return cfg_trials(default_cfg)


@pytest.fixture
def raw(default_raw) -> dict[str, Any]:
    return copy.deepcopy(default_raw)


def write(tmp_path: Path, content: dict | str, name: str = "sweep.yaml") -> Path:
    path = tmp_path / name
    path.write_text(content if isinstance(content, str) else yaml.safe_dump(content, sort_keys=False))
    return path


def optuna_family(raw: dict, **axes: Any) -> dict:
    """A valid Optuna family: the GAN axes, some of them replaced by ``axes``; an EBGAN
    family when they search EBGAN's settings (a GAN family refuses them)."""
    fam = copy.deepcopy(raw["families"]["gan"])
    fam.update(search="optuna", trials=8)
    if {"margin", "pt_weight"} & set(axes):
        fam["model"] = "ebgan"
    fam["axes"].update(axes)
    return fam


# --- bad input: (id, edit of the default file, key path, repr of the bad value) ------------
def _set(*path_and_value: Any) -> Callable[[dict], None]:
    *path, value = path_and_value

    def edit(raw: dict) -> None:
        node = raw
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
    return edit


def _del(*path: str) -> Callable[[dict], None]:
    def edit(raw: dict) -> None:
        node = raw
        for key in path[:-1]:
            node = node[key]
        del node[path[-1]]
    return edit


def _optuna(**axes: Any) -> Callable[[dict], None]:
    def edit(raw: dict) -> None:
        raw["families"]["opt"] = optuna_family(raw, **axes)
    return edit


BAD = [
    ("unknown top-level key", _set("epochs", 20), "epochs", "20"),
    ("unknown key in budget (typo of epochs)", _set("budget", "epoch", 30), "budget.epoch", "30"),
    ("unknown key in data", _set("data", "path", "/x"), "data.path", "'/x'"),
    ("unknown key in a family", _set("families", "gan", "axis", {}), "families.gan.axis", "{}"),
    ("unknown axis", _set("families", "gan", "axes", "nLayers", [2]),
     "families.gan.axes.nLayers", "[2]"),
    ("string where int", _set("families", "gan", "axes", "sizeG", [400, "800"]),
     "families.gan.axes.sizeG", "[400, '800']"),
    ("int where bool", _set("families", "ebgan", "axes", "dropoutD", [1, 0]),
     "families.ebgan.axes.dropoutD", "[1, 0]"),
    ("bool where int", _set("families", "gan", "axes", "nLayerD", [True, 3]),
     "families.gan.axes.nLayerD", "[True, 3]"),
    ("bool where int in budget", _set("budget", "epochs", True), "budget.epochs", "True"),
    ("float where int", _set("defaults", "z_dim", 100.5), "defaults.z_dim", "100.5"),
    ("string where number", _set("families", "gan", "axes", "lr", ["fast"]),
     "families.gan.axes.lr", "['fast']"),
    ("empty list", _set("families", "gan", "axes", "lr", []), "families.gan.axes.lr", "[]"),
    ("axis not a list", _set("families", "gan", "axes", "lr", 0.001),
     "families.gan.axes.lr", "0.001"),
    ("null axis", _set("families", "gan", "axes", "lr", None), "families.gan.axes.lr", "None"),
    ("duplicate value", _set("families", "gan", "axes", "sizeD", [128, 256, 128]),
     "families.gan.axes.sizeD", "[128, 256, 128]"),
    ("duplicate after 1e-3 -> 0.001", _set("families", "gan", "axes", "lr", [0.001, "1e-3"]),
     "families.gan.axes.lr", "[0.001, '1e-3']"),
    ("nLayerG < 2", _set("families", "ebgan", "axes", "nLayerG", [1, 2]),
     "families.ebgan.axes.nLayerG", "[1, 2]"),
    ("sizeD = 0", _set("families", "gan", "axes", "sizeD", [0, 128]),
     "families.gan.axes.sizeD", "[0, 128]"),
    ("sizeD < 0", _set("families", "gan", "axes", "sizeD", [-128]),
     "families.gan.axes.sizeD", "[-128]"),
    ("lr = 0", _set("families", "gan", "axes", "lr", [0.01, 0.0]),
     "families.gan.axes.lr", "[0.01, 0.0]"),
    ("lr < 0", _set("families", "ebgan", "axes", "lr", [-0.001]),
     "families.ebgan.axes.lr", "[-0.001]"),
    ("lr not finite", _set("families", "ebgan", "axes", "lr", [float("nan")]),
     "families.ebgan.axes.lr", "[nan]"),
    ("dropout = 1.0", _set("defaults", "dropout", 1.0), "defaults.dropout", "1.0"),
    ("dropout = -0.1 as an axis", _set("families", "gan", "axes", "dropout", [-0.1, 0.5]),
     "families.gan.axes.dropout", "[-0.1, 0.5]"),
    ("margin = 0", _set("defaults", "margin", 0), "defaults.margin", "0"),
    ("unknown optimizer", _set("families", "gan", "axes", "optimG", ["adam", "rmsprop"]),
     "families.gan.axes.optimG", "['adam', 'rmsprop']"),
    ("unknown model", _set("families", "gan", "model", "wgan"), "families.gan.model", "'wgan'"),
    ("family without model", _del("families", "gan", "model"), "families.gan.model", "None"),
    ("family not a mapping", _set("families", "gan", [1, 2]), "families.gan", "[1, 2]"),
    ("bad family name", lambda r: r["families"].update({"my gan": r["families"]["gan"]}),
     "families.my gan", "'my gan'"),
    ("families empty", _set("families", {}), "families", "{}"),
    ("families missing", _del("families"), "families", "None"),
    ("seed 0.5", _set("seeds", [0, 0.5]), "seeds", "[0, 0.5]"),
    ("seed 'a'", _set("seeds", ["a"]), "seeds", "['a']"),
    ("seed < 0", _set("seeds", [-1]), "seeds", "[-1]"),
    ("seeds not a list", _set("seeds", 3), "seeds", "3"),
    ("duplicate seed", _set("seeds", [1, 1]), "seeds", "[1, 1]"),
    ("distribution in a grid family",
     _set("families", "gan", "axes", "lr", {"loguniform": [0.0001, 0.01]}),
     "families.gan.axes.lr", "{'loguniform': [0.0001, 0.01]}"),
    ("optuna family without trials",
     lambda r: r["families"].update(opt={**optuna_family(r), "trials": None}),
     "families.opt.trials", "None"),
    ("optuna trials = 0", lambda r: r["families"].update(opt={**optuna_family(r), "trials": 0}),
     "families.opt.trials", "0"),
    ("trials in a grid family", _set("families", "gan", "trials", 10), "families.gan.trials", "10"),
    ("unknown search", _set("families", "gan", "search", "random"),
     "families.gan.search", "'random'"),
    ("loguniform low = 0 (lr refuses 0)", _optuna(lr={"loguniform": [0, 0.01]}),
     "families.opt.axes.lr.loguniform", "0"),
    ("loguniform low = 0 (pt_weight allows 0)", _optuna(pt_weight={"loguniform": [0.0, 0.5]}),
     "families.opt.axes.pt_weight.loguniform", "[0.0, 0.5]"),
    ("uniform low > high", _optuna(lr={"uniform": [0.01, 0.001]}),
     "families.opt.axes.lr.uniform", "[0.01, 0.001]"),
    ("uniform low = high", _optuna(margin={"uniform": [5, 5]}),
     "families.opt.axes.margin.uniform", "[5, 5]"),
    ("range with one bound", _optuna(margin={"uniform": [5]}),
     "families.opt.axes.margin.uniform", "[5]"),
    ("int range on a float axis", _optuna(lr={"int": [1, 5]}), "families.opt.axes.lr.int", "[1, 5]"),
    ("range on a bool axis", _optuna(dropoutD={"uniform": [False, True]}),
     "families.opt.axes.dropoutD.uniform", "[False, True]"),
    ("unknown distribution", _optuna(margin={"normal": [5, 1]}),
     "families.opt.axes.margin", "{'normal': [5, 1]}"),
    ("choice with a bad value", _optuna(optimD={"choice": ["adam", "lbfgs"]}),
     "families.opt.axes.optimD.choice", "['adam', 'lbfgs']"),
    ("bad data.source", _set("data", "source", "cifar10"), "data.source", "'cifar10'"),
    ("data not a mapping", _set("data", "mnist"), "data", "'mnist'"),
    ("budget.batch_size 1", _set("budget", "batch_size", 1), "budget.batch_size", "1"),
    ("budget.iterations 0", _set("budget", "iterations", 0), "budget.iterations", "0"),
    ("resources.gpu < 0", _set("resources", "gpu", -1), "resources.gpu", "-1"),
    ("resources.pack 0", _set("resources", "pack", 0), "resources.pack", "0"),
    ("resources.pack not a number", _set("resources", "pack", "big"), "resources.pack", "'big'"),
    ("checkpoint_every in words", _set("resources", "checkpoint_every", "5 minutes"),
     "resources.checkpoint_every", "'5 minutes'"),
    ("checkpoint_every < 0", _set("resources", "checkpoint_every", "-5m"),
     "resources.checkpoint_every", "'-5m'"),
    ("reuse_actors not a bool", _set("resources", "reuse_actors", "yes"),
     "resources.reuse_actors", "'yes'"),
    ("the retired test setting is no axis", _set("families", "gan", "axes", "inject_error", [True]),
     "families.gan.axes.inject_error", "[True]"),
    ("score.samples 0", _set("score", "samples", 0), "score.samples", "0"),
    ("name with a space", _set("name", "my sweep"), "name", "'my sweep'"),
    ("name climbing out of results/", _set("name", "../x"), "name", "'../x'"),
    ("name not a string", _set("name", 7), "name", "7"),
    ("name missing", _del("name"), "name", "None"),
]


@pytest.mark.parametrize("edit, key, value", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_config_names_file_key_and_value(tmp_path, raw, edit, key, value):
    edit(raw)
    path = write(tmp_path, raw)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    msg = str(err.value)
    assert msg.startswith(f"{path}: {key}: "), msg
    assert msg.endswith(f" (got {value})."), msg
    assert "\n" not in msg


def test_missing_table1_axis_names_it(tmp_path, raw):
    del raw["families"]["gan"]["axes"]["lr"]
    del raw["families"]["gan"]["axes"]["sizeG"]
    path = write(tmp_path, raw)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(err.value).startswith(
        f"{path}: families.gan.axes: is missing the Table 1 axes sizeG, lr (got [")


def test_bad_value_is_shown_as_written(tmp_path):
    """The value in the message is the one in the file, not a normalised form."""
    text = SWEEP_YAML.read_text().replace("lr: [0.01, 0.001, 0.0001]", "lr: [0.01, 1e-3, -1e-4]")
    path = write(tmp_path, text)
    with pytest.raises(ConfigError, match=r"families\.gan\.axes\.lr: .*'-1e-4'"):
        load_config(path)


@pytest.mark.parametrize("text, key, fragment", [
    ("- name: a\n- seeds: [0]\n", "(top level)", "[{'name': 'a'}, {'seeds': [0]}]"),
    ("just a string\n", "(top level)", "'just a string'"),
    ("", "(top level)", "None"),
], ids=["list", "scalar", "empty file"])
def test_top_level_not_a_mapping(tmp_path, text, key, fragment):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(err.value).startswith(f"{path}: {key}: must be a mapping")
    assert fragment in str(err.value)


def test_invalid_yaml_names_file_and_line(tmp_path):
    path = write(tmp_path, "name: t\nseeds: [0, 1\nfamilies: {}\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    msg = str(err.value)
    assert msg.startswith(f"{path}: not valid YAML (line 3, column ")
    assert "\n" not in msg


def test_binary_file_is_a_config_error(tmp_path):
    path = tmp_path / "sweep.yaml"
    path.write_bytes(b"\x1f\x8b\x08\x00\xff\xfe")
    with pytest.raises(ConfigError, match="not a text file"):
        load_config(path)


def test_missing_file_names_it(tmp_path):
    path = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(err.value) == f"{path}: cannot read the sweep file (No such file or directory)."


def test_parse_config_names_the_given_path():
    with pytest.raises(ConfigError, match=r"^inline\.yaml: families: "):
        parse_config({"name": "x", "families": []}, "inline.yaml")


# --- counts ----------------------------------------------------------------------------------
def test_table1_counts(default_cfg, default_trials):
    assert counts(default_cfg) == {"ebgan": 512, "gan": 6144, "ebgan_pt": 1}
    assert len(default_trials) == 6657
    assert Counter(t["family"] for t in default_trials) == {"ebgan": 512, "gan": 6144,
                                                             "ebgan_pt": 1}
    info = plan(default_cfg)
    assert info["total"] == 6657
    assert info["seeds"] == [0]


def test_table1_axes_as_in_the_paper(default_cfg):
    gan, ebgan = default_cfg.family("gan"), default_cfg.family("ebgan")
    for fam in (gan, ebgan):
        assert fam.axes["nLayerG"] == fam.axes["nLayerD"] == (2, 3, 4, 5)
        assert fam.axes["sizeG"] == (400, 800, 1600, 3200)
        assert fam.axes["sizeD"] == (128, 256, 512, 1024)
        assert fam.axes["dropoutD"] == (True, False)
    assert gan.axes["lr"] == (0.01, 0.001, 0.0001)
    assert gan.axes["optimD"] == gan.axes["optimG"] == ("adam", "sgd")
    assert ebgan.axes["lr"] == (0.001,)
    assert ebgan.axes["optimD"] == ebgan.axes["optimG"] == ("adam",)
    assert (gan.model, ebgan.model) == ("gan", "ebgan")
    assert default_cfg.defaults.margin == 10.0


def test_figure3_settings_split_gan_into_12_panels_of_512(default_trials):
    settings = Counter((t["optimD"], t["optimG"], t["lr"]) for t in default_trials
                       if t["family"] == "gan")
    assert len(settings) == 12
    assert set(settings.values()) == {512}


def test_more_lr_values_double_ebgan_without_code_change(tmp_path, raw):
    raw["families"]["ebgan"]["axes"]["lr"] = [0.001, 0.0005]
    cfg = load_config(write(tmp_path, raw))
    assert counts(cfg) == {"ebgan": 1024, "gan": 6144, "ebgan_pt": 1}
    assert len(cfg_trials(cfg)) == 1024 + 6144 + 1
    assert {t["lr"] for t in cfg_trials(cfg) if t["family"] == "ebgan"} == {0.001, 0.0005}


def test_a_new_axis_doubles_its_family(tmp_path, raw):
    raw["families"]["ebgan"]["axes"]["margin"] = [5, 10]
    cfg = load_config(write(tmp_path, raw))
    assert counts(cfg) == {"ebgan": 1024, "gan": 6144, "ebgan_pt": 1}
    margins = Counter(t["margin"] for t in cfg_trials(cfg) if t["family"] == "ebgan")
    assert margins == {5.0: 512, 10.0: 512}
    # The other families keep the default margin.
    assert {t["margin"] for t in cfg_trials(cfg) if t["family"] != "ebgan"} == {10.0}


def test_a_new_family_adds_its_count(tmp_path, raw):
    raw["families"]["ebgan_m5"] = copy.deepcopy(raw["families"]["ebgan"])
    raw["families"]["ebgan_m5"]["axes"]["margin"] = [5]
    cfg = load_config(write(tmp_path, raw))
    assert counts(cfg) == {"ebgan": 512, "gan": 6144, "ebgan_pt": 1, "ebgan_m5": 512}
    assert plan(cfg)["total"] == 7169
    assert len({trial_key(t) for t in cfg_trials(cfg)}) == 7169


def test_two_seeds_double_everything(tmp_path, raw):
    raw["seeds"] = [0, 1]
    cfg = load_config(write(tmp_path, raw))
    assert counts(cfg) == {"ebgan": 1024, "gan": 12288, "ebgan_pt": 2}
    rows = cfg_trials(cfg)
    assert len(rows) == 13314
    assert Counter(t["seed"] for t in rows) == {0: 6657, 1: 6657}


def test_optuna_family_counts_trials_per_seed_and_is_not_a_grid(tmp_path, raw):
    raw["seeds"] = [0, 1, 2]
    raw["families"] = {"opt": optuna_family(raw, lr={"loguniform": ["1e-4", "1e-2"]},
                                            margin={"uniform": [1, 20]},
                                            nLayerG={"int": [2, 5]},
                                            optimD={"choice": ["adam", "sgd"]})}
    cfg = load_config(write(tmp_path, raw))
    fam = cfg.family("opt")
    assert (fam.search, fam.trials) == ("optuna", 8)
    assert fam.axes["lr"] == {"loguniform": [0.0001, 0.01]}
    assert fam.axes["margin"] == {"uniform": [1.0, 20.0]}
    assert fam.axes["nLayerG"] == {"int": [2, 5]}
    assert fam.axes["optimD"] == {"choice": ("adam", "sgd")}
    assert fam.axes["sizeD"] == (128, 256, 512, 1024)  # lists stay fixed choices
    assert counts(cfg) == {"opt": 24}
    assert cfg_trials(cfg) == []  # sampled at run time


# --- trials ----------------------------------------------------------------------------------
def test_trials_are_flat_dicts_with_every_setting(default_trials):
    for t in default_trials:
        assert set(t) == TRIAL_FIELDS
        assert all(isinstance(v, (str, int, float, bool, type(None))) for v in t.values())
    first = default_trials[0]
    assert first == {
        "family": "ebgan", "model": "ebgan", "nLayerG": 2, "nLayerD": 2, "sizeG": 400,
        "sizeD": 128, "dropoutD": True, "optimD": "adam", "optimG": "adam", "lr": 0.001,
        "margin": 10.0, "pt_weight": 0.0, "z_dim": 100, "dropout": 0.5, "beta1": 0.5,
        "beta2": 0.999, "seed": 0, "epochs": 20, "iterations": None,
        "batch_size": 64, "gp_weight": 10.0, "n_critic": 5, "gamma": 0.5, "lambda_k": 0.001,
    }


def test_ebgan_pt_is_the_papers_best_ebgan_with_pt(default_trials):
    (pt,) = [t for t in default_trials if t["family"] == "ebgan_pt"]
    assert pt["model"] == "ebgan"
    assert pt["pt_weight"] == 0.1
    assert (pt["nLayerG"], pt["nLayerD"], pt["sizeG"], pt["sizeD"], pt["dropoutD"]) == \
        (5, 2, 800, 1024, False)
    assert (pt["optimD"], pt["optimG"], pt["lr"], pt["margin"]) == ("adam", "adam", 0.001, 10.0)


def test_every_grid_point_appears_once(default_trials):
    gan = [tuple(t[a] for a in TABLE1_AXES) for t in default_trials if t["family"] == "gan"]
    assert len(set(gan)) == len(gan) == math.prod([4, 4, 4, 4, 2, 2, 2, 3])


def test_trial_keys_distinct_for_all_6657(default_trials):
    assert len({trial_key(t) for t in default_trials}) == 6657


def test_trial_key_is_stable(default_trials):
    t = default_trials[100]
    assert trial_key(dict(reversed(list(t.items())))) == trial_key(t)  # order does not matter
    assert trial_key(cfg_trials(load_config(SWEEP_YAML))[100]) == trial_key(t)
    assert trial_key({**t, "seed": 1}) != trial_key(t)
    assert trial_key({**t, "family": "other"}) != trial_key(t)
    # Pinned form (keys of results on disk must not change between versions): sha256 of the
    # compact, key-sorted JSON of the settings plus the retired `inject_error: false`,
    # first 16 hex digits; the settings added for the other losses (gp_weight, n_critic,
    # gamma, lambda_k) are left out while at their defaults.
    before = {k: v for k, v in t.items() if k not in KEY_OMITTED_AT_DEFAULT}
    canonical = json.dumps({**before, "inject_error": False}, sort_keys=True,
                           separators=(",", ":"))
    assert trial_key(t) == hashlib.sha256(canonical.encode()).hexdigest()[:16]


def test_yaml_1e3_is_the_float_0_001(tmp_path, default_cfg):
    text = SWEEP_YAML.read_text()
    assert yaml.safe_load("lr: [1e-3]")["lr"] == ["1e-3"]  # YAML 1.1: a string
    old = "lr: [0.01, 0.001, 0.0001]"
    assert text.count(old) == 1
    cfg = load_config(write(tmp_path, text.replace(old, "lr: [1e-2, 1e-3, 1.0e-4]")))
    lrs = cfg.family("gan").axes["lr"]
    assert lrs == (0.01, 0.001, 0.0001)
    assert all(type(v) is float for v in lrs)
    assert [trial_key(t) for t in cfg_trials(cfg)] == [trial_key(t) for t in cfg_trials(default_cfg)]


def test_defaults_and_sections_are_optional(tmp_path, raw):
    minimal = {"name": "m", "families": {"ebgan": raw["families"]["ebgan"]}}
    cfg = load_config(write(tmp_path, minimal))
    assert cfg.seeds == (0,)
    assert cfg.defaults == Defaults()
    assert (cfg.budget.epochs, cfg.budget.batch_size, cfg.data.source) == (20, 64, "auto")
    assert counts(cfg) == {"ebgan": 512}


def test_config_is_frozen(default_cfg):
    with pytest.raises(dataclasses.FrozenInstanceError):
        default_cfg.name = "other"
    with pytest.raises(dataclasses.FrozenInstanceError):
        default_cfg.budget.epochs = 1
    with pytest.raises(dataclasses.FrozenInstanceError):
        default_cfg.defaults.margin = 1.0
    with pytest.raises(dataclasses.FrozenInstanceError):
        default_cfg.family("gan").model = "ebgan"
    assert isinstance(default_cfg.seeds, tuple)
    assert isinstance(default_cfg.family("gan").axes["lr"], tuple)


def test_unknown_family_is_a_key_error(default_cfg):
    with pytest.raises(KeyError, match="wgan"):
        default_cfg.family("wgan")


def test_resources_pack_and_checkpoint_interval(tmp_path, raw):
    cfg = load_config(SWEEP_YAML)
    assert (cfg.resources.pack, cfg.resources.checkpoint_every) == ("auto", 300.0)
    raw["resources"].update(pack=24, checkpoint_every="90s")
    cfg = load_config(write(tmp_path, raw))
    assert (cfg.resources.pack, cfg.resources.checkpoint_every) == (24, 90.0)
    raw["resources"].update(pack=1, checkpoint_every="1.5h")
    assert load_config(write(tmp_path, raw)).resources.checkpoint_every == 5400.0


def test_the_budget_reads_as_iterations_when_set_else_epochs(tmp_path, raw):
    """One sentence for `sweep plan` and the grid's plan line: iterations win over epochs."""
    assert budget_text(load_config(write(tmp_path, raw))) == "20 epochs"
    raw["budget"]["iterations"] = 40
    assert budget_text(load_config(write(tmp_path, raw))) == "40 iterations"


# --- report: the families the figures compare (sweep/report/family_view.py) -------------
REPORT_BAD = [
    ("report not a mapping", _set("report", ["ebgan", "gan"]), "report", "['ebgan', 'gan']"),
    ("unknown key in report", _set("report", {"colours": "okabe"}), "report.colours", "'okabe'"),
    ("a family the file lacks", _set("report", {"families": ["ebgan", "wgan"]}),
     "report.families", "['ebgan', 'wgan']"),
    ("a comma string, not a list", _set("report", {"families": "ebgan,gan"}),
     "report.families", "'ebgan,gan'"),
    ("a family named twice", _set("report", {"families": ["gan", "ebgan", "gan"]}),
     "report.families", "['gan', 'ebgan', 'gan']"),
    ("no family", _set("report", {"families": []}), "report.families", "[]"),
]


@pytest.mark.parametrize("edit, key, value", [b[1:] for b in REPORT_BAD],
                         ids=[b[0] for b in REPORT_BAD])
def test_bad_report_names_file_key_and_value(tmp_path, raw, edit, key, value):
    test_bad_config_names_file_key_and_value(tmp_path, raw, edit, key, value)


def test_report_families_at_most_eight_one_colour_each(tmp_path, raw):
    for i in range(9):
        raw["families"][f"gan{i}"] = copy.deepcopy(raw["families"]["gan"])
    raw["report"] = {"families": [f"gan{i}" for i in range(8)]}
    assert len(load_config(write(tmp_path, raw)).report.families) == 8
    raw["report"] = {"families": [f"gan{i}" for i in range(9)]}
    with pytest.raises(ConfigError, match=r"report\.families: must name at most 8 families"):
        load_config(write(tmp_path, raw))


def test_report_families_keep_their_order_and_reach_plan_json(tmp_path, raw):
    assert load_config(SWEEP_YAML).report.families is None  # Table 1: the paper's view
    assert plan(load_config(SWEEP_YAML))["report"] == {"families": None}
    raw["report"] = {"families": ["ebgan_pt", "ebgan", "gan"]}
    cfg = load_config(write(tmp_path, raw))
    assert cfg.report.families == ("ebgan_pt", "ebgan", "gan")
    assert json.loads(json.dumps(plan(cfg)))["report"] == {"families": ["ebgan_pt", "ebgan", "gan"]}
    # the report key names no trial setting: every trial and its key stay as they were
    assert cfg_trials(cfg) == cfg_trials(load_config(SWEEP_YAML))


def test_losses_example_compares_six_families_on_one_slice():
    """examples/losses.yaml: the six models with identical axes and optimisation settings
    (Adam's betas set for all, so WGAN-GP's own (0, 0.9) do not apply), all six in the
    report, GAN last (the baseline)."""
    cfg = load_config(REPO / "examples" / "losses.yaml")
    assert [(f.name, f.model) for f in cfg.families] == [
        ("ebgan", "ebgan"), ("lsgan", "lsgan"), ("wgan_gp", "wgan_gp"), ("hinge", "hinge"),
        ("began", "began"), ("gan", "gan")]
    assert all(f.axes == cfg.families[0].axes for f in cfg.families)
    assert cfg.report.families == ("ebgan", "lsgan", "wgan_gp", "hinge", "began", "gan")
    assert counts(cfg) == {f.name: 2 * 2 * 2 * 2 for f in cfg.families}  # sizeD, optimD, optimG, lr
    assert cfg.budget.iterations == 2000 and cfg.data.source == "mnist"
    betas = {(t.model, t.beta1, t.beta2) for t in trials(cfg)}
    assert betas == {(m, 0.5, 0.999) for m in ("ebgan", "lsgan", "wgan_gp", "hinge", "began",
                                                "gan")}
