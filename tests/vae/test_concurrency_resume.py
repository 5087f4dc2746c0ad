"""One writer per folder, and a resume only of what was started, with the config it was started with."""

import json
import logging
import os
import signal
import time

import pytest
import torch

from tcdecomp.cli import main
from tcdecomp.files import DirectoryLock
from tcdecomp.sweeps.runner import expand, read_results, run_sweep
from tcdecomp.vae.checkpoint import CHECKPOINT, content_digest, load_checkpoint
from tcdecomp.vae.config import Config
from tcdecomp.vae.evaluate import evaluate
from tcdecomp.vae.train import METRICS, restore, train

from .runs import (
    TINY_SUBSET,
    TINY_SUBSET_TOML,
    kill,
    lock_held,
    process_alive,
    start,
    tiny_config,
    wait_for,
    write_config,
)


def steps_logged(folder):
    return [json.loads(line)["step"] for line in (folder / METRICS).read_text().splitlines()]


# -- a second writer is refused at once -------------------------------------------------------------------
def test_a_held_folder_refuses_training_evaluation_and_sweeps(tmp_path):
    train(tiny_config(tmp_path / "run"), progress=False)
    with DirectoryLock(tmp_path / "run", "test holder"):
        with pytest.raises(ValueError, match="in use by pid .*test holder"):
            train(tiny_config(tmp_path / "run"), progress=False)
        with pytest.raises(ValueError, match="in use by pid"):
            evaluate(restore(tmp_path / "run"), tmp_path / "run", num_samples=50, with_mig=False)
        spec = {"name": "s", "base": tiny_config(tmp_path).to_dict(), "grid": {"train.seed": [0]}}
        with pytest.raises(ValueError, match="in use by pid"):
            run_sweep(spec, tmp_path / "run", progress=False)
    train(tiny_config(tmp_path / "run"), progress=False, overwrite=True)  # released: the folder is usable again


@pytest.mark.slow
def test_two_concurrent_trainings_on_one_folder(tmp_path, capsys):
    cfg = write_config(tmp_path, "run", steps=100000, checkpoint_every=50)
    first = start(["train", str(cfg), "--quiet"])
    try:
        wait_for(lambda: lock_held(tmp_path / "run") and (tmp_path / "run" / METRICS).exists(), what="the first run")
        config_before = (tmp_path / "run" / "config.json").read_text()
        began = time.time()
        assert main(["train", str(cfg), "--quiet", "--set", "train.lr=0.01"]) == 2
        assert time.time() - began < 30  # at once, not after the other run
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and "in use by pid" in err, err
        size = (tmp_path / "run" / METRICS).stat().st_size
        wait_for(lambda: (tmp_path / "run" / METRICS).stat().st_size > size, what="the first run to keep logging")
        assert (tmp_path / "run" / "config.json").read_text() == config_before
        assert first.poll() is None
    finally:
        kill(first)


