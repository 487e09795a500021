"""Figures 2-4 of the EBGAN paper's MNIST grid search, drawn from the results table alone.

Zhao, Mathieu & LeCun, "Energy-based Generative Adversarial Networks", ICLR 2017,
section 4.1: Figure 2 (histograms of the modified inception score I, EBGAN vs GAN, for
all models and for the shallower sub-grids), Figure 3 (the GANs split by their
optimization setting, the EBGANs as reference) and Figure 4 (samples of the best GAN,
EBGAN and EBGAN-PT).

``draw_histograms(EXP)`` reads only ``EXP/trials.parquet``, ``EXP/plan.json``,
``EXP/classifier.json`` and the trials' ``samples.png``; it needs neither Ray nor torch,
so the figures rebuild without retraining. Drawing uses matplotlib's object API
(``matplotlib.figure.Figure``), never pyplot, so it runs headless and leaves the
caller's backend alone.

Choices (see also the conventions in ``sweep/summary.py``):
- Bars are percentages of *all* trials of the group in the panel (failures included),
  so a group's bars sum to 100% minus its failed share; failures are named in the legend.
- Both groups, and every panel of a figure, share the same bins.
- A missing or empty table raises :class:`FiguresError` (run ``make grid`` or ``sweep
  collect``). A table with only EBGANs or only GANs is drawn anyway: the absent group's
  legend entry says "no trials", the titles say so, and so do the summary's notes. A
  missing ``plan.json`` drops the "k of N trials done" progress; a missing
  ``classifier.json`` drops the real-data reference line.
"""
from __future__ import annotations

import io
import math
import textwrap
from pathlib import Path
from typing import Any

import matplotlib.image as mpimg
import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from sweep import storage
from sweep.experiment import Experiment, FiguresError, load_experiment
from sweep.panels import Group, Panel, best_trials, fig2_panels, fig3_panels, fig3_settings
from sweep.summary import summarize, write_summary

__all__ = ["draw_histograms", "FiguresError", "COLORS", "fig2", "fig3", "fig4", "read_samples"]

# One color per group, the same in every figure (Okabe-Ito, colour-blind safe).
COLORS = {"EBGAN": "#0072B2", "GAN": "#E69F00", "EBGAN-PT": "#009E73"}
REFERENCE_STYLE = {"color": "black", "linestyle": "--", "linewidth": 1.2}
XLABEL, YLABEL = "modified inception score I", "% of models"
N_BINS = 30
DPI = 150
STYLE = {"font.size": 9, "axes.titlesize": 9.5, "axes.labelsize": 9, "legend.fontsize": 8,
         "xtick.labelsize": 8, "ytick.labelsize": 8, "figure.titlesize": 11}
FIG4_FAMILIES = (("gan", "GAN"), ("ebgan", "EBGAN"), ("ebgan_pt", "EBGAN-PT"))  # family, label


# --- shared helpers -------------------------------------------------------------------
def shared_bins(exp: Experiment, n_bins: int = N_BINS) -> np.ndarray:
    """Bin edges covering every scored EBGAN and GAN trial and the reference score."""
    t = exp.trials
    s = t.loc[t["family"].isin(["ebgan", "gan"]) & (t["status"] == "ok"), "score"].to_numpy(float)
    s = s[np.isfinite(s)]
    lo = min(0.0, float(s.min())) if len(s) else 0.0
    hi = float(s.max()) if len(s) else math.log(10)  # ln 10: the most I can be
    if exp.reference is not None:
        hi = max(hi, exp.reference)
    if hi <= lo:
        hi = lo + 1.0
    return np.linspace(lo, hi * 1.02 if hi > 0 else hi + 0.05, n_bins + 1)


