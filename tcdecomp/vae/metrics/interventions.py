"""disentanglement_lib's scores that intervene on the data (docs/math.md#the-metric-suite): batches of images
with one factor held fixed, drawn from the data set's factor grid. The FactorVAE score needs numpy only; the
beta-VAE score's classifier comes from scikit-learn (``pip install 'tcdecomp[metrics]'``)."""

from __future__ import annotations

import numpy as np

from ..._checks import check_positive_int
from .elbo import encode
from .results import InterventionScore
from .suite import _sklearn


def _codes(model, dataset, rows, device) -> np.ndarray:
    return encode(model, dataset, np.asarray(rows), device=device)[0].double().numpy()


def _check_counts(minimum: int = 1, **counts) -> None:
    for name, value in counts.items():
        check_positive_int(value, name, minimum=minimum)


def _varying_factors(dataset) -> list[int]:
    return [f for f, size in enumerate(dataset.factor_sizes) if size > 1]


def factor_vae_score(
    model,
    dataset,
    num_train: int = 10000,
    num_eval: int = 5000,
    batch_size: int = 64,
    num_variance_estimate: int = 10000,
    seed: int = 0,
    device="cpu",
) -> InterventionScore:
    """FactorVAE score (Kim & Mnih 2018, disentanglement_lib's version): per vote, a batch with one factor
    fixed; the code dim of least variance (codes divided by their global standard deviation; dims with
    global variance below 0.05 are inactive) votes for that factor; a majority-vote classifier from dims to
    factors is trained on ``num_train`` votes and scored on ``num_eval`` others."""
    _check_counts(num_train=num_train, num_eval=num_eval, num_variance_estimate=num_variance_estimate)
    _check_counts(minimum=2, batch_size=batch_size)
    rng = np.random.default_rng(seed)
    factors = _varying_factors(dataset)
    if not factors:
        raise ValueError("the data set has no factor with more than one class: the FactorVAE score is undefined")
    reference = _codes(model, dataset, rng.integers(0, len(dataset), num_variance_estimate), device)
    scale = np.std(reference, axis=0, ddof=1)
    active = scale**2 > 0.05
    if not active.any():
        return InterventionScore(train_accuracy=0.0, eval_accuracy=0.0, active_dims=0)

    def votes(n):
        out = np.zeros((len(scale), len(dataset.factor_sizes)), dtype=np.int64)
        for _ in range(n):
            k = factors[rng.integers(len(factors))]
            codes = _codes(model, dataset, dataset.sample_with_fixed_factor(k, batch_size, rng), device)
            variance = np.var(codes / scale, axis=0, ddof=1)
            out[np.argmin(np.where(active, variance, np.inf)), k] += 1
        return out

    train, held = votes(num_train), votes(num_eval)
    assign = np.argmax(train, axis=1)  # each dim's majority factor
    correct = lambda v: v[np.arange(len(assign)), assign].sum() / max(v.sum(), 1)  # noqa: E731
    return InterventionScore(
        train_accuracy=float(correct(train)), eval_accuracy=float(correct(held)), active_dims=int(active.sum())
    )


def beta_vae_score(
    model, dataset, num_train: int = 10000, num_eval: int = 5000, batch_size: int = 64, seed: int = 0, device="cpu"
) -> InterventionScore:
    """beta-VAE score (Higgins et al. 2017, disentanglement_lib's version): per point, pairs of examples that
    share one factor's class; the mean absolute code difference over the batch is the feature, the fixed factor
    the label; a logistic regression's accuracy on held-out points is the score."""
    _sklearn()
    from sklearn.linear_model import LogisticRegression

    _check_counts(num_train=num_train, num_eval=num_eval)
    _check_counts(minimum=2, batch_size=batch_size)
    rng = np.random.default_rng(seed)
    factors = _varying_factors(dataset)
    if len(factors) < 2:
        raise ValueError("the beta-VAE score needs at least two factors with more than one class")

    def points(n):
        features, labels = [], []
        for _ in range(n):
            k = factors[rng.integers(len(factors))]
            first = dataset.sample_classes(batch_size, rng)
            second = dataset.sample_classes(batch_size, rng)
            second[:, k] = first[:, k]
            a = _codes(model, dataset, dataset.index_of(first), device)
            b = _codes(model, dataset, dataset.index_of(second), device)
            features.append(np.mean(np.abs(a - b), axis=0))
            labels.append(k)
        return np.array(features), np.array(labels)

    x_train, y_train = points(num_train)
    x_eval, y_eval = points(num_eval)
    model_ = LogisticRegression(max_iter=1000, random_state=seed).fit(x_train, y_train)
    return InterventionScore(
        train_accuracy=float(model_.score(x_train, y_train)), eval_accuracy=float(model_.score(x_eval, y_eval))
    )
