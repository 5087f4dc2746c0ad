"""Sweep backends: a local Ray instance that loses a worker mid-run, submitit's local executor,
and the install messages when the optional extra is missing."""

import json
import os
import signal
import sys
import threading
import time

import pytest

from tcdecomp.sweeps.runner import expand, load_sweep, read_results, run_sweep

from .test_runner import SWEEP  # the same tiny sweep, with its grid replaced below


def spec(tmp_path, steps):
    """Four runs: latent dims 2 and 4 by seeds 0 and 1, beta-TCVAE-like grouping."""
    path = tmp_path / "tiny.toml"
    path.write_text(SWEEP.format(steps=steps))
    sweep = load_sweep(path)
    sweep["name"] = "tiny_backends"
    sweep["grid"] = {"model.latent_dim": [2, 4], "model.capacity": [8], "loss.group_size": [1], "train.seed": [0, 1]}
    return sweep


def _kill_one_worker_mid_run(out, killed: dict, stop: threading.Event):
    # Wait until some run has logged training steps, then SIGKILL the worker process holding it.
    while not stop.is_set():
        for running in (out / "runs").glob("*/running.json") if (out / "runs").exists() else []:
            if (running.parent / "metrics.jsonl").exists():
                pid = json.loads(running.read_text())["pid"]
                if pid != os.getpid():
                    os.kill(pid, signal.SIGKILL)
                    killed.update(id=running.parent.name, pid=pid)
                    return
        time.sleep(0.05)


@pytest.mark.slow
def test_ray_sweep_survives_a_killed_worker_with_every_result_once(tmp_path):
    pytest.importorskip("ray")
    sweep = spec(tmp_path, steps=150)
    out = tmp_path / "out"
    killed, stop = {}, threading.Event()
    watcher = threading.Thread(target=_kill_one_worker_mid_run, args=(out, killed, stop), daemon=True)
    watcher.start()
    try:
        records = run_sweep(sweep, out, workers=2, progress=False, backend="ray")
    finally:
        stop.set()
    assert killed, "no worker was killed: the runs finished before the watcher saw one"
    ids = [r["id"] for r in read_results(out / "results.jsonl")]
    assert sorted(ids) == sorted(r["id"] for r in expand(sweep)) and len(ids) == len(set(ids)) == 4
    retried = next(r for r in records if r["id"] == killed["id"])
    assert retried["pid"] != killed["pid"]  # the killed run was executed again by another worker
    assert all(r["decomposition"]["elbo"]["value"] < 0 for r in records)


@pytest.mark.slow
def test_submitit_local_executor_runs_the_sweep(tmp_path):
    pytest.importorskip("submitit")
    sweep = spec(tmp_path, steps=10)
    sweep["grid"]["train.seed"] = [0]
    out = tmp_path / "out"
    records = run_sweep(
        sweep,
        out,
        progress=False,
        backend="submitit",
        options={"cluster": "local", "timeout_min": 10, "poll_seconds": 0.5},
    )
    assert sorted(r["id"] for r in records) == sorted(r["id"] for r in expand(sweep))
    # A second call finds everything in the store and submits nothing.
    assert len(run_sweep(sweep, out, progress=False, backend="submitit", options={"cluster": "local"})) == 2


def test_missing_engine_says_how_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)
    monkeypatch.setitem(sys.modules, "submitit", None)
    sweep = spec(tmp_path, steps=10)
    for backend in ("ray", "submitit"):
        with pytest.raises(ValueError, match=r"pip install 'tcdecomp\[distributed\]'"):
            run_sweep(sweep, tmp_path / backend, progress=False, backend=backend)
    with pytest.raises(ValueError, match="backend must be one of"):
        run_sweep(sweep, tmp_path / "x", progress=False, backend="dask")
