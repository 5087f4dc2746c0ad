"""disentanglement_lib's metric suite: the formulas against independent float64 computations, and the
metrics on perfect, structured and random codes."""

import json
import math

import numpy as np
import pytest

pytest.importorskip("sklearn")

from tcdecomp.vae.metrics import (  # noqa: E402
    METRICS,
    beta_vae_score,
    dci,
    factor_vae_score,
    modularity_explicitness,
    sap,
)
from tcdecomp.vae.metrics.suite import dci_scores, modularity_from_mi, sap_from_scores, split_rows  # noqa: E402


def _dci_reference(R):
    # Eastwood & Williams (2018), eq. 1-2 and the weighted average, written out with loops.
    D, K = R.shape
    dis, weights = [], []
    for i in range(D):
        p = [R[i, j] / R[i].sum() for j in range(K)]
        dis.append(1 + sum(q * math.log(q, K) for q in p if q > 0))
        weights.append(R[i].sum() / R.sum())
    com = []
    for j in range(K):
        p = [R[i, j] / R[:, j].sum() for i in range(D)]
        com.append(1 + sum(q * math.log(q, D) for q in p if q > 0))
    return sum(w * d for w, d in zip(weights, dis)), sum(com) / K


@pytest.mark.parametrize("seed", range(5))
def test_dci_formulas_match_a_loop_reference(seed):
    R = np.random.default_rng(seed).random((6, 4)) ** 3
    assert dci_scores(R) == pytest.approx(_dci_reference(R), abs=1e-12)
    assert dci_scores(np.eye(4)) == pytest.approx((1.0, 1.0))
    assert dci_scores(np.ones((4, 4))) == pytest.approx((0.0, 0.0), abs=1e-12)


def test_sap_and_modularity_formulas():
    scores = np.array([[0.9, 0.2], [0.5, 0.8], [0.1, 0.75]])
    assert sap_from_scores(scores) == pytest.approx(((0.9 - 0.5) + (0.8 - 0.75)) / 2)
    mi = np.array([[1.0, 0.0, 0.0], [0.2, 0.4, 0.0]])
    # code 0 is perfectly modular; code 1: theta 0.4, deviation (0.2^2) / (0.4^2 * 2) = 0.125
    assert modularity_from_mi(mi) == pytest.approx((1.0 + (1 - 0.125)) / 2)


def _codes(kind, n=1200, seed=0):
    rng = np.random.default_rng(seed)
    factors = rng.integers(0, 4, (n, 3))
    if kind == "perfect":
        codes = factors + 0.05 * rng.standard_normal((n, 3))
    elif kind == "structured":  # code 3 mixes factors 0 and 1; code 2 is noise
        codes = np.c_[factors[:, 0], factors[:, 1], rng.standard_normal(n), factors[:, 0] + factors[:, 1]]
        codes = codes + 0.05 * rng.standard_normal(codes.shape)
    else:
        codes = rng.standard_normal((n, 3))
    return codes, factors


def test_perfect_codes_score_high_and_random_codes_low():
    perfect, random_ = dci(*_codes("perfect")), dci(*_codes("random"))
    assert perfect.disentanglement > 0.9 and perfect.completeness > 0.9
    assert perfect.informativeness_test > 0.95 and random_.informativeness_test < 0.4
    # A single-code linear SVM separates 4 ordered classes only in part: about 0.5 gap on perfect codes.
    assert sap(*_codes("perfect")).sap > 0.4 and sap(*_codes("random")).sap < 0.1
    me_perfect, me_random = modularity_explicitness(*_codes("perfect")), modularity_explicitness(*_codes("random"))
    assert me_perfect.modularity > 0.95 and me_perfect.explicitness_test > 0.95
    assert me_random.explicitness_test < 0.6


def test_structured_codes_are_less_disentangled_than_perfect_ones():
    structured = dci(*_codes("structured"))
    assert structured.disentanglement < dci(*_codes("perfect")).disentanglement
    importance = np.asarray(structured.importance)
    assert importance[2, :2].sum() < 0.05  # the noise code matters to neither encoded factor
    assert sap(*_codes("structured")).sap < sap(*_codes("perfect")).sap
    assert modularity_explicitness(*_codes("structured")).modularity < 0.9


def test_test_rows_are_used_when_given_and_split_is_seeded():
    codes, factors = _codes("perfect", n=100)
    a = split_rows(codes, factors, seed=3)
    b = split_rows(codes, factors, seed=3)
    assert all(np.array_equal(x, y) for x, y in zip(a, b)) and len(a[2]) == 20
    given = split_rows(codes[:80], factors[:80], codes[80:], factors[80:])
    assert np.array_equal(given[2], codes[80:])
    with pytest.raises(ValueError, match="codes_test"):
        split_rows(codes, factors, codes_test=codes)
    with pytest.raises(ValueError, match="integer factor classes"):
        dci(codes, factors.astype(float))


