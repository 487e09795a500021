"""The `sweep` command: plan, train-one, classifier, grid, collect, histograms, dashboard.

Bad input (a sweep file that fails validation, an unknown axis in --set, ...) exits with
code 2 and a one-paragraph message, never a traceback.
"""
from __future__ import annotations

import argparse
import json
import sys
from typing import Callable

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


def cmd_collect(args: argparse.Namespace) -> int:
    from sweep.config import experiment_dir
    from sweep.results import collect

    cfg = load_config(args.config)
    exp = experiment_dir(cfg, args.results)
    if not (exp / "ledger").is_dir():
        raise UsageError(f"{exp} has no finished trials yet (no ledger/); run `make grid` "
                         f"(sweep grid -c {cfg.path}) first.")
    df = collect(exp)
    counts = df["status"].value_counts().to_dict()
    print(f"{len(df):,} trials -> {exp / 'trials.parquet'} and trials.csv "
          f"({', '.join(f'{k} {v}' for k, v in sorted(counts.items()))})")
    return 0


def cmd_grid(args: argparse.Namespace) -> int:
    """Refuse a busy experiment before importing Ray and torch (seconds), then run."""
    from sweep.config import experiment_dir
    from sweep.ledger import Ledger

    exp = experiment_dir(load_config(args.config), args.results)
    if exp.is_dir():
        probe = Ledger(exp)
        probe.lock()  # raises LedgerError naming the running driver's pid
        probe.unlock()
    return _lazy("sweep.grid", "main_grid")(args)


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

    p = sub.add_parser("train-one", help="train and score one configuration, without Ray")
    _add_sweep_args(p, results=False)
    p.add_argument("--family", required=True, help="a family of the sweep file")
    p.add_argument("--set", nargs="*", metavar="KEY=VALUE", help="settings to override")
    p.add_argument("--iterations", type=int, default=None, help="budget in iterations")
    p.add_argument("--out", default=None, help="output folder (default results/train-one/...)")
    p.set_defaults(func=_lazy("sweep.train_one", "cmd_train_one"))

    p = sub.add_parser("classifier", help="train the scoring MNIST ConvNet")
    _add_sweep_args(p, results=False)
    p.add_argument("--out", default=None, help="folder (default: score.classifier of the sweep)")
    p.add_argument("--epochs", type=int, default=None, help="default: by training-set size")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=_lazy("sweep.classifier_setup", "cmd_classifier"))

    p = sub.add_parser("grid", help="run the sweep on Ray Tune (resumes where it stopped)")
    _add_sweep_args(p)
    p.add_argument("--address", default=None, help="join this Ray cluster (or set RAY_ADDRESS)")
    p.add_argument("--storage", default=None, help="trial files: path, NFS path or s3:// URI")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--fresh", action="store_true",
                      help="set the old experiment aside (renamed, not deleted) and start again")
    mode.add_argument("--extend", action="store_true",
                      help="add the sweep file's new configurations to the experiment")
    p.add_argument("--retry-errors", action="store_true",
                   help="run again the trials recorded as error (e.g. after a lost node)")
    p.set_defaults(func=cmd_grid)

    p = sub.add_parser("collect", help="rebuild trials.parquet/csv from the ledger")
    _add_sweep_args(p)
    p.set_defaults(func=cmd_collect)

    p = sub.add_parser("histograms", help="Figures 2-4 and summary.md from the results table")
    _add_sweep_args(p)
    p.add_argument("--out", default=None, help="output folder (default: <results>/figures)")
    p.set_defaults(func=_lazy("sweep.histograms", "cmd_histograms"))

    p = sub.add_parser("dashboard", help="URL and token of the running Ray dashboard")
    p.add_argument("--address", default=None)
    p.set_defaults(func=_lazy("sweep.dashboard", "cmd_dashboard"))
    return parser


# Errors that explain themselves: printed as one paragraph, never as a traceback. Looked up
# only in modules already imported, so `sweep plan` stays free of torch and Ray.
USER_ERRORS = {"models.data": "DataError", "evaluator.classifier": "ClassifierError",
               "sweep.ledger": "LedgerError", "sweep.cluster": "ClusterError",
               "sweep.experiment": "FiguresError"}


def _user_errors() -> tuple[type[BaseException], ...]:
    found = [getattr(sys.modules[m], name) for m, name in USER_ERRORS.items() if m in sys.modules]
    return (ConfigError, UsageError, *found)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except Exception as exc:
        if not isinstance(exc, _user_errors()):
            raise
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
