"""One experiment directory as the figures read it: the results table, plan.json, classifier.json.

Zhao, Mathieu & LeCun, "Energy-based Generative Adversarial Networks", ICLR 2017,
section 4.1: the MNIST grid of Table 1, one row per trial in ``trials.parquet``.

This module reads only the experiment directory's files (``trials.parquet``,
``plan.json``, ``classifier.json``); it never imports Ray, so the figures rebuild from
the table alone. :func:`planned` says how many trials the plan puts in a subset, so the
figures can report "k of N trials done".

- The families compared are a :class:`~sweep.report.family_view.FamilyView`: the one
  given, else plan.json's ``report.families`` (the sweep file's ``report:`` section),
  else the paper's EBGAN (family ``ebgan``, never ``ebgan_pt``) and GAN (``gan``).
- A missing or empty table is a :class:`FiguresError`; so is a table holding none of the
  view's families, or a view naming a family neither the table nor the plan knows. A
  table holding only some of them is read, and the notes say which are missing.
- Columns added after the first tables (``fd``, ``order``, ``pack_id``, ``pack_size``)
  may be missing: ``fd`` is then all NaN (and a note says so), ``order`` stays absent
  (the partial-grid estimate of ``sweep/report/partial_estimate.py`` then falls back).
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd

from models.errors import UserError
from sweep.report.family_view import FamilyView, joined

REQUIRED_COLUMNS = ("family", "status", "score", "nLayerG", "nLayerD", "optimD", "optimG", "lr")
HOW_TO_MAKE = ("run `make grid` (trains the sweep and writes the table) or `sweep collect` "
               "(rebuilds the table from the trials already finished)")

NO_FD_COLUMN = "the table has no fd column"
Filter = dict[str, Callable[[Any], bool]]  # axis -> does this value belong to the subset


def classifier_sha(manifest: dict | None) -> str | None:
    """The weights' SHA-256 of a classifier manifest (``weights_sha256``; ``sha256`` in
    hand-written test manifests)."""
    if not manifest:
        return None
    sha = manifest.get("weights_sha256") or manifest.get("sha256")
    return str(sha) if sha else None


class FiguresError(UserError):
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
    view: FamilyView = field(default_factory=FamilyView)  # the families compared

    @property
    def reference(self) -> float | None:
        """The real-data score I of the classifier (MNIST test digits), if known."""
        if self.classifier is None:
            return None
        ref = self.classifier.get("real_data_score")
        return float(ref) if isinstance(ref, (int, float)) and math.isfinite(ref) else None

    @property
    def has_fd(self) -> bool:
        """Whether any trial has a finite Frechet distance (``fd``)."""
        return bool(np.isfinite(self.trials["fd"].to_numpy(dtype=float)).any())

    @property
    def probes(self) -> list[dict[str, Any]] | None:
        """The classifier's probes (name, description, score, fd, n), None if not recorded."""
        probes = (self.classifier or {}).get("probes")
        return [p for p in probes if isinstance(p, dict)] if isinstance(probes, list) else None

    def probe(self, name: str) -> dict[str, Any] | None:
        return next((p for p in self.probes or [] if p.get("name") == name), None)

    @property
    def data_source(self) -> str | None:
        """The trials' training data: plan.json's data.source, else the table's column."""
        src = ((self.plan or {}).get("data") or {}).get("source")
        if src:
            return str(src)
        if "data_source" in self.trials.columns:
            found = sorted(map(str, self.trials["data_source"].dropna().unique()))
            return "+".join(found) if found else None
        return None


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


def plan_view(plan: dict[str, Any] | None, path: Path) -> FamilyView | None:
    """The view the sweep file chose (plan.json's ``report.families``), if any."""
    fams = ((plan or {}).get("report") or {}).get("families")
    if not fams:
        return None
    return FamilyView(tuple(map(str, fams)), f"{path}: report.families")


