"""The common interface of every source of TC estimates (closed form, samples, posterior).

Definitions: docs/math.md#total-correlation-and-multi-information.

A source answers questions about sets of dims; plans say which sets to combine.
Set-based sources implement :meth:`Source._set_stats`, returning for each set S a
value ``v(S)`` (minus its entropy, or the mean of ``log q(z_S)``) and optionally
per-sample values whose mean-centred spread gives standard errors. A term's value
is ``v(union) - sum_j v(G_j)``; because every plan telescopes, a plan's terms sum
to the TC computed the same way on the same numbers.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.sparse
import torch

from .columns import column_index, resolve_groups
from .decomposition import Decomposition, Estimate
from .plans import Plan, Term, make_plan, total_term


class Source:
    """Base class: TC, multi-information and decompositions of one distribution's estimate."""

    #: number of dims
    n_dims: int
    #: short description shown in tables
    label: str = "source"
    #: the columns' names (a DataFrame's, or ``columns=``), carried into tables, dicts and pictures; None: unnamed
    columns: tuple[str, ...] | None = None

    # -- public API -------------------------------------------------------------------
    def total_correlation(self) -> Estimate:
        """``TC(z) = sum_k H(z_k) - H(z)`` with its standard error."""
        term = total_term(self.n_dims)
        if term is None:
            return self._estimate(self._zero(), 0.0)
        return self._term_estimate(term)

    def multi_information(self, groups) -> Estimate:
        """``I(z_G1; ...; z_Gm) = sum_j H(z_Gj) - H(z_union)`` for disjoint ``groups`` (m >= 2)."""
        return self._term_estimate(self.check_term(groups))

    def _term_estimate(self, term: Term) -> Estimate:
        values, errors, _ = self._evaluate([term])
        estimate = self._estimate(values[0], errors[0])
        intervals = self._intervals([term])
        if intervals is not None:
            estimate.interval = intervals[0][0]
        return estimate

    def decompose(self, path="bottom_up", **kwargs) -> Decomposition:
        """Split TC along ``path`` (a Plan, or "line", "top_down", "bottom_up", "grouped").

        Keyword arguments go to the plan builder: ``order=`` (line, top_down, bottom_up),
        ``levels=`` (bottom_up), ``split=`` (top_down), ``groups=`` or ``group_size=`` (grouped).
        """
        if self.columns is not None or _has_names(kwargs.get("groups")) or _has_names(kwargs.get("order")):
            kwargs = self._indexed_plan_options(kwargs)
        plan = make_plan(path, self.n_dims, **kwargs)
        values, errors, total_error = self._evaluate(list(plan.terms))
        return Decomposition(
            plan,
            values,
            errors,
            total_error,
            source=self.label,
            notes=self._notes(plan),
            columns=self.columns,
            intervals=self._intervals(list(plan.terms)),
        )

    def mi_matrix(self, groups=None):
        """Every pairwise mutual information I(G_i; G_j) between ``groups`` (default: the single columns), with
        standard errors, as an :class:`~tcdecomp.mi_matrix.MIMatrix` (``.plot()`` draws it as a heat map)."""
        from .mi_matrix import mi_matrix

        return mi_matrix(self, groups)

    def _indexed_plan_options(self, kwargs: dict) -> dict:
        """``groups=`` and ``order=`` given by column name, as indices."""
        out = dict(kwargs)
        if out.get("groups") is not None:
            out["groups"] = [list(g) for g in resolve_groups(out["groups"], self.columns, self.n_dims)]
        if out.get("order") is not None:
            out["order"] = [column_index(c, self.columns, self.n_dims, "order") for c in out["order"]]
        return out

    def check_term(self, groups) -> Term:
        if isinstance(groups, Term):
            term = groups
        elif self.columns is not None or _has_names(groups):
            term = Term(tuple(resolve_groups(groups, self.columns, self.n_dims)))
        else:
            if isinstance(groups, (str, bytes)) or not hasattr(groups, "__iter__"):
                raise ValueError(f"groups must be a sequence of >= 2 disjoint groups of dims, got {groups!r}")
            term = Term(tuple(tuple(g) if hasattr(g, "__iter__") else (g,) for g in groups))
        if term.union[-1] >= self.n_dims:
            raise ValueError(
                f"groups use dim {term.union[-1]}, out of range for {self.n_dims} dims (0..{self.n_dims - 1})"
            )
        return term

    # -- evaluation ---------------------------------------------------------------------
    def _evaluate(self, terms: list[Term]):
        """Values, standard errors and the standard error of their sum, for ``terms``. Set values given as torch
        tensors stay tensors throughout (values differentiable, standard errors 0-d and detached), so a compiled
        graph traces them without a break; numpy set values give floats."""
        if not terms:
            return [], [], 0.0
        sets = list(Plan(self.n_dims, tuple(terms)).sets())
        signed = _signed_entries(terms, sets)
        set_values, per_sample = self._set_stats(sets)
        if isinstance(set_values, torch.Tensor):
            return _torch_terms(signed, len(terms), set_values, per_sample)
        coef = scipy.sparse.csr_matrix((signed[2], (signed[0], signed[1])), shape=(len(terms), len(sets)))
        values = coef @ np.asarray(set_values, dtype=np.float64)
        if per_sample is None:
            return list(values), [0.0] * len(terms), 0.0
        per_term = np.asarray((coef @ np.asarray(per_sample, dtype=np.float64).T).T)
        errors = [_stderr(per_term[:, t]) for t in range(len(terms))]
        total_error = _stderr(per_term.sum(1))
        extra = self._extra_variances(terms)
        if extra is not None:  # variance the rows' influence leaves out: per term, or (per term, the sum's)
            extra, total_extra = extra if isinstance(extra, tuple) else (extra, float(np.sum(extra)))
            errors = [math.sqrt(e * e + v) for e, v in zip(errors, extra)]
            total_error = math.sqrt(total_error**2 + total_extra)
        return list(values), errors, total_error

    def _set_stats(self, sets):
        raise NotImplementedError

    def _extra_variances(self, terms: list[Term]):
        """Per term, variance to add to the rows' influence (e.g. the second-order part at independence); or
        (per term, the sum's) where the terms share it."""
        return None

    def _notes(self, plan: Plan) -> tuple[str, ...]:
        return ()

    def _intervals(self, terms: list[Term]):
        """Per term a (low, high) interval and the sum's, where the source computes intervals (a bootstrap); None
        where it reports standard errors only. Called after :meth:`_evaluate` on the same terms."""
        return None

    def _zero(self):
        return 0.0

    def _estimate(self, value, stderr: float):
        """The returned value type: an :class:`Estimate` (a float with ``.stderr``)."""
        return Estimate(value, stderr)


