"""Named columns: a pandas DataFrame's names (or ``columns=``) carried from the input to every table, dict and
picture, and groups given by name. pandas itself is optional: a DataFrame is recognised by its interface."""

from __future__ import annotations

import numpy as np


def is_dataframe(value) -> bool:
    return hasattr(value, "columns") and hasattr(value, "to_numpy") and hasattr(value, "dtypes")


def split_table(x, columns, name: str = "x"):
    """(values, names): a DataFrame's numeric values and its column names, or ``x`` itself with ``columns``
    checked (None: unnamed). Non-numeric DataFrame columns are refused by name."""
    if is_dataframe(x):
        if columns is not None:
            raise ValueError(f"{name} is a DataFrame with its own column names; leave columns= unset")
        names = [str(c) for c in x.columns]
        if len(x) == 0:  # before the dtypes: an empty table's columns read as text
            raise ValueError(f"{name} has column names {names} but no rows; pass at least one row")
        for column, dtype in zip(names, x.dtypes):
            kind = getattr(dtype, "kind", "O")
            if kind not in "iuf":
                what = "boolean" if kind == "b" else f"of dtype {dtype}"
                raise ValueError(
                    f"{name}: column {column!r} is {what}, not numeric; convert it (e.g. category codes) or drop it"
                )
        # pandas' NA (nullable dtypes) becomes NaN, which the finite check then refuses by column name
        return x.to_numpy(dtype=np.float64, na_value=np.nan), check_names(names, len(names), f"{name}'s column names")
    return x, (None if columns is None else check_names(columns, None, "columns"))


def check_names(names, n_dims: int | None, name: str) -> tuple[str, ...]:
    if isinstance(names, (str, bytes)) or not hasattr(names, "__iter__"):
        raise ValueError(f"{name} must be a list of column names, got {names!r}")
    names = tuple(names)
    if not all(isinstance(c, str) and c for c in names):
        raise ValueError(f"{name} must hold non-empty strings, got {list(names)!r}")
    if len(set(names)) < len(names):
        repeated = sorted({c for c in names if names.count(c) > 1})
        raise ValueError(f"{name} repeat {repeated}: every column needs its own name")
    if n_dims is not None and len(names) != n_dims:
        raise ValueError(f"{name} has {len(names)} names for {n_dims} columns")
    return names


def column_index(member, columns, n_dims: int, where: str) -> int:
    """The index of a column given by index or, where the columns have names, by name."""
    if isinstance(member, str):
        if columns is None or member not in columns:
            known = f"; the columns are {list(columns)}" if columns is not None else " (the data has no column names)"
            raise ValueError(f"{where}: no column named {member!r}{known}")
        return columns.index(member)
    if isinstance(member, (bool, np.bool_)) or not isinstance(member, (int, np.integer)):
        raise ValueError(f"{where} must hold column indices or names, got {member!r}")
    label = str(int(member))
    if not 0 <= int(member) < n_dims:
        if columns is not None and label in columns:  # a DataFrame labelled 10, 20, 30: the label is meant
            return columns.index(label)
        raise ValueError(f"{where}: column {member} is out of range for {n_dims} columns (0..{n_dims - 1})")
    if columns is not None and label in columns and columns.index(label) != int(member):
        # a DataFrame labelled by integers other than the positions: pandas users mean the label, indices mean
        # the position; guessing either gives a plausible estimate of the wrong columns
        raise ValueError(
            f"{where}: {member} is the position of column {columns[int(member)]!r} and the name of column "
            f"{columns.index(label)}; give the column by name as a string ({label!r})"
        )
    return int(member)


def resolve_groups(groups, columns, n_dims: int, name: str = "groups") -> list[tuple[int, ...]]:
    """Groups of columns (each a name, an index or a list of them) as tuples of indices."""
    if isinstance(groups, (str, bytes)) or not hasattr(groups, "__iter__"):
        raise ValueError(f"{name} must be a list of groups of columns, got {groups!r}")
    out = []
    for i, group in enumerate(groups):
        members = [group] if isinstance(group, (str, int, np.integer)) else list(group)
        out.append(tuple(column_index(m, columns, n_dims, f"{name}[{i}]") for m in members))
    return out


def group_label(group, columns) -> str:
    """A group as text: its columns' names joined by commas."""
    return ", ".join(columns[c] for c in group)
