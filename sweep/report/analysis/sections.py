"""summary.md's sections for ``tables.py``: budget, probability of improvement, importance.

Rendering only; the numbers are summary.json's ``analysis`` (``analysis.analysis_summary``)
and, for the median differences beside the probability of improvement, its ``fig2``.
"""
from __future__ import annotations

import math
from typing import Any

from sweep.report.analysis.budget import REACH, TABLE_K
from sweep.report.analysis.importance import EVALUATORS
from sweep.report.analysis.population import METRIC_NAMES, label


def _v(x: Any, fmt: str) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    return "∞" if isinstance(x, float) and math.isinf(x) else format(x, fmt)


def match_sentence(an: dict[str, Any]) -> str | None:
    """'16 GAN configurations match the expected best EBGAN of k = 5 (FD 21.9)'."""
    parts = []
    for m in an.get("match") or []:
        fmt = ".3f" if m["metric"] == "score" else ".2f"
        what = (f"the expected best {label(m['family_a'])} of k = {m['k_a']} "
                f"({METRIC_NAMES[m['metric']]} {_v(m['target'], fmt)})")
        if m["k_b"] is None:
            parts.append(f"no number of {label(m['family_b'])} configurations (of "
                         f"{m['n_b']:,}) reaches {what} in expectation")
        else:
            parts.append(f"one must try {m['k_b']:,} {label(m['family_b'])} configurations "
                         f"at random to match {what}")
    return (parts[0][0].upper() + "; ".join(parts)[1:] + ".") if parts else None


def _budget(an: dict[str, Any]) -> list[str]:
    fams = an["families"]
    lines = ["", "## Expected best under a budget (fig6_budget)", "",
             "The expected best of k configurations drawn at random without replacement, "
             "exact over the grid (E[max of k] = Σ s₍ᵢ₎ C(i−1, k−1) / C(n, k)); failed "
             "configurations count as the worst value (I = 0, FD = ∞), as random search would "
             "draw them too. Families of different sizes compare at equal k."]
    if any(f["estimate"] for f in fams.values()):
        lines += ["", "**Partial grid: estimates** from the random sample the hand-out order "
                  "gives (" + ", ".join(f"{f['label']} {f['n']:,} of {f['planned']:,}"
                                         for f in fams.values() if f["estimate"]) + ")."]
    for metric in an["metrics"]:
        fmt = ".3f" if metric == "score" else ".2f"
        what = "highest I" if metric == "score" else "lowest FD"
        lines += ["", f"Expected {what} of k configurations:", "",
                  "| family | n | " + " | ".join(f"k = {k}" for k in TABLE_K) + " | k = n |",
                  "|---|---:|" + "---:|" * (len(TABLE_K) + 1)]
        for fam, per in an["budget_table"].items():
            t = per.get(metric)
            if not t:
                continue
            n = fams[fam]["n"]
            cells = [_v(t.get(k), fmt) if k <= n else "–" for k in TABLE_K]
            lines.append(f"| {fams[fam]['label']} | {n:,} | " + " | ".join(cells)
                         + f" | {_v(t.get(n), fmt)} |")
    if any(v == float("inf") for per in an["budget_table"].values()
           for v in (per.get("fd") or {}).values()):
        lines += ["", "∞: k is at most the family's number of failed configurations, so a "
                  "k-subset of failures alone (FD = ∞) has a nonzero probability."]
    lines += ["", f"k at which each family's expected best reaches {REACH:.0%} of its own best "
              "(the expected best of all n; for FD: within best / 0.9):", "",
              "| family | metric | own best | k |", "|---|---|---:|---:|"]
    for r in an["reach"]:
        fmt = ".3f" if r["metric"] == "score" else ".2f"
        lines.append(f"| {label(r['family'])} | {METRIC_NAMES[r['metric']]} | "
                     f"{_v(r['best'], fmt)} | {_v(r['k_90'], ',')} of {r['n']:,} |")
    match = match_sentence(an)
    return lines + (["", match] if match else [])