def _hist(ax, g: Group, bins: np.ndarray, *, filled: bool, label: str) -> float:
    """Draw one group's histogram in % of its n; returns the tallest bar."""
    s = g.scores
    if g.n == 0 or len(s) == 0:
        # keep the legend entry so a reader sees the group is absent, not hidden
        ax.plot([], [], color=COLORS[g.label], linewidth=6 if filled else 1.5, alpha=0.5,
                label=label)
        return 0.0
    w = np.full(len(s), 100.0 / g.n)
    heights, _ = np.histogram(s, bins=bins, weights=w)
    color = COLORS[g.label]
    if filled:
        ax.hist(s, bins=bins, weights=w, histtype="stepfilled", color=color, alpha=0.45,
                label=label)
        ax.hist(s, bins=bins, weights=w, histtype="step", color=color, linewidth=1.0)
    else:
        ax.hist(s, bins=bins, weights=w, histtype="step", color=color, linewidth=1.6,
                label=label)
    return float(heights.max())


def _reference(ax, ref: float | None) -> None:
    if ref is not None:
        ax.axvline(ref, label=f"real data, I = {ref:.2f}", **REFERENCE_STYLE)


def _legend_side(panel: Panel, bins: np.ndarray, reference: float | None) -> str:
    """'upper left' or 'upper right': away from the reference line if there is one (the
    headroom above the bars keeps them clear), else the side whose bars are lower."""
    mid = 0.5 * (bins[0] + bins[-1])
    if reference is not None:
        return "upper left" if reference >= mid else "upper right"
    left = right = 0.0
    for g in panel.groups.values():
        if g.n == 0 or len(g.scores) == 0:
            continue
        h, _ = np.histogram(g.scores, bins=bins, weights=np.full(len(g.scores), 100 / g.n))
        centers = 0.5 * (bins[1:] + bins[:-1])
        left = max(left, h[centers < mid].max(initial=0.0))
        right = max(right, h[centers >= mid].max(initial=0.0))
    return "upper left" if left <= right else "upper right"


def _missing(panel: Panel) -> str:
    gone = [k for k, g in panel.groups.items() if g.family_done == 0]
    return f"no {' or '.join(gone)} trials" if gone else ""


def _save(fig: Figure, out_dir: Path, stem: str) -> dict[str, Path]:
    paths = {}
    for ext in ("png", "pdf"):
        p = out_dir / f"{stem}.{ext}"
        fig.savefig(p, dpi=DPI, bbox_inches="tight", pad_inches=0.05)
        paths[p.name] = p
    return paths


# --- Figure 2 -------------------------------------------------------------------------
def fig2(exp: Experiment, bins: np.ndarray) -> Figure:
    """(a) all, (b) nLayerG, nLayerD <= 4, (c) <= 3: EBGAN vs GAN, side by side."""
    panels = fig2_panels(exp)
    fig = Figure(figsize=(11, 3.7), layout="constrained")
    axes = fig.subplots(1, len(panels), sharex=True)
    for ax, p in zip(axes, panels):
        top = max(_hist(ax, g, bins, filled=True, label=g.legend() if g.family_done
                        else f"{g.label} (no trials)") for g in p.groups.values())
        _reference(ax, exp.reference)
        lines = [f"({p.key}) {p.title}"]
        extra = [x for x in (p.progress(), _missing(p)) if x]
        if extra:
            lines.append("; ".join(extra))
        ax.set_title("\n".join(lines))
        ax.set_xlabel(XLABEL)
        ax.set_ylabel(YLABEL)
        # headroom above the bars so the legend never covers them
        ax.set_ylim(0, (top if top > 0 else 10.0) * 1.5)
        ax.set_xlim(bins[0], bins[-1])
        ax.legend(loc=_legend_side(p, bins, exp.reference), frameon=False)
    return fig


