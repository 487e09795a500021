"""fig6_budget, fig7_importance and fig2_ecdf: the figures of ``tables.py``'s tables.

Lucic et al. 2018 and Dodge et al. 2019 (expected best under a budget), Watanabe et al.
2023 / Hutter et al. 2014 (importance), Agarwal et al. 2021 (probability of improvement,
ECDFs that need no bins). Each figure draws exactly the rows of the CSV written beside it
(budget.csv and budget_hours.csv, importance.csv, ecdf.csv and improvement.csv), in the
report's style (``style.py``): the paper's width, opaque colours, every line in the legend.
Line artists carry a ``gid`` "family|metric|what" so a test can read back what is drawn.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import NullFormatter

from sweep.report.analysis.importance import EVALUATORS
from sweep.report.analysis.population import METRIC_NAMES, label
from sweep.report.analysis.tables import Analysis
from sweep.report.experiment import Experiment
from sweep.report.style import REFERENCE_STYLE, add_caption, new_figure
AXIS_LABEL = {"score": "expected best I (higher is better)",
              "fd": "expected lowest FD (lower is better)"}
TITLE = {"score": "expected best I", "fd": "expected lowest FD"}
FAILURES = ("failed configurations count as the worst value (I = 0, FD = +inf), as random "
            "search would draw them too")


def color(exp: Experiment, family: str, order: list[str]) -> str:
    """The family's colour in the histograms (``family_view.py``); families outside the
    view take the Okabe-Ito colours it leaves free."""
    return exp.view.colors_with(order)[family]


def _family_text(a: Analysis, fam: str) -> str:
    d = a.draws[fam]
    if d.estimate and d.planned:
        return f"{d.label} (estimate: {d.n:,} of {d.planned:,})"
    return f"{d.label} (n={d.n:,})"


def _curves(ax, exp: Experiment, df: pd.DataFrame, x: str, a: Analysis, metric: str) -> None:
    order = list(a.draws)
    for fam, g in df[df["metric"] == metric].groupby("family", sort=False):
        c = color(exp, fam, order)
        if len(g) == 1:  # one configuration: a point
            ax.plot(g[x], g["expected_best"], "o", color=c, ms=3, gid=f"{fam}|{metric}|best")
            continue
        ax.plot(g[x], g["expected_best"], color=c, lw=1.3, gid=f"{fam}|{metric}|best")
        for side in ("lo", "hi"):
            ax.plot(g[x], g[side], color=c, lw=0.7, ls=":", gid=f"{fam}|{metric}|{side}")
    ax.set_xscale("log")
    ax.xaxis.set_minor_formatter(NullFormatter())  # 2x10^-1, 3x10^-1... would overlap
    if metric == "fd":
        ax.set_yscale("log")  # FDs of a grid span decades
    ax.set_ylabel(AXIS_LABEL[metric])


def fig6_budget(exp: Experiment, a: Analysis) -> Figure:
    """Top: expected best of k configurations drawn at random (exact) with a bootstrap
    band; bottom: expected best after H hours of random search; I left, FD right."""
    rows = 2 if len(a.hours) else 1
    fig = new_figure(2.6 * rows + 1.0)
    axes = np.atleast_2d(fig.subplots(rows, len(a.metrics), squeeze=False))
    for j, metric in enumerate(a.metrics):
        _curves(axes[0, j], exp, a.budget, "k", a, metric)
        axes[0, j].set_xlabel("k: configurations tried at random (no replacement)")
        axes[0, j].set_title(f"{TITLE[metric]} of k configurations")
        if rows == 2:
            _curves(axes[1, j], exp, a.hours, "hours", a, metric)
            axes[1, j].set_xlabel("hours of random search (one worker)")
            axes[1, j].set_title(f"{TITLE[metric]} after H hours")
        if metric == "score" and exp.reference is not None:
            for ax in axes[:, j]:
                ax.axhline(exp.reference, **REFERENCE_STYLE)
    handles: list[Any] = [Line2D([], [], color=color(exp, f, list(a.draws)), lw=1.3,
                                 label=_family_text(a, f)) for f in a.draws]
    handles.append(Line2D([], [], color="0.3", lw=0.7, ls=":", label="95% band"))
    if exp.reference is not None and "score" in a.metrics:
        handles.append(Line2D([], [], label=f"real test digits, I = {exp.reference:.2f}",
                              **REFERENCE_STYLE))
    extra = ["top: exact expected best of k configurations drawn without replacement from the "
             "grid; band: 95% basic bootstrap over trials (what another grid of the same "
             "families might give)", FAILURES + "; the FD curve starts once k exceeds the "
             "number of failures"]
    if rows == 2:
        extra.append("bottom: random search against compute, each configuration taking its "
                     "measured wall time, mean over 200 random orders (band: 2.5-97.5% of runs), from "
                     "the longest configuration's time on")
    if any(d.estimate for d in a.draws.values()):
        extra.append("partial grid: estimates from the random sample the hand-out order gives, "
                     "curves only up to the sample's size")
    counts = "families: " + ", ".join(_family_text(a, f) for f in a.draws)
    add_caption(fig, exp, counts, families=list(a.draws), extra=extra, handles=handles)
    return fig


def fig7_importance(exp: Experiment, a: Analysis) -> Figure:
    """Per metric, each swept axis's importance share, one bar per family."""
    imp = a.importance
    fams = list(dict.fromkeys(imp["family"])) if len(imp) else []
    axes_order = list(dict.fromkeys(imp["axis"])) if len(imp) else []
    fig = new_figure(0.35 * max(len(axes_order), 3) + 1.8)
    axs = np.atleast_1d(fig.subplots(1, len(a.metrics), squeeze=False)[0])
    height = 0.8 / max(len(fams), 1)
    for ax, metric in zip(axs, a.metrics):
        for i, fam in enumerate(fams):
            g = imp[(imp["family"] == fam) & (imp["metric"] == metric)].set_index("axis")
            y = [k for k, ax_name in enumerate(axes_order) if ax_name in g.index]
            vals = [g.loc[axes_order[k], "importance"] for k in y]
            ax.barh(np.array(y) + (i - (len(fams) - 1) / 2) * height, vals, height=height,
                    color=color(exp, fam, list(a.draws)), gid=f"{fam}|{metric}|importance")
        ax.set_yticks(range(len(axes_order)), axes_order)
        ax.invert_yaxis()
        ax.set_xlim(0, 1)
        ax.set_xlabel("importance (share, sums to 1 per family)")
        ax.set_title(f"which settings matter for {METRIC_NAMES[metric]}")
    def raw(f: str) -> str:
        g = imp[imp["family"] == f].groupby("metric", sort=False)[
            ["raw_total", "shuffled_total"]].first()
        return ", ".join(f"{METRIC_NAMES[m]} {r.raw_total:.2g} ({r.shuffled_total:.1g})"
                         for m, r in g.iterrows())
    handles = [Patch(color=color(exp, f, list(a.draws)),
                     label=f"{_family_text(a, f)}; raw total {raw(f)}") for f in fams]
    extra = [f"evaluator: Optuna's {EVALUATORS[a.evaluator]}, on an in-memory study of the "
             "table (one trial per configuration)", "shares sum to 1 per family and metric even "
             "where nothing matters: the legend gives the raw (unnormalized) total and, in "
             "brackets, the same with the metric shuffled across configurations; shares mean "
             "something only where the raw total is well above the shuffled one",
             "an axis a family does not sweep has no bar",
             "failed configurations rank last (I = 0; FD worse than every finite FD)"]
    add_caption(fig, exp, "families: " + ", ".join(_family_text(a, f) for f in fams),
                families=list(a.draws), extra=extra, handles=handles or None)
    return fig


