"""Figures 2-5 and the summary files, drawn from a synthetic full-grid results table.

The table (see ``test_summary.py``) is Table 1's default grid with made-up scores, FD and
hand-out order; the best trial of each family, and a few others, get a samples.png, the
best and worst EBGAN and the best GAN a curves.csv; the rest point at folders that do
not exist, as after a partial copy of the trial files. The design of the figures
(colours, legend, captions) is tested in ``test_figure_design.py``.
"""
from __future__ import annotations

import ast
import json
from pathlib import Path

import matplotlib.image as mpimg
import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from sweep.report.analysis.tables import CSV_NAMES
from sweep.report.experiment import load_experiment
from sweep.report.figures import (
    FiguresError, config_lines, draw_histograms, fig2, fig3, fig4, read_samples, shared_bins,
)

try:  # the synthetic table is shared with the summary tests
    from report_tables import fail_some, make_trials, with_fd, with_order, write_curves, \
        write_experiment
except ImportError:  # tests/ imported as a package
    from tests.sweep.report.report_tables import fail_some, make_trials, with_fd, with_order, \
        write_curves, write_experiment

FIGS = ["fig2", "fig2_fd", "fig3", "fig4", "fig5_curves", "fig6_budget", "fig7_importance",
        "fig2_ecdf"]
FILES = [f"{f}.{ext}" for f in FIGS for ext in ("png", "pdf")] + ["summary.md", "summary.json",
                                                                   *CSV_NAMES]
N_RESAMPLES = 300  # the interval's correctness is tested in test_summary.py


def write_png(trial_dir: Path, value: float = 0.5) -> None:
    """A 256x256 gray stand-in for an 8x8 grid of 32x32 samples."""
    trial_dir.mkdir(parents=True, exist_ok=True)
    img = np.full((256, 256), value)
    img[::32, :] = img[:, ::32] = 1.0  # grid lines, to tell it apart from a blank panel
    fig = Figure(figsize=(2.56, 2.56), dpi=100)
    fig.figimage(img, cmap="gray", vmin=0, vmax=1)
    fig.savefig(trial_dir / "samples.png", dpi=100)


def with_images(df: pd.DataFrame, families=("gan", "ebgan", "ebgan_pt"), others: int = 5):
    """samples.png for the best trial of each family and a handful of other rows."""
    ok = df[df.status == "ok"]
    for fam in families:
        best = ok[ok.family == fam].sort_values("score").iloc[-1]
        write_png(Path(best.trial_dir))
    for d in df.trial_dir.iloc[:others]:
        write_png(Path(d), 0.2)


def new_table(tmp: Path) -> pd.DataFrame:
    """Today's table: failures, FD, order; images and curves for the trials Figure 4-5 show
    (the worst GAN has no curves.csv, as a trial from before curves were recorded)."""
    df = with_order(with_fd(fail_some(make_trials(tmp))))
    with_images(df)
    ok = df[df.status == "ok"]
    for fam in ("ebgan", "gan"):
        s = ok[ok.family == fam].sort_values(["score", "trial_key"], ascending=[False, True])
        write_curves(Path(s.trial_dir.iloc[0]), fam)
        if fam == "ebgan":
            write_curves(Path(s.trial_dir.iloc[-1]), fam)
    return df