def _check_view(view: FamilyView, df: pd.DataFrame, plan: dict[str, Any] | None,
                table: Path) -> list[str]:
    """Refuse a view with no trials in the table, or naming a family nobody knows; the
    notes for the view's families without trials."""
    in_table = set(map(str, df["family"].unique()))
    if not in_table & set(view.families):
        fams = ", ".join(sorted(in_table))
        names = [f"'{f}'" for f in view.families]
        if len(names) == 1:
            which = f"no {names[0]} family"
        elif len(names) == 2:
            which = f"neither the {names[0]} nor the {names[1]} family"
        else:
            which = f"none of the families {joined(names)}"
        why = ("Figures 2-3 compare those two" if view.is_paper else
               f"the families compared come from {view.source}")
        raise FiguresError(f"the results table {table} holds {which} (it holds: {fams}); {why}; "
                           "choose others with `sweep histograms --families a,b` or `report: "
                           f"{{families: [a, b]}}` in the sweep file, or {HOW_TO_MAKE}")
    known = in_table | set((plan or {}).get("families") or {})
    unknown = [f for f in view.families if f not in known] if view.chosen else []
    if unknown:
        raise FiguresError(f"{view.source}: no family {unknown[0]!r} in the results table "
                           f"{table} or its plan (they hold: {', '.join(sorted(known))})")
    return [f"no {view.label(f)} trials (family '{f}') in the table: its histograms are empty"
            for f in view.families if f not in in_table]


def load_experiment(exp_dir: str | Path, view: FamilyView | None = None) -> Experiment:
    """Read ``trials.parquet``, ``plan.json`` and ``classifier.json`` of one experiment;
    ``view``: the families to compare (default: plan.json's choice, else the paper's)."""
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
    plan_notes: list[str] = []
    plan = _read_json(exp / "plan.json", "progress is reported without planned counts", plan_notes)
    view = view or plan_view(plan, exp / "plan.json") or FamilyView()
    view_notes = _check_view(view, df, plan, table)

    df = df.copy()
    df["score"] = pd.to_numeric(df["score"], errors="coerce").astype(float)
    df["lr"] = df["lr"].astype(float)
    notes: list[str] = []
    if "fd" in df.columns:
        df["fd"] = pd.to_numeric(df["fd"], errors="coerce").astype(float)
    else:
        df["fd"] = np.nan
        notes.append(f"{NO_FD_COLUMN} (written before FD was added): no FD statistics, "
                     "no fig2_fd and no best-by-FD row in Figure 4")
    if "order" in df.columns:
        df["order"] = pd.to_numeric(df["order"], errors="coerce").astype(float)
    notes += view_notes + plan_notes
    clf = _read_json(exp / "classifier.json",
                     "no real-data reference line and no fraction above half of it", notes)
    out = Experiment(exp, df, plan, clf, notes, view)
    if clf is not None and out.reference is None:
        notes.append("classifier.json has no finite real_data_score: no reference line")
    # Scores are only comparable when one classifier made them (SPEC, "The score").
    if "classifier_sha256" in df.columns:
        shas = sorted(map(str, df["classifier_sha256"].dropna().unique()))
        if len(shas) > 1:
            notes.append(f"the table mixes scores from {len(shas)} classifiers "
                         f"({', '.join(s[:12] for s in shas)}): scores are not comparable")
        elif shas and classifier_sha(clf) and classifier_sha(clf) != shas[0]:
            notes.append(f"classifier.json (sha256 {classifier_sha(clf)[:12]}) is not the classifier "
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
        stop = int((st == "stopped").sum())
        out[fam] = {"done": len(t), "planned": n_planned, "n_ok": ok, "n_diverged": div,
                    "n_error": len(t) - ok - div - stop,
                    "fraction_done": (len(t) / n_planned) if n_planned else None}
        if stop:
            out[fam]["n_stopped"] = stop
    return out
