"""The statistics of the panels of Figures 2-3, written as summary.md/.json.

Zhao, Mathieu & LeCun, "Energy-based Generative Adversarial Networks", ICLR 2017,
section 4.1: histograms of the modified inception score I over the MNIST grid of Table 1.
The paper's claim under test: "EBGAN scores are more concentrated at high I than GAN
scores" (EBGANs are more reliably trained).

The numbers live here (``summary.md``/``.json``): per-group statistics of I and of the
Frechet distance FD (lower is better), the EBGAN - GAN comparison, the classifier's
probes, the estimate of the full grid while it is incomplete (``partial_estimate.py``) and
one sentence on the claim. Another view of families (``family_view.py``: e.g. the six
losses of ``examples/losses.yaml``) gets a row per family and each family compared with
the view's baseline (its last family) the same way; the claim is then checked only when
the view compares ebgan with gan as baseline. The table is read by ``experiment.py`` and cut into the figures'
subsets by ``panels.py``; ``markdown.py`` renders summary.md. Never imports Ray or torch.

Conventions (the same in the figures and in the summary):
- "EBGAN" is family ``ebgan`` (never ``ebgan_pt``), "GAN" is family ``gan``; the
  default view compares these two.
- n = every trial in the table for that group (finished or failed). A trial is *scored*
  when its status is ``ok`` and its score is finite; only scored trials enter the
  histograms, the medians and the KS test (for FD: status ``ok`` and a finite ``fd``). Failures (``diverged``, ``error``; any other
  status counts as ``error``) stay in n, and count as "not above" in the fraction of
  trials above half the real-data score.
- A missing or empty table is a ``sweep.report.experiment.FiguresError``; so is a table holding
  none of the view's families. A table holding only some of them draws what it can and
  says in the notes (and the titles) which group is missing.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats

from sweep.report.early_stopping import early_stopping
from sweep.report.experiment import Experiment, classifier_sha, family_progress
from sweep.report.family_view import PAPER_VIEW, FamilyView
from sweep.report.markdown import fmt_p, render_markdown
from sweep.report.panels import (Group, Panel, best_trials, fig2_panels, fig3_panels,
                                 fig3_roles, plain)
from sweep.report.partial_estimate import DIFF, estimate_full_grid

__all__ = ["summarize", "write_summary", "render_markdown", "compare", "group_stats",
           "claim_sentence", "CLAIM"]

CLAIM = "EBGAN scores are more concentrated at high I than GAN scores"
PAPER_PAIR = PAPER_VIEW  # (ebgan, gan): the claim's comparison


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
    out["fd"] = fd_stats(g.fds)
    return out


def fd_stats(fd: np.ndarray) -> dict[str, Any]:
    """n, median, quartiles, IQR and minimum (the best) of the Frechet distances."""
    if len(fd) == 0:
        return {"n": 0, "median": None, "q25": None, "q75": None, "iqr": None, "min": None}
    q25, med, q75 = np.percentile(fd, [25, 50, 75])
    return {"n": int(len(fd)), "median": float(med), "q25": float(q25), "q75": float(q75),
            "iqr": float(q75 - q25), "min": float(fd.min())}


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
    x = next((x for x in panel.get("comparisons", ())
              if (x["family_a"], x["family_b"]) == PAPER_PAIR), None)
    if x is None:
        return (f"The paper's claim ({CLAIM}) is not checked here: this report compares "
                f"{', '.join(panel['groups'])}, not EBGAN against a GAN baseline (the default "
                "view: ebgan, gan).")
    e, g, c = panel["groups"][x["label_a"]], panel["groups"][x["label_b"]], x["score"]
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
    p = fmt_p(c["ks_pvalue"])
    return (f"{text} (KS D = {c['ks_statistic']:.3f}, p {p if p[0] == '<' else '= ' + p}): "
            f"{verdict} the paper's claim that {CLAIM}.")


def partial_sentence(est: dict[str, Any]) -> str | None:
    """The full grid's estimated EBGAN - GAN difference of median I, while it is partial."""
    if not est.get("partial"):
        return None
    row = next((r for r in est["rows"] if r["metric"] == "score" and r["group"] == DIFF), None)
    if not est["random_sample"]:
        return ("The grid is incomplete and the finished trials are not a random sample of it: "
                "these numbers describe the finished trials only.")
    if row is None:
        return None
    k = sum(f["k"] for f in est["families"].values())
    n = sum(f["planned"] for f in est["families"].values())
    lo, hi = row["ci95"]
    text = (f"The grid is incomplete: from a random sample of {k:,} of {n:,} trials, the full "
            f"grid's difference of median I is estimated at {row['estimate']:+.3f} (95% CI "
            f"{lo:+.3f} to {hi:+.3f})")
    more = row.get("more_trials")
    if more and more.get("possible"):
        text += (f"; about {more['more_trials']:,} more trials would make the interval "
                 "exclude 0 if the estimate held")
    return text + "."


