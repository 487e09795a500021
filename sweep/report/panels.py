"""The subsets Figures 2-4 draw: panels of the compared families' trials, and the best trials.

Zhao, Mathieu & LeCun, "Energy-based Generative Adversarial Networks", ICLR 2017,
section 4.1: Figure 2 (all models, then nLayerG, nLayerD <= 4 and <= 3), Figure 3 (the
GANs by optimization setting, all EBGANs as reference), Figure 4 (the best GAN, EBGAN
and EBGAN-PT). The families are those of the experiment's view (``family_view.py``: the
paper's EBGAN and GAN unless another is chosen), one group each, in the view's order. In
Figure 3 a family is split by optimization setting when it is the view's baseline or has
more than one setting; a family with one setting only (the paper's EBGANs) is drawn
whole in every panel, as the reference.

``figures.py`` draws what :func:`fig2_panels` and :func:`fig3_panels` return and
``summary.py`` computes its statistics on the same panels, so the pictures and the
numbers come from the same subsets. A :class:`Group` holds every trial of its subset
(finished or failed); :attr:`Group.scores` only the scored ones (status ``ok``, finite
score), as the conventions in ``summary.py`` say. Configurations a scheduler stopped early
(status ``stopped``, sweep.yaml ``scheduler:``) did not train to the budget: a group leaves
them out and counts them (:attr:`Group.stopped`), and the captions say how many.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import pandas as pd

from models.config import TABLE1_AXES
from sweep.report.experiment import Experiment, Filter, planned


# --- Figures 2-3: the panels ----------------------------------------------------------
@dataclass
class Group:
    """One family's trials inside one panel."""
    label: str
    family: str
    trials: pd.DataFrame          # every trial of the group in the panel (ok and failed)
    planned: int | None = None    # trials the plan puts in this subset (None: unknown)
    planned_exact: bool = False   # False: `planned` is the family's total, not the subset's
    family_done: int = 0          # trials of the whole family in the table
    stopped: int = 0              # trials of the subset a scheduler stopped early (left out)

    @property
    def scored(self) -> pd.DataFrame:
        t = self.trials
        return t[(t["status"] == "ok") & np.isfinite(t["score"].to_numpy(dtype=float))]

    @property
    def scores(self) -> np.ndarray:
        """Scores of the scored trials: what the histogram and statistics use."""
        return self.scored["score"].to_numpy(dtype=float)

    @property
    def fds(self) -> np.ndarray:
        """Frechet distances of the trials with status ok and a finite ``fd`` (lower is better)."""
        t = self.trials
        fd = t["fd"].to_numpy(dtype=float)
        return fd[(t["status"] == "ok").to_numpy() & np.isfinite(fd)]

    @property
    def n(self) -> int:
        return len(self.trials)

    def counts(self) -> dict[str, int]:
        st = self.trials["status"]
        ok, div = int((st == "ok").sum()), int((st == "diverged").sum())
        out = {"n": self.n, "n_ok": ok, "n_diverged": div, "n_error": self.n - ok - div,
               "n_scored": len(self.scores)}
        if self.stopped:
            out["n_stopped"] = self.stopped
        return out

    def legend(self) -> str:
        """E.g. 'EBGAN (n=512, 3 failed)'."""
        c = self.counts()
        extra = []
        if c["n_diverged"] + c["n_error"]:
            extra.append(f"{c['n_diverged'] + c['n_error']:,} failed")
        if c["n_ok"] > c["n_scored"]:
            extra.append(f"{c['n_ok'] - c['n_scored']:,} unscored")
        if self.stopped:
            extra.append(f"{self.stopped:,} stopped early, left out")
        return f"{self.label} (n={self.n:,}{', ' + ', '.join(extra) if extra else ''})"


@dataclass
class Panel:
    figure: str                   # "fig2" | "fig3"
    key: str                      # "a", "b", "c" | "adam/sgd lr=0.001"
    title: str                    # what the subset is, without counts
    filt: Filter
    groups: dict[str, Group]
    setting: dict[str, Any] | None = None  # fig3: optimD, optimG, lr
    counted: tuple[str, ...] = ()  # groups whose progress the title reports (): all

    def progress(self) -> str | None:
        """'1,234 of 6,656 trials done' when the plan says more are coming, else None."""
        groups = [self.groups[k] for k in self.counted or tuple(self.groups)]
        done = sum(g.n + g.stopped for g in groups)
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


def _group(exp: Experiment, fam: str, filt: Filter) -> Group:
    fam_trials = exp.trials[exp.trials["family"] == fam]
    n_planned, exact = planned(exp.plan, fam, filt)
    subset = fam_trials[_mask(fam_trials, filt)]
    stopped = (subset["status"] == "stopped").to_numpy()
    return Group(exp.view.label(fam), fam, subset[~stopped], n_planned, exact, len(fam_trials),
                 int(stopped.sum()))


