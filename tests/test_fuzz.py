"""Property-based fuzzing of every public estimator: random shapes, dtypes, NaN/inf placement, extreme
magnitudes and random group lists. Each call returns finite values, or raises ValueError/TypeError from
tcdecomp's own argument checks, naming an argument; never NaN/inf, never an error from inside torch or numpy."""

import math
import os
import traceback
import warnings

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tcdecomp import Gaussian, Posterior, PosteriorBank, Samples, StudentT, gaussian_entropy, group_logsumexp
from tcdecomp.kernels import mss_log_weights

FUZZ = settings(
    max_examples=int(os.environ.get("TCDECOMP_FUZZ_EXAMPLES", "400")),
    deadline=None,
    derandomize=os.environ.get("TCDECOMP_FUZZ_RANDOM") != "1",
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# Plain values most of the time, extremes often enough that every boundary is met.
MAGNITUDES = [1.0] * 6 + [1e-3, 1e3] * 2 + [1e-300, 1e-30, 1e-8, 1e8, 1e30, 1e300]
LOGVARS = [0.0, -2.0, 1.0] * 4 + [-1000.0, -700.0, -300.0, -100.0, -89.0, -60.0, -10.0, 10.0, 88.0, 100.0, 300.0, 800.0]
TORCH_DTYPES = [torch.float64, torch.float32, torch.float64, torch.float32, torch.float16, torch.bfloat16]
POISON = [None] * 9 + [math.nan, math.inf, -math.inf]


@st.composite
def matrices(draw, rows, cols, magnitudes=MAGNITUDES, allow_poison=True, offsets=(0.0, 0.0, 0.0, 1.0, -1e6, 1e12)):
    """A rows x cols float64 array: normal draws times a magnitude plus an offset, maybe one NaN/inf."""
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    scale = draw(st.sampled_from(magnitudes))
    offset = draw(st.sampled_from(offsets)) if scale >= 1e-8 else 0.0
    x = rng.standard_normal((rows, cols)) * scale + offset
    if allow_poison:
        poison = draw(st.sampled_from(POISON))
        if poison is not None:
            x[draw(st.integers(0, rows - 1)), draw(st.integers(0, cols - 1))] = poison
    return x


def logvar_noise(rows, cols):
    return matrices(rows, cols, [1e-3, 1.0], offsets=(0.0,), allow_poison=True)


@st.composite
def group_lists(draw, n_dims):
    """Mostly valid disjoint groups, sometimes an invalid one (negative, out of range, float, repeated, empty)."""
    dims = list(range(n_dims))
    groups = []
    while dims and len(groups) < 3:
        take = draw(st.integers(1, len(dims)))
        groups.append(dims[:take])
        dims = dims[take:]
    if draw(st.booleans()) and draw(st.booleans()):
        bad = draw(st.sampled_from([-1, n_dims, 0.5, 1.0, "a", None, "empty", "repeat"]))
        if bad == "empty":
            groups.append([])
        elif bad == "repeat":
            groups.append([0])
        else:
            groups.append([bad])
    return groups


def check_outcome(call, names):
    """Run ``call``: finite floats (or tensors) back, or a ValueError/TypeError raised by tcdecomp
    naming one of ``names``."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        warnings.filterwarnings("ignore", message="knn: columns", category=UserWarning)
        warnings.filterwarnings("ignore", message="(gmm|auto): columns", category=UserWarning)
        try:
            values = call()
        except (ValueError, TypeError) as exc:
            origin = traceback.extract_tb(exc.__traceback__)[-1].filename
            assert "tcdecomp" in origin, f"raised from inside {origin}: {exc!r}"
            assert any(n in str(exc) for n in names), f"{exc!r} names none of {names}"
            _event("refused: " + " ".join(str(exc).split()[:4]))
            return None
    for value in values:
        if isinstance(value, torch.Tensor):
            assert bool(torch.isfinite(value.detach()).all()), values
        else:
            assert math.isfinite(float(value)), values
    _event("returned finite values")
    return values


def _event(name):
    try:
        event(name)
    except Exception:  # outside a hypothesis test
        pass


def _estimate_values(estimate):
    return [estimate, estimate.stderr]


def _decomposition_values(dec):
    return [v for _, v in dec.terms] + dec.stderrs + [dec.total]


# -- the kernel ----------------------------------------------------------------------------------------------
@FUZZ
@given(st.data())
def test_group_logsumexp(data):
    B, M, D = data.draw(st.integers(1, 5)), data.draw(st.integers(1, 5)), data.draw(st.integers(1, 4))
    dtype = data.draw(st.sampled_from(TORCH_DTYPES))
    z = data.draw(matrices(B, D))
    mu = data.draw(matrices(M, D))
    logvar = np.full((M, D), data.draw(st.sampled_from(LOGVARS))) + data.draw(logvar_noise(M, D))
    kind = data.draw(st.sampled_from(["none", "dense", "mss"]))
    if kind == "dense":
        log_w = torch.as_tensor(data.draw(matrices(B, M, [1.0, 1e3])), dtype=dtype)
    elif kind == "mss" and B <= M and M >= 2:
        log_w = mss_log_weights(M, 10 * M)
    else:
        log_w = None
    sets = data.draw(group_lists(D))
    z, mu, logvar = (torch.as_tensor(a).to(dtype) for a in (z, mu, logvar))
    check_outcome(lambda: [group_logsumexp(z, mu, logvar, sets, log_w)], ("z", "mu", "logvar", "log_w", "sets"))


# -- posteriors ----------------------------------------------------------------------------------------------
@FUZZ
@given(st.data())
def test_posterior(data):
    M, D = data.draw(st.integers(1, 6)), data.draw(st.integers(1, 4))
    dtype = data.draw(st.sampled_from(TORCH_DTYPES))
    estimator = data.draw(st.sampled_from(["mss", "mws", "bank", "exact"]))
    mu = torch.as_tensor(data.draw(matrices(M, D))).to(dtype)
    logvar = torch.as_tensor(np.full((M, D), data.draw(st.sampled_from(LOGVARS))) + data.draw(logvar_noise(M, D))).to(
        dtype
    )
    kwargs = {"estimator": estimator, "generator": torch.Generator().manual_seed(0)}
    if estimator != "exact":
        kwargs["dataset_size"] = data.draw(st.sampled_from([M, 10 * M + 5, 10**9]))
    if estimator == "bank":
        bank = PosteriorBank(4)
        bank.update(torch.randn(3, D, dtype=torch.float64), torch.zeros(3, D, dtype=torch.float64))
        kwargs["bank"] = bank
    if data.draw(st.booleans()):
        rows = M if estimator != "exact" else data.draw(st.integers(1, 6))
        kwargs["z"] = torch.as_tensor(data.draw(matrices(rows, D))).to(dtype)
    groups = data.draw(group_lists(D))
    names = ("mu", "logvar", "z", "dataset_size", "num_samples", "bank", "groups", "dims", "sets", "estimator")

    def run():
        post = Posterior(mu, logvar, **kwargs)
        out = _estimate_values(post.total_correlation())
        if D >= 2:
            out += _estimate_values(post.multi_information(groups))
            out += _decomposition_values(post.decompose(data.draw(st.sampled_from(["line", "bottom_up", "top_down"]))))
        return out

    check_outcome(run, names)


# -- samples -------------------------------------------------------------------------------------------------
@FUZZ
@given(st.data())
def test_samples(data):
    n, D = data.draw(st.integers(1, 40)), data.draw(st.integers(1, 4))
    method = data.draw(st.sampled_from(["gaussian", "copula", "student_t", "t_copula", "gmm", "auto", "knn"]))
    x = data.draw(matrices(n, D))
    if data.draw(st.booleans()):
        x = np.round(x / np.max(np.abs(x[np.isfinite(x)]), initial=1.0), data.draw(st.integers(0, 2)))  # ties
    if data.draw(st.booleans()):
        x = x.astype(np.float32)
    groups = data.draw(group_lists(D))
    k = data.draw(st.integers(1, 4))

    def run():
        src = Samples(x, method=method, k=k)
        out = _estimate_values(src.total_correlation())
        if D >= 2:
            out += _estimate_values(src.multi_information(groups))
        return out

    check_outcome(run, ("x", "k", "groups", "n=", "dims"))


# -- closed forms ------------------------------------------------------------------------------------------
@FUZZ
@given(st.data())
def test_closed_forms(data):
    D = data.draw(st.integers(1, 4))
    a = data.draw(matrices(D + data.draw(st.integers(0, 3)), D, allow_poison=data.draw(st.booleans())))
    cov = a.T @ a if np.all(np.isfinite(a)) and np.max(np.abs(a)) < 1e150 else a[:D, :D]
    df = data.draw(st.sampled_from([1e-9, 1e-6, 0.5, 1.0, 3.0, 30.0, 1e6, 1e16, 1e300, -1.0, math.inf, math.nan]))
    dims = data.draw(st.sampled_from([None, [0], [-1], [D - 1], [0.5], list(range(D)), [D]]))
    groups = data.draw(group_lists(D))
    names = ("cov", "scale", "df", "dims", "groups")

    def run(source):
        out = _estimate_values(source.total_correlation()) + [source.entropy(dims)]
        if D >= 2:
            out += _estimate_values(source.multi_information(groups))
        return out

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", np.exceptions.ComplexWarning) if hasattr(np, "exceptions") else None
        check_outcome(lambda: run(Gaussian(cov)), names)
        check_outcome(lambda: run(StudentT(cov, df)), names)
        check_outcome(lambda: [gaussian_entropy(cov, dims)], names)


def test_fuzz_inputs_reach_success_and_refusal():
    # The strategies are not all-rejecting: a plain input gives numbers, a poisoned one a refusal.
    x = np.random.default_rng(0).standard_normal((30, 3))
    assert check_outcome(lambda: _estimate_values(Samples(x).total_correlation()), ("x",)) is not None
    x[3, 1] = math.nan
    assert check_outcome(lambda: _estimate_values(Samples(x).total_correlation()), ("x",)) is None


@pytest.mark.parametrize("dtype", TORCH_DTYPES)
def test_half_precision_posteriors_give_finite_values(dtype):
    mu = torch.randn(16, 3).to(dtype)
    tc = Posterior(mu, torch.full_like(mu, -2.0), dataset_size=100).total_correlation()
    assert math.isfinite(float(tc)) and math.isfinite(tc.stderr)
