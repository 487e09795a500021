"""The modified inception score against values derived by hand (paper section 4.1)."""
import math

import numpy as np
import pytest
import torch

from evaluator.score import modified_inception_score


def balanced_confident(eps: float, per_class: int = 3, k: int = 10) -> torch.Tensor:
    """per_class rows for each class c: p(c|x) = 1 - (k-1) eps, p(y|x) = eps for y != c."""
    p = torch.full((k * per_class, k), eps, dtype=torch.float64)
    p[torch.arange(k * per_class), torch.arange(k).repeat_interleave(per_class)] = 1 - (k - 1) * eps
    return p.log()


def test_identical_rows_score_zero():
    # Every p(y|x) equals the same q, so p(y) = q and each KL(q || q) = 0: a collapsed
    # generator scores exactly 0.
    q = torch.tensor([0.5, 0.2, 0.1, 0.05, 0.05, 0.04, 0.03, 0.02, 0.005, 0.005], dtype=torch.float64)
    lp = q.log().expand(50, 10)
    assert modified_inception_score(lp) == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("eps", [0.01, 0.05, 1e-6])
def test_balanced_confident_batch(eps):
    # N/10 rows per class; row of class c puts 1 - 9e on c and e on the 9 others.
    # p(y) = (1/10) [(1 - 9e) + 9 e] = 1/10 for every y (uniform), so for every row
    #   KL(p(y) || p(y|x)) = sum_y (1/10) (log(1/10) - log p(y|x))
    #                      = log(1/10) - (1/10) [log(1 - 9e) + 9 log e],
    # the same for every row, hence I = that value. For e = 0.01:
    #   -2.302585093 - (1/10) (-0.094310679 - 41.446531674) = 1.851499142.
    expected = math.log(0.1) - 0.1 * (math.log(1 - 9 * eps) + 9 * math.log(eps))
    assert modified_inception_score(balanced_confident(eps)) == pytest.approx(expected, abs=1e-12)
    if eps == 0.01:
        assert expected == pytest.approx(1.851499142, abs=1e-9)


def test_uniform_rows_score_zero():
    # e = 1/10 makes every row uniform: log(1/10) - (1/10)(10 log(1/10)) = 0.
    assert modified_inception_score(balanced_confident(0.1)) == pytest.approx(0.0, abs=1e-12)


def test_one_hot_rows_score_inf():
    # e = 0: one-hot rows of all 10 classes, p(y) uniform. For a row of class c,
    # KL(p(y) || p(y|x)) has the terms (1/10)(log(1/10) - log 0) = +inf for y != c: the KL is
    # +inf exactly (not log 10, which is the *original* score's maximum). Returned as inf.
    lp = torch.full((20, 10), -math.inf, dtype=torch.float64)
    lp[torch.arange(20), torch.arange(20) % 10] = 0.0
    assert modified_inception_score(lp) == math.inf


def test_very_confident_classifier_is_finite_without_epsilon():
    # log p(y|x) = -1000 off the true class: e = exp(-1000) underflows to 0 in float64, yet
    # from the logs I = log(1/10) - (1/10)[log(1 - 9e) + 9 (-1000)] = 900 - log 10 exactly
    # (log(1 - 9e) = 0 in float64).
    lp = torch.full((30, 10), -1000.0, dtype=torch.float64)
    lp[torch.arange(30), torch.arange(30) % 10] = 0.0
    assert modified_inception_score(lp) == pytest.approx(900.0 - math.log(10.0), abs=1e-9)


def test_two_rows_by_hand():
    # K = 2, rows (0.5, 0.5) and (0.9, 0.1): p(y) = (0.7, 0.3).
    # KL1 = 0.7 log(0.7/0.5) + 0.3 log(0.3/0.5) = 0.235530566 - 0.153247687 = 0.082282879
    # KL2 = 0.7 log(0.7/0.9) + 0.3 log(0.3/0.1) = -0.175920100 + 0.329583687 = 0.153663587
    # I = (KL1 + KL2) / 2 = 0.117973233
    lp = torch.tensor([[0.5, 0.5], [0.9, 0.1]], dtype=torch.float64).log()
    expected = 0.5 * (0.7 * math.log(0.7 / 0.5) + 0.3 * math.log(0.3 / 0.5)
                      + 0.7 * math.log(0.7 / 0.9) + 0.3 * math.log(0.3 / 0.1))
    assert modified_inception_score(lp) == pytest.approx(expected, abs=1e-12)
    assert expected == pytest.approx(0.117973233, abs=1e-9)


def test_absent_class_contributes_zero():
    # The same two rows with a third class that no sample ever gets (log p = -inf in every
    # row, p(y) = 0): 0 log 0 = 0, so the score is the two-class value above, finite.
    lp = torch.tensor([[0.5, 0.5, 0.0], [0.9, 0.1, 0.0]], dtype=torch.float64).log()
    assert modified_inception_score(lp) == pytest.approx(0.117973233, abs=1e-9)


def random_log_probs(n: int = 64, k: int = 10, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.log_softmax(3 * torch.randn(n, k, generator=g, dtype=torch.float64), dim=1)


def test_matches_direct_loop():
    lp = random_log_probs()
    p = lp.exp().tolist()
    n, k = len(p), len(p[0])
    py = [sum(row[y] for row in p) / n for y in range(k)]
    direct = sum(sum(py[y] * (math.log(py[y]) - math.log(row[y])) for y in range(k)) for row in p) / n
    assert modified_inception_score(lp) == pytest.approx(direct, abs=1e-12)
    assert direct > 0  # Jensen: the mean of KLs to the mean is >= 0


def test_row_order_and_input_type_do_not_matter():
    lp = random_log_probs(seed=1)
    perm = torch.randperm(lp.shape[0], generator=torch.Generator().manual_seed(2))
    ref = modified_inception_score(lp)
    assert modified_inception_score(lp[perm]) == pytest.approx(ref, abs=1e-12)
    assert modified_inception_score(lp.numpy()) == pytest.approx(ref, abs=1e-12)
    # float32 log_softmax, what the classifier produces, is accepted too.
    assert modified_inception_score(lp.float()) == pytest.approx(ref, abs=1e-5)


def test_any_number_of_classes():
    # Two one-hot-ish classes, K = 2, balanced: log(1/2) - (1/2)[log(1-e) + log e].
    e = 0.2
    lp = torch.tensor([[1 - e, e], [e, 1 - e]], dtype=torch.float64).log()
    expected = math.log(0.5) - 0.5 * (math.log(1 - e) + math.log(e))
    assert modified_inception_score(lp) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("bad, match", [
    (torch.zeros(10), "2-D"),
    (torch.zeros(2, 5, 10), "2-D"),
    (torch.log_softmax(torch.zeros(1, 10), 1), "at least 2 samples"),
    (torch.zeros(5, 1), "at least 2 classes"),
    (torch.softmax(torch.randn(5, 10), 1), "log-probabilities"),     # probabilities, not logs
    (torch.randn(5, 10), "log-probabilities"),                        # raw logits
    (torch.full((5, 10), -math.inf), "log-probabilities"),            # a row of zeros
    (torch.tensor([[0.0, math.nan]] * 3), "NaN"),
    (torch.tensor([[0.0, math.inf]] * 3), r"\+inf"),
    (np.array([["a", "b"], ["c", "d"]]), "numeric"),
])
def test_refusals(bad, match):
    with pytest.raises(ValueError, match=match):
        modified_inception_score(bad)
