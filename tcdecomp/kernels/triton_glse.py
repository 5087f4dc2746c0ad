"""Triton kernels for the grouped log-density logsumexp (docs/math.md#the-kernel).

Forward: one program per (row tile, set, column split) runs an online logsumexp over
column tiles, FlashAttention-style: a running max and sum per row. Only the inputs
and the B x S output are kept; the backward recomputes each tile's exponent.

Backward, deterministic and without atomics:
  * ``_dz_kernel``: one program per (row tile, column split) owns its rows of the
    partial dz buffer, so its read-modify-writes never race;
  * ``_dmu_kernel``: one program per (column tile, row split) owns its columns of the
    partial dmu / dlogvar buffers (and its block of dlog_w).
Partial buffers are summed in a fixed order on the host.

The quadratic is the direct form (z - mu)^2 * exp(-logvar) in float32 on the FP32
units; the expanded matmul form loses precision for small variances and large means, so there
is no tl.dot here. Sets are passed in CSR form (offsets, dims), so any number of
overlapping sets of any size run in one launch; a set of size |s| costs |s| passes.
"""

from __future__ import annotations

import triton
import triton.language as tl

# Globals read inside @triton.jit functions must be constexpr (compiled Triton rejects others).
NEG_INF = tl.constexpr(float("-inf"))
#: the weight modes (the WEIGHTS constexpr): none, structured (own / designated / rest), a dense B x M matrix
NO_WEIGHTS, STRUCTURED_WEIGHTS, DENSE_WEIGHTS = 0, 1, 2
STRUCTURED = tl.constexpr(STRUCTURED_WEIGHTS)
DENSE = tl.constexpr(DENSE_WEIGHTS)

#: The autotune space, (BLOCK_B, BLOCK_M, num_warps, num_stages); the first is the interpreter's. Every
#: one compiles for sm_80 and sm_90 within 128 registers per thread and without spills (the compile test),
#: so the backward kernels hold at least 16 warps per SM (docs/kernel.md).
LAUNCH_CONFIGS = ((16, 32, 4, 2), (16, 32, 4, 3), (32, 32, 8, 2), (32, 64, 16, 2), (64, 64, 16, 2))


def _autotuned(reset_to_zero=None):
    """Autotune over LAUNCH_CONFIGS, keyed on the power-of-two buckets of B and M and on S; buffers a kernel
    accumulates into are zeroed before each timed run."""
    configs = [
        triton.Config({"BLOCK_B": bb, "BLOCK_M": bm}, num_warps=warps, num_stages=stages)
        for bb, bm, warps, stages in LAUNCH_CONFIGS
    ]
    return triton.autotune(configs=configs, key=["B_BUCKET", "M_BUCKET", "S"], reset_to_zero=reset_to_zero)


@triton.jit
def _load_dim(z_ptr, mu_t_ptr, iv_t_ptr, set_dims_ptr, i, rows, row_mask, cols, col_mask, M, D):
    """Dim k = set_dims[i]: z[rows, k], mu[cols, k] and 1/var[cols, k] in float32 (0 on masked lanes)."""
    k = tl.load(set_dims_ptr + i)
    zk = tl.load(z_ptr + rows * D + k, mask=row_mask, other=0.0).to(tl.float32)
    muk = tl.load(mu_t_ptr + k * M + cols, mask=col_mask, other=0.0).to(tl.float32)
    ivk = tl.load(iv_t_ptr + k * M + cols, mask=col_mask, other=0.0).to(tl.float32)
    return k, zk, muk, ivk


