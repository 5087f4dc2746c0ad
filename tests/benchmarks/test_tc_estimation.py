"""CI's 1-level smoke version of benchmarks/tc_estimation.py (the published TC benchmark)."""

import json

import numpy as np
import pytest

from benchmarks import harness
from tcdecomp import Samples


def load():
    from benchmarks import tc_estimation

    return tc_estimation


def test_gaussian_task_carries_the_requested_tc():
    bench = load()
    x = bench.sample(6.0, 20000, np.random.default_rng(0), "gaussian")
    # TC of the 80 dims equals TC over the 4 variables: each variable's coordinates are independent.
    assert abs(float(Samples(x).total_correlation()) - 6.0) < 0.1
    assert abs(float(Samples(x).decompose(bench.PATHS["tree"]).total) - 6.0) < 0.1


def test_student_t_task_has_the_level_as_its_closed_form_tc():
    bench = load()
    for level in (2.0, 7.0):
        assert bench.true_tc(level, "student_t") == (pytest.approx(level, abs=1e-9), 0.0)
    with pytest.raises(ValueError, match="shared scale"):
        bench.true_tc(1.0, "student_t")
    x = bench.sample(4.0, 4000, np.random.default_rng(1), "student_t")
    assert abs(float(Samples(x, method="student_t").decompose(bench.PATHS["line"]).total) - 4.0) < 0.2


def test_mixture_task_hides_its_dependence_from_covariances():
    bench = load()
    truth, se = bench.mixture_tc(bench.mixture_rho(4.0), n=100_000)
    assert abs(truth - 4.0) < 0.05 and se < 0.02
    x = bench.sample(4.0, 20000, np.random.default_rng(2), "mixture")
    cross = np.corrcoef(x, rowvar=False)[:20, 20:40]
    assert np.abs(np.diag(cross)).max() < 0.05  # the +rho and -rho components cancel
    assert abs(float(Samples(x).decompose(bench.PATHS["tree"]).total)) < 0.2


@pytest.mark.slow
def test_one_level_smoke_run(tmp_path, capsys):
    bench = load()
    out = tmp_path / "r.json"
    bench.main(
        [
            "--levels",
            "2",
            "--steps",
            "20",
            "--methods",
            "nwj",
            "gaussian",
            "--paths",
            "tree",
            "line",
            "--samples",
            "500",
            "--repeats",
            "1",
            "--workers",
            "1",
            "--json",
            str(out),
            "--out",
            str(tmp_path / "records.jsonl"),
        ]
    )
    text = capsys.readouterr().out
    assert "gaussian  tree  nwj" in text and "gaussian  line  gaussian" in text
    bench.main(["--from-json", str(out), str(out), "--report", str(tmp_path / "estimators.md")])
    report = (tmp_path / "estimators.md").read_text()
    assert "| tree | nwj |" in report and (tmp_path / "figures" / "tc_estimation.png").stat().st_size > 1000
    assert len(json.loads(out.read_text())["results"]) == 4
    records = harness.read_records(tmp_path / "records.jsonl")
    assert {(r["case"]["path"], r["case"]["method"]) for r in records} == {
        (p, m) for p in ("tree", "line") for m in ("nwj", "gaussian")
    }
    assert all(r["case"]["level"] == 2.0 and "mean" in r["metrics"] for r in records)
