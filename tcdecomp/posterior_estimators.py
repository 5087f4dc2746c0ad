"""The estimators of ``log q(z_S)`` behind ``Posterior(..., estimator=...)``: one small class each, found by name in
:data:`ESTIMATORS` (docs/math.md#posterior-estimators). Each says whether it is a minibatch estimator (the
posteriors are a batch of a larger data set, one z per row), the fewest rows it takes, its own checks, and its
log weights. Every one has the same standard error, the spread of the per-sample terms over the z rows (for the
minibatch estimators it leaves out the minibatch's own noise). Adding an estimator is one class here.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ._checks import check_finite_tensor, check_float_matrix, check_positive_int
from .kernels import bank_log_weights, group_logsumexp, mss_log_weights


def _values_checked_by_the_op() -> bool:
    """Inside a torch.compile graph, value checks (NaN/inf, magnitudes) would break the graph; the
    ``tcdecomp::group_logsumexp`` op that every log-density goes through runs them at run time."""
    return torch.compiler.is_compiling()


def _as_tensor(value, name: str) -> torch.Tensor:
    value = check_float_matrix(value, name, numpy_ok=True)
    if not _values_checked_by_the_op():
        check_finite_tensor(value.detach(), name)
    return value


class PosteriorBank(nn.Module):
    """A FIFO queue of the ``capacity`` most recent detached encoder posteriors, held as the module's buffers
    ``mu`` and ``logvar`` (so ``state_dict``, ``load_state_dict`` and ``.to(device)`` are torch's).

    Use: compute the loss with ``Posterior(..., estimator="bank", bank=bank)``, then
    ``bank.update(mu, logvar)`` with this step's batch. Updating before the estimate
    would count the batch twice.
    """

    def __init__(self, capacity: int):
        super().__init__()
        self.capacity = check_positive_int(capacity, "capacity")
        self.register_buffer("mu", None)
        self.register_buffer("logvar", None)

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, errors):
        # The buffers' size is the bank's fill, so a checkpoint's replace them rather than being copied into them.
        for name in ("mu", "logvar"):
            value = state_dict.get(prefix + name)
            if value is not None and (not isinstance(value, torch.Tensor) or value.dim() != 2):
                errors.append(f"{prefix}{name} must be a 2-D tensor of posteriors, got {type(value).__name__}")
                return
            self._buffers[name] = None if value is None else value.detach().clone()

    def __len__(self) -> int:
        return 0 if self.mu is None else self.mu.shape[0]

    def update(self, mu, logvar) -> None:
        """Append a batch (detached) and drop the oldest rows beyond ``capacity``."""
        mu, logvar = _as_tensor(mu, "mu").detach(), _as_tensor(logvar, "logvar").detach()
        if mu.shape != logvar.shape:
            raise ValueError(f"mu and logvar must have the same shape, got {tuple(mu.shape)} and {tuple(logvar.shape)}")
        if self.mu is not None:
            if mu.shape[1] != self.mu.shape[1]:
                raise ValueError(f"the bank holds {self.mu.shape[1]}-dim posteriors, got {mu.shape[1]} dims")
            mu = torch.cat([self.mu, mu.to(self.mu)])
            logvar = torch.cat([self.logvar, logvar.to(self.logvar)])
        self.mu, self.logvar = mu[-self.capacity :], logvar[-self.capacity :]

    def __repr__(self) -> str:
        return f"PosteriorBank(capacity={self.capacity}, size={len(self)})"


class PosteriorEstimator:
    """Base class: ``log q^(z_S)`` for every sample and set, from the posteriors ``mu``, ``logvar``."""

    name: str = ""
    #: mu/logvar are a minibatch of a data set of ``dataset_size`` rows, and z holds one draw per row
    minibatch: bool = True
    #: the fewest posteriors a batch may hold
    min_rows: int = 1
    #: whether the estimator reads a PosteriorBank (``bank=``)
    takes_bank: bool = False

    def check(self, post, rows: int) -> None:
        """Checks of this estimator's own (``post`` is the Posterior being built, with ``rows`` posteriors)."""
        if rows < self.min_rows:
            raise ValueError(f"estimator={self.name!r} needs a batch of at least {self.min_rows} examples")

    def log_density(self, post, mu, logvar, sets) -> torch.Tensor:
        raise NotImplementedError


class MinibatchStratified(PosteriorEstimator):
    """``mss``: Chen et al. (2018)'s stratified weights: own example 1/N, one designated other (N - M + 1)/(N (M - 1)),
    the rest 1/(M - 1) (docs/math.md#mss)."""

    name = "mss"
    min_rows = 2

    def log_density(self, post, mu, logvar, sets):
        return group_logsumexp(post.z, mu, logvar, sets, mss_log_weights(mu.shape[0], post.dataset_size))


class MinibatchWeighted(PosteriorEstimator):
    """``mws``: beta-TCVAE's minibatch weighted sampling, every weight 1/(N M); not a density (its values carry a
    constant offset that the gradients ignore), kept for comparison (docs/math.md#mws)."""

    name = "mws"

    def log_density(self, post, mu, logvar, sets):
        return group_logsumexp(post.z, mu, logvar, sets) - math.log(post.dataset_size * mu.shape[0])


class Bank(PosteriorEstimator):
    """``bank``: the batch plus a :class:`~tcdecomp.posterior.PosteriorBank` of recent detached posteriors; own
    example 1/N, each of the M + K - 1 others (N - 1)/(N (M + K - 1)) (docs/math.md#bank)."""

    name = "bank"
    takes_bank = True

    def check(self, post, rows: int) -> None:
        super().check(post, rows)
        if not isinstance(post.bank, PosteriorBank):
            raise ValueError("estimator='bank' needs bank=PosteriorBank(capacity), updated by the caller each step")
        if len(post.bank) and post.bank.mu.shape[1] != post.n_dims:
            raise ValueError(f"bank holds {post.bank.mu.shape[1]}-dim posteriors but mu has {post.n_dims} dims")
        if post.dataset_size < rows + len(post.bank):
            raise ValueError(
                f"dataset_size={post.dataset_size} is smaller than batch + bank = {rows + len(post.bank)} "
                "posteriors; pass the size of the whole data set, or a bank capacity below it"
            )

    def log_density(self, post, mu, logvar, sets):
        M = mu.shape[0]
        if len(post.bank):
            mu = torch.cat([mu, post.bank.mu.to(mu)])
            logvar = torch.cat([logvar, post.bank.logvar.to(logvar)])
        return group_logsumexp(post.z, mu, logvar, sets, bank_log_weights(M, mu.shape[0], post.dataset_size))


class Exact(PosteriorEstimator):
    """``exact``: mu/logvar are the whole data set, every weight 1/N, evaluated in chunks (docs/math.md#exact)."""

    name = "exact"
    minibatch = False

    def log_density(self, post, mu, logvar, sets):
        return group_logsumexp(post.z, mu, logvar, sets) - math.log(post.dataset_size)


#: ``Posterior(estimator=...)``'s estimators by name
ESTIMATORS = {cls.name: cls() for cls in (MinibatchStratified, MinibatchWeighted, Exact, Bank)}
#: the estimators a training loss can use (one z per row of a minibatch)
MINIBATCH_ESTIMATORS = tuple(name for name, estimator in ESTIMATORS.items() if estimator.minibatch)
