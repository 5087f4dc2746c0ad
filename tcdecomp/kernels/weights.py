"""Structured log-weight matrices for minibatch estimators of the aggregate posterior (docs/math.md#mss, #bank).

Kept symbolic (three numbers) so that neither the torch path nor a kernel ever
needs a dense B x M matrix.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class StructuredLogWeights:
    """``log w[b, m]`` = ``own`` if m == b, ``designated`` if m == (b + 1) % period, else ``rest``.

    Row b's own example is column b; the designated example is the next one in the
    batch (cyclically), as in the stratified sampler of Chen et al. 2018 (beta-TCVAE).
    """

    own: float
    designated: float
    rest: float
    period: int

    def __post_init__(self):
        for name in ("own", "designated", "rest"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value) or value == math.inf:
                raise ValueError(f"StructuredLogWeights.{name} must be a finite log-weight or -inf, got {value!r}")
        if isinstance(self.period, bool) or not isinstance(self.period, int) or self.period < 1:
            raise ValueError(f"StructuredLogWeights.period must be a positive integer, got {self.period!r}")

    def tile(self, b0: int, b1: int, m0: int, m1: int, dtype=torch.float32, device=None) -> torch.Tensor:
        """Rows b0:b1, columns m0:m1 of the dense matrix."""
        rows = torch.arange(b0, b1, device=device)[:, None]
        cols = torch.arange(m0, m1, device=device)[None, :]
        out = torch.full((b1 - b0, m1 - m0), self.rest, dtype=dtype, device=device)
        out = torch.where(
            cols == (rows + 1) % self.period, torch.tensor(self.designated, dtype=dtype, device=device), out
        )
        return torch.where(cols == rows, torch.tensor(self.own, dtype=dtype, device=device), out)

    def dense(self, rows: int, cols: int, dtype=torch.float64, device=None) -> torch.Tensor:
        return self.tile(0, rows, 0, cols, dtype, device)


def _log(x: float) -> float:
    return math.log(x) if x > 0 else -math.inf


def mss_log_weights(batch_size: int, dataset_size: int) -> StructuredLogWeights:
    """Minibatch stratified sampling weights (Chen et al. 2018, appendix C.2).

    With M = batch_size and N = dataset_size: own example 1/N, the designated other
    example (N - M + 1) / (N (M - 1)), every other 1 / (M - 1). Each row sums to 1,
    and over uniformly drawn (ordered) minibatches the weighted mixture is unbiased
    for q(z): each non-own slot is uniform over the N - 1 other examples, and
    ((M - 2)/(M - 1) + (N - M + 1)/(N (M - 1))) / (N - 1) = 1/N.
    """
    m, n = batch_size, dataset_size
    if m < 2:
        raise ValueError(f"the mss estimator needs a batch of at least 2 examples, got {m}")
    if n < m:
        raise ValueError(f"dataset_size={n} is smaller than the batch size {m}; pass the size of the whole data set")
    return StructuredLogWeights(
        own=-math.log(n),
        designated=_log((n - m + 1) / (n * (m - 1))),
        rest=-math.log(m - 1),
        period=m,
    )


def bank_log_weights(batch_size: int, n_components: int, dataset_size: int) -> StructuredLogWeights:
    """Importance weights over the batch plus a bank: own example 1/N, each of the
    ``n_components - 1`` others (N - 1) / (N (n_components - 1)), the stand-ins for
    the N - 1 other examples. Each row sums to 1."""
    n, c = dataset_size, n_components
    if n < c:
        raise ValueError(
            f"dataset_size={n} is smaller than batch + bank = {c} components; pass the size of the whole data set"
        )
    if c < 2:
        raise ValueError("the bank estimator needs at least 2 components (batch plus bank)")
    other = math.log((n - 1) / (n * (c - 1)))
    return StructuredLogWeights(own=-math.log(n), designated=other, rest=other, period=batch_size)
