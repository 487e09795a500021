"""Loss curves of chosen trials, and Figure 5: the best and worst EBGAN and GAN by I.

Zhao, Mathieu & LeCun, "Energy-based Generative Adversarial Networks", ICLR 2017,
section 4.1 judges training by the final I alone (Figures 2-4); how a run got there is
in its curves. Each trial folder holds ``curves.csv`` (one row per progress report):
``iteration, loss_d, loss_g`` and, for EBGAN, ``energy_real, energy_fake`` (the energies
D(x) and D(G(z)) of eq. 1-2). Older trials have no such file: their panel says so, and
Figure 5 leaves them out with a note.

:func:`draw_curves` draws the trials named by key (``sweep curves KEY...``); one panel
per trial, titled with its family, key, I, FD and the settings that vary in its family.
"""
from __future__ import annotations

import io
import math
import textwrap
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from sweep.report.experiment import Experiment, FiguresError, load_experiment
from sweep.report.fig4_samples import LABELS, metrics_text, read_trial_file
from sweep.report.panels import CONFIG_KEYS, ranked, record
from sweep.report.style import STYLE, add_caption, new_figure

# quantity -> (legend label, colour, line style); Okabe-Ito colours none of Figures 2-4 use
QUANTITIES = {"loss_d": ("loss of D", "#D55E00", "-"),
              "loss_g": ("loss of G", "#CC79A7", "-"),
              "energy_real": ("energy D(x), real", "#56B4E9", "--"),
              "energy_fake": ("energy D(G(z)), generated", "#009E73", ":")}
CURVES_FILE = "curves.csv"


def read_curves(trial_dir: Any, exp_dir: Path) -> tuple[pd.DataFrame | None, str | None]:
    """A trial's curves.csv, or (None, why not)."""
    try:
        df = pd.read_csv(io.BytesIO(read_trial_file(trial_dir, CURVES_FILE, exp_dir)))
    except ValueError as exc:  # also pandas' parse errors
        return None, f"{CURVES_FILE} unreadable: {exc}"
    except FileNotFoundError:
        return None, f"no {CURVES_FILE} (a trial from before loss curves were recorded)"
    except Exception as exc:  # unreachable storage
        return None, f"cannot read {CURVES_FILE}: {type(exc).__name__}: {exc}"
    if "iteration" not in df.columns or not any(q in df.columns for q in QUANTITIES):
        return None, f"{CURVES_FILE} has no iteration or loss columns"
    return df, None


def varying_settings(exp: Experiment, family: str) -> list[str]:
    """The Table 1 settings that take more than one value in the family's trials."""
    t = exp.trials[exp.trials["family"] == family]
    return [k for k in CONFIG_KEYS if k in t.columns and t[k].nunique(dropna=False) > 1]


def settings_text(row: dict[str, Any], keys: Sequence[str]) -> str:
    def fmt(v: Any) -> str:
        if isinstance(v, bool):
            return "yes" if v else "no"
        return f"{v:g}" if isinstance(v, float) else str(v)
    return ", ".join(f"{k} {fmt(row.get(k))}" for k in keys)


def _panel(ax, exp: Experiment, row: dict[str, Any], head: str, width_in: float) -> set[str]:
    """One trial's curves; returns the quantities drawn."""
    fam = str(row.get("family"))
    chars = max(24, int((width_in - 0.45) * 72 / 4.2))  # 7 pt: ~4 pt a character; y label
    title = textwrap.wrap(f"{head}{LABELS.get(fam, fam)} {row.get('trial_key', '?')}", chars,
                          break_on_hyphens=False)  # a key stays whole
    if isinstance(row.get("score"), (int, float)):
        title.append(metrics_text(row))
    else:
        title.append(f"no score (status {row.get('status', '?')})")
    keys = varying_settings(exp, fam)
    if keys:
        title += textwrap.wrap(settings_text(row, keys), chars)
    ax.set_title("\n".join(title), fontsize=7)
    df, why = read_curves(row.get("trial_dir"), exp.path)
    if df is None:
        ax.text(0.5, 0.5, "\n".join(textwrap.wrap(str(why), 36)), ha="center", va="center",
                transform=ax.transAxes, color="0.3", fontsize=7)
        ax.set_xticks([])
        ax.set_yticks([])
        return set()
    drawn = set()
    for q, (label, color, ls) in QUANTITIES.items():
        if q in df.columns and np.isfinite(pd.to_numeric(df[q], errors="coerce")).any():
            ax.plot(df["iteration"], df[q], color=color, linestyle=ls, linewidth=1.0)
            drawn.add(q)
    ax.set_xlabel("iteration")
    ax.set_ylabel("loss / energy")
    ax.margins(x=0)
    return drawn


