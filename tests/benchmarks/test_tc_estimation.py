"""CI's 1-level smoke version of benchmarks/tc_estimation.py (the published TC benchmark)."""
import importlib.util
from pathlib import Path

import numpy as np

PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "tc_estimation.py"


def load():
    spec = importlib.util.spec_from_file_location("tc_estimation", PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_task_carries_the_requested_tc():
    bench = load()
    x = bench.sample(6.0, 20000, np.random.default_rng(0), "gaussian")
    from tcdecomp import Samples

    # TC of the 80 dims equals TC over the 4 variables: each variable's coordinates are independent.
    assert abs(float(Samples(x).total_correlation()) - 6.0) < 0.1
    assert abs(float(Samples(x).decompose(bench.PATHS["tree"]).total) - 6.0) < 0.1


def test_one_level_smoke_run(capsys):
    load().main(["--levels", "2", "--steps", "20", "--methods", "nwj", "gaussian", "--paths", "tree", "line",
                 "--samples", "500", "--repeats", "1"])
    out = capsys.readouterr().out
    assert "tree  nwj" in out and "line  gaussian" in out