@triton.jit
def _tile_exponent(
    z_ptr,
    mu_t_ptr,
    iv_t_ptr,
    const_t_ptr,
    set_dims_ptr,
    start,
    end,
    s,
    rows,
    row_mask,
    cols,
    col_mask,
    B,
    M,
    D,
    logw_ptr,
    own,
    designated,
    rest,
    period,
    WEIGHTS: tl.constexpr,
    BLOCK_B: tl.constexpr,
    BLOCK_M: tl.constexpr,
):
    """a[r, c] = log_w[r, c] + const[s, c] - 1/2 sum_{k in s} (z_rk - mu_ck)^2 / var_ck; -inf off the tile."""
    acc = tl.zeros([BLOCK_B, BLOCK_M], dtype=tl.float32)
    for i in range(start, end):
        k, zk, muk, ivk = _load_dim(z_ptr, mu_t_ptr, iv_t_ptr, set_dims_ptr, i, rows, row_mask, cols, col_mask, M, D)
        diff = zk[:, None] - muk[None, :]
        acc += diff * diff * ivk[None, :]
    const = tl.load(const_t_ptr + s * M + cols, mask=col_mask, other=0.0).to(tl.float32)
    a = const[None, :] - 0.5 * acc
    if WEIGHTS == STRUCTURED:  # own column b, designated column (b + 1) % period, else rest
        designated_col = (rows + 1) % period
        w = tl.where(cols[None, :] == designated_col[:, None], designated, rest)
        w = tl.where(cols[None, :] == rows[:, None], own, w)
        a += w
    if WEIGHTS == DENSE:  # a B x M matrix
        w = tl.load(
            logw_ptr + rows[:, None] * M + cols[None, :], mask=row_mask[:, None] & col_mask[None, :], other=0.0
        ).to(tl.float32)
        a += w
    return tl.where(row_mask[:, None] & col_mask[None, :], a, NEG_INF)


@_autotuned()
@triton.jit
def _forward_kernel(
    z_ptr,
    mu_t_ptr,
    iv_t_ptr,
    const_t_ptr,
    set_ptr,
    set_dims_ptr,
    logw_ptr,
    own,
    designated,
    rest,
    period,
    max_ptr,
    sum_ptr,
    B,
    M,
    D,
    S,
    cols_per_split,
    B_BUCKET,
    M_BUCKET,
    WEIGHTS: tl.constexpr,
    BLOCK_B: tl.constexpr,
    BLOCK_M: tl.constexpr,
):
    pid_b = tl.program_id(0)
    s = tl.program_id(1)
    split = tl.program_id(2)
    rows = pid_b * BLOCK_B + tl.arange(0, BLOCK_B)
    row_mask = rows < B
    start = tl.load(set_ptr + s)
    end = tl.load(set_ptr + s + 1)
    m_lo = split * cols_per_split
    m_hi = tl.minimum(m_lo + cols_per_split, M)
    run_max = tl.full([BLOCK_B], NEG_INF, dtype=tl.float32)
    run_sum = tl.zeros([BLOCK_B], dtype=tl.float32)
    for m0 in range(m_lo, m_hi, BLOCK_M):
        cols = m0 + tl.arange(0, BLOCK_M)
        col_mask = cols < m_hi
        a = _tile_exponent(
            z_ptr,
            mu_t_ptr,
            iv_t_ptr,
            const_t_ptr,
            set_dims_ptr,
            start,
            end,
            s,
            rows,
            row_mask,
            cols,
            col_mask,
            B,
            M,
            D,
            logw_ptr,
            own,
            designated,
            rest,
            period,
            WEIGHTS,
            BLOCK_B,
            BLOCK_M,
        )
        new_max = tl.maximum(run_max, tl.max(a, axis=1))
        # An all -inf row keeps max -inf; subtracting 0 there keeps exp() at 0 instead of NaN.
        shift = tl.where(new_max == NEG_INF, 0.0, new_max)
        run_sum = run_sum * tl.exp(run_max - shift) + tl.sum(tl.exp(a - shift[:, None]), axis=1)
        run_max = new_max
    offset = split * B * S + rows * S + s
    tl.store(max_ptr + offset, run_max, mask=row_mask)
    tl.store(sum_ptr + offset, run_sum, mask=row_mask)


@triton.jit
def _softmax_weight(a, out_ptr, grad_ptr, rows, row_mask, s, S):
    """p[r, c] = exp(a[r, c] - out[r, s]) * grad[r, s]; zero where out is -inf."""
    out = tl.load(out_ptr + rows * S + s, mask=row_mask, other=0.0)
    grad = tl.load(grad_ptr + rows * S + s, mask=row_mask, other=0.0)
    finite = out != NEG_INF
    out = tl.where(finite, out, 0.0)
    grad = tl.where(finite, grad, 0.0)
    return tl.exp(a - out[:, None]) * grad[:, None]


