"""Figures 2-5 of the EBGAN paper's MNIST grid search, drawn from the results table alone.

Zhao, Mathieu & LeCun, "Energy-based Generative Adversarial Networks", ICLR 2017,
section 4.1: Figure 2 (histograms of the modified inception score I, EBGAN vs GAN, for
all models and for the shallower sub-grids), Figure 3 (the GANs split by their
optimization setting, the EBGANs as reference) and Figure 4 (samples of the best GAN,
EBGAN and EBGAN-PT). Our additions: ``fig2_fd`` (Figure 2 for the Frechet distance FD,
lower is better), FD's best trials in Figure 4, and ``fig5_curves`` (loss curves).

``draw_histograms(EXP)`` reads only ``EXP/trials.parquet``, ``EXP/plan.json``,
``EXP/classifier.json`` and the trials' ``samples.png``/``curves.csv``; it needs neither
Ray nor torch, so the figures rebuild without retraining.

Design (``style.py``): 7 inches wide, as a paper prints a two-column figure. The GAN
histogram is opaque light bars, the EBGAN histogram an outline drawn above them, the
real-data reference a dashed line above both: every colour on the page is in the
legend, which sits outside the panels, and the y axis is sized to the tallest bar.
- Bars are percentages of *all* trials of the group in the panel (failures included),
  so a group's bars sum to 100% minus its failed share; the titles count failures.
- Both groups, and every panel of a figure, share the same bins.
- A missing or empty table raises :class:`FiguresError` (run ``make grid`` or ``sweep
  collect``). A table with only EBGANs or only GANs is drawn anyway and the titles say
  which group is missing; no ``plan.json``: no progress; no ``classifier.json``: no
  reference line; no finite ``fd``: no ``fig2_fd`` (the notes say so).
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from sweep.report.analysis.plots import fig2_ecdf, fig6_budget, fig7_importance
from sweep.report.analysis.tables import analysis_summary, analyze
from sweep.report.curves import fig5
from sweep.report.experiment import NO_FD_COLUMN, Experiment, FiguresError, load_experiment
from sweep.report.fig4_samples import config_lines, fig4, read_samples
from sweep.report.panels import (FIG2_SUBSETS, Group, Panel, fig2_panels, fig3_panels,
                                 fig3_settings, stopped_note)
from sweep.report.style import (COLORS, GAN_FILL, REFERENCE_STYLE, STYLE, Z_BARS, Z_OUTLINE,
                                Z_REFERENCE, add_caption, new_figure, save)
from sweep.report.summary import summarize, write_summary

__all__ = ["draw_histograms", "FiguresError", "COLORS", "fig2", "fig2_fd", "fig3", "fig4",
           "fig5", "read_samples", "config_lines", "shared_bins", "fd_bins"]

N_BINS = 30
METRIC = {"score": {"xlabel": "modified inception score I (higher is better)", "short": "I"},
          "fd": {"xlabel": "Fréchet distance FD (lower is better)", "short": "FD"}}
YLABEL = "% of the group's models"
BARS_NOTE = ("bars: % of all trials of the group in the panel (failed trials are counted in n, "
             "not drawn)")


# --- bins ------------------------------------------------------------------------------
def _values(exp: Experiment, metric: str) -> np.ndarray:
    t = exp.trials
    v = t.loc[t["family"].isin(["ebgan", "gan"]) & (t["status"] == "ok"), metric].to_numpy(float)
    return v[np.isfinite(v)]


def shared_bins(exp: Experiment, n_bins: int = N_BINS) -> np.ndarray:
    """Bin edges of I covering every scored EBGAN and GAN trial and the reference score."""
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
def _hist(ax, g: Group, values: np.ndarray, bins: np.ndarray) -> float:
    """GAN: opaque bars; EBGAN: an outline above them. Heights in % of the group's n."""
    if g.n == 0 or len(values) == 0:
        return 0.0
    w = np.full(len(values), 100.0 / g.n)
    heights, _ = np.histogram(values, bins=bins, weights=w)
    if g.label == "GAN":
        ax.hist(values, bins=bins, weights=w, histtype="stepfilled", facecolor=GAN_FILL,
                edgecolor=COLORS["GAN"], linewidth=0.7, zorder=Z_BARS)
    else:
        ax.hist(values, bins=bins, weights=w, histtype="step", color=COLORS[g.label],
                linewidth=1.3, zorder=Z_OUTLINE)
    return float(heights.max())


def _vals(g: Group, metric: str) -> np.ndarray:
    return g.scores if metric == "score" else g.fds