# --- Figure 3 -------------------------------------------------------------------------
def fig3(exp: Experiment, bins: np.ndarray) -> Figure:
    """GANs split by optimization setting: rows = lr (largest first), columns =
    optimD/optimG; every panel carries all EBGANs as the reference outline."""
    panels = fig3_panels(exp)
    lrs, combos = fig3_settings(exp)
    nrow, ncol = max(len(lrs), 1), max(len(combos), 1)
    fig = Figure(figsize=(2.75 * ncol + 0.6, 2.3 * nrow + 0.7), layout="constrained")
    axes = np.atleast_2d(fig.subplots(nrow, ncol, sharex=True, sharey=True, squeeze=False))
    ebgan = panels[0].groups["EBGAN"] if panels else fig2_panels(exp)[0].groups["EBGAN"]
    top = 0.0
    for ax, p in zip(axes.flat, panels):
        top = max(top, _hist(ax, p.groups["EBGAN"], bins, filled=False, label="EBGAN"))
        top = max(top, _hist(ax, p.groups["GAN"], bins, filled=True, label="GAN"))
        _reference(ax, exp.reference)
        d, g, lr = p.setting["optimD"], p.setting["optimG"], p.setting["lr"]  # type: ignore[index]
        gan = p.groups["GAN"]
        c = gan.counts()
        failed = c["n_diverged"] + c["n_error"]
        second = (p.progress() or f"n={gan.n:,}") if gan.n else "no GAN trials with this setting"
        if failed:
            second += f", {failed:,} failed"
        ax.set_title(f"D {d} / G {g}, lr {lr:g}\n{second}")
    if not panels:
        ax = axes.flat[0]
        top = _hist(ax, ebgan, bins, filled=False, label="EBGAN")
        _reference(ax, exp.reference)
        ax.set_title("no GAN trials in the table")
    for ax in axes[-1, :]:
        ax.set_xlabel(XLABEL)
    fig.supylabel(YLABEL, fontsize=STYLE["axes.labelsize"])
    for ax in axes.flat:
        ax.set_xlim(bins[0], bins[-1])
        ax.set_ylim(0, (top if top > 0 else 10.0) * 1.1)
    handles = [Patch(facecolor=COLORS["GAN"], edgecolor=COLORS["GAN"], alpha=0.6,
                     label="GANs of the setting (n in each title)"),
               Line2D([], [], color=COLORS["EBGAN"], linewidth=1.6,
                      label=f"all {ebgan.legend()}" if ebgan.family_done else "EBGAN (no trials)")]
    if exp.reference is not None:
        handles.append(Line2D([], [], label=f"real data, I = {exp.reference:.2f}",
                              **REFERENCE_STYLE))
    fig.legend(handles=handles, loc="outside lower center", ncol=len(handles), frameon=False)
    return fig


# --- Figure 4 -------------------------------------------------------------------------
def read_samples(trial_dir: Any, exp_dir: Path) -> tuple[np.ndarray | None, str | None]:
    """A trial's samples.png as an array, or (None, why not). ``trial_dir`` is a local
    path (absolute, or relative to the experiment) or a URI such as s3://bucket/prefix,
    read through ``sweep.storage`` (AWS_ENDPOINT_URL etc. from the environment)."""
    if not isinstance(trial_dir, str) or not trial_dir:
        return None, "no trial directory recorded"
    try:
        if storage.is_uri(trial_dir):  # the same filesystems the trials wrote through
            data = storage.read_bytes(storage.join(trial_dir, "samples.png"))
        else:
            d = Path(trial_dir)
            if not d.is_absolute() and not d.exists():
                d = exp_dir / d
            data = (d / "samples.png").read_bytes()
        return mpimg.imread(io.BytesIO(data), format="png"), None
    except FileNotFoundError:
        return None, f"samples.png not found in\n{trial_dir}"
    except Exception as exc:  # unreachable storage, a damaged PNG: say so in the panel
        return None, f"cannot read samples.png from {trial_dir}: {type(exc).__name__}: {exc}"


