"""TC of a Gaussian encoder's aggregate posterior ``q(z) = (1/N) sum_n q(z | x_n)``.

For a set of dims S every estimator has the form

    log q^(z_S,b) = logsumexp_m [ log w_bm + sum_{k in S} log N(z_bk; mu_mk, sigma^2_mk) ]

and they differ in the components m and the weights w (docs/math.md#posterior-estimators):

* ``mws``: minibatch weighted sampling of beta-TCVAE (Chen et al. 2018, eq. S6):
  every w = 1/(N M). Its normalisation is beta-TCVAE's and is not a density: values
  are offset by a constant that the gradients ignore. Kept for comparison.
* ``mss``: minibatch stratified sampling (Chen et al. 2018, appendix C.2): own
  example 1/N, one designated other (N - M + 1)/(N (M - 1)), the rest 1/(M - 1).
* ``bank``: the batch plus a :class:`PosteriorBank` of K recent detached posteriors;
  own example 1/N, each of the M + K - 1 others (N - 1)/(N (M + K - 1)).
* ``exact``: mu/logvar are the whole data set, w = 1/N, evaluated in chunks.

All go through :func:`tcdecomp.kernels.group_logsumexp`, one fused pass for all sets.
"""

from __future__ import annotations

import math

import torch

from ._checks import check_choice, check_positive_int
from ._resources import MEMORY_SHARE, available_bytes, check_fits
from .distributed import global_components, require_process_group
from .kernels import needs_float64
from .posterior_estimators import ESTIMATORS as _ESTIMATORS
from .posterior_estimators import PosteriorBank, _as_tensor, _values_checked_by_the_op
from .source import Source

ESTIMATORS = tuple(_ESTIMATORS)
MINIBATCH = tuple(name for name, method in _ESTIMATORS.items() if method.minibatch)
__all__ = ["ESTIMATORS", "Posterior", "PosteriorBank", "sample_aggregate"]


def sample_aggregate(mu, logvar, num_samples=None, generator=None) -> tuple[torch.Tensor, torch.Tensor]:
    """Draws from the aggregate posterior (1/N) sum_n N(mu_n, diag exp(logvar_n)) and the component of each.

    With ``num_samples`` None, one reparameterised draw per component (differentiable in mu and
    logvar), else ``num_samples`` draws of uniformly picked components. Random numbers come from
    ``generator`` on the CPU, so a seed gives the same draws on every device.
    """
    N = mu.shape[0]
    if num_samples is not None:
        check_positive_int(num_samples, "num_samples")
    if num_samples is None:
        pick = torch.arange(N, device=mu.device)
    else:
        pick = torch.randint(N, (num_samples,), generator=generator, device="cpu").to(mu.device)
        mu, logvar = mu[pick], logvar[pick]
    eps = torch.randn(mu.shape, generator=generator, dtype=mu.dtype, device="cpu").to(mu.device)
    return mu + torch.exp(0.5 * logvar) * eps, pick


