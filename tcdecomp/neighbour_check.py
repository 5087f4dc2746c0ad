"""``auto``'s nearest-neighbour check of its density models (docs/math.md#the-nearest-neighbour-check).

Held-out likelihood can only rank the density models against each other; two nearest-neighbour statistics of
the normal scores say when all of them are wrong:

* the Kozachenko-Leonenko log density of each held-out row from its k-th nearest fitting row (Kozachenko &
  Leonenko 1987; the form of Kraskov et al. 2004, eq. 20) estimates the rows' mean log density without a
  model. Where it beats the best model's held-out log density by more than MISSING_NATS per row, even at
  ``margin`` standard errors of the paired difference below its mean, the models miss structure worth about
  that much TC.
* the TWO-NN intrinsic dimension (Facco et al. 2017, Sci. Rep. 7:12140), d = n / sum_i log(r2_i / r1_i), against
  the same estimate on a sample of the fitted Gaussian mixture where it is the best model, else of a Gaussian
  with the data's correlation (TWO-NN is biased low in many dims, so the reference calibrates it). Rows that
  lie near a lower-dimensional set have no finite density: every density model's entropies then run off with
  its capacity.

Both are hand-written: each is a few lines over ``cKDTree``, and the field's packages that hold them
(scikit-dimension, NPEET) would be a dependency for one formula each.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree
from scipy.special import digamma, gammaln

from .mixture import GaussianMixture

#: nats per row by which the nearest-neighbour log density must beat every model: its own bias on smooth
#: full-dimensional data reaches +0.06 (k = 3, D = 4 to 6, 3500 fitting rows, Gaussian data where the copula is
#: exact: docs/math.md#the-nearest-neighbour-check), so about twice that
MISSING_NATS = 0.1
#: the share of the Gaussian reference's intrinsic dimension below which the rows lie near a lower-dimensional
#: set (BMI's smooth tasks: 0.94 to 1.09; its Swiss roll: 0.70 to 0.72)
DIMENSION_RATIO = 0.85
#: the most rows either statistic uses (a random subset beyond): neighbour searches in many dims are O(n^2 D)
MAX_ROWS = 5000


def kozachenko_leonenko(fit: np.ndarray, held: np.ndarray, k: int) -> np.ndarray:
    """Each held-out row's log density from its Euclidean distance to its k-th nearest fitting row:
    psi(k) - psi(m) - log V_D - D log eps_k, V_D the volume of the unit ball in D dims."""
    m, d = fit.shape
    dist, _ = cKDTree(fit).query(held, k=k, workers=-1)
    eps = dist[:, -1] if k > 1 else dist
    log_ball = 0.5 * d * math.log(math.pi) - gammaln(0.5 * d + 1.0)
    return digamma(k) - digamma(m) - log_ball - d * np.log(np.maximum(eps, np.finfo(float).tiny))


def two_nn_dimension(z: np.ndarray) -> tuple[float, float]:
    """The TWO-NN maximum-likelihood intrinsic dimension of the rows and its standard error (d / sqrt(n))."""
    dist, _ = cKDTree(z).query(z, k=3, workers=-1)
    ratio = dist[:, 2] / np.maximum(dist[:, 1], np.finfo(float).tiny)
    dimension = len(z) / float(np.sum(np.log(np.maximum(ratio, 1.0 + 1e-12))))
    return dimension, dimension / math.sqrt(len(z))


def compare_dimensions(rows: np.ndarray, reference_rows: np.ndarray, margin: float) -> tuple[float, float, bool]:
    """The TWO-NN dimensions of ``rows`` and of ``reference_rows`` (a draw of a full-dimensional model of them),
    and whether the rows lie near a lower-dimensional set: below DIMENSION_RATIO of the reference, by more than
    ``margin`` standard errors of the difference."""
    dimension, dimension_se = two_nn_dimension(rows)
    reference, reference_se = two_nn_dimension(reference_rows)
    lower = reference - dimension > margin * math.hypot(dimension_se, reference_se)
    return dimension, reference, bool(dimension < DIMENSION_RATIO * reference and lower)


@dataclass(frozen=True)
class NeighbourCheck:
    """What the two statistics said: the nearest-neighbour log density's gain over the best model (nats per
    row) and its standard error, the rows' intrinsic dimension and the Gaussian reference's, and the verdict
    (``"missed"``, ``"singular"`` or None)."""

    best_model: str
    gain: float
    gain_se: float
    dimension: float
    reference_dimension: float
    verdict: str | None

    def reason(self) -> str:
        if self.verdict == "singular":
            return (
                f"the rows lie near a lower-dimensional set (TWO-NN intrinsic dimension {self.dimension:.2f}, where "
                f"a Gaussian sample with their correlation has {self.reference_dimension:.2f}): their density is "
                "unbounded, so every density model's entropies grow with its capacity, and TC between columns may "
                "be infinite; knn's mutual information between groups stays finite"
            )
        return (
            f"a nearest-neighbour (Kozachenko-Leonenko) log density beats the best density model ({self.best_model}) "
            f"by {self.gain:.3f} ± {self.gain_se:.3f} nats per held-out row: the models miss that much of the "
            "joint's structure"
        )

    def summary(self) -> str:
        if math.isnan(self.gain):
            return "nearest-neighbour check: not run on a single column"
        return (
            f"nearest-neighbour check: log density {self.gain:+.3f} ± {self.gain_se:.3f} nats per row against "
            f"{self.best_model}; intrinsic dimension {self.dimension:.2f} (Gaussian reference "
            f"{self.reference_dimension:.2f})"
        )


def model_parameters(name: str, d: int, components: int | None) -> int:
    """Free parameters of a candidate model of d normal-score columns (the flow's are not counted: early
    stopping, not their number, limits what it fits)."""
    correlations = d * (d - 1) // 2
    if name == "copula":
        return correlations
    if name == "t_copula":
        return correlations + 1
    if name == "gmm":
        return components * (d + d * (d + 1) // 2) + components - 1
    return 0


def check_density_models(
    scores, fit, held, per_row: dict, mixture: GaussianMixture | None, k: int, margin: float, rng
) -> NeighbourCheck:
    """The nearest-neighbour check of the models whose log densities of the held-out rows ``held`` are
    ``per_row`` (normal scores ``scores``, the models fitted on the rows ``fit``; ``mixture``: the ``gmm``
    candidate). A model's held-out log density falls short of its best parameters' by about p / (2 m)
    per row (p parameters fitted on m rows: Akaike's optimism); that is added back, so that the comparison
    measures what the model family misses, not what few rows cost it."""
    d = scores.shape[1]
    components = None if mixture is None else len(mixture.weights)
    if d < 2:  # one column's normal scores are a fixed grid of quantiles: no density to check, and TC is 0
        return NeighbourCheck(max(per_row, key=lambda name: per_row[name].mean()), *[math.nan] * 4, None)
    optimism = {name: model_parameters(name, d, components) / (2.0 * len(fit)) for name in per_row}
    best = max(per_row, key=lambda name: per_row[name].mean() + optimism[name])
    fit = at_most(np.arange(len(fit)), MAX_ROWS * 7 // 10, rng, fit)
    kept = at_most(np.arange(len(held)), MAX_ROWS * 3 // 10, rng)
    difference = kozachenko_leonenko(scores[fit], scores[held[kept]], k) - per_row[best][kept] - optimism[best]
    gain, gain_se = float(difference.mean()), float(difference.std(ddof=1) / math.sqrt(len(difference)))
    every = np.concatenate([fit, held[kept]])
    reference_rows = _reference_sample(scores[fit], best, mixture, len(every), rng)
    dimension, reference, singular = compare_dimensions(scores[every], reference_rows, margin)
    verdict = None
    if singular:
        verdict = "singular"
    elif gain - margin * gain_se > MISSING_NATS:
        verdict = "missed"
    return NeighbourCheck(best, gain, gain_se, dimension, reference, verdict)


def _reference_sample(fitting_rows, best: str, mixture: GaussianMixture | None, n: int, rng) -> np.ndarray:
    """Rows of full dimension for the TWO-NN reference: a draw of the Gaussian mixture where it is the best model
    (a mixture of elongated components reads lower-dimensional at few rows than a Gaussian of its correlation:
    the ±0.9 correlation mixture in 10 dims, 7.3 against 10.2 at n = 500, 1.02 times its own mixture's draw), else
    a Gaussian with the fitting rows' correlation."""
    if best == "gmm" and mixture is not None:
        return mixture.sample(n, rng)
    d = fitting_rows.shape[1]
    corr = np.corrcoef(fitting_rows, rowvar=False).reshape(d, d)
    return rng.multivariate_normal(np.zeros(d), corr, size=n)


def at_most(positions: np.ndarray, size: int, rng, rows: np.ndarray | None = None) -> np.ndarray:
    """At most ``size`` of ``positions`` at random (all of them where they are fewer), as ``rows[positions]``
    where ``rows`` is given."""
    if len(positions) > size:
        positions = np.sort(rng.choice(positions, size, replace=False))
    return positions if rows is None else rows[positions]
