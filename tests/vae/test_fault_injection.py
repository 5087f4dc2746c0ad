"""kill -9 at random points, and mid-write, for each writer (train, sweep, evaluate).

Each writer is run in a subprocess that is killed again and again: at random times (seeded)
and inside its writes (``FAULT`` below kills the process at the n-th fsync, i.e. after a temp
file or a store line is written but before it is renamed or synced, or tears a store line in
half). After every kill the same command continues. The final result must equal an
uninterrupted run's; a concurrent second writer and a changed config must be refused.
"""

import json
import random
import subprocess
import sys

import pytest
import torch

from tcdecomp.sweeps.runner import load_sweep, read_results, run_sweep
from tcdecomp.vae.checkpoint import CHECKPOINT, load_checkpoint
from tcdecomp.vae.config import load_config
from tcdecomp.vae.evaluate import EVALUATION, evaluate
from tcdecomp.vae.train import METRICS, restore, train

from .runs import ENV, TINY_SUBSET_TOML, kill, lock_held, run, start, wait_for, write_config

pytestmark = pytest.mark.slow

#: a CLI run that SIGKILLs itself at the n-th os.fsync (TCDECOMP_KILL_AT_FSYNC), or writes half of
#: the n-th sweep-store line and dies (TCDECOMP_TEAR_APPEND)
FAULT = r"""
import os, signal, sys
kill_at = int(os.environ.get("TCDECOMP_KILL_AT_FSYNC", "0"))
tear_at = int(os.environ.get("TCDECOMP_TEAR_APPEND", "0"))
calls = {"fsync": 0, "append": 0}
real_fsync = os.fsync
def fsync(fd):
    calls["fsync"] += 1
    if calls["fsync"] == kill_at:
        os.kill(os.getpid(), signal.SIGKILL)
    real_fsync(fd)
os.fsync = fsync
import json
import tcdecomp.sweeps.runner as sweep
real_append = sweep.append_jsonl
def append(path, record):
    calls["append"] += 1
    if calls["append"] == tear_at:
        line = json.dumps(record)
        with open(path, "a") as fh:
            fh.write(line[: len(line) // 2])
        os.kill(os.getpid(), signal.SIGKILL)
    real_append(path, record)
sweep.append_jsonl = append
from tcdecomp.cli import main
sys.exit(main(sys.argv[1:]))
"""


def faulty(args, kill_at_fsync=0, tear_append=0, timeout=300):
    env = {**ENV, "TCDECOMP_KILL_AT_FSYNC": str(kill_at_fsync), "TCDECOMP_TEAR_APPEND": str(tear_append)}
    return subprocess.run(
        [sys.executable, "-c", FAULT, *args], env=env, capture_output=True, text=True, timeout=timeout
    )


def killed_at_random(args, rng, low=0.5, high=6.0):
    """Start the command and kill -9 it after a random delay (it may finish first)."""
    proc = start(args)
    try:
        proc.wait(timeout=rng.uniform(low, high))
    except subprocess.TimeoutExpired:
        pass
    kill(proc)
    return proc.returncode


def run_to_completion(args):
    done = run(args)
    assert done.returncode == 0, done.stderr[-2000:]


# -- train ---------------------------------------------------------------------------------------------------
def test_train_survives_kills_anywhere(tmp_path, one_cpu_thread):
    reference = train(load_config(write_config(tmp_path, "ref", steps=120, checkpoint_every=10)), progress=False)
    cfg = write_config(tmp_path, "killed", steps=120, checkpoint_every=10)
    args = ["train", str(cfg), "--quiet", "--resume"]
    rng = random.Random(11)
    for n in (1, 2, 3, 4, 6, 9):  # config.json, then checkpoints: temp files and folder syncs
        assert faulty(args, kill_at_fsync=n).returncode == -9
    for _ in range(4):
        killed_at_random(args, rng)
    # while one writer runs, a second is refused; after the kills a changed config is refused
    busy = write_config(tmp_path, "busy", steps=100000)
    first = start(["train", str(busy), "--quiet"])
    try:
        wait_for(lambda: lock_held(tmp_path / "busy"), what="the run's lock")
        second = run(["train", str(busy), "--quiet", "--resume"])
        assert second.returncode == 2 and "in use by pid" in second.stderr
        assert len(second.stderr.strip().splitlines()) == 1
    finally:
        kill(first)
    changed = run(args + ["--set", "train.lr=0.002"])
    assert changed.returncode == 2 and "train.lr" in changed.stderr, changed.stderr
    run_to_completion(args)
    state = load_checkpoint(tmp_path / "killed")
    for name, value in reference.model.state_dict().items():
        assert torch.equal(value, state["model"][name]), name
    ref_lines = (tmp_path / "ref" / METRICS).read_text().splitlines()
    assert (tmp_path / "killed" / METRICS).read_text().splitlines() == ref_lines
    assert not [p for p in (tmp_path / "killed").iterdir() if p.name.endswith(".tmp")]


