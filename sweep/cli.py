"""The `sweep` command: every subcommand, parsed here and dispatched to the packages.

Input a user can fix (a sweep file that fails validation, an experiment in use, a damaged
file...) raises a ``models.errors.UserError``: it is printed as one paragraph with exit
code 2, never as a traceback. Heavy modules (torch, Ray) are imported inside the commands
that need them, so `sweep plan` and `sweep status` start in a blink.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Callable

from models.errors import UserError

EXIT_BAD_INPUT = 2
ENV_DATA = "MNIST_ROOT (folder of the MNIST IDX files)"
ENV_RAY = "RAY_ADDRESS (a Ray cluster to join)"
ENV_AWS = "AWS_* (AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, ...: s3:// storage)"


class UsageError(UserError):
    """Bad command-line input."""


def _experiment(args: argparse.Namespace) -> Path:
    """``--results`` if given, else results/<name of the sweep file>."""
    if getattr(args, "results", None):
        return Path(args.results)
    from sweep.config import experiment_dir, load_config
    return experiment_dir(load_config(args.config))


# --- the commands ------------------------------------------------------------------------
def cmd_plan(args: argparse.Namespace) -> int:
    from sweep.config import budget_text, load_config, plan
    cfg = load_config(args.config)
    info = plan(cfg)
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    print(f"sweep {info['name']} ({cfg.path}): {info['total']:,} trials, seeds {info['seeds']}")
    for fam in cfg.families:
        print(f"  {fam.name} [{fam.model}, {fam.search}]: {info['families'][fam.name]:,} trials")
        for axis, values in info["axes"][fam.name].items():
            print(f"      {axis:<12} {values}")
    for fam, sched in info.get("schedulers", {}).items():
        print(_schedule_line(fam, sched))
    print(f"  budget: {budget_text(cfg)}, batch {cfg.budget.batch_size}; "
          f"data: {info['data']['source']}; "
          f"score samples: {info['score_samples']:,}")
    print(f"  total: {info['total']:,}")
    return 0


def _schedule_line(family: str, s: dict) -> str:
    head = (f"  {family}: {s['type']} on {s['metric']} (grace {s['grace']:,}, reduction "
            f"{s['reduction']:g}" + (f", {s['brackets']} brackets" if (s['brackets'] or 1) > 1 else "")
            + ")")
    if s.get("rungs") is None:
        return head + ": rungs at grace x reduction^k, below the budget (known once the data is)"
    at = [", ".join(f"{r:,}" for r in rs) or "none" for rs in s["rungs"]]
    brackets = at[0] if len(at) == 1 else "; ".join(f"bracket {b}: {r}" for b, r in enumerate(at))
    return (f"{head}: rungs at {brackets} iterations, then the budget ({s['budget']:,}); "
            f"costs {s['least_iterations']:,} to {s['most_iterations']:,} iterations "
            f"({s['least_iterations'] / s['most_iterations']:.0%} to 100% of the full grid)")


def cmd_train_one(args: argparse.Namespace) -> int:
    from sweep.run.worker.train_one import train_one
    result, out = train_one(args.config, args.family, args.set or [],
                            iterations=args.iterations, out=args.out)
    score = "none (diverged)" if result.score is None else f"{result.score:.4f}"
    fd = "" if result.fd is None else f", FD = {result.fd:.2f}"
    print(f"[train-one] status {result.status}, {result.iterations_done:,} iterations "
          f"({result.ms_per_iteration:.1f} ms each), score I = {score}{fd}, class histogram "
          f"{result.class_histogram}")
    print(f"[train-one] wrote {out}/: config.json, record.json, curves.csv, result.json"
          + (", samples.png, generator.pt" if result.status == "ok" else ""))
    return 0


def cmd_classifier(args: argparse.Namespace) -> int:
    from evaluator.classifier import train_classifier
    from models.data import load_mnist
    from sweep.config import classifier_dir, load_config

    cfg = load_config(args.config)
    data = load_mnist(cfg.data.source, cfg.data.root)
    out = Path(args.out) if args.out else classifier_dir(cfg, data.source)
    m = train_classifier(data, out, epochs=args.epochs, seed=args.seed)
    print(f"[classifier] {m['data_source']}: test accuracy {m['test_accuracy']:.2%} on "
          f"{m.get('n_test', '?')} test digits; real-data score {m['real_data_score']:.4f}; "
          f"saved to {out} (sha256 {m['weights_sha256'][:12]}...)")
    return 0


def cmd_grid(args: argparse.Namespace) -> int:
    """Refuse a busy experiment before importing Ray and torch (seconds), then run."""
    from sweep.run.records.ledger import Ledger

    exp = _experiment(args)
    if exp.is_dir():
        probe = Ledger(exp)
        probe.lock()  # raises LedgerError naming the running driver's pid
        probe.unlock()
    from sweep.run.driver.api import run_sweep
    run = run_sweep(args.config, results=args.results, address=args.address,
                    storage_root=args.storage, extend=args.extend, fresh=args.fresh,
                    retry_errors=args.retry_errors)
    return run.exit_code


def cmd_status(args: argparse.Namespace) -> int:
    from sweep.run.watch.status import read_status, render
    status = read_status(_experiment(args))
    print(json.dumps(status, indent=2) if args.json else render(status))
    return 0


def cmd_collect(args: argparse.Namespace) -> int:
    from sweep.run.records.results import collect
    exp = _experiment(args)
    if not (exp / "ledger").is_dir():
        raise UsageError(f"{exp} has no finished trials yet (no ledger/); run `make grid` "
                         f"(sweep grid -c {args.config}) first.")
    df = collect(exp)
    by_status = df["status"].value_counts().to_dict()
    print(f"{len(df):,} trials -> {exp / 'trials.parquet'} and trials.csv "
          f"({', '.join(f'{k} {v}' for k, v in sorted(by_status.items()))})")
    _hparams(exp, df)
    return 0


def _hparams(exp: Path, df=None) -> None:
    from sweep.report.hparams import write_hparams
    folder, n = write_hparams(exp, df)
    print(f"{n:,} configurations -> {folder} (TensorBoard HParams: `sweep tensorboard`)")


def _family_view(args: argparse.Namespace):
    """The families to compare: ``--families``, else the sweep file's ``report.families``
    (when the file is there and sets them), else None: the experiment's plan.json
    records the choice of the file it ran, and the default is the paper's ebgan, gan."""
    from sweep.report.family_view import FamilyView, parse_families
    if args.families is not None:
        return FamilyView(parse_families(args.families), f"--families {args.families!r}")
    if Path(args.config).is_file():
        from sweep.config import load_config
        cfg = load_config(args.config)
        if cfg.report.families:
            return FamilyView(cfg.report.families, f"{cfg.path}: report.families")
    return None


