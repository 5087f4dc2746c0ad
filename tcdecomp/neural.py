"""Neural per-term mutual-information bounds (docs/math.md#neural-bounds) for raw samples
(Bai, Cheng et al., AISTATS 2023,
"Estimating Total Correlation with Mutual Information Estimators", arXiv 2011.04794).

Each pairwise term I(A; B) gets its own small network, trained with Adam on a training split
with early stopping on one half of the held-out rows (the untrained network is the first
candidate); the reported value is the bound on the other half, averaged over eight batchings of
those rows, with a standard error from the spread over batches (over sqrt(batches in one
batching)) and the variance any estimate from those rows has at independence. A term of m > 2 groups is split by the
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

from ._checks import check_positive_float, check_positive_int, check_seed
from .null_variance import wilks_null_variance

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
        check_seed(self.seed, "NeuralConfig.seed")


def _mlp(n_in: int, hidden: int, n_out: int) -> nn.Module:
    return nn.Sequential(
        nn.Linear(n_in, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, n_out)
    )


class PairCritic(nn.Module):
    """f(a_i, b_j) for every pair of a batch: a B x B score matrix."""

    def __init__(self, da: int, db: int, hidden: int, offset: float = 0.0):
        super().__init__()
        self.net = _mlp(da + db, hidden, 1)
        with torch.no_grad():
            self.net[-1].bias.add_(offset)

    def forward(self, a, b):
        B = a.shape[0]
        pairs = torch.cat([a[:, None, :].expand(B, B, -1), b[None, :, :].expand(B, B, -1)], dim=2)
        return self.net(pairs).squeeze(-1)


class SeparableCritic(nn.Module):
    """f(a_i, b_j) = g(a_i)^T h(b_j) + c: the B x B score matrix from 2B network passes. The constant c lets the
    critic be constant (a product g^T h cannot, short of learning it), which nwj needs to score 0 on independent
    data; the other bounds ignore it."""

    def __init__(self, da: int, db: int, hidden: int, embed: int = 32, offset: float = 0.0):
        super().__init__()
        self.g, self.h = _mlp(da, hidden, embed), _mlp(db, hidden, embed)
        self.offset = nn.Parameter(torch.tensor(float(offset)))

    def forward(self, a, b):
        return self.g(a) @ self.h(b).T + self.offset


def make_network(method: str, da: int, db: int, cfg: NeuralConfig) -> nn.Module:
    """The trainable part of a term: q(b|a) for CLUB, else the configured critic."""
    if method == "club":
        return GaussianConditional(da, db, cfg.hidden)
    # nwj's bound of a constant critic c is c - e^(c - 1): 0 at c = 1, -1/e at c = 0. Starting at 1 makes the
    # untrained critic score 0, as every other bound's does.
    offset = 1.0 if method == "nwj" else 0.0
    if cfg.critic == "concat":
        return PairCritic(da, db, cfg.hidden, offset)
    return SeparableCritic(da, db, cfg.hidden, cfg.embed, offset)


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


def training_loss(method, net, a, b):
    """The loss a neural bound's network minimises on the pairs (a_i, b_i): minus the bound (its value on the
    batch), or for ``club`` the negative log-likelihood of its variational q(b|a). Public so that the published
    benchmark's online protocol trains the same objective."""
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


#: the fewest training batches a network gets: with fewer, one epoch is a handful of steps and the first
#: evaluation comes after many passes over the same rows (bounds far below 0 on independent data)
TRAINING_BATCHES = 4


def held_out_rows(n: int, config: NeuralConfig) -> int:
    """Rows held out of training: the ``holdout`` share, and at least two batches for choosing the checkpoint and
    two for reading the bound."""
    return max(4 * config.batch_size, int(round(config.holdout * n)))


def minimum_rows(config: NeuralConfig) -> int:
    """The fewest rows a neural bound accepts: its held-out rows and TRAINING_BATCHES training batches."""
    n = (4 + TRAINING_BATCHES) * config.batch_size
    while n - held_out_rows(n, config) < TRAINING_BATCHES * config.batch_size:
        n += 1
    return n


