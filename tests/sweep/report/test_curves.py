"""Loss curves of chosen trials (draw_curves, `sweep curves`) and Figure 5 (fig5_curves)."""
from __future__ import annotations

from pathlib import Path

import matplotlib.image as mpimg
import pandas as pd
import pytest

from sweep.report.curves import draw_curves, fig5, read_curves, settings_text, varying_settings
from sweep.report.experiment import FiguresError, load_experiment

try:
    from report_tables import make_trials, with_fd, write_curves, write_experiment
except ImportError:  # tests/ imported as a package
    from tests.sweep.report.report_tables import make_trials, with_fd, write_curves, \
        write_experiment


@pytest.fixture(scope="module")
def table(tmp_path_factory) -> tuple[Path, pd.DataFrame]:
    """A small grid (nLayerG = nLayerD = 2) with FD; curves for two trials of each family."""
    tmp = tmp_path_factory.mktemp("curves")
    df = with_fd(make_trials(tmp))
    df = df[(df.nLayerG == 2) & (df.nLayerD == 2)]
    for fam in ("ebgan", "gan"):
        s = df[df.family == fam].sort_values(["score", "trial_key"], ascending=[False, True])
        write_curves(Path(s.trial_dir.iloc[0]), fam)   # the best by I
        write_curves(Path(s.trial_dir.iloc[-1]), fam)  # the worst
    return write_experiment(tmp / "exp", df), df


def key_of(df: pd.DataFrame, fam: str, best: bool = True) -> str:
    s = df[df.family == fam].sort_values(["score", "trial_key"], ascending=[False, True])
    return str(s.trial_key.iloc[0 if best else -1])


def test_draw_curves_writes_the_file_it_returns(table, tmp_path):
    exp, df = table
    keys = [key_of(df, "ebgan"), key_of(df, "gan")]
    png = draw_curves(exp, keys, tmp_path / "c.png")
    assert png == tmp_path / "c.png"
    h, w = mpimg.imread(png).shape[:2]
    assert w == 2100  # 7 in at 300 dpi
    pdf = draw_curves(exp, keys, tmp_path / "sub" / "c.pdf")
    assert pdf.read_bytes()[:5] == b"%PDF-"
    assert draw_curves(exp, keys[:1], tmp_path / "noext") == tmp_path / "noext.png"


def test_unknown_key_is_a_figures_error_naming_it(table, tmp_path):
    exp, df = table
    with pytest.raises(FiguresError, match=r"trial key 'nope' is not in the results table"):
        draw_curves(exp, [key_of(df, "gan"), "nope"], tmp_path / "c.png")
    with pytest.raises(FiguresError, match="no results table"):
        draw_curves(tmp_path, ["x"], tmp_path / "c.png")


def test_panels_are_titled_with_family_key_scores_and_varying_settings(table):
    exp, df = table
    e = load_experiment(exp)
    from sweep.report.curves import curves_figure
    from sweep.report.panels import record
    rows = [("", record(df[df.trial_key == k].iloc[0]))
            for k in (key_of(df, "ebgan"), key_of(df, "gan"))]
    fig = curves_figure(e, rows)
    eb, gan = (ax.get_title().replace("\n", " ") for ax in fig.axes[:2])
    r = rows[0][1]
    assert eb.startswith(f"EBGAN {r['trial_key']}")
    assert f"I = {r['score']:.3f}, FD = {r['fd']:.2f}" in eb
    # in this grid EBGANs vary only sizeG, sizeD and dropoutD; GANs also the optimizers
    assert varying_settings(e, "ebgan") == ["sizeG", "sizeD", "dropoutD"]
    assert varying_settings(e, "gan") == ["sizeG", "sizeD", "dropoutD", "optimD", "optimG", "lr"]
    assert settings_text(r, varying_settings(e, "ebgan")) in eb  # "sizeG 400, sizeD 128, ..."
    assert "optimD" in gan and "optimD" not in eb
    # EBGAN: losses and both energies; GAN: the two losses
    assert [len(ax.lines) for ax in fig.axes[:2]] == [4, 2]
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert labels == ["loss of D", "loss of G", "energy D(x), real", "energy D(G(z)), generated"]


def test_a_trial_without_curves_gets_a_message(table, tmp_path):
    exp, df = table
    k = str(df[df.family == "gan"].trial_key.iloc[3])  # has no curves.csv
    assert draw_curves(exp, [k], tmp_path / "c.png").is_file()
    frame, why = read_curves(df[df.trial_key == k].trial_dir.iloc[0], exp)
    assert frame is None and "no curves.csv" in why


def test_fig5_shows_best_and_worst_and_skips_missing_curves(table, tmp_path):
    exp, df = table
    e = load_experiment(exp)
    fig, notes = fig5(e)
    titles = [ax.get_title().replace("\n", " ") for ax in fig.axes]
    assert [t.split(" ")[0] for t in titles] == ["best", "worst", "best", "worst"]
    assert key_of(df, "ebgan") in titles[0] and key_of(df, "gan", best=False) in titles[3]
    assert notes == []
    # remove the worst GAN's curves: left out, with a note
    (Path(df[df.trial_key == key_of(df, "gan", False)].trial_dir.iloc[0]) / "curves.csv").unlink()
    fig, notes = fig5(e)
    assert len([ax for ax in fig.axes if ax.get_title()]) == 3
    assert len(notes) == 1 and notes[0].startswith("fig5_curves: worst GAN by I")


def test_fig5_without_any_curves_is_none_with_a_note(tmp_path):
    df = make_trials(tmp_path)
    fig, notes = fig5(load_experiment(write_experiment(tmp_path / "exp", df)))
    assert fig is None and notes[-1].startswith("no fig5_curves")