def cmd_histograms(args: argparse.Namespace) -> int:
    from sweep.report.figures import draw_histograms
    exp = _experiment(args)
    result = draw_histograms(exp, out_dir=args.out, view=_family_view(args))
    out = next(iter(result["files"].values())).parent
    print(f"figures of {exp} -> {out}: {', '.join(result['files'])}")
    for note in result["notes"]:
        print(f"  note: {note}")
    print(result["summary"]["claim"])
    _hparams(exp)
    return 0


def cmd_curves(args: argparse.Namespace) -> int:
    from sweep.report.curves import draw_curves
    exp = _experiment(args)
    path = draw_curves(exp, args.keys, args.out or exp / "figures" / "curves.png")
    print(f"loss curves of {', '.join(args.keys)} -> {path}")
    return 0


def cmd_dashboard(args: argparse.Namespace) -> int:
    from sweep.run.watch.viewers import ray_dashboard
    return ray_dashboard(args.address or os.environ.get("RAY_ADDRESS") or "auto")


def cmd_tensorboard(args: argparse.Namespace) -> int:
    from sweep.run.watch.viewers import tensorboard
    return tensorboard(_experiment(args), args.port)


def cmd_optuna_dashboard(args: argparse.Namespace) -> int:
    from sweep.run.watch.viewers import optuna_dashboard
    return optuna_dashboard(_experiment(args), args.port)


