import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from tcdecomp.vae.checkpoint import load_checkpoint
from tcdecomp.vae.config import load_config
from tcdecomp.vae.train import CHECKPOINT, train

CONFIG = """
[model]
arch = "mlp"
latent_dim = 4
capacity = 32
[loss]
name = "beta_stcvae"
beta = 6.0
group_size = 2
[data]
subset = {{ orientation = 10, scale = 3, posX = 4, posY = 4 }}
[train]
steps = {steps}
batch_size = 16
checkpoint_every = 20
log_every = 10
out_dir = "{out}"
"""


def write_config(tmp_path, name, steps):
    path = tmp_path / f"{name}.toml"
    path.write_text(CONFIG.format(steps=steps, out=(tmp_path / name).as_posix()))
    return path


def test_config_overrides(tmp_path):
    cfg = load_config(write_config(tmp_path, "a", 10), ["train.steps=7", "loss.beta=2.5", "data.subset={posX=8}"])
    assert cfg.train.steps == 7 and cfg.loss["beta"] == 2.5 and cfg.data.subset == {"posX": 8}
    with pytest.raises(ValueError, match="section.key=value"):
        load_config(None, ["steps=3"])
    with pytest.raises(ValueError, match="unknown keys"):
        load_config(None, ["train.epochs=3"])


@pytest.mark.slow
def test_killed_run_resumes_to_the_same_weights(tmp_path, one_cpu_thread):
    steps = 600
    # The uninterrupted reference.
    reference = train(load_config(write_config(tmp_path, "ref", steps)), progress=False)
    # The same run in a subprocess, killed once it has checkpointed mid-way ...
    killed_cfg = write_config(tmp_path, "killed", steps)
    env = {**one_cpu_thread, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    proc = subprocess.Popen([sys.executable, "-m", "tcdecomp", "train", str(killed_cfg), "--quiet"], env=env)
    ckpt = tmp_path / "killed" / CHECKPOINT
    deadline = time.time() + 120
    step = 0
    while time.time() < deadline and proc.poll() is None:
        if ckpt.exists():
            step = load_checkpoint(ckpt)["step"]
            if step >= 40:
                break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert 0 < step < steps, "the run was not killed mid-way"
    # ... then resumed.
    resumed = train(load_config(killed_cfg), resume=True, progress=False)
    for (name, a), (_, b) in zip(reference.model.state_dict().items(), resumed.model.state_dict().items()):
        assert torch.equal(a, b), f"{name} differs after resume"
    lines = [json.loads(line) for line in (tmp_path / "killed" / "metrics.jsonl").read_text().splitlines()]
    reference_lines = [json.loads(line) for line in (tmp_path / "ref" / "metrics.jsonl").read_text().splitlines()]
    assert [m["step"] for m in lines] == [m["step"] for m in reference_lines]
    assert lines == reference_lines


def test_a_resume_at_another_thread_count_says_it_is_not_exact(tmp_path, caplog):
    cfg = load_config(write_config(tmp_path, "run", 20))
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        train(cfg, progress=False)
        torch.set_num_threads(2)
        cfg.train.steps = 40
        with caplog.at_level("WARNING", logger="tcdecomp.vae.train"):
            train(cfg, resume=True, progress=False)
    finally:
        torch.set_num_threads(before)
    assert "written with 1 CPU threads, resumed with 2" in caplog.text
