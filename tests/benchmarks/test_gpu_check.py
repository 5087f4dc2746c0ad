"""The GPU pack's dry run (every section on the CPU at toy sizes), so the pack cannot rot between GPUs."""

import json
import os
import subprocess
from pathlib import Path

import pytest

from benchmarks._bounds import lower_bound_seconds, operation_counts

ROOT = Path(__file__).resolve().parents[2]


def test_operation_counts_by_hand():
    # B = 2, M = 3, D = 4, sets {0, 1} and the joint: forward 3*4 + (2 + 4) + 3*2 = 24 per pair, 2 exps;
    # the backward adds 24 (recompute) + 6 (weights per dim) + 6*4 (accumulations) = 54 and 2 exps.
    assert operation_counts(2, 3, 4, [[0, 1], [0, 1, 2, 3]], False) == (6 * 24, 6 * 2)
    assert operation_counts(2, 3, 4, [[0, 1], [0, 1, 2, 3]], True) == (6 * (24 + 54), 6 * 4)


def test_lower_bound_is_the_slower_of_lanes_and_exp_units():
    # sm_90: 128 FP32 and 16 exp2 results per clock per SM; 1 SM at 1 Hz makes the counts the seconds.
    assert lower_bound_seconds((1280, 10), (9, 0), 1, 1.0) == 10.0
    assert lower_bound_seconds((1280, 16), (9, 0), 1, 1.0) == 10.0  # exp-bound: 16 / 16 = 1 < 10
    assert lower_bound_seconds((64, 1), (8, 0), 1, 1.0) == 1.0
    assert lower_bound_seconds((64, 1), (7, 5), 1, 1.0) is None  # a GPU the table does not know
    assert lower_bound_seconds((64, 1), (9, 0), 1, None) is None  # no clock read


@pytest.mark.slow
def test_dry_run_runs_every_section(tmp_path):
    env = {**os.environ, "OUT": str(tmp_path), "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        ["bash", "benchmarks/gpu_check.sh", "--dry-run"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=900
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    summary = json.loads((tmp_path / "summary.json").read_text())
    sections = summary["sections"]
    assert list(sections) == ["versions", "kernel_tests", "sweep", "dsprites", "training"]
    assert all(s["status"] == "ok" for s in sections.values()), {k: s.get("error") for k, s in sections.items()}
    assert all(s["device_name"] == summary["device_name"] for s in sections.values())
    rows = sections["sweep"]["rows"]
    assert len(rows) == 6 and all(r["naive_over_chunked"] > 0 for r in rows)
    assert "triton: skipped (no GPU)" in sections["sweep"]["notes"]
    assert 0 <= sections["dsprites"]["mig"] <= 1 and 0 <= sections["dsprites"]["group_mig"] <= 1
    models = sections["training"]["models"]
    assert set(models) == {"TCVAE_10", "STCVAE_5_2"} and len(models["TCVAE_10"]["mig"]["values"]) == 2
    assert "group_mig" in models["STCVAE_5_2"] and "group_mig" not in models["TCVAE_10"]
    paired = {r["metric"]: r for r in sections["training"]["paired"]}
    assert paired["MIG"]["a"] == "STCVAE_5_2" and paired["MIG"]["b"] == "TCVAE_10" and paired["MIG"]["pairs"] == 2
    assert (tmp_path / "summary.md").read_text().startswith("# GPU pack: cpu")
    assert (tmp_path / "gpu_check.log").exists()
