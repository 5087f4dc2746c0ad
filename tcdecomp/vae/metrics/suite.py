"""disentanglement_lib's metrics on codes and factor classes (docs/math.md#the-metric-suite):
DCI, SAP, and modularity with explicitness (the scores that intervene on the data are in
:mod:`tcdecomp.vae.metrics.interventions`).

Each metric trains its predictors on one set of rows and scores them on another, as the reference does:
pass ``codes_test`` and ``factors_test``, or the rows are split with a seeded permutation
(:func:`split_rows`: 80% train, 20% test). The predictors come from scikit-learn, the optional
``metrics`` extra (``pip install 'tcdecomp[metrics]'``), as in the reference:

* DCI (Eastwood & Williams 2018): per factor a gradient-boosted tree classifier on all codes; its
  feature importances form the codes x factors matrix R.
* SAP (Kumar et al. 2018): per (code, factor) a linear SVM on that code alone; the score matrix holds
  their test accuracies.
* Modularity and explicitness (Ridgeway & Mozer 2018): the discrete MI of 20-bin codes with the factors;
  per factor a one-vs-rest logistic regression on all codes, scored by ROC AUC.

Degenerate inputs have a defined value or a one-line error, never NaN and never a perfect score for nothing:
a collapsed encoder (codes that carry nothing) scores 0 disentanglement, completeness, SAP and modularity and
chance (0.5) explicitness; a factor that no code predicts adds 0 completeness; constant factors are left out,
and rows where none varies, fewer than MIN_ROWS rows to split, test classes the training rows never show, or
modularity with a single varying factor are refused.
"""

from __future__ import annotations

import numpy as np

from ..._checks import check_seed
from .mig import _bin_latent, _discrete_mi
from .results import DCIResult, ModularityResult, SAPResult

#: the fraction of rows held out when no test rows are given
TEST_FRACTION = 0.2


def _sklearn():
    try:
        import sklearn  # noqa: F401
    except ImportError:
        raise ImportError("the DCI/SAP/modularity metrics need scikit-learn: pip install 'tcdecomp[metrics]'") from None


def _check(codes, factors, name_codes: str, name_factors: str):
    codes = np.asarray(codes, dtype=np.float64)
    factors = np.asarray(factors)
    if codes.ndim != 2 or factors.ndim != 2 or len(codes) != len(factors) or len(codes) < 2:
        raise ValueError(
            f"{name_codes} (N x D) and {name_factors} (N x F) need the same N >= 2 rows, got "
            f"shapes {codes.shape} and {factors.shape}"
        )
    if not np.all(np.isfinite(codes)):
        raise ValueError(f"{name_codes} holds NaN or inf")
    if factors.dtype.kind not in "iu":
        raise ValueError(f"{name_factors} must hold integer factor classes, got dtype {factors.dtype}")
    return codes, factors


def split_rows(codes, factors, codes_test=None, factors_test=None, seed: int = 0):
    """(train codes, train factors, test codes, test factors): the given test rows, or a seeded 80/20 split."""
    codes, factors = _check(codes, factors, "codes", "factors")
    seed = check_seed(seed, "seed")
    if (codes_test is None) != (factors_test is None):
        raise ValueError("pass both codes_test and factors_test, or neither")
    if codes_test is not None:
        codes_test, factors_test = _check(codes_test, factors_test, "codes_test", "factors_test")
        if codes_test.shape[1] != codes.shape[1] or factors_test.shape[1] != factors.shape[1]:
            raise ValueError("codes_test and factors_test must have the columns of codes and factors")
        return codes, factors, codes_test, factors_test
    if len(codes) < MIN_ROWS:
        raise ValueError(
            f"codes has {len(codes)} rows: too few to train predictors on {1 - TEST_FRACTION:.0%} and score them on "
            f"the rest; pass at least {MIN_ROWS} (or codes_test and factors_test)"
        )
    order = np.random.default_rng(seed).permutation(len(codes))
    n_test = max(1, int(round(TEST_FRACTION * len(codes))))
    test, train = order[:n_test], order[n_test:]
    return codes[train], factors[train], codes[test], factors[test]


#: the fewest rows a metric splits itself (8 to train on, 2 to score)
MIN_ROWS = 10


