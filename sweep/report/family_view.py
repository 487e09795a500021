"""Which families the report compares, in which order, under which names and colours.

Zhao, Mathieu & LeCun, "Energy-based Generative Adversarial Networks", ICLR 2017,
section 4.1, compares two families, EBGAN and GAN: that is the default view
(``models.config.FIGURE2_GROUPS``). A view may hold any of the sweep's families instead
(``--families a,b,c`` of ``sweep histograms``, or ``report: {families: [...]}`` in the
sweep file, recorded in plan.json), e.g. the six losses of ``examples/losses.yaml``.

- Order: the legend, the tables and the titles follow the view's order. The *last*
  family is the baseline: Figures 2-3 draw it as light filled bars under the others'
  outlines, and every other family is compared with it (median difference, KS test,
  probability of improvement). In the default view (ebgan, gan) that is the paper's GAN.
- Colours: Okabe & Ito's eight colour-blind-safe colours (Wong, "Points of view: Color
  blindness", Nature Methods 8, 441, 2011). EBGAN, GAN and EBGAN-PT keep theirs in every
  view; the other families take the rest in view order. A view holds at most eight
  families, so no two share a colour.
- Labels: EBGAN, GAN, EBGAN-PT, LSGAN, WGAN-GP, BEGAN, hinge for the known family names,
  else the family's own name.

No matplotlib, Ray or torch here: ``experiment.py`` resolves the view when it loads a
table, and every figure and table reads it from there.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from models.config import FIGURE2_GROUPS
from models.errors import UserError

# Okabe-Ito: the colours EBGAN, GAN and EBGAN-PT always take, then the rest in the order
# other families take them (black last: the reference line is black, dashed).
COLORS = {"EBGAN": "#0072B2", "GAN": "#E69F00", "EBGAN-PT": "#009E73"}
OTHER_COLORS = ("#D55E00", "#CC79A7", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#E69F00",
                "#000000")
PALETTE = tuple(dict.fromkeys([*COLORS.values(), *OTHER_COLORS]))  # the eight, once each
MAX_FAMILIES = len(PALETTE)
DEFAULT_SOURCE = "the default view (the paper's ebgan, gan)"
TINT = 0.6  # the bars' fill: the baseline's colour mixed with this share of white

PAPER_VIEW = tuple(FIGURE2_GROUPS.values())  # ("ebgan", "gan")
LABELS = {fam: lab for lab, fam in FIGURE2_GROUPS.items()} | {
    "ebgan_pt": "EBGAN-PT", "lsgan": "LSGAN", "wgan_gp": "WGAN-GP", "began": "BEGAN",
    "hinge": "hinge"}


class FamiliesError(UserError, ValueError):
    """A family view that cannot be drawn; the message names where it came from."""


def label(family: str) -> str:
    """'EBGAN' for ebgan, 'GAN' for gan, 'WGAN-GP' for wgan_gp..., else the family's name."""
    return LABELS.get(family, family)


def tint(color: str, white: float = TINT) -> str:
    """``color`` mixed with ``white`` of white, opaque: a light fill that is still its hue."""
    rgb = [int(color[i:i + 2], 16) for i in (1, 3, 5)]
    return "#" + "".join(f"{round(c + (255 - c) * white):02X}" for c in rgb)


def assign_colors(families: list[str] | tuple[str, ...]) -> dict[str, str]:
    """One Okabe-Ito colour per family: EBGAN, GAN, EBGAN-PT their own, the others the
    unused ones in order; past eight families the colours repeat (the analysis figures
    may hold every family of a table; a view never holds more than eight)."""
    out: dict[str, str] = {}
    for f in families:  # a fixed colour once only (families "gan" and "GAN" both read GAN)
        if label(f) in COLORS and COLORS[label(f)] not in out.values():
            out[f] = COLORS[label(f)]
    free = [c for c in OTHER_COLORS if c not in out.values()]
    for i, f in enumerate(f for f in families if f not in out):
        out[f] = free[i] if i < len(free) else PALETTE[i % len(PALETTE)]
    return {f: out[f] for f in families}


def parse_families(text: str) -> tuple[str, ...]:
    """'ebgan,gan, lsgan' -> ('ebgan', 'gan', 'lsgan') (the ``--families`` option)."""
    return tuple(s.strip() for s in text.split(",") if s.strip())


@dataclass(frozen=True)
class FamilyView:
    """The families a report compares, in order; the last is the baseline."""
    families: tuple[str, ...] = PAPER_VIEW
    source: str = DEFAULT_SOURCE  # where the choice came from, named in error messages
    labels: dict[str, str] = field(default_factory=dict, compare=False)
    colors: dict[str, str] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        fams = tuple(self.families)
        where = self.source
        if not fams:
            raise FamiliesError(f"{where}: give at least one family (got none)")
        if len(set(fams)) < len(fams):
            dup = sorted({f for f in fams if fams.count(f) > 1})
            raise FamiliesError(f"{where}: family {dup[0]!r} is named twice (got {', '.join(fams)})")
        if len(fams) > MAX_FAMILIES:
            raise FamiliesError(f"{where}: at most {MAX_FAMILIES} families, one per colour-blind-"
                                f"safe colour (got {len(fams)}: {', '.join(fams)})")
        labels = {f: label(f) for f in fams}
        if len(set(labels.values())) < len(fams):  # e.g. a family named "EBGAN" beside ebgan
            labels = {f: f for f in fams}
        object.__setattr__(self, "families", fams)
        object.__setattr__(self, "labels", labels)
        object.__setattr__(self, "colors", assign_colors(fams))

    @property
    def baseline(self) -> str:
        """The family drawn as bars, that every other family is compared with."""
        return self.families[-1]

    @property
    def is_paper(self) -> bool:
        return self.families == PAPER_VIEW

    @property
    def chosen(self) -> bool:
        """Whether someone chose the view (else the default: absent families are fine)."""
        return self.source != DEFAULT_SOURCE

    def label(self, family: str) -> str:
        return self.labels.get(family, label(family))

    def color(self, family: str) -> str:
        return self.colors[family]

    @property
    def bar_fill(self) -> str:
        return tint(self.color(self.baseline))

    def pairs(self) -> list[tuple[str, str]]:
        """(family, baseline) for every other family, in view order."""
        return [(f, self.baseline) for f in self.families[:-1]]

    def colors_with(self, others: list[str]) -> dict[str, str]:
        """The view's colours, and colours for families outside it (the analysis figures
        draw every family of the table) from what the view leaves free."""
        out = dict(self.colors)
        for f in others:
            if f in out:
                continue
            used = set(out.values())
            own = COLORS.get(label(f))
            free = [c for c in OTHER_COLORS if c not in used]
            out[f] = own if own and own not in used else \
                free[0] if free else PALETTE[len(out) % len(PALETTE)]
        return out


def joined(words: list[str]) -> str:
    """'a', 'a and b', 'a, b and c'."""
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]
