"""The results table -> the panels of Figures 2-3 and their statistics (summary.md/.json).

Zhao, Mathieu & LeCun, "Energy-based Generative Adversarial Networks", ICLR 2017,
section 4.1: histograms of the modified inception score I over the MNIST grid of Table 1.
The paper's claim under test: "EBGAN scores are more concentrated at high I than GAN
scores" (EBGANs are more reliably trained).

This module reads only the experiment directory's files (``trials.parquet``,
``plan.json``, ``classifier.json``); it never imports Ray, so the figures rebuild from
the table alone. ``sweep/figures.py`` draws what :func:`fig2_panels` and
:func:`fig3_panels` return, so the pictures and the numbers come from the same subsets.

Conventions (the same in the figures and in the summary):
- "EBGAN" is family ``ebgan`` (never ``ebgan_pt``), "GAN" is family ``gan``.
- n = every trial in the table for that group (finished or failed). A trial is *scored*
  when its status is ``ok`` and its score is finite; only scored trials enter the
  histograms, the medians and the KS test. Failures (``diverged``, ``error``; any other
  status counts as ``error``) stay in n, and count as "not above" in the fraction of
  trials above half the real-data score.
- A missing or empty table is a :class:`FiguresError`; so is a table holding neither
  the ``ebgan`` nor the ``gan`` family. A table holding only one of the two draws what
  it can and says in the notes (and the titles) which group is missing.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd
from scipy import stats

GROUPS = {"EBGAN": "ebgan", "GAN": "gan"}  # group label -> family in the table
REQUIRED_COLUMNS = ("family", "status", "score", "nLayerG", "nLayerD", "optimD", "optimG", "lr")
CLAIM = "EBGAN scores are more concentrated at high I than GAN scores"
HOW_TO_MAKE = ("run `make grid` (trains the sweep and writes the table) or `sweep collect` "
               "(rebuilds the table from the trials already finished)")

Filter = dict[str, Callable[[Any], bool]]  # axis -> does this value belong to the subset


class FiguresError(Exception):
    """The results cannot be drawn; the message says what is missing and what to run."""


# --- the experiment directory ---------------------------------------------------------
@dataclass
class Experiment:
    """What the figures read: the results table plus the optional plan and classifier."""
    path: Path
    trials: pd.DataFrame
    plan: dict[str, Any] | None
    classifier: dict[str, Any] | None
    notes: list[str] = field(default_factory=list)

    @property
    def reference(self) -> float | None:
        """The real-data score I of the classifier (MNIST test digits), if known."""
        if self.classifier is None:
            return None
        ref = self.classifier.get("real_data_score")
        return float(ref) if isinstance(ref, (int, float)) and math.isfinite(ref) else None


def _read_json(path: Path, what: str, notes: list[str]) -> dict[str, Any] | None:
    if not path.is_file():
        notes.append(f"no {path.name}: {what}")
        return None
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        notes.append(f"{path.name} unreadable ({exc}): {what}")
        return None
    if not isinstance(data, dict):
        notes.append(f"{path.name} is not a JSON object: {what}")
        return None
    return data


def load_experiment(exp_dir: str | Path) -> Experiment:
    """Read ``trials.parquet``, ``plan.json`` and ``classifier.json`` of one experiment."""
    exp = Path(exp_dir)
    table = exp / "trials.parquet"
    if not exp.is_dir():
        raise FiguresError(f"no experiment directory at {exp}: {HOW_TO_MAKE}")
    if not table.is_file():
        raise FiguresError(f"no results table at {table}: {HOW_TO_MAKE}")
    try:
        df = pd.read_parquet(table)
    except Exception as exc:  # pyarrow raises several types for a damaged file
        raise FiguresError(f"cannot read the results table {table} ({exc}): {HOW_TO_MAKE}") from None
    if len(df) == 0:
        raise FiguresError(f"the results table {table} has no trials yet: {HOW_TO_MAKE}")
    missing = [c for c in REQUIRED_COLUMNS if c not in df.columns]
    if missing:
        raise FiguresError(f"the results table {table} lacks the column(s) {', '.join(missing)}: "
                           f"it was not written by this version; {HOW_TO_MAKE}")
    present = [g for g, fam in GROUPS.items() if (df["family"] == fam).any()]
    if not present:
        fams = ", ".join(sorted(map(str, df["family"].unique())))
        raise FiguresError(f"the results table {table} holds neither the 'ebgan' nor the 'gan' "
                           f"family (it holds: {fams}); Figures 2-3 compare those two: {HOW_TO_MAKE}")

    df = df.copy()
    df["score"] = pd.to_numeric(df["score"], errors="coerce").astype(float)
    df["lr"] = df["lr"].astype(float)
    notes: list[str] = []
    for g, fam in GROUPS.items():
        if g not in present:
            notes.append(f"no {g} trials (family '{fam}') in the table: its histograms are empty")
    plan = _read_json(exp / "plan.json", "progress is reported without planned counts", notes)
    clf = _read_json(exp / "classifier.json",
                     "no real-data reference line and no fraction above half of it", notes)
    out = Experiment(exp, df, plan, clf, notes)
    if clf is not None and out.reference is None:
        notes.append("classifier.json has no finite real_data_score: no reference line")
    # Scores are only comparable when one classifier made them (SPEC, "The score").
    if "classifier_sha256" in df.columns:
        shas = sorted(map(str, df["classifier_sha256"].dropna().unique()))
        if len(shas) > 1:
            notes.append(f"the table mixes scores from {len(shas)} classifiers "
                         f"({', '.join(s[:12] for s in shas)}): scores are not comparable")
        elif shas and clf is not None and clf.get("sha256") and clf["sha256"] != shas[0]:
            notes.append(f"classifier.json (sha256 {str(clf['sha256'])[:12]}) is not the classifier "
                         f"that scored the trials ({shas[0][:12]}): the reference line may not match")
    if "data_source" in df.columns:
        sources = sorted(map(str, df["data_source"].dropna().unique()))
        if len(sources) > 1:
            notes.append(f"the table mixes training data sources ({', '.join(sources)})")
    return out


# --- the plan: how many trials a subset should hold -----------------------------------
def _family_plan(plan: dict[str, Any] | None, family: str) -> tuple[int | None, dict | None]:
    """(planned trials of the family, its grid axes if it is a grid search)."""
    if plan is None:
        return None, None
    count = (plan.get("families") or {}).get(family)
    count = int(count) if isinstance(count, (int, float)) else None
    axes = (plan.get("axes") or {}).get(family)
    search = (plan.get("search") or {}).get(family, "grid")
    if search != "grid" or not isinstance(axes, dict) or \
            not all(isinstance(v, list) for v in axes.values()):
        axes = None
    return count, axes


def planned(plan: dict[str, Any] | None, family: str, filt: Filter) -> tuple[int | None, bool]:
    """Planned trials of `family` inside the subset `filt`, and whether that is exact.

    Grid families: the product over axes of the values that pass the filter, times the
    seeds (the plan's grid is a Cartesian product). Otherwise, or for an axis the plan
    does not list, the family's planned total (exact only when the filter is empty).
    """
    count, axes = _family_plan(plan, family)
    if count is None:
        return None, False
    if not filt:
        return count, True
    if axes is None or any(a not in axes for a in filt):
        return count, False
    seeds = len((plan or {}).get("seeds") or [0])
    n = seeds
    for axis, values in axes.items():
        keep = filt.get(axis)
        n *= sum(1 for v in values if keep(v)) if keep else len(values)
    return n, True


# --- panels: the subsets the figures draw ---------------------------------------------
@dataclass
class Group:
    """One group (EBGAN or GAN) inside one panel."""
    label: str
    family: str
    trials: pd.DataFrame          # every trial of the group in the panel (ok and failed)
    planned: int | None = None    # trials the plan puts in this subset (None: unknown)
    planned_exact: bool = False   # False: `planned` is the family's total, not the subset's
    family_done: int = 0          # trials of the whole family in the table

    @property
    def scored(self) -> pd.DataFrame:
        t = self.trials
        return t[(t["status"] == "ok") & np.isfinite(t["score"].to_numpy(dtype=float))]

    @property
    def scores(self) -> np.ndarray:
        """Scores of the scored trials: what the histogram and statistics use."""
        return self.scored["score"].to_numpy(dtype=float)

    @property
    def n(self) -> int:
        return len(self.trials)

    def counts(self) -> dict[str, int]:
        st = self.trials["status"]
        ok, div = int((st == "ok").sum()), int((st == "diverged").sum())
        return {"n": self.n, "n_ok": ok, "n_diverged": div, "n_error": self.n - ok - div,
                "n_scored": len(self.scores)}

    def legend(self) -> str:
        """E.g. 'EBGAN (n=512, 3 failed)'."""
        c = self.counts()
        extra = []
        if c["n_diverged"] + c["n_error"]:
            extra.append(f"{c['n_diverged'] + c['n_error']:,} failed")
        if c["n_ok"] > c["n_scored"]:
            extra.append(f"{c['n_ok'] - c['n_scored']:,} unscored")
        return f"{self.label} (n={self.n:,}{', ' + ', '.join(extra) if extra else ''})"


@dataclass
class Panel:
    figure: str                   # "fig2" | "fig3"
    key: str                      # "a", "b", "c" | "adam/sgd lr=0.001"
    title: str                    # what the subset is, without counts
    filt: Filter
    groups: dict[str, Group]
    setting: dict[str, Any] | None = None  # fig3: optimD, optimG, lr
    counted: tuple[str, ...] = ("EBGAN", "GAN")  # groups whose progress the title reports

    def progress(self) -> str | None:
        """'1,234 of 6,656 trials done' when the plan says more are coming, else None."""
        groups = [self.groups[k] for k in self.counted]
        done = sum(g.n for g in groups)
        plans = [g.planned for g in groups]
        if any(p is None for p in plans):
            return None
        total = sum(plans)  # type: ignore[arg-type]
        if done >= total:
            return None
        if all(g.planned_exact for g in groups):
            return f"{done:,} of {total:,} trials done"
        fam_done = sum(g.family_done for g in groups)
        if fam_done >= total:
            return None
        return f"{fam_done:,} of {total:,} trials of the families done"


def _mask(df: pd.DataFrame, filt: Filter) -> np.ndarray:
    mask = np.ones(len(df), dtype=bool)
    for axis, keep in filt.items():
        col = df[axis]
        kept = [v for v in pd.unique(col) if keep(v)]  # test each distinct value once
        mask &= col.isin(kept).to_numpy(dtype=bool)
    return mask


def _group(exp: Experiment, label: str, filt: Filter) -> Group:
    fam = GROUPS[label]
    fam_trials = exp.trials[exp.trials["family"] == fam]
    n_planned, exact = planned(exp.plan, fam, filt)
    return Group(label, fam, fam_trials[_mask(fam_trials, filt)], n_planned, exact,
                 len(fam_trials))


def _at_most(k: int) -> Callable[[Any], bool]:
    return lambda v: int(v) <= k


def _equals(x: Any) -> Callable[[Any], bool]:
    if isinstance(x, float):
        return lambda v: math.isclose(float(v), x, rel_tol=1e-9)
    return lambda v: v == x


FIG2_SUBSETS: list[tuple[str, str, Filter]] = [
    ("a", "all", {}),
    ("b", "nLayerG ≤ 4, nLayerD ≤ 4", {"nLayerG": _at_most(4), "nLayerD": _at_most(4)}),
    ("c", "nLayerG ≤ 3, nLayerD ≤ 3", {"nLayerG": _at_most(3), "nLayerD": _at_most(3)}),
]


def fig2_panels(exp: Experiment) -> list[Panel]:
    """Figure 2: (a) all EBGANs vs all GANs, (b) both with nLayerG, nLayerD <= 4, (c) <= 3."""
    return [Panel("fig2", key, title, filt, {g: _group(exp, g, filt) for g in GROUPS})
            for key, title, filt in FIG2_SUBSETS]


def fig3_settings(exp: Experiment) -> tuple[list[float], list[tuple[str, str]]]:
    """The GAN optimization settings present: lr values (largest first), (optimD, optimG)."""
    gan = exp.trials[exp.trials["family"] == GROUPS["GAN"]]
    lrs = sorted({float(v) for v in gan["lr"]}, reverse=True)
    combos = sorted({(str(d), str(g)) for d, g in zip(gan["optimD"], gan["optimG"])})
    return lrs, combos


def fig3_panels(exp: Experiment) -> list[Panel]:
    """Figure 3: one panel per GAN optimization setting (optimD x optimG x lr) present in
    the table, row-major over (lr, largest first) x (optimD/optimG); the EBGAN group of
    every panel is all EBGANs (the paper's reference), unfiltered."""
    lrs, combos = fig3_settings(exp)
    ebgan = _group(exp, "EBGAN", {})
    panels = []
    for lr in lrs:
        for d, g in combos:
            filt = {"optimD": _equals(d), "optimG": _equals(g), "lr": _equals(lr)}
            panels.append(Panel("fig3", f"{d}/{g} lr={lr:g}", f"{d}/{g}, lr {lr:g}", filt,
                                {"EBGAN": ebgan, "GAN": _group(exp, "GAN", filt)},
                                setting={"optimD": d, "optimG": g, "lr": lr}, counted=("GAN",)))
    return panels


# --- statistics -----------------------------------------------------------------------
def group_stats(g: Group, reference: float | None) -> dict[str, Any]:
    """n and status counts; median, quartiles and IQR of I over scored trials; the
    fraction of all n trials above half the real-data score (failures are not above)."""
    out: dict[str, Any] = g.counts()
    s = g.scores
    if len(s):
        q25, med, q75 = np.percentile(s, [25, 50, 75])
        out.update(median=float(med), q25=float(q25), q75=float(q75), iqr=float(q75 - q25),
                   max=float(s.max()))
    else:
        out.update(median=None, q25=None, q75=None, iqr=None, max=None)
    out["frac_above_half_ref"] = (float((s > reference / 2).sum() / g.n)
                                  if reference is not None and g.n else None)
    out["planned"] = g.planned if g.planned_exact else None
    return out


def _median_diff(x: np.ndarray, y: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.median(x, axis=axis) - np.median(y, axis=axis)


def compare(ebgan: np.ndarray, gan: np.ndarray, *, n_resamples: int = 2000,
            seed: int = 0) -> dict[str, Any]:
    """EBGAN - GAN: difference of medians with a 95% percentile-bootstrap CI (resampling
    each group independently), and the two-sample Kolmogorov-Smirnov test."""
    out: dict[str, Any] = {"median_diff": None, "ci95": None, "ks_statistic": None,
                           "ks_pvalue": None, "note": None}
    if len(ebgan) == 0 or len(gan) == 0:
        out["note"] = "a group has no scored trial"
        return out
    out["median_diff"] = float(np.median(ebgan) - np.median(gan))
    ks = stats.ks_2samp(ebgan, gan)
    out["ks_statistic"], out["ks_pvalue"] = float(ks.statistic), float(ks.pvalue)
    if min(len(ebgan), len(gan)) < 5:  # a bootstrap of a handful of values means little
        out["note"] = "fewer than 5 scored trials in a group: no confidence interval"
        return out
    res = stats.bootstrap((ebgan, gan), _median_diff, n_resamples=n_resamples,
                          vectorized=True, method="percentile", batch=250,
                          rng=np.random.default_rng(seed))
    lo, hi = res.confidence_interval
    out["ci95"] = [float(lo), float(hi)]
    return out


def claim_sentence(panel: dict[str, Any]) -> str:
    """One neutral sentence on the paper's claim from the Figure 2(a) numbers."""
    e, g, c = panel["groups"]["EBGAN"], panel["groups"]["GAN"], panel["comparison"]
    if e["median"] is None or g["median"] is None:
        return (f"The paper's claim ({CLAIM}) cannot be checked yet: "
                f"{'EBGAN' if e['median'] is None else 'GAN'} has no scored trial.")
    parts = [f"Over all trials, the median I is {e['median']:.3f} for EBGANs "
             f"(IQR {e['iqr']:.3f}) and {g['median']:.3f} for GANs (IQR {g['iqr']:.3f})"]
    if c["ci95"] is not None:
        parts.append(f"a difference of {c['median_diff']:+.3f} (95% CI {c['ci95'][0]:+.3f} "
                     f"to {c['ci95'][1]:+.3f})")
    if e["frac_above_half_ref"] is not None:
        parts.append(f"{100 * e['frac_above_half_ref']:.1f}% of EBGANs and "
                     f"{100 * g['frac_above_half_ref']:.1f}% of GANs score above half the "
                     f"real-data score")
    text = "; ".join(parts)
    if c["ci95"] is None:
        verdict = "too few scored trials to bound the difference, so the numbers neither " \
                  "support nor contradict"
    elif c["ci95"][0] > 0:
        verdict = "the EBGAN median is higher with a confidence interval excluding 0, " \
                  "which is consistent with"
    elif c["ci95"][1] < 0:
        verdict = "the EBGAN median is lower with a confidence interval excluding 0, " \
                  "which runs against"
    else:
        verdict = "the confidence interval includes 0, so the medians do not separate " \
                  "the groups as stated in"
    p = _p(c["ks_pvalue"])
    return (f"{text} (KS D = {c['ks_statistic']:.3f}, p {p if p[0] == '<' else '= ' + p}): "
            f"{verdict} the paper's claim that {CLAIM}.")


def _panel_record(p: Panel, reference: float | None, n_resamples: int, seed: int) -> dict:
    groups = {k: group_stats(g, reference) for k, g in p.groups.items()}
    rec: dict[str, Any] = {"figure": p.figure, "panel": p.key, "subset": p.title,
                           "progress": p.progress(), "groups": groups,
                           "comparison": compare(p.groups["EBGAN"].scores, p.groups["GAN"].scores,
                                                 n_resamples=n_resamples, seed=seed)}
    if p.setting is not None:
        rec["setting"] = p.setting
    return rec


def family_progress(exp: Experiment) -> dict[str, dict[str, Any]]:
    """Per family in the table or the plan: trials done (finished or failed) vs planned."""
    fams = list(dict.fromkeys([*((exp.plan or {}).get("families") or {}),
                               *map(str, exp.trials["family"].unique())]))
    out = {}
    for fam in fams:
        t = exp.trials[exp.trials["family"] == fam]
        st = t["status"]
        n_planned, _ = planned(exp.plan, fam, {})
        ok, div = int((st == "ok").sum()), int((st == "diverged").sum())
        out[fam] = {"done": len(t), "planned": n_planned, "n_ok": ok, "n_diverged": div,
                    "n_error": len(t) - ok - div,
                    "fraction_done": (len(t) / n_planned) if n_planned else None}
    return out


CONFIG_KEYS = ("nLayerG", "nLayerD", "sizeG", "sizeD", "dropoutD", "optimD", "optimG", "lr",
               "margin", "pt_weight", "seed")


def best_trials(exp: Experiment) -> dict[str, dict[str, Any] | None]:
    """The highest-scoring scored trial of gan, ebgan and ebgan_pt (Figure 4), or None."""
    out: dict[str, dict[str, Any] | None] = {}
    t = exp.trials
    for fam in ("gan", "ebgan", "ebgan_pt"):
        s = t[(t["family"] == fam) & (t["status"] == "ok") & np.isfinite(t["score"])]
        if len(s) == 0:
            out[fam] = None
            continue
        sort_by = ["score", "trial_key"] if "trial_key" in s.columns else ["score"]
        row = s.sort_values(sort_by, ascending=[False] + [True] * (len(sort_by) - 1)).iloc[0]
        rec = {k: _plain(row[k]) for k in (*CONFIG_KEYS, "trial_key", "trial_dir", "score")
               if k in row.index}
        out[fam] = rec
    return out


def _plain(v: Any) -> Any:
    """numpy scalars -> Python values for JSON."""
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def _clean(v: Any) -> Any:
    """A JSON-safe copy: numpy scalars to Python, NaN/inf to null, paths to strings."""
    if isinstance(v, dict):
        return {str(k): _clean(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_clean(x) for x in v]
    if isinstance(v, Path):
        return str(v)
    return _plain(v)


def summarize(exp: Experiment, *, n_resamples: int = 2000, seed: int = 0) -> dict[str, Any]:
    """Everything summary.json holds (summary.md is rendered from it)."""
    ref = exp.reference
    clf = exp.classifier or {}
    fig2 = [_panel_record(p, ref, n_resamples, seed) for p in fig2_panels(exp)]
    fig3 = [_panel_record(p, ref, n_resamples, seed) for p in fig3_panels(exp)]
    return {
        "experiment": str(exp.path),
        "name": (exp.plan or {}).get("name"),
        "reference": None if ref is None else {
            "real_data_score": ref, "half": ref / 2, "source": clf.get("source"),
            "test_accuracy": clf.get("test_accuracy"), "sha256": clf.get("sha256")},
        "progress": family_progress(exp),
        "fig2": fig2,
        "fig3": fig3,
        "best": best_trials(exp),
        "claim": claim_sentence(fig2[0]),
        "notes": list(exp.notes),
        "conventions": ("n counts finished and failed trials; medians, IQR, histograms and the "
                        "KS test use trials with status ok and a finite score; the fraction above "
                        "half the real-data score is over n (failures are not above); CI: "
                        f"{n_resamples} percentile-bootstrap resamples, seed {seed}"),
    }


# --- summary.md -----------------------------------------------------------------------
def _p(p: float) -> str:
    """A p-value; below 1e-16 the digits are rounding noise."""
    return "< 1e-16" if p < 1e-16 else f"{p:.2g}"


def _f(v: float | None, fmt: str = ".3f") -> str:
    return "–" if v is None else format(v, fmt)


def _pct(v: float | None) -> str:
    return "–" if v is None else f"{100 * v:.1f}%"


def _group_row(label: str, s: dict[str, Any]) -> str:
    iqr = "–" if s["q25"] is None else f"{s['q25']:.3f}–{s['q75']:.3f}"
    n = f"{s['n']:,}" + (f" of {s['planned']:,}" if s["planned"] and s["planned"] > s["n"] else "")
    return (f"| {label} | {n} | {s['n_ok']:,} | {s['n_diverged']:,} | {s['n_error']:,} | "
            f"{_f(s['median'])} | {iqr} | {_pct(s['frac_above_half_ref'])} |")


def _comparison_cells(c: dict[str, Any]) -> str:
    ci = "–" if c["ci95"] is None else f"{c['ci95'][0]:+.3f} to {c['ci95'][1]:+.3f}"
    p = "–" if c["ks_pvalue"] is None else _p(c["ks_pvalue"])
    diff = "–" if c["median_diff"] is None else f"{c['median_diff']:+.3f}"
    return f"{diff} | {ci} | {_f(c['ks_statistic'])} | {p}"


def render_markdown(s: dict[str, Any]) -> str:
    """summary.md: readable tables of the numbers in summary.json."""
    ref = s["reference"]
    lines = [f"# EBGAN grid search on MNIST: summary of `{s['experiment']}`", ""]
    if ref:
        acc = ref.get("test_accuracy")
        acc_txt = f", test accuracy {100 * acc:.2f}%" if isinstance(acc, (int, float)) else ""
        lines.append(f"Real-data score I = {ref['real_data_score']:.3f} (classifier "
                     f"{ref.get('source') or '?'}{acc_txt}); half of it, "
                     f"{ref['half']:.3f}, is the threshold in the column \"> ½ real\".")
    else:
        lines.append("No real-data reference score (classifier.json missing): the \"> ½ real\" "
                     "column is empty and the figures have no reference line.")
    lines += ["", f"Conventions: {s['conventions']}.", "", "## The paper's claim", "",
              s["claim"], "", "## Progress", "",
              "| family | done | planned | ok | diverged | error |",
              "|---|---:|---:|---:|---:|---:|"]
    for fam, p in s["progress"].items():
        planned_txt = "?" if p["planned"] is None else f"{p['planned']:,}"
        lines.append(f"| {fam} | {p['done']:,} | {planned_txt} | {p['n_ok']:,} | "
                     f"{p['n_diverged']:,} | {p['n_error']:,} |")
    head = ["| panel | group | n | ok | diverged | error | median I | IQR (25–75%) | > ½ real |",
            "|---|---|---:|---:|---:|---:|---:|---|---:|"]
    comp_head = ["| panel | median EBGAN − GAN | 95% CI | KS D | KS p |",
                 "|---|---:|---|---:|---:|"]
    for fig, name in (("fig2", "Figure 2: EBGAN vs GAN"),
                      ("fig3", "Figure 3: GANs by optimization setting (optimD/optimG, lr) "
                               "vs all EBGANs")):
        lines += ["", f"## {name}", "", *head]
        for p in s[fig]:
            label = f"({p['panel']}) {p['subset']}" if fig == "fig2" else p["subset"]
            for gname in ("EBGAN", "GAN"):
                if fig == "fig3" and gname == "EBGAN":
                    if p is s[fig][0]:  # the same reference group in every Figure 3 panel
                        lines.append(_group_row("all (reference) | EBGAN", p["groups"][gname]))
                    continue
                lines.append(_group_row(f"{label} | {gname}", p["groups"][gname]))
        lines += ["", *comp_head]
        for p in s[fig]:
            label = f"({p['panel']}) {p['subset']}" if fig == "fig2" else p["subset"]
            lines.append(f"| {label} | {_comparison_cells(p['comparison'])} |")
        if not s[fig]:
            lines.append("| (no panels: no GAN trials) | – | – | – | – |")
    lines += ["", "## Best trials (Figure 4)", "",
              "| family | I | nLayerG | nLayerD | sizeG | sizeD | dropoutD | optimD | optimG | lr "
              "| trial |", "|---|---:|---:|---:|---:|---:|---|---|---|---:|---|"]
    for fam, b in s["best"].items():
        if b is None:
            lines.append(f"| {fam} | no scored trial |" + " |" * 9)
            continue
        cells = [b.get(k, "?") for k in ("nLayerG", "nLayerD", "sizeG", "sizeD", "dropoutD",
                                         "optimD", "optimG")]
        lr = b.get("lr")
        lines.append(f"| {fam} | {b['score']:.3f} | " + " | ".join(map(str, cells))
                     + f" | {lr:g} | {b.get('trial_key', '?')} |")
    if s["notes"]:
        lines += ["", "## Notes", "", *[f"- {n}" for n in s["notes"]]]
    return "\n".join(lines) + "\n"


def write_summary(s: dict[str, Any], out_dir: Path) -> tuple[Path, Path]:
    """Write summary.json and summary.md into out_dir."""
    out_dir.mkdir(parents=True, exist_ok=True)
    js, md = out_dir / "summary.json", out_dir / "summary.md"
    js.write_text(json.dumps(_clean(s), indent=2, allow_nan=False) + "\n")
    md.write_text(render_markdown(s))
    return md, js
