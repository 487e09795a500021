"""summary.md: the numbers of summary.json as readable tables.

Zhao, Mathieu & LeCun, "Energy-based Generative Adversarial Networks", ICLR 2017,
section 4.1: the statistics behind Figures 2-4 (I, and FD beside it), the probes that
say what an I means under this classifier, and, while the grid is incomplete, the
estimate of the full grid. Rendering only: ``summary.py`` computes every number.
"""
from __future__ import annotations

from typing import Any

from sweep.report.analysis.sections import render_analysis
from sweep.report.early_stopping import render_early_stopping
from sweep.report.captions import budget_text, classifier_text, data_text, subset_warning

NOISE_PROBES = ("uniform noise", "sparse salt noise 0.05", "sparse salt noise 0.1")


def fmt_p(p: float) -> str:
    """A p-value; below 1e-16 the digits are rounding noise."""
    return "< 1e-16" if p < 1e-16 else f"{p:.2g}"


def _f(v: float | None, fmt: str = ".3f") -> str:
    return "–" if v is None else format(v, fmt)


def _pct(v: float | None) -> str:
    return "–" if v is None else f"{100 * v:.1f}%"


def _ci(ci: list[float] | None, fmt: str = "+.3f") -> str:
    return "–" if ci is None else f"{ci[0]:{fmt}} to {ci[1]:{fmt}}"


def _group_row(label: str, s: dict[str, Any], with_fd: bool) -> str:
    iqr = "–" if s["q25"] is None else f"{s['q25']:.3f}–{s['q75']:.3f}"
    n = f"{s['n']:,}" + (f" of {s['planned']:,}" if s["planned"] and s["planned"] > s["n"] else "")
    row = (f"| {label} | {n} | {s['n_ok']:,} | {s['n_diverged']:,} | {s['n_error']:,} | "
           f"{_f(s['median'])} | {iqr} | {_pct(s['frac_above_half_ref'])} |")
    if with_fd:
        fd = s["fd"]
        fd_iqr = "–" if fd["q25"] is None else f"{fd['q25']:.2f}–{fd['q75']:.2f}"
        row += f" {_f(fd['median'], '.2f')} | {fd_iqr} |"
    return row


def _comparison_cells(c: dict[str, Any] | None, fmt: str = "+.3f") -> str:
    if c is None:
        return "– | – | – | –"
    p = "–" if c["ks_pvalue"] is None else fmt_p(c["ks_pvalue"])
    diff = "–" if c["median_diff"] is None else format(c["median_diff"], fmt)
    return f"{diff} | {_ci(c['ci95'], fmt)} | {_f(c['ks_statistic'])} | {p}"


def _header(s: dict[str, Any]) -> list[str]:
    ref, clf = s["reference"], s.get("classifier")
    lines = [f"# EBGAN grid search on MNIST: summary of `{s['experiment']}`", ""]
    warn = subset_warning(s.get("data_source"), (clf or {}).get("data_source"))
    if warn:
        lines += [f"> **{warn}.**", ""]
    facts = [f"Data: {data_text(s.get('data_source'))}", budget_text(s.get("budget")),
             f"{s['score_samples']:,} generated samples scored per trial"
             if isinstance(s.get("score_samples"), int) else None, classifier_text(clf)]
    lines += ["; ".join(f for f in facts if f) + ".", ""]
    if ref:
        lines.append(f"Real-data score I = {ref['real_data_score']:.3f}; half of it, "
                     f"{ref['half']:.3f}, is the threshold in the column \"> ½ real\". Higher I "
                     "is better; lower FD (Fréchet distance to the real test digits in the "
                     "classifier's feature space) is better.")
    else:
        lines.append("No real-data reference score (classifier.json missing): the \"> ½ real\" "
                     "column is empty and the figures have no reference line.")
    return lines + ["", f"Conventions: {s['conventions']}."]


def _probes(s: dict[str, Any]) -> list[str]:
    lines = ["", "## What I and FD mean under this classifier (probes)", ""]
    probes, ref = s.get("probes"), s["reference"]
    if not probes:
        return lines + ["classifier.json has no probes (a classifier trained before they "
                        "existed): there is no scale for what a given I or FD means."]
    lines += ["Known inputs scored by the same classifier: pure noise should score a low I and "
              "a high FD, real digits a high I and an FD near 0.", "",
              "| probe | what it is | I | FD | n |", "|---|---|---:|---:|---:|"]
    for p in probes:
        name = p.get("name", "?") + (" (pure noise)" if p.get("name") in NOISE_PROBES else "")
        n = p.get("n")
        lines.append(f"| {name} | {p.get('description', '')} | {_f(_num(p.get('score')))} | "
                     f"{_f(_num(p.get('fd')), '.2f')} | {'–' if n is None else f'{n:,}'} |")
    if ref:
        lines.append(f"| real-data reference | the classifier's real test digits "
                     f"(real_data_score) | {ref['real_data_score']:.3f} | – | – |")
    return lines


