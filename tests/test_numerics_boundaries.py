"""Numerics at the boundaries: a bad value raises a ValueError naming it, and an extreme but valid value
gives the number a float64 computation of the same inputs gives, never NaN, inf or a plausible wrong one."""

import math
import re
import warnings

import numpy as np
import pytest
import torch

from tcdecomp import (
    Gaussian,
    Posterior,
    Samples,
    StudentT,
    bottom_up_plan,
    gaussian_entropy,
    group_logsumexp,
    line_plan,
)
from tcdecomp.kernels import mss_log_weights, naive_group_logsumexp
from tcdecomp.vae.data import load_mnist
from tcdecomp.vae.metrics import mig_discrete, mig_sampled


def kernel_inputs(seed=0, B=6, M=5, D=3, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    return (
        torch.randn(B, D, generator=g, dtype=dtype),
        torch.randn(M, D, generator=g, dtype=dtype),
        torch.zeros(M, D, dtype=dtype),
    )


def poisoned(which: str, value: float, index=(1, 1), dtype=torch.float32):
    z, mu, logvar = kernel_inputs(dtype=dtype)
    tensors = {"z": z, "mu": mu, "logvar": logvar}
    tensors[which][index] = value
    return tensors["z"], tensors["mu"], tensors["logvar"]


def _log_w(value):
    w = torch.zeros(6, 5)
    w[2, 3] = value
    return w


def _all_minus_inf_row():
    w = torch.zeros(6, 5)
    w[4] = -math.inf
    return w


# -- 1. a bad value in one set must not spread: it raises, naming the argument ----------------------
BAD_VALUES = {
    "NaN in mu": (lambda: group_logsumexp(*poisoned("mu", math.nan), [[2], [0]]), "mu"),
    "NaN in z": (lambda: group_logsumexp(*poisoned("z", math.nan), [[2], [0]]), "z"),
    "inf in z": (lambda: group_logsumexp(*poisoned("z", -math.inf), [[2], [0]]), "z"),
    "NaN in logvar": (lambda: group_logsumexp(*poisoned("logvar", math.nan), [[2], [0]]), "logvar"),
    "logvar = +inf": (lambda: group_logsumexp(*poisoned("logvar", math.inf), [[2], [0]]), "logvar"),
    "logvar = -inf": (lambda: group_logsumexp(*poisoned("logvar", -math.inf), [[0]]), "logvar"),
    "NaN in log_w": (lambda: group_logsumexp(*kernel_inputs(), [[2], [0]], _log_w(math.nan)), "log_w"),
    "+inf in log_w": (lambda: group_logsumexp(*kernel_inputs(), [[0]], _log_w(math.inf)), "log_w"),
    "log_w row all -inf": (lambda: group_logsumexp(*kernel_inputs(), [[0]], _all_minus_inf_row()), "log_w row 4"),
    "logvar beyond float64": (
        lambda: group_logsumexp(*poisoned("logvar", -800.0, dtype=torch.float64), [[0]]),
        "logvar",
    ),
    "quadratic beyond float64": (lambda: group_logsumexp(*poisoned("mu", 1e200, dtype=torch.float64), [[0]]), "mu"),
    "posterior NaN logvar": (
        lambda: Posterior(torch.zeros(4, 2), torch.full((4, 2), math.nan), dataset_size=10),
        "logvar",
    ),
    "posterior logvar overflows z": (
        lambda: Posterior(torch.zeros(4, 2), torch.full((4, 2), 600.0), dataset_size=10),
        "logvar",
    ),
    "posterior exact huge z": (
        lambda: Posterior(
            torch.zeros(4, 2), torch.zeros(4, 2), z=torch.full((3, 2), 3e38), estimator="exact"
        ).total_correlation(),
        "z",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_VALUES))
def test_bad_values_raise_naming_the_argument(case):
    call, name = BAD_VALUES[case]
    with pytest.raises(ValueError) as info:
        call()
    assert name in str(info.value), str(info.value)


# -- 2. float32 edges: promoted to float64, the same number as float64 inputs give --------------------
def _edge_posterior(logvar: float, mu_scale: float = 1.0, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    mu = torch.randn(64, 4, generator=g) * mu_scale
    logvar_t = torch.full((64, 4), logvar)
    z = mu + torch.exp(0.5 * logvar_t) * torch.randn(64, 4, generator=g)  # as float32 sampling gives it
    return mu, logvar_t, z


FLOAT32_EDGES = {
    "logvar -89": (-89.0, 1.0),
    "logvar -100": (-100.0, 1.0),
    "logvar -300": (-300.0, 1.0),
    "logvar 100": (100.0, 1.0),
    "logvar 110": (110.0, 1.0),
    "mu 1e6, logvar -60": (-60.0, 1e6),
    "mu 1e12, logvar -20": (-20.0, 1e12),
}


@pytest.mark.parametrize("case", sorted(FLOAT32_EDGES))
@pytest.mark.parametrize("estimator", ["mss", "mws"])
def test_float32_edges_match_float64(case, estimator):
    mu, logvar, z = _edge_posterior(*FLOAT32_EDGES[case])
    tc32 = Posterior(mu, logvar, z=z, dataset_size=1000, estimator=estimator).total_correlation()
    tc64 = Posterior(
        mu.double(), logvar.double(), z=z.double(), dataset_size=1000, estimator=estimator
    ).total_correlation()
    assert math.isfinite(float(tc32)), case
    assert float(tc32) == pytest.approx(float(tc64), rel=1e-4, abs=1e-3), case


def test_well_separated_delta_posteriors_give_the_known_tc():
    # Components far apart in every dim: q(z_b) is its own component's 1/N share in the joint and in
    # every marginal, so TC = (D - 1) log N exactly: 3 log 1000 = 20.72 for D = 4.
    mu, logvar, _ = _edge_posterior(-60.0, 1e6)
    tc = Posterior(mu, logvar, dataset_size=1000).total_correlation()
    assert float(tc) == pytest.approx(3 * math.log(1000), abs=1e-3)


def test_float32_edge_gradients_are_finite():
    mu, logvar, _ = _edge_posterior(-95.0)
    mu.requires_grad_(True)
    Posterior(mu, logvar, dataset_size=1000).total_correlation().backward()
    assert torch.isfinite(mu.grad).all()


# -- 3. exactly collinear columns: refused the same way by every method, naming the columns -------------
def _collinear(seed, n=2000, relation=lambda x: 2 * x[:, 0] - x[:, 1], column=2, d=3, dtype=np.float64):
    x = np.random.default_rng(seed).standard_normal((n, d))
    x[:, column] = relation(x)
    return x.astype(dtype)


COLLINEAR = {
    "2 x0 - x1": (lambda s: _collinear(s), [0, 1, 2]),
    "duplicate column": (lambda s: _collinear(s, relation=lambda x: x[:, 0], column=3, d=5), [0, 3]),
    "scaled copy": (lambda s: _collinear(s, relation=lambda x: -7.5 * x[:, 1] + 3.0, column=0), [0, 1]),
    "large cancellation": (lambda s: _collinear(s, relation=lambda x: 100 * x[:, 0] - 99 * x[:, 1]), [0, 1, 2]),
    "float32 data": (lambda s: _collinear(s, dtype=np.float32), [0, 1, 2]),
    "unit-free scales": (lambda s: _collinear(s) * np.array([1e-6, 1.0, 1e6]), [0, 1, 2]),
}


@pytest.mark.parametrize("case", sorted(COLLINEAR))
@pytest.mark.parametrize("method", ["gaussian", "copula", "student_t", "t_copula", "gmm", "auto", "knn", "infonce"])
def test_collinear_columns_are_refused_deterministically(case, method):
    make, columns = COLLINEAR[case]
    for seed in range(4):
        with pytest.raises(ValueError, match=rf"linearly dependent columns {re.escape(str(columns))}"):
            Samples(make(seed), method=method)


def test_strong_but_not_exact_dependence_is_kept():
    # rho = 1 - 1e-9: TC about 10 nats; the covariance route lost this to rounding, the QR route does not.
    rng = np.random.default_rng(0)
    a = rng.standard_normal(5000)
    x = np.c_[a, a + math.sqrt(2e-9) * rng.standard_normal(5000)]
    expected = -0.5 * math.log(1 - (1 / math.sqrt(1 + 2e-9)) ** 2)
    assert float(Samples(x).total_correlation()) == pytest.approx(expected, abs=0.05)


# -- 4. ties and discrete data under knn ---------------------------------------------------------------
def _correlated(n=3000, rho=0.8, seed=1):
    cov = np.array([[1.0, rho], [rho, 1.0]])
    return np.random.default_rng(seed).multivariate_normal([0, 0], cov, n), float(Gaussian(cov).total_correlation())


@pytest.mark.parametrize("decimals", [1, 2])
def test_knn_dequantises_rounded_data_with_a_warning(decimals):
    x, truth = _correlated()
    with pytest.warns(UserWarning, match="dequantis"):
        value = float(Samples(np.round(x, decimals), method="knn").total_correlation())
    assert value == pytest.approx(truth, abs=0.05)


def test_knn_dequantises_integer_data():
    x, truth = _correlated(rho=0.9)
    with pytest.warns(UserWarning, match="dequantis"):
        value = float(Samples(np.round(x * 20), method="knn").total_correlation())
    assert value == pytest.approx(truth, abs=0.05)


TIE_ERRORS = {
    "every row duplicated": lambda x: np.r_[x, x],
    "a tenth of the rows repeated": lambda x: np.r_[x, x[:300]],
    "constant column": lambda x: np.c_[x, np.full(len(x), 0.37)],
}


@pytest.mark.parametrize("case", sorted(TIE_ERRORS))
def test_knn_refuses_repeats_and_constants(case):
    x, _ = _correlated()
    with pytest.raises(ValueError, match="repeat|constant"):
        Samples(TIE_ERRORS[case](x), method="knn")


def test_knn_on_distinct_data_warns_nothing():
    x, truth = _correlated()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert float(Samples(x, method="knn").total_correlation()) == pytest.approx(truth, abs=0.05)


# -- 5. the t entropy converges to the Gaussian's ------------------------------------------------------
@pytest.mark.parametrize("df", [1e4, 1e6, 1e10, 1e14, 1e16, 1e30, 1e300])
def test_student_t_tends_to_gaussian(df):
    scale = np.array([[1.0, 0.5, 0.1], [0.5, 2.0, 0.3], [0.1, 0.3, 1.5]])
    t, g = StudentT(scale, df), Gaussian(scale)
    bound = 3 * 5 / df + 1e-12  # the t excess entropy is O(d^2 / df)
    assert abs(t.entropy() - g.entropy()) <= bound
    assert abs(float(t.total_correlation()) - float(g.total_correlation())) <= bound


def test_t_entropy_matches_high_precision_reference():
    mpmath = pytest.importorskip("mpmath")
    from tcdecomp.student_t import t_entropy_offset

    mpmath.mp.dps = 250
    for d in (1, 3, 20):
        for df in (0.7, 5.0, 150.0, 250.0, 1e5, 1e12, 1e40):
            a, h = mpmath.mpf(df) / 2, mpmath.mpf(d) / 2
            ref = (
                h * mpmath.log(mpmath.mpf(df) * mpmath.pi)
                + mpmath.loggamma(a)
                - mpmath.loggamma(a + h)
                + (a + h) * (mpmath.digamma(a + h) - mpmath.digamma(a))
            )
            assert t_entropy_offset(d, df) == pytest.approx(float(ref), abs=1e-11), (d, df)


# -- 6. negative or non-integer dims are refused, never wrapped or truncated ----------------------------
COV = np.diag([1.0, 2.0, 3.0])
DIMS = {
    "StudentT.entropy [-1]": lambda: StudentT(COV, 5.0).entropy([-1]),
    "gaussian_entropy [-1]": lambda: gaussian_entropy(COV, dims=[-1]),
    "Gaussian.entropy [-1]": lambda: Gaussian(COV).entropy([-1]),
    "StudentT.entropy [0.5]": lambda: StudentT(COV, 5.0).entropy([0.5]),
    "gaussian_entropy [1.0]": lambda: gaussian_entropy(COV, dims=[1.0]),
    "multi_information [[0.5], [1]]": lambda: Gaussian(COV).multi_information([[0.5], [1]]),
    "multi_information [[-1], [0]]": lambda: Gaussian(COV).multi_information([[-1], [0]]),
    "decompose grouped float groups": lambda: Gaussian(COV).decompose("grouped", groups=[[0.0, 1.0], [2.0]]),
    "kernel set 1.5": lambda: group_logsumexp(*kernel_inputs(), [[1.5]]),
    "kernel set -1": lambda: group_logsumexp(*kernel_inputs(), [[-1]]),
    "line order with floats": lambda: line_plan(3, order=[0.0, 1, 2]),
    "bottom_up order negative": lambda: bottom_up_plan(4, order=[3, 2, 1, -1]),
    "grouped negative dim": lambda: Gaussian(COV).decompose("grouped", groups=[[0, -1], [1, 2]]),
}


@pytest.mark.parametrize("case", sorted(DIMS))
def test_dims_must_be_nonnegative_integers(case):
    with pytest.raises(ValueError, match="dim|groups|sets|order"):
        DIMS[case]()


# -- 7. double backward: a gradient penalty is the true second derivative, not zero ---------------------
@pytest.mark.parametrize("weights", ["none", "mss", "dense"])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_double_backward_matches_autograd_of_the_naive_computation(weights, dtype):
    g = torch.Generator().manual_seed(3)
    mu0, lv0, eps = (torch.randn(6, 3, generator=g, dtype=torch.float64) for _ in range(3))
    dense = torch.randn(6, 6, generator=g, dtype=torch.float64)
    sets = [[0, 1, 2], [0], [1, 2]]
    results = []
    for fn in (group_logsumexp, naive_group_logsumexp):
        mu = mu0.clone().to(dtype).requires_grad_(True)
        logvar = (0.3 * lv0).to(dtype).requires_grad_(True)
        log_w = {"none": None, "mss": mss_log_weights(6, 100), "dense": dense.to(dtype).requires_grad_(True)}[weights]
        z = 0.5 * mu + eps.to(dtype)  # z depends on mu: each first-order gradient must still be a partial
        out = fn(z, mu, logvar, sets, log_w)
        loss = (out * torch.tensor([1.0, 2.0, 3.0], dtype=dtype)).sum()
        gz, gmu = torch.autograd.grad(loss, [z, mu], create_graph=True)
        assert gz.requires_grad and gmu.requires_grad
        penalty = (gz**2).sum() + (gmu**3).sum()
        wrt = [mu, logvar] + ([log_w] if weights == "dense" else [])
        results.append(torch.autograd.grad(penalty, wrt))
    tol = 1e-9 if dtype == torch.float64 else 2e-3
    for ours, ref in zip(*results):
        torch.testing.assert_close(ours.double(), ref.double(), rtol=tol, atol=tol)


def test_gradient_penalty_on_a_posterior_tc_is_not_silently_zero():
    g = torch.Generator().manual_seed(0)
    mu = torch.randn(16, 4, generator=g, dtype=torch.float64, requires_grad=True)
    logvar = torch.zeros(16, 4, dtype=torch.float64)
    z = (mu + torch.randn(16, 4, generator=g, dtype=torch.float64)).detach().requires_grad_(True)
    tc = Posterior(mu, logvar, z=z, dataset_size=100).total_correlation()
    (grad_z,) = torch.autograd.grad(tc, z, create_graph=True)
    (penalty,) = torch.autograd.grad((grad_z**2).sum(), mu)
    assert float(penalty.abs().max()) > 1e-6


# -- 8. a nearly dead latent in mig_discrete ----------------------------------------------------------
@pytest.mark.parametrize("offset,noise", [(0.37, 1e-8), (1e4, 1e-4), (0.0, 0.0), (-3.0, 1e-7)])
def test_mig_discrete_treats_a_dead_latent_as_constant(offset, noise):
    rng = np.random.default_rng(0)
    classes = rng.integers(0, 4, (600, 2))
    mu = np.c_[classes[:, 0] + 0.1 * rng.standard_normal(600), offset + noise * rng.standard_normal(600)]
    result = mig_discrete(torch.tensor(mu, dtype=torch.float32), classes)
    mi = np.asarray(result.mi)
    assert np.isfinite(result.mig) and np.all(mi[1] == 0.0)
    assert mi[0, 0] > 1.0


def test_mig_sampled_survives_a_dead_latent():
    rng = np.random.default_rng(0)
    classes = rng.integers(0, 4, (300, 2))
    mu = torch.tensor(
        np.c_[classes[:, 0] + 0.1 * rng.standard_normal(300), 0.37 + 1e-8 * rng.standard_normal(300)],
        dtype=torch.float32,
    )
    result = mig_sampled(mu, torch.full_like(mu, -4.0), classes, num_samples=500)
    assert np.isfinite(result.mig)


# -- 9. silent conversions are refused ----------------------------------------------------------------
CONVERSIONS = {
    "complex samples": (lambda: Samples(np.random.default_rng(0).standard_normal((50, 3)) + 1j), "complex"),
    "complex tensor samples": (lambda: Samples(torch.randn(50, 3, dtype=torch.complex64)), "complex"),
    "complex nested list": (lambda: Samples([[1 + 1j, 2.0], [3.0, 4.0], [5.0, 6.5]]), "complex"),
    "boolean samples": (lambda: Samples(np.random.default_rng(0).random((50, 3)) > 0.5), "boolean"),
    "complex covariance": (lambda: Gaussian(np.eye(2) + 0j), "complex"),
    "complex posterior": (
        lambda: Posterior(torch.zeros(4, 2, dtype=torch.complex64), torch.zeros(4, 2), dataset_size=10),
        "mu",
    ),
    "mnist split typo": (lambda: load_mnist("/nonexistent", split="tset"), "split"),
}


@pytest.mark.parametrize("case", sorted(CONVERSIONS))
def test_silent_conversions_are_refused(case):
    call, name = CONVERSIONS[case]
    with pytest.raises(ValueError, match=name):
        call()


def test_far_out_samples_in_float32_raise_instead_of_overflowing():
    # Found by fuzzing: z = 0 far (at logvar = -89) from every component; each log density fits float32,
    # their differences did not: TC came back -inf.
    g = torch.Generator().manual_seed(0)
    mu = torch.randn(5, 2, generator=g)
    logvar = torch.full((5, 2), -89.0)
    for z in (torch.zeros(5, 2), torch.full((5, 2), 30.0)):
        with pytest.raises(ValueError, match="float32"):
            Posterior(mu, logvar, z=z, dataset_size=5).total_correlation()
    tc64 = Posterior(mu.double(), logvar.double(), z=torch.full((5, 2), 30.0, dtype=torch.float64), dataset_size=5)
    assert math.isfinite(float(tc64.total_correlation()))


def test_a_covariance_singular_to_working_precision_is_refused():
    # Found by fuzzing: a near rank-1 covariance passes a Cholesky factorisation while one of its blocks fails.
    cov = np.ones((4, 4)) + 1e-14 * np.eye(4)
    np.linalg.cholesky(cov)  # the old check alone accepts it
    for source in (lambda: Gaussian(cov), lambda: StudentT(cov, 5.0), lambda: gaussian_entropy(cov, [0, 1])):
        with pytest.raises(ValueError, match=r"singular to working precision \(dims \[0, 1, 2, 3\]"):
            source()


@pytest.mark.parametrize("dtype", [np.float16, torch.float16, torch.bfloat16])
@pytest.mark.parametrize("method", ["gaussian", "copula", "t_copula", "gmm", "knn"])
def test_half_precision_samples_are_widened_not_refused(dtype, method):
    # float16 and bfloat16 data were refused as "linearly dependent": the rank tolerance was a thousand of their
    # epsilons. Checks and estimates run in float64 on the exactly widened values.
    x = np.random.default_rng(3).multivariate_normal(np.zeros(3), [[1, 0.5, 0], [0.5, 1, 0], [0, 0, 1]], size=400)
    half = torch.from_numpy(x).to(dtype) if isinstance(dtype, torch.dtype) else x.astype(dtype)
    widened = half.double().numpy() if isinstance(half, torch.Tensor) else half.astype(np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # rounding repeats values: ties are broken, as documented
        tc = Samples(half, method=method).total_correlation()
        if method != "knn":  # knn spreads rounding ties at the input's own precision, which float64 input lacks
            assert float(tc) == pytest.approx(float(Samples(widened, method=method).total_correlation()), abs=1e-12)
    assert abs(float(tc) - 0.1438) < 4 * tc.stderr + 0.02  # -1/2 log(1 - 0.5^2)


@pytest.mark.parametrize("dtype", [np.float16, torch.float16])
def test_an_exact_relation_in_half_precision_is_still_refused(dtype):
    x = np.random.default_rng(4).standard_normal((300, 3))
    x[:, 2] = x[:, 0] + x[:, 1]
    half = torch.from_numpy(x).to(dtype) if isinstance(dtype, torch.dtype) else x.astype(dtype)
    with pytest.raises(ValueError, match="linearly dependent columns"):
        Samples(half)