def test_evaluate_reports_the_suite_with_its_time(tmp_path, monkeypatch):
    from tcdecomp.vae.evaluate import evaluate, format_report
    from tcdecomp.vae.metrics import registry
    from tcdecomp.vae.train import train

    from ..runs import tiny_config

    run = train(tiny_config(tmp_path / "run"), progress=False)
    monkeypatch.setattr(registry, "SCORE_TRAIN", 30)  # small: the scores' own tests check their values
    monkeypatch.setattr(registry, "SCORE_EVAL", 20)
    result = evaluate(run, None, num_samples=100, mig_points=300, suite=tuple(METRICS))
    assert set(result.metrics) == set(result.timings) == set(METRICS)
    assert 0 <= result.metrics["dci"].disentanglement <= 1 and 0 <= result.metrics["sap"].sap <= 1
    assert 0 <= result.metrics["factorvae"].eval_accuracy <= 1 and 0 <= result.metrics["betavae"].eval_accuracy <= 1
    stored = json.loads(json.dumps(result.to_dict()))  # evaluation.json: each metric under its name, as before
    assert {"disentanglement", "completeness", "informativeness_test", "importance"} <= set(stored["dci"])
    assert set(stored["factorvae"]) == {"train_accuracy", "eval_accuracy", "active_dims"}
    assert set(stored["betavae"]) == {"train_accuracy", "eval_accuracy"}
    report = format_report(result)
    for metric in METRICS.values():  # every metric's label, from the registry, with its scores
        assert f"{metric.label}: " in report
    assert f"SAP: sap {result.metrics['sap'].sap:.3f}" in report
    with pytest.raises(ValueError, match="metrics"):
        evaluate(run, None, num_samples=100, suite=("irs",))


class _CodeModel:
    """An 'encoder' whose means are the image's pixels (here: its factor classes) plus noise, or pure noise."""

    def __init__(self, informative: bool, seed: int = 0):
        import torch

        self.informative, self.g = informative, torch.Generator().manual_seed(seed)

    def eval(self):
        return self

    def encode(self, x):
        import torch

        flat = x.flatten(1).double()
        noise = 0.05 * torch.randn(flat.shape, generator=self.g, dtype=torch.float64)
        mu = flat + noise if self.informative else torch.randn(flat.shape, generator=self.g, dtype=torch.float64)
        return mu, torch.zeros_like(mu)


def _grid_dataset(sizes=(3, 4, 5)):
    from tcdecomp.vae.data import ArrayFactorDataset

    classes = np.stack(np.unravel_index(np.arange(int(np.prod(sizes))), sizes), axis=1).astype(np.float32)
    return ArrayFactorDataset(classes[:, None, None, :], ("a", "b", "c"), sizes, likelihood="gaussian")


@pytest.mark.parametrize("score_name", ["factor_vae_score", "beta_vae_score"])
def test_intervention_scores_on_perfect_and_random_codes(score_name):
    from tcdecomp.vae import metrics as suite

    score = getattr(suite, score_name)
    data = _grid_dataset()
    kw = dict(num_train=300, num_eval=200, batch_size=16, seed=1)
    if score_name == "factor_vae_score":
        kw["num_variance_estimate"] = 500
    perfect = score(_CodeModel(True), data, **kw)
    noise = score(_CodeModel(False), data, **kw)
    assert perfect.eval_accuracy > 0.95
    assert noise.eval_accuracy < 0.6  # chance is 1/3


def test_fixed_factor_batches_share_that_factor():
    from tcdecomp.vae.data import ProceduralDSprites

    data = ProceduralDSprites({"orientation": range(0, 40, 10), "posX": range(0, 32, 4), "posY": range(0, 32, 4)})
    rows = data.sample_with_fixed_factor(2, 32, np.random.default_rng(0))
    classes = data.classes(rows)
    assert np.all(rows >= 0) and len(set(classes[:, 2])) == 1 and len(set(map(tuple, classes))) > 1


@pytest.mark.parametrize(
    "call,name",
    [
        (lambda: dci_scores([[1.0, float("nan")]]), "importance"),
        (lambda: sap_from_scores([]), "scores"),
        (lambda: modularity_from_mi(np.ones(3)), "mi"),
        (
            lambda: factor_vae_score(_CodeModel(True), _grid_dataset(), num_train=0),
            "num_train",
        ),
        (
            lambda: beta_vae_score(_CodeModel(True), _grid_dataset(), batch_size=1),
            "batch_size",
        ),
        (lambda: _grid_dataset().sample_with_fixed_factor(3, 8, np.random.default_rng(0)), "factor"),
    ],
)
def test_suite_arguments_are_checked(call, name):
    with pytest.raises(ValueError, match=name):
        call()