def neural_mi(a: np.ndarray, b: np.ndarray, method: str, config: NeuralConfig | None = None):
    """(estimate, standard error) of I(A; B) from paired samples (n x da, n x db)."""
    cfg = config or NeuralConfig()
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    n = len(a)
    perm = rng.permutation(n)
    n_held = held_out_rows(n, cfg)
    if n < minimum_rows(cfg):
        raise ValueError(
            f"x has {n} rows: a neural bound needs n >= {minimum_rows(cfg)} (four held-out batches and "
            f"{TRAINING_BATCHES} training batches of {cfg.batch_size}); use more rows or a smaller "
            "NeuralConfig.batch_size"
        )
    to = lambda v: torch.as_tensor(v, dtype=torch.float32, device=cfg.device)
    # The held-out rows split in two: early stopping picks its checkpoint on the first half and the bound is
    # read on the second. Reading it on the rows that chose the checkpoint biases it up (CLUB scored 1.3 standard
    # errors above 0 on independent data that way).
    n_val = n_held // 2
    train_rows, val_rows, test_rows = perm[n_held:], perm[:n_val], perm[n_val:n_held]
    a_tr, b_tr, a_va, b_va = to(a[train_rows]), to(b[train_rows]), to(a[val_rows]), to(b[val_rows])
    a_te, b_te = to(a[test_rows]), to(b[test_rows])
    n_test = len(test_rows)
    da, db = a.shape[1], b.shape[1]
    net = make_network(method, da, db, cfg).to(cfg.device)
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)

    @torch.no_grad()
    def held_out_score():  # early stopping's objective: the held-out bound per batch, or q's likelihood for CLUB
        if method == "club":
            return np.array([-float(training_loss(method, net, a_va[:1024], b_va[:1024]))])
        return _held_out(method, net, a_va, b_va, cfg.batch_size, np.random.default_rng(0))

    def snapshot():
        return {k: v.clone() for k, v in net.state_dict().items()}

    untrained, untrained_state = held_out_score(), snapshot()
    best, best_batches, best_state, stale, step = -math.inf, untrained, untrained_state, 0, 0
    while step < cfg.steps and stale < cfg.patience:
        for idx in _batches(len(a_tr), cfg.batch_size, rng):
            loss = training_loss(method, net, a_tr[idx], b_tr[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            step += 1
            if step % cfg.eval_every == 0:
                batches = held_out_score()
                if batches.mean() > best + 1e-4:
                    best, best_batches, best_state, stale = float(batches.mean()), batches, snapshot(), 0
                else:
                    stale += 1
            if step >= cfg.steps or stale >= cfg.patience:
                break
    if method != "club" and not _clearly_better(best_batches, untrained):
        # On independent data every critic but a constant one has a bound below 0, so a trained critic that only
        # ties the untrained one on the validation rows reads below 0 on the test rows: keep the untrained one.
        best_state = untrained_state
    net.load_state_dict(best_state)
    # The held-out bound over several batchings of the held-out rows: the per-batch spread is then estimated
    # from many batches even where the held-out rows make only two, and the mean loses the one batching's luck.
    passes = [_held_out(method, net, a_te, b_te, cfg.batch_size, np.random.default_rng([1, r])) for r in range(8)]
    values = np.concatenate(passes)
    if not np.all(np.isfinite(values)):
        raise ValueError(
            f"the {method} critic diverged (a non-finite bound on held-out batches); "
            "lower NeuralConfig.lr or NeuralConfig.hidden"
        )
    batch_spread = float(values.std(ddof=1) / math.sqrt(len(passes[0])))
    # The spread over held-out batches is conditional on the trained network: a near-constant critic (what
    # training finds on independent data) scores every batch alike and the spread is nearly 0, while another
    # training run would give another small value. The variance any estimate of I(A; B) from the held-out rows
    # has at independence (docs/math.md#variance-at-independence) is added for that.
    null = wilks_null_variance(n_test, [range(da), range(da, da + db)])
    return float(values.mean()), math.sqrt(batch_spread**2 + null)


#: standard errors of the paired per-batch difference by which a trained critic must beat the untrained one on
#: the validation rows to be kept (as auto's models must beat simpler ones: noise must not buy a fit)
SELECTION_MARGIN = 2.0


def _clearly_better(trained: np.ndarray, untrained: np.ndarray) -> bool:
    """Whether the trained critic's validation bound beats the untrained one's by SELECTION_MARGIN paired standard
    errors (the same batches scored by both)."""
    diff = trained - untrained
    if len(diff) < 2:
        return bool(diff.mean() > 0)
    return bool(diff.mean() > SELECTION_MARGIN * diff.std(ddof=1) / math.sqrt(len(diff)))


def pairwise_chain(groups):
    """The exact chain rule for a multi-group term: [(G1, G2), (G1 u G2, G3), ...]."""
    out, acc = [], tuple(groups[0])
    for g in groups[1:]:
        out.append((acc, tuple(g)))
        acc = tuple(sorted(acc + tuple(g)))
    return out
