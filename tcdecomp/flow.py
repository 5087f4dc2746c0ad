"""Normalizing flows on normal scores for ``Samples(x, method="flow")`` (docs/math.md#flow).

A set's density in copula space is the Gaussian copula of the set (its correlation R = L L^T from the fitting
rows) followed by a neural spline flow (zuko's autoregressive NSF) that models what the Gaussian copula misses:

    log q(z_S) = log p_flow(L^-1 z_S) - log |det L|.

The flow is trained by Adam on the negative log-likelihood with early stopping on a validation part of the
fitting rows, and is kept only where its best validation loss beats "no flow" (the identity: the Gaussian copula
itself), so a set the Gaussian copula fits keeps it. zuko is the optional ``flows`` extra.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

#: the share of a model's fitting rows held back for early stopping
VALIDATION = 0.2
#: epochs without a better validation loss (the flow's own best) before training stops
PATIENCE = 5
#: gradient steps an epoch takes at least, by shrinking the batch, and the smallest batch
MIN_BATCHES, MIN_BATCH_SIZE = 8, 32


def require_zuko():
    try:
        import zuko
    except ImportError:
        raise ValueError("method='flow' needs zuko: pip install 'tcdecomp[flows]'") from None
    return zuko


@dataclass(frozen=True)
class FlowConfig:
    """The flows' architecture and training: spline transforms, hidden layers of each autoregressive network,
    spline bins, the most epochs, the batch size and the learning rate."""

    transforms: int = 3
    hidden: tuple[int, ...] = (64, 64)
    bins: int = 8
    max_epochs: int = 60
    batch_size: int = 256
    lr: float = 1e-3


class SetFlow:
    """The density of one set's normal scores fitted on some rows: the Gaussian copula and, where it helps on
    the validation rows, a spline flow on the whitened scores."""

    def __init__(self, z: np.ndarray, seed: int, config: FlowConfig):
        import torch

        d = z.shape[1]
        corr = np.corrcoef(z, rowvar=False).reshape(d, d)
        self.chol = np.linalg.cholesky(corr)
        self.log_det = float(np.sum(np.log(np.diag(self.chol))))
        white = np.linalg.solve(self.chol, z.T).T
        rng = np.random.default_rng(seed)
        order = rng.permutation(len(z))
        n_val = max(1, int(VALIDATION * len(z)))
        val, train = order[:n_val], order[n_val:]
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.flow, self.epochs = _train(white[train], white[val], config, torch)

    def log_density(self, z: np.ndarray) -> np.ndarray:
        """log q(z_S) per row (nats)."""
        if self.flow is None:  # the Gaussian copula won
            return self.gaussian_log_density(z)
        import torch

        white = np.linalg.solve(self.chol, z.T).T
        with torch.no_grad():
            base = self.flow().log_prob(torch.as_tensor(white, dtype=torch.float64)).numpy()
        return base - self.log_det

    def sample(self, n: int, seed: int) -> np.ndarray:
        """n rows drawn from the fitted density (the flow's, or the Gaussian copula's where it won)."""
        import torch

        if self.flow is None:
            white = np.random.default_rng(seed).standard_normal((n, self.chol.shape[0]))
        else:
            with torch.random.fork_rng(devices=[]), torch.no_grad():
                torch.manual_seed(seed)
                white = self.flow().sample((n,)).numpy()
        return white @ self.chol.T

    def gaussian_log_density(self, z: np.ndarray) -> np.ndarray:
        """log density per row of the Gaussian copula alone (standard normal whitened scores)."""
        white = np.linalg.solve(self.chol, z.T).T
        return -0.5 * np.sum(white * white, axis=1) - 0.5 * white.shape[1] * math.log(2 * math.pi) - self.log_det


def _gaussian_nll(white: np.ndarray) -> float:
    return float(np.mean(0.5 * np.sum(white * white, axis=1) + 0.5 * white.shape[1] * math.log(2 * math.pi)))


def _train(train: np.ndarray, val: np.ndarray, config: FlowConfig, torch):
    """The flow with the best validation loss over the epochs, or None where its best does not beat the identity
    (the Gaussian copula). Patience counts from the flow's own best, so a flow that starts worse than the identity
    still gets to train."""
    zuko = require_zuko()
    flow = zuko.flows.NSF(
        features=train.shape[1], transforms=config.transforms, hidden_features=config.hidden, bins=config.bins
    ).double()
    optimizer = torch.optim.Adam(flow.parameters(), lr=config.lr)
    x_train = torch.as_tensor(train, dtype=torch.float64)
    x_val = torch.as_tensor(val, dtype=torch.float64)
    # at least MIN_BATCHES steps an epoch: a few hundred rows in batches of 256 are one or two steps, too few to
    # move a flow before patience ends
    batch_size = min(config.batch_size, max(MIN_BATCH_SIZE, len(train) // MIN_BATCHES))
    best_loss, best_state, best_epoch, waited = math.inf, None, 0, 0
    for epoch in range(1, config.max_epochs + 1):
        flow.train()
        for batch in torch.randperm(len(x_train)).split(batch_size):
            loss = -flow().log_prob(x_train[batch]).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        flow.eval()
        with torch.no_grad():
            val_loss = float(-flow().log_prob(x_val).mean())
        if math.isfinite(val_loss) and val_loss < best_loss:
            best_loss, best_epoch, waited = val_loss, epoch, 0
            best_state = {k: v.clone() for k, v in flow.state_dict().items()}
        else:
            waited += 1
            if waited >= PATIENCE:
                break
    if best_state is None or best_loss >= _gaussian_nll(val):  # no epoch beat the identity: the Gaussian copula
        return None, 0
    flow.load_state_dict(best_state)
    return flow, best_epoch
