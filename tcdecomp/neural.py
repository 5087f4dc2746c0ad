"""Neural per-term mutual-information bounds (docs/math.md#neural-bounds) for raw samples
(Bai, Cheng et al., AISTATS 2023,
"Estimating Total Correlation with Mutual Information Estimators", arXiv 2011.04794).

Each pairwise term I(A; B) gets its own small network, trained with Adam on a training split
with early stopping on a held-out split; the reported value is the bound on held-out batches,
with a standard error from the spread over those batches. A term of m > 2 groups is split by the
exact chain rule I(G1; ...; Gm) = sum_{j>=2} I(G1 u ... u G_{j-1}; G_j) into pairwise terms.

Bounds, with a critic f(a, b) and a batch of B pairs. The critic is ``"separable"`` by default,
f(a, b) = g(a)^T h(b) with one MLP per side (2B network passes for all B^2 pairs), or
``"concat"``, an MLP on the concatenation [a, b] (B^2 passes; Belghazi et al. 2018):
  * infonce: E[f(a_i, b_i)] - E_i[log (1/B) sum_j exp f(a_i, b_j)]  (a lower bound, at most log B)
  * nwj:     E[f(a_i, b_i)] - e^-1 E_{i != j}[exp f(a_i, b_j)]       (lower bound)
  * mine:    E[f(a_i, b_i)] - log E_{i != j}[exp f(a_i, b_j)]         (Donsker-Varadhan lower bound)
  * club:    E[log q(b_i|a_i)] - E_{i, j}[log q(b_j|a_i)] with a Gaussian q(b|a) fitted by maximum
             likelihood (an upper bound when q is good; Cheng et al. 2020)
Networks train one term after another (each term's network is independent).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ._checks import check_positive_float, check_positive_int

NEURAL_METHODS = ("infonce", "nwj", "mine", "club")
CRITICS = ("separable", "concat")


@dataclass
class NeuralConfig:
    hidden: int = 64
    steps: int = 2000
    batch_size: int = 64
    lr: float = 1e-3
    eval_every: int = 100
    patience: int = 5
    holdout: float = 0.3
    seed: int = 0
    device: str = "cpu"
    critic: str = "separable"
    embed: int = 32

    def __post_init__(self):
        if self.critic not in CRITICS:
            raise ValueError(f"NeuralConfig.critic must be one of {CRITICS}, got {self.critic!r}")
        for name in ("hidden", "steps", "batch_size", "eval_every", "patience", "embed"):
            check_positive_int(getattr(self, name), f"NeuralConfig.{name}")
        if self.batch_size < 2:
            raise ValueError("NeuralConfig.batch_size must be at least 2: the bounds contrast pairs within a batch")
        check_positive_float(self.lr, "NeuralConfig.lr")
        if not 0.0 < self.holdout < 1.0:
            raise ValueError(f"NeuralConfig.holdout must be in (0, 1), got {self.holdout!r}")


def _mlp(n_in: int, hidden: int, n_out: int) -> nn.Module:
    return nn.Sequential(
        nn.Linear(n_in, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, n_out)
    )


class PairCritic(nn.Module):
    """f(a_i, b_j) for every pair of a batch: a B x B score matrix."""

    def __init__(self, da: int, db: int, hidden: int):
        super().__init__()
        self.net = _mlp(da + db, hidden, 1)

    def forward(self, a, b):
        B = a.shape[0]
        pairs = torch.cat([a[:, None, :].expand(B, B, -1), b[None, :, :].expand(B, B, -1)], dim=2)
        return self.net(pairs).squeeze(-1)


class SeparableCritic(nn.Module):
    """f(a_i, b_j) = g(a_i)^T h(b_j): the B x B score matrix from 2B network passes."""

    def __init__(self, da: int, db: int, hidden: int, embed: int = 32):
        super().__init__()
        self.g, self.h = _mlp(da, hidden, embed), _mlp(db, hidden, embed)

    def forward(self, a, b):
        return self.g(a) @ self.h(b).T


def make_network(method: str, da: int, db: int, cfg: NeuralConfig) -> nn.Module:
    """The trainable part of a term: q(b|a) for CLUB, else the configured critic."""
    if method == "club":
        return GaussianConditional(da, db, cfg.hidden)
    if cfg.critic == "concat":
        return PairCritic(da, db, cfg.hidden)
    return SeparableCritic(da, db, cfg.hidden, cfg.embed)


class GaussianConditional(nn.Module):
    """q(b | a) = N(mu(a), diag exp(logvar(a))), for CLUB."""

    def __init__(self, da: int, db: int, hidden: int):
        super().__init__()
        self.net = _mlp(da, hidden, 2 * db)

    def log_prob_matrix(self, a, b):
        """log q(b_j | a_i) for every pair: B x B."""
        mu, logvar = self.net(a).chunk(2, dim=1)
        diff = b[None, :, :] - mu[:, None, :]
        return (-0.5 * (math.log(2 * math.pi) + logvar[:, None, :] + diff**2 * torch.exp(-logvar[:, None, :]))).sum(-1)


def _off_diagonal(scores):
    B = scores.shape[0]
    return scores[~torch.eye(B, dtype=torch.bool, device=scores.device)]


def bound(method: str, net: nn.Module, a, b) -> torch.Tensor:
    """The method's MI estimate on one batch (differentiable)."""
    if method == "club":
        logq = net.log_prob_matrix(a, b)
        return torch.diagonal(logq).mean() - logq.mean()
    scores = net(a, b)
    joint = torch.diagonal(scores).mean()
    B = scores.shape[0]
    if method == "infonce":
        return joint - (torch.logsumexp(scores, dim=1) - math.log(B)).mean()
    off = _off_diagonal(scores)
    if method == "nwj":
        return joint - torch.exp(off - 1.0).mean()
    return joint - (torch.logsumexp(off, dim=0) - math.log(off.numel()))  # mine (Donsker-Varadhan)


