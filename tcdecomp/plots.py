"""Pictures of estimates: a decomposition as a tree of merges, an MI matrix as a heat map. matplotlib is the
optional ``plots`` extra; figures are built with its object API (no pyplot state, no GUI backend) and saved as
PNG where a path is given."""

from __future__ import annotations

from pathlib import Path


def _matplotlib():
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError("pictures need matplotlib: pip install 'tcdecomp[plots]'") from None
    return Figure


def check_png_path(path, overwrite: bool = False) -> Path:
    """``path`` as a PNG file that may be written: a .png name in an existing folder, and not an existing file
    unless ``overwrite`` (nothing is replaced unless asked). Callers check before long work, not after it."""
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise ValueError(f"path must name a .png file, got {str(path)!r}")
    if not path.parent.is_dir():
        raise ValueError(f"path's folder {str(path.parent)!r} does not exist; create it or name another")
    if path.exists() and not overwrite:
        raise ValueError(f"path {str(path)!r} exists; pass overwrite=True to replace it, or name another file")
    return path


def _finish(fig, path):
    """Save ``fig`` to ``path`` (already checked by :func:`check_png_path`, before drawing) where given."""
    if path is not None:
        fig.savefig(path, dpi=110, bbox_inches="tight")
    return fig


def _leaf_label(dim: int, columns) -> str:
    return columns[dim] if columns is not None else f"z{dim}"


def _tree_layout(decomposition):
    """Node positions: leaves (single dims, or groups without a term of their own) left to right in the order the
    tree reaches them; each term above its groups, at their mean x and one level above the highest."""
    by_union = {term.union: (term, value, stderr) for (term, value), stderr in zip(decomposition.terms,
                                                                                  decomposition.stderrs)}  # fmt: skip
    roots = [u for u in by_union if not any(set(u) < set(v) for v in by_union)]
    x, level, order = {}, {}, []

    def place(group):
        if group in x:
            return
        if group not in by_union:  # a single dim, or a group the plan does not split further
            x[group], level[group] = float(len(order)), 0
            order.append(group)
            return
        term = by_union[group][0]
        for child in term.groups:
            place(child)
        x[group] = sum(x[c] for c in term.groups) / len(term.groups)
        level[group] = 1 + max(level[c] for c in term.groups)

    for root in sorted(roots, key=lambda u: u[0]):
        place(root)
    return by_union, x, level, order


def plot_decomposition(decomposition, path=None, ax=None, columns=None, overwrite: bool = False):
    """The decomposition as a tree: each leaf a column (or an unsplit group), each merge a node labelled with
    its multi-information and standard error (nats); the total in the title."""
    Figure = _matplotlib()
    path = None if path is None else check_png_path(path, overwrite)  # before drawing
    by_union, x, level, leaves = _tree_layout(decomposition)
    columns = columns if columns is not None else getattr(decomposition, "columns", None)
    fig = None
    if ax is None:
        fig = Figure(figsize=(max(4.0, 0.9 * len(leaves) + 1.5), 1.2 + 1.1 * max(level.values(), default=1)))
        ax = fig.subplots()
    for union, (term, value, stderr) in by_union.items():
        top = level[union]
        for child in term.groups:
            ax.plot([x[child], x[child], x[union]], [level[child], top, top], color="0.3", lw=1.2)
        ax.annotate(
            f"{float(value):.3f} ± {stderr:.3f}",
            (x[union], top),
            textcoords="offset points",
            xytext=(0, 4),
            ha="center",
            fontsize=8,
        )
        ax.plot([x[union]], [top], "o", color="tab:blue", ms=4)
    for leaf in leaves:
        label = ", ".join(_leaf_label(d, columns) for d in leaf)
        ax.annotate(label, (x[leaf], 0), textcoords="offset points", xytext=(0, -12), ha="center", fontsize=8)
    ax.set_xlim(-0.7, len(leaves) - 0.3)
    ax.set_ylim(-0.6, max(level.values(), default=1) + 0.6)
    ax.set_yticks([])
    ax.set_xticks([])
    for side in ("top", "right", "left", "bottom"):
        ax.spines[side].set_visible(False)
    total = float(decomposition.total)
    ax.set_title(f"{decomposition.plan.name} decomposition ({decomposition.source}): TC = {total:.3f} ± "
                 f"{decomposition.total_stderr:.3f} nats", fontsize=9)  # fmt: skip
    return _finish(fig, path) if fig is not None else ax


def plot_mi_matrix(matrix, path=None, ax=None, overwrite: bool = False):
    """A heat map of pairwise MI (nats), each cell labelled with its value."""
    Figure = _matplotlib()
    path = None if path is None else check_png_path(path, overwrite)  # before drawing
    fig = None
    m = len(matrix.labels)
    if ax is None:
        fig = Figure(figsize=(1.2 + 0.7 * m, 0.9 + 0.6 * m))
        ax = fig.subplots()
    image = ax.imshow(matrix.values, cmap="viridis", vmin=0.0)
    ax.set_xticks(range(m), matrix.labels, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(m), matrix.labels, fontsize=8)
    high = matrix.values.max() if matrix.values.size else 0.0
    for i in range(m):
        for j in range(m):
            if i != j:
                value = matrix.values[i, j]
                colour = "black" if value > 0.6 * high else "white"
                ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=7, color=colour)
    ax.set_title(f"pairwise MI (nats), {matrix.source}", fontsize=9)
    (fig or ax.figure).colorbar(image, ax=ax, shrink=0.8)
    return _finish(fig, path) if fig is not None else ax