def config_lines(b: dict[str, Any]) -> list[str]:
    """A trial's Table 1 configuration in two short lines."""
    def get(k: str) -> Any:
        return b.get(k, "?")
    drop = {True: "yes", False: "no"}.get(get("dropoutD"), get("dropoutD"))
    lr = get("lr")
    lr_txt = f"{lr:g}" if isinstance(lr, (int, float)) else str(lr)
    lines = [f"nLayerG {get('nLayerG')}, nLayerD {get('nLayerD')}, "
             f"sizeG {get('sizeG')}, sizeD {get('sizeD')}",
             f"dropoutD {drop}, {get('optimD')}/{get('optimG')}, lr {lr_txt}"]
    pt = b.get("pt_weight")
    if isinstance(pt, (int, float)) and pt > 0:
        lines[1] += f", PT {pt:g}"
    return lines


def fig4(exp: Experiment, best: dict[str, dict[str, Any] | None] | None = None) -> Figure:
    """Samples (8x8 grids) of the best GAN, EBGAN and EBGAN-PT by highest I."""
    best = best_trials(exp) if best is None else best
    fig = Figure(figsize=(11, 4.6), layout="constrained")
    axes = fig.subplots(1, len(FIG4_FAMILIES))
    for ax, key, (fam, label) in zip(axes, "abc", FIG4_FAMILIES):
        ax.set_xticks([])
        ax.set_yticks([])
        for spine in ax.spines.values():
            spine.set_color(COLORS[label])
            spine.set_linewidth(2)
        b = best.get(fam)
        if b is None:
            ax.set_title(f"({key}) best {label}")
            ax.text(0.5, 0.5, f"no scored {label} trial\n(family '{fam}')", ha="center",
                    va="center", transform=ax.transAxes, color="0.3")
            ax.set_aspect("equal")
            continue
        ax.set_title("\n".join([f"({key}) best {label}: I = {b['score']:.3f}",
                                *config_lines(b)]))
        img, why = read_samples(b.get("trial_dir"), exp.path)
        if img is None:
            text = "\n".join(w for line in str(why).splitlines() for w in textwrap.wrap(line, 44))
            ax.text(0.5, 0.5, text, ha="center", va="center",
                    transform=ax.transAxes, color="0.3", fontsize=8)
            ax.set_aspect("equal")
        elif img.ndim == 2:
            ax.imshow(img, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
        else:
            ax.imshow(img, interpolation="nearest")
    return fig


# --- entry point ----------------------------------------------------------------------
def draw_histograms(exp_dir: str | Path, *, out_dir: str | Path | None = None,
                    n_resamples: int = 2000, seed: int = 0) -> dict[str, Any]:
    """Draw Figures 2-4 and write summary.md/.json for the experiment ``exp_dir``.

    Writes fig2/fig3/fig4 as PNG (150 dpi) and PDF, summary.md and summary.json into
    ``out_dir`` (default ``exp_dir/figures``). Returns ``{"files": {name: Path},
    "summary": dict, "notes": [str]}``. Raises :class:`FiguresError` when the table is
    missing, empty, lacks a required column, or holds neither EBGANs nor GANs; a table
    with only one of the two groups is drawn with that group alone (see the module
    docstring). ``n_resamples`` and ``seed`` set the bootstrap of the median difference.
    """
    import matplotlib

    exp = load_experiment(exp_dir)
    out = Path(out_dir) if out_dir is not None else exp.path / "figures"
    out.mkdir(parents=True, exist_ok=True)
    summary = summarize(exp, n_resamples=n_resamples, seed=seed)
    bins = shared_bins(exp)
    files: dict[str, Path] = {}
    with matplotlib.rc_context(STYLE):
        files.update(_save(fig2(exp, bins), out, "fig2"))
        files.update(_save(fig3(exp, bins), out, "fig3"))
        files.update(_save(fig4(exp, summary["best"]), out, "fig4"))
    md, js = write_summary(summary, out)
    files[md.name], files[js.name] = md, js
    return {"files": files, "summary": summary, "notes": summary["notes"]}