class Posterior(Source):
    """TC and decompositions of a Gaussian encoder's aggregate posterior.

    Args:
        mu, logvar: per-example means and log-variances (M x D) of ``q(z|x_m)``; for
            ``estimator="exact"``, the whole data set.
        z: samples; row b drawn from ``q(z|x_b)`` for the minibatch estimators, or any
            draws from ``q(z)`` for ``exact``. Sampled (reparameterised) when omitted.
        dataset_size: N, the size of the data set the minibatch came from (required
            for mss, mws and bank; for exact it defaults to, and must equal, len(mu)).
        estimator: ``"mss"`` (default), ``"mws"``, ``"exact"`` or ``"bank"``.
        bank: a :class:`PosteriorBank`, for ``estimator="bank"``.
        num_samples: for ``exact`` without z, how many draws from q(z) to average
            (default: one per example).
        generator: a ``torch.Generator`` for the sampling.
        distributed: for mss, mws and bank under data parallelism (``torch.distributed``):
            mu/logvar/z are this process's rows of a global batch; the components of every
            process are gathered (differentiably, :mod:`tcdecomp.distributed`) and the
            weights use the global batch size, so each process gets ``log q^`` of its own
            rows exactly as one process holding the global batch would.

    Values are differentiable torch scalars; ``total_correlation()`` and
    ``multi_information()`` attach the standard error as ``.stderr``: the spread over the
    samples z_b (for the minibatch estimators it ignores the minibatch's own noise).
    """

    def __init__(
        self,
        mu,
        logvar,
        z=None,
        dataset_size=None,
        estimator="mss",
        bank=None,
        num_samples=None,
        generator=None,
        distributed: bool = False,
    ):
        self.estimator = check_choice(estimator, ESTIMATORS, "estimator")
        self.method = _ESTIMATORS[estimator]
        if distributed:
            if not self.method.minibatch:
                raise ValueError(
                    f"distributed=True is for the minibatch estimators {MINIBATCH}; {estimator} takes the whole "
                    "data set"
                )
            require_process_group()
        self.distributed = bool(distributed)
        mu, logvar = _as_tensor(mu, "mu"), _as_tensor(logvar, "logvar")
        if mu.shape != logvar.shape:
            raise ValueError(f"mu and logvar must have the same shape, got {tuple(mu.shape)} and {tuple(logvar.shape)}")
        if mu.device != logvar.device or mu.dtype != logvar.dtype:
            raise ValueError(
                "mu and logvar must share device and dtype, got "
                f"{mu.device}/{mu.dtype} and {logvar.device}/{logvar.dtype}"
            )
        self.mu, self.logvar = mu, logvar
        self.n_dims = mu.shape[1]
        self.label = estimator
        M = mu.shape[0]
        self.dataset_size = self._check_dataset_size(dataset_size, M)
        if bank is not None and not self.method.takes_bank:
            raise ValueError(f"bank is only used by estimator='bank', not {estimator!r}")
        self.bank = bank
        self.method.check(self, M)
        if num_samples is not None:
            if self.method.minibatch:
                raise ValueError(
                    f"num_samples only applies to estimator='exact'; minibatch estimators ({estimator}) draw one z "
                    "per row"
                )
            num_samples = check_positive_int(num_samples, "num_samples")
            # The draws, their components' mu and logvar, the noise and the picks: five num_samples x D arrays.
            itemsize = torch.empty((), dtype=self.mu.dtype).element_size()
            most = int(MEMORY_SHARE * available_bytes(self.mu.device) / (5 * itemsize * self.n_dims))
            check_fits(
                5.0 * num_samples * self.n_dims * itemsize,
                f"num_samples={num_samples} draws of {self.n_dims} dims",
                f"pass num_samples <= {most}",
                self.mu.device,
            )
        self.z = self._check_or_sample_z(z, num_samples, generator)
        if self.z.shape[0] < 2:
            name = "z" if z is not None else ("mu" if self.method.minibatch else "num_samples")
            raise ValueError(f"{name} gives one sample z; an estimate with a standard error needs at least 2")
        if not _values_checked_by_the_op():
            needs_float64(self.z, self.mu, self.logvar)  # refuses, here, magnitudes that no precision can evaluate

    def _check_dataset_size(self, dataset_size, M: int) -> int:
        if not self.method.minibatch:
            if dataset_size is None:
                return M
            size = check_positive_int(dataset_size, "dataset_size")
            if size != M:
                raise ValueError(
                    f"estimator='exact' treats mu as the whole data set of {M} rows; dataset_size={size} disagrees"
                )
            return size
        if dataset_size is None:
            raise ValueError(f"estimator={self.estimator!r} needs dataset_size=N, the size of the whole data set")
        size = check_positive_int(dataset_size, "dataset_size")
        if size < M:
            raise ValueError(
                f"dataset_size={size} is smaller than the batch size {M}; pass the size of the whole data set"
            )
        return size

    def _check_or_sample_z(self, z, num_samples, generator):
        mu, logvar = self.mu, self.logvar
        if z is None:
            z, _ = sample_aggregate(mu, logvar, num_samples, generator)
            if not _values_checked_by_the_op() and not bool(torch.isfinite(z.detach()).all()):
                raise ValueError(
                    f"logvar up to {float(logvar.max()):.4g} makes the sampled z overflow {mu.dtype}; "
                    "pass float64 mu and logvar, or clamp the log-variance"
                )
            return z
        if num_samples is not None:
            raise ValueError("pass either z or num_samples, not both")
        z = _as_tensor(z, "z")
        if z.shape[1] != self.n_dims:
            raise ValueError(f"z has {z.shape[1]} dims but mu has {self.n_dims}")
        if self.method.minibatch and z.shape[0] != mu.shape[0]:
            raise ValueError(
                f"z must have one row per example ({mu.shape[0]}) for estimator={self.estimator!r}, got {z.shape[0]}"
            )
        if z.device != mu.device or z.dtype != mu.dtype:
            raise ValueError(f"z must be on mu's device and dtype ({mu.device}/{mu.dtype}), got {z.device}/{z.dtype}")
        return z

    # -- log q^(z_S) -------------------------------------------------------------------------
    def log_density(self, sets) -> torch.Tensor:
        """``log q^(z_S,b)`` for every sample b and set S: a B x S tensor."""
        mu, logvar = self._components() if self.method.minibatch else (self.mu, self.logvar)
        return self.method.log_density(self, mu, logvar, sets)

    def _components(self):
        """The minibatch's components: this batch, or the global batch under ``distributed``."""
        if not self.distributed:
            return self.mu, self.logvar
        mu, logvar = global_components(self.mu, self.logvar)
        extra = len(self.bank) if self.bank is not None else 0
        if self.dataset_size < mu.shape[0] + extra:
            raise ValueError(
                f"dataset_size={self.dataset_size} is smaller than the global batch (+ bank) of "
                f"{mu.shape[0] + extra} posteriors; pass the size of the whole data set"
            )
        return mu, logvar

    def _set_stats(self, sets):
        log_q = self.log_density(sets)
        return log_q.mean(0), log_q.detach()

    def _evaluate(self, terms):
        values, errors, total_error = super()._evaluate(terms)
        if _values_checked_by_the_op():  # a compiled graph: the op checks its inputs; no value is read here
            return values, errors, total_error
        finite = all(bool(torch.isfinite(v.detach())) for v in values)
        errors, total_error = [float(e) for e in errors], float(total_error)
        if not finite or not all(math.isfinite(e) for e in [*errors, total_error]):
            # Terms are differences of log-densities; far from every component those reach 1e36 and more,
            # and their differences overflow float32 even where each density did not.
            raise ValueError(
                f"the estimate overflows {self.mu.dtype}: z lies far outside the components' "
                "support at this precision; pass float64 mu, logvar and z"
            )
        return values, errors, total_error

    def _zero(self):
        return self.mu.new_zeros(())

    def _estimate(self, value: torch.Tensor, stderr) -> torch.Tensor:
        """A differentiable torch scalar carrying its standard error as ``.stderr``: a float, or inside a compiled
        graph a 0-d tensor (reading its value there would break the graph)."""
        value.stderr = stderr
        return value

    def __repr__(self) -> str:
        return f"Posterior(M={self.mu.shape[0]}, D={self.n_dims}, N={self.dataset_size}, estimator={self.estimator!r})"
