"""Samples(..., interval="bootstrap"): percentile intervals from refits on resampled rows, standard errors that
agree with the analytic ones where the model is fixed, point estimates unchanged, bad arguments."""

import pickle

import numpy as np
import pytest

from tcdecomp import Samples
from tcdecomp.decomposition import Estimate

COV = np.array([[1.0, 0.6, 0.3], [0.6, 1.0, 0.2], [0.3, 0.2, 1.0]])


def gaussian_rows(n, seed):
    return np.random.default_rng(seed).multivariate_normal(np.zeros(3), COV, size=n)


def test_bootstrap_error_matches_the_analytic_one_for_a_fixed_model():
    x = gaussian_rows(1000, 0)
    plain = Samples(x, method="gaussian").total_correlation()
    boot = Samples(x, method="gaussian", interval="bootstrap", resamples=200).total_correlation()
    assert float(boot) == float(plain)  # the point estimate is the method's on all the rows
    assert boot.stderr == pytest.approx(plain.stderr, rel=0.2)
    low, high = boot.interval
    assert low < float(boot) < high
    assert high - low == pytest.approx(2 * 1.96 * plain.stderr, rel=0.25)


def test_bootstrap_terms_telescope_and_reach_every_output():
    x = gaussian_rows(400, 1)
    plain = Samples(x, method="copula").decompose("line")
    boot = Samples(x, method="copula", interval="bootstrap", resamples=50, confidence=0.9).decompose("line")
    assert [float(v) for _, v in boot.terms] == [float(v) for _, v in plain.terms]
    assert (
        len(boot.intervals) == len(boot.terms) and boot.total_interval[0] < float(boot.total) < boot.total_interval[1]
    )
    record = boot.to_dict()
    assert record["total_interval"] == list(boot.total_interval)
    assert all(len(t["interval"]) == 2 for t in record["terms"])
    assert "interval" in boot.table() and "interval" not in plain.table()
    mi = Samples(x, method="copula", interval="bootstrap", resamples=50).multi_information([[0], [1, 2]])
    assert mi.interval is not None
    assert pickle.loads(pickle.dumps(mi)).interval == mi.interval
    low, high = mi.interval
    assert str(mi) == f"{float(mi):.4f} ± {mi.stderr:.4f} (interval {low:.4f} to {high:.4f})"
    assert Estimate(1.0, 0.1).interval is None


def test_bootstrap_carries_the_noise_of_a_chosen_model():
    # gmm chooses K on held-out rows: refitting on resamples adds that choice's noise, so the bootstrap's error is
    # not smaller than the analytic one, which holds K fixed
    from . import test_mixture

    x = test_mixture.sample(600, 2)
    plain = Samples(x, method="gmm").total_correlation()
    boot = Samples(x, method="gmm", interval="bootstrap", resamples=50).total_correlation()
    assert boot.stderr > 0.8 * plain.stderr


def test_independence_test_does_not_bootstrap_each_permutation():
    x = gaussian_rows(200, 3)
    test = Samples(x, method="gaussian", interval="bootstrap", resamples=50).independence_test(permutations=19)
    assert test.p_value == Samples(x, method="gaussian").independence_test(permutations=19).p_value


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"interval": "jackknife"}, "interval"),
        ({"interval": "bootstrap", "resamples": 10}, "at least 50"),
        ({"interval": "bootstrap", "resamples": 0}, "resamples"),
        ({"interval": "bootstrap", "resamples": 10**9}, "use at most 100000"),
        ({"resamples": 100}, "resamples applies to interval='bootstrap' only"),
        ({"confidence": 0.9}, "confidence applies to interval='bootstrap' only"),
        ({"interval": "bootstrap", "confidence": 1.5}, "strictly between 0 and 1"),
        ({"interval": "bootstrap", "confidence": True}, "strictly between 0 and 1"),
        ({"interval": "bootstrap", "method": "knn"}, "use interval='stderr'"),
    ],
)
def test_bad_interval_arguments_are_one_line_errors(kwargs, message):
    kwargs = {"method": "gaussian", **kwargs}
    with pytest.raises(ValueError, match=message) as info:
        Samples(gaussian_rows(200, 4), **kwargs)
    assert "\n" not in str(info.value)


def test_bootstrap_through_the_command_line(tmp_path, capsys):
    import json

    from tcdecomp.cli import main

    np.savez(tmp_path / "x.npz", x=gaussian_rows(300, 5))
    args = ["estimate", str(tmp_path / "x.npz"), "--method", "copula", "--interval", "bootstrap", "--resamples", "50"]
    assert main([*args, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    low, high = out["decomposition"]["total_interval"]
    assert low < out["decomposition"]["total"] < high
    assert main(["estimate", str(tmp_path / "x.npz"), "--resamples", "50"]) == 2
    assert "--resamples applies to --interval bootstrap only" in capsys.readouterr().err


def test_resample_indices_are_drawn_in_bounded_batches(monkeypatch):
    # scipy draws resamples x n row indices at once unless batched: 4 GB at n = 5000, B = 1e5. Batches of a few
    # resamples give the same interval as one batch (the same generator, drawn in order).
    x = gaussian_rows(300, 6)
    whole = Samples(x, method="gaussian", interval="bootstrap", resamples=60).total_correlation()
    monkeypatch.setattr("tcdecomp.bootstrap.INDEX_BATCH", 7 * 300)  # 7 resamples a batch
    import scipy.stats

    batches, bootstrap = [], scipy.stats.bootstrap
    monkeypatch.setattr(scipy.stats, "bootstrap", lambda *a, **kw: batches.append(kw["batch"]) or bootstrap(*a, **kw))
    batched = Samples(x, method="gaussian", interval="bootstrap", resamples=60).total_correlation()
    assert batches == [7]
    assert batched.interval == whole.interval and batched.stderr == whole.stderr
