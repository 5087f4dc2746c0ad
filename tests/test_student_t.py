import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import integrate, stats

from tcdecomp import Gaussian, StudentT
from tcdecomp.student_t import t_entropy_offset

from .conftest import random_spd


def test_one_dim_entropy_matches_scipy():
    for df in (1.5, 3.0, 10.0):
        h = StudentT([[4.0]], df).entropy()
        assert h == pytest.approx(stats.t(df, scale=2.0).entropy(), abs=1e-10)


def test_two_dim_mi_matches_numerical_integration():
    # I(x1; x2) = H(x1) + H(x2) - H(x1, x2); the joint entropy by quadrature of -p log p.
    df, rho = 4.0, 0.5
    scale = np.array([[1.0, rho], [rho, 1.0]])
    dist = stats.multivariate_t(loc=[0, 0], shape=scale, df=df)
    f = lambda y, x: -dist.pdf([x, y]) * dist.logpdf([x, y])
    joint, _ = integrate.dblquad(f, -60, 60, -60, 60, epsabs=1e-9)
    mi = 2 * stats.t(df).entropy() - joint
    assert StudentT(scale, df).total_correlation() == pytest.approx(mi, abs=2e-4)


def test_independent_scale_still_has_positive_tc():
    tc = StudentT(np.eye(3), 3.0).total_correlation()
    assert tc > 0.05
    assert StudentT(np.eye(3), 1e6).total_correlation() == pytest.approx(0.0, abs=1e-5)  # -> Gaussian


@given(st.integers(2, 20), st.integers(0, 2**31 - 1), st.floats(0.5, 30.0))
def test_paths_sum_to_tc_and_terms_are_gaussian_plus_offset(n, seed, df):
    scale = random_spd(n, np.random.default_rng(seed))
    src, gauss = StudentT(scale, df), Gaussian(scale)
    tc = float(src.total_correlation())
    for path in ("line", "top_down", "bottom_up"):
        dec = src.decompose(path)
        assert float(dec.total) == pytest.approx(tc, abs=1e-10)
        for (term, value), (_, g) in zip(dec.terms, gauss.decompose(path).terms):
            offset = sum(t_entropy_offset(len(grp), df) for grp in term.groups) - t_entropy_offset(len(term.union), df)
            assert value == pytest.approx(g + offset, abs=1e-10)


def test_bad_df():
    with pytest.raises(ValueError, match="df"):
        StudentT(np.eye(2), 0)


def test_fit_recovers_df_loc_and_scale_and_matches_scipy_density(rng):
    from tcdecomp.student_t import fit_student_t, t_log_density

    scale = random_spd(4, rng)
    x = StudentT(scale, 4.0).sample(20000, rng) + np.array([1.0, -2.0, 0.5, 3.0])
    loc, fitted, df = fit_student_t(x)
    assert df == pytest.approx(4.0, rel=0.15)
    # within 5 standard errors of the mean of each coordinate
    assert np.all(np.abs(loc - [1.0, -2.0, 0.5, 3.0]) < 5 * np.sqrt(np.diag(scale) * 2.0 / 20000))
    np.testing.assert_allclose(fitted, scale, atol=0.05 * np.abs(scale).max())
    ours = t_log_density(x[:5], loc, np.linalg.cholesky(fitted), df)
    theirs = stats.multivariate_t(loc, fitted, df=df).logpdf(x[:5])
    np.testing.assert_allclose(ours, theirs, rtol=1e-10)


def test_fit_on_gaussian_data_sends_df_high():
    from tcdecomp.student_t import fit_student_t

    x = np.random.default_rng(0).standard_normal((5000, 3))
    assert fit_student_t(x)[2] > 50