def _num(v: Any) -> float | None:
    return float(v) if isinstance(v, (int, float)) and v == v else None


def _estimate(s: dict[str, Any]) -> list[str]:
    est, text = s.get("estimate") or {}, s.get("estimate_text")
    if not est.get("partial") or not text:
        return []
    lines = ["", "## Estimate of the full grid (Figure 2(a))", "", text]
    if not est["rows"]:
        return lines
    lines += ["", "| quantity | group | estimate (full grid) | 95% CI | finished trials only |",
              "|---|---|---:|---|---:|"]
    for r in est["rows"]:
        fmt = ".3f" if r["metric"] == "score" else ".2f"
        signed = "+" + fmt if "−" in r["group"] else fmt
        lines.append(f"| {r['quantity']} | {r['group']} | {_f(r['estimate'], signed)} | "
                     f"{_ci(r['ci95'], signed)} | {_f(r['finished'], signed)} |")
    for r in est["rows"]:
        more = r.get("more_trials")
        if not more:
            continue
        what = f"the 95% CI of the EBGAN − GAN difference of {r['quantity']} includes 0"
        if more["possible"]:
            per = ", ".join(f"{v:,} {k}" for k, v in more["per_family"].items())
            lines += ["", f"{what[0].upper() + what[1:]}: if the point estimate held, about "
                      f"{more['more_trials']:,} more trials ({per}, in whole architecture "
                      "groups, in proportion to the families' sizes) would make it exclude 0."]
        else:
            lines += ["", f"{what[0].upper() + what[1:]}; no projection of the trials needed "
                      f"to exclude 0: {more.get('reason', 'unknown')}."]
    return lines


def _best(s: dict[str, Any]) -> list[str]:
    lines = ["", "## Best trials (Figure 4)", "",
             "| family | by | I | FD | nLayerG | nLayerD | sizeG | sizeD | dropoutD | optimD "
             "| optimG | lr | trial |", "|---|---|---:|---:|---:|---:|---:|---:|---|---|---|---:|---|"]
    for by, best in (("highest I", s["best"]), ("lowest FD", s.get("best_fd"))):
        for fam, b in (best or {}).items():
            if b is None:
                lines.append(f"| {fam} | {by} | no scored trial |" + " |" * 10)
                continue
            cells = [b.get(k, "?") for k in ("nLayerG", "nLayerD", "sizeG", "sizeD", "dropoutD",
                                             "optimD", "optimG")]
            lr = b.get("lr")
            lines.append(f"| {fam} | {by} | {_f(b.get('score'))} | {_f(b.get('fd'), '.2f')} | "
                         + " | ".join(map(str, cells)) + f" | {lr:g} | {b.get('trial_key', '?')} |")
    if not s.get("best_fd"):
        lines += ["", "No FD in the table: the best trials are chosen by I alone."]
    return lines


def _view(s: dict[str, Any]) -> dict[str, Any]:
    """summary.json's view (the paper's EBGAN, GAN when an older summary has none)."""
    return s.get("view") or {"families": ["ebgan", "gan"], "baseline": "gan",
                             "labels": {"ebgan": "EBGAN", "gan": "GAN"},
                             "fig3_split": ["gan"], "fig3_reference": ["ebgan"]}


def _first(s: dict[str, Any]) -> str:
    v = _view(s)
    return v["labels"][v["families"][0]] if len(v["families"]) == 2 else "the family a"


def _pair_text(s: dict[str, Any]) -> str:
    """'EBGAN − GAN' for two families, 'a − b' (a column names the pair) for more."""
    v = _view(s)
    if len(v["families"]) == 2:
        return " − ".join(v["labels"][f] for f in v["families"])
    return "a − b"


def _titles(s: dict[str, Any], split: list[str], refs: list[str]) -> dict[str, str]:
    labels = _view(s)["labels"]
    names = [labels[f] for f in _view(s)["families"]]
    parts = [f"{labels[f]}s" for f in split]
    vs = f" vs all {' and '.join(labels[f] + 's' for f in refs)}" if refs else ""
    return {"fig2": "Figure 2: " + " vs ".join(names),
            "fig3": f"Figure 3: {', '.join(parts)} by optimization setting (optimD/optimG, lr)"
                    + vs}


