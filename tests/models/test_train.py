"""End-to-end training with a tiny budget: record, reproducibility, common random numbers,
divergence, progress, and the sample grid."""
import math
import subprocess
import sys

import numpy as np
import pytest
import torch

from models.samples import sample_images, save_sample_grid, tile
from models.streams import BatchStream
from models.train import Trainer, batch_stream, planned_iterations, train




def config(**over):
    base = dict(family="ebgan", model="ebgan", nLayerG=2, nLayerD=3, sizeG=32, sizeD=32,
                dropoutD=True, dropout=0.5, optimD="adam", optimG="adam", lr=1e-4,
                margin=10.0, pt_weight=0.1, z_dim=100, beta1=0.5, beta2=0.999, seed=7,
                epochs=1, iterations=None, batch_size=64)
    base.update(over)
    return base


def weights(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def test_record_and_progress(images):
    calls, each = [], []
    result = train(config(), images, iterations=25, device="cpu",
                   progress=lambda it, losses: calls.append((it, losses)), progress_every=10)
    train(config(), images, iterations=25, device="cpu",
          progress=lambda it, losses: each.append(losses), progress_every=1)
    rec = result.record
    assert rec.status == "ok" and rec.diverged_at is None
    assert rec.iterations_done == rec.iterations_planned == 25
    assert rec.device == "cpu" and rec.ms_per_iteration > 0 and rec.wall_time_s > 0
    assert set(rec.final_losses) == set(rec.running_losses) == {"loss_d", "loss_g"}
    assert all(math.isfinite(v) for v in [*rec.final_losses.values(), *rec.running_losses.values()])
    assert [it for it, _ in calls] == [10, 20, 25]        # every 10, and at the end
    # a report holds the means since the last one (EBGAN: losses and both energies)
    assert set(calls[0][1]) == {"loss_d", "loss_g", "energy_real", "energy_fake"}
    for (it, means), lo in zip(calls, (0, 10, 20)):
        for q, v in means.items():
            assert v == pytest.approx(sum(e[q] for e in each[lo:it]) / (it - lo), rel=1e-12)
    assert each[-1]["loss_d"] == rec.final_losses["loss_d"]
    assert result.curve == [{"iteration": it, **m} for it, m in calls]
    assert not result.generator.training
    assert rec.to_dict()["status"] == "ok"


def test_budget_from_epochs_and_iterations(images):
    # epochs * (N // batch): 1 * (512 // 64) = 8; 2 * (130 // 64) = 4
    assert planned_iterations(config(epochs=1), 512) == 8
    assert planned_iterations(config(epochs=2), 130) == 4
    assert planned_iterations(config(iterations=5), 512) == 5
    assert planned_iterations(config(iterations=5), 512, iterations=3) == 3
    rec = train(config(model="gan", dropoutD=False), images[:130], device="cpu").record
    assert rec.iterations_done == 2


@pytest.mark.parametrize("over", [dict(), dict(model="gan", optimD="sgd", optimG="sgd")])
def test_bit_identical_on_cpu(images, over):
    a = train(config(**over), images, iterations=30, device="cpu").generator
    b = train(config(**over), images, iterations=30, device="cpu").generator
    wa, wb = weights(a), weights(b)
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    c = train(config(**over, seed=8), images, iterations=30, device="cpu").generator
    assert not torch.equal(weights(c)["net.0.weight"], wa["net.0.weight"])


def test_initial_weights_depend_on_seed_and_shapes_only(images):
    init = lambda **o: weights(train(config(**o), images, iterations=0, device="cpu").generator)
    base = init()
    other_settings = init(lr=0.01, optimG="sgd", dropoutD=False, pt_weight=0.0, margin=5.0)
    assert all(torch.equal(base[k], other_settings[k]) for k in base)
    assert not torch.equal(init(sizeD=64)["net.0.weight"], base["net.0.weight"])
    assert not torch.equal(init(seed=8)["net.0.weight"], base["net.0.weight"])


def test_same_batches_and_noise_across_configurations(images, monkeypatch):
    seen = {}
    original = BatchStream.next

    def recording_next(self):
        idx, z = original(self)
        seen.setdefault(id(self), []).append((idx.clone(), z.clone()))
        return idx, z

    monkeypatch.setattr(BatchStream, "next", recording_next)
    train(config(), images, iterations=12, device="cpu")
    train(config(model="gan", nLayerG=3, sizeG=16, sizeD=8, dropoutD=False, lr=0.01,
                 optimD="sgd", optimG="sgd", pt_weight=0.0), images, iterations=12, device="cpu")
    train(config(seed=8), images, iterations=12, device="cpu")
    first, second, other_seed = seen.values()
    assert len(first) == len(second) == 12
    for (ia, za), (ib, zb) in zip(first, second):
        assert torch.equal(ia, ib) and torch.equal(za, zb)
    assert not torch.equal(first[0][1], other_seed[0][1])


def test_batch_stream_epochs_and_prefix():
    # 130 images, batch 64: 2 batches per epoch, 2 images left out of each permutation
    long = list(batch_stream(0, 130, 64, 4, 7))
    assert len(long) == 7 and all(idx.shape == (64,) and z.shape == (64, 4) for idx, z in long)
    for epoch in range(3):
        seen = torch.cat([long[2 * epoch][0], long[2 * epoch + 1][0]])
        assert len(seen.unique()) == 128 and seen.max() < 130   # no repeat within an epoch
    short = list(batch_stream(0, 130, 64, 4, 3))
    for (ia, za), (ib, zb) in zip(short, long):
        assert torch.equal(ia, ib) and torch.equal(za, zb)
    with pytest.raises(ValueError):
        next(batch_stream(0, 10, 64, 4, 1))


@pytest.mark.parametrize("over", [dict(model="gan", optimD="sgd", optimG="sgd"),
                                  dict(model="ebgan", dropoutD=False)])
def test_absurd_learning_rate_diverges_without_raising(images, over):
    rec = train(config(**over, lr=1e30), images, iterations=40, device="cpu").record
    assert rec.status == "diverged"
    assert isinstance(rec.diverged_at, int) and 1 <= rec.diverged_at <= rec.iterations_done < 40
    assert not all(math.isfinite(v) for v in rec.final_losses.values())


def test_bad_config_refused(images):
    with pytest.raises(ValueError, match="model"):
        train(config(model="vae"), images, iterations=1, device="cpu")
    with pytest.raises(ValueError, match="optimG"):
        train(config(optimG="rmsprop"), images, iterations=1, device="cpu")
    bad = config()
    del bad["lr"]
    with pytest.raises(ValueError, match="lr"):
        train(bad, images, iterations=1, device="cpu")


def test_samples_and_grid(images, tmp_path):
    G = train(config(), images, iterations=5, device="cpu").generator
    a = sample_images(G, 70, 100, seed=3)
    b = sample_images(G, 70, 100, seed=3)
    assert a.shape == (70, 1024) and torch.equal(a, b)
    assert a.min() >= -1 and a.max() <= 1 and not G.training
    assert not torch.equal(sample_images(G, 70, 100, seed=4), a)
    # chunking is invisible: eval-mode batch norm treats samples independently
    z = torch.randn(1001, 100, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        assert torch.allclose(sample_images(G, 1001, 100, seed=5), G(z), atol=1e-6)
    grid = tile(a[:64])
    assert grid.shape == (8 * 34 + 2, 8 * 34 + 2)            # 32 px digits, 2 px gaps
    assert np.array_equal(grid[2:34, 2:34], a[0].view(32, 32).numpy())
    path = save_sample_grid(a[:64], tmp_path / "grid.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_models_do_not_import_the_sweep_engine():
    code = ("import sys, models.nets, models.losses, models.train, models.samples; "
            "print(sorted({'sweep', 'ray', 'optuna'} & {m.split('.')[0] for m in sys.modules}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_restored_run_ends_bit_identically(images, tmp_path):
    """A Trainer's state_dict, saved and loaded (as a checkpoint is), resumes exactly."""
    cfg = config(pt_weight=0.1, dropoutD=True)
    straight = Trainer(cfg, images, iterations=40, device="cpu", report_every=7)
    straight.run()
    first = Trainer(cfg, images, iterations=40, device="cpu", report_every=7)
    first.run(until=17)
    torch.save(first.state_dict(), tmp_path / "state.pt")
    resumed = Trainer(cfg, images, iterations=40, device="cpu", report_every=7)
    resumed.load_state_dict(torch.load(tmp_path / "state.pt", weights_only=True))
    resumed.run()
    for a, b in ((straight.G, resumed.G), (straight.D, resumed.D)):
        assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(),
                                                     b.state_dict().values()))
    assert straight.curve == resumed.curve
    rec = resumed.record()
    assert rec.attempts == [0, 17] and rec.iterations_run == 40 and rec.iterations_done == 40
    assert rec.final_losses == straight.record().final_losses


def test_training_is_bit_identical_to_the_previous_version(images):
    """tests/fixtures/legacy_training.json: weights the code before the redesign trained
    (commit ebcd1d1, 30 iterations, 1 thread); a refactor must not move a single bit."""
    import hashlib
    import json
    from pathlib import Path

    pinned = json.loads((Path(__file__).parents[1] / "fixtures" / "legacy_training.json")
                        .read_text())
    for name, f in pinned.items():
        res = train(f["config"], images, iterations=f["iterations"], device="cpu")
        h = hashlib.sha256()
        for k, v in res.generator.state_dict().items():
            h.update(k.encode())
            h.update(v.detach().contiguous().numpy().tobytes())
        assert h.hexdigest() == f["generator_sha256"], name
        assert res.record.final_losses == f["final_losses"], name