def stopped_note(panel: Panel) -> str | None:
    """The caption's remark on the configurations a scheduler stopped early, if any."""
    n = sum(g.stopped for g in panel.groups.values())
    return (f"{n:,} configuration{'s' if n != 1 else ''} stopped early by the family's "
            "scheduler (not trained to the budget) left out" if n else None)


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
    """Figure 2: (a) all trials of each family, (b) those with nLayerG, nLayerD <= 4, (c) <= 3."""
    return [Panel("fig2", key, title, filt, {exp.view.label(f): _group(exp, f, filt)
                                             for f in exp.view.families})
            for key, title, filt in FIG2_SUBSETS]


SETTING = ("optimD", "optimG", "lr")  # what Figure 3 splits by


def fig3_roles(exp: Experiment) -> tuple[list[str], list[str]]:
    """(families split by optimization setting, reference families drawn whole): the
    baseline and every family with several settings are split, in the view's order."""
    split, ref = [], []
    for f in exp.view.families:
        t = exp.trials[exp.trials["family"] == f]
        several = len(t[list(SETTING)].drop_duplicates()) > 1
        (split if f == exp.view.baseline or several else ref).append(f)
    return split, ref


def fig3_settings(exp: Experiment) -> tuple[list[float], list[tuple[str, str]]]:
    """The optimization settings of the split families: lr values (largest first),
    (optimD, optimG) pairs."""
    split, _ = fig3_roles(exp)
    t = exp.trials[exp.trials["family"].isin(split)]
    lrs = sorted({float(v) for v in t["lr"]}, reverse=True)
    combos = sorted({(str(d), str(g)) for d, g in zip(t["optimD"], t["optimG"])})
    return lrs, combos


def fig3_panels(exp: Experiment) -> list[Panel]:
    """Figure 3: one panel per optimization setting (optimD x optimG x lr) of the split
    families present in the table, row-major over (lr, largest first) x (optimD/optimG);
    a reference family (the paper's EBGANs) is the same unfiltered group in every panel."""
    lrs, combos = fig3_settings(exp)
    split, ref = fig3_roles(exp)
    whole = {f: _group(exp, f, {}) for f in ref}
    panels = []
    for lr in lrs:
        for d, g in combos:
            filt = {"optimD": _equals(d), "optimG": _equals(g), "lr": _equals(lr)}
            groups = {exp.view.label(f): whole[f] if f in whole else _group(exp, f, filt)
                      for f in exp.view.families}
            panels.append(Panel("fig3", f"{d}/{g} lr={lr:g}", f"{d}/{g}, lr {lr:g}", filt,
                                groups, setting={"optimD": d, "optimG": g, "lr": lr},
                                counted=tuple(exp.view.label(f) for f in split)))
    return panels


# --- Figure 4: the best trials --------------------------------------------------------
CONFIG_KEYS = (*TABLE1_AXES, "margin", "pt_weight", "seed")  # what a best trial's record names


FIG4_FAMILIES = ("gan", "ebgan", "ebgan_pt")


def ranked(exp: Experiment, family: str, by: str = "score") -> pd.DataFrame:
    """The family's trials with status ok and a finite ``by``, best first: highest I
    (``by="score"``) or lowest FD (``by="fd"``); ties broken by trial_key."""
    t = exp.trials
    s = t[(t["family"] == family) & (t["status"] == "ok") & np.isfinite(t[by].to_numpy(float))]
    sort_by = [by, "trial_key"] if "trial_key" in s.columns else [by]
    return s.sort_values(sort_by, ascending=[by == "fd"] + [True] * (len(sort_by) - 1))


def record(row: pd.Series) -> dict[str, Any]:
    """A trial's family, configuration, key, folder, status, I and FD as plain JSON values."""
    return {k: plain(row[k]) for k in ("family", *CONFIG_KEYS, "trial_key", "trial_dir",
                                       "status", "score", "fd") if k in row.index}


def best_trials(exp: Experiment, by: str = "score") -> dict[str, dict[str, Any] | None]:
    """The best scored trial of gan, ebgan and ebgan_pt (Figure 4), or None: highest I
    (``by="score"``, the paper's choice) or lowest FD (``by="fd"``)."""
    out: dict[str, dict[str, Any] | None] = {}
    for fam in FIG4_FAMILIES:
        s = ranked(exp, fam, by)
        out[fam] = record(s.iloc[0]) if len(s) else None
    return out


def plain(v: Any) -> Any:
    """numpy scalars -> Python values for JSON."""
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v