@_autotuned(reset_to_zero=["dz_ptr"])
@triton.jit
def _dz_kernel(
    z_ptr,
    mu_t_ptr,
    iv_t_ptr,
    const_t_ptr,
    set_ptr,
    set_dims_ptr,
    logw_ptr,
    own,
    designated,
    rest,
    period,
    out_ptr,
    grad_ptr,
    dz_ptr,
    B,
    M,
    D,
    S,
    cols_per_split,
    B_BUCKET,
    M_BUCKET,
    WEIGHTS: tl.constexpr,
    BLOCK_B: tl.constexpr,
    BLOCK_M: tl.constexpr,
):
    pid_b = tl.program_id(0)
    split = tl.program_id(1)
    rows = pid_b * BLOCK_B + tl.arange(0, BLOCK_B)
    row_mask = rows < B
    m_lo = split * cols_per_split
    m_hi = tl.minimum(m_lo + cols_per_split, M)
    dz_base = dz_ptr + split * B * D
    for s in range(0, S):
        start = tl.load(set_ptr + s)
        end = tl.load(set_ptr + s + 1)
        for m0 in range(m_lo, m_hi, BLOCK_M):
            cols = m0 + tl.arange(0, BLOCK_M)
            col_mask = cols < m_hi
            a = _tile_exponent(
                z_ptr,
                mu_t_ptr,
                iv_t_ptr,
                const_t_ptr,
                set_dims_ptr,
                start,
                end,
                s,
                rows,
                row_mask,
                cols,
                col_mask,
                B,
                M,
                D,
                logw_ptr,
                own,
                designated,
                rest,
                period,
                WEIGHTS,
                BLOCK_B,
                BLOCK_M,
            )
            p = _softmax_weight(a, out_ptr, grad_ptr, rows, row_mask, s, S)
            for i in range(start, end):
                k, zk, muk, ivk = _load_dim(
                    z_ptr, mu_t_ptr, iv_t_ptr, set_dims_ptr, i, rows, row_mask, cols, col_mask, M, D
                )
                contrib = -tl.sum(p * (zk[:, None] - muk[None, :]) * ivk[None, :], axis=1)
                # This program alone owns these rows of its split's buffer: no race.
                ptr = dz_base + rows * D + k
                tl.store(ptr, tl.load(ptr, mask=row_mask, other=0.0) + contrib, mask=row_mask)


@_autotuned(reset_to_zero=["dmu_ptr", "dlv_ptr"])
@triton.jit
def _dmu_kernel(
    z_ptr,
    mu_t_ptr,
    iv_t_ptr,
    const_t_ptr,
    set_ptr,
    set_dims_ptr,
    logw_ptr,
    own,
    designated,
    rest,
    period,
    out_ptr,
    grad_ptr,
    dmu_ptr,
    dlv_ptr,
    dlogw_ptr,
    B,
    M,
    D,
    S,
    rows_per_split,
    B_BUCKET,
    M_BUCKET,
    WEIGHTS: tl.constexpr,
    WANT_LOGW: tl.constexpr,
    BLOCK_B: tl.constexpr,
    BLOCK_M: tl.constexpr,
):
    pid_m = tl.program_id(0)
    split = tl.program_id(1)
    cols = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    col_mask = cols < M
    b_lo = split * rows_per_split
    b_hi = tl.minimum(b_lo + rows_per_split, B)
    dmu_base = dmu_ptr + split * D * M
    dlv_base = dlv_ptr + split * D * M
    for b0 in range(b_lo, b_hi, BLOCK_B):
        rows = b0 + tl.arange(0, BLOCK_B)
        row_mask = rows < b_hi
        p_total = tl.zeros([BLOCK_B, BLOCK_M], dtype=tl.float32)
        for s in range(0, S):
            start = tl.load(set_ptr + s)
            end = tl.load(set_ptr + s + 1)
            a = _tile_exponent(
                z_ptr,
                mu_t_ptr,
                iv_t_ptr,
                const_t_ptr,
                set_dims_ptr,
                start,
                end,
                s,
                rows,
                row_mask,
                cols,
                col_mask,
                B,
                M,
                D,
                logw_ptr,
                own,
                designated,
                rest,
                period,
                WEIGHTS,
                BLOCK_B,
                BLOCK_M,
            )
            p = _softmax_weight(a, out_ptr, grad_ptr, rows, row_mask, s, S)
            p_total += p
            p_sum = tl.sum(p, axis=0)
            for i in range(start, end):
                k, zk, muk, ivk = _load_dim(
                    z_ptr, mu_t_ptr, iv_t_ptr, set_dims_ptr, i, rows, row_mask, cols, col_mask, M, D
                )
                scaled = (zk[:, None] - muk[None, :]) * ivk[None, :]
                d_mu = tl.sum(p * scaled, axis=0)
                d_lv = 0.5 * tl.sum(p * scaled * (zk[:, None] - muk[None, :]), axis=0) - 0.5 * p_sum
                # This program alone owns these columns of its split's buffers: no race.
                ptr_mu = dmu_base + k * M + cols
                ptr_lv = dlv_base + k * M + cols
                tl.store(ptr_mu, tl.load(ptr_mu, mask=col_mask, other=0.0) + d_mu, mask=col_mask)
                tl.store(ptr_lv, tl.load(ptr_lv, mask=col_mask, other=0.0) + d_lv, mask=col_mask)
        if WANT_LOGW:
            tl.store(dlogw_ptr + rows[:, None] * M + cols[None, :], p_total, mask=row_mask[:, None] & col_mask[None, :])


