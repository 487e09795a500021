"""The modified inception score of the EBGAN grid search (paper section 4.1, appendix C).

Zhao, Mathieu & LeCun, "Energy-based Generative Adversarial Networks", ICLR 2017, rank
the generators of their MNIST grid by

    I = E_x KL( p(y) || p(y|x) ),

where x is a generated sample, p(y|x) the softmax of an MNIST classifier and
p(y) = E_x p(y|x) the marginal over the generated samples. It is the inception score of
Salimans et al., "Improved Techniques for Training GANs", NeurIPS 2016
(exp E_x KL(p(y|x) || p(y))) with the pair of distributions swapped and without the exp.

A pure function: log-probabilities in, a number out; no model, no sampling (those are in
``evaluator.sampling``).
"""
from __future__ import annotations

import math

import numpy as np
import torch

# logsumexp of a float32 log_softmax row is 0 to within a few float32 ulps; probabilities
# (not logs) or raw logits miss 0 by far more than this.
ROW_TOLERANCE = 1e-5


def modified_inception_score(log_probs: torch.Tensor | np.ndarray) -> float:
    """Modified inception score, paper section 4.1: I = E_x KL(p(y) || p(y|x)).

    With N samples and K classes (K = 10 for MNIST; any K >= 2 is accepted):

        p(y)    = (1/N) sum_x p(y|x)
        I       = (1/N) sum_x sum_y p(y) (log p(y) - log p(y|x))

    Two changes from the inception score of Salimans et al. 2016: the pair is swapped,
    KL(p(y) || p(y|x)) instead of KL(p(y|x) || p(y)), and there is no exp.

    Higher is better: I is large when every sample is classified confidently and the
    classes are balanced. A collapsed generator (every p(y|x) the same) scores 0, and one
    that is diverse but unrecognisable (every p(y|x) near uniform) scores about 0. Unlike
    the original score, I is not bounded by log K: it grows as the classifier grows more
    confident, and it is +inf when some p(y|x) is exactly 0 for a class y with p(y) > 0
    (e.g. one-hot outputs of several classes), which is the exact value of the KL and is
    returned as ``float('inf')``. Because of that dependence on the classifier's
    confidence, scores are comparable only when computed with the same classifier.

    Computed in float64 from log-probabilities (log p(y) as a logsumexp over the batch
    minus log N), so it is finite without any epsilon whenever the KL is; a class with
    p(y) = 0 contributes 0 (the convention 0 log 0 = 0).

    Args:
        log_probs: (N, K) log p(y|x), e.g. ``log_softmax`` of the classifier's logits; a
            torch tensor (any device) or a numpy array.

    Returns:
        I as a Python float (>= 0, possibly +inf).

    Raises:
        ValueError: not 2-D, fewer than 2 samples or 2 classes, NaN or +inf entries, or
            rows that are not log-probabilities (logsumexp of a row differs from 0).
    """
    lp = _check_log_probs(log_probs)                                 # (N, K) float64
    n = lp.shape[0]
    log_py = torch.logsumexp(lp, dim=0) - math.log(n)                # (K,)  log p(y)
    present = log_py > -math.inf                                     # (K,)  p(y) > 0
    # Where p(y) = 0 every log p(y|x) of that column is -inf too: -inf - -inf would be NaN,
    # and the term is 0 by the 0 log 0 convention.
    gap = torch.where(present, log_py - lp, torch.zeros_like(lp))    # (N, K) may be +inf
    py = log_py.exp()                                                # (K,)
    # p(y) can underflow to 0 in exp while log p(y) is finite; an infinite gap still gives
    # an infinite KL then (mathematically p(y) > 0), never 0 * inf = NaN.
    terms = torch.where(torch.isinf(gap) & present, torch.full_like(gap, math.inf), py * gap)
    return float(terms.sum(dim=1).mean())


def _check_log_probs(log_probs: torch.Tensor | np.ndarray) -> torch.Tensor:
    if isinstance(log_probs, torch.Tensor):
        lp = log_probs.detach().to(device="cpu", dtype=torch.float64)
    else:
        try:
            lp = torch.as_tensor(np.asarray(log_probs, dtype=np.float64))
        except (TypeError, ValueError) as exc:
            raise ValueError(f"log_probs must be numeric, an (N, K) array: {exc}") from None
    if lp.dim() != 2:
        raise ValueError(f"log_probs must be 2-D (N samples, K classes); got shape {tuple(lp.shape)}")
    n, k = lp.shape
    if n < 2:
        raise ValueError(f"the score is a statistic over a batch: need at least 2 samples, got {n}")
    if k < 2:
        raise ValueError(f"need at least 2 classes (10 for MNIST), got {k}")
    if torch.isnan(lp).any():
        raise ValueError("log_probs contains NaN (a diverged generator or classifier?)")
    if (lp == math.inf).any():
        raise ValueError("log_probs contains +inf: not log-probabilities")
    row_lse = torch.logsumexp(lp, dim=1)                                # (N,)
    worst = float((row_lse.abs()).max())
    if not worst <= ROW_TOLERANCE:
        bad = int(row_lse.abs().argmax())
        raise ValueError(
            f"log_probs rows must be log-probabilities (logsumexp of each row = 0); row {bad} "
            f"has logsumexp {float(row_lse[bad]):.6g}. Pass log_softmax(logits), not logits "
            "or probabilities.")
    return lp
