"""Figures 2-4 and the summary files, drawn from a synthetic full-grid results table.

The table (see ``test_summary.py``) is Table 1's default grid with made-up scores; the
best trial of each family, and a few others, get a samples.png; the rest point at
folders that do not exist, as after a partial copy of the trial files.
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

from sweep.figures import (
    FiguresError, config_lines, draw_histograms, fig2, fig3, fig4, read_samples, shared_bins,
)
from sweep.experiment import load_experiment

try:  # the synthetic table is shared with the summary tests
    from test_summary import fail_some, make_trials, write_experiment
except ImportError:  # tests/ imported as a package
    from tests.sweep.test_summary import fail_some, make_trials, write_experiment

FILES = ["fig2.png", "fig2.pdf", "fig3.png", "fig3.pdf", "fig4.png", "fig4.pdf",
         "summary.md", "summary.json"]
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


@pytest.fixture(scope="module")
def drawn(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("drawn")
    df = fail_some(make_trials(tmp))
    with_images(df)
    exp = write_experiment(tmp / "exp", df)
    return exp, draw_histograms(exp, n_resamples=N_RESAMPLES)


def test_all_files_are_written(drawn):
    exp, result = drawn
    out = exp / "figures"
    assert sorted(result["files"]) == sorted(FILES)
    for name in FILES:
        assert (out / name).is_file() and (out / name).stat().st_size > 1000, name
        assert result["files"][name] == out / name
    assert (out / "fig2.pdf").read_bytes()[:5] == b"%PDF-"


@pytest.mark.parametrize("name, min_w, min_h", [("fig2", 1200, 400), ("fig3", 1200, 900),
                                                 ("fig4", 1200, 500)])
def test_pngs_are_valid_images_of_paper_size(drawn, name, min_w, min_h):
    exp, _ = drawn
    img = mpimg.imread(exp / "figures" / f"{name}.png")
    h, w = img.shape[:2]
    # 150 dpi: fig2 is 11 x 3.7 in = 1650 x 555 px, fig3 11.6 x 7.9 in, fig4 11 x 4.6 in
    assert min_w <= w <= 2500 and min_h <= h <= 1800
    assert img[..., :3].std() > 0.05  # not a blank canvas


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


def titles(exp: Path) -> list[str]:
    """Every axes title of Figures 2-4."""
    e = load_experiment(exp)
    figs = [fig2(e, shared_bins(e)), fig3(e, shared_bins(e)), fig4(e)]
    return [ax.get_title() for f in figs for ax in f.axes]


def test_fig4_shows_the_best_of_each_family(drawn):
    exp, result = drawn
    best = result["summary"]["best"]
    t = titles(exp)[-3:]
    assert t[0].startswith(f"(a) best GAN: I = {best['gan']['score']:.3f}")
    assert t[1].startswith(f"(b) best EBGAN: I = {best['ebgan']['score']:.3f}")
    assert t[2].startswith("(c) best EBGAN-PT: I = 2.600")
    assert "nLayerG 5, nLayerD 2, sizeG 800, sizeD 1024" in t[2] and "PT 0.1" in t[2]
    # the best GAN is never the diverged trial that kept a score of 9.0
    assert best["gan"]["score"] < 2


def test_fig4_panels_hold_the_images(drawn):
    exp, _ = drawn
    f = fig4(load_experiment(exp))
    assert [len(ax.images) for ax in f.axes] == [1, 1, 1]


def test_fig4_missing_image_is_a_message_not_a_crash(tmp_path):
    df = make_trials(tmp_path)
    with_images(df, families=("ebgan",), others=0)  # GAN and EBGAN-PT images are missing
    f = fig4(load_experiment(write_experiment(tmp_path / "exp", df)))
    assert [len(ax.images) for ax in f.axes] == [0, 1, 0]
    assert "samples.png not found" in f.axes[0].texts[0].get_text()


def test_partial_table_titles_say_of_how_many(tmp_path):
    df = make_trials(tmp_path)
    df = df.drop(df.index[(df.family == "gan") & (df.sizeG <= 800)])  # 3,072 of 6,144 GANs
    exp = write_experiment(tmp_path / "exp", df)
    t = titles(exp)
    # fig2 (a): 512 + 3,072 done of 512 + 6,144; (b): 288 + 1,728 of 288 + 3,456
    assert t[0] == "(a) all\n3,584 of 6,656 trials done"
    assert t[1] == "(b) nLayerG ≤ 4, nLayerD ≤ 4\n2,016 of 3,744 trials done"
    # fig3: every setting has 256 of its 512 GANs
    assert sum("\n256 of 512 trials done" in x for x in t) == 12


def test_complete_table_titles_have_no_progress(drawn):
    exp, _ = drawn
    t = titles(exp)
    assert t[:3] == ["(a) all", "(b) nLayerG ≤ 4, nLayerD ≤ 4", "(c) nLayerG ≤ 3, nLayerD ≤ 3"]
    assert t[3] == "D adam / G adam, lr 0.01\nn=512, 1 failed"  # 1 of the 7 failed GANs


def test_fig2_legend_counts_failures(drawn):
    exp, _ = drawn
    f = fig2(load_experiment(exp), shared_bins(load_experiment(exp)))
    labels = [t.get_text() for t in f.axes[0].get_legend().get_texts()]
    assert labels == ["EBGAN (n=512, 3 failed)", "GAN (n=6,144, 7 failed)",
                      "real data, I = 2.25"]


def test_missing_group_is_drawn_and_titled(tmp_path):
    df = make_trials(tmp_path)
    exp = write_experiment(tmp_path / "exp", df[df.family != "gan"])
    t = titles(exp)
    # (a) holds the 512 EBGANs of the 512 + 6,144 planned
    assert t[0] == "(a) all\n512 of 6,656 trials done; no GAN trials"
    assert "no GAN trials in the table" in t  # Figure 3's single panel
    assert t[-3] == "(a) best GAN"  # Figure 4: an empty panel that says why
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


def test_config_lines_are_compact():
    b = {"nLayerG": 5, "nLayerD": 2, "sizeG": 800, "sizeD": 1024, "dropoutD": False,
         "optimD": "adam", "optimG": "adam", "lr": 0.001, "pt_weight": 0.1}
    assert config_lines(b) == ["nLayerG 5, nLayerD 2, sizeG 800, sizeD 1024",
                               "dropoutD no, adam/adam, lr 0.001, PT 0.1"]


def test_figures_do_not_import_ray_or_pyplot():
    """Figures rebuild from the table alone (STYLE 13) and leave the caller's backend alone."""
    for mod in ("figures", "summary", "histograms"):
        src = (Path(__file__).parents[2] / "sweep" / f"{mod}.py").read_text()
        imported = set()
        for node in ast.walk(ast.parse(src)):
            if isinstance(node, ast.Import):
                imported |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module:
                imported.add(node.module)
        assert not {m for m in imported if m.split(".")[0] in ("ray", "torch", "optuna")}, mod
        assert "matplotlib.pyplot" not in imported, mod


