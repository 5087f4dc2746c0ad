"""The BMI benchmark script's own half (no BMI package needed): ground truth taken from BMI's sampler objects,
scoring into a resumable store, and the summary figures of its report."""

import json
import math
from pathlib import Path

import numpy as np
import pytest

from benchmarks import bmi as bench
from benchmarks import harness
from tcdecomp.files import read_jsonl

ROOT = Path(__file__).resolve().parents[2]


class _SplitMultinormal:  # the attribute names of BMI 0.1.3's samplers
    def __init__(self, cov):
        self._covariance = np.asarray(cov)


class _Transformed:
    def __init__(self, base):
        self._base_sampler = base


class _Bivariate:
    def __init__(self, cov):
        self._sampler = _SplitMultinormal(cov)


class _SplitStudentT:
    def __init__(self, dispersion, df):
        self._dispersion, self._degrees_of_freedom = np.asarray(dispersion), df


def test_base_distribution_is_found_under_transforms():
    cov = [[1.0, 0.75], [0.75, 1.0]]
    assert bench._base_distribution(_Transformed(_Transformed(_Bivariate(cov)))) == {"kind": "gaussian", "scale": cov}
    found = bench._base_distribution(_Transformed(_SplitStudentT(cov, 3)))
    assert found == {"kind": "student_t", "scale": cov, "df": 3.0}
    assert bench._base_distribution(object()) is None


def test_true_tc_of_a_bivariate_normal_is_its_mi():
    # BMI's 1v1-normal-0.75 task: MI = -1/2 log(1 - 0.75^2) = 0.4133.
    base = {"kind": "gaussian", "scale": [[1.0, 0.75], [0.75, 1.0]]}
    assert bench.true_tc(base) == pytest.approx(-0.5 * math.log(1 - 0.75**2), rel=1e-12)
    assert bench.true_tc(None) is None


def _fake_samples(folder: Path, seeds):
    cov = np.array([[1.0, 0.5, 0.3], [0.5, 1.0, 0.4], [0.3, 0.4, 1.0]])
    mi = -0.5 * math.log(np.linalg.det(cov) / np.linalg.det(cov[1:, 1:]))  # I(x0; x1 x2)
    meta = {
        "gauss-1-2": {"dim_x": 1, "dim_y": 2, "mi": mi, "base": {"kind": "gaussian", "scale": cov.tolist()}},
        "spiral-like": {"dim_x": 1, "dim_y": 2, "mi": mi, "base": None},
    }
    folder.mkdir()
    (folder / "tasks.json").write_text(json.dumps(meta))
    for seed in seeds:
        x = np.random.default_rng(seed).multivariate_normal(np.zeros(3), cov, 4000)
        for name in meta:
            np.save(folder / f"{name}__{seed}.npy", x)
    return meta


def test_scoring_fills_the_store_once_and_the_report_reads_it(tmp_path):
    meta = _fake_samples(tmp_path / "samples", [0, 1])
    store = tmp_path / "results.jsonl"
    records = tmp_path / "records.jsonl"
    argv = ["--samples", str(tmp_path / "samples"), "--store", str(store), "--out", str(records)]
    argv += ["--seeds", "0", "1", "--baseline-seeds"]
    bench.main([*argv, "--methods", "gaussian", "copula"])
    rows = read_jsonl(store)
    assert len(rows) == 2 * 2 * 2
    summary = {r["case"]["method"]: r for r in harness.read_records(records)}  # the harness's records
    assert set(summary) == {"gaussian", "copula"} and summary["gaussian"]["case"]["seeds"] == [0, 1]
    assert summary["gaussian"]["metrics"]["tasks"] == 2 and summary["gaussian"]["benchmark"] == "bmi"
    bench.main([*argv, "--methods", "gaussian", "copula"])  # resumes: nothing is redone
    assert len(read_jsonl(store)) == 8
    gauss = [r for r in rows if r["task"] == "gauss-1-2" and r["method"] == "gaussian"]
    for r in gauss:
        assert abs(r["mi"] - meta["gauss-1-2"]["mi"]) < 4 * r["mi_stderr"] + 0.01
        assert r["tc_true"] == pytest.approx(bench.true_tc(meta["gauss-1-2"]["base"]))
        assert abs(r["tc"] - r["tc_true"]) < 4 * r["tc_stderr"] + 0.01
    assert all(r["tc_true"] is None and "tc" not in r for r in rows if r["task"] == "spiral-like")
    report = tmp_path / "report.md"
    bench.main(["--store", str(store), "--report", str(report)])
    text = report.read_text()
    assert "| gaussian | 0, 1 |" in text and "| spiral-like |" in text


def test_summary_by_hand():
    rows = [
        {"task": "a", "seed": 0, "method": "m", "mi_true": 1.0, "mi": 1.05, "seconds": 1.0},
        {"task": "a", "seed": 1, "method": "m", "mi_true": 1.0, "mi": 1.25, "seconds": 3.0},
        {"task": "b", "seed": 0, "method": "m", "mi_true": 0.5, "mi": 0.48, "seconds": 2.0, "tc": 0.6, "tc_true": 0.5},
        {"task": "c", "seed": 0, "method": "m", "mi_true": 0.5, "error": "refused"},
    ]
    s = bench.summarise(rows)["m"]
    # task a: mean error over its seeds +0.15 (beyond 10%); task b: -0.02 (within)
    assert s["mae"] == pytest.approx((0.15 + 0.02) / 2)
    assert s["within10"] == 1 and s["tasks"] == 2
    assert s["tc_mae"] == pytest.approx(0.1) and s["tc_tasks"] == 1
    assert s["seconds"] == pytest.approx(2.0)
    assert s["refused"] == ["c"] and s["seeds"] == [0, 1]


def test_missing_samples_or_baselines_run_the_bmi_half(tmp_path, monkeypatch):
    _fake_samples(tmp_path / "samples", [0])
    argv = ["--samples", str(tmp_path / "samples"), "--store", str(tmp_path / "s.jsonl"), "--methods", "gaussian"]
    argv += ["--out", str(tmp_path / "records.jsonl")]
    with pytest.raises(SystemExit, match="--bmi-python"):
        bench.main([*argv, "--seeds", "0", "1", "--baseline-seeds"])  # seed 1 has no samples
    calls = []
    monkeypatch.setattr(bench.subprocess, "run", lambda command, check, cwd: calls.append(command))
    bench.main([*argv, "--seeds", "0", "--baseline-seeds", "0", "--bmi-python", "/venv/bin/python"])
    # seed 0's samples exist but its baselines do not: the BMI half runs for them
    assert calls and calls[0][:4] == ["/venv/bin/python", "-m", "benchmarks.bmi", "_generate"]
    assert calls[0][calls[0].index("--baseline-seeds") + 1 :] == ["0"]
