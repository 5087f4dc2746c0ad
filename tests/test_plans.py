import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tcdecomp import Gaussian, Term, bottom_up_plan, contiguous_groups, grouped_plan, line_plan, top_down_plan
from tcdecomp.plans import bottom_up_levels

from .conftest import draw_plan, random_spd


def closed_form_tc(cov):
    return 0.5 * (np.sum(np.log(np.diag(cov))) - np.linalg.slogdet(cov)[1])


def closed_form_mi(cov, groups):
    ld = lambda g: np.linalg.slogdet(cov[np.ix_(g, g)])[1]
    union = sorted(d for g in groups for d in g)
    return 0.5 * (sum(ld(list(g)) for g in groups) - ld(union))


# -- structure ------------------------------------------------------------------------------
def test_line_plan_terms():
    plan = line_plan(4, order=[2, 0, 3, 1])
    assert [t.groups for t in plan.terms] == [((2,), (0,)), ((0, 2), (3,)), ((0, 2, 3), (1,))]


def test_top_down_plan_halves():
    plan = top_down_plan(5)
    assert plan.terms[0].groups == ((0, 1), (2, 3, 4))
    assert len(plan.terms) == 4
    assert {t.groups for t in plan.terms} == {((0, 1), (2, 3, 4)), ((0,), (1,)), ((2,), (3, 4)), ((3,), (4,))}


def test_top_down_custom_split():
    plan = top_down_plan(4, split=lambda node: 1)
    assert [t.groups for t in plan.terms] == [((0,), (1, 2, 3)), ((1,), (2, 3)), ((2,), (3,))]


def test_bottom_up_full_tree_odd():
    plan = bottom_up_plan(5)
    assert [t.groups for t in plan.terms] == [
        ((0,), (1,)),
        ((2,), (3,)),  # level 1, dim 4 passes up
        ((0, 1), (2, 3)),  # level 2, (4,) passes up
        ((0, 1, 2, 3), (4,)),  # level 3
    ]
    assert bottom_up_levels(5) == 3


@pytest.mark.parametrize("n", [2, 3, 6, 7, 8, 13])
def test_bottom_up_levels_semantics(n):
    full = bottom_up_levels(n)
    assert len(bottom_up_plan(n).terms) == n - 1
    zero = bottom_up_plan(n, levels=0)
    assert zero.terms == (Term(tuple((k,) for k in range(n))),)
    for levels in range(1, full + 1):
        plan = bottom_up_plan(n, levels=levels)
        full_plan = bottom_up_plan(n)
        pairs = [t for t in plan.terms if len(t.groups) == 2]
        # The first terms are exactly the pair terms of the first `levels` levels of the full tree.
        assert (
            tuple(plan.terms[: len(plan.terms) - (levels < full)])
            == full_plan.terms[: len(plan.terms) - (levels < full)]
        )
        if levels < full:
            residual = plan.terms[-1]
            assert sorted(d for g in residual.groups for d in g) == list(range(n))
            assert len(residual.groups) == -(-n // 2**levels)
        assert len(pairs) >= 1


def test_bottom_up_levels_one_is_paper_tc_joint_1():
    # Paper eq. (2)-(3): TC = sum of pair MIs + TC_joint_1 = I(pairs..., z_r).
    plan = bottom_up_plan(7, levels=1)
    assert plan.terms[-1].groups == ((0, 1), (2, 3), (4, 5), (6,))


def test_grouped_plan_chain_rule_terms():
    plan = grouped_plan([[0, 3], [1], [2, 4, 5]])
    assert plan.terms[0].groups == ((0, 3), (1,), (2, 4, 5))
    assert plan.terms[1:] == (Term(((0,), (3,))), Term(((2,), (4,), (5,))))


def test_plan_sets_are_distinct_and_cover_terms():
    plan = bottom_up_plan(6)
    sets = plan.sets()
    assert len(set(sets)) == len(sets)
    for t in plan.terms:
        assert t.union in sets and all(g in sets for g in t.groups)


def test_contiguous_groups():
    assert contiguous_groups(6, 2) == ((0, 1), (2, 3), (4, 5))
    with pytest.raises(ValueError, match=r"group_size.*\[1, 2, 3, 6\]"):
        contiguous_groups(6, 4)


# -- identities (hypothesis) ---------------------------------------------------------------------
@st.composite
def covariance_and_plan(draw):
    n = draw(st.integers(2, 40))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    cov = random_spd(n, rng)
    plan = draw_plan(draw, n, rng)
    return cov, plan


@given(covariance_and_plan())
def test_every_path_sums_to_closed_form_tc(case):
    cov, plan = case
    dec = Gaussian(cov).decompose(plan)
    assert abs(dec.total - closed_form_tc(cov)) <= 1e-10 * max(1.0, abs(closed_form_tc(cov)))
    for term, value in dec.terms:
        assert value == pytest.approx(closed_form_mi(cov, [list(g) for g in term.groups]), abs=1e-10)
        assert value >= -1e-12


@given(st.integers(2, 40), st.integers(0, 2**31 - 1))
def test_every_named_path_is_exact(n, seed):
    cov = random_spd(n, np.random.default_rng(seed))
    src = Gaussian(cov)
    tc = closed_form_tc(cov)
    for path in ["line", "top_down", "bottom_up"]:
        assert src.decompose(path).total == pytest.approx(tc, abs=1e-10)
    assert src.decompose("grouped", groups=[[k] for k in range(n)]).total == pytest.approx(tc, abs=1e-10)


@given(st.integers(2, 30), st.integers(0, 2**31 - 1))
def test_bottom_up_partial_is_mu_plus_tc_joint(n, seed):
    # Paper eq. (4)-(6): TC = MU_1 + ... + MU_x + TC_joint_(x+1) for every stopping level.
    cov = random_spd(n, np.random.default_rng(seed))
    src = Gaussian(cov)
    tc = closed_form_tc(cov)
    for levels in range(bottom_up_levels(n) + 1):
        dec = src.decompose("bottom_up", levels=levels)
        assert dec.total == pytest.approx(tc, abs=1e-10)
