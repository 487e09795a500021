"""TrialConfig: one typed configuration, its defaults, checks and stable key (models/config.py)."""
from __future__ import annotations

import dataclasses
import hashlib
import json

import pytest

from models.config import KEY_OMITTED_AT_DEFAULT, TrialConfig, TrialConfigError

BASE = dict(family="gan", model="gan", nLayerG=5, nLayerD=2, sizeG=1600, sizeD=1024,
            dropoutD=False, optimD="sgd", optimG="sgd", lr=0.01)


def test_defaults_are_the_papers_and_specs_choices():
    c = TrialConfig.from_dict(BASE)
    assert (c.margin, c.pt_weight, c.z_dim, c.dropout, c.beta1, c.beta2) == \
        (10.0, 0.0, 100, 0.5, 0.5, 0.999)
    assert (c.seed, c.epochs, c.iterations, c.batch_size) == (0, 20, None, 64)
    # 20 epochs of 60,000 images in batches of 64: 20 * 937 iterations
    assert c.planned_iterations(60_000) == 18_740
    assert c.replace(iterations=40).planned_iterations(60_000) == 40


def test_values_are_normalised_so_one_value_has_one_key():
    a = TrialConfig.from_dict({**BASE, "lr": "1e-2", "margin": 10})
    assert a.lr == 0.01 and type(a.margin) is float
    assert a.key == TrialConfig.from_dict(BASE).key


@pytest.mark.parametrize("change, fragment", [
    ({"nLayerG": 1}, "nLayerG: must be an integer >= 2 (got 1)"),
    ({"model": "wgan"}, "model: must be one of gan, ebgan, lsgan, wgan_gp, hinge, began (got 'wgan')"),
    ({"lr": 0}, "lr: must be > 0.0 (got 0)"),
    ({"dropoutD": 1}, "dropoutD: must be true or false (got 1)"),
    ({"bogus": 3}, "unknown trial setting 'bogus' (got 3)"),
    ({"inject_error": True}, "unknown trial setting 'inject_error' (got True)"),
])
def test_bad_settings_name_the_key_and_value(change, fragment):
    with pytest.raises(TrialConfigError) as err:
        TrialConfig.from_dict({**BASE, **change})
    assert fragment in str(err.value)


def test_a_missing_setting_is_named():
    with pytest.raises(TrialConfigError, match="'lr' is missing"):
        TrialConfig.from_dict({k: v for k, v in BASE.items() if k != "lr"})


def test_the_key_keeps_the_form_earlier_versions_wrote():
    """Earlier trials carried `inject_error: false`; keeping it in the canonical JSON keeps
    their keys (the resume contract). `inject_error: false` in a dict is accepted."""
    c = TrialConfig.from_dict(BASE)
    # settings added later (gp_weight, n_critic, gamma, lambda_k) stay out while at default
    before = {k: v for k, v in c.to_dict().items() if k not in KEY_OMITTED_AT_DEFAULT}
    canonical = json.dumps({**before, "inject_error": False}, sort_keys=True,
                           separators=(",", ":"))
    assert c.key == hashlib.sha256(canonical.encode()).hexdigest()[:16]
    assert TrialConfig.from_dict({**BASE, "inject_error": False}).key == c.key
    assert "inject_error" not in c.to_dict()
    assert c.replace(seed=1).key != c.key and c.replace(family="other").key != c.key


def test_frozen_and_grouped_by_shape():
    c = TrialConfig.from_dict(BASE)
    with pytest.raises(dataclasses.FrozenInstanceError):
        c.lr = 0.1
    same_shapes = c.replace(lr=0.001, optimD="adam", dropoutD=True, margin=5.0)
    assert same_shapes.shape_group == c.shape_group
    assert c.replace(sizeD=512).shape_group != c.shape_group
    assert c.replace(seed=1).shape_group != c.shape_group
    assert c.replace(iterations=100).shape_group != c.shape_group
