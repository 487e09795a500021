"""The TF32 question: may `auto` train with TF32 matmuls (models.gpu_choices.TF32)?

The three configurations appendix C names (the paper's best EBGAN, GAN and EBGAN-PT;
examples/paper-best.yaml) are trained a few hundred iterations with float32 matmuls and
with TF32, each on the same seeds. TF32 passes when, for every configuration, the mean of
its I (and FD) over the seeds moves by no more than the seeds' own spread (max - min of
the float32 runs): then TF32 is lost in the noise that picking a seed already brings.
Scoring is the same for both arms (TF32 off, 10,000 samples, the same z).

Without the bundle's classifier there is no I or FD: the part compares the running
losses instead (against their seed spread) and the weights of each seed's two runs.
On the CPU the TF32 switch does nothing, so both arms are the same run: every gap is 0.
"""
from __future__ import annotations

from typing import Any

import torch

from bench.gpu_common import Budget, Part, PartOver, state_gap
from models.config import TrialConfig
from models.gpu_choices import set_tf32
from models.train import Trainer

PAPER_BEST = {  # label: settings (examples/paper-best.yaml); widths divided by `scale`
    "EBGAN (5,2,800,1024)": dict(family="ebgan", model="ebgan", nLayerG=5, nLayerD=2,
                                 sizeG=800, sizeD=1024, dropoutD=False, optimD="adam",
                                 optimG="adam", lr=0.001),
    "GAN (5,2,1600,1024)": dict(family="gan", model="gan", nLayerG=5, nLayerD=2, sizeG=1600,
                                sizeD=1024, dropoutD=False, optimD="sgd", optimG="sgd",
                                lr=0.01),
    "EBGAN-PT (5,2,800,1024)": dict(family="ebgan_pt", model="ebgan", nLayerG=5, nLayerD=2,
                                    sizeG=800, sizeD=1024, dropoutD=False, optimD="adam",
                                    optimG="adam", lr=0.001, pt_weight=0.1),
}
COLUMNS = [("config", "configuration", "", 26), ("quantity", "quantity", "", 10),
           ("fp32_mean", "fp32 mean", ".4g", 10), ("fp32_spread", "seed spread", ".3g", 11),
           ("tf32_mean", "TF32 mean", ".4g", 10), ("delta_mean", "|d mean|", ".3g", 9),
           ("delta_same_seed", "max |d| seed", ".3g", 12), ("verdict", "verdict", "", 13)]


def _scorer(data: dict[str, Any], device: torch.device, samples: int):
    """A function G -> {"I": ..., "FD": ...} with the bundle's classifier, else None."""
    if data.get("mode") != "bundle":
        return None
    from evaluator.classifier_files import load_classifier, load_fd_reference
    from evaluator.sampling import score_generator

    classifier, manifest = load_classifier(data["classifier"], device=device)
    reference = load_fd_reference(data["classifier"], manifest)

    def score(G: torch.nn.Module, z_dim: int) -> dict[str, float]:
        s = score_generator(G, classifier, z_dim=z_dim, n_samples=samples, seed=0,
                            device=device, classifier_sha256=manifest["weights_sha256"],
                            reference=reference)
        return {"I": s.score} | ({"FD": s.fd} if s.fd is not None else {})
    return score


def _compare(part: Part, label: str, quantity: str, fp32: list[float], tf32: list[float]) -> bool:
    t_fp, t_tf = torch.tensor(fp32, dtype=torch.float64), torch.tensor(tf32, dtype=torch.float64)
    spread = float(t_fp.max() - t_fp.min())
    delta = abs(float(t_tf.mean() - t_fp.mean()))
    ok = delta <= spread
    part.row({"config": label, "quantity": quantity, "fp32_mean": float(t_fp.mean()),
              "fp32_spread": spread, "tf32_mean": float(t_tf.mean()), "delta_mean": delta,
              "delta_same_seed": float((t_tf - t_fp).abs().max()),
              "verdict": "within spread" if ok else "OUTSIDE",
              "fp32": fp32, "tf32": tf32})
    return ok


def run_tf32(part: Part, budget: Budget, images: torch.Tensor, device: torch.device,
             data: dict[str, Any], scale: int = 1) -> None:
    score = _scorer(data, device, budget.score_samples)
    compares = ("I and FD" if data.get("fd_reference") else "I") if score else "losses and weights"
    part.info["compares"] = compares
    part.title(f"TF32 on {device}: {budget.tf32_iterations} iterations, seeds "
               f"0..{budget.tf32_seeds - 1}, comparing {compares}"
               + ("" if score else f" (no classifier: {data.get('why', data.get('mode'))})"),
               COLUMNS)
    images = images.to(device)
    verdicts = []
    for label, settings in PAPER_BEST.items():
        widths = {k: settings[k] // scale for k in ("sizeG", "sizeD")}
        if scale > 1:
            label = f"{label.split(' (')[0]} /{scale}"
        try:
            verdicts += _one_config(part, budget, images, device, score, label,
                                    {**settings, **widths})
        except PartOver:
            raise
        except Exception as exc:  # e.g. a diverged run: no score; the other configurations go on
            verdicts.append(False)
            part.row({"config": label, "status": f"failed: {type(exc).__name__}: {exc}"[:200]})
    part.info["tf32_within_spread"] = all(verdicts)
    part.info["decision"] = ("TF32 may be on: every configuration within its seed spread"
                             if all(verdicts) else "keep TF32 off: a configuration moved "
                             "more than its seed spread")
    part.log(f"  -> {part.info['decision']} ({compares}, {device})", flush=True)


def _one_config(part: Part, budget: Budget, images: torch.Tensor, device: torch.device,
                score, label: str, settings: dict[str, Any]) -> list[bool]:
    """Train ``settings`` on every seed with and without TF32; its rows and verdicts."""
    runs: dict[bool, list[dict[str, Any]]] = {False: [], True: []}
    for tf32 in (False, True):
        for seed in range(budget.tf32_seeds):
            part.need(2)
            c = TrialConfig.from_dict({**settings, "seed": seed,
                                       "iterations": budget.tf32_iterations})
            set_tf32(tf32)
            try:
                t = Trainer(c, images, device=device)
                t.run()
            finally:
                set_tf32(False)
            out = {"G": {k: v.detach().cpu() for k, v in t.G.state_dict().items()},
                   **t.record().running_losses}
            if score is not None:
                out.update(score(t.result().generator, c.z_dim))
            runs[tf32].append(out)
    verdicts = []
    for q in (["I", "FD"] if score is not None else ["loss_d", "loss_g"]):
        if q in runs[False][0]:
            verdicts.append(_compare(part, label, q, [r[q] for r in runs[False]],
                                     [r[q] for r in runs[True]]))
    gap = max(state_gap(b["G"], a["G"]) for a, b in zip(runs[False], runs[True]))
    part.row({"config": label, "quantity": "G weights", "delta_same_seed": gap,
              "verdict": "same seed"})
    return verdicts
