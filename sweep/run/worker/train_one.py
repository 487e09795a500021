"""`sweep train-one`: one configuration by hand, without Ray.

    sweep train-one --family ebgan --set nLayerG=5 nLayerD=2 sizeG=800 sizeD=1024 dropoutD=false

Axes not given take the first value of that family's list in the sweep file. Writes the
trial's files (config.json, record.json, curves.csv, samples.png, generator.pt) and
result.json to the output folder, and returns the result.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

from sweep.config import load_config
from sweep.config.trials import one_trial
from sweep.run.records.results import TrialResult


def train_one(config_path: str, family: str, settings: list[str], *,
              iterations: int | None = None, out: str | None = None,
              log: Callable[..., None] = print) -> tuple[TrialResult, Path]:
    from evaluator.convnet import ConvNet
    from models.data import load_mnist
    from models.train import default_device
    from sweep.run.scheduling.units import Unit
    from sweep.run.worker.classifier_setup import ensure_classifier
    from sweep.run.worker.unit_runner import Scorer, run_unit

    cfg = load_config(config_path)
    trial = one_trial(cfg, family, settings, iterations)
    folder = (Path(out) if out else Path("results") / "train-one" / f"{family}-{trial.key}")
    folder = folder.resolve()
    data = load_mnist(cfg.data.source, cfg.data.root, flatten=True)
    clf = ensure_classifier(cfg, data, log=log)
    classifier = ConvNet(**clf.args)
    classifier.load_state_dict(clf.state)
    device = default_device()
    log(f"[train-one] {trial.describe()} on {data.source} ({len(data.train_images):,} "
        f"images), {device}", flush=True)

    def progress(it: int, values: list[dict[str, float]]) -> None:
        log(f"  iteration {it:>6}: " + ", ".join(f"{k} {v:.4f}" for k, v in values[0].items()),
            flush=True)

    (result,) = run_unit(Unit((trial,), (-1,)), data.train_images,
                         Scorer(classifier, clf.sha256, cfg.score.samples, data.source,
                                clf.reference),
                         device=device, storage_root=str(folder), progress=progress,
                         location=lambda c: str(folder))
    (folder / "result.json").write_text(json.dumps(result.to_dict(), indent=2, default=str))
    return result, folder
