"""The `sweep` command: plan, train-one, classifier, grid, collect, histograms, dashboard.

Bad input (a sweep file that fails validation, an unknown axis in --set, ...) exits with
code 2 and a one-paragraph message, never a traceback.
"""
from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Callable

from sweep.config import ConfigError, load_config, plan

EXIT_BAD_INPUT = 2


class UsageError(Exception):
    """Bad command-line input; printed as one paragraph, exit code 2."""


def _add_sweep_args(p: argparse.ArgumentParser, results: bool = True) -> None:
    p.add_argument("-c", "--config", default="sweep.yaml", help="sweep file (default: sweep.yaml)")
    if results:
        p.add_argument("--results", default=None,
                       help="experiment directory (default: results/<sweep name>)")


def cmd_plan(args: argparse.Namespace) -> int:
    cfg = load_config(args.config)
    info = plan(cfg)
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    print(f"sweep {info['name']} ({cfg.path}): {info['total']:,} trials, seeds {info['seeds']}")
    for fam in cfg.families:
        head = f"  {fam.name} [{fam.model}, {fam.search}]: {info['families'][fam.name]:,} trials"
        print(head)
        for axis, values in info["axes"][fam.name].items():
            print(f"      {axis:<12} {values}")
    b = info["budget"]
    budget = f"{b['iterations']} iterations" if b["iterations"] else f"{b['epochs']} epochs"
    print(f"  budget: {budget}, batch {b['batch_size']}; data: {info['data']['source']}; "
          f"score samples: {info['score_samples']:,}")
    print(f"  total: {info['total']:,}")
    return 0


def _lazy(module: str, func: str) -> Callable[[argparse.Namespace], int]:
    """Import heavy modules (torch, ray) only for the command that needs them."""
    def run(args: argparse.Namespace) -> int:
        import importlib
        return getattr(importlib.import_module(module), func)(args)
    return run


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sweep", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("plan", help="what a sweep file will run")
    _add_sweep_args(p, results=False)
    p.add_argument("--json", action="store_true", help="machine-readable counts")
    p.set_defaults(func=cmd_plan)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (ConfigError, UsageError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
