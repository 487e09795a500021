"""`sweep histograms`: Figures 2-4 and the summary of one experiment, from its table alone.

Wire it with ``_lazy("sweep.histograms", "cmd_histograms")`` in ``sweep/cli.py``; it needs
``--results DIR`` (or ``-c SWEEP.yaml``, whose ``name`` gives ``results/<name>``) and
accepts an optional ``--out DIR`` (default ``DIR/figures``). No Ray, no torch: the figures
rebuild on any machine that has the experiment directory.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sweep.figures import FiguresError, draw_histograms

EXIT_BAD_INPUT = 2  # the CLI's code for input it cannot use (sweep/cli.py)


def experiment_path(args: argparse.Namespace) -> Path:
    """``--results`` if given (the sweep file is then not needed), else results/<name>."""
    results = getattr(args, "results", None)
    if results:
        return Path(results)
    from sweep.config import experiment_dir, load_config
    return experiment_dir(load_config(getattr(args, "config", "sweep.yaml")))


def cmd_histograms(args: argparse.Namespace) -> int:
    """Draw fig2/fig3/fig4 (PNG + PDF) and summary.md/.json; print where they went."""
    exp = experiment_path(args)
    try:
        result = draw_histograms(exp, out_dir=getattr(args, "out", None))
    except FiguresError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    files = result["files"]
    out = next(iter(files.values())).parent
    print(f"figures of {exp} -> {out}: {', '.join(files)}")
    for note in result["notes"]:
        print(f"  note: {note}")
    print(result["summary"]["claim"])
    return 0
