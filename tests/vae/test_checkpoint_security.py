"""Nothing tcdecomp loads can run code: a pickled object whose __reduce__ calls os.system is refused
by every entry point that reads a file, with a one-line error, and its command never runs."""

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from tcdecomp.cli import main
from tcdecomp.files import load_arrays
from tcdecomp.sweeps.runner import expand, run_sweep
from tcdecomp.vae.checkpoint import load_checkpoint
from tcdecomp.vae.config import Config
from tcdecomp.vae.data import load_dsprites_npz
from tcdecomp.vae.train import restore, train

from . import runs

ROOT = Path(__file__).resolve().parents[2]


class Payload:
    """Unpickling this runs a shell command that creates the file ``marker``."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def tiny_config(out_dir) -> Config:
    return runs.tiny_config(out_dir, steps=2, checkpoint_every=1)


def malicious_checkpoint(path: Path, marker: Path) -> Path:
    """A checkpoint that looks right (config, model, step) but carries the payload."""
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"config": tiny_config(path.parent).to_dict(), "model": {}, "step": 1, "evil": Payload(marker)}, path)
    return path


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    return err


def test_the_payload_really_runs_when_unpickled(tmp_path):
    # The control: with the unsafe loader the command does run, so the cases below test something.
    marker = tmp_path / "ran"
    torch.load(malicious_checkpoint(tmp_path / "c.pt", marker), weights_only=False)
    assert marker.exists()


def _cli(argv, capsys):
    assert main(argv) == 2
    return one_line_error(capsys)


def _sweep_retry(run_dir: Path, marker: Path, capsys):
    """A sweep whose run folder holds a (planted) checkpoint: the retry resumes from it."""
    spec = {"name": "evil", "base": tiny_config(run_dir).to_dict(), "grid": {"train.seed": [0]}}
    spec["base"]["train"].pop("out_dir")
    run = expand(spec)[0]
    malicious_checkpoint(run_dir / "runs" / run["id"] / "checkpoint.pt", marker)
    with pytest.raises(ValueError) as info:
        run_sweep(spec, run_dir, progress=False)
    return str(info.value)


ENTRY_POINTS = {
    "load_checkpoint": lambda d, m, c: _raises(lambda: load_checkpoint(malicious_checkpoint(d / "c.pt", m))),
    "restore": lambda d, m, c: _raises(lambda: restore(malicious_checkpoint(d / "c.pt", m))),
    "tcdecomp evaluate": lambda d, m, c: _cli(["evaluate", str(malicious_checkpoint(d / "c.pt", m))], c),
    "tcdecomp evaluate folder": lambda d, m, c: _cli(
        ["evaluate", str(malicious_checkpoint(d / "checkpoint.pt", m).parent)], c
    ),
    "train(resume=True)": lambda d, m, c: _raises(
        lambda: train(tiny_config(malicious_checkpoint(d / "checkpoint.pt", m).parent), resume=True, progress=False)
    ),
    "tcdecomp train --resume": lambda d, m, c: _cli(
        [
            "train",
            "--resume",
            "--quiet",
            "--set",
            "model.arch='mlp'",
            "--out-dir",
            str(malicious_checkpoint(d / "checkpoint.pt", m).parent),
        ],
        c,
    ),
    "sweep retry": lambda d, m, c: _sweep_retry(d, m, c),
    "tcdecomp estimate .pt": lambda d, m, c: _cli(["estimate", str(_saved(d / "x.pt", {"x": Payload(m)}))], c),
    "load_arrays .pt": lambda d, m, c: _raises(lambda: load_arrays(_saved(d / "x.pt", Payload(m)))),
    "load_arrays .npy": lambda d, m, c: _raises(lambda: load_arrays(_npy(d / "x.npy", m))),
    "load_arrays .npz": lambda d, m, c: _raises(lambda: load_arrays(_npz(d / "x.npz", m))),
    "load_dsprites_npz": lambda d, m, c: _raises(lambda: load_dsprites_npz(_npz(d / "d.npz", m))),
}


def _raises(call) -> str:
    with pytest.raises(ValueError) as info:
        call()
    return str(info.value)


def _saved(path, obj):
    torch.save(obj, path)
    return path


def _object_array(marker):
    arr = np.empty(1, dtype=object)
    arr[0] = Payload(marker)
    return arr


def _npy(path, marker):
    np.save(path, _object_array(marker), allow_pickle=True)
    return path


def _npz(path, marker):
    np.savez(path, imgs=_object_array(marker), latents_classes=np.zeros((1, 5)))
    return path


@pytest.mark.parametrize("entry", sorted(ENTRY_POINTS))
def test_no_entry_point_runs_code_from_a_file(entry, tmp_path, capsys):
    marker = tmp_path / "ran"
    (tmp_path / "work").mkdir()
    message = ENTRY_POINTS[entry](tmp_path / "work", marker, capsys)
    assert not marker.exists(), f"{entry} ran the payload"
    assert "\n" not in message.strip(), message


def test_the_package_never_unpickles():
    # Every load in the package goes through weights_only=True / allow_pickle=False.
    offenders = []
    for file in (ROOT / "tcdecomp").rglob("*.py"):
        text = file.read_text()
        for pattern in (
            r"weights_only\s*=\s*False",
            r"allow_pickle\s*=\s*True",
            r"^\s*import pickle",
            r"pickle\.loads?\(",
            r"torch\.load\((?![^)]*weights_only=True)",
        ):
            if re.search(pattern, text, re.M):
                offenders.append(f"{file.relative_to(ROOT)}: {pattern}")
    assert not offenders, offenders


def test_a_real_checkpoint_round_trips_with_the_safe_loader(tmp_path):
    run = train(tiny_config(tmp_path / "run"), progress=False)
    state = load_checkpoint(tmp_path / "run")
    assert state["step"] == 2
    restored = restore(tmp_path / "run")
    for (k, a), (_, b) in zip(run.model.state_dict().items(), restored.model.state_dict().items()):
        assert torch.equal(a, b), k


@pytest.mark.slow
def test_evaluate_in_a_fresh_process_refuses_the_payload(tmp_path):
    marker = tmp_path / "ran"
    ckpt = malicious_checkpoint(tmp_path / "run" / "checkpoint.pt", marker)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "tcdecomp", "evaluate", str(ckpt)], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 2 and not marker.exists()
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