def varying_factors(factors: np.ndarray, name: str = "factors") -> list[int]:
    """The factors that take at least two classes in the training rows; none is refused (nothing to predict)."""
    kept = [j for j in range(factors.shape[1]) if len(np.unique(factors[:, j])) > 1]
    if not kept:
        raise ValueError(
            f"{name}: no factor takes two classes in the training rows, so there is nothing to predict; "
            "pass rows where the factors vary"
        )
    return kept


def check_test_classes(f_tr: np.ndarray, f_te: np.ndarray, kept: list[int]) -> None:
    """Refuse test rows whose classes the training rows never show: no classifier can predict them."""
    for j in kept:
        unseen = np.setdiff1d(np.unique(f_te[:, j]), np.unique(f_tr[:, j]))
        if len(unseen):
            raise ValueError(
                f"factors_test holds class {unseen[0]} of factor {j}, which the training rows never show; split the "
                "rows so that training covers every class"
            )


def _prepared(codes, factors, codes_test, factors_test, seed):
    """The split rows and the varying factors, every degenerate case refused or defined (module docstring)."""
    c_tr, f_tr, c_te, f_te = split_rows(codes, factors, codes_test, factors_test, seed)
    kept = varying_factors(f_tr)
    check_test_classes(f_tr, f_te, kept)
    return c_tr, f_tr, c_te, f_te, kept


# -- the formulas (independent of how R, the SAP scores or the MI matrix were obtained) -------------------
def _entropy(p: np.ndarray, base: int, axis: int) -> np.ndarray:
    p = np.clip(p, 1e-300, None)
    return -(p * np.log(p)).sum(axis=axis) / np.log(base)


def _score_matrix(value, name: str) -> np.ndarray:
    m = np.asarray(value, dtype=np.float64)
    if m.ndim != 2 or m.size == 0 or not np.all(np.isfinite(m)):
        raise ValueError(f"{name} must be a finite, non-empty codes x factors matrix, got shape {m.shape}")
    return m


def dci_scores(importance: np.ndarray) -> tuple[float, float]:
    """(disentanglement, completeness) from a codes x factors importance matrix R (Eastwood & Williams 2018):
    D = sum_i rho_i (1 - H_K(P_i.)), rho_i = R_i. / R.., C = mean_j (1 - H_D(P_.j))."""
    R = np.abs(_score_matrix(importance, "importance"))
    D, K = R.shape
    if R.sum() == 0:  # no code carries anything about any factor: nothing is disentangled or captured
        return 0.0, 0.0
    rows = R.sum(1)
    p_rows = R / np.where(rows > 0, rows, 1.0)[:, None]
    per_code = 1.0 - (_entropy(p_rows, K, 1) if K > 1 else np.zeros(D))
    weights = rows / rows.sum()
    cols = R.sum(0)
    p_cols = R / np.where(cols > 0, cols, 1.0)[None, :]
    per_factor = 1.0 - (_entropy(p_cols, D, 0) if D > 1 else np.zeros(K))
    per_factor = np.where(cols > 0, per_factor, 0.0)  # a factor no code predicts is not captured at all
    return float((weights * per_code).sum()), float(per_factor.mean())


def sap_from_scores(scores: np.ndarray) -> float:
    """The mean over factors of the gap between the two best codes' scores (codes x factors)."""
    top = np.sort(_score_matrix(scores, "scores"), axis=0)[::-1]
    return float(np.mean(top[0] - top[1])) if top.shape[0] > 1 else float(np.mean(top[0]))


def modularity_from_mi(mi: np.ndarray) -> float:
    """Ridgeway & Mozer (2018): per code, 1 - sum_j (m_ij - t_ij)^2 / (theta_i^2 (K - 1)) with theta_i its largest
    MI and t_i keeping only that entry; averaged over codes that carry any information."""
    m = _score_matrix(mi, "mi")
    K = m.shape[1]
    if K < 2:
        raise ValueError("modularity needs at least two factors that vary: with one, every code is trivially modular")
    theta = m.max(axis=1)
    template = np.where(m == theta[:, None], theta[:, None], 0.0)
    informative = theta > 0
    if not informative.any():  # a collapsed code: no code is about any factor, so none is modular
        return 0.0
    deviation = ((m - template) ** 2).sum(1)[informative] / (theta[informative] ** 2 * (K - 1))
    return float(np.mean(1.0 - deviation))


