"""Neural per-term MI bounds on closed-form cases; small, CPU-fast settings."""

import math

import numpy as np
import pytest
import torch

from tcdecomp import Gaussian, Samples
from tcdecomp.neural import NeuralConfig, bound, neural_mi, pairwise_chain

FAST = NeuralConfig(hidden=32, steps=300, batch_size=64, eval_every=50, patience=3)


def bivariate(rho, n, seed=0):
    return np.random.default_rng(seed).multivariate_normal([0, 0], [[1, rho], [rho, 1]], n)


@pytest.mark.parametrize("method", ["infonce", "nwj", "mine"])
def test_lower_bounds_recover_gaussian_mi(method):
    rho = 0.8
    x = bivariate(rho, 2000)
    value, se = neural_mi(x[:, :1], x[:, 1:], method, FAST)
    assert value == pytest.approx(-0.5 * math.log(1 - rho**2), abs=0.12)
    assert 0 < se < 0.1


def test_club_is_the_known_loose_upper_bound():
    # With the best Gaussian q(b|a) CLUB equals rho^2 / (1 - rho^2) >= MI (Cheng et al. 2020).
    rho = 0.8
    x = bivariate(rho, 2000)
    value, _ = neural_mi(x[:, :1], x[:, 1:], "club", FAST)
    assert value > -0.5 * math.log(1 - rho**2)
    assert value == pytest.approx(rho**2 / (1 - rho**2), abs=0.3)


@pytest.mark.parametrize("B", [2, 16, 64])
def test_infonce_is_at_most_log_batch_for_any_critic(B):
    # The algebra: joint_i - logsumexp_j f(a_i, b_j) <= 0 because the logsumexp includes j = i, so the
    # bound (mean over i, plus log B) never exceeds log B; with the diagonal infinitely ahead it reaches it.
    g = torch.Generator().manual_seed(B)

    class Scores(torch.nn.Module):
        def __init__(self, scores):
            super().__init__()
            self.scores = scores

        def forward(self, a, b):
            return self.scores

    for scale in (0.1, 10.0, 1e4):
        scores = torch.randn(B, B, generator=g, dtype=torch.float64) * scale
        assert float(bound("infonce", Scores(scores), None, None)) <= math.log(B) + 1e-12
    peaked = torch.eye(B, dtype=torch.float64) * 1e4
    assert float(bound("infonce", Scores(peaked), None, None)) == pytest.approx(math.log(B), abs=1e-9)


def test_independent_data_gives_about_zero():
    x = np.random.default_rng(3).standard_normal((1500, 2))
    value, se = neural_mi(x[:, :1], x[:, 1:], "nwj", FAST)
    assert abs(value) < 0.05 + 3 * se


def test_multi_group_terms_use_the_exact_chain_rule():
    assert pairwise_chain([(0,), (3, 4), (1,)]) == [((0,), (3, 4)), ((0, 3, 4), (1,))]
    cov = np.array([[1, 0.6, 0.3], [0.6, 1, 0.4], [0.3, 0.4, 1.0]])
    x = np.random.default_rng(1).multivariate_normal(np.zeros(3), cov, 2000)
    src = Samples(x, method="infonce", neural=FAST)
    tc = src.total_correlation()
    assert float(tc) == pytest.approx(float(Gaussian(cov).total_correlation()), abs=0.12)
    dec = src.decompose("line")
    assert any("log(batch)" in n for n in dec.notes)
    # The line path's pairs are exactly the chain of the single TC term: same networks, same total.
    assert float(src.multi_information([[0], [1], [2]])) == pytest.approx(float(dec.total), abs=1e-12)


def test_bad_neural_arguments():
    x = np.random.default_rng(0).standard_normal((100, 2))
    with pytest.raises(ValueError, match="neural"):
        Samples(x, method="nwj", neural={"steps": 10})
    with pytest.raises(ValueError, match="rows"):
        Samples(x[:50], method="nwj", neural=FAST).total_correlation()
    with pytest.raises(ValueError, match="batch_size"):
        NeuralConfig(batch_size=1)
    with pytest.raises(ValueError, match="holdout"):
        NeuralConfig(holdout=1.5)


def test_concat_and_separable_critics_both_recover_mi():
    rho = 0.8
    x = bivariate(rho, 2000)
    for critic in ("separable", "concat"):
        cfg = NeuralConfig(hidden=32, steps=300, batch_size=64, eval_every=50, patience=3, critic=critic)
        value, _ = neural_mi(x[:, :1], x[:, 1:], "infonce", cfg)
        assert value == pytest.approx(-0.5 * math.log(1 - rho**2), abs=0.12), critic
    with pytest.raises(ValueError, match="critic"):
        NeuralConfig(critic="bilinear")
