"""Figure 4: samples of the best GAN, EBGAN and EBGAN-PT, by I and by FD.

Zhao, Mathieu & LeCun, "Energy-based Generative Adversarial Networks", ICLR 2017,
section 4.1, Figure 4: generations of the best GAN, EBGAN and EBGAN-PT of the grid by
the highest I. Our addition: a second row with the best trial by the lowest Frechet
distance FD of each family, whose panel says so when it is the same trial as the best
by I. Images are the trials' ``samples.png``, read from the trial folder (a local path
or a URI such as ``s3://bucket/prefix``, through ``sweep.run.records.storage``).
"""
from __future__ import annotations

import io
import textwrap
from pathlib import Path
from typing import Any

import matplotlib.image as mpimg
import numpy as np
from matplotlib.figure import Figure

from sweep.report.experiment import Experiment
from sweep.report.panels import FIG4_FAMILIES, best_trials
from sweep.report.style import COLORS, add_caption, new_figure

LABELS = {"gan": "GAN", "ebgan": "EBGAN", "ebgan_pt": "EBGAN-PT"}


def read_trial_file(trial_dir: Any, name: str, exp_dir: Path) -> bytes:
    """The bytes of ``name`` in a trial folder: a local path (absolute, or relative to the
    experiment) or a URI read through ``sweep.run.records.storage`` (AWS_ENDPOINT_URL etc. from
    the environment). Raises FileNotFoundError when it is not there, ValueError when no
    folder is recorded."""
    if not isinstance(trial_dir, str) or not trial_dir:
        raise ValueError("no trial directory recorded")
    if "://" in trial_dir:
        from sweep.run.records import storage  # pyarrow filesystems: only needed for URIs
        return storage.read_bytes(storage.join(trial_dir, name))
    d = Path(trial_dir)
    if not d.is_absolute() and not d.exists():
        d = exp_dir / d
    return (d / name).read_bytes()


def read_samples(trial_dir: Any, exp_dir: Path) -> tuple[np.ndarray | None, str | None]:
    """A trial's samples.png as an array, or (None, why not)."""
    try:
        data = read_trial_file(trial_dir, "samples.png", exp_dir)
        return mpimg.imread(io.BytesIO(data), format="png"), None
    except ValueError as exc:
        return None, str(exc)
    except FileNotFoundError:
        return None, f"samples.png not found in\n{trial_dir}"
    except Exception as exc:  # unreachable storage, a damaged PNG: say so in the panel
        return None, f"cannot read samples.png from {trial_dir}: {type(exc).__name__}: {exc}"


def config_lines(b: dict[str, Any]) -> list[str]:
    """A trial's Table 1 configuration in three short lines (a printed panel is narrow)."""
    def get(k: str) -> Any:
        return b.get(k, "?")
    drop = {True: "yes", False: "no"}.get(get("dropoutD"), get("dropoutD"))
    lr = get("lr")
    lr_txt = f"{lr:g}" if isinstance(lr, (int, float)) else str(lr)
    lines = [f"nLayerG {get('nLayerG')}, nLayerD {get('nLayerD')}",
             f"sizeG {get('sizeG')}, sizeD {get('sizeD')}",
             f"dropoutD {drop}, {get('optimD')}/{get('optimG')}, lr {lr_txt}"]
    pt = b.get("pt_weight")
    if isinstance(pt, (int, float)) and pt > 0:
        lines[2] += f", PT {pt:g}"
    return lines


def metrics_text(b: dict[str, Any]) -> str:
    """'I = 1.234, FD = 56.78' (FD left out when the trial has none)."""
    fd = b.get("fd")
    return f"I = {b['score']:.3f}" + (f", FD = {fd:.2f}" if isinstance(fd, (int, float)) else "")


def _message(ax, text: str) -> None:
    text = "\n".join(w for line in text.splitlines() for w in textwrap.wrap(line, 40))
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="0.3",
            fontsize=7)
    ax.set_aspect("equal")


def _panel(ax, exp: Experiment, key: str, fam: str, by: str, b: dict[str, Any] | None,
           same_as: str | None) -> None:
    label = LABELS[fam]
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_color(COLORS[label])
        spine.set_linewidth(1.5)
    head = f"({key}) best {label}" + ("" if by == "score" else " by FD")
    if b is None:
        ax.set_title(head, fontsize=7)
        what = f"no scored {label} trial" if by == "score" else f"no {label} trial with an FD"
        _message(ax, f"{what}\n(family '{fam}')")
        return
    ax.set_title("\n".join([head, metrics_text(b), *config_lines(b)]), fontsize=7)
    if same_as is not None:
        _message(ax, f"the same trial as ({same_as}):\nits samples are shown there")
        return
    img, why = read_samples(b.get("trial_dir"), exp.path)
    if img is None:
        _message(ax, str(why))
    elif img.ndim == 2:
        ax.imshow(img, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    else:
        ax.imshow(img, interpolation="nearest")


def fig4(exp: Experiment, best: dict[str, dict[str, Any] | None] | None = None,
         best_fd: dict[str, dict[str, Any] | None] | None = None) -> Figure:
    """Figure 4: samples (8x8 grids) of the best GAN, EBGAN and EBGAN-PT by the highest I;
    when the table has FD, a second row with the best of each family by the lowest FD."""
    best = best_trials(exp) if best is None else best
    if best_fd is None and exp.has_fd:
        best_fd = best_trials(exp, by="fd")
    same_everywhere = best_fd is not None and all(
        (best_fd.get(f) or {}).get("trial_key") == (best.get(f) or {}).get("trial_key")
        for f in FIG4_FAMILIES)
    # A second row only when FD picks another trial somewhere; else the caption says so.
    rows = [("score", best)] + ([("fd", best_fd)] if best_fd and not same_everywhere else [])
    fig = new_figure(3.1 * len(rows) + 0.75)  # square images, five title lines, caption
    axes = np.atleast_2d(fig.subplots(len(rows), len(FIG4_FAMILIES), squeeze=False))
    keys = iter("abcdef")
    row_keys: dict[str, str] = {}
    for r, (by, chosen) in enumerate(rows):
        for ax, fam in zip(axes[r], FIG4_FAMILIES):
            key = next(keys)
            b = chosen.get(fam)
            first = best.get(fam)
            same = (by == "fd" and b is not None and first is not None
                    and b.get("trial_key") == first.get("trial_key"))
            _panel(ax, exp, key, fam, by, b, row_keys.get(fam) if same else None)
            row_keys.setdefault(fam, key)
    if len(rows) == 2:
        axes[0, 0].set_ylabel("best by the highest I", fontsize=8)
        axes[1, 0].set_ylabel("best by the lowest FD", fontsize=8)
    t = exp.trials
    counts = ", ".join(f"{int((t['family'] == f).sum()):,} {LABELS[f]}" for f in FIG4_FAMILIES)
    extra = ["each panel: 64 samples of the trial"]
    if same_everywhere:
        extra.append("the lowest FD picks the same trial as the highest I in every family")
    add_caption(fig, exp, f"best of n = {counts} trials", families=FIG4_FAMILIES, extra=extra)
    return fig