def legend_handles(ebgan_label: str = "EBGAN", reference: tuple[str, float] | None = None
                   ) -> list[Any]:
    """The legend of Figures 2-3: every colour on the page, and the reference line."""
    handles = [Patch(facecolor=GAN_FILL, edgecolor=COLORS["GAN"], linewidth=0.7, label="GAN"),
               Line2D([], [], color=COLORS["EBGAN"], linewidth=1.3, label=ebgan_label)]
    if reference is not None:
        handles.append(Line2D([], [], label=f"{reference[0]} {reference[1]:.2f}",
                              **REFERENCE_STYLE))
    return handles


def _reference(exp: Experiment, metric: str) -> tuple[str, float] | None:
    if metric == "score":
        return None if exp.reference is None else ("real test digits, I =", exp.reference)
    ref = fd_reference(exp)
    return None if ref is None else ("real training digits, FD =", ref)


def _count_lines(p: Panel, metric: str) -> list[str]:
    """'n = 512 EBGAN, 6,144 GAN' and, when some are not drawn, how many."""
    gs = list(p.groups.values())
    lines = ["n = " + ", ".join(f"{g.n:,} {g.label}" for g in gs)]
    gone = [(g.n - len(_vals(g, metric)), g.label) for g in gs]
    if any(k for k, _ in gone):
        why = "failed/unscored" if metric == "score" else "failed/no FD"
        lines.append(f"{why}: " + ", ".join(f"{k:,} {lab}" for k, lab in gone))
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


