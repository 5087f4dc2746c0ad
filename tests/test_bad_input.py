"""Every bad input gets a ValueError that names the argument."""

import math

import numpy as np
import pytest
import torch

from tcdecomp import (
    Gaussian,
    Posterior,
    PosteriorBank,
    Samples,
    bottom_up_plan,
    contiguous_groups,
    group_logsumexp,
    grouped_plan,
    line_plan,
    tc_plugin_bias,
    top_down_plan,
)
from tcdecomp.kernels import StructuredLogWeights, mss_log_weights
from tcdecomp.vae.metrics import mig_discrete, mig_sampled

rng = np.random.default_rng(0)
X = rng.standard_normal((50, 4))
X_NAN = X.copy()
X_NAN[3, 1] = np.nan
X_INF = X.copy()
X_INF[0, 0] = np.inf
MU = torch.randn(8, 3, dtype=torch.float64)
LV = torch.zeros(8, 3, dtype=torch.float64)
MU_NAN = MU.clone()
MU_NAN[2, 2] = float("nan")
COV = np.array([[1.0, 0.3], [0.3, 1.0]])

CASES = {
    # mismatched shapes
    "posterior mu/logvar shapes": (lambda: Posterior(MU, LV[:, :2], dataset_size=100), "logvar"),
    "posterior z rows": (lambda: Posterior(MU, LV, z=MU[:5], dataset_size=100), "z"),
    "posterior z dims": (lambda: Posterior(MU, LV, z=MU[:, :2], dataset_size=100), "z"),
    "posterior 1-D mu": (lambda: Posterior(MU[0], LV[0], dataset_size=100), "mu"),
    "kernel z dims": (lambda: group_logsumexp(MU[:, :2], MU, LV, [[0]]), "z"),
    "kernel logvar shape": (lambda: group_logsumexp(MU, MU, LV[:4], [[0]]), "logvar"),
    "kernel log_w shape": (lambda: group_logsumexp(MU, MU, LV, [[0]], torch.zeros(3, 3, dtype=torch.float64)), "log_w"),
    "covariance not square": (lambda: Gaussian(np.ones((2, 3))), "cov"),
    "samples 1-D": (lambda: Samples(np.ones(10)), "x"),
    # NaN or inf
    "samples NaN": (lambda: Samples(X_NAN), "x"),
    "samples inf": (lambda: Samples(X_INF, method="knn"), "x"),
    "samples NaN, gmm": (lambda: Samples(X_NAN, method="gmm"), "x"),
    "samples inf, auto": (lambda: Samples(X_INF, method="auto"), "x"),
    "posterior NaN": (lambda: Posterior(MU_NAN, LV, dataset_size=100), "mu"),
    "posterior z inf": (lambda: Posterior(MU, LV, z=torch.full_like(MU, math.inf), dataset_size=100), "z"),
    "covariance NaN": (lambda: Gaussian([[1.0, float("nan")], [float("nan"), 1.0]]), "cov"),
    # dataset_size < batch size, or missing
    "dataset_size < batch": (lambda: Posterior(MU, LV, dataset_size=4), "dataset_size"),
    "dataset_size missing": (lambda: Posterior(MU, LV, estimator="mws"), "dataset_size"),
    "dataset_size vs exact": (lambda: Posterior(MU, LV, dataset_size=20, estimator="exact"), "dataset_size"),
    "dataset_size < batch + bank": (lambda: _bank_posterior(capacity=100, dataset_size=20), "dataset_size"),
    "mss weights N < M": (lambda: mss_log_weights(10, 5), "dataset_size"),
    # groups that are not a partition; overlapping groups
    "grouped missing dim": (lambda: grouped_plan([[0, 1], [3]]), "groups"),
    "grouped overlap": (lambda: grouped_plan([[0, 1], [1, 2]]), "groups"),
    "decompose grouped not partition": (
        lambda: Gaussian(np.eye(4)).decompose("grouped", groups=[[0, 1], [2]]),
        "groups",
    ),
    "multi_information overlap": (lambda: Gaussian(np.eye(4)).multi_information([[0, 1], [1, 2]]), "groups"),
    "grouping factor does not divide": (lambda: contiguous_groups(10, 3), "group_size"),
    "decompose group_size": (lambda: Gaussian(np.eye(6)).decompose("grouped", group_size=4), "group_size"),
    # dims out of range
    "multi_information dim out of range": (lambda: Gaussian(np.eye(3)).multi_information([[0], [5]]), "groups"),
    "kernel set dim out of range": (lambda: group_logsumexp(MU, MU, LV, [[0, 3]]), "sets"),
    "line order not a permutation": (lambda: line_plan(4, order=[0, 1, 1, 2]), "order"),
    "bottom_up levels too deep": (lambda: bottom_up_plan(4, levels=3), "levels"),
    "top_down bad split": (lambda: top_down_plan(4, split=lambda node: 0), "split"),
    "n not positive": (lambda: line_plan(0), "n"),
    # n <= D for gaussian / copula
    "gaussian n <= D": (lambda: Samples(X[:4], method="gaussian"), "n="),
    "copula n <= D": (lambda: Samples(X[:3], method="copula"), "n="),
    "copula n < 30": (lambda: Samples(X[:29], method="copula"), "n >= 30"),
    "knn k >= n": (lambda: Samples(X[:3], method="knn", k=3), "k="),
    # covariance not SPD
    "covariance not PD": (lambda: Gaussian([[1.0, 2.0], [2.0, 1.0]]), "cov"),
    "covariance not symmetric": (lambda: Gaussian([[1.0, 0.5], [0.1, 1.0]]), "cov"),
    # empty set
    "kernel empty set": (lambda: group_logsumexp(MU, MU, LV, [[0], []]), "sets"),
    "kernel no sets": (lambda: group_logsumexp(MU, MU, LV, []), "sets"),
    "empty group": (lambda: grouped_plan([[0, 1], []]), "groups"),
    "multi_information one group": (lambda: Gaussian(np.eye(3)).multi_information([[0, 1, 2]]), "groups"),
    # unknown method / estimator / path
    "unknown method": (lambda: Samples(X, method="kde"), "method"),
    "unknown estimator": (lambda: Posterior(MU, LV, dataset_size=100, estimator="iwae"), "estimator"),
    "unknown path": (lambda: Gaussian(COV).decompose("zigzag"), "path"),
    "option of another path": (lambda: Gaussian(np.eye(4)).decompose("line", levels=1), "levels"),
    "knn total_path": (lambda: Samples(X, method="knn", total_path="spiral"), "total_path"),
    # mixed dtypes, bank misuse, mss with one example
    "kernel mixed dtypes": (lambda: group_logsumexp(MU.float(), MU, LV, [[0]]), "dtype"),
    "kernel mixed devices": (lambda: group_logsumexp(MU, MU.to("meta"), LV, [[0]]), "device"),
    "bank without bank": (lambda: Posterior(MU, LV, dataset_size=100, estimator="bank"), "bank"),
    "bank with other estimator": (lambda: Posterior(MU, LV, dataset_size=100, bank=PosteriorBank(4)), "bank"),
    "bank capacity": (lambda: PosteriorBank(0), "capacity"),
    "mss single example": (lambda: Posterior(MU[:1], LV[:1], dataset_size=100), "mss"),
    "num_samples for mss": (lambda: Posterior(MU, LV, dataset_size=100, num_samples=10), "num_samples"),
    "constant column": (lambda: Samples(np.c_[X, np.ones(50)]), "constant"),
    "plug-in bias n <= D": (lambda: tc_plugin_bias(3, 5), "n must"),
    "structured weight NaN": (lambda: StructuredLogWeights(math.nan, 0.0, 0.0, 4), "own"),
    "structured weight period": (lambda: StructuredLogWeights(0.0, 0.0, 0.0, 0), "period"),
    # columns that are strictly monotone functions of each other have infinite TC, whatever the method
    "monotone exp, copula": (lambda: Samples(_monotone(np.exp), method="copula"), "columns [0, 2]"),
    "monotone exp, auto": (lambda: Samples(_monotone(np.exp), method="auto"), "columns [0, 2]"),
    "monotone cube, gmm": (lambda: Samples(_monotone(lambda v: v**3 + v), method="gmm"), "monotone"),
    "monotone decreasing, t_copula": (lambda: Samples(_monotone(lambda v: -np.arctan(v)), method="t_copula"), "[0, 2]"),
    "monotone logistic, knn": (lambda: Samples(_monotone(lambda v: 1 / (1 + np.exp(-v))), method="knn"), "[0, 2]"),
    "monotone, gaussian": (lambda: Samples(_monotone(np.exp), method="gaussian"), "monotone"),
    # too few rows for the method's model: one line naming n and D
    "t_copula n = 10, D = 5": (lambda: Samples(rng.standard_normal((10, 5)), method="t_copula"), "n=10"),
    "t_copula n = 300, D = 200": (lambda: Samples(rng.standard_normal((300, 200)), method="t_copula"), "D=200"),
    "gmm n = 11, D = 5": (lambda: Samples(rng.standard_normal((11, 5)), method="gmm"), "n=11"),
    "auto n = 35, D = 5": (lambda: Samples(rng.standard_normal((35, 5)), method="auto"), "n >= 42"),
    "gaussian n = D + 1": (lambda: Samples(rng.standard_normal((51, 50))), "n >= 54"),
    # student_t on heavy or skewed independent margins would read their tails as a shared scale
    "student_t exponential margins": (
        lambda: Samples(np.random.default_rng(1).exponential(size=(2000, 3)), method="student_t"),
        "independent t margins",
    ),
    # group_logsumexp's sets are integer dims
    "sets a float tensor": (lambda: group_logsumexp(MU, MU, LV, torch.tensor([[0.5, 1.7]])), "sets"),
    "sets a 1-D tensor": (lambda: group_logsumexp(MU, MU, LV, torch.tensor([0, 1])), "sets"),
    "sets a boolean mask": (lambda: group_logsumexp(MU, MU, LV, torch.tensor([[True, False, True]])), "sets"),
    "sets holding a float": (lambda: group_logsumexp(MU, MU, LV, [[0, 1.0]]), "sets[0]"),
    "sets holding a bool": (lambda: group_logsumexp(MU, MU, LV, [[True]]), "sets[0]"),
    "sets one flat list": (lambda: group_logsumexp(MU, MU, LV, [0, 1]), "sets[0]"),
    # sizes that cannot fit are refused before allocating
    "exact num_samples 1e12": (
        lambda: Posterior(MU, LV, estimator="exact", num_samples=10**12),
        "num_samples",
    ),
    # MIG on degenerate inputs: a one-line error naming the argument, never NaN
    "mig factors empty": (lambda: mig_sampled(MU, LV, _classes(8), 50, factors=[]), "factors"),
    "mig factors repeated": (lambda: mig_sampled(MU, LV, _classes(8), 50, factors=[0, 0, 1]), "factors"),
    "mig constant factors": (lambda: mig_sampled(MU, LV, np.zeros((8, 2), dtype=int), 50), "classes"),
    "mig one row": (lambda: mig_sampled(MU[:1], LV[:1], _classes(1), 50), "mu"),
    "mig_discrete constant factors": (lambda: mig_discrete(MU, np.ones((8, 3), dtype=int)), "classes"),
    "mig_discrete one row": (lambda: mig_discrete(MU[:1], _classes(1)), "mu"),
    # the metric suite on degenerate rows
    "dci constant factors": (lambda: _suite("dci", rng.normal(size=(50, 3)), np.zeros((50, 2), dtype=int)), "factors"),
    "sap two rows": (lambda: _suite("sap", rng.normal(size=(2, 3)), _classes(2)), "codes"),
    "modularity unseen test class": (
        lambda: _suite(
            "modularity_explicitness",
            rng.normal(size=(60, 3)),
            _classes(60),
            rng.normal(size=(5, 3)),
            np.full((5, 2), 7),
        ),
        "factors_test",
    ),  # fmt: skip
    "modularity one varying factor": (
        lambda: _suite(
            "modularity_explicitness", rng.normal(size=(60, 3)), np.c_[_classes(60)[:, :1], np.zeros(60, int)]
        ),
        "modularity",
    ),
    # seeds and flags: a string, a negative or a float seed used to be ignored by some methods and crash others
    # inside numpy; "no" read as progress=True
    **{
        f"random_state {value!r}": (lambda value=value: Samples(X, method="knn", random_state=value), "random_state")
        for value in ("a", -1, 1.5, True, None, 2**70)
    },
    "progress as text": (lambda: Samples(X, progress="no"), "progress"),
    "neural seed": (lambda: __import__("tcdecomp.neural").neural.NeuralConfig(seed=-3), "NeuralConfig.seed"),
    "independence seed": (lambda: Samples(X).independence_test(permutations=19, seed="0"), "seed"),
    "mig_sampled seed": (lambda: mig_sampled(MU, LV, _classes(8), seed=1.5), "seed"),
    "mig_discrete seed": (lambda: mig_discrete(MU, _classes(8), seed=-1), "seed"),
    "dci seed": (lambda: _suite("dci", rng.normal(size=(60, 3)), _classes(60), None, None, "0"), "seed"),
    # a list of groups passed as the path used to fail as "unhashable type: 'list'"
    "decompose path as groups": (lambda: Samples(X).decompose([[0, 1], [2, 3]]), "groups="),
}


def _monotone(f):
    x = np.random.default_rng(7).standard_normal((300, 3))
    x[:, 2] = f(x[:, 0])
    return x


def _classes(n):
    return np.stack([np.arange(n) % 3, np.arange(n) % 2], axis=1)


def _suite(name, *args):
    from tcdecomp.vae import metrics as suite

    return getattr(suite, name)(*args)


def _bank_posterior(capacity, dataset_size):
    bank = PosteriorBank(capacity)
    bank.update(torch.randn(capacity, 3, dtype=torch.float64), torch.zeros(capacity, 3, dtype=torch.float64))
    return Posterior(MU, LV, dataset_size=dataset_size, estimator="bank", bank=bank)


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_raises_value_error_naming_the_argument(case):
    call, name = CASES[case]
    with pytest.raises(ValueError) as info:
        call()
    assert name in str(info.value), f"{case}: message {str(info.value)!r} does not name {name!r}"
