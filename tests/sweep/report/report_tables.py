"""Synthetic results tables for the report tests: Table 1's grid without training.

``make_trials`` enumerates the full default grid of Table 1 (6,657 trials: 512 EBGANs,
6,144 GANs, 1 EBGAN-PT) with made-up scores: EBGAN ~ N(2.0, 0.1), GAN ~ N(1.0, 0.1), so
every statistic has a known sign. ``with_fd`` adds FD (EBGAN about 30, GAN about 60),
``with_order`` the sweep's hand-out order of architecture groups, ``fail_some`` a few
failures, ``write_curves`` a trial's curves.csv; ``write_experiment`` writes the
experiment directory (trials.parquet, plan.json, classifier.json).
"""
from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pandas as pd

REAL_DATA_SCORE = 2.25
SHAPES = {"nLayerG": [2, 3, 4, 5], "nLayerD": [2, 3, 4, 5], "sizeG": [400, 800, 1600, 3200],
          "sizeD": [128, 256, 512, 1024], "dropoutD": [True, False]}
OPTIM = {"ebgan": {"optimD": ["adam"], "optimG": ["adam"], "lr": [0.001]},
         "gan": {"optimD": ["adam", "sgd"], "optimG": ["adam", "sgd"], "lr": [0.01, 0.001, 0.0001]}}
PT = {"nLayerG": [5], "nLayerD": [2], "sizeG": [800], "sizeD": [1024], "dropoutD": [False],
      "optimD": ["adam"], "optimG": ["adam"], "lr": [0.001], "pt_weight": [0.1]}
PLAN_AXES = {"ebgan": {**SHAPES, **OPTIM["ebgan"]}, "gan": {**SHAPES, **OPTIM["gan"]},
             "ebgan_pt": PT}


def make_trials(tmp: Path, seed: int = 0) -> pd.DataFrame:
    """Table 1's default grid, one row per trial, with synthetic scores, all status ok."""
    rng = np.random.default_rng(seed)
    rows = []
    for family, axes in PLAN_AXES.items():
        for values in itertools.product(*axes.values()):
            cfg = dict(zip(axes, values))
            key = f"{family}-" + "-".join(str(v) for v in values)
            rows.append({
                "trial_key": key, "family": family,
                "model": "gan" if family == "gan" else "ebgan", **cfg,
                "margin": 10.0, "pt_weight": cfg.get("pt_weight", 0.0), "z_dim": 100,
                "dropout": 0.5, "beta1": 0.5, "beta2": 0.999, "seed": 0, "epochs": 20,
                "iterations": None, "batch_size": 64,
                "score": {"ebgan": rng.normal(2.0, 0.1), "gan": rng.normal(1.0, 0.1),
                          "ebgan_pt": 2.6}[family],  # 2.6: above every N(2.0, 0.1) draw
                "status": "ok", "error": None, "class_histogram": json.dumps([1000] * 10),
                "iterations_done": 18740, "wall_time_s": 60.0, "data_source": "mnist",
                "classifier_sha256": "ab" * 32, "trial_id": f"t{len(rows):05d}",
                "trial_dir": str(tmp / "trials" / key), "node": "node-0"})
    return pd.DataFrame(rows)


ARCH = ["model", "nLayerG", "nLayerD", "sizeG", "sizeD", "z_dim", "seed"]
PROBES = [  # realistic values of a 99.3% full-MNIST classifier
    {"name": "uniform noise", "description": "pixels U[-1, 1]", "score": 0.12, "fd": 310.5, "n": 10000},
    {"name": "sparse salt noise 0.05", "description": "white pixels p 0.05", "score": 0.41,
     "fd": 250.25, "n": 10000},
    {"name": "one class", "description": "test digits of class 1", "score": 0.01, "fd": 95.0,
     "n": 1135},
    {"name": "real train digits", "description": "training digits", "score": 2.24, "fd": 0.35,
     "n": 10000},
    {"name": "real test digits", "description": "the reference", "score": 2.25, "fd": 0.0,
     "n": 10000}]


