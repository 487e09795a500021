"""Figures 2-3, the summary and the analysis for any number of families (family_view.py).

The table (``report_tables.losses_trials``): six families (EBGAN, LSGAN, WGAN-GP, hinge,
BEGAN, GAN) on the same 24 configurations, nLayerG in {2, 4, 5}, so Figure 2's panels
(a) all, (b) nLayerG <= 4, (c) <= 3 hold 24, 16 and 8 trials of each; and one EBGAN-PT.
Every family's scores lie inside one I bin of its own (LOSS_BIN), so its histogram is one
bar of height 100 x scored / n in that bin. LSGAN has 2 diverged trials (nLayerG 5,
adam/adam), BEGAN 1 errored (nLayerG 5, sgd/sgd, lr 1e-4). The report never builds a
TrialConfig from a row, so models it does not know (lsgan, ...) are read as they are.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import to_hex

from sweep.report.analysis.plots import fig2_ecdf, fig6_budget
from sweep.report.analysis.tables import analyze
from sweep.report.experiment import FiguresError, load_experiment
from sweep.report.family_view import PALETTE, FamiliesError, FamilyView, tint
from sweep.report.figures import fd_bins, fig2, fig2_fd, fig3, shared_bins
from sweep.report.markdown import render_markdown
from sweep.report.panels import FIG2_SUBSETS, fig2_panels, fig3_panels, fig3_roles
from sweep.report.style import GAN_FILL
from sweep.report.summary import summarize

try:
    from test_figure_design import check_layout
    from report_tables import (LOSS_BIN, LOSSES, REAL_DATA_SCORE, bin_width, losses_trials,
                               write_experiment, write_losses_plan)
except ImportError:  # tests/ imported as a package
    from tests.sweep.report.test_figure_design import check_layout
    from tests.sweep.report.report_tables import (LOSS_BIN, LOSSES, REAL_DATA_SCORE, bin_width,
                                                  losses_trials, write_experiment,
                                                  write_losses_plan)

N = {"a": 24, "b": 16, "c": 8}             # trials of each family per Figure 2 panel
FAILED = {("lsgan", "a"): 2, ("lsgan", "b"): 0, ("began", "a"): 1}  # nLayerG 5 only: (a)
LABELS = ["EBGAN", "LSGAN", "WGAN-GP", "hinge", "BEGAN", "GAN"]
COLOUR = {"ebgan": "#0072B2", "gan": "#E69F00", "lsgan": "#D55E00", "wgan_gp": "#CC79A7",
          "hinge": "#56B4E9", "began": "#009E73"}  # Okabe-Ito: EBGAN, GAN theirs, the rest in order
HEX = {f: to_hex(c) for f, c in COLOUR.items()}  # as matplotlib reports them
SIX = FamilyView(LOSSES, "test")
FAST = 200


@pytest.fixture(scope="module")
def exp_dir(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("losses")
    exp = write_experiment(tmp / "exp", losses_trials(tmp), plan=False)
    write_losses_plan(exp, report=list(LOSSES))
    return exp


@pytest.fixture(scope="module")
def exp(exp_dir):
    return load_experiment(exp_dir)  # the view plan.json records: the six


def drawn(fig):
    FigureCanvasAgg(fig).draw()
    return fig


def bars(ax) -> dict[str, tuple[float, float, float]]:
    """family -> (left edge, right edge, height) of its one bar, read from the patch."""
    out = {}
    for p in ax.patches:
        xy = p.get_path().vertices
        top = xy[:, 1].max()
        xs = xy[np.isclose(xy[:, 1], top), 0]
        out[p.get_gid()] = (xs.min(), xs.max(), top)
    return out


# --- the view ---------------------------------------------------------------------------
def test_plan_json_view_is_read_and_counts_per_family_per_panel(exp):
    assert exp.view.families == LOSSES and "plan.json: report.families" in exp.view.source
    for p in fig2_panels(exp):
        assert list(p.groups) == LABELS
        assert {f: g.n for f, g in p.groups.items()} == {lab: N[p.key] for lab in LABELS}
        assert p.groups["LSGAN"].counts()["n_diverged"] == FAILED.get(("lsgan", p.key), 0)
        assert p.groups["BEGAN"].counts()["n_error"] == FAILED.get(("began", p.key), 0)


def test_colours_are_okabe_ito_distinct_and_fixed_for_the_papers_families():
    assert SIX.colors == COLOUR and len(set(SIX.colors.values())) == 6
    assert set(SIX.colors.values()) <= set(PALETTE) and len(PALETTE) == 8
    assert tint(COLOUR["gan"]) == GAN_FILL == "#F5D999"  # 60% white: today's GAN bars
    # the paper's families keep theirs in any view; the others take the free ones in order
    assert FamilyView(("lsgan", "gan")).colors == {"lsgan": "#D55E00", "gan": "#E69F00"}
    assert FamilyView(("hinge", "ebgan_pt")).colors == {"hinge": "#D55E00",
                                                        "ebgan_pt": "#009E73"}
    same = FamilyView(("gan", "GAN"))  # two names, one label: each keeps its name, own colour
    assert same.labels == {"gan": "gan", "GAN": "GAN"}
    assert same.colors == {"gan": "#E69F00", "GAN": "#D55E00"}


@pytest.mark.parametrize("fams, why", [
    ((), "at least one family"), (("gan", "lsgan", "gan"), "'gan' is named twice"),
    (tuple(f"f{i}" for i in range(9)), "at most 8 families")])
def test_a_bad_view_is_refused_naming_where_it_came_from(fams, why):
    with pytest.raises(FamiliesError, match=f"^--families: .*{why}"):
        FamilyView(fams, "--families")


def test_a_view_naming_an_unknown_family_or_none_present_is_refused(exp_dir):
    with pytest.raises(FiguresError, match=r"^--families: no family 'lsgn' in the results "
                       r"table .* or its plan \(they hold: began, ebgan, ebgan_pt, gan, hinge"):
        load_experiment(exp_dir, FamilyView(("ebgan", "lsgn"), "--families"))
    plan = json.loads((exp_dir / "plan.json").read_text())
    plan["families"]["later"] = 4  # planned, no trial yet: drawn empty, with a note
    other = exp_dir.parent / "later"
    write_experiment(other, losses_trials(other), plan=False)
    (other / "plan.json").write_text(json.dumps(plan))
    e = load_experiment(other, FamilyView(("later", "gan"), "--families"))
    assert "no later trials (family 'later') in the table: its histograms are empty" in e.notes
    with pytest.raises(FiguresError, match=r"holds neither the 'later' nor the 'x' family.*"
                       r"from --families"):
        load_experiment(other, FamilyView(("later", "x"), "--families"))


# --- Figures 2 and 3 --------------------------------------------------------------------
def test_fig2_one_bar_per_family_on_shared_bins_with_counts_and_legend(exp):
    bins = shared_bins(exp)
    w = bin_width()
    assert np.allclose(bins, np.linspace(0, 30 * w, 31))  # one set of edges for every family
    fig = drawn(fig2(exp))
    for ax, (key, _, _) in zip(fig.axes, FIG2_SUBSETS):
        got = bars(ax)
        assert set(got) == set(LOSSES)
        for fam in LOSSES:
            k = LOSS_BIN[fam]
            scored = N[key] - FAILED.get((fam, key), 0)
            assert got[fam] == pytest.approx((bins[k], bins[k + 1], 100 * scored / N[key]))
        filled = {p.get_gid() for p in ax.patches if p.get_fill()}
        assert filled == {"gan"}  # the baseline's bars, the others outlines above them
        assert {p.get_gid(): to_hex(p.get_edgecolor()) for p in ax.patches} == HEX
        title = ax.get_title().replace("\n", " ")
        assert f"n = {N[key]} of each family" in title
        assert ("failed/unscored: 2 LSGAN, 1 BEGAN" in title) == (key == "a")
    legend = fig.legends[0]
    assert [t.get_text() for t in legend.get_texts()] == [
        "GAN", "EBGAN", "LSGAN", "WGAN-GP", "hinge", "BEGAN",
        f"real test digits, I = {REAL_DATA_SCORE:.2f}"]
    handles = legend.legend_handles
    assert to_hex(handles[0].get_facecolor()) == to_hex(GAN_FILL)
    assert [to_hex(h.get_color()) for h in handles[1:6]] == [HEX[f] for f in LOSSES[:-1]]
    caption = fig._supxlabel.get_text().replace("\n", " ")
    assert "n = 24 EBGAN, 24 LSGAN, 24 WGAN-GP, 24 hinge, 24 BEGAN and 24 GAN trials" in caption


def test_six_families_fit_the_page(exp):
    """Seven legend entries, six counts per title: nothing off the 7-inch page, no title
    over another, no text under 7 pt; the legend wraps only when one row would not fit."""
    import matplotlib

    from sweep.report.style import STYLE
    with matplotlib.rc_context(STYLE):
        an = analyze(exp, n_resamples=FAST)
        figs = {"fig2": fig2(exp), "fig2_fd": fig2_fd(exp), "fig3": fig3(exp),
                "fig6_budget": fig6_budget(exp, an),
                "fig2_ecdf": fig2_ecdf(exp, an, {k: t for k, t, _ in FIG2_SUBSETS})}
        for name, fig in figs.items():
            check_layout(drawn(fig), name)
    assert len(figs["fig2"].legends[0].get_texts()) == 7 and figs["fig2"].legends[0]._ncols == 7
    assert figs["fig6_budget"].legends[0]._ncols < 9  # 7 families, band, reference: wrapped


def test_the_papers_view_analysis_figures_fit_the_page(tmp_path):
    """EBGAN vs GAN: fig2_ecdf's 'P(EBGAN beats GAN) = 0.93 [0.86, 0.98]' ran off the page's
    right edge and into the next title; the CI now has its own line. fig7's legend ran off
    both edges; it wraps now."""
    import matplotlib

    from sweep.report.analysis.plots import fig7_importance
    from sweep.report.style import STYLE
    try:
        from test_analysis import small
    except ImportError:
        from tests.sweep.report.test_analysis import small
    e = load_experiment(write_experiment(tmp_path / "exp", small(tmp_path), plan=False))
    with matplotlib.rc_context(STYLE):
        an = analyze(e, n_resamples=FAST)
        for name, fig in {"fig6_budget": fig6_budget(e, an), "fig7_importance":
                          fig7_importance(e, an), "fig2_ecdf": fig2_ecdf(
                              e, an, {k: t for k, t, _ in FIG2_SUBSETS})}.items():
            check_layout(drawn(fig), name)
            if name == "fig2_ecdf":  # axes[2]: panel (c), I
                imp = an.improvement
                r = imp[(imp.panel == "c") & (imp.metric == "score")].iloc[0]
                assert fig.axes[2].get_title().split("\n")[1:] == [
                    f"P(EBGAN beats GAN) = {r.p_improvement:.2f}",
                    f"95% CI [{r.lo:.2f}, {r.hi:.2f}]"]


def test_fig2_fd_and_another_order_move_the_bars(exp_dir):
    """View (lsgan, ebgan): LSGAN's outline over EBGAN's bars; FD bins from those two."""
    e = load_experiment(exp_dir, FamilyView(("lsgan", "ebgan"), "--families"))
    fig = drawn(fig2_fd(e))
    assert {p.get_gid() for p in fig.axes[0].patches} == {"lsgan", "ebgan"}
    assert {p.get_gid() for p in fig.axes[0].patches if p.get_fill()} == {"ebgan"}
    assert [t.get_text() for t in fig.legends[0].get_texts()][:2] == ["EBGAN", "LSGAN"]
    # FD = 10 (30 - bin) + j: EBGAN 50..73, LSGAN 100..123 (its last configuration is ok);
    # the other families (GAN up to 303) are not in this view, so not in its bins
    edges, log = fd_bins(e)
    assert not log and np.allclose(edges, np.linspace(0, 123 * 1.02, 31))
    edges, log = fd_bins(load_experiment(exp_dir))
    assert not log and np.allclose(edges, np.linspace(0, 303 * 1.02, 31))


def test_fig3_splits_every_family_with_several_settings_and_keeps_one_setting_whole(exp_dir):
    e = load_experiment(exp_dir, FamilyView(("ebgan_pt", "lsgan", "gan"), "--families"))
    assert fig3_roles(e) == (["lsgan", "gan"], ["ebgan_pt"])
    panels = fig3_panels(e)
    assert len(panels) == 8  # 2 lr x 4 optimizer pairs
    for p in panels:
        assert (p.groups["LSGAN"].n, p.groups["GAN"].n, p.groups["EBGAN-PT"].n) == (3, 3, 1)
    fig = drawn(fig3(e))
    titles = [ax.get_title().replace("\n", " ") for ax in fig.axes]
    assert titles[0] == "D adam / G adam, lr 0.001 n=3 of each family, 1 failed"  # LSGAN's
    assert titles[-1] == "D sgd / G sgd, lr 0.0001 n=3 of each family"
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert legend[:3] == ["GAN", "all EBGAN-PTs, n = 1", "LSGAN"]
    caption = fig._supxlabel.get_text().replace("\n", " ")
    assert "LSGAN and GAN of each optimization setting (n in each title) vs all 1 EBGAN-PTs" \
        in caption


# --- the summary ------------------------------------------------------------------------
def test_summary_has_a_row_per_family_and_each_compared_with_the_baseline(exp):
    s = summarize(exp, n_resamples=FAST)
    a = s["fig2"][0]
    assert list(a["groups"]) == LABELS
    assert [c["pair"] for c in a["comparisons"]] == [f"{lab} − GAN" for lab in LABELS[:-1]]
    w = bin_width()
    for c in a["comparisons"]:
        if c["family_a"] in ("ebgan", "wgan_gp", "hinge"):  # no failures: same offsets
            k = LOSS_BIN[c["family_a"]] - LOSS_BIN["gan"]
            assert c["score"]["median_diff"] == pytest.approx(k * w)
            assert c["fd"]["median_diff"] == pytest.approx(-10.0 * k)
    assert a["comparison"] is a["comparisons"][0]["score"]  # the first pair: EBGAN − GAN
    assert "consistent with the paper's claim" in s["claim"]
    md = render_markdown(s)
    assert "## Figure 2: EBGAN vs LSGAN vs WGAN-GP vs hinge vs BEGAN vs GAN" in md
    assert "| (a) all | LSGAN | 24 | 22 | 2 | 0 |" in md
    assert "| panel | a − b | median I a − b | 95% CI | KS D | KS p |" in md
    assert "| (c) nLayerG ≤ 3, nLayerD ≤ 3 | hinge − GAN | +0.612 |" in md  # 8 bins of 0.0765
    assert "## Figure 3: EBGANs, LSGANs, WGAN-GPs, hinges, BEGANs, GANs by optimization" in md
    assert "all (reference)" not in md


def test_without_ebgan_and_gan_the_claim_is_not_checked(exp_dir):
    e = load_experiment(exp_dir, FamilyView(("lsgan", "hinge"), "--families"))
    s = summarize(e, n_resamples=FAST)
    assert s["claim"].startswith("The paper's claim") and "is not checked here" in s["claim"]
    assert [c["pair"] for c in s["fig2"][0]["comparisons"]] == ["LSGAN − hinge"]


# --- the analysis -----------------------------------------------------------------------
def test_analysis_draws_every_family_in_its_colour_and_compares_each_with_the_baseline(exp):
    an = analyze(exp, n_resamples=FAST)
    assert list(an.draws) == [*LOSSES, "ebgan_pt"]  # the view's order, then the rest
    a = an.improvement[(an.improvement.panel == "a") & (an.improvement.metric == "score")]
    p = dict(zip(a.family_a, a.p_improvement))
    assert set(a.family_b) == {"gan"} and set(p) == set(LOSSES[:-1])  # EBGAN-PT: n = 1 < 2
    # every scored LSGAN beats every GAN; its 2 failures (I = 0) lose: 22 / 24
    assert p["lsgan"] == pytest.approx(22 / 24) and p["ebgan"] == p["hinge"] == 1.0
    b = an.improvement[an.improvement.panel == "b"]
    assert set(b.family_a) == set(LOSSES[:-1])  # outside panel (a): the view's pairs only
    fig = drawn(fig6_budget(exp, an))
    colours = {ln.get_gid().split("|")[0]: to_hex(ln.get_color())
               for ax in fig.axes for ln in ax.get_lines() if ln.get_gid()}
    assert colours == {**HEX, "ebgan_pt": "#f0e442"}  # the first colour the six leave
    ecdf = drawn(fig2_ecdf(exp, an, {k: t for k, t, _ in FIG2_SUBSETS}))
    assert len({to_hex(h.get_color()) for h in ecdf.legends[0].legend_handles}) == 7


# --- the command: --families, the sweep file's report.families, plan.json -----------------
def test_command_chooses_families_by_option_then_sweep_file_then_plan(exp_dir, tmp_path,
                                                                      capsys):
    import yaml

    from sweep.cli import _family_view, build_parser, main
    rc = main(["histograms", "--results", str(exp_dir), "--out", str(tmp_path / "opt"),
               "--families", "hinge, gan"])
    assert rc == 0, capsys.readouterr().err
    view = json.loads((tmp_path / "opt" / "summary.json").read_text())["view"]
    assert view["families"] == ["hinge", "gan"] and view["source"] == "--families 'hinge, gan'"

    def chosen(*argv: str) -> FamilyView:
        args = build_parser().parse_args(["histograms", "--results", str(exp_dir), *argv])
        return load_experiment(exp_dir, _family_view(args)).view
    raw = yaml.safe_load((Path(__file__).parents[3] / "sweep.yaml").read_text())
    plain = tmp_path / "table1.yaml"  # no report: section
    plain.write_text(yaml.safe_dump(raw, sort_keys=False))
    raw["report"] = {"families": ["ebgan_pt", "ebgan", "gan"]}
    sweep = tmp_path / "sweep.yaml"
    sweep.write_text(yaml.safe_dump(raw, sort_keys=False))
    # the sweep file's report.families win over the experiment's plan.json (the six) ...
    assert chosen("-c", str(sweep)).families == ("ebgan_pt", "ebgan", "gan")
    assert chosen("-c", str(sweep)).source == f"{sweep}: report.families"
    # ... --families over both; a file without report: or no file: plan.json's choice
    assert chosen("-c", str(sweep), "--families", "gan").families == ("gan",)
    assert chosen("-c", str(plain)).families == LOSSES
    assert chosen("-c", str(tmp_path / "absent.yaml")).families == LOSSES


def test_command_refuses_an_unknown_family_in_one_line(exp_dir, tmp_path, capsys):
    from sweep.cli import main
    rc = main(["histograms", "--results", str(exp_dir), "--out", str(tmp_path),
               "--families", "ebgan,lsgn"])
    err = capsys.readouterr().err
    assert rc == 2 and err.startswith("error: --families 'ebgan,lsgn': no family 'lsgn'")
    assert "Traceback" not in err and not any(tmp_path.iterdir())
    rc = main(["histograms", "--results", str(exp_dir), "--families", ","])
    assert rc == 2 and "give at least one family" in capsys.readouterr().err
