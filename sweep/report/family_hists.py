"""One histogram per family, as Figures 2-3 draw them: shared bins, bars and outlines, legend.

Zhao, Mathieu & LeCun, "Energy-based Generative Adversarial Networks", ICLR 2017,
section 4.1, Figures 2-3: histograms of the modified inception score I. Every family of
the view (``family_view.py``) and every panel of a figure share the same bin edges; the
view's baseline (the paper's GAN) is opaque light bars, each other family an outline in
its Okabe-Ito colour above them, and the legend names them all (``figures.py`` lays out
the panels). Heights are percentages of *all* trials of the family in the panel.
"""
from __future__ import annotations

import math
import textwrap
from typing import Any

import numpy as np
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from sweep.report.experiment import Experiment
from sweep.report.family_view import FamilyView
from sweep.report.panels import Group, Panel
from sweep.report.style import REFERENCE_STYLE, STYLE, Z_BARS, Z_OUTLINE

N_BINS = 30
METRIC = {"score": {"xlabel": "modified inception score I (higher is better)", "short": "I"},
          "fd": {"xlabel": "Fréchet distance FD (lower is better)", "short": "FD"}}
YLABEL = "% of the group's models"
BARS_NOTE = ("bars: % of all trials of the group in the panel (failed trials are counted in n, "
             "not drawn)")


# --- bins ------------------------------------------------------------------------------
def _values(exp: Experiment, metric: str) -> np.ndarray:
    t = exp.trials
    v = t.loc[t["family"].isin(exp.view.families) & (t["status"] == "ok"), metric].to_numpy(float)
    return v[np.isfinite(v)]


def shared_bins(exp: Experiment, n_bins: int = N_BINS) -> np.ndarray:
    """Bin edges of I covering every scored trial of the compared families and the
    reference score: one set of edges for every family and every panel."""
    s = _values(exp, "score")
    lo = min(0.0, float(s.min())) if len(s) else 0.0
    hi = float(s.max()) if len(s) else math.log(10)  # ln 10: the most I can be
    if exp.reference is not None:
        hi = max(hi, exp.reference)
    if hi <= lo:
        hi = lo + 1.0
    return np.linspace(lo, hi * 1.02 if hi > 0 else hi + 0.05, n_bins + 1)


def fd_reference(exp: Experiment) -> float | None:
    """FD of real training digits to the test set (the classifier's "real train digits"
    probe): the floor a perfect generator reaches."""
    p = exp.probe("real train digits")
    v = p.get("fd") if p else None
    return float(v) if isinstance(v, (int, float)) and math.isfinite(v) else None


def fd_bins(exp: Experiment, n_bins: int = N_BINS) -> tuple[np.ndarray, bool]:
    """(bin edges, log scale?) of FD over the scored trials: logarithmic when they span
    over 1.5 decades. The axis is sized to the trials; a reference far below them is
    named in the caption instead of stretching the axis."""
    v = _values(exp, "fd")
    lo, hi = (float(v.min()), float(v.max())) if len(v) else (0.0, 1.0)
    if lo > 0 and hi / lo > 10 ** 1.5:
        return np.geomspace(lo / 1.05, hi * 1.05, n_bins + 1), True
    lo = min(0.0, lo)
    return np.linspace(lo, hi * 1.02 if hi > lo else lo + 1.0, n_bins + 1), False


# --- one histogram ---------------------------------------------------------------------
def hist(ax, g: Group, values: np.ndarray, bins: np.ndarray, view: FamilyView) -> float:
    """The baseline (the paper's GAN): opaque light bars; every other family: an outline
    in its colour above them. Heights in % of the group's n."""
    if g.n == 0 or len(values) == 0:
        return 0.0
    w = np.full(len(values), 100.0 / g.n)
    heights, _ = np.histogram(values, bins=bins, weights=w)
    if g.family == view.baseline:
        ax.hist(values, bins=bins, weights=w, histtype="stepfilled", facecolor=view.bar_fill,
                edgecolor=view.color(g.family), linewidth=0.7, zorder=Z_BARS, gid=g.family)
    else:
        ax.hist(values, bins=bins, weights=w, histtype="step", color=view.color(g.family),
                linewidth=1.3, zorder=Z_OUTLINE, gid=g.family)
    return float(heights.max())


def vals(g: Group, metric: str) -> np.ndarray:
    return g.scores if metric == "score" else g.fds


def legend_handles(view: FamilyView, names: dict[str, str] | None = None,
                   reference: tuple[str, float] | None = None) -> list[Any]:
    """The legend of Figures 2-3: the baseline's bars first, then each other family's
    outline in the view's order (``names``: legend text per family, default its label),
    and the reference line: every colour on the page."""
    names = names or {}
    base = view.baseline
    handles = [Patch(facecolor=view.bar_fill, edgecolor=view.color(base), linewidth=0.7,
                     label=names.get(base, view.label(base)))]
    handles += [Line2D([], [], color=view.color(f), linewidth=1.3,
                       label=names.get(f, view.label(f))) for f in view.families if f != base]
    if reference is not None:
        handles.append(Line2D([], [], label=f"{reference[0]} {reference[1]:.2f}",
                              **REFERENCE_STYLE))
    return handles


def reference(exp: Experiment, metric: str) -> tuple[str, float] | None:
    if metric == "score":
        return None if exp.reference is None else ("real test digits, I =", exp.reference)
    ref = fd_reference(exp)
    return None if ref is None else ("real training digits, FD =", ref)


def fit(lines: list[str], width_in: float) -> list[str]:
    """Title lines wrapped to a panel's width (8 pt, about 0.55 em per character, less a
    margin so that neighbouring titles keep apart); an infinite width leaves them whole."""
    if not math.isfinite(width_in):
        return lines
    chars = max(20, int((width_in - 0.15) * 72 / (0.55 * STYLE["axes.titlesize"])))
    return [w for line in lines for w in (textwrap.wrap(line, chars) or [line])]


def count_lines(p: Panel, metric: str) -> list[str]:
    """'n = 512 EBGAN, 6,144 GAN' and, when some are not drawn, how many. With more than
    two families, 'n = 24 of each family' when they are equal, and only the non-zero
    failures."""
    gs = list(p.groups.values())
    many = len(gs) > 2
    if many and len({g.n for g in gs}) == 1:
        lines = [f"n = {gs[0].n:,} of each family"]
    else:
        lines = ["n = " + ", ".join(f"{g.n:,} {g.label}" for g in gs)]
    gone = [(g.n - len(vals(g, metric)), g.label) for g in gs]
    if any(k for k, _ in gone):
        why = "failed/unscored" if metric == "score" else "failed/no FD"
        lines.append(f"{why}: " + ", ".join(f"{k:,} {lab}" for k, lab in gone
                                            if k or not many))
    return lines


def same_trials_note(panels: list[Panel]) -> str | None:
    """Which Figure 2 panels hold the same trials (a grid with no nLayer 5, or none > 3)."""
    ids = [frozenset().union(*(set(g.trials.index) for g in p.groups.values())) for p in panels]
    if len(ids) == 3 and ids[0] == ids[1] == ids[2]:
        return "panels (a)-(c) hold the same trials: the grid has no nLayerG or nLayerD above 3"
    if ids[0] == ids[1]:
        return "panels (a) and (b) hold the same trials: the grid has no nLayerG or nLayerD of 5"
    if ids[1] == ids[2]:
        return "panels (b) and (c) hold the same trials: the grid has no nLayerG or nLayerD of 4"
    return None