def _panel_record(p: Panel, view: FamilyView, reference: float | None, n_resamples: int,
                  seed: int, with_fd: bool) -> dict:
    """A panel's group statistics and each family against the view's baseline (the
    paper's EBGAN − GAN): ``comparisons``, one per pair; ``comparison`` and
    ``comparison_fd`` the first pair's (None when the view holds one family)."""
    groups = {k: group_stats(g, reference) for k, g in p.groups.items()}
    pairs = []
    for fa, fb in view.pairs():
        a, b = p.groups[view.label(fa)], p.groups[view.label(fb)]
        pairs.append({"family_a": fa, "family_b": fb, "label_a": a.label, "label_b": b.label,
                      "pair": f"{a.label} − {b.label}",
                      "score": compare(a.scores, b.scores, n_resamples=n_resamples, seed=seed),
                      # FD: lower is better, so a negative difference favours family a
                      "fd": compare(a.fds, b.fds, n_resamples=n_resamples, seed=seed)
                      if with_fd else None})
    rec: dict[str, Any] = {"figure": p.figure, "panel": p.key, "subset": p.title,
                           "progress": p.progress(), "groups": groups,
                           "comparison": pairs[0]["score"] if pairs else None,
                           "comparison_fd": pairs[0]["fd"] if pairs else None,
                           "comparisons": pairs}
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
    fd = exp.has_fd
    fig2 = [_panel_record(p, exp.view, ref, n_resamples, seed, fd) for p in fig2_panels(exp)]
    fig3 = [_panel_record(p, exp.view, ref, n_resamples, seed, fd) for p in fig3_panels(exp)]
    split, refs = fig3_roles(exp)
    est = estimate_full_grid(exp, n_resamples=n_resamples, seed=seed)
    claim = " ".join(x for x in (claim_sentence(fig2[0]), partial_sentence(est)) if x)
    plan = exp.plan or {}
    return {
        "experiment": str(exp.path),
        "name": (exp.plan or {}).get("name"),
        "view": {"families": list(exp.view.families), "baseline": exp.view.baseline,
                 "labels": dict(exp.view.labels), "source": exp.view.source,
                 "fig3_split": split, "fig3_reference": refs},
        "reference": None if ref is None else {
            "real_data_score": ref, "half": ref / 2, "source": clf.get("data_source", clf.get("source")),
            "test_accuracy": clf.get("test_accuracy"), "sha256": classifier_sha(clf)},
        "classifier": None if not clf else {
            "data_source": clf.get("data_source", clf.get("source")),
            "test_accuracy": clf.get("test_accuracy"), "n_test": clf.get("n_test"),
            "real_data_score": ref, "sha256": classifier_sha(clf)},
        "probes": exp.probes,
        "data_source": exp.data_source,
        "budget": plan.get("budget"),
        "score_samples": plan.get("score_samples"),
        "has_fd": fd,
        "progress": family_progress(exp),
        "fig2": fig2,
        "fig3": fig3,
        "best": best_trials(exp),
        "best_fd": best_trials(exp, by="fd") if fd else None,
        "estimate": est,
        "early_stopping": early_stopping(exp),
        "estimate_text": sample_sentence(est),
        "claim": claim,
        "notes": list(exp.notes),
        "conventions": ("n counts finished and failed trials; medians, IQR, histograms and the "
                        "KS test use trials with status ok and a finite score (FD: a finite fd); "
                        "the fraction above half the real-data score is over n (failures are not "
                        f"above); CI: {n_resamples} percentile-bootstrap resamples, seed {seed}"),
    }


def write_summary(s: dict[str, Any], out_dir: Path) -> tuple[Path, Path]:
    """Write summary.json and summary.md into out_dir."""
    out_dir.mkdir(parents=True, exist_ok=True)
    js, md = out_dir / "summary.json", out_dir / "summary.md"
    js.write_text(json.dumps(_clean(s), indent=2, allow_nan=False) + "\n")
    md.write_text(render_markdown(s))
    return md, js


def sample_sentence(est: dict[str, Any]) -> str | None:
    """What the estimate rests on, in one sentence; None when nothing is partial."""
    if not est.get("partial"):
        return None
    fams = est["families"]
    if not est["random_sample"]:
        why = "; ".join(f"{f['family']}: {f['reason']}" for f in fams.values() if "reason" in f)
        return ("The grid is incomplete and the finished trials are not a random sample of it "
                f"({why}): the numbers describe the finished trials only.")
    parts = [f"{f['family']} {f['k']:,} of {f['planned']:,} trials ({f['groups']:,} of "
             f"{f['groups_planned']:,} architecture groups"
             + (f"; {f['done'] - f['k']:,} other finished trials left out: a group not yet "
                "complete or a gap in the order"
                if f["done"] > f["k"] else "") + ")" for f in fams.values()]
    return ("The grid is incomplete: these are estimates of the full grid from a uniform "
            f"random sample of {', '.join(parts)}, the groups handed out first; 95% CIs "
            "resample whole groups and carry the finite-population correction sqrt(1 - n/N).")