# --- Figure 2 --------------------------------------------------------------------------
def fig2(exp: Experiment, bins: np.ndarray | None = None, metric: str = "score",
         log: bool = False) -> Figure:
    """Figure 2: (a) all, (b) nLayerG, nLayerD <= 4, (c) <= 3: EBGAN vs GAN side by side,
    of I (the paper's) or of FD (``metric="fd"``, our companion)."""
    bins = shared_bins(exp) if bins is None else bins
    panels = fig2_panels(exp)
    ref = _reference(exp, metric)
    extra = [x for x in (same_trials_note(panels), BARS_NOTE, stopped_note(panels[0])) if x]
    if ref is not None and not bins[0] <= ref[1] <= bins[-1]:
        extra.insert(0, f"{ref[0]} {ref[1]:.2f}, off the axis")
        ref = None
    fig = new_figure(3.1)
    axes = fig.subplots(1, len(panels), sharex=True)
    for ax, p in zip(axes, panels):
        top = max(_hist(ax, g, _vals(g, metric), bins) for g in p.groups.values())
        if ref is not None:
            ax.axvline(ref[1], zorder=Z_REFERENCE, **REFERENCE_STYLE)
        gone = [k for k, g in p.groups.items() if g.family_done == 0]
        lines = [f"({p.key}) {p.title}", *_count_lines(p, metric),
                 *[x for x in (p.progress(), f"no {' or '.join(gone)} trials" if gone else "")
                   if x]]
        ax.set_title("\n".join(lines))
        if log:
            ax.set_xscale("log")
        ax.set_xlim(bins[0], bins[-1])
        ax.set_ylim(0, (top if top > 0 else 10.0) * 1.06)
    axes[0].set_ylabel(YLABEL)
    axes[len(axes) // 2].set_xlabel(METRIC[metric]["xlabel"] + (", log scale" if log else ""))
    a = panels[0]
    add_caption(fig, exp, f"n = {a.groups['EBGAN'].n:,} EBGAN and {a.groups['GAN'].n:,} GAN "
                f"trials", extra=extra, handles=legend_handles(reference=ref))
    return fig


def fig2_fd(exp: Experiment) -> Figure:
    """Figure 2 for the Frechet distance FD (lower is better): the same three panels."""
    bins, log = fd_bins(exp)
    return fig2(exp, bins, metric="fd", log=log)


# --- Figure 3 --------------------------------------------------------------------------
def fig3(exp: Experiment, bins: np.ndarray | None = None) -> Figure:
    """Figure 3: GANs split by optimization setting, rows = lr (largest first), columns =
    optimD/optimG; all EBGANs as the reference outline above the GAN bars in every panel."""
    bins = shared_bins(exp) if bins is None else bins
    panels = fig3_panels(exp)
    lrs, combos = fig3_settings(exp)
    nrow, ncol = max(len(lrs), 1), max(len(combos), 1)
    fig = new_figure(1.6 * nrow + 1.4)
    axes = np.atleast_2d(fig.subplots(nrow, ncol, sharex=True, sharey=True, squeeze=False))
    ebgan = panels[0].groups["EBGAN"] if panels else fig2_panels(exp)[0].groups["EBGAN"]
    top = 0.0
    for ax, p in zip(axes.flat, panels):
        top = max(top, _hist(ax, p.groups["GAN"], p.groups["GAN"].scores, bins),
                  _hist(ax, ebgan, ebgan.scores, bins))
        d, g, lr = p.setting["optimD"], p.setting["optimG"], p.setting["lr"]  # type: ignore[index]
        gan = p.groups["GAN"]
        c = gan.counts()
        failed = c["n_diverged"] + c["n_error"]
        second = (p.progress() or f"n={gan.n:,}") if gan.n else "no GAN trials with this setting"
        if failed:
            second += f", {failed:,} failed"
        ax.set_title(f"D {d} / G {g}, lr {lr:g}\n{second}")
    if not panels:
        top = _hist(axes.flat[0], ebgan, ebgan.scores, bins)
        axes.flat[0].set_title("no GAN trials in the table")
    for ax in axes.flat[len(panels) or 1:]:
        ax.set_axis_off()
    for ax in axes.flat:
        if exp.reference is not None:
            ax.axvline(exp.reference, zorder=Z_REFERENCE, **REFERENCE_STYLE)
        ax.set_xlim(bins[0], bins[-1])
        ax.set_ylim(0, (top if top > 0 else 10.0) * 1.06)
    for ax in axes[-1, :]:
        ax.set_xlabel("I (higher is better)")
    for ax in axes[:, 0]:
        ax.set_ylabel("% of models")
    eb = f"all EBGANs, n = {ebgan.n:,}" if ebgan.family_done else "EBGAN (no trials)"
    fails = ebgan.n - len(ebgan.scores)
    add_caption(fig, exp, f"GANs of each optimization setting (n in each title) vs all "
                f"{ebgan.n:,} EBGANs" + (f" ({fails:,} failed)" if fails else ""),
                extra=[x for x in ("I: the paper's modified inception score", BARS_NOTE,
                                   stopped_note(fig2_panels(exp)[0])) if x],
                handles=legend_handles(eb, _reference(exp, "score")))
    return fig


# --- entry point -----------------------------------------------------------------------
def draw_histograms(exp_dir: str | Path, *, out_dir: str | Path | None = None,
                    n_resamples: int = 2000, seed: int = 0) -> dict[str, Any]:
    """Draw Figures 2-5 and write summary.md/.json for the experiment ``exp_dir``.

    Writes into ``out_dir`` (default ``exp_dir/figures``), each figure as PNG (300 dpi,
    7 in wide) and PDF: fig2, fig2_fd (when the table has FD), fig3, fig4, fig5_curves
    (when the best/worst trials have curves.csv), fig6_budget, fig7_importance, fig2_ecdf
    with their CSVs (``tables.py``), and summary.md, summary.json. Returns
    ``{"files": {name: Path}, "summary": dict, "notes": [str]}``. Raises
    :class:`FiguresError` when the table is missing, empty, lacks a required column, or
    holds neither EBGANs nor GANs. ``n_resamples`` and ``seed`` set the bootstraps.
    """
    import matplotlib

    exp = load_experiment(exp_dir)
    out = Path(out_dir) if out_dir is not None else exp.path / "figures"
    out.mkdir(parents=True, exist_ok=True)
    summary = summarize(exp, n_resamples=n_resamples, seed=seed)
    files: dict[str, Path] = {}
    with matplotlib.rc_context(STYLE):
        files.update(save(fig2(exp), out, "fig2"))
        if exp.has_fd:
            files.update(save(fig2_fd(exp), out, "fig2_fd"))
        elif not any(n.startswith(NO_FD_COLUMN) for n in summary["notes"]):
            summary["notes"].append("no fig2_fd: no trial in the table has a finite fd "
                                    "(Frechet distance)")
        files.update(save(fig3(exp), out, "fig3"))
        files.update(save(fig4(exp, summary["best"], summary["best_fd"]), out, "fig4"))
        curves, notes = fig5(exp)
        summary["notes"].extend(notes)
        if curves is not None:
            files.update(save(curves, out, "fig5_curves"))
        # beyond the paper: budget curves, importance, probability of improvement
        an = analyze(exp, n_resamples=n_resamples, seed=seed)
        summary["analysis"] = analysis_summary(an)
        summary["notes"].extend(an.notes)
        files.update(save(fig6_budget(exp, an), out, "fig6_budget"))
        files.update(save(fig7_importance(exp, an), out, "fig7_importance"))
        files.update(save(fig2_ecdf(exp, an, {k: t for k, t, _ in FIG2_SUBSETS}), out,
                          "fig2_ecdf"))
        files.update(an.write_csvs(out))
    md, js = write_summary(summary, out)
    files[md.name], files[js.name] = md, js
    return {"files": files, "summary": summary, "notes": summary["notes"]}
