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

Families: the paper's EBGAN and GAN by default; any others, up to eight, when chosen
(``sweep histograms --families a,b,c`` or ``report: {families: [...]}`` in the sweep
file; ``family_view.py``), one group each in every panel, in the chosen order, the last
one the baseline drawn as bars.

Design (``style.py``): 7 inches wide, as a paper prints a two-column figure. The
baseline's (GAN's) histogram is opaque light bars, every other family's (EBGAN's) an
outline drawn above them (``family_hists.py``), the real-data reference a dashed line
above both: every colour on the page is in the legend, which sits outside the panels,
and the y axis is sized to the tallest bar.
- Bars are percentages of *all* trials of the group in the panel (failures included),
  so a group's bars sum to 100% minus its failed share; the titles count failures.
- Every family, and every panel of a figure, share the same bins.
- A missing or empty table raises :class:`FiguresError` (run ``make grid`` or ``sweep
  collect``). A table with only some of the families is drawn anyway and the titles say
  which group is missing; no ``plan.json``: no progress; no ``classifier.json``: no
  reference line; no finite ``fd``: no ``fig2_fd`` (the notes say so).
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from sweep.report.analysis.plots import fig2_ecdf, fig6_budget, fig7_importance
from sweep.report.analysis.tables import analysis_summary, analyze
from sweep.report.curves import fig5
from sweep.report.experiment import NO_FD_COLUMN, Experiment, FiguresError, load_experiment
from sweep.report.family_hists import (BARS_NOTE, METRIC, YLABEL, count_lines, fd_bins,
                                       fit, hist, legend_handles, reference, same_trials_note,
                                       shared_bins, vals)
from sweep.report.family_view import FamilyView, joined
from sweep.report.fig4_samples import config_lines, fig4, read_samples
from sweep.report.panels import (FIG2_SUBSETS, Group, Panel, fig2_panels, fig3_panels,
                                 fig3_roles, fig3_settings, stopped_note)
from sweep.report.style import (COLORS, REFERENCE_STYLE, STYLE, Z_REFERENCE, add_caption,
                                new_figure, save)
from sweep.report.summary import summarize, write_summary

__all__ = ["draw_histograms", "FiguresError", "COLORS", "fig2", "fig2_fd", "fig3", "fig4",
           "fig5", "read_samples", "config_lines", "shared_bins", "fd_bins"]


