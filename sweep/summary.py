"""The statistics of the panels of Figures 2-3, written as summary.md/.json.

Zhao, Mathieu & LeCun, "Energy-based Generative Adversarial Networks", ICLR 2017,
section 4.1: histograms of the modified inception score I over the MNIST grid of Table 1.
The paper's claim under test: "EBGAN scores are more concentrated at high I than GAN
scores" (EBGANs are more reliably trained).

The numbers live here (``summary.md``/``.json``): per-group statistics, the EBGAN - GAN
comparison and one sentence on the claim. The table is read by ``sweep/experiment.py``
and cut into the figures' subsets by ``sweep/panels.py``; this module never imports Ray.

Conventions (the same in the figures and in the summary):
- "EBGAN" is family ``ebgan`` (never ``ebgan_pt``), "GAN" is family ``gan``.
- n = every trial in the table for that group (finished or failed). A trial is *scored*
  when its status is ``ok`` and its score is finite; only scored trials enter the
  histograms, the medians and the KS test. Failures (``diverged``, ``error``; any other
  status counts as ``error``) stay in n, and count as "not above" in the fraction of
  trials above half the real-data score.
- A missing or empty table is a ``sweep.experiment.FiguresError``; so is a table holding neither
  the ``ebgan`` nor the ``gan`` family. A table holding only one of the two draws what
  it can and says in the notes (and the titles) which group is missing.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats

from sweep.experiment import Experiment, classifier_sha, family_progress
from sweep.panels import Group, Panel, best_trials, fig2_panels, fig3_panels, plain

CLAIM = "EBGAN scores are more concentrated at high I than GAN scores"


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


def _clean(v: Any) -> Any:
    """A JSON-safe copy: numpy scalars to Python, NaN/inf to null, paths to strings."""
    if isinstance(v, dict):
        return {str(k): _clean(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_clean(x) for x in v]
    if isinstance(v, Path):
        return str(v)
    return plain(v)



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
            "real_data_score": ref, "half": ref / 2, "source": clf.get("data_source", clf.get("source")),
            "test_accuracy": clf.get("test_accuracy"), "sha256": classifier_sha(clf)},
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