def _fig3_roles(s: dict[str, Any]) -> tuple[list[str], list[str]]:
    """(labels split by setting, labels of the reference groups, the same in every panel)."""
    v = _view(s)
    split, refs = v.get("fig3_split", ["gan"]), v.get("fig3_reference", ["ebgan"])
    return [v["labels"][f] for f in split], [v["labels"][f] for f in refs]


def _panel_tables(s: dict[str, Any], fd: bool) -> list[str]:
    """Figures 2 and 3: a row per family and panel, then each family against the baseline."""
    lines: list[str] = []
    v = _view(s)
    multi = len(v["families"]) > 2
    pair = _pair_text(s)
    head = ["| panel | group | n | ok | diverged | error | median I | IQR (25–75%) | > ½ real |"
            + (" median FD | FD IQR |" if fd else ""),
            "|---|---|---:|---:|---:|---:|---:|---|---:|" + ("---:|---|" if fd else "")]
    comp_head = ["| panel |" + (" a − b |" if multi else "") + f" median I {pair} | 95% CI | "
                 "KS D | KS p |" + (f" median FD {pair} | 95% CI | KS D | KS p |" if fd else ""),
                 "|---|" + ("---|" if multi else "") + "---:|---|---:|---:|"
                 + ("---:|---|---:|---:|" if fd else "")]
    split, refs = _fig3_roles(s)
    labels = {f: v["labels"][f] for f in v["families"]}
    by_label = {lab: f for f, lab in labels.items()}
    titles = _titles(s, [by_label[x] for x in split], [by_label[x] for x in refs])
    for fig in ("fig2", "fig3"):
        lines += ["", f"## {titles[fig]}", "", *head]
        for p in s[fig]:
            label = f"({p['panel']}) {p['subset']}" if fig == "fig2" else p["subset"]
            for gname in p["groups"]:
                if fig == "fig3" and gname in refs:
                    if p is s[fig][0]:  # the same reference group in every Figure 3 panel
                        lines.append(_group_row(f"all (reference) | {gname}",
                                                p["groups"][gname], fd))
                    continue
                lines.append(_group_row(f"{label} | {gname}", p["groups"][gname], fd))
        if len(v["families"]) < 2:  # nothing to compare with
            continue
        lines += ["", *comp_head]
        for p in s[fig]:
            label = f"({p['panel']}) {p['subset']}" if fig == "fig2" else p["subset"]
            for c in p.get("comparisons") or [{"score": p["comparison"],
                                                "fd": p.get("comparison_fd"), "pair": pair}]:
                cells = _comparison_cells(c["score"])
                if fd:
                    cells += " | " + _comparison_cells(c.get("fd"), "+.2f")
                lines.append(f"| {label} |" + (f" {c['pair']} |" if multi else "")
                             + f" {cells} |")
        if not s[fig]:
            lines.append(f"| (no panels: no {labels[v['baseline']]} trials) | – | – | – | – |")
    return lines


def render_markdown(s: dict[str, Any]) -> str:
    """summary.md: readable tables of the numbers in summary.json."""
    fd = bool(s.get("has_fd"))
    lines = [*_header(s), "", "## The paper's claim", "", s["claim"], *_estimate(s),
             *_probes(s), "", "## Progress", "",
             "| family | done | planned | ok | diverged | error |", "|---|---:|---:|---:|---:|---:|"]
    stopped = any(p.get("n_stopped") for p in s["progress"].values())
    if stopped:  # a scheduler stopped configurations early: their own column
        lines[-2:] = ["| family | done | planned | ok | diverged | error | stopped early |",
                      "|---|---:|---:|---:|---:|---:|---:|"]
    for fam, p in s["progress"].items():
        planned_txt = "?" if p["planned"] is None else f"{p['planned']:,}"
        lines.append(f"| {fam} | {p['done']:,} | {planned_txt} | {p['n_ok']:,} | "
                     f"{p['n_diverged']:,} | {p['n_error']:,} |"
                     + (f" {p.get('n_stopped', 0):,} |" if stopped else ""))
    lines += _panel_tables(s, fd)
    if fd and len(_view(s)["families"]) > 1:
        lines += ["", f"FD: lower is better, so a negative {_pair_text(s)} difference favours "
                  f"{_first(s)}."]
    lines += render_early_stopping(s.get("early_stopping") or {})
    lines += render_analysis(s)
    lines += _best(s)
    if s["notes"]:
        lines += ["", "## Notes", "", *[f"- {n}" for n in s["notes"]]]
    return "\n".join(lines) + "\n"
