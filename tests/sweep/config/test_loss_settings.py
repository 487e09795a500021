"""The settings of the other losses in sweep files (issue #22): families of every model,
the model-specific settings (bad values; an axis of a model they do not belong to),
WGAN-GP's Adam betas, `defaults:`, `train-one --set`, and unchanged keys."""
from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from models.config import TrialConfig
from sweep.config import ConfigError, counts, load_config, trials
from sweep.config.trials import one_trial

REPO = Path(__file__).resolve().parents[3]
TABLE1 = {"nLayerG": [2], "nLayerD": [2], "sizeG": [400], "sizeD": [128], "dropoutD": [False],
          "optimD": ["adam"], "optimG": ["adam"], "lr": [0.001]}


def sweep(tmp_path: Path, families: dict[str, Any], defaults: dict | None = None) -> Path:
    doc: dict[str, Any] = {"name": "losses", "budget": {"iterations": 10}, "families": families}
    if defaults is not None:
        doc["defaults"] = defaults
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def family(model: str, **axes: Any) -> dict[str, Any]:
    return {"model": model, "axes": {**copy.deepcopy(TABLE1), **axes}}


def refused(path: Path) -> str:
    with pytest.raises(ConfigError) as err:
        load_config(path)
    return str(err.value)


def test_a_family_of_each_of_the_six_models(tmp_path):
    models = ("gan", "ebgan", "lsgan", "wgan_gp", "hinge", "began")
    cfg = load_config(sweep(tmp_path, {m: family(m) for m in models}))
    assert counts(cfg) == dict.fromkeys(models, 1)
    assert [t.model for t in trials(cfg)] == list(models)


BAD = [
    # (id, families, defaults, key path, repr of the bad value, problem)
    ("margin on a GAN", {"g": family("gan", margin=[5])}, None,
     "families.g.axes.margin", "[5]", "does not apply to model gan (it is a setting of ebgan)"),
    ("pt_weight on BEGAN", {"b": family("began", pt_weight=[0.1])}, None,
     "families.b.axes.pt_weight", "[0.1]", "does not apply to model began"),
    ("gp_weight on EBGAN", {"e": family("ebgan", gp_weight=[5.0])}, None,
     "families.e.axes.gp_weight", "[5.0]", "it is a setting of wgan_gp"),
    ("n_critic on hinge", {"h": family("hinge", n_critic=[1])}, None,
     "families.h.axes.n_critic", "[1]", "does not apply to model hinge"),
    ("gamma on WGAN-GP", {"w": family("wgan_gp", gamma=[0.7])}, None,
     "families.w.axes.gamma", "[0.7]", "it is a setting of began"),
    ("lambda_k on LSGAN", {"l": family("lsgan", lambda_k=[0.01])}, None,
     "families.l.axes.lambda_k", "[0.01]", "it is a setting of began"),
    ("n_critic 0", {"w": family("wgan_gp", n_critic=[5, 0])}, None,
     "families.w.axes.n_critic", "[5, 0]", "must be an integer >= 1"),
    ("n_critic not an integer", {"w": family("wgan_gp", n_critic=[2.5])}, None,
     "families.w.axes.n_critic", "[2.5]", "must be an integer"),
    ("gp_weight < 0", {"w": family("wgan_gp", gp_weight=[-1])}, None,
     "families.w.axes.gp_weight", "[-1]", "must be >= 0.0"),
    ("gamma 0", {"b": family("began", gamma=[0])}, None,
     "families.b.axes.gamma", "[0]", "must be > 0.0"),
    ("gamma above 1", {"b": family("began", gamma=[1.5])}, None,
     "families.b.axes.gamma", "[1.5]", "must be <= 1.0"),
    ("lambda_k < 0", {"b": family("began", lambda_k=[-0.001])}, None,
     "families.b.axes.lambda_k", "[-0.001]", "must be >= 0.0"),
    ("defaults.n_critic 0", {"g": family("gan")}, {"n_critic": 0},
     "defaults.n_critic", "0", "must be an integer >= 1"),
    ("defaults.gamma a word", {"g": family("gan")}, {"gamma": "half"},
     "defaults.gamma", "'half'", "must be a number"),
    ("unknown model", {"w": family("wgan")}, None,
     "families.w.model", "'wgan'", "must be one of gan, ebgan, lsgan, wgan_gp, hinge, began"),
    ("optuna search of another model's setting",
     {"o": {**family("gan", gp_weight={"uniform": [1, 10]}), "search": "optuna", "trials": 4}},
     None, "families.o.axes.gp_weight", "{'uniform': [1, 10]}", "does not apply to model gan"),
]


