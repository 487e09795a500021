"""One unit without Ray (sweep/run/worker/unit_runner.py): a configuration or a pack is trained,
scored (I and FD) and stored with the same files per configuration."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import torch

from evaluator.classifier import load_classifier, load_fd_reference
from models.config import TrialConfig
from models.data import load_mnist
from sweep.run.scheduling.units import Unit
from sweep.run.worker.unit_runner import Scorer, report_every, run_unit

BASE = dict(family="gan", model="gan", nLayerG=2, nLayerD=2, sizeG=32, sizeD=16,
            dropoutD=False, optimD="adam", optimG="adam", lr=0.001, iterations=30)


@pytest.fixture(scope="module")
def setup(small_classifier):
    torch.set_num_threads(1)
    model, manifest = load_classifier(small_classifier)
    scorer = Scorer(model, manifest["weights_sha256"], 300, "mnist-5k",
                    load_fd_reference(small_classifier, manifest))
    return load_mnist("mnist-5k", flatten=True).train_images[:1024], scorer


def test_report_every_gives_about_100_points_at_most_every_200():
    assert (report_every(40), report_every(2000), report_every(18_740)) == (1, 20, 187)
    assert report_every(10**6) == 200


def test_a_pack_writes_each_members_files_like_a_single_trial(setup, tmp_path):
    images, scorer = setup
    members = (TrialConfig.from_dict(BASE), TrialConfig.from_dict({**BASE, "optimD": "sgd"}),
               TrialConfig.from_dict({**BASE, "lr": 1e30}))  # the last one diverges
    packed = run_unit(Unit(members, (0, 1, 2)), images, scorer, device=torch.device("cpu"),
                      storage_root=str(tmp_path / "packed"))
    alone = run_unit(Unit(members[:1], (0,)), images, scorer, device=torch.device("cpu"),
                     storage_root=str(tmp_path / "alone"))
    ok, sgd, diverged = packed
    assert (ok.status, sgd.status, diverged.status) == ("ok", "ok", "diverged")
    assert ok.pack_id == sgd.pack_id == Unit(members, (0, 1, 2)).unit_id and ok.pack_size == 3
    assert alone[0].pack_id is None and alone[0].pack_size == 1
    assert ok.score == alone[0].score and ok.fd == alone[0].fd  # CPU packs are exact
    assert ok.fd is not None and ok.fd > 0 and diverged.score is None and diverged.fd is None
    assert diverged.objective == 0.0 and ok.objective == ok.score
    for res, member in zip(packed, members):
        folder = Path(res.trial_dir)
        assert folder == tmp_path / "packed" / "trials" / member.key
        config = json.loads((folder / "config.json").read_text())
        assert config["trial_key"] == member.key and config["classifier_sha256"] == scorer.sha256
        rows = list(csv.DictReader(open(folder / "curves.csv")))
        assert rows[0].keys() == {"iteration", "loss_d", "loss_g"}
        assert (folder / "samples.png").exists() == (res.status == "ok")
        assert (folder / "generator.pt").exists() == (res.status == "ok")
    assert len(list(csv.DictReader(open(Path(ok.trial_dir) / "curves.csv")))) == 30
    record = json.loads((Path(diverged.trial_dir) / "record.json").read_text())
    assert record["status"] == "diverged" and record["diverged_at"] == diverged.diverged_at
