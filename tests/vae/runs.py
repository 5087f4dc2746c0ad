"""Small training runs and subprocess helpers shared by the concurrency and fault-injection tests."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tcdecomp.vae.config import Config, DataConfig, ModelConfig, TrainConfig

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}

CONFIG_TOML = """
[model]
arch = "mlp"
latent_dim = 4
capacity = 16
[loss]
name = "beta_stcvae"
beta = 6.0
group_size = 2
estimator = "bank"
bank_capacity = 32
[data]
subset = {{ orientation = 10, scale = 3, posX = 4, posY = 4 }}
holdout = 0.25
[train]
steps = {steps}
batch_size = 16
checkpoint_every = {checkpoint_every}
log_every = 5
out_dir = "{out}"
"""


def write_config(folder: Path, name: str, steps: int, checkpoint_every: int = 20) -> Path:
    path = folder / f"{name}.toml"
    path.write_text(CONFIG_TOML.format(steps=steps, checkpoint_every=checkpoint_every, out=(folder / name).as_posix()))
    return path


#: the procedural dSprites subset every tiny test run trains on: 3 x 2 x 2 x 4 x 4 = 192 images
TINY_SUBSET = {"orientation": 20, "scale": 3, "posX": 8, "posY": 8}
#: the same subset as a TOML inline table, for sweep and config files
TINY_SUBSET_TOML = "{ " + ", ".join(f"{k} = {v}" for k, v in TINY_SUBSET.items()) + " }"


def tiny_config(out_dir, steps: int = 4, checkpoint_every: int = 2) -> Config:
    """The tiny run every training test uses: a 2-dim MLP VAE of width 8 on TINY_SUBSET, batches of 8."""
    return Config(
        model=ModelConfig(arch="mlp", latent_dim=2, capacity=8),
        loss={"name": "beta_tcvae", "beta": 2.0},
        data=DataConfig(subset=dict(TINY_SUBSET), holdout=0.25),
        train=TrainConfig(
            steps=steps, batch_size=8, checkpoint_every=checkpoint_every, log_every=1, out_dir=str(out_dir)
        ),
    )


def start(args, **kw) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "tcdecomp", *args],
        env=ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kw,
    )


def run(args, timeout=300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tcdecomp", *args], env=ENV, capture_output=True, text=True, timeout=timeout
    )


def wait_for(condition, timeout=120.0, what="condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def lock_held(folder: Path) -> bool:
    """Whether some process holds the folder's flock right now (the lock file outlives its holders)."""
    import fcntl

    lock = folder / ".lock"
    if not lock.exists():
        return False
    with open(lock) as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(fh, fcntl.LOCK_UN)
        return False


def kill(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
    proc.communicate()


def process_alive(pid: int) -> bool:
    """Running (a zombie, which nobody may reap inside a container, counts as dead)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state not in ("Z", "X")
