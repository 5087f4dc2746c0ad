import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tcdecomp.experiments.figures import trajectory
from tcdecomp.plans import divisors_below, grouping_coefficient
from tcdecomp.sweeps.runner import expand, load_sweep, read_results, run_sweep
from tcdecomp.vae.metrics import omniscient_latents

from ..vae.runs import TINY_SUBSET_TOML

SWEEP = """
name = "tiny"
kind = "capacity_grouping"
workers = 1
[base.model]
arch = "mlp"
[base.loss]
name = "beta_stcvae"
[base.data]
subset = {subset}
holdout = 0.25
[base.train]
steps = {steps}
batch_size = 8
checkpoint_every = 10
log_every = 10
[grid]
"model.latent_dim" = [2, 4]
"model.capacity" = [8]
"loss.group_size" = "divisors"
"train.seed" = [0]
[evaluate]
num_samples = 200
"""
SWEEP = SWEEP.replace("{subset}", TINY_SUBSET_TOML.replace("{", "{{").replace("}", "}}"))  # .format()ed later


def write(tmp_path, steps=30):
    path = tmp_path / "tiny.toml"
    path.write_text(SWEEP.format(steps=steps))
    return path


def test_grid_expansion_uses_every_divisor_but_d(tmp_path):
    runs = expand(load_sweep(write(tmp_path)))
    sizes = sorted((r["config"]["model"]["latent_dim"], r["config"]["loss"]["group_size"]) for r in runs)
    assert sizes == [(2, 1), (4, 1), (4, 2)]
    assert len({r["id"] for r in runs}) == 3
    assert divisors_below(12) == [1, 2, 3, 4, 6] and grouping_coefficient(2, 12) == pytest.approx(1 / 3)


@pytest.mark.slow
def test_killed_sweep_loses_only_runs_in_flight_and_resumes(tmp_path):
    spec_path = write(tmp_path, steps=300)
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tcdecomp", "sweep", str(spec_path), "--out-dir", str(out), "--quiet"],
        env=env,
        start_new_session=True,
    )
    store = out / "results.jsonl"
    deadline = time.time() + 180
    while time.time() < deadline and proc.poll() is None and len(read_results(store)) < 1:
        time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    before = read_results(store)
    assert 1 <= len(before) < 3, "the sweep was not killed mid-way"
    records = run_sweep(load_sweep(spec_path), out, progress=False)
    ids = [r["id"] for r in records]
    assert sorted(ids) == sorted(r["id"] for r in expand(load_sweep(spec_path)))  # every run exactly once
    assert records[: len(before)] == before  # finished runs were kept, not redone
    assert all(r["pid"] == before[0]["pid"] for r in before)
    for r in records:
        assert {"elbo", "mi", "tc_groups", "tc_within", "dim_kl"} <= set(r["decomposition"])
        assert r["omniscient_latents"] == omniscient_latents(r["decomposition"]["marginal_entropies"])
    summary = trajectory(records)
    assert {p["latent_dim"] for p in summary["points"]} == {2, 4}


def finished(run_id: str) -> dict:
    """A record of the shape execute_run writes."""
    config = {"model": {}, "loss": {"name": "beta_tcvae"}, "data": {}, "train": {"seed": 0}}
    return {"id": run_id, "label": "", "config": config, "seconds": 1.0, "decomposition": {"elbo": {"value": -1.0}}}


def test_torn_last_line_is_ignored(tmp_path):
    store = tmp_path / "results.jsonl"
    store.write_text(json.dumps(finished("0" * 16)) + "\n" + '{"id": "b", "conf')
    assert [r["id"] for r in read_results(store)] == ["0" * 16]


def test_shipped_experiment_configs_expand_to_valid_runs():
    from tcdecomp.vae.config import Config

    folder = Path(__file__).resolve().parents[2] / "experiments"
    files = sorted(folder.glob("*.toml"))
    assert len(files) >= 5
    for file in files:
        runs = expand(load_sweep(file))
        assert runs and len({r["id"] for r in runs}) == len(runs), file.name
        for run in runs[:3]:
            Config.from_dict(run["config"])  # every key is a known config key


def test_a_whole_float_and_its_integer_are_one_run(tmp_path):
    # [6, 6.0] ran twice: the ids hashed 6 and 6.0 apart. Now the config's float settings are floats before hashing.
    spec = load_sweep(write(tmp_path))
    spec["grid"] = {"train.seed": [0], "loss.beta": [6.0]}
    as_int = {**spec, "grid": {"train.seed": [0], "loss.beta": [6]}}
    assert [r["id"] for r in expand(spec)] == [r["id"] for r in expand(as_int)]
    (tmp_path / "both.toml").write_text(SWEEP.format(steps=30).replace('"train.seed" = [0]', '"loss.beta" = [6, 6.0]'))
    with pytest.raises(ValueError, match="same config"):
        load_sweep(tmp_path / "both.toml")


@pytest.mark.parametrize(
    "line",
    [
        {"id": "0123456789abcdef", "foo": 1},  # valid JSON, the wrong shape
        {**finished("0123456789abcdef"), "seconds": "soon"},
        {**finished("0123456789abcdef"), "config": {"model": {}}},
        {**finished("0123456789abcdef"), "decomposition": {"elbo": {"value": "nan"}}},
        {**finished("0123456789abcdef"), "mig_sampled": {"mig": None}},
        {**finished("not-an-id"), "label": "x"},
        [1, 2],
    ],
)
def test_a_store_record_of_the_wrong_shape_is_skipped_and_not_counted_finished(line, tmp_path, caplog):
    store = tmp_path / "results.jsonl"
    store.write_text(json.dumps(line) + "\n" + json.dumps(finished("fedcba9876543210")) + "\n")
    assert [r["id"] for r in read_results(store)] == ["fedcba9876543210"]  # the bad line is not a finished run


@pytest.mark.parametrize("content", ["[1, 2]", '"a string"', "{not json", "\x00\x01"])
def test_a_corrupted_sweep_definition_is_one_line(content, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "sweep.json").write_text(content)
    with pytest.raises(ValueError, match="sweep.json is corrupted"):
        run_sweep(load_sweep(write(tmp_path)), out, progress=False)