# --- the command ----------------------------------------------------------------------
def test_cmd_histograms_prints_where_and_exits_0(tmp_path, capsys):
    """Also: --out is honoured, and a partial run without EBGAN-PT, classifier or any
    samples.png is still drawn, with what is missing said in the summary."""
    import argparse
    from sweep.histograms import cmd_histograms
    df = make_trials(tmp_path)
    small = df[(df.nLayerG == 2) & (df.nLayerD == 2) & (df.family != "ebgan_pt")]  # 1/16
    exp = write_experiment(tmp_path / "exp", small, classifier=False)
    out_dir = tmp_path / "elsewhere"
    rc = cmd_histograms(argparse.Namespace(config="unused.yaml", results=str(exp),
                                           out=str(out_dir)))
    out = capsys.readouterr().out
    assert rc == 0 and "fig2.png" in out and "summary.md" in out and "classifier.json" in out
    assert all((out_dir / n).is_file() for n in FILES)
    assert not (exp / "figures").exists()
    md = (out_dir / "summary.md").read_text()
    assert "| ebgan_pt | no scored trial |" in md and "| ebgan | 32 | 512 |" in md
    assert "No real-data reference score" in md

def test_cmd_histograms_without_table_exits_2_with_a_message(tmp_path, capsys):
    import argparse
    from sweep.histograms import cmd_histograms
    rc = cmd_histograms(argparse.Namespace(config="unused.yaml", results=str(tmp_path), out=None))
    err = capsys.readouterr().err
    assert rc == 2 and err.startswith("error: no results table") and "make grid" in err
    assert "Traceback" not in err


def test_read_samples_from_s3(tmp_path, monkeypatch):
    """trial_dir as an s3:// URI, read through pyarrow against a local moto server."""
    moto_server = pytest.importorskip("moto.server")
    boto3 = pytest.importorskip("boto3")
    srv = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    srv.start()
    try:
        host, port = srv.get_host_and_port()
        for k, v in {"AWS_ENDPOINT_URL": f"http://{host}:{port}", "AWS_ACCESS_KEY_ID": "test",
                     "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1"}.items():
            monkeypatch.setenv(k, v)
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket="sweeps")
        write_png(tmp_path / "t")
        s3.put_object(Bucket="sweeps", Key="table1/trial_1/samples.png",
                      Body=(tmp_path / "t" / "samples.png").read_bytes())
        img, why = read_samples("s3://sweeps/table1/trial_1", tmp_path)
        assert why is None and img.shape[:2] == (256, 256)
        img, why = read_samples("s3://sweeps/table1/trial_2", tmp_path)
        assert img is None and "samples.png not found" in why
    finally:
        srv.stop()
