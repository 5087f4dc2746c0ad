"""MIG, sampled and discretised: perfect, duplicated and constant codes, group MIG against quadrature, the
factor conventions."""

import numpy as np
import pytest
import torch

from tcdecomp.vae.metrics import mig_discrete, mig_sampled


def grid(sizes):
    return np.stack(np.unravel_index(np.arange(int(np.prod(sizes))), sizes), axis=1)


def perfect_posteriors(classes, sigma=0.05):
    # Each latent is one factor's class, well separated, with a small posterior spread.
    mu = torch.tensor(classes, dtype=torch.float32)
    return mu, torch.full_like(mu, 2 * np.log(sigma))


@pytest.mark.parametrize("mig", ["sampled", "discrete"])
def test_mig_perfect_duplicated_and_constant(mig):
    classes = grid((3, 6, 8))
    mu, logvar = perfect_posteriors(classes)
    score = (
        (lambda m, lv: mig_sampled(m, lv, classes, num_samples=3000))
        if mig == "sampled"
        else (lambda m, lv: mig_discrete(m, classes))
    )
    assert score(mu, logvar).mig == pytest.approx(1.0, abs=0.05)
    # Factor 0 in two latents: its gap vanishes; the others stay perfect.
    dup = torch.cat([mu[:, :1], mu], 1)
    per = score(dup, torch.cat([logvar[:, :1], logvar], 1)).per_factor
    assert per[0] == pytest.approx(0.0, abs=0.05) and min(per[1:]) > 0.95
    # Constant latents carry nothing.
    const = torch.zeros_like(mu)
    assert score(const, logvar).mig == pytest.approx(0.0, abs=0.05)


def _rotated_pairs(n=2000, classes_per_factor=4, spacing=1.5, sigma=0.3, seed=0):
    """Two factors, each spread over both dims of a pair by a 45-degree rotation with a N(0, 1) nuisance:
    mu_pair = ((s v + w) / sqrt 2, (s v - w) / sqrt 2), posteriors N(mu, sigma^2 I)."""
    rng = np.random.default_rng(seed)
    classes = rng.integers(0, classes_per_factor, (n, 2))
    w = rng.standard_normal((n, 2))
    mu = np.zeros((n, 4))
    for f in range(2):
        mu[:, 2 * f] = (spacing * classes[:, f] + w[:, f]) / np.sqrt(2)
        mu[:, 2 * f + 1] = (spacing * classes[:, f] - w[:, f]) / np.sqrt(2)
    mu = torch.tensor(mu, dtype=torch.float32)
    return mu, torch.full_like(mu, 2 * np.log(sigma)), classes


def _quadrature_mi(classes_per_factor=4, spacing=1.5, sigma=0.3):
    """I(z_pair; v) and I(z_single; v) of the continuous model behind _rotated_pairs, by 2-D and 1-D quadrature:
    z_pair | v ~ N(R (s v, 0), R diag(sigma^2, 1 + sigma^2) R^T), z_single | v ~ N(s v / sqrt 2, 1/2 + sigma^2)."""
    from scipy.stats import multivariate_normal, norm

    K, s = classes_per_factor, spacing
    rot = np.array([[1.0, 1.0], [1.0, -1.0]]) / np.sqrt(2)
    cov = rot @ np.diag([sigma**2, 1 + sigma**2]) @ rot.T
    grid = np.linspace(-6, 10, 500)
    points = np.stack(np.meshgrid(grid, grid), -1)
    dens = sum(multivariate_normal(rot @ [s * k, 0.0], cov).pdf(points) for k in range(K)) / K
    pair = -np.sum(dens * np.log(np.maximum(dens, 1e-300))) * (grid[1] - grid[0]) ** 2
    pair -= 0.5 * np.log(np.linalg.det(2 * np.pi * np.e * cov))
    var = 0.5 + sigma**2
    line = np.linspace(-8, 12, 20000)
    d1 = sum(norm(s * k / np.sqrt(2), np.sqrt(var)).pdf(line) for k in range(K)) / K
    single = -np.sum(d1 * np.log(np.maximum(d1, 1e-300))) * (line[1] - line[0]) - 0.5 * np.log(2 * np.pi * np.e * var)
    return pair, single


def test_group_mig_sees_factors_spread_over_a_pair():
    from tcdecomp.plans import contiguous_groups

    mu, logvar, classes = _rotated_pairs()
    pair_mi, single_mi = _quadrature_mi()  # 1.360 and 0.590 nats
    per_dim = mig_sampled(mu, logvar, classes, num_samples=12000)
    grouped = mig_sampled(mu, logvar, classes, num_samples=12000, groups=contiguous_groups(4, 2))
    assert per_dim.mig < 0.1 and grouped.mig > 0.85
    assert grouped.variables == [[0, 1], [2, 3]] and grouped.factors == [0, 1]
    mi, mi1 = np.asarray(grouped.mi), np.asarray(per_dim.mi)
    assert np.allclose(np.diag(mi), pair_mi, atol=0.05) and np.all(np.abs(mi - np.diag(np.diag(mi))) < 0.06)
    assert np.allclose([mi1[0, 0], mi1[1, 0], mi1[2, 1], mi1[3, 1]], single_mi, atol=0.05)


def test_factor_conventions():
    from tcdecomp.vae.data import DSPRITES_FACTORS
    from tcdecomp.vae.metrics import factor_selection

    assert factor_selection(DSPRITES_FACTORS, "all") == [0, 1, 2, 3, 4]
    assert factor_selection(DSPRITES_FACTORS, "chen2018") == [1, 2, 3, 4]  # shape left out
    classes = grid((3, 6, 8))
    mu, logvar = perfect_posteriors(classes)
    mu = torch.cat([mu[:, :1], mu], 1)  # factor 0 in two latents: its gap is 0
    logvar = torch.cat([logvar[:, :1], logvar], 1)
    every = mig_sampled(mu, logvar, classes, num_samples=3000)
    without_first = mig_sampled(mu, logvar, classes, num_samples=3000, factors=[1, 2])
    assert every.mig == pytest.approx(2 / 3, abs=0.05) and without_first.mig == pytest.approx(1.0, abs=0.05)
    with pytest.raises(ValueError, match="groups"):
        mig_sampled(mu, logvar, classes, groups=[[0, 1], [1, 2]])
