import json

import numpy as np
import pytest
import torch

from tcdecomp import Gaussian, Posterior
from tcdecomp.cli import main
from tcdecomp.validation.families import example_covariance


def test_example_prints_analytic_and_estimated_decomposition(capsys):
    assert main(["estimate", "--example"]) == 0
    out = capsys.readouterr().out
    analytic = float(Gaussian(example_covariance()).total_correlation())
    assert f"analytic TC: {analytic:.4f}" in out
    assert any(line.startswith("term") and line.rstrip().endswith("analytic") for line in out.splitlines())
    assert "total" in out and "I(z0; z1)" in out


def test_example_json_grouped(capsys):
    assert main(["estimate", "--example", "--path", "grouped", "--group-size", "2", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["decomposition"]["path"] == "grouped"
    assert data["decomposition"]["total"] == pytest.approx(data["total_correlation"], rel=1e-9)
    assert data["analytic"]["total"] == pytest.approx(float(Gaussian(example_covariance()).total_correlation()))


def test_samples_file_npz_and_npy(tmp_path, capsys):
    x = np.random.default_rng(0).multivariate_normal(np.zeros(3), [[1, 0.5, 0], [0.5, 1, 0.2], [0, 0.2, 1]], 500)
    np.savez(tmp_path / "s.npz", x=x)
    np.save(tmp_path / "s.npy", x)
    assert main(["estimate", str(tmp_path / "s.npz"), "--path", "line", "--json"]) == 0
    a = json.loads(capsys.readouterr().out)
    assert main(["estimate", str(tmp_path / "s.npy"), "--path", "line", "--json"]) == 0
    b = json.loads(capsys.readouterr().out)
    assert a["total_correlation"] == b["total_correlation"]
    assert main(["estimate", str(tmp_path / "s.npz"), "--method", "knn"]) == 0
    assert "knn" in capsys.readouterr().out


def test_posterior_file_pt_exact_and_minibatch(tmp_path, capsys):
    g = torch.Generator().manual_seed(0)
    mu, logvar = torch.randn(64, 4, generator=g), torch.full((64, 4), -1.0)
    z = mu + 0.6 * torch.randn(64, 4, generator=g)
    torch.save({"mu": mu, "logvar": logvar, "z": z}, tmp_path / "post.pt")
    assert main(["estimate", str(tmp_path / "post.pt"), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    ref = Posterior(mu.double(), logvar.double(), z=z.double(), estimator="exact").total_correlation()
    assert data["total_correlation"] == pytest.approx(float(ref), rel=1e-9)
    assert data["decomposition"]["source"] == "exact"
    assert main(["estimate", str(tmp_path / "post.pt"), "--dataset-size", "1000", "--levels", "1"]) == 0
    out = capsys.readouterr().out
    assert "mss" in out and "bottom_up(levels=1)" in out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["estimate", "missing.npz"], "no such file"),
        (["estimate", "{tmp}/bad.npz"], "needs 'x'"),
        (["estimate", "--example", "--path", "grouped"], "--group-size"),
        (["estimate", "{tmp}/x.npy", "--path", "grouped", "--group-size", "2"], "group_size"),
        (["estimate"], "FILE"),
    ],
)
def test_errors_are_one_line(argv, message, tmp_path, capsys):
    np.savez(tmp_path / "bad.npz", y=np.zeros(3))
    np.save(tmp_path / "x.npy", np.random.default_rng(0).standard_normal((40, 3)))
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
