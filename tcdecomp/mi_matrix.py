"""Pairwise mutual information between the columns (or groups of columns) of one source, with standard errors."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .columns import group_label
from .plans import Term


@dataclass(frozen=True)
class MIMatrix:
    """``values[i, j]`` = I(G_i; G_j) in nats (the diagonal is 0 by convention: a variable's MI with itself is its
    entropy, which is not what this table is about) and ``stderr[i, j]`` its standard error; ``labels`` name the
    groups (column names where the data has them)."""

    values: np.ndarray
    stderr: np.ndarray
    labels: tuple[str, ...]
    groups: tuple[tuple[int, ...], ...]
    source: str

    def to_dict(self) -> dict:
        return {
            "labels": list(self.labels),
            "groups": [list(g) for g in self.groups],
            "values": self.values.tolist(),
            "stderr": self.stderr.tolist(),
            "source": self.source,
        }

    def table(self, digits: int = 3) -> str:
        width = max(8, *(len(label) for label in self.labels))
        lines = [" " * width + "".join(f"{label[:width]:>{width + 2}}" for label in self.labels)]
        for label, row in zip(self.labels, self.values):
            lines.append(f"{label:<{width}}" + "".join(f"{v:>{width + 2}.{digits}f}" for v in row))
        return "\n".join(lines)

    def plot(self, path=None, ax=None, overwrite: bool = False):
        """A heat map of the matrix (matplotlib: ``pip install 'tcdecomp[plots]'``); saved as PNG to ``path`` (an
        existing file only with ``overwrite``)."""
        from .plots import plot_mi_matrix

        return plot_mi_matrix(self, path, ax, overwrite=overwrite)


def mi_matrix(source, groups=None) -> MIMatrix:
    """Every pairwise I(G_i; G_j) of ``source`` (a :class:`~tcdecomp.source.Source`), in one pass over its sets."""
    columns = getattr(source, "columns", None)
    if groups is None and source.n_dims < 2:
        raise ValueError(f"mi_matrix needs at least 2 columns; the data has {source.n_dims}")
    # the groups' checks (names, range, at least 2, disjoint) are those of any term of the source
    groups = [(k,) for k in range(source.n_dims)] if groups is None else source.check_term(groups).groups
    pairs = [(i, j) for i in range(len(groups)) for j in range(i + 1, len(groups))]
    terms = [Term((groups[i], groups[j])) for i, j in pairs]
    values, errors, _ = source._evaluate(terms)
    m = len(groups)
    matrix, stderr = np.zeros((m, m)), np.zeros((m, m))
    for (i, j), v, e in zip(pairs, values, errors):
        matrix[i, j] = matrix[j, i] = float(v)
        stderr[i, j] = stderr[j, i] = float(e)
    labels = tuple(group_label(g, columns) if columns is not None else ",".join(str(c) for c in g) for g in groups)
    return MIMatrix(matrix, stderr, labels, tuple(tuple(g) for g in groups), source.label)