@pytest.mark.slow
def test_two_concurrent_sweeps_on_one_folder(tmp_path, capsys):
    sweep = tmp_path / "s.toml"
    sweep.write_text(SWEEP.format(steps=100000, seeds="[0, 1]"))
    first = start(["sweep", str(sweep), "--out-dir", str(tmp_path / "out"), "--quiet"])
    try:
        wait_for(lambda: lock_held(tmp_path / "out"), what="the first sweep")
        assert main(["sweep", str(sweep), "--out-dir", str(tmp_path / "out"), "--quiet"]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and "in use by pid" in err, err
    finally:
        kill(first)


SWEEP = """
name = "s"
kind = "capacity_grouping"
workers = 2
[base.model]
arch = "mlp"
capacity = 8
latent_dim = 2
[base.loss]
name = "beta_tcvae"
[base.data]
subset = {subset}
holdout = 0.25
[base.train]
steps = {steps}
batch_size = 8
checkpoint_every = 5
log_every = 5
[grid]
"train.seed" = {seeds}
[evaluate]
num_samples = 50
"""
SWEEP = SWEEP.replace("{subset}", TINY_SUBSET_TOML.replace("{", "{{").replace("}", "}}"))  # .format()ed later


def test_the_store_records_each_run_once(tmp_path):
    spec = {"name": "s", "base": tiny_config(tmp_path).to_dict(), "grid": {"train.seed": [0, 1]}}
    spec["base"]["train"].pop("out_dir")
    first = run_sweep(spec, tmp_path / "out", progress=False)
    store = tmp_path / "out" / "results.jsonl"
    lines = store.read_text().splitlines()
    store.write_text("\n".join(lines + lines) + "\n")  # a concurrent writer's duplicates
    assert [r["id"] for r in read_results(store)] == [r["id"] for r in first]
    again = run_sweep(spec, tmp_path / "out", progress=False)
    assert [r["id"] for r in again] == [r["id"] for r in first]
    assert len(store.read_text().splitlines()) == 4  # nothing re-run or re-recorded


# -- resume only under the config the run was started with ---------------------------------------------
CHANGED = {
    "data.holdout": lambda c: setattr(c.data, "holdout", 0.3),
    "data.subset": lambda c: c.data.subset.update(posX=4),
    "train.batch_size": lambda c: setattr(c.train, "batch_size", 4),
    "train.lr": lambda c: setattr(c.train, "lr", 0.01),
    "train.seed": lambda c: setattr(c.train, "seed", 1),
    "model.latent_dim": lambda c: setattr(c.model, "latent_dim", 4),
    "model.capacity": lambda c: setattr(c.model, "capacity", 16),
    "model.arch": lambda c: setattr(c.model, "arch", "conv"),
    "loss.beta": lambda c: c.loss.update(beta=3.0),
    "loss.name": lambda c: c.loss.update(name="beta_vae"),
    "loss.estimator": lambda c: c.loss.update(estimator="mws"),
}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    folder = tmp_path_factory.mktemp("resume") / "run"
    train(tiny_config(folder), progress=False)
    return folder


@pytest.mark.parametrize("key", sorted(CHANGED))
def test_resume_refuses_a_changed_config(key, trained):
    config = tiny_config(trained)
    CHANGED[key](config)
    before = (trained / CHECKPOINT).read_bytes()
    with pytest.raises(ValueError) as info:
        train(config, resume=True, progress=False)
    message = str(info.value)
    assert key in message and "\n" not in message, message
    assert (trained / CHECKPOINT).read_bytes() == before


def test_resume_accepts_more_steps_and_other_intervals(tmp_path):
    train(tiny_config(tmp_path / "run", steps=4), progress=False)
    config = tiny_config(tmp_path / "run", steps=6)
    config.train.log_every, config.train.checkpoint_every = 2, 3
    train(config, resume=True, progress=False)
    assert load_checkpoint(tmp_path / "run")["step"] == 6
    assert steps_logged(tmp_path / "run") == [1, 2, 3, 4, 6]
    with pytest.raises(ValueError, match="train.steps=5 is below the checkpoint's step 6"):
        train(tiny_config(tmp_path / "run", steps=5), resume=True, progress=False)


def test_resume_without_a_checkpoint_starts_afresh(tmp_path, caplog):
    with caplog.at_level(logging.WARNING):
        train(tiny_config(tmp_path / "run"), resume=True, progress=False)
    assert "nothing to resume" in caplog.text
    assert load_checkpoint(tmp_path / "run")["step"] == 4


def test_a_fresh_start_replaces_the_previous_run_only_when_asked(tmp_path):
    train(tiny_config(tmp_path / "run", steps=4), progress=False)
    evaluate(restore(tmp_path / "run"), tmp_path / "run", num_samples=50, with_mig=False)
    before = {p.name: p.read_bytes() for p in (tmp_path / "run").iterdir() if p.is_file() and p.name != ".lock"}
    config = tiny_config(tmp_path / "run", steps=2)
    config.train.lr = 0.01
    with pytest.raises(ValueError, match=r"already holds a run \(checkpoint.pt.*--resume.*--overwrite"):
        train(config, progress=False)
    after = {p.name: p.read_bytes() for p in (tmp_path / "run").iterdir() if p.is_file() and p.name != ".lock"}
    assert after == before  # untouched (the lock file names its last holder)
    train(config, progress=False, overwrite=True)
    # the old evaluation and pictures went with the old model
    assert not any((tmp_path / "run" / name).exists() for name in ("evaluation.json", "traversal.png"))
    assert load_checkpoint(tmp_path / "run")["config"]["train"]["lr"] == 0.01
    assert steps_logged(tmp_path / "run") == [1, 2]
    assert Config.from_dict(json.loads((tmp_path / "run" / "config.json").read_text())).train.lr == 0.01


# -- torn and lost metrics -------------------------------------------------------------------------------
def test_a_torn_metrics_line_is_skipped_on_resume(tmp_path, caplog):
    train(tiny_config(tmp_path / "run", steps=4), progress=False)
    with open(tmp_path / "run" / METRICS, "a") as fh:
        fh.write('{"step": 5, "lo')  # killed mid-line
    with caplog.at_level(logging.WARNING):
        train(tiny_config(tmp_path / "run", steps=6), resume=True, progress=False)
    assert METRICS in caplog.text and "torn" in caplog.text
    assert steps_logged(tmp_path / "run") == [1, 2, 3, 4, 5, 6]


def test_a_kill_while_rewriting_metrics_loses_nothing(tmp_path, monkeypatch):
    train(tiny_config(tmp_path / "run", steps=4), progress=False)
    with open(tmp_path / "run" / METRICS, "a") as fh:
        fh.write(json.dumps({"step": 5, "loss": 1.0}) + "\n")  # logged past the checkpoint
    before = (tmp_path / "run" / METRICS).read_text()

    def killed(*args):
        raise KeyboardInterrupt  # the process dies between writing the temp file and renaming it

    monkeypatch.setattr("tcdecomp.files.os.replace", killed)
    with pytest.raises(KeyboardInterrupt):
        train(tiny_config(tmp_path / "run", steps=6), resume=True, progress=False)
    assert (tmp_path / "run" / METRICS).read_text() == before
    assert not [p for p in (tmp_path / "run").iterdir() if p.name.endswith(".tmp")]


# -- corrupted checkpoints -------------------------------------------------------------------------------
def test_flipped_bytes_never_load_as_a_different_model(tmp_path, capsys):
    train(tiny_config(tmp_path / "run"), progress=False)
    original = (tmp_path / "run" / CHECKPOINT).read_bytes()
    digest = load_checkpoint(tmp_path / "run")["sha256"]
    offsets = sorted(set(range(0, len(original), max(1, len(original) // 60))) | {len(original) - 1})
    refused = 0
    for offset in offsets:
        damaged = bytearray(original)
        damaged[offset] ^= 0xFF
        path = tmp_path / f"flip{offset}.pt"
        path.write_bytes(bytes(damaged))
        try:
            state = load_checkpoint(path)
        except ValueError as exc:
            assert "\n" not in str(exc)
            refused += 1
            continue
        assert state["sha256"] == digest and content_digest(state) == digest, offset  # an unused byte: same content
    assert refused >= len(offsets) // 2
    damaged = bytearray(original)
    damaged[len(original) // 2] ^= 0xFF
    (tmp_path / "bad.pt").write_bytes(bytes(damaged))
    assert main(["evaluate", str(tmp_path / "bad.pt")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "corrupted" in err


def test_a_diverged_model_is_refused_on_restore(tmp_path):
    train(tiny_config(tmp_path / "run"), progress=False)
    state = load_checkpoint(tmp_path / "run")
    name = next(iter(state["model"]))
    state["model"][name] = torch.full_like(state["model"][name], float("nan"))
    from tcdecomp.vae.checkpoint import save_checkpoint

    save_checkpoint(tmp_path / "run" / CHECKPOINT, {k: v for k, v in state.items() if k != "sha256"})
    with pytest.raises(ValueError, match="NaN or inf"):
        restore(tmp_path / "run")


# -- sweep workers die with their parent -------------------------------------------------------------------
@pytest.mark.slow
def test_killing_a_sweep_kills_its_workers(tmp_path):
    sweep = tmp_path / "s.toml"
    sweep.write_text(SWEEP.format(steps=100000, seeds="[0, 1, 2, 3]"))
    out = tmp_path / "out"
    parent = start(["sweep", str(sweep), "--out-dir", str(out), "--quiet"])
    try:
        wait_for(lambda: len(list(out.glob("runs/*/running.json"))) == 2, timeout=180, what="two workers")
        pids = [json.loads(p.read_text())["pid"] for p in out.glob("runs/*/running.json")]
        assert all(process_alive(pid) for pid in pids)
        parent.send_signal(signal.SIGKILL)  # the parent alone, not its process group
        parent.communicate()
        wait_for(lambda: not any(process_alive(pid) for pid in pids), timeout=20, what="the workers to die")
        time.sleep(2.0)
        assert len(list(out.glob("runs/*"))) == 2  # and no new run was started
    finally:
        kill(parent)
        for pid in [json.loads(p.read_text())["pid"] for p in out.glob("runs/*/running.json")]:
            if process_alive(pid):
                os.kill(pid, signal.SIGKILL)


def test_expanded_runs_use_full_configs_in_records(tmp_path):
    spec = {
        "name": "s",
        "base": {
            "model": {"arch": "mlp", "capacity": 8, "latent_dim": 4},
            "data": {"subset": dict(TINY_SUBSET)},
            "train": {"steps": 2, "batch_size": 8},
        },
        "grid": {"train.seed": [0]},
    }
    record = run_sweep(spec, tmp_path / "out", progress=False)[0]
    assert record["id"] == expand(spec)[0]["id"]
    assert record["config"]["loss"]["name"] == "beta_stcvae" and "out_dir" not in record["config"]["train"]


def test_a_checkpoint_without_its_digest_is_refused(tmp_path):
    # 0.1.0 was never released without digests: a checkpoint that lacks one was altered, not written by an older
    # version, and its integrity cannot be checked.
    train(tiny_config(tmp_path / "run"), progress=False)
    state = load_checkpoint(tmp_path / "run")
    torch.save({k: v for k, v in state.items() if k != "sha256"}, tmp_path / "stripped.pt")
    with pytest.raises(ValueError, match="carries no content digest"):
        restore(tmp_path / "stripped.pt")


def test_resume_accepts_a_config_that_writes_a_default_out(tmp_path):
    # --resume compared the configs as written: loss.estimator = "mss" spelled out (the default) was "changed".
    config = tiny_config(tmp_path / "run", steps=2)
    train(config, progress=False)
    spelled = tiny_config(tmp_path / "run", steps=4)
    spelled.loss = {**spelled.loss, "estimator": "mss", "alpha": 1.0}
    spelled.model.capacity = spelled.model.capacity or 1200
    train(spelled, resume=True, progress=False)
    assert load_checkpoint(tmp_path / "run")["step"] == 4
    changed = tiny_config(tmp_path / "run", steps=6)
    changed.loss = {**changed.loss, "estimator": "mws"}
    with pytest.raises(ValueError, match=r"loss.estimator \('mss' -> 'mws'\)"):
        train(changed, resume=True, progress=False)
