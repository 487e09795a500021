"""One-way dependencies (STYLE.md 2): nothing under models/ or evaluator/ imports sweep, ray
or optuna, so the networks, losses and score run without the sweep engine."""
from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
LOWER_PACKAGES = ("models", "evaluator")
FORBIDDEN = {"sweep", "ray", "optuna"}


def lower_files() -> list[Path]:
    return sorted(p for pkg in LOWER_PACKAGES for p in (REPO / pkg).rglob("*.py"))


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def forbidden_imports(source: str, filename: str = "<src>") -> list[str]:
    """Top-level packages in FORBIDDEN that ``source`` imports, statically or by name."""
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module or ""] if node.level == 0 else []  # relative: same package
        elif (isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant)
              and isinstance(node.args[0].value, str)
              and ast.unparse(node.func) in ("importlib.import_module", "import_module",
                                             "__import__")):
            names = [node.args[0].value]
        else:
            continue
        found += [f"line {node.lineno}: {n}" for n in names if n.split(".")[0] in FORBIDDEN]
    return found


def test_there_is_something_to_check():
    names = {module_name(p) for p in lower_files()}
    assert {"models", "models.data", "evaluator"} <= names


@pytest.mark.parametrize("source, expected", [
    ("import ray", ["line 1: ray"]),
    ("import os, ray.tune as tune", ["line 1: ray.tune"]),
    ("from sweep.config import load_config", ["line 1: sweep.config"]),
    ("def f():\n    from optuna import samplers", ["line 2: optuna"]),
    ("import importlib\nm = importlib.import_module('ray')", ["line 2: ray"]),
    ("from . import sweep\nimport rayon\nimport sweeper\nfrom models import ray", []),
])
def test_checker_sees_imports(source, expected):
    """The checker itself: it must flag each way of importing a forbidden package."""
    assert forbidden_imports(source) == expected


@pytest.mark.parametrize("path", lower_files(), ids=lambda p: str(p.relative_to(REPO)))
def test_no_forbidden_import_in_source(path):
    assert forbidden_imports(path.read_text(), str(path)) == []


def test_importing_models_and_evaluator_loads_no_sweep_engine():
    modules = sorted({module_name(p) for p in lower_files()} - {"models.__main__",
                                                                   "evaluator.__main__"})
    code = (
        "import importlib, json, sys\n"
        f"for m in {modules!r}:\n"
        "    importlib.import_module(m)\n"
        f"print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {sorted(FORBIDDEN)!r})))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == []


def _loaded_after_importing(modules: list[str]) -> list[str]:
    code = (
        "import importlib, json, sys\n"
        f"for m in {modules!r}:\n"
        "    importlib.import_module(m)\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules} & {'ray', 'optuna', 'torch'})))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_reporting_and_config_never_load_ray():
    """sweep/report draws from the results table alone; sweep/config only reads YAML:
    neither loads Ray or Optuna (nor torch), directly or through what they import."""
    report = sorted(module_name(p) for p in (REPO / "sweep" / "report").glob("*.py"))
    config = sorted(module_name(p) for p in (REPO / "sweep" / "config").glob("*.py"))
    assert "sweep.report.figures" in report and "sweep.config.sweep_file" in config
    assert _loaded_after_importing(report + config) == []


def test_status_and_the_cli_start_without_ray():
    """`sweep status`, `sweep plan` and the parser need neither Ray nor torch."""
    assert _loaded_after_importing(["sweep.cli", "sweep.run.watch.status",
                                    "sweep.run.records.ledger",
                                    "sweep.run.records.results"]) == []