# --- the parser --------------------------------------------------------------------------
def _command(sub, name: str, func: Callable, summary: str, example: str,
             env: tuple[str, ...] = (), notes: str = "") -> argparse.ArgumentParser:
    epilog = (notes + "\n\n" if notes else "") + f"example:\n  {example}"
    if env:
        epilog += "\n\nenvironment:\n" + "\n".join(f"  {e}" for e in env)
    p = sub.add_parser(name, help=summary, description=summary, epilog=epilog,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.set_defaults(func=func)
    return p


def _sweep_args(p: argparse.ArgumentParser, results: bool = True) -> None:
    p.add_argument("-c", "--config", default="sweep.yaml", help="sweep file (default: sweep.yaml)")
    if results:
        p.add_argument("--results", default=None,
                       help="experiment directory (default: results/<sweep name>)")


def build_parser() -> argparse.ArgumentParser:
    from importlib.metadata import PackageNotFoundError, version
    try:
        v = version("ebgan-sweep")
    except PackageNotFoundError:
        v = "unknown (not installed)"
    parser = argparse.ArgumentParser(
        prog="sweep", description="The EBGAN paper's MNIST grid search on Ray Tune: plan it, "
        "run it, watch it, draw its figures.", epilog="`sweep COMMAND --help` for each "
        "command's options, an example and the environment variables it reads.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {v}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = _command(sub, "plan", cmd_plan, "what a sweep file will run (no training)",
                 "sweep plan -c sweep.yaml --json")
    _sweep_args(p, results=False)
    p.add_argument("--json", action="store_true", help="machine-readable counts")

    p = _command(sub, "train-one", cmd_train_one,
                 "train and score one configuration, without Ray",
                 "sweep train-one --family ebgan --set nLayerG=5 sizeD=1024 --iterations 500",
                 (ENV_DATA,))
    _sweep_args(p, results=False)
    p.add_argument("--family", required=True, help="a family of the sweep file")
    p.add_argument("--set", nargs="*", metavar="KEY=VALUE", help="settings to override")
    p.add_argument("--iterations", type=int, default=None, help="budget in iterations")
    p.add_argument("--out", default=None, help="output folder (default results/train-one/...)")

    p = _command(sub, "classifier", cmd_classifier, "train the scoring MNIST ConvNet",
                 "sweep classifier -c sweep.yaml", (ENV_DATA,))
    _sweep_args(p, results=False)
    p.add_argument("--out", default=None, help="folder (default: score.classifier of the sweep)")
    p.add_argument("--epochs", type=int, default=None, help="default: by training-set size")
    p.add_argument("--seed", type=int, default=0)

    p = _command(sub, "grid", cmd_grid,
                 "run the sweep on Ray Tune; resumes where it stopped",
                 "sweep grid -c examples/smoke.yaml", (ENV_DATA, ENV_RAY, ENV_AWS),
                 notes="exit codes: 0 every trial has a result; 130 stopped by Ctrl-C (SIGINT); "
                       "143 stopped by SIGTERM;\n1 stopped early for another reason; 2 refused "
                       "(bad sweep file, experiment in use, ...)")
    _sweep_args(p)
    p.add_argument("--address", default=None, help="join this Ray cluster (or set RAY_ADDRESS)")
    p.add_argument("--storage", default=None, help="trial files: path, NFS path or s3:// URI")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--fresh", action="store_true",
                      help="set the old experiment aside (renamed, not deleted) and start again")
    mode.add_argument("--extend", action="store_true",
                      help="add the sweep file's new configurations to the experiment")
    p.add_argument("--retry-errors", action="store_true",
                   help="run again the trials recorded as error (e.g. after a lost node)")

    p = _command(sub, "status", cmd_status,
                 "an experiment's progress from its ledger (no Ray): done by family, ETA",
                 "sweep status -c sweep.yaml")
    _sweep_args(p)
    p.add_argument("--json", action="store_true", help="machine-readable status")

    p = _command(sub, "collect", cmd_collect, "rebuild trials.parquet/csv from the ledger",
                 "sweep collect -c sweep.yaml", (ENV_AWS,))
    _sweep_args(p)

    p = _command(sub, "histograms", cmd_histograms,
                 "Figures 2-7 and summary.md from the results table (no Ray); HParams sessions",
                 "sweep histograms -c examples/smoke.yaml", (ENV_AWS,))
    _sweep_args(p)
    p.add_argument("--out", default=None, help="output folder (default: <results>/figures)")
    p.add_argument("--families", default=None, metavar="A,B,C",
                   help="families to compare, in order, the last drawn as bars and compared "
                   "with the others (default: the sweep file's report.families, else the "
                   "paper's ebgan,gan)")

    p = _command(sub, "curves", cmd_curves, "draw the loss curves of chosen trials",
                 "sweep curves 1a2b3c4d5e6f7a8b 0f9e8d7c6b5a4938 -c sweep.yaml", (ENV_AWS,))
    _sweep_args(p)
    p.add_argument("keys", nargs="+", metavar="KEY", help="trial keys (the trial_key column)")
    p.add_argument("--out", default=None, help="PNG file (default: <results>/figures/curves.png)")

    p = _command(sub, "dashboard", cmd_dashboard, "URL and token of the running Ray dashboard",
                 "sweep dashboard", (ENV_RAY,))
    p.add_argument("--address", default=None)

    p = _command(sub, "tensorboard", cmd_tensorboard,
                 "serve the loss curves and every configuration (HParams) with TensorBoard "
                 "on 127.0.0.1",
                 "sweep tensorboard -c examples/smoke.yaml --port 6006")
    _sweep_args(p)
    p.add_argument("--port", type=int, default=6006)

    p = _command(sub, "optuna-dashboard", cmd_optuna_dashboard,
                 "serve the experiment's Optuna studies with optuna-dashboard on 127.0.0.1",
                 "sweep optuna-dashboard -c examples/optuna-margin.yaml --port 8080")
    _sweep_args(p)
    p.add_argument("--port", type=int, default=8080)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `sweep plan --json | head`: the reader left; that is fine
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except BaseException as exc:  # a second Ctrl-C while a stopped grid cleans up
        from sweep.run.driver.signals import GridStopped
        if isinstance(exc, GridStopped):
            return exc.exit_code
        raise