# --- Figure 2 --------------------------------------------------------------------------
def fig2(exp: Experiment, bins: np.ndarray | None = None, metric: str = "score",
         log: bool = False) -> Figure:
    """Figure 2: (a) all, (b) nLayerG, nLayerD <= 4, (c) <= 3: the compared families
    (the paper's EBGAN vs GAN) side by side, of I (the paper's) or of FD
    (``metric="fd"``, our companion)."""
    bins = shared_bins(exp) if bins is None else bins
    panels = fig2_panels(exp)
    ref = reference(exp, metric)
    extra = [x for x in (same_trials_note(panels), BARS_NOTE, stopped_note(panels[0])) if x]
    if ref is not None and not bins[0] <= ref[1] <= bins[-1]:
        extra.insert(0, f"{ref[0]} {ref[1]:.2f}, off the axis")
        ref = None
    fig = new_figure(3.1)
    axes = fig.subplots(1, len(panels), sharex=True)
    for ax, p in zip(axes, panels):
        top = max(hist(ax, g, vals(g, metric), bins, exp.view) for g in p.groups.values())
        if ref is not None:
            ax.axvline(ref[1], zorder=Z_REFERENCE, **REFERENCE_STYLE)
        gone = [k for k, g in p.groups.items() if g.family_done == 0]
        width = fig.get_figwidth() / len(panels) if len(p.groups) > 2 else math.inf
        missing = fit([f"no {' or '.join(gone)} trials"], width) if gone else []
        lines = [f"({p.key}) {p.title}", *fit(count_lines(p, metric), width),
                 *[x for x in (p.progress(),) if x], *missing]
        ax.set_title("\n".join(lines))
        if log:
            ax.set_xscale("log")
        ax.set_xlim(bins[0], bins[-1])
        ax.set_ylim(0, (top if top > 0 else 10.0) * 1.06)
    axes[0].set_ylabel(YLABEL)
    axes[len(axes) // 2].set_xlabel(METRIC[metric]["xlabel"] + (", log scale" if log else ""))
    counts = joined([f"{g.n:,} {g.label}" for g in panels[0].groups.values()])
    add_caption(fig, exp, f"n = {counts} trials", families=exp.view.families, extra=extra,
                handles=legend_handles(exp.view, reference=ref))
    return fig


def fig2_fd(exp: Experiment) -> Figure:
    """Figure 2 for the Frechet distance FD (lower is better): the same three panels."""
    bins, log = fd_bins(exp)
    return fig2(exp, bins, metric="fd", log=log)


# --- Figure 3 --------------------------------------------------------------------------
def _fig3_title(p: Panel, split: list[Group], width_in: float) -> str:
    """'D adam / G sgd, lr 0.001' and the n of the split families in this setting."""
    d, g, lr = p.setting["optimD"], p.setting["optimG"], p.setting["lr"]  # type: ignore[index]
    n, failed = sum(x.n for x in split), sum(x.n - x.counts()["n_ok"] for x in split)
    if len(split) == 1:  # the paper's: GANs split, EBGANs the reference
        second = (p.progress() or f"n={n:,}") if n else \
            f"no {split[0].label} trials with this setting"
        return f"D {d} / G {g}, lr {lr:g}\n{second}" + (f", {failed:,} failed" if failed else "")
    if not n:
        second = "no trials with this setting"
    elif len({x.n for x in split}) == 1:
        second = p.progress() or f"n={split[0].n:,} of each family"
    else:
        second = p.progress() or "n = " + ", ".join(f"{x.n:,} {x.label}" for x in split)
    if failed:
        second += f", {failed:,} failed"
    return "\n".join(fit([f"D {d} / G {g}, lr {lr:g}", second], width_in))


def fig3(exp: Experiment, bins: np.ndarray | None = None) -> Figure:
    """Figure 3: the compared families split by optimization setting, rows = lr (largest
    first), columns = optimD/optimG; a family with one setting only (the paper's EBGANs)
    is drawn whole in every panel as the reference outline."""
    bins = shared_bins(exp) if bins is None else bins
    view = exp.view
    panels = fig3_panels(exp)
    split, refs = fig3_roles(exp)
    whole = fig2_panels(exp)[0].groups  # every trial of each family, by label
    lrs, combos = fig3_settings(exp)
    nrow, ncol = max(len(lrs), 1), max(len(combos), 1)
    fig = new_figure(1.6 * nrow + 1.4)
    axes = np.atleast_2d(fig.subplots(nrow, ncol, sharex=True, sharey=True, squeeze=False))
    top = 0.0
    for ax, p in zip(axes.flat, panels):
        top = max(top, *(hist(ax, g, g.scores, bins, view) for g in p.groups.values()))
        ax.set_title(_fig3_title(p, [p.groups[view.label(f)] for f in split],
                                 fig.get_figwidth() / ncol))
    if not panels:
        top = max([0.0] + [hist(axes.flat[0], whole[view.label(f)],
                                 whole[view.label(f)].scores, bins, view) for f in refs])
        axes.flat[0].set_title(f"no {joined([view.label(f) for f in split])} trials in the table")
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
    names, vs = {}, []
    for f in refs:
        g = whole[view.label(f)]
        names[f] = f"all {g.label}s, n = {g.n:,}" if g.family_done else f"{g.label} (no trials)"
        fails = g.n - len(g.scores)
        vs.append(f"all {g.n:,} {g.label}s" + (f" ({fails:,} failed)" if fails else ""))
    what = f"{view.label(split[0])}s" if len(split) == 1 else \
        joined([view.label(f) for f in split])
    add_caption(fig, exp, f"{what} of each optimization setting (n in each title)"
                + (f" vs {joined(vs)}" if vs else ""), families=view.families,
                extra=[x for x in ("I: the paper's modified inception score", BARS_NOTE,
                                   stopped_note(fig2_panels(exp)[0])) if x],
                handles=legend_handles(view, names, reference(exp, "score")))
    return fig


# --- entry point -----------------------------------------------------------------------
def draw_histograms(exp_dir: str | Path, *, out_dir: str | Path | None = None,
                    n_resamples: int = 2000, seed: int = 0,
                    view: FamilyView | None = None) -> dict[str, Any]:
    """Draw Figures 2-5 and write summary.md/.json for the experiment ``exp_dir``.

    Writes into ``out_dir`` (default ``exp_dir/figures``), each figure as PNG (300 dpi,
    7 in wide) and PDF: fig2, fig2_fd (when the table has FD), fig3, fig4, fig5_curves
    (when the best/worst trials have curves.csv), fig6_budget, fig7_importance, fig2_ecdf
    with their CSVs (``tables.py``), and summary.md, summary.json. Returns
    ``{"files": {name: Path}, "summary": dict, "notes": [str]}``. Raises
    :class:`FiguresError` when the table is missing, empty, lacks a required column, or
    holds none of the compared families. ``n_resamples`` and ``seed`` set the bootstraps;
    ``view`` the families compared (default: the sweep file's ``report.families`` as
    plan.json recorded it, else the paper's EBGAN and GAN).
    """
    import matplotlib

    exp = load_experiment(exp_dir, view)
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