# -- host side ------------------------------------------------------------------------------------

import functools  # noqa: E402

import torch  # noqa: E402

from .._constants import LOG_2PI  # noqa: E402
from .environment import interpreting  # noqa: E402
from .weights import StructuredLogWeights  # noqa: E402

#: every config's blocks divide this, so a split of the reduction axis into multiples of it suits them all
SPLIT_GRANULE = 64
#: the row tile used to estimate how many programs a launch has before the tuner picks one
ESTIMATE_BLOCK_B = 32
#: programs per streaming multiprocessor a launch aims for: below that it is split along the reduction axis
#: (partials combined on the host)
PROGRAMS_PER_SM = 2
#: the target where no CUDA device answers (the interpreter): an H100's 132 SMs
DEFAULT_TARGET_PROGRAMS = 264


@functools.cache
def target_programs(device: torch.device) -> int:
    """PROGRAMS_PER_SM times the device's multiprocessor count, looked up once per device."""
    if device.type == "cuda" and torch.cuda.is_available():
        return PROGRAMS_PER_SM * torch.cuda.get_device_properties(device).multi_processor_count
    return DEFAULT_TARGET_PROGRAMS


def _csr(member: torch.Tensor):
    """Sets as CSR (offsets S+1, dims), from the D x S membership matrix."""
    cols = [torch.nonzero(member[:, s] > 0).flatten() for s in range(member.shape[1])]
    sizes = torch.tensor([0] + [len(c) for c in cols])
    return torch.cumsum(sizes, 0).to(torch.int32), torch.cat(cols).to(torch.int32)


def _weight_args(log_w, device):
    if log_w is None:
        return NO_WEIGHTS, torch.empty(1, device=device), 0.0, 0.0, 0.0, 1
    if isinstance(log_w, StructuredLogWeights):
        return STRUCTURED_WEIGHTS, torch.empty(1, device=device), log_w.own, log_w.designated, log_w.rest, log_w.period
    return DENSE_WEIGHTS, log_w.contiguous(), 0.0, 0.0, 0.0, 1


