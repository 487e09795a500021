"""`sweep classifier`, and the grid's "train the classifier first if none exists"."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from evaluator.classifier import MANIFEST_FILE, load_classifier, train_classifier
from sweep.config import SweepConfig, classifier_dir


def ensure_classifier(cfg: SweepConfig, data: Any, *, log=print) -> tuple[dict, dict]:
    """(state_dict, manifest) of the sweep's classifier, training it once if there is none.

    A classifier that exists but is corrupt is reported (ClassifierError), never silently
    replaced: scores made with the old one would stop being comparable.
    """
    folder = classifier_dir(cfg, data.source)
    if not (folder / MANIFEST_FILE).exists():
        log(f"[classifier] none in {folder}: training one on {data.source} "
            f"({len(data.train_images):,} images) before the first trial")
        train_classifier(data, folder, log=log)
    model, manifest = load_classifier(folder)
    if manifest.get("data_source") != data.source:
        log(f"[classifier] note: trained on {manifest.get('data_source')}, the grid trains on "
            f"{data.source}; scores are comparable among themselves (same classifier)")
    state = {k: v.cpu() for k, v in model.state_dict().items()}
    return state, manifest


def cmd_classifier(args: Any) -> int:
    from models.data import load_mnist
    from sweep.config import load_config

    cfg = load_config(args.config)
    data = load_mnist(cfg.data.source, cfg.data.root)
    out = Path(args.out) if args.out else classifier_dir(cfg, data.source)
    manifest = train_classifier(data, out, epochs=args.epochs, seed=args.seed)
    print(f"[classifier] {manifest['data_source']}: test accuracy "
          f"{manifest['test_accuracy']:.2%} on {manifest.get('n_test', '?')} test digits; "
          f"real-data score {manifest['real_data_score']:.4f}; saved to {out} "
          f"(sha256 {manifest['weights_sha256'][:12]}...)")
    return 0
