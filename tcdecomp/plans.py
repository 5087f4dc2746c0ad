"""Decomposition plans: which multi-information terms a path of the TC splits into (docs/math.md#plans).

A plan is pure data. Each :class:`Term` names disjoint groups of dims
``G_1 .. G_m`` (m >= 2) and stands for their multi-information

    I(z_G1; ...; z_Gm) = sum_j H(z_Gj) - H(z_{G1 u ... u Gm}).

Every plan built here is exact: its terms sum to TC(z) = sum_k H(z_k) - H(z),
because each node of the path enters once as a union (with a minus sign) and once
as a group (with a plus sign), so the entropies of the inner nodes cancel.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from ._checks import as_dim, check_positive_int

Group = tuple[int, ...]

PATH_NAMES = ("line", "top_down", "bottom_up", "grouped")


def _as_group(dims: Iterable[int], name: str) -> Group:
    if isinstance(dims, (str, bytes)) or not hasattr(dims, "__iter__"):
        raise ValueError(f"{name} must be an iterable of integer dims, got {dims!r}")
    group = tuple(sorted(as_dim(d, name) for d in dims))
    if not group:
        raise ValueError(f"{name} is empty; every group needs at least one dim")
    if len(set(group)) != len(group):
        raise ValueError(f"{name} repeats a dim: {group}")
    if group[0] < 0:
        raise ValueError(f"{name} holds a negative dim: {group}")
    return group


@dataclass(frozen=True)
class Term:
    """The multi-information of two or more disjoint groups of dims.

    ``groups`` is a tuple of sorted tuples of dims; their order is kept for display.
    """

    groups: tuple[Group, ...]

    def __post_init__(self):
        groups = tuple(_as_group(g, f"groups[{i}]") for i, g in enumerate(self.groups))
        if len(groups) < 2:
            raise ValueError(f"a Term needs at least 2 groups, got {len(groups)}")
        seen: set[int] = set()
        for g in groups:
            if seen.intersection(g):
                raise ValueError(f"groups must be disjoint; dims {sorted(seen.intersection(g))} repeat")
            seen.update(g)
        object.__setattr__(self, "groups", groups)

    @property
    def union(self) -> Group:
        """All dims of the term, sorted."""
        return tuple(sorted(d for g in self.groups for d in g))

    def sets(self) -> tuple[Group, ...]:
        """The sets whose (log-)densities or entropies the term needs: the union, then each group."""
        return (self.union,) + self.groups

    def signed_sets(self) -> tuple[tuple[Group, float], ...]:
        """Each set with its sign in the term's value: + the union's mean log density, - each group's."""
        return ((self.union, 1.0), *((g, -1.0) for g in self.groups))

    def __str__(self) -> str:
        return "I(" + "; ".join(_format_group(g) for g in self.groups) + ")"


def _format_group(group: Group) -> str:
    # Runs of consecutive dims print as ranges so that long groups stay readable.
    parts, start = [], group[0]
    for prev, cur in zip(group, group[1:] + (None,)):
        if cur != prev + 1:
            parts.append(str(start) if start == prev else f"{start}-{prev}")
            start = cur
    return "z" + ",".join(parts) if len(group) == 1 else "z[" + ",".join(parts) + "]"


@dataclass(frozen=True)
class Plan:
    """An exact decomposition path of TC over dims ``0 .. n-1``: a tuple of terms."""

    n: int
    terms: tuple[Term, ...]
    name: str = "custom"

    def __post_init__(self):
        object.__setattr__(self, "terms", tuple(self.terms))
        for term in self.terms:
            if term.union[-1] >= self.n:
                raise ValueError(f"term {term} uses dim {term.union[-1]}, out of range for n={self.n}")

    def sets(self) -> tuple[Group, ...]:
        """The distinct sets of dims that evaluating every term needs, in first-use order."""
        out: dict[Group, None] = {}
        for term in self.terms:
            for s in term.sets():
                out.setdefault(s, None)
        return tuple(out)

    def __len__(self) -> int:
        return len(self.terms)


def check_n(n, name: str = "n") -> int:
    return check_positive_int(n, name)


