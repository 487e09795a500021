"""`sweep train-one`: one configuration by hand, without Ray.

    sweep train-one --family ebgan --set nLayerG=5 nLayerD=2 sizeG=800 sizeD=1024 dropoutD=false

Axes not given take the first value of that family's list in the sweep file. Writes the
generator weights, a 64-sample PNG and a JSON record, and prints the score.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from sweep.checks import Invalid
from sweep.config import TRIAL_KEYS, ConfigError, SweepConfig, base_trial, load_config, trial_key


def resolve_trial(cfg: SweepConfig, family_name: str, settings: list[str],
                  iterations: int | None) -> dict[str, Any]:
    """The family's first grid point, with ``KEY=VALUE`` overrides (checked like the file)."""
    names = [f.name for f in cfg.families]
    if family_name not in names:
        raise ConfigError(f"--family: unknown family {family_name!r}; {cfg.path} has "
                          f"{', '.join(names)}.")
    family = cfg.family(family_name)
    trial = base_trial(cfg, family, cfg.seeds[0])
    overrides = {}
    for item in settings:
        key, sep, raw = item.partition("=")
        if not sep:
            raise ConfigError(f"--set: {item!r} is not KEY=VALUE.")
        if key not in TRIAL_KEYS and key != "seed":
            raise ConfigError(f"--set: unknown setting {key!r} (got {item!r}); expected one "
                              f"of {', '.join([*TRIAL_KEYS, 'seed'])}.")
        value = yaml.safe_load(raw)
        try:
            overrides[key] = value if key == "seed" else TRIAL_KEYS[key](value)
        except Invalid as bad:
            raise ConfigError(f"--set: {key}: {bad} (got {raw!r}).") from None
    for axis, spec in family.axes.items():
        if axis in overrides:
            continue
        if not isinstance(spec, tuple):
            raise ConfigError(f"--set: axis {axis} of family {family_name} is a distribution; "
                              f"give it a value with --set {axis}=...")
        trial[axis] = spec[0]
    trial.update(overrides)
    if iterations is not None:
        trial["iterations"] = iterations
    return trial


def cmd_train_one(args: Any) -> int:
    import torch

    from models.data import load_mnist
    from sweep.classifier_setup import ensure_classifier
    from sweep.trial import run_configuration, store_files

    cfg = load_config(args.config)
    trial = resolve_trial(cfg, args.family, args.set or [], args.iterations)
    key = trial_key(trial)
    out = Path(args.out) if args.out else Path("results") / "train-one" / f"{args.family}-{key}"
    data = load_mnist(cfg.data.source, cfg.data.root, flatten=True)
    state, manifest = ensure_classifier(cfg, data)
    from evaluator.convnet import ConvNet
    classifier = ConvNet(**manifest["convnet"])
    classifier.load_state_dict(state)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    print(f"[train-one] {args.family} {key} on {data.source} ({len(data.train_images):,} images), "
          f"{device}: " + ", ".join(f"{k}={trial[k]}" for k in family_axes(cfg, args.family)))

    def progress(iteration: int, losses: dict[str, float]) -> None:
        print(f"  iteration {iteration:>6}: " + ", ".join(f"{k} {v:.4f}" for k, v in losses.items()),
              flush=True)

    final, generator, record = run_configuration(
        trial, data.train_images, classifier, classifier_sha256=manifest["weights_sha256"],
        data_source=data.source, score_samples=cfg.score.samples, device=device,
        progress=progress)
    final["trial_dir"] = str(out.resolve())
    store_files(trial, final, generator, record, str(out.resolve()))
    score = "none (diverged)" if final["score"] is None else f"{final['score']:.4f}"
    print(f"[train-one] status {final['status']}, {final['iterations_done']:,} iterations "
          f"({final['ms_per_iteration']:.1f} ms each), score I = {score}, "
          f"class histogram {final['class_histogram']}")
    print(f"[train-one] wrote {out}/: config.json, record.json"
          + (", samples.png, generator.pt" if final["status"] == "ok" else ""))
    (out / "result.json").write_text(json.dumps(final, indent=2, default=str))
    return 0


def family_axes(cfg: SweepConfig, name: str) -> list[str]:
    return list(cfg.family(name).axes)