@pytest.fixture(scope="module")
def drawn(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("drawn")
    exp = write_experiment(tmp / "exp", new_table(tmp), probes=True)
    return exp, draw_histograms(exp, n_resamples=N_RESAMPLES)


def test_all_files_are_written(drawn):
    exp, result = drawn
    out = exp / "figures"
    assert sorted(result["files"]) == sorted(FILES)
    for name in FILES:
        least = 100 if name.endswith(".csv") else 1000  # improvement.csv: a dozen rows
        assert (out / name).is_file() and (out / name).stat().st_size > least, name
        assert result["files"][name] == out / name
    assert (out / "fig2.pdf").read_bytes()[:5] == b"%PDF-"
    # the worst GAN has no curves.csv: left out of Figure 5, with a note
    assert any(n.startswith("fig5_curves: worst GAN by I") and "no curves.csv" in n
               for n in result["notes"])


@pytest.mark.parametrize("name, height_in", [("fig2", 3.1), ("fig2_fd", 3.1), ("fig3", 6.2),
                                             ("fig4", 6.95), ("fig5_curves", 3.5)])
def test_pngs_are_printed_7_inches_wide_at_300_dpi(drawn, name, height_in):
    exp, _ = drawn
    img = mpimg.imread(exp / "figures" / f"{name}.png")
    h, w = img.shape[:2]
    # a figure spanning both columns of a two-column paper: 7 in; fig3: 3 rows of 1.6 in
    # + 1.4 in of legend and caption; fig4: 2 rows of 3.1 in + 0.75 in
    assert (w, h) == (2100, round(300 * height_in))
    assert img[..., :3].std() > 0.05  # not a blank canvas


def test_all_nan_fd_skips_the_fd_figure_with_a_note(tmp_path):
    df = make_trials(tmp_path).assign(fd=np.nan)
    r = draw_histograms(write_experiment(tmp_path / "exp", df), n_resamples=50)
    assert "fig2_fd.png" not in r["files"]
    assert any(n.startswith("no fig2_fd: no trial in the table has a finite fd")
               for n in r["notes"])


def test_summary_files_match_the_result(drawn):
    exp, result = drawn
    back = json.loads((exp / "figures" / "summary.json").read_text())
    assert back["fig2"][0]["groups"]["EBGAN"]["n"] == 512
    assert back["fig2"][0]["groups"]["GAN"]["n_error"] == 5
    assert [p["groups"]["GAN"]["n"] for p in back["fig3"]] == [512] * 12
    md = (exp / "figures" / "summary.md").read_text()
    assert "| (a) all | EBGAN | 512 | 509 | 3 | 0 |" in md
    assert "paper's claim" in md and "consistent with" in md
    assert back["claim"] == result["summary"]["claim"]


def titles(exp: Path) -> dict[str, list[str]]:
    """Every axes title of Figures 2-4, per figure."""
    e = load_experiment(exp)
    figs = {"fig2": fig2(e, shared_bins(e)), "fig3": fig3(e, shared_bins(e)), "fig4": fig4(e)}
    return {k: [ax.get_title() for ax in f.axes] for k, f in figs.items()}


def test_fig4_shows_the_best_of_each_family_by_i_and_by_fd(drawn):
    exp, result = drawn
    best, best_fd = result["summary"]["best"], result["summary"]["best_fd"]
    t = titles(exp)["fig4"]
    assert len(t) == 6  # by I, then by FD
    assert t[0].startswith(f"(a) best GAN\nI = {best['gan']['score']:.3f}, FD = ")
    assert t[1].startswith(f"(b) best EBGAN\nI = {best['ebgan']['score']:.3f}")
    assert t[2].startswith("(c) best EBGAN-PT\nI = 2.600, FD = 15.00")
    assert "nLayerG 5, nLayerD 2\nsizeG 800, sizeD 1024" in t[2] and "PT 0.1" in t[2]
    assert t[3].startswith(f"(d) best GAN by FD\nI = {best_fd['gan']['score']:.3f}, "
                           f"FD = {best_fd['gan']['fd']:.2f}")
    # the best GAN is never the diverged trial that kept a score of 9.0
    assert best["gan"]["score"] < 2
    # the lowest FD is the minimum over scored trials
    df = pd.read_parquet(exp / "trials.parquet")
    assert best_fd["ebgan"]["fd"] == df[(df.family == "ebgan") & (df.status == "ok")].fd.min()


def test_fig4_panels_hold_the_images_and_say_when_a_trial_repeats(drawn):
    exp, _ = drawn
    f = fig4(load_experiment(exp))
    # row 1: the best by I have images; row 2: the GAN and EBGAN best by FD have none on
    # disk; the single EBGAN-PT is the same trial as (c)
    assert [len(ax.images) for ax in f.axes] == [1, 1, 1, 0, 0, 0]
    assert "samples.png not found" in f.axes[3].texts[0].get_text()
    assert "the same trial as (c)" in f.axes[5].texts[0].get_text()


def test_fig4_missing_image_is_a_message_not_a_crash(tmp_path):
    df = make_trials(tmp_path)
    with_images(df, families=("ebgan",), others=0)  # GAN and EBGAN-PT images are missing
    f = fig4(load_experiment(write_experiment(tmp_path / "exp", df)))
    assert [len(ax.images) for ax in f.axes] == [0, 1, 0]  # no FD: one row
    assert "samples.png not found" in f.axes[0].texts[0].get_text()


def test_partial_table_titles_say_of_how_many(tmp_path):
    df = make_trials(tmp_path)
    df = df.drop(df.index[(df.family == "gan") & (df.sizeG <= 800)])  # 3,072 of 6,144 GANs
    t = titles(write_experiment(tmp_path / "exp", df))
    # fig2 (a): 512 + 3,072 done of 512 + 6,144; (b): 288 + 1,728 of 288 + 3,456
    assert t["fig2"][0] == "(a) all\nn = 512 EBGAN, 3,072 GAN\n3,584 of 6,656 trials done"
    assert t["fig2"][1] == ("(b) nLayerG ≤ 4, nLayerD ≤ 4\nn = 288 EBGAN, 1,728 GAN\n"
                            "2,016 of 3,744 trials done")
    # fig3: every setting has 256 of its 512 GANs
    assert sum("\n256 of 512 trials done" in x for x in t["fig3"]) == 12


def test_complete_table_titles_count_failures_without_progress(drawn):
    exp, _ = drawn
    t = titles(exp)
    assert t["fig2"] == [f"({k}) {sub}\nn = {e} EBGAN, {g} GAN\nfailed/unscored: 3 EBGAN, 7 GAN"
                         for k, sub, e, g in [("a", "all", 512, "6,144"),
                                              ("b", "nLayerG ≤ 4, nLayerD ≤ 4", 288, "3,456"),
                                              ("c", "nLayerG ≤ 3, nLayerD ≤ 3", 128, "1,536")]]
    assert t["fig3"][0] == "D adam / G adam, lr 0.01\nn=512, 1 failed"  # 1 of the 7 failed GANs


def test_missing_group_is_drawn_and_titled(tmp_path):
    df = make_trials(tmp_path)
    exp = write_experiment(tmp_path / "exp", df[df.family != "gan"])
    t = titles(exp)
    # (a) holds the 512 EBGANs of the 512 + 6,144 planned
    assert t["fig2"][0] == "(a) all\nn = 512 EBGAN, 0 GAN\n512 of 6,656 trials done\nno GAN trials"
    assert "no GAN trials in the table" in t["fig3"]  # Figure 3's single panel
    assert t["fig4"][0] == "(a) best GAN"  # Figure 4: an empty panel that says why
    assert "no scored GAN trial" in fig4(load_experiment(exp)).axes[0].texts[0].get_text()


# --- errors ---------------------------------------------------------------------------
def test_missing_table_raises_figures_error(tmp_path):
    with pytest.raises(FiguresError, match=r"no results table at .*trials\.parquet.*make grid"):
        draw_histograms(tmp_path)


def test_empty_table_raises_figures_error(tmp_path):
    exp = write_experiment(tmp_path / "exp", make_trials(tmp_path).iloc[:0])
    with pytest.raises(FiguresError, match=r"has no trials yet.*sweep collect"):
        draw_histograms(exp)
    assert not (exp / "figures").exists()  # nothing half-written


# --- figure 4 pieces ------------------------------------------------------------------
def test_read_samples_local_missing_and_uri(tmp_path):
    write_png(tmp_path / "t1")
    img, why = read_samples(str(tmp_path / "t1"), tmp_path)
    assert why is None and img.shape[:2] == (256, 256)
    img, why = read_samples("t1", tmp_path)  # relative to the experiment directory
    assert why is None
    img, why = read_samples(str(tmp_path / "gone"), tmp_path)
    assert img is None and "not found" in why
    img, why = read_samples((tmp_path / "t1").as_uri(), tmp_path)  # file:// through pyarrow
    assert why is None and img.shape[:2] == (256, 256)
    img, why = read_samples(None, tmp_path)
    assert img is None and "no trial directory" in why


def test_config_lines_fit_a_printed_panel():
    b = {"nLayerG": 5, "nLayerD": 2, "sizeG": 800, "sizeD": 1024, "dropoutD": False,
         "optimD": "adam", "optimG": "adam", "lr": 0.001, "pt_weight": 0.1}
    assert config_lines(b) == ["nLayerG 5, nLayerD 2", "sizeG 800, sizeD 1024",
                               "dropoutD no, adam/adam, lr 0.001, PT 0.1"]


def test_report_never_imports_ray_optuna_torch_or_pyplot():
    """Figures rebuild from the table alone (STYLE 13) and leave the caller's backend alone."""
    modules = sorted((Path(__file__).parents[3] / "sweep" / "report").rglob("*.py"))
    assert {m.stem for m in modules} >= {"figures", "summary", "partial_estimate", "curves",
                                        "fig4_samples"}
    for mod in modules:
        tree = ast.parse(mod.read_text())
        in_functions = {id(n) for f in ast.walk(tree)
                        if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
                        for n in ast.walk(f)}
        imported, at_import = set(), set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = {f"{node.module}.{a.name}" for a in node.names}
            else:
                continue
            imported |= names
            if id(node) not in in_functions:
                at_import |= names
        # Optuna only inside a function (importance.py): loading the module never loads it
        assert not {m for m in imported if m.split(".")[0] in ("ray", "torch")}, mod
        assert not {m for m in at_import if m.split(".")[0] == "optuna"}, mod
        assert not {m for m in imported if m.startswith("matplotlib.pyplot")}, mod
        # only the report itself, the trial files' storage layer, the error base class and
        # the settings' one definition (Table 1's axes, the shape groups, Figure 2's groups)
        assert not {m for m in imported if m.startswith(("sweep.", "evaluator", "models"))
                    and not m.startswith(("sweep.report", "sweep.run.records.storage",
                                          "models.errors", "models.config"))}, mod


# --- the command (sweep/cli.py) --------------------------------------------------------
def test_command_draws_into_out_and_prints_the_claim(tmp_path, capsys):
    """`sweep histograms --results EXP --out DIR`: a partial old table (no fd column) without
    EBGAN-PT, classifier, samples.png or curves.csv is still drawn, with what is missing
    said; no fig2_fd and no fig5_curves."""
    from sweep.cli import main
    df = make_trials(tmp_path)
    small = df[(df.nLayerG == 2) & (df.nLayerD == 2) & (df.family != "ebgan_pt")]  # 1/16
    exp = write_experiment(tmp_path / "exp", small, classifier=False)
    out_dir = tmp_path / "elsewhere"
    rc = main(["histograms", "--results", str(exp), "--out", str(out_dir)])
    out = capsys.readouterr().out
    assert rc == 0 and "fig2.png" in out and "summary.md" in out and "classifier.json" in out
    assert "paper's claim" in out
    assert sorted(p.name for p in out_dir.iterdir()) == sorted(
        n for n in FILES if not n.startswith(("fig2_fd", "fig5")))
    assert "no fd column" in out and "no fig5_curves" in out
    assert not (exp / "figures").exists()
    md = (out_dir / "summary.md").read_text()
    assert "| ebgan_pt | highest I | no scored trial |" in md and "| ebgan | 32 | 512 |" in md
    assert "No real-data reference score" in md


def test_command_without_table_exits_2_with_a_message(tmp_path, capsys):
    from sweep.cli import main
    rc = main(["histograms", "--results", str(tmp_path)])
    err = capsys.readouterr().err
    assert rc == 2 and err.startswith("error: no results table") and "make grid" in err
    assert "Traceback" not in err


def test_read_samples_from_s3(tmp_path, local_s3):
    """trial_dir as an s3:// URI, read through pyarrow against a local moto server."""
    _, s3 = local_s3
    s3.create_bucket(Bucket="sweeps")
    write_png(tmp_path / "t")
    s3.put_object(Bucket="sweeps", Key="table1/trial_1/samples.png",
                  Body=(tmp_path / "t" / "samples.png").read_bytes())
    img, why = read_samples("s3://sweeps/table1/trial_1", tmp_path)
    assert why is None and img.shape[:2] == (256, 256)
    img, why = read_samples("s3://sweeps/table1/trial_2", tmp_path)
    assert img is None and "samples.png not found" in why