def _splits(n_programs: int, length: int, device: torch.device) -> tuple[int, int]:
    """Split the reduction axis when the grid is too small to fill the GPU; returns (splits, length per split)."""
    granules = triton.cdiv(length, SPLIT_GRANULE)
    splits = max(1, min(granules, target_programs(device) // max(n_programs, 1)))
    per_split = triton.cdiv(granules, splits) * SPLIT_GRANULE
    return triton.cdiv(length, per_split), per_split


def _bucket(n: int) -> int:
    """The autotune key of a size: its power of two (tuning again for every size would stall evaluation)."""
    return triton.next_power_of_2(max(n, 1))


#: the config the interpreter runs (a test may set another); on a GPU the tuner chooses
interpreter_config = LAUNCH_CONFIGS[0]


def _launch(kernel, grid, *args, **constexprs) -> None:
    """Launch an autotuned kernel; under the interpreter, one fixed config (timing configs there is pointless)."""
    if interpreting():
        block_b, block_m, warps, stages = interpreter_config
        kernel.fn[grid](*args, **constexprs, BLOCK_B=block_b, BLOCK_M=block_m, num_warps=warps, num_stages=stages)
    else:
        kernel[grid](*args, **constexprs)


class Prepared:
    """Float32, dims-first copies of the per-component inputs and the CSR sets."""

    def __init__(self, z, mu, logvar, member, log_w):
        self.B, self.D = z.shape
        self.M, self.S = mu.shape[0], member.shape[1]
        self.z = z.contiguous()
        mu32, lv32 = mu.float(), logvar.float()
        self.mu_t = mu32.t().contiguous()
        self.iv_t = torch.exp(-lv32).t().contiguous()
        self.const_t = ((-0.5 * (lv32 + LOG_2PI)) @ member.float()).t().contiguous()
        set_ptr, set_dims = _csr(member)
        self.set_ptr, self.set_dims = set_ptr.to(z.device), set_dims.to(z.device)
        self.mode, self.logw, self.own, self.designated, self.rest, self.period = _weight_args(log_w, z.device)

    def common(self):
        return (
            self.z,
            self.mu_t,
            self.iv_t,
            self.const_t,
            self.set_ptr,
            self.set_dims,
            self.logw,
            self.own,
            self.designated,
            self.rest,
            self.period,
        )


def forward(prep: Prepared) -> torch.Tensor:
    B, M, S = prep.B, prep.M, prep.S
    splits, per_split = _splits(triton.cdiv(B, ESTIMATE_BLOCK_B) * S, M, prep.z.device)
    run_max = torch.empty(splits, B, S, dtype=torch.float32, device=prep.z.device)
    run_sum = torch.empty_like(run_max)
    grid = lambda meta: (triton.cdiv(B, meta["BLOCK_B"]), S, splits)  # noqa: E731
    _launch(
        _forward_kernel,
        grid,
        *prep.common(),
        run_max,
        run_sum,
        B,
        M,
        prep.D,
        S,
        per_split,
        _bucket(B),
        _bucket(M),
        WEIGHTS=prep.mode,
    )
    top = run_max.amax(0)
    shift = torch.where(torch.isfinite(top), top, torch.zeros_like(top))
    return torch.log((run_sum * torch.exp(run_max - shift)).sum(0)) + shift


def backward(prep: Prepared, out, grad_out, want_dz, want_dmu, want_logw):
    B, M, D, S = prep.B, prep.M, prep.D, prep.S
    dev = prep.z.device
    grad_out = grad_out.float().contiguous()
    out = out.contiguous()
    dz = dmu = dlv = dlogw = None
    if want_dz:
        splits, per_split = _splits(triton.cdiv(B, ESTIMATE_BLOCK_B), M, dev)
        dz_parts = torch.zeros(splits, B, D, dtype=torch.float32, device=dev)
        _launch(
            _dz_kernel,
            lambda meta: (triton.cdiv(B, meta["BLOCK_B"]), splits),
            *prep.common(),
            out,
            grad_out,
            dz_parts,
            B,
            M,
            D,
            S,
            per_split,
            _bucket(B),
            _bucket(M),
            WEIGHTS=prep.mode,
        )
        dz = dz_parts.sum(0)
    if want_dmu or want_logw:
        # dlog_w is stored, not accumulated: one split along the rows keeps each entry written once
        splits, per_split = (1, B) if want_logw else _splits(triton.cdiv(M, SPLIT_GRANULE), B, dev)
        dmu_parts = torch.zeros(splits, D, M, dtype=torch.float32, device=dev)
        dlv_parts = torch.zeros_like(dmu_parts)
        dlogw = torch.zeros(B, M, dtype=torch.float32, device=dev) if want_logw else torch.empty(1, device=dev)
        _launch(
            _dmu_kernel,
            lambda meta: (triton.cdiv(M, meta["BLOCK_M"]), splits),
            *prep.common(),
            out,
            grad_out,
            dmu_parts,
            dlv_parts,
            dlogw,
            B,
            M,
            D,
            S,
            per_split,
            _bucket(B),
            _bucket(M),
            WEIGHTS=prep.mode,
            WANT_LOGW=want_logw,
        )
        dmu, dlv = dmu_parts.sum(0).t(), dlv_parts.sum(0).t()
        dlogw = dlogw if want_logw else None
    return dz, dmu, dlv, dlogw