# -- the metrics -----------------------------------------------------------------------------------------
def dci(codes, factors, codes_test=None, factors_test=None, seed: int = 0) -> DCIResult:
    """Disentanglement, completeness and informativeness (train and test accuracy) of ``codes`` (N x D)."""
    _sklearn()
    from sklearn.ensemble import GradientBoostingClassifier

    c_tr, f_tr, c_te, f_te, kept = _prepared(codes, factors, codes_test, factors_test, seed)
    importance = np.zeros((c_tr.shape[1], f_tr.shape[1]))
    train_acc, test_acc = [], []
    for j in kept:  # a constant factor has nothing to predict
        model = GradientBoostingClassifier(random_state=seed).fit(c_tr, f_tr[:, j])
        importance[:, j] = np.abs(model.feature_importances_)
        train_acc.append(model.score(c_tr, f_tr[:, j]))
        test_acc.append(model.score(c_te, f_te[:, j]))
    disentanglement, completeness = dci_scores(importance[:, kept])
    return DCIResult(
        disentanglement=disentanglement,
        completeness=completeness,
        informativeness_train=float(np.mean(train_acc)),
        informativeness_test=float(np.mean(test_acc)),
        importance=importance.tolist(),
    )


def sap(codes, factors, codes_test=None, factors_test=None, seed: int = 0) -> SAPResult:
    """SAP: per factor, the gap between the two codes whose single-code linear SVMs predict it best."""
    _sklearn()
    from sklearn.svm import LinearSVC

    c_tr, f_tr, c_te, f_te, kept = _prepared(codes, factors, codes_test, factors_test, seed)
    scores = np.zeros((c_tr.shape[1], len(kept)))
    for i in range(c_tr.shape[1]):
        for col, j in enumerate(kept):
            model = LinearSVC(C=0.01, class_weight="balanced", random_state=seed).fit(c_tr[:, [i]], f_tr[:, j])
            scores[i, col] = model.score(c_te[:, [i]], f_te[:, j])
    return SAPResult(sap=sap_from_scores(scores), scores=scores.tolist(), factors=kept)


def modularity_explicitness(
    codes, factors, codes_test=None, factors_test=None, seed: int = 0, bins: int = 20
) -> ModularityResult:
    """Modularity (from the discrete MI of binned codes) and explicitness (mean one-vs-rest ROC AUC)."""
    _sklearn()
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score

    c_tr, f_tr, c_te, f_te, kept = _prepared(codes, factors, codes_test, factors_test, seed)
    eps = float(np.finfo(np.float64).eps)
    binned = np.stack([_bin_latent(col, bins, eps) for col in c_tr.T], axis=1)
    mi = np.array([[_discrete_mi(binned[:, i], f_tr[:, j]) for j in kept] for i in range(c_tr.shape[1])])
    train_auc, test_auc = [], []
    for j in kept:
        classes = np.unique(f_tr[:, j])
        model = LogisticRegression(max_iter=1000).fit(c_tr, f_tr[:, j])
        train_auc.append(_mean_auc(model, c_tr, f_tr[:, j], classes, roc_auc_score))
        test_auc.append(_mean_auc(model, c_te, f_te[:, j], classes, roc_auc_score))
    return ModularityResult(
        modularity=modularity_from_mi(mi),
        explicitness_train=_mean_defined(train_auc, "the training rows"),
        explicitness_test=_mean_defined(test_auc, "the test rows"),
        mi=mi.tolist(),
        factors=kept,
    )


def _mean_defined(aucs: list, where: str) -> float:
    """The mean AUC over the factors where one is defined; refused where none is (every factor takes a single
    class in ``where``: a ranking of one class means nothing)."""
    defined = [a for a in aucs if np.isfinite(a)]
    if not defined:
        raise ValueError(f"no factor takes two classes in {where}, so explicitness is undefined there; pass more rows")
    return float(np.mean(defined))


def _mean_auc(model, rows, labels, classes, roc_auc_score) -> float:
    """The mean one-vs-rest ROC AUC over the classes that occur (and not everywhere) in ``labels``."""
    prob = model.predict_proba(rows)
    aucs = [
        roc_auc_score(labels == c, prob[:, k])
        for k, c in enumerate(classes)
        if (labels == c).any() and not (labels == c).all()
    ]
    return float(np.mean(aucs)) if aucs else float("nan")