def _training_loss(method, net, a, b):
    if method == "club":  # q(b|a) by maximum likelihood on the joint pairs
        mu, logvar = net.net(a).chunk(2, dim=1)
        return (0.5 * (logvar + (b - mu) ** 2 * torch.exp(-logvar))).sum(1).mean()
    return -bound(method, net, a, b)


def _batches(n: int, batch: int, rng: np.random.Generator, drop_last=True):
    order = rng.permutation(n)
    stop = n - (n % batch) if drop_last else n
    return [order[i : i + batch] for i in range(0, stop, batch)]


@torch.no_grad()
def _held_out(method, net, a, b, batch, rng) -> np.ndarray:
    return np.array([float(bound(method, net, a[idx], b[idx])) for idx in _batches(len(a), batch, rng)])


def neural_mi(a: np.ndarray, b: np.ndarray, method: str, config: NeuralConfig | None = None):
    """(estimate, standard error) of I(A; B) from paired samples (n x da, n x db)."""
    cfg = config or NeuralConfig()
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    n = len(a)
    perm = rng.permutation(n)
    n_test = max(2 * cfg.batch_size, int(round(cfg.holdout * n)))  # two held-out batches at least: a spread
    if n - n_test < cfg.batch_size:
        raise ValueError(f"x has {n} rows: too few for a held-out split and batches of {cfg.batch_size}")
    to = lambda v: torch.as_tensor(v, dtype=torch.float32, device=cfg.device)
    a_tr, b_tr, a_te, b_te = to(a[perm[n_test:]]), to(b[perm[n_test:]]), to(a[perm[:n_test]]), to(b[perm[:n_test]])
    da, db = a.shape[1], b.shape[1]
    net = make_network(method, da, db, cfg).to(cfg.device)
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    best, best_state, stale, step = -math.inf, None, 0, 0
    while step < cfg.steps and stale < cfg.patience:
        for idx in _batches(len(a_tr), cfg.batch_size, rng):
            loss = _training_loss(method, net, a_tr[idx], b_tr[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            step += 1
            if step % cfg.eval_every == 0:
                # Early stopping: the held-out objective (the bound, or q's likelihood for CLUB).
                with torch.no_grad():
                    score = (
                        -float(_training_loss(method, net, a_te[:1024], b_te[:1024]))
                        if method == "club"
                        else float(
                            np.mean(_held_out(method, net, a_te, b_te, cfg.batch_size, np.random.default_rng(0)))
                        )
                    )
                if score > best + 1e-4:
                    best, stale = score, 0
                    best_state = {k: v.clone() for k, v in net.state_dict().items()}
                else:
                    stale += 1
            if step >= cfg.steps or stale >= cfg.patience:
                break
    if best_state is not None:
        net.load_state_dict(best_state)
    values = _held_out(method, net, a_te, b_te, cfg.batch_size, np.random.default_rng(1))
    if not np.all(np.isfinite(values)):
        raise ValueError(
            f"the {method} critic diverged (a non-finite bound on held-out batches); "
            "lower NeuralConfig.lr or NeuralConfig.hidden"
        )
    return float(values.mean()), float(values.std(ddof=1) / math.sqrt(len(values)))


def pairwise_chain(groups):
    """The exact chain rule for a multi-group term: [(G1, G2), (G1 u G2, G3), ...]."""
    out, acc = [], tuple(groups[0])
    for g in groups[1:]:
        out.append((acc, tuple(g)))
        acc = tuple(sorted(acc + tuple(g)))
    return out
