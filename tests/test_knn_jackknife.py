"""The KSG standard error's delete-one jackknife pseudo-values, in closed form, against n leave-one-out re-estimates
(float64; docs/math.md#ksg-standard-error)."""

import numpy as np
import pytest

from tcdecomp.knn import ksg_multi_information, ksg_with_influence


@pytest.mark.parametrize(
    "n,groups,k",
    [
        (60, [[0], [1]], 3),
        (50, [[0, 1], [2]], 3),
        (40, [[0], [1], [2]], 3),
        (45, [[0, 2], [1, 3]], 3),
        (50, [[0], [1]], 1),
    ],
)
def test_pseudo_values_equal_leave_one_out(n, groups, k):
    d = 1 + max(max(g) for g in groups)
    x = np.random.default_rng(n + k).standard_normal((n, d))
    values, pseudo = ksg_with_influence(x, groups, k)
    assert values.mean() == pytest.approx(ksg_multi_information(x, groups, k).mean(), abs=1e-15)
    loo = np.array([ksg_multi_information(np.delete(x, i, 0), groups, k).mean() for i in range(n)])
    exact = n * values.mean() - (n - 1) * loo  # the jackknife's pseudo-values
    assert np.ptp(exact - pseudo) < 1e-10  # equal up to a constant shift (psi(n) against psi(n - 1))


def test_the_jackknife_error_is_at_least_the_spread_over_draws():
    # The per-sample spread under-stated the error (0.68 of the spread over draws here); the jackknife may
    # over-state it (Efron & Stein 1981), never under-state it in expectation.
    estimates, errors = [], []
    for seed in range(20):
        x = np.random.default_rng(seed).standard_normal((200, 2))
        values, pseudo = ksg_with_influence(x, [[0], [1]])
        estimates.append(values.mean())
        errors.append(pseudo.std(ddof=1) / np.sqrt(len(pseudo)))
    assert 0.9 < np.mean(errors) / np.std(estimates, ddof=1) < 2.0