def _improvement(an: dict[str, Any], s: dict[str, Any]) -> list[str]:
    rows, fig2 = an.get("improvement") or [], s.get("fig2") or []
    if not rows:
        return []
    diffs = {(p["panel"], m, c["family_a"], c["family_b"]): c.get(m) for p in fig2
             for c in p.get("comparisons") or [] for m in ("score", "fd")}
    view = s.get("view") or {"families": ["ebgan", "gan"], "baseline": "gan"}
    if len(view["families"]) == 2:
        a, b = (label(f) for f in view["families"])
        heading = f"How often a random {a} beats a random {b}"
    else:
        heading = ("How often a random configuration of each family beats a random "
                   f"{label(view['baseline'])}")
    lines = ["", f"## {heading} (fig2_ecdf)", "",
             "P(a beats b): the probability that a random configuration of a has a higher I "
             "(a lower FD) than a random configuration of b, ties counted half (rliable's "
             "probability of improvement, Agarwal et al. 2021), with a 95% bootstrap CI; "
             "failed configurations count as the worst value. Beside it, the difference of "
             "medians over the scored trials (the Figure 2 table).", "",
             "| panel | metric | a vs b | n a / b | P(a beats b) | 95% CI | median a − b | 95% CI |",
             "|---|---|---|---|---:|---|---:|---|"]
    for r in rows:
        fmt = "+.3f" if r["metric"] == "score" else "+.2f"
        c = diffs.get((r["panel"], r["metric"], r["family_a"], r["family_b"]))
        ci = "–" if r["lo"] is None or r["lo"] != r["lo"] else f"{r['lo']:.3f} to {r['hi']:.3f}"
        med = "–" if not c or c.get("median_diff") is None else format(c["median_diff"], fmt)
        mci = "–" if not c or not c.get("ci95") else \
            f"{c['ci95'][0]:{fmt}} to {c['ci95'][1]:{fmt}}"
        est = " (estimate)" if r.get("estimate") else ""
        lines.append(f"| ({r['panel']}) {r['subset']} | {METRIC_NAMES[r['metric']]} | "
                     f"{label(r['family_a'])} vs {label(r['family_b'])}{est} | "
                     f"{r['n_a']:,} / {r['n_b']:,} | {_v(r['p_improvement'], '.3f')} | {ci} | "
                     f"{med} | {mci} |")
    return lines


def _importance(an: dict[str, Any]) -> list[str]:
    imp = an["importance"]
    rows = imp["rows"]
    lines = ["", "## Which settings matter (fig7_importance)", "",
             f"Evaluator: Optuna's {EVALUATORS[imp['evaluator']]}, on an in-memory study built "
             "from the table; shares sum to 1 per family and metric; failed configurations "
             "rank last."]
    if not rows:
        return lines + ["", "No importance could be computed (see the notes)."]
    groups: dict[tuple[str, str], list[dict]] = {}
    for r in rows:
        groups.setdefault((r["family"], r["metric"]), []).append(r)
    lines += ["", "| family | metric | raw total | shuffled | axes by share, most important "
              "first |", "|---|---|---:|---:|---|"]
    for (fam, metric), rs in groups.items():
        rs = sorted(rs, key=lambda r: -r["importance"])
        est = " (estimate)" if rs[0].get("estimate") else ""
        lines.append(f"| {label(fam)}{est} | {METRIC_NAMES[metric]} | {rs[0]['raw_total']:.2g} | "
                     f"{rs[0]['shuffled_total']:.2g} | "
                     + ", ".join(f"{r['axis']} {r['importance']:.2f}" for r in rs) + " |")
    lines += ["", "Shares sum to 1 even where nothing matters. The raw total is the evaluator's "
              "unnormalized sum; \"shuffled\" is the same with the metric shuffled across the "
              "family's configurations (what nothing-matters gives at this size): the shares "
              "mean something only where the raw total is well above it."]
    return lines


def render_analysis(s: dict[str, Any]) -> list[str]:
    """The lines of the three sections; none when summary.json has no ``analysis``."""
    an = s.get("analysis")
    if not an:
        return []
    return [*_budget(an), *_improvement(an, s), *_importance(an)]