def check_order(order: Sequence[int] | None, n: int) -> list[int]:
    """Validate a permutation of ``range(n)``; None means the identity."""
    if order is None:
        return list(range(n))
    if isinstance(order, (str, bytes)) or not hasattr(order, "__iter__"):
        raise ValueError(f"order must be a permutation of range({n}), got {order!r}")
    order = [as_dim(d, "order") for d in order]
    if sorted(order) != list(range(n)):
        raise ValueError(f"order must be a permutation of range({n}), got {order}")
    return order


def total_term(n: int) -> Term | None:
    """TC itself as one term (the multi-information of all single dims); None for n = 1."""
    return Term(tuple((k,) for k in range(n))) if n >= 2 else None


def line_plan(n: int, order: Sequence[int] | None = None) -> Plan:
    """Line-like path: ``TC = sum_{i=2..n} I(z_pi(1..i-1); z_pi(i))`` for the order pi.

    >>> [str(term) for term in line_plan(3).terms]
    ['I(z0; z1)', 'I(z[0-1]; z2)']
    """
    n = check_n(n)
    order = check_order(order, n)
    terms = tuple(Term((tuple(order[:i]), (order[i],))) for i in range(1, n))
    return Plan(n, terms, "line")


def _halve(group: Group) -> int:
    return len(group) // 2


def top_down_plan(
    n: int,
    order: Sequence[int] | None = None,
    split: Callable[[Group], int] | None = None,
) -> Plan:
    """Top-down tree: ``TC(S) = I(z_L; z_R) + TC(L) + TC(R)``, recursively to single dims.

    S (after permuting the dims by ``order``) is split into its first ``split(S)``
    dims and the rest; the default split is ``floor(|S| / 2)``.
    """
    n = check_n(n)
    order = check_order(order, n)
    split = _halve if split is None else split
    terms: list[Term] = []

    def visit(node: tuple[int, ...]):
        if len(node) < 2:
            return
        cut = split(node)
        if not isinstance(cut, int) or not 1 <= cut < len(node):
            raise ValueError(
                f"split must return an int in [1, {len(node) - 1}] for a node of {len(node)} dims, got {cut!r}"
            )
        left, right = node[:cut], node[cut:]
        terms.append(Term((left, right)))
        visit(left)
        visit(right)

    visit(tuple(order))
    return Plan(n, tuple(terms), "top_down")


def bottom_up_levels(n: int) -> int:
    """Number of pairing levels of the full bottom-up tree: ceil(log2 n)."""
    return math.ceil(math.log2(n)) if n > 1 else 0


def bottom_up_plan(n: int, levels: int | None = None, order: Sequence[int] | None = None) -> Plan:
    """Bottom-up tree (the paper's path, eq. 4-6).

    Level 1 pairs the groups (0,1), (2,3), ...; each pair contributes ``I(z_a; z_b)``
    and becomes one group of the next level; an odd last group passes up unpaired.
    ``levels=None`` runs to the root (``ceil(log2 n)`` levels, ``n - 1`` terms).
    ``levels=L`` keeps the pair terms of the first L levels and adds the residual
    ``I(groups after level L)``, the paper's TC_joint of that level; ``levels=0``
    is TC itself as a single term. ``order`` permutes the dims before pairing.
    """
    n = check_n(n)
    order = check_order(order, n)
    full = bottom_up_levels(n)
    if levels is None:
        levels = full
    if isinstance(levels, bool) or not isinstance(levels, int) or not 0 <= levels <= full:
        raise ValueError(f"levels must be an int in [0, {full}] for n={n} (ceil(log2 n) levels), got {levels!r}")
    groups: list[Group] = [(d,) for d in order]
    terms: list[Term] = []
    for _ in range(levels):
        paired: list[Group] = []
        for i in range(0, len(groups) - 1, 2):
            terms.append(Term((groups[i], groups[i + 1])))
            paired.append(tuple(sorted(groups[i] + groups[i + 1])))
        if len(groups) % 2:
            paired.append(groups[-1])
        groups = paired
    if len(groups) >= 2:
        terms.append(Term(tuple(groups)))
    return Plan(n, tuple(terms), "bottom_up" if levels == full else f"bottom_up(levels={levels})")


