"""Results: an estimate with its standard error, and a decomposition into terms."""

from __future__ import annotations

import json
import math
from typing import Any

from .plans import Plan, Term


def _as_float(value) -> float:
    return float(value.detach()) if hasattr(value, "detach") else float(value)


class Estimate(float):
    """A float value with its standard error: ``est.stderr``; ``est.value`` is the plain float; ``est.interval``
    is a (low, high) confidence interval where one was computed (``Samples(..., interval="bootstrap")``), else None.

    It is a float, so it compares, formats and computes as one; it also unpacks as
    ``value, stderr = est``. Posterior sources return differentiable torch scalars
    instead, carrying the same ``stderr`` attribute.
    """

    def __new__(cls, value, stderr: float = 0.0, interval=None):
        obj = super().__new__(cls, _as_float(value))
        obj.stderr = float(stderr)
        obj.interval = None if interval is None else (float(interval[0]), float(interval[1]))
        return obj

    @property
    def value(self) -> float:
        return float(self)

    def __iter__(self):
        return iter((float(self), self.stderr))

    def __format__(self, spec: str) -> str:
        spec = spec or ".4f"
        return f"{float(self):{spec}} ± {self.stderr:{spec}}"

    def __str__(self) -> str:
        if self.interval is None:
            return format(self)
        return f"{self:.4f} (interval {self.interval[0]:.4f} to {self.interval[1]:.4f})"

    def __repr__(self) -> str:
        interval = f", interval={self.interval!r}" if self.interval is not None else ""
        return f"Estimate({float(self)!r}, stderr={self.stderr!r}{interval})"

    def __reduce__(self):
        return (Estimate, (float(self), self.stderr, self.interval))


class Decomposition:
    """TC split along one plan: ``terms`` is a list of ``(Term, value)``.

    ``total`` is the sum of the term values. For plug-in and posterior estimators
    the terms telescope, so ``total`` equals the source's ``total_correlation()``
    up to rounding; per-term estimators (knn) give path-dependent totals.
    """

    def __init__(
        self, plan: Plan, values, stderrs, total_stderr: float, *, source: str, notes=(), columns=None, intervals=None
    ):
        self.plan = plan
        #: per term a (low, high) confidence interval, and the total's (a bootstrap's); None with standard errors only
        self.intervals, self.total_interval = intervals if intervals is not None else (None, None)
        self.columns = None if columns is None else tuple(columns)
        self.terms: list[tuple[Term, Any]] = list(zip(plan.terms, values))
        self.stderrs: list[float] = [float(s) for s in stderrs]
        self.total_stderr = float(total_stderr)
        self.source = source
        self.notes = tuple(notes)

    @property
    def total(self):
        values = [v for _, v in self.terms]
        if not values:
            return 0.0
        return sum(values[1:], values[0])

    def __repr__(self) -> str:
        return f"Decomposition(path={self.plan.name!r}, terms={len(self.terms)}, total={_as_float(self.total):.6g})"

    def to_dict(self) -> dict:
        """Plain JSON-ready data: path, source, each term's groups, value and stderr, and the total."""
        return {
            "path": self.plan.name,
            "n": self.plan.n,
            **({"columns": list(self.columns)} if self.columns else {}),
            "source": self.source,
            "terms": [
                {
                    "groups": [list(g) for g in term.groups],
                    **({"names": [[self.columns[c] for c in g] for g in term.groups]} if self.columns else {}),
                    "label": self.term_label(term),
                    "value": _as_float(v),
                    "stderr": s,
                    **({"interval": list(self.intervals[i])} if self.intervals else {}),
                }
                for i, ((term, v), s) in enumerate(zip(self.terms, self.stderrs))
            ],
            "total": _as_float(self.total),
            "total_stderr": self.total_stderr,
            **({"total_interval": list(self.total_interval)} if self.total_interval else {}),
            "notes": list(self.notes),
        }

    def to_json(self, **kwargs) -> str:
        return json.dumps(self.to_dict(), **kwargs)

    def table(self, reference: Decomposition | None = None, digits: int = 4) -> str:
        """Aligned text: one row per term, then the total; with ``reference``, a column of its values."""
        if reference is not None and reference.plan.terms != self.plan.terms:
            raise ValueError("reference must be a decomposition along the same plan")
        labels = [self.term_label(t) for t, _ in self.terms] + ["total"]
        values = [_as_float(v) for _, v in self.terms] + [_as_float(self.total)]
        errors = self.stderrs + [self.total_stderr]
        header = ["term", "value", "stderr"]
        rows = [[lab, f"{v:.{digits}f}", f"{e:.{digits}f}"] for lab, v, e in zip(labels, values, errors)]
        if self.intervals:
            header.append("interval")
            for row, (low, high) in zip(rows, [*self.intervals, self.total_interval]):
                row.append(f"[{low:.{digits}f}, {high:.{digits}f}]")
        if reference is not None:
            header.append(reference.source)
            ref_values = [_as_float(v) for _, v in reference.terms] + [_as_float(reference.total)]
            for row, r in zip(rows, ref_values):
                row.append(f"{r:.{digits}f}")
        widths = [max(len(r[i]) for r in rows + [header]) for i in range(len(header))]

        def fmt(row):
            return "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths)))

        rule = "-" * len(fmt(header))
        lines = [f"path: {self.plan.name}  source: {self.source}", fmt(header), rule]
        lines += [fmt(r) for r in rows[:-1]] + [rule, fmt(rows[-1])]
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)

    def term_label(self, term: Term) -> str:
        """``I(a, b; c)`` with the columns' names where they have them, else the dims (``I(0-1; 2)``)."""
        if self.columns is None:
            return str(term)
        return "I(" + "; ".join(", ".join(self.columns[c] for c in g) for g in term.groups) + ")"

    def plot(self, path=None, ax=None, overwrite: bool = False):
        """The decomposition as a tree of merges, each node its term's value and standard error (matplotlib:
        ``pip install 'tcdecomp[plots]'``); saved as PNG to ``path`` (an existing file only with ``overwrite``).
        Returns the figure (or ``ax``)."""
        from .plots import plot_decomposition

        return plot_decomposition(self, path, ax, overwrite=overwrite)


def combine_stderr(stderrs) -> float:
    """Standard error of a sum of independent estimates."""
    return math.sqrt(sum(s * s for s in stderrs))