def with_fd(df: pd.DataFrame, seed: int = 1) -> pd.DataFrame:
    """FD ~ lognormal: EBGAN around 30, GAN around 60 with a long tail; EBGAN-PT 15."""
    rng = np.random.default_rng(seed)
    df = df.copy()
    fam = df.family.to_numpy()
    df["fd"] = np.where(fam == "ebgan", np.exp(rng.normal(np.log(30), 0.3, len(df))),
                        np.where(fam == "gan", np.exp(rng.normal(np.log(60), 0.6, len(df))), 15.0))
    df.loc[df.status != "ok", "fd"] = np.nan
    return df


def with_order(df: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """The sweep's hand-out order: per family, architecture groups in a random order, the
    configurations of a group contiguous; ``order`` counts configurations."""
    rng = np.random.default_rng(seed)
    df = df.copy()
    df["order"] = np.nan
    for fam in df.family.unique():
        rows = df[df.family == fam]
        gid = rows.groupby(ARCH).ngroup().to_numpy()
        pos = np.empty(gid.max() + 1, dtype=int)
        pos[rng.permutation(gid.max() + 1)] = np.arange(gid.max() + 1)
        size = np.bincount(gid).max()
        within = rows.groupby(gid).cumcount().to_numpy()
        df.loc[rows.index, "order"] = pos[gid] * size + within
    df["order"] = df["order"].astype("Int64")
    return df


def write_curves(trial_dir: Path, family: str, n: int = 40) -> None:
    """A curves.csv: falling losses; energies for EBGAN families."""
    trial_dir.mkdir(parents=True, exist_ok=True)
    it = np.arange(n) * 50
    cur = {"iteration": it, "loss_d": 1 + 4 * np.exp(-it / 500), "loss_g": 2 - np.exp(-it / 300)}
    if family != "gan":
        cur |= {"energy_real": 8 * np.exp(-it / 700) + 1, "energy_fake": 9 + np.sin(it / 200)}
    pd.DataFrame(cur).to_csv(trial_dir / "curves.csv", index=False)


def write_experiment(exp: Path, df: pd.DataFrame, *, plan: bool = True,
                     classifier: bool = True, probes: bool = False,
                     source: str = "mnist") -> Path:
    exp.mkdir(parents=True, exist_ok=True)
    df.to_parquet(exp / "trials.parquet")
    if plan:
        counts = {"ebgan": 512, "gan": 6144, "ebgan_pt": 1}
        (exp / "plan.json").write_text(json.dumps({
            "name": "table1", "families": counts, "total": sum(counts.values()), "seeds": [0],
            "axes": PLAN_AXES, "search": {f: "grid" for f in counts},
            "budget": {"epochs": 20, "iterations": None, "batch_size": 64},
            "data": {"source": source}, "score_samples": 10000}))
    if classifier:
        (exp / "classifier.json").write_text(json.dumps({
            "real_data_score": REAL_DATA_SCORE, "test_accuracy": 0.993, "source": source,
            "data_source": source, "n_test": 10000, "sha256": "ab" * 32,
            **({"probes": PROBES} if probes else {})}))
    return exp


def fail_some(df: pd.DataFrame) -> pd.DataFrame:
    """3 EBGANs diverged without score, 5 GANs errored, 2 GANs diverged that kept the
    score of their last finite state (SPEC: still excluded from the histograms)."""
    df = df.copy()
    eb, gan = df.index[df.family == "ebgan"], df.index[df.family == "gan"]
    df.loc[eb[:3], ["status", "score"]] = ["diverged", np.nan]
    df.loc[gan[:5], ["status", "score", "error"]] = ["error", np.nan, "RuntimeError: boom"]
    df.loc[gan[5:7], ["status", "score"]] = ["diverged", 9.0]
    return df


# --- several families: the six losses of examples/losses.yaml -----------------------------
LOSSES = ("ebgan", "lsgan", "wgan_gp", "hinge", "began", "gan")
LOSS_BIN = {"ebgan": 25, "lsgan": 20, "wgan_gp": 15, "hinge": 10, "began": 5, "gan": 2,
            "ebgan_pt": 27}
# 3 depths (Figure 2's panels hold 3, 2 and 1 of them) x 4 optimizer pairs x 2 lr = 24
LOSS_AXES = {"nLayerG": [2, 4, 5], "nLayerD": [2], "sizeG": [400], "sizeD": [128],
             "dropoutD": [False], "optimD": ["adam", "sgd"], "optimG": ["adam", "sgd"],
             "lr": [0.001, 0.0001]}
LOSS_PT = {**{k: v[:1] for k, v in LOSS_AXES.items()}, "nLayerG": [5]}  # one setting


def bin_width(n_bins: int = 30) -> float:
    """The I bins of a table whose scores stay below the reference: [0, 1.02 REAL] / 30."""
    return REAL_DATA_SCORE * 1.02 / n_bins


def losses_trials(tmp: Path) -> pd.DataFrame:
    """Six families on the same 24 configurations and one EBGAN-PT with one setting. Every
    family's I lies inside one bin of its own (LOSS_BIN): the centre of that bin plus
    0.0005 per configuration (24 x 0.0005 = 0.012, well inside a bin 0.0765 wide), so each
    histogram is one bar of height 100 x scored / n. FD = 10 x (30 - bin). LSGAN: its 2
    nLayerG-5 configurations with adam/adam diverged; BEGAN: 1 errored (nLayerG 5, sgd/sgd,
    lr 1e-4); no other failure."""
    rows, w = [], bin_width()
    for family, axes in [*((f, LOSS_AXES) for f in LOSSES), ("ebgan_pt", LOSS_PT)]:
        for j, values in enumerate(itertools.product(*axes.values())):
            cfg = dict(zip(axes, values))
            status = "ok"
            if family == "lsgan" and cfg["nLayerG"] == 5 and cfg["optimD"] == cfg["optimG"] == "adam":
                status = "diverged"
            if family == "began" and cfg["nLayerG"] == 5 and cfg["optimD"] == cfg["optimG"] == "sgd" \
                    and cfg["lr"] == 0.0001:
                status = "error"
            key = f"{family}-" + "-".join(str(v) for v in values)
            rows.append({
                "trial_key": key, "family": family, "model": family.removesuffix("_pt"), **cfg,
                "seed": 0, "iterations": 2000, "batch_size": 64,
                "score": (LOSS_BIN[family] + 0.5) * w + 0.0005 * j if status == "ok" else np.nan,
                "fd": 10.0 * (30 - LOSS_BIN[family]) + j if status == "ok" else np.nan,
                "status": status, "iterations_done": 2000, "wall_time_s": 30.0,
                "data_source": "mnist", "classifier_sha256": "ab" * 32,
                "trial_dir": str(tmp / "trials" / key)})
    return pd.DataFrame(rows)


def write_losses_plan(exp: Path, report: list[str] | None = None) -> None:
    """plan.json of the losses table, with the sweep file's report.families if given."""
    counts = {**{f: 24 for f in LOSSES}, "ebgan_pt": 1}
    (exp / "plan.json").write_text(json.dumps({
        "name": "losses", "families": counts, "total": sum(counts.values()), "seeds": [0],
        "axes": {**{f: LOSS_AXES for f in LOSSES}, "ebgan_pt": LOSS_PT},
        "search": {f: "grid" for f in counts},
        "budget": {"epochs": 3, "iterations": 2000, "batch_size": 64},
        "data": {"source": "mnist"}, "score_samples": 10000, "report": {"families": report}}))