# -- sweep ---------------------------------------------------------------------------------------------------
SWEEP = """
name = "faults"
kind = "capacity_grouping"
workers = 1
[base.model]
arch = "mlp"
capacity = 8
[base.loss]
name = "beta_stcvae"
estimator = "bank"
bank_capacity = 16
[base.data]
subset = {subset}
holdout = 0.25
[base.train]
steps = 40
batch_size = 8
checkpoint_every = 10
log_every = 10
[grid]
"model.latent_dim" = [2, 4]
"loss.group_size" = "divisors"
"train.seed" = [0]
[evaluate]
num_samples = {samples}
"""
SWEEP = SWEEP.replace("{subset}", TINY_SUBSET_TOML.replace("{", "{{").replace("}", "}}"))  # .format()ed later


def comparable(record):
    return {k: v for k, v in record.items() if k not in ("seconds", "pid")}


def test_sweep_survives_kills_anywhere(tmp_path):
    spec_path = tmp_path / "s.toml"
    spec_path.write_text(SWEEP.format(samples=100))
    reference = {r["id"]: comparable(r) for r in run_sweep(load_sweep(spec_path), tmp_path / "ref", progress=False)}
    out = tmp_path / "out"
    args = ["sweep", str(spec_path), "--out-dir", str(out), "--quiet"]
    rng = random.Random(5)
    assert faulty(args, tear_append=1).returncode == -9  # the first store line torn in half
    for n in (2, 5, 8, 13):
        faulty(args, kill_at_fsync=n)
    for _ in range(3):
        killed_at_random(args, rng, high=10.0)
    changed = tmp_path / "changed.toml"
    changed.write_text(SWEEP.format(samples=50))
    refused = run(["sweep", str(changed), "--out-dir", str(out), "--quiet"])
    assert refused.returncode == 2 and "evaluate.num_samples" in refused.stderr, refused.stderr
    run_to_completion(args)
    records = read_results(out / "results.jsonl")
    assert sorted(r["id"] for r in records) == sorted(reference)
    for record in records:
        assert comparable(record) == reference[record["id"]], record["id"]


# -- evaluate ------------------------------------------------------------------------------------------------
def test_evaluate_survives_kills_anywhere(tmp_path):
    cfg = write_config(tmp_path, "run", steps=20, checkpoint_every=10)
    train(load_config(cfg), progress=False)
    ckpt = tmp_path / "run" / CHECKPOINT
    reference = evaluate(restore(ckpt), tmp_path / "ref", num_samples=200, mig_points=200).to_dict()
    args = ["evaluate", str(ckpt), "--out-dir", str(tmp_path / "out"), "--num-samples", "200", "--mig-points", "200"]
    for n in (1, 2, 3, 4, 5):  # inside the PNG and JSON writes
        assert faulty(args, kill_at_fsync=n).returncode == -9
        for name in ("traversal.png", "reconstructions.png", EVALUATION):
            path = tmp_path / "out" / name
            assert (
                not path.exists() or path.read_bytes() == (tmp_path / "ref" / name).read_bytes() or name == EVALUATION
            ), name  # never a half-written file
    first = start(["train", str(cfg), "--quiet", "--out-dir", str(tmp_path / "out"), "--set", "train.steps=100000"])
    try:
        wait_for(lambda: lock_held(tmp_path / "out"), what="a writer in the output folder")
        busy = run(args)
        assert busy.returncode == 2 and "in use by pid" in busy.stderr
    finally:
        kill(first)
    run_to_completion(args)
    result = json.loads((tmp_path / "out" / EVALUATION).read_text())
    result.pop("pictures"), reference.pop("pictures")
    assert result == json.loads(json.dumps(reference))
    for name in ("traversal.png", "reconstructions.png"):
        assert (tmp_path / "out" / name).read_bytes() == (tmp_path / "ref" / name).read_bytes()
    # a checkpoint whose stored config was edited is refused as corrupted
    state = torch.load(ckpt, weights_only=True)
    state["config"]["model"]["latent_dim"] = 6
    torch.save(state, tmp_path / "edited.pt")
    edited = run(["evaluate", str(tmp_path / "edited.pt")])
    assert edited.returncode == 2 and "corrupted" in edited.stderr
