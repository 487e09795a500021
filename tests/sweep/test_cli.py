"""`sweep plan`: counts of a sweep file; bad input -> exit code 2, one `error:` line, no traceback."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from sweep.cli import EXIT_BAD_INPUT, main

REPO = Path(__file__).resolve().parents[2]
SWEEP_YAML = REPO / "sweep.yaml"


def run_sweep(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sweep", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=60)


def assert_one_error_paragraph(err: str, *fragments: str) -> None:
    assert err.startswith("error: "), err
    assert err.endswith("\n") and "\n" not in err[:-1], err  # one line, so one paragraph
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in err, (fragment, err)


BAD_FILES = {
    "unknown key": ("name: t\nepoch: 3\nfamilies: {}\n", "epoch: unknown key"),
    "bad axis value": (SWEEP_YAML.read_text().replace("sizeD: [128, 256, 512, 1024]\n      dropoutD: "
                                                      "[true, false]\n      optimD: [adam, sgd]",
                                                      "sizeD: [128, 0, 512, 1024]\n      dropoutD: "
                                                      "[true, false]\n      optimD: [adam, sgd]"),
                       "families.gan.axes.sizeD: must be an integer >= 1 (got [128, 0, 512, 1024])"),
    "invalid YAML": ("name: t\nseeds: [0, 1\nfamilies: {}\n", "not valid YAML (line 3"),
    "not a mapping": ("- 1\n- 2\n", "(top level): must be a mapping"),
}


@pytest.mark.parametrize("name", list(BAD_FILES))
def test_bad_file_exits_2_with_one_error_paragraph(tmp_path, capsys, name):
    text, fragment = BAD_FILES[name]
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    assert main(["plan", "-c", str(path)]) == EXIT_BAD_INPUT == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert_one_error_paragraph(err, str(path), fragment)


def test_binary_and_missing_files_exit_2(tmp_path, capsys):
    binary = tmp_path / "sweep.yaml.gz"
    binary.write_bytes(b"\x1f\x8b\x08\x00\xff\xfe\x00")
    assert main(["plan", "-c", str(binary)]) == 2
    assert_one_error_paragraph(capsys.readouterr().err, str(binary), "not a text file")
    missing = tmp_path / "missing.yaml"
    assert main(["plan", "--json", "-c", str(missing)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert_one_error_paragraph(err, str(missing), "cannot read the sweep file")


def test_bad_file_in_a_real_process_exits_2(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(SWEEP_YAML.read_text().replace("name: table1", "name: table1\nepochs: 3"))
    proc = run_sweep("plan", "-c", str(path))
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert_one_error_paragraph(proc.stderr, f"{path}: epochs: unknown key", "(got 3)")


def test_unknown_option_is_a_usage_error_with_code_2(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["plan", "--jsn"])
    assert exit_.value.code == 2
    assert "unrecognized arguments: --jsn" in capsys.readouterr().err


def test_plan_json_counts_table1():
    proc = run_sweep("plan", "--json")  # default -c sweep.yaml, from the repo root
    assert proc.returncode == 0, proc.stderr
    info = json.loads(proc.stdout)
    assert info["families"] == {"ebgan": 512, "gan": 6144, "ebgan_pt": 1}
    assert info["total"] == 6657
    assert info["search"] == {"ebgan": "grid", "gan": "grid", "ebgan_pt": "grid"}
    assert info["axes"]["gan"]["lr"] == [0.01, 0.001, 0.0001]
    assert info["budget"] == {"epochs": 20, "iterations": None, "batch_size": 64}
    assert info["score_samples"] == 10000


def test_plan_json_follows_an_edited_copy(tmp_path):
    text = SWEEP_YAML.read_text().replace("seeds: [0]", "seeds: [0, 1]")
    assert text != SWEEP_YAML.read_text()
    path = tmp_path / "two-seeds.yaml"
    path.write_text(text)
    proc = run_sweep("plan", "--json", "-c", str(path), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    info = json.loads(proc.stdout)
    assert info["families"] == {"ebgan": 1024, "gan": 12288, "ebgan_pt": 2}
    assert info["total"] == 13314


def test_plan_text(capsys, monkeypatch):
    monkeypatch.chdir(REPO)
    assert main(["plan"]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    assert out.startswith("sweep table1 (sweep.yaml): 6,657 trials, seeds [0]\n")
    assert "  ebgan [ebgan, grid]: 512 trials\n" in out
    assert "  gan [gan, grid]: 6,144 trials\n" in out
    assert "  ebgan_pt [ebgan, grid]: 1 trials\n" in out
    assert "budget: 20 epochs, batch 64; data: auto; score samples: 10,000" in out
    assert out.endswith("  total: 6,657\n")


# --- help, version, pipes ---------------------------------------------------------------
COMMANDS = ["plan", "train-one", "classifier", "grid", "status", "collect", "histograms",
            "curves", "dashboard", "tensorboard", "optuna-dashboard"]


def test_version_and_top_level_help(capsys):
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("sweep ") and out.split()[1][0].isdigit()
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert all(f"    {c}" in out for c in COMMANDS), out


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_a_summary_an_example_and_its_environment(command, capsys):
    with pytest.raises(SystemExit):
        main([command, "--help"])
    out = capsys.readouterr().out
    assert "example:\n  sweep " + command in out, out
    reads = {"grid": ["MNIST_ROOT", "RAY_ADDRESS", "AWS_"], "train-one": ["MNIST_ROOT"],
             "classifier": ["MNIST_ROOT"], "dashboard": ["RAY_ADDRESS"],
             "collect": ["AWS_"], "histograms": ["AWS_"], "curves": ["AWS_"]}.get(command, [])
    for var in reads:
        assert var in out.split("environment:")[-1], (command, var)
    if command == "grid":
        assert "130" in out and "143" in out and "exit codes" in out


def test_a_closed_pipe_is_not_an_error():
    """`sweep plan --json | head -1`: the reader leaves early; no traceback."""
    proc = subprocess.run(f"{sys.executable} -m sweep plan --json -c {SWEEP_YAML} | head -1",
                          shell=True, cwd=REPO, capture_output=True, text=True, timeout=60)
    assert proc.stdout == "{\n"
    assert "Traceback" not in proc.stderr and "BrokenPipe" not in proc.stderr, proc.stderr
