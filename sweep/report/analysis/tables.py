"""What a grid says beyond the histograms: budget curves, importance, probability of improvement.

Computes, per family in the table, the expected best under a budget (``budget.py``), the
importance of each axis (``importance.py``) and, per Figure 2 panel, the probability that
a random configuration of each family beats one of the view's baseline (the paper's
EBGAN against GAN; ``improvement.py``), on the trials ``population.py``
says stand for each family (the whole family, or the random sample of a partial grid,
then labelled an estimate). :func:`analyze` returns the tables the figures draw
(``plots.py``) and that are written beside them as CSVs, so a reader can
re-plot them: budget.csv, budget_hours.csv, importance.csv, improvement.csv, ecdf.csv.
:func:`analysis_summary` is what goes into summary.json; ``sections.py`` renders it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sweep.report.analysis import budget as B
from sweep.report.analysis.importance import EVALUATOR, importances
from sweep.report.analysis.improvement import ecdf, prob_improvement
from sweep.report.analysis.population import FamilyDraws, all_draws, label, worst_filled
from sweep.report.experiment import Experiment, Filter
from sweep.report.panels import fig2_panels

MATCH_K = 5   # "how many GAN configurations match the expected best EBGAN of k = 5"
CSV_NAMES = ("budget.csv", "budget_hours.csv", "importance.csv", "improvement.csv", "ecdf.csv")


@dataclass
class Analysis:
    """The tables behind fig6_budget, fig7_importance, fig2_ecdf and summary.md."""
    draws: dict[str, FamilyDraws]
    metrics: list[str]
    budget: pd.DataFrame         # family, metric, k, expected_best, lo, hi, estimate
    hours: pd.DataFrame          # family, metric, hours, expected_best, lo, hi, estimate
    importance: pd.DataFrame     # family, metric, axis, importance, evaluator
    improvement: pd.DataFrame    # figure, panel, subset, metric, family_a, family_b, ...
    ecdf: pd.DataFrame           # panel, family, metric, value, fraction
    reach: list[dict[str, Any]] = field(default_factory=list)   # k to 90% of own best
    match: list[dict[str, Any]] = field(default_factory=list)   # GAN k matching EBGAN k=5
    notes: list[str] = field(default_factory=list)
    evaluator: str = EVALUATOR

    def write_csvs(self, out_dir: Path) -> dict[str, Path]:
        out = {}
        for name, df in zip(CSV_NAMES, (self.budget, self.hours, self.importance,
                                        self.improvement, self.ecdf)):
            p = out_dir / name
            df.to_csv(p, index=False)
            out[name] = p
        return out


def _mask(df: pd.DataFrame, filt: Filter) -> pd.DataFrame:
    keep = np.ones(len(df), dtype=bool)
    for axis, ok in filt.items():
        keep &= df[axis].map(ok).to_numpy(dtype=bool)
    return df[keep]


def _budget(draws: dict[str, FamilyDraws], metrics: list[str], n_resamples: int, seed: int
            ) -> tuple[pd.DataFrame, pd.DataFrame, list[dict], list[dict]]:
    rows, hours, reach = [], [], []
    for j, (fam, d) in enumerate(draws.items()):
        for i, metric in enumerate(metrics):
            v = d.values(metric)
            if len(v) == 0:
                continue
            ks = B.k_grid(len(v))
            e = B.expected_best(v, ks, metric)
            lo, hi = B.bootstrap_band(v, ks, metric, n_resamples=n_resamples,
                                      rng=np.random.default_rng([seed, i, j]))
            rows += [{"family": fam, "metric": metric, "k": int(k), "expected_best": float(x),
                      "lo": float(a), "hi": float(b), "estimate": d.estimate}
                     for k, x, a, b in zip(ks, e, lo, hi)]
            secs = d.trials["wall_time_s"] if "wall_time_s" in d.trials else pd.Series(np.nan)
            h = B.hours_curve(v, secs.to_numpy(dtype=float), metric, n_runs=200,
                              rng=np.random.default_rng([seed, i, j, 1]))
            if h is not None:
                hours += [{"family": fam, "metric": metric, "hours": float(t),
                           "expected_best": float(x), "lo": float(a), "hi": float(b),
                           "estimate": d.estimate}
                          for t, x, a, b in zip(h["hours"], h["expected_best"], h["lo"], h["hi"])]
            reach.append({"family": fam, "metric": metric, "n": len(v),
                          "k_90": B.k_to_reach(v, metric), "best": float(e[-1])})
    cols = ["family", "metric", "k", "expected_best", "lo", "hi", "estimate"]
    return (pd.DataFrame(rows, columns=cols),
            pd.DataFrame(hours, columns=["family", "metric", "hours", *cols[3:]]), reach, [])


def _match(draws: dict[str, FamilyDraws], metrics: list[str], pairs: list[tuple[str, str]]
           ) -> list[dict[str, Any]]:
    """For each pair (a, b) of the view (the paper's EBGAN, GAN): the k of b whose expected
    best matches a's expected best of k = 5 (None: b never gets there, even with all its
    configurations)."""
    out = []
    for a, b in pairs:
        if a not in draws or b not in draws:
            continue
        for metric in metrics:
            va, vb = draws[a].values(metric), draws[b].values(metric)
            if len(va) < MATCH_K or len(vb) == 0:
                continue
            target = float(B.expected_best(va, np.array([MATCH_K]), metric)[0])
            out.append({"metric": metric, "family_a": a, "k_a": MATCH_K, "target": target,
                        "family_b": b, "n_b": len(vb), "k_b": B.k_to_match(vb, metric, target),
                        "estimate": draws[a].estimate or draws[b].estimate})
    return out


def _importance(draws: dict[str, FamilyDraws], metrics: list[str], evaluator: str, seed: int,
                notes: list[str]) -> pd.DataFrame:
    rows = []
    for fam, d in draws.items():
        for metric in metrics:
            imp, why = importances(d.trials, metric, evaluator=evaluator, seed=seed)
            if imp is None:
                notes.append(f"no importance of {label(fam)} for {metric}: {why}")
                continue
            rows += [{"family": fam, "metric": metric, "axis": a, "importance": x,
                      "raw_total": imp.raw_total, "shuffled_total": imp.shuffled_total,
                      "evaluator": evaluator,
                      "estimate": d.estimate} for a, x in imp.shares.items()]
    return pd.DataFrame(rows, columns=["family", "metric", "axis", "importance", "raw_total",
                                       "shuffled_total", "evaluator", "estimate"])


def _improvement(exp: Experiment, draws: dict[str, FamilyDraws], metrics: list[str],
                 n_resamples: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """P(a beats b) per Figure 2 panel for each family of the view against its baseline
    (the paper's EBGAN against GAN); in panel (a) also every family outside the view (with
    2 or more configurations) against the baseline. And the ECDFs of each panel."""
    rows, steps = [], []
    view = exp.view.pairs()
    pairs = view + [(f, exp.view.baseline) for f, d in draws.items()
                    if f not in exp.view.families and d.n >= 2]
    for p in fig2_panels(exp):
        sub = {f: _mask(d.trials, p.filt) for f, d in draws.items()}
        for i, metric in enumerate(metrics):
            for fam, t in sub.items():
                x, frac = ecdf(worst_filled(t, metric))
                steps += [{"panel": p.key, "family": fam, "metric": metric, "value": float(a),
                           "fraction": float(b)} for a, b in zip(x, frac)]
            for a, b in (pairs if p.key == "a" else view):
                if a not in sub or b not in sub:
                    continue
                r = prob_improvement(worst_filled(sub[a], metric), worst_filled(sub[b], metric),
                                     metric, n_resamples=n_resamples, seed=seed + i)
                lo, hi = r["ci95"] or (None, None)
                rows.append({"figure": "fig2", "panel": p.key, "subset": p.title,
                             "metric": metric, "family_a": a, "family_b": b, "n_a": r["n_a"],
                             "n_b": r["n_b"], "p_improvement": r["p"], "lo": lo, "hi": hi,
                             "estimate": draws[a].estimate or draws[b].estimate})
    return pd.DataFrame(rows), pd.DataFrame(
        steps, columns=["panel", "family", "metric", "value", "fraction"])


def analyze(exp: Experiment, *, n_resamples: int = 1000, seed: int = 0,
            evaluator: str = EVALUATOR) -> Analysis:
    """Budget curves, importance and probability of improvement of the experiment."""
    draws = {f: d for f, d in all_draws(exp).items() if d.n > 0}
    metrics = ["score"] + (["fd"] if exp.has_fd else [])
    notes = [f"{d.label}: {d.note}" for d in draws.values() if d.note]
    budget, hours, reach, _ = _budget(draws, metrics, n_resamples, seed)
    imp = _importance(draws, metrics, evaluator, seed, notes)
    improvement, steps = _improvement(exp, draws, metrics, n_resamples, seed)
    return Analysis(draws, metrics, budget, hours, imp, improvement, steps, reach,
                    _match(draws, metrics, exp.view.pairs()), notes, evaluator)


def analysis_summary(a: Analysis) -> dict[str, Any]:
    """The JSON-ready numbers of summary.md's new sections."""
    table = {}
    for (fam, metric), g in a.budget.groupby(["family", "metric"], sort=False):
        n = int(g["k"].max())
        keep = g[g["k"].isin([*B.TABLE_K, n])]
        table.setdefault(fam, {})[metric] = {int(k): float(v) for k, v in
                                             zip(keep["k"], keep["expected_best"])}
    return {
        "families": {f: {"label": d.label, "n": d.n, "planned": d.planned,
                         "estimate": d.estimate, "n_failed": d.n_failed, "note": d.note}
                     for f, d in a.draws.items()},
        "metrics": a.metrics,
        "budget_table": table,
        "reach": a.reach,
        "match": a.match,
        "importance": {"evaluator": a.evaluator, "rows": a.importance.to_dict("records")},
        "improvement": a.improvement.to_dict("records"),
        "notes": a.notes,
    }