def _has_names(groups) -> bool:
    """Whether a groups argument holds a column name anywhere (one level of nesting)."""
    if isinstance(groups, str):
        return True
    if groups is None or not hasattr(groups, "__iter__"):
        return False
    return any(isinstance(g, str) or (hasattr(g, "__iter__") and any(isinstance(m, str) for m in g)) for g in groups)


def _signed_entries(terms: list[Term], sets: list) -> tuple[list[int], list[int], list[float]]:
    """(term, set, sign) of every set a term touches: +1 its union, -1 each group. A term touches its union and
    its groups only, so this is the terms x sets matrix in sparse form (dense, a decomposition of 20,000 dims
    would hold 6 GB of zeros). Plain Python: a compiled graph traces it as constants."""
    index = {s: i for i, s in enumerate(sets)}
    rows, cols, signs = [], [], []
    for t, term in enumerate(terms):
        for s, sign in term.signed_sets():
            rows.append(t)
            cols.append(index[s])
            signs.append(sign)
    return rows, cols, signs


def _torch_terms(signed, n_terms: int, set_values: torch.Tensor, per_sample):
    """Term values (a scatter-add of signed set values, differentiable) and standard errors as 0-d tensors."""
    like = {"dtype": set_values.dtype, "device": set_values.device}
    rows = torch.tensor(signed[0], dtype=torch.int64, device=set_values.device)
    cols = torch.tensor(signed[1], dtype=torch.int64, device=set_values.device)
    signs = torch.tensor(signed[2], **like)
    values = torch.zeros(n_terms, **like).index_add(0, rows, signs * set_values[cols])
    if per_sample is None:
        zero = torch.zeros((), **like)
        return list(values), [zero] * n_terms, zero
    per_sample = per_sample.detach().double()  # the spread in float64, whatever the values' precision
    per_term = torch.zeros(per_sample.shape[0], n_terms, dtype=torch.float64, device=per_sample.device)
    per_term = per_term.index_add(1, rows, signs.double() * per_sample[:, cols])
    errors = [_torch_stderr(per_term[:, t]) for t in range(n_terms)]
    return list(values), errors, _torch_stderr(per_term.sum(1))


def _torch_stderr(values: torch.Tensor) -> torch.Tensor:
    """The standard error of the mean of ``values`` as a 0-d tensor (NaN for a single value, as numpy's)."""
    n = values.shape[0]
    if n < 2:
        return torch.full((), float("nan"), dtype=values.dtype, device=values.device)
    return values.std() / math.sqrt(n)


def _stderr(values: np.ndarray) -> float:
    n = values.shape[0]
    return float(np.std(values, ddof=1) / math.sqrt(n)) if n > 1 else float("nan")
