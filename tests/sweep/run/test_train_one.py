"""`sweep train-one`: one configuration by hand, without Ray (issue: models)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from sweep.cli import main
from sweep.config import load_config
from sweep.config.trials import one_trial

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture
def sweep_file(tmp_path: Path, small_classifier: Path) -> Path:
    raw = yaml.safe_load((REPO / "examples" / "smoke.yaml").read_text())
    raw["score"] = {"samples": 200, "classifier": str(small_classifier)}
    path = tmp_path / "one.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_unset_axes_take_the_first_value_of_the_family(sweep_file: Path) -> None:
    cfg = load_config(sweep_file)
    trial = one_trial(cfg, "gan", ["optimD=sgd", "lr=1e-3"], iterations=7)
    # smoke.yaml's gan family: nLayerG [2], optimD [adam, sgd], optimG [adam, sgd], lr [0.01, 0.001]
    assert (trial.nLayerG, trial.optimD, trial.optimG) == (2, "sgd", "adam")
    assert trial.lr == 0.001 and trial.iterations == 7 and trial.family == "gan"


@pytest.mark.parametrize("setting, fragment", [
    (["bogus=1"], "unknown setting 'bogus'"),
    (["nLayerG=1"], "nLayerG: must be an integer >= 2"),
    (["lr"], "is not KEY=VALUE"),
])
def test_bad_settings_are_refused_with_exit_code_2(sweep_file: Path, setting: list[str],
                                                   fragment: str, capsys) -> None:
    code = main(["train-one", "-c", str(sweep_file), "--family", "gan", "--set", *setting])
    assert code == 2
    assert fragment in capsys.readouterr().err


def test_train_one_writes_weights_samples_record_and_prints_the_score(
        sweep_file: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "run"
    code = main(["train-one", "-c", str(sweep_file), "--family", "ebgan", "--set",
                 "nLayerG=2", "sizeG=64", "sizeD=32", "--iterations", "12", "--out", str(out)])
    assert code == 0
    assert "score I = " in capsys.readouterr().out
    for name in ("generator.pt", "samples.png", "config.json", "record.json", "result.json",
                 "curves.csv"):
        assert (out / name).is_file(), name
    result = json.loads((out / "result.json").read_text())
    assert result["status"] == "ok" and result["iterations_done"] == 12
    assert result["data_source"] == "mnist-5k" and result["score"] >= 0.0
    assert sum(json.loads(result["class_histogram"])) == 200
    config = json.loads((out / "config.json").read_text())
    assert config["sizeG"] == 64 and config["model"] == "ebgan"


def test_an_absurd_learning_rate_ends_as_diverged_not_an_exception(
        sweep_file: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "div"
    code = main(["train-one", "-c", str(sweep_file), "--family", "gan", "--set", "lr=1e30",
                 "sizeG=64", "sizeD=32", "--iterations", "30", "--out", str(out)])
    assert code == 0
    result = json.loads((out / "result.json").read_text())
    assert result["status"] == "diverged" and result["score"] is None
    assert 1 <= result["diverged_at"] <= 30
    assert not (out / "samples.png").exists()
    assert "status diverged" in capsys.readouterr().out