def check_partition(groups, n: int | None = None, name: str = "groups") -> tuple[Group, ...]:
    """Validate that ``groups`` partition ``range(n)`` (n defaults to the largest dim + 1)."""
    if isinstance(groups, (str, bytes)) or not hasattr(groups, "__iter__"):
        raise ValueError(f"{name} must be a sequence of groups of dims, got {groups!r}")
    parsed = tuple(_as_group(g, f"{name}[{i}]") for i, g in enumerate(groups))
    if not parsed:
        raise ValueError(f"{name} is empty; pass at least one group")
    dims = sorted(d for g in parsed for d in g)
    size = dims[-1] + 1 if n is None else n
    if dims != list(range(size)):
        missing = sorted(set(range(size)) - set(dims))
        repeated = sorted({d for d in dims if dims.count(d) > 1})
        extra = sorted(d for d in set(dims) if d >= size)
        raise ValueError(
            f"{name} must partition the dims 0..{size - 1} (each dim in exactly one group); "
            f"missing {missing}, repeated {repeated}, out of range {extra}"
        )
    return parsed


def divisors_below(n: int) -> list[int]:
    """Every divisor of n except n itself: the group sizes a latent dim of n splits into (the grouping factors of
    the paper's sweep).

    >>> divisors_below(12)
    [1, 2, 3, 4, 6]
    """
    return [i for i in range(1, n) if n % i == 0] or [1]


def grouping_coefficient(group_size: int, latent_dim: int) -> float:
    """i / m with m the largest divisor of D below D (the paper's section 4.2)."""
    return group_size / max(divisors_below(latent_dim))


def contiguous_groups(n: int, group_size: int) -> tuple[Group, ...]:
    """Contiguous groups of ``group_size`` dims, the paper's grouping by factor i (i must divide n)."""
    n = check_n(n)
    if isinstance(group_size, bool) or not isinstance(group_size, int) or group_size < 1 or n % group_size:
        divisors = [i for i in range(1, n + 1) if n % i == 0]
        raise ValueError(f"group_size must divide n={n}; choose one of {divisors}, got {group_size!r}")
    return tuple(tuple(range(s, s + group_size)) for s in range(0, n, group_size))


def grouped_plan(groups, n: int | None = None) -> Plan:
    """Chain rule for a partition: ``TC = I(z_G1; ...; z_Gm) + sum_j TC(z_Gj)``.

    The first term is the paper's TC_joint (between groups), the rest its MU
    (dependence within each group). Groups of a single dim have no TC and no term.
    """
    parts = check_partition(groups, n)
    size = max(d for g in parts for d in g) + 1
    terms: list[Term] = []
    if len(parts) >= 2:
        terms.append(Term(parts))
    terms.extend(Term(tuple((d,) for d in g)) for g in parts if len(g) >= 2)
    return Plan(size, tuple(terms), "grouped")


PATH_OPTIONS = {
    "line": ("order",),
    "top_down": ("order", "split"),
    "bottom_up": ("levels", "order"),
    "grouped": ("groups", "group_size"),
}


def make_plan(path, n: int, **kwargs) -> Plan:
    """A Plan from a Plan or a path name; ``kwargs`` go to the plan builder."""
    if not isinstance(path, (Plan, str)):  # a list of groups here would otherwise fail as "unhashable"
        raise ValueError(f"path must be a Plan or one of {PATH_NAMES}, got {path!r}; groups go in groups=")
    if not isinstance(path, Plan) and path in PATH_OPTIONS:
        unknown = sorted(set(kwargs) - set(PATH_OPTIONS[path]))
        if unknown:
            raise ValueError(f"options {unknown} do not apply to path={path!r}; it takes {list(PATH_OPTIONS[path])}")
    if isinstance(path, Plan):
        if kwargs:
            raise ValueError(f"options {sorted(kwargs)} only apply to a path name, not to a ready Plan")
        if path.n != n:
            raise ValueError(f"path is a Plan over {path.n} dims but the source has {n}")
        return path
    if path == "line":
        return line_plan(n, **kwargs)
    if path == "top_down":
        return top_down_plan(n, **kwargs)
    if path == "bottom_up":
        return bottom_up_plan(n, **kwargs)
    if path == "grouped":
        if "group_size" in kwargs:
            if "groups" in kwargs:
                raise ValueError("pass either groups or group_size for the grouped path, not both")
            kwargs["groups"] = contiguous_groups(n, kwargs.pop("group_size"))
        if "groups" not in kwargs:
            raise ValueError("the grouped path needs groups=[...] (a partition of the dims) or group_size=i")
        return grouped_plan(kwargs.pop("groups"), n=n, **kwargs)
    raise ValueError(f"path must be a Plan or one of {PATH_NAMES}, got {path!r}")
