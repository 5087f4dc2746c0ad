"""The forward of large unweighted CPU evaluations, fused by torch.compile (Inductor's C++ backend).

The chunked torch code makes one pass over each (rows x dims x columns) tile per op (subtract,
square, scale, set sums, maximum, exp, sum); Inductor turns the same tile function into loops that
make them in registers, once, about 2.6x faster on this project's 2-core machine at dSprites scale
(benchmarks/exact_dsprites.py). The tile function is specialised to the sets (a tuple of dim tuples)
and the dtype, and compiled once per such pair and process; the column axis is walked in chunks whose
logsumexps merge with ``logaddexp``, so memory stays O(rows x columns per chunk).

It applies on the CPU, without log_w, from MIN_PAIRS (b, m) pairs up (below that a compile costs
more than it saves). Where it cannot run (no C++ compiler, a failed compile) the chunked code does the
work, after one logged warning. Only the forward is fused: the backward recomputes each tile from the
inputs and this output either way. ``TCDECOMP_FUSED_CPU=0`` switches it off.
"""

from __future__ import annotations

import functools
import logging
import os

import torch

from .._constants import LOG_2PI

log = logging.getLogger(__name__)

#: below this many (b, m) pairs the chunked code is used (a first compile takes seconds)
MIN_PAIRS = 1 << 26
ROWS = 128
COLUMNS = 4096
#: exponents more than this below a row's maximum count as e^-80 of it, as in the chunked code
EXP_FLOOR = -80.0
_broken = False


def applies(z: torch.Tensor, M: int, log_w) -> bool:
    return (
        not _broken
        and z.device.type == "cpu"
        and log_w is None
        and z.shape[0] * M >= MIN_PAIRS
        and os.environ.get("TCDECOMP_FUSED_CPU", "1") != "0"
    )


def _tile_logsumexp(z, mu_t, inv_var_t, const_t, sets):
    """logsumexp over this chunk's columns of const[s, c] - 1/2 sum_{k in s} (z_rk - mu_kc)^2 / var_kc."""
    quad = (z[:, :, None] - mu_t[None]) ** 2 * inv_var_t[None]
    out = []
    for s, dims in enumerate(sets):
        acc = quad[:, dims[0]]
        for k in dims[1:]:
            acc = acc + quad[:, k]
        a = const_t[s][None] - 0.5 * acc
        top = a.amax(1, keepdim=True)
        out.append(top + torch.exp((a - top).clamp_min(EXP_FLOOR)).sum(1, keepdim=True).log())
    return torch.cat(out, 1)


@functools.cache
def _compiled(sets: tuple, dtype: torch.dtype):
    return torch.compile(functools.partial(_tile_logsumexp, sets=sets), dynamic=True)


def forward(z, mu, logvar, member) -> torch.Tensor | None:
    """B x S log-densities, or None where the fused path cannot run (the caller falls back)."""
    global _broken
    sets = tuple(tuple(torch.nonzero(member[:, s]).flatten().tolist()) for s in range(member.shape[1]))
    mu_t = mu.t().contiguous()
    inv_var_t = torch.exp(-logvar).t().contiguous()
    const_t = ((-0.5 * (logvar + LOG_2PI)) @ member).t().contiguous()
    B, M = z.shape[0], mu.shape[0]
    out = torch.empty(B, len(sets), dtype=z.dtype)
    try:
        tile = _compiled(sets, z.dtype)
        for b0 in range(0, B, ROWS):
            acc = None
            for m0 in range(0, M, COLUMNS):
                cols = slice(m0, m0 + COLUMNS)
                part = tile(z[b0 : b0 + ROWS], mu_t[:, cols], inv_var_t[:, cols], const_t[:, cols])
                acc = part if acc is None else torch.logaddexp(acc, part)
            out[b0 : b0 + ROWS] = acc
    except Exception as exc:  # no C++ compiler, or Inductor failed: the chunked code does the work from now on
        _broken = True
        log.warning("the fused CPU path is unavailable (%s); using the chunked torch code", exc)
        return None
    return out