@pytest.mark.parametrize("families, defaults, key, value, problem", [b[1:] for b in BAD],
                         ids=[b[0] for b in BAD])
def test_bad_loss_settings_name_file_key_and_value(tmp_path, families, defaults, key, value,
                                                    problem):
    path = sweep(tmp_path, families, defaults)
    msg = refused(path)
    assert msg.startswith(f"{path}: {key}: ") and msg.endswith(f" (got {value})."), msg
    assert problem in msg and "\n" not in msg


def test_defaults_may_set_every_models_settings_for_every_family(tmp_path):
    cfg = load_config(sweep(tmp_path, {"g": family("gan"), "w": family("wgan_gp"),
                                       "b": family("began")},
                            {"gp_weight": 5.0, "n_critic": 2, "gamma": 0.7, "lambda_k": 0.0}))
    g, w, b = trials(cfg)
    assert (w.gp_weight, w.n_critic, b.gamma, b.lambda_k) == (5.0, 2, 0.7, 0.0)
    assert g.gp_weight == 5.0                      # carried, but GAN's loss never reads it


def test_wgan_gp_gets_its_papers_betas_unless_the_file_sets_them(tmp_path):
    fams = {"g": family("gan"), "w": family("wgan_gp")}
    g, w = trials(load_config(sweep(tmp_path, fams)))
    assert (g.beta1, g.beta2) == (0.5, 0.999) and (w.beta1, w.beta2) == (0.0, 0.9)
    # `defaults:` setting one beta wins for that beta, for every family
    g, w = trials(load_config(sweep(tmp_path, fams, {"beta1": 0.5})))
    assert (w.beta1, w.beta2) == (0.5, 0.9) and (g.beta1, g.beta2) == (0.5, 0.999)
    # an axis wins too
    fams["w"] = family("wgan_gp", beta2=[0.99, 0.999])
    ws = [t for t in trials(load_config(sweep(tmp_path, fams))) if t.model == "wgan_gp"]
    assert [(t.beta1, t.beta2) for t in ws] == [(0.0, 0.99), (0.0, 0.999)]


def test_train_one_refuses_a_setting_of_another_model(tmp_path):
    cfg = load_config(sweep(tmp_path, {"g": family("gan"), "b": family("began")}))
    with pytest.raises(ConfigError, match=r"--set: margin: does not apply to model gan"):
        one_trial(cfg, "g", ["margin=5"])
    assert one_trial(cfg, "b", ["gamma=0.7"]).gamma == 0.7


def test_new_settings_enter_the_key_only_away_from_their_defaults():
    base = dict(family="w", model="wgan_gp", nLayerG=2, nLayerD=2, sizeG=8, sizeD=8,
                dropoutD=False, optimD="adam", optimG="adam", lr=1e-3)
    c = TrialConfig(**base)
    explicit = TrialConfig(**base, gp_weight=10.0, n_critic=5, gamma=0.5, lambda_k=0.001)
    assert explicit.key == c.key
    changed = {c.replace(**{k: v}).key for k, v in
               (("gp_weight", 1.0), ("n_critic", 1), ("gamma", 0.7), ("lambda_k", 0.01))}
    assert len(changed) == 4 and c.key not in changed


def test_the_papers_grid_keeps_its_keys():
    """sweep.yaml's 6,657 keys are the ones written before the new settings existed: the
    key of each is the SHA-256 of its settings without them (tests/fixtures/legacy_keys.json
    pins earlier experiments' keys, tests/sweep/run/test_legacy.py)."""
    import hashlib
    import json
    for t in trials(load_config(REPO / "sweep.yaml"))[:50]:
        old = {k: v for k, v in t.to_dict().items()
               if k not in ("gp_weight", "n_critic", "gamma", "lambda_k")}
        canonical = json.dumps({**old, "inject_error": False}, sort_keys=True,
                               separators=(",", ":"))
        assert t.key == hashlib.sha256(canonical.encode()).hexdigest()[:16]
