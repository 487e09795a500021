"""The worker's rung loop (sweep/run/worker/rung_loop.py + unit_runner.train_unit), without
Ray: real trainers on real digits, real rung scores (an untrained ConvNet: arbitrary but
fixed values), the board as a plain object.

grace 5, reduction 3, budget 30: rungs at 5 and 15 (log(6)/log(3) = 1.63 -> 2 rungs).
"""
from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
import torch

from evaluator.convnet import ConvNet
from models.config import TrialConfig
from models.data import load_mnist
from models.train import Trainer
from sweep.config.scheduler import SchedulerConfig
from sweep.run.scheduling.rung_board import RungBoard
from sweep.run.scheduling.units import Unit
from sweep.run.worker.rung_loop import Rungs, Schedule, rung_scorer
from sweep.run.worker.unit_runner import (Hooks, Scorer, finish_unit, make_trainer, results_of,
                                          train_unit)

BUDGET, RUNGS = 30, (5, 15)
SCHED = SchedulerConfig("asha", 5, "score", 3.0, 1)


@pytest.fixture(scope="module")
def images() -> torch.Tensor:
    return load_mnist("mnist-5k", flatten=True).train_images[:256].clone()


@pytest.fixture(scope="module")
def classifier() -> ConvNet:
    with torch.random.fork_rng():
        torch.manual_seed(0)
        return ConvNet().eval()


def pack_of_8() -> Unit:
    members = [TrialConfig(family="gan", model="gan", nLayerG=2, nLayerD=2, sizeG=16, sizeD=8,
                           dropoutD=drop, optimD=od, optimG="adam", lr=lr, seed=3,
                           iterations=BUDGET, batch_size=16)
               for drop in (False, True) for od in ("adam", "sgd") for lr in (1e-2, 1e-3)]
    return Unit(tuple(members), tuple(range(8)))


class Counted:
    """The worker's rung scores (``rung_scorer``, 100 samples), counting the calls."""

    def __init__(self, unit: Unit, classifier: ConvNet) -> None:
        self.score = rung_scorer(unit, classifier, None, 100, torch.device("cpu"))
        self.calls: list[tuple[int, int]] = []

    def __call__(self, trainer, k: int):
        self.calls.append((k, trainer.iteration))
        return self.score(trainer, k)


def rungs_for(unit: Unit, board: RungBoard, score) -> Rungs:
    return Rungs(unit, {"gan": Schedule(SCHED, BUDGET)}, board, score)


def new_board() -> RungBoard:
    return RungBoard({"gan": (SCHED, BUDGET)})


@pytest.fixture(scope="module")
def whole(images, classifier):
    """The pack of 8 trained once with its rungs: (unit, trainer, rungs, board, scores, reports)."""
    unit = pack_of_8()
    board, score = new_board(), Counted(unit, classifier)
    trainer = make_trainer(unit, images, torch.device("cpu"))
    rungs = rungs_for(unit, board, score)
    reported: list[dict] = []
    train_unit(trainer, rungs=rungs, at_rung=reported.append)
    return unit, trainer, rungs, board, score, reported


def test_a_pack_stops_members_at_their_rung(whole, classifier, tmp_path):
    unit, trainer, rungs, board, score, reported = whole
    assert [m["rung_iteration"] for m in reported] == list(RUNGS[:len(reported)])
    records = [trainer.record(k) for k in range(8)]
    stopped = {unit.members[k].key: r.stopped_at for k, r in enumerate(records)
               if r.status == "stopped"}
    assert stopped and stopped == board.stopped("gan")
    for k, r in enumerate(records):
        decided = rungs.results[k]
        assert [d.iteration for d in decided] == list(RUNGS[:len(decided)])
        if r.status == "stopped":   # stopped at the rung the board said no, trained no further
            assert decided[-1].keep is False and r.stopped_at == decided[-1].iteration
            assert r.iterations_done == r.stopped_at
        else:                       # won every rung, trained to the budget
            assert r.status == "ok" and all(d.keep for d in decided) and len(decided) == 2
            assert r.iterations_done == BUDGET
    # each member scored once at each rung it reached, never after it stopped
    assert sorted(score.calls) == sorted((k, d.iteration) for k in range(8)
                                         for d in rungs.results[k])
    scorer = Scorer(classifier, "sha", 100, "mnist-5k")
    results = finish_unit(unit, results_of(trainer), scorer, device=torch.device("cpu"),
                          storage_root=str(tmp_path), rungs=rungs)
    for k, res in enumerate(results):
        folder = Path(res.trial_dir)
        assert (folder / "samples.png").is_file() and (folder / "generator.pt").is_file()
        rows = json.loads(res.rungs)
        assert rows == [d.to_row() for d in rungs.results[k]]
        assert res.rung_score == rows[-1][1]
        record = json.loads((folder / "record.json").read_text())
        assert record["status"] == res.status and record["rungs"] == res.rungs
        if res.status == "stopped":
            assert res.score is None and res.stopped_at == rows[-1][0]
        else:
            assert res.score is not None and res.stopped_at is None


def test_a_resumed_pack_neither_rescores_nor_loses_a_rung(whole, images, classifier):
    unit, trainer, rungs_whole, _, _, _ = whole
    # the same unit on a new board, checkpointed at iteration 10 (after rung 5), killed at 11
    board2, first = new_board(), Counted(unit, classifier)
    part = make_trainer(unit, images, torch.device("cpu"))
    rungs = rungs_for(unit, board2, first)
    saved = {}

    def on_iteration_checkpoint(tr):
        if tr.iteration == 10 and not saved:  # as a checkpoint: written out at once
            buffer = io.BytesIO()
            torch.save({**tr.state_dict(), "rungs": rungs.state()}, buffer)
            saved.update(torch.load(io.BytesIO(buffer.getvalue()), weights_only=True))

    def kill(it: int) -> None:
        if it == 11:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train_unit(part, rungs=rungs, checkpoint=on_iteration_checkpoint,
                   hooks=Hooks(on_iteration=kill, checkpoint_at=frozenset({10})))
    resumed = make_trainer(unit, images, torch.device("cpu"))
    resumed.load_state_dict(saved)
    second = Counted(unit, classifier)
    again = rungs_for(unit, board2, second)
    again.load(saved["rungs"])
    train_unit(resumed, rungs=again)
    assert second.calls and all(it == 15 for _, it in second.calls)  # rung 5: not again
    assert again.state() == rungs_whole.state()
    assert [resumed.record(k).stopped_at for k in range(8)] == \
        [trainer.record(k).stopped_at for k in range(8)]


def test_a_solo_trial_ends_at_the_rung_it_loses(images, classifier):
    unit = pack_of_8()
    board = new_board()
    lone = [Unit((m,), (k,)) for k, m in enumerate(unit.members)]
    ends = []
    for u in lone:
        trainer = make_trainer(u, images, torch.device("cpu"))
        assert isinstance(trainer, Trainer)
        train_unit(trainer, rungs=rungs_for(u, board, Counted(u, classifier)))
        r = trainer.record()
        ends.append((r.status, r.iterations_done, trainer.iteration))
    assert any(s == "stopped" for s, _, _ in ends)
    for status, done, it in ends:
        assert done == it == (BUDGET if status == "ok" else done)
        assert status == "ok" or done in RUNGS