def _p_text(a: Analysis, panel: str, metric: str, n_pairs: int) -> str:
    """The panel's P(a beats b) for the view's one pair (more pairs: summary.md)."""
    imp = a.improvement
    if not len(imp) or n_pairs != 1:
        return ""
    r = imp[(imp["panel"] == panel) & (imp["metric"] == metric)]
    if not len(r):
        return ""
    r = r.iloc[0]
    if pd.isna(r["p_improvement"]):
        missing = label(r["family_a"]) if r["n_a"] == 0 else label(r["family_b"])
        return f"\nno {missing} configuration in this panel"
    ci = "" if pd.isna(r["lo"]) else f"\n95% CI [{r['lo']:.2f}, {r['hi']:.2f}]"  # own line: fits
    return f"\nP({label(r['family_a'])} beats {label(r['family_b'])}) = {r['p_improvement']:.2f}{ci}"


def fig2_ecdf(exp: Experiment, a: Analysis, titles: dict[str, str]) -> Figure:
    """Figure 2's panels as empirical CDFs (rows: I, FD), failures at the worst value."""
    fig = new_figure(2.3 * len(a.metrics) + 1.0)
    axes = np.atleast_2d(fig.subplots(len(a.metrics), len(titles), squeeze=False))
    order = list(a.draws)
    for i, metric in enumerate(a.metrics):
        for j, (key, title) in enumerate(titles.items()):
            ax = axes[i, j]
            e = a.ecdf[(a.ecdf["metric"] == metric) & (a.ecdf["panel"] == key)]
            for fam, g in e.groupby("family", sort=False):
                x, y = g["value"].to_numpy(), g["fraction"].to_numpy()
                ax.step(np.r_[x[:1], x], np.r_[0.0, y], where="post",  # rise from 0 at x_(1)
                        color=color(exp, fam, order), lw=1.2, gid=f"{fam}|{metric}|ecdf|{key}")
            ax.set_ylim(0, 1.02)
            if metric == "fd":
                ax.set_xscale("log")
                ax.xaxis.set_minor_formatter(NullFormatter())  # 3x10^1, 4x10^1... overlap
            ax.set_title(f"({key}) {title}{_p_text(a, key, metric, len(exp.view.pairs()))}")
            ax.set_xlabel(AXIS_LABEL[metric].replace("expected best ", "").replace(
                "expected lowest ", ""))
        axes[i, 0].set_ylabel("fraction of configurations ≤ x")
    handles = [Line2D([], [], color=color(exp, f, order), lw=1.2, label=_family_text(a, f))
               for f in order if f in set(a.ecdf["family"])]
    extra = [FAILURES + ": the I curve jumps at 0 by the failed share, the FD curve ends below "
             "1 by it", "P(a beats b): probability that a random configuration of a scores "
             "better than one of b, ties counted half, 95% bootstrap CI (Agarwal et al. 2021)"
             + ("" if len(exp.view.pairs()) == 1 else
                f"; for each family against {exp.view.label(exp.view.baseline)}: summary.md, "
                "improvement.csv"),
             "curves need no bins: each step is a configuration"]
    add_caption(fig, exp, "families: " + ", ".join(_family_text(a, f) for f in order),
                families=order, extra=extra, handles=handles)
    return fig