def curves_figure(exp: Experiment, rows: list[tuple[str, dict[str, Any]]],
                  extra: Sequence[str] = ()) -> Figure:
    """One panel per (title prefix, trial record), three per row at most; one legend."""
    from matplotlib.lines import Line2D

    ncol = min(3, max(1, len(rows))) if len(rows) != 4 else 2
    nrow = max(1, math.ceil(len(rows) / ncol))
    fig = new_figure(2.5 * nrow + 1.0)
    axes = np.atleast_1d(fig.subplots(nrow, ncol, squeeze=False).ravel())
    drawn: set[str] = set()
    for ax, (head, row) in zip(axes, rows):
        drawn |= _panel(ax, exp, row, head, fig.get_figwidth() / ncol)
    for ax in axes[len(rows):]:
        ax.set_axis_off()
    handles = [Line2D([], [], color=c, linestyle=ls, linewidth=1.0, label=lab)
               for q, (lab, c, ls) in QUANTITIES.items() if q in drawn]
    fams = sorted({str(r.get("family")) for _, r in rows})
    add_caption(fig, exp, f"{len(rows)} trial{'s' if len(rows) != 1 else ''} "
                "(one progress report per point)", families=fams, extra=extra, handles=handles)
    return fig


def draw_curves(exp_dir: str | Path, keys: Sequence[str], out_path: str | Path) -> Path:
    """Draw the loss curves of the trials ``keys`` of the experiment into ``out_path``
    (PNG, PDF or SVG by its suffix; ``.png`` is added when it has none). Raises
    :class:`FiguresError` for a missing table or a key that is not in it."""
    import matplotlib

    exp = load_experiment(exp_dir)
    if not keys:
        raise FiguresError("no trial key given: name one or more keys of the results table")
    t = exp.trials
    known = set(map(str, t["trial_key"])) if "trial_key" in t.columns else set()
    missing = [k for k in keys if k not in known]
    if missing:
        raise FiguresError(f"trial key {missing[0]!r} is not in the results table "
                           f"{exp.path / 'trials.parquet'}" + (f" (nor {', '.join(missing[1:])})"
                                                                if len(missing) > 1 else ""))
    rows = [("", record(t[t["trial_key"] == k].iloc[0])) for k in dict.fromkeys(keys)]
    out = Path(out_path)
    if out.suffix.lower() not in (".png", ".pdf", ".svg"):
        out = out.with_name(out.name + ".png")
    out.parent.mkdir(parents=True, exist_ok=True)
    with matplotlib.rc_context(STYLE):
        curves_figure(exp, rows).savefig(out, dpi=300)
    return out


def fig5(exp: Experiment) -> tuple[Figure | None, list[str]]:
    """Figure 5: curves of the best and the worst trial by I of ebgan and of gan; trials
    without curves.csv are left out, with a note. (None, notes) when none has curves."""
    rows, notes = [], []
    for fam in ("ebgan", "gan"):
        s = ranked(exp, fam)
        picks = [("best", s.iloc[0])] + ([("worst", s.iloc[-1])] if len(s) > 1 else []) \
            if len(s) else []
        for which, r in picks:
            rec = record(r)
            _, why = read_curves(rec.get("trial_dir"), exp.path)
            if why is not None:
                notes.append(f"fig5_curves: {which} {LABELS[fam]} by I ({rec.get('trial_key')}) "
                             f"left out: {why}")
                continue
            rows.append((f"{which} by I: ", rec))
    if not rows:
        notes.append("no fig5_curves: none of the best and worst EBGAN and GAN trials has "
                     f"a {CURVES_FILE}")
        return None, notes
    return curves_figure(exp, rows), notes
