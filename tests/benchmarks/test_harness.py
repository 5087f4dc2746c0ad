"""The benchmarks' harness: every module runs as ``python -m benchmarks.NAME`` with the shared arguments and
writes the one record format; the quick versions of the cheap ones run end to end."""

import ast
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks import harness

ROOT = Path(__file__).resolve().parents[2]
HELPERS = {"__init__", "harness", "_bounds", "_memory"}
MODULES = sorted(p.stem for p in (ROOT / "benchmarks").glob("*.py") if p.stem not in HELPERS)
#: cheap enough to run at --quick sizes in the slow tier (seconds each)
QUICK_RUNS = (
    "knn_scaling",
    "knn_paths",
    "gmm_covariance",
    "sample_methods_time",
    "estimators",
    "vae_step",
    "rank_agreement",
)


@pytest.mark.parametrize("name", MODULES)
def test_every_benchmark_is_a_module_of_the_harness(name):
    tree = ast.parse((ROOT / "benchmarks" / f"{name}.py").read_text())
    source = ast.unparse(tree)
    assert "sys.path" not in source, f"{name} edits sys.path: import through the benchmarks package instead"
    private = [
        f"{n.module}.{a.name}"
        for n in ast.walk(tree)
        if isinstance(n, ast.ImportFrom) and (n.module or "").startswith("tcdecomp")
        for a in n.names
        if a.name.startswith("_")
    ]
    assert not private, f"{name} imports private names {private}: use the public API (e.g. training_step)"
    imports = {a.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.level == 1 for a in n.names}
    assert "harness" in imports, f"{name} does not use benchmarks.harness"
    calls = {ast.unparse(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    assert {"harness.parser", "harness.parse"} <= calls or "harness.Recorder" in calls, name


def test_quick_replaces_only_the_defaults_left_alone(tmp_path):
    p = harness.parser("demo", "a benchmark", quick={"n": 10, "seeds": [0]})
    p.add_argument("--n", type=int, default=1000)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    full = harness.parse(p, [])
    assert (full.n, full.seeds, full.out) == (1000, [0, 1, 2], harness.RECORDS / "demo.jsonl")
    quick = harness.parse(p, ["--quick", "--seeds", "5"])
    assert (quick.n, quick.seeds, quick.out) == (10, [5], None)  # quick runs are not figures: no file by default
    assert harness.parse(p, ["--quick", "--n", "1000"]).n == 1000  # given, even at the full-size default: kept
    assert harness.parse(p, ["--quick", "--out", str(tmp_path / "r.jsonl")]).out == tmp_path / "r.jsonl"


def test_cuda_is_refused_in_one_line_where_there_is_none(capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("a CUDA device is here")
    with pytest.raises(SystemExit):
        harness.parse(harness.parser("demo", None), ["--device", "cuda"])
    assert "--device cuda" in capsys.readouterr().err


def test_records_have_one_format_and_survive_a_stop(tmp_path):
    args = harness.parse(harness.parser("demo", None), ["--quick", "--out", str(tmp_path / "r.jsonl")])
    recorder = harness.Recorder(args)
    import numpy as np

    recorder.add({"n": np.int64(5), "method": "knn"}, {"seconds": np.float32(0.5), "tc": 1.25})
    # appended at once, so a run killed after this point keeps it
    (record,) = harness.read_records(tmp_path / "r.jsonl")
    assert set(record) == {"benchmark", "case", "metrics", "environment", "date"}
    assert record["benchmark"] == "demo" and record["case"] == {"n": 5, "method": "knn"}
    assert record["metrics"] == {"seconds": 0.5, "tc": 1.25} and record["environment"]["quick"] is True
    assert {"python", "torch", "device", "threads", "commit"} <= set(record["environment"])


@pytest.mark.slow
@pytest.mark.parametrize("name", QUICK_RUNS)
def test_quick_run_writes_records(name, tmp_path):
    out = tmp_path / "records.jsonl"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, "-m", f"benchmarks.{name}", "--quick", "--out", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    records = harness.read_records(out)
    assert records and all(r["benchmark"] == name and r["environment"]["quick"] for r in records)
    for r in records:
        numbers = [v for v in r["metrics"].values() if isinstance(v, (int, float)) and not isinstance(v, bool)]
        assert numbers and all(math.isfinite(v) for v in numbers), r  # a measurement, and no NaN passed off as one
