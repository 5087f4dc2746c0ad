"""Data parallelism: 2 gloo processes on the CPU must reproduce one process on the global batch."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp
from torch import distributed as dist
from torch import nn

from tcdecomp import Posterior
from tcdecomp.distributed import end_worker_process, leave_process_group
from tcdecomp.vae.checkpoint import load_checkpoint
from tcdecomp.vae.losses import build_loss
from tcdecomp.vae.models import VAEOutput, build_vae
from tcdecomp.vae.train import DDPModel

GLOBAL, D, N = 8, 4, 1000
CASES = {
    "stcvae_mss": dict(name="beta_stcvae", group_size=2, estimator="mss"),
    "tcvae_mws": dict(name="beta_tcvae", estimator="mws"),
    "hfvae_bank": dict(name="hfvae", group_size=2, gamma=2.0, estimator="bank", bank_capacity=6),
    "dipvae": dict(name="dipvae", lambda_od=3.0),
}


class FixedNoiseVAE(nn.Module):
    """The VAE with given reparameterisation noise, so both runs sample the same z."""

    def __init__(self, vae, eps):
        super().__init__()
        self.vae = vae
        self.eps = eps  # not a buffer: DDP would overwrite every process's buffers with process 0's

    def forward(self, x):
        mu, logvar = self.vae.encode(x)
        z = mu + torch.exp(0.5 * logvar) * self.eps
        logits = self.vae.decode(z)
        return VAEOutput(mu, logvar, z, self.vae.log_likelihood(x, logits), logits)

    def log_likelihood(self, x, logits):
        return self.vae.log_likelihood(x, logits)


def make_case(name):
    torch.manual_seed(0)
    vae = build_vae("mlp", D, 16, image_shape=(1, 6, 6)).double()
    x = torch.rand(GLOBAL, 1, 6, 6, dtype=torch.float64)
    eps = torch.randn(GLOBAL, D, dtype=torch.float64)
    params = {k: v for k, v in CASES[name].items() if k != "name"}
    loss = build_loss(CASES[name]["name"], dataset_size=N, latent_dim=D, **params)
    if getattr(loss, "bank", None) is not None:  # an already filled bank, the same in every process
        loss.bank.update(torch.randn(5, D, dtype=torch.float64), torch.randn(5, D, dtype=torch.float64) * 0.3)
    return vae, x, eps, loss


def run_case(name, rows=slice(None), wrap=lambda m: m):
    vae, x, eps, loss = make_case(name)
    loss.distributed = dist.is_initialized()
    model = wrap(FixedNoiseVAE(vae, eps[rows]))
    out = model(x[rows])
    total, _ = loss(out)
    total.backward()
    loss.after_step(out)
    bank = None if getattr(loss, "bank", None) is None else loss.bank.mu.clone()
    return total.detach(), [p.grad.clone() for p in vae.parameters()], bank


def _worker(rank, world, port, out):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world)
    from torch.nn.parallel import DistributedDataParallel

    local = GLOBAL // world
    results = {}
    for name in CASES:
        total, grads, bank = run_case(
            name, slice(rank * local, (rank + 1) * local), lambda m: DDPModel(DistributedDataParallel(m))
        )
        dist.all_reduce(total)
        results[name] = (total / world, grads, bank)
    if rank == 0:
        torch.save(results, out)
    leave_process_group()
    end_worker_process(0)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_two_gloo_processes_match_one_process_on_the_global_batch(tmp_path):
    out = tmp_path / "ddp.pt"
    mp.spawn(_worker, args=(2, free_port(), str(out)), nprocs=2, join=True)
    ddp = torch.load(out, weights_only=True)
    for name in CASES:
        total, grads, bank = run_case(name)
        d_total, d_grads, d_bank = ddp[name]
        assert abs(float(total - d_total)) < 1e-6, name
        assert max(float((g - h).abs().max()) for g, h in zip(grads, d_grads)) < 1e-6, name
        assert float(torch.cat([g.flatten() for g in grads]).abs().max()) > 1e-3  # gradients are not trivially zero
        if bank is not None:  # the bank took the global batch, in the same order
            assert torch.equal(bank, d_bank), name


def test_a_worker_ends_with_its_code_and_its_output_flushed(tmp_path):
    # end_worker_process skips interpreter finalisation; what was printed or logged must still arrive.
    log = tmp_path / "worker.log"
    script = (
        "import logging, sys\n"
        "from tcdecomp.distributed import end_worker_process\n"
        f"logging.getLogger().addHandler(logging.FileHandler({str(log)!r}))\n"
        "logging.getLogger().warning('logged line')\n"
        "sys.stdout.write('unterminated stdout'); sys.stderr.write('unterminated stderr')\n"
        "end_worker_process(3)\n"
        "print('not reached')\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 3
    assert done.stdout == "unterminated stdout" and done.stderr.endswith("unterminated stderr")
    assert log.read_text() == "logged line\n"


def test_rotated_components_keep_the_weights_of_each_row(monkeypatch):
    # Process 1 of 2 holds rows 4..7 of a global batch of 8. The gathered components are rotated so
    # that its row b's own component is column b and the designated one column b + 1 (mod 8), so its
    # log q^ equals rows 4..7 of one process holding the whole batch.
    import tcdecomp.distributed as distributed
    import tcdecomp.posterior as posterior

    g = torch.Generator().manual_seed(0)
    mu_all = torch.randn(8, 3, generator=g, dtype=torch.float64)
    lv_all = 0.3 * torch.randn(8, 3, generator=g, dtype=torch.float64)
    z_all = mu_all + torch.exp(0.5 * lv_all) * torch.randn(8, 3, generator=g, dtype=torch.float64)
    mine = slice(4, 8)

    def gathered(x):  # what all_gather_rows returns on rank 1: rank 0's rows, then ours; our first row is 4
        full = mu_all if torch.equal(x, mu_all[mine]) else lv_all
        return torch.cat([full[:4], x]), 4

    monkeypatch.setattr(distributed, "all_gather_rows", gathered)
    monkeypatch.setattr(posterior, "require_process_group", lambda: None)
    sets = [[0, 1, 2], [0], [1, 2]]
    for estimator in ("mss", "mws"):
        whole = Posterior(mu_all, lv_all, z=z_all, dataset_size=50, estimator=estimator).log_density(sets)
        local = Posterior(
            mu_all[mine], lv_all[mine], z=z_all[mine], dataset_size=50, estimator=estimator, distributed=True
        ).log_density(sets)
        torch.testing.assert_close(local, whole[mine], rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match="minibatch estimators"):
        Posterior(mu_all, lv_all, estimator="exact", distributed=True)


def test_distributed_needs_a_process_group():
    mu, logvar = torch.randn(6, 3, dtype=torch.float64), torch.zeros(6, 3, dtype=torch.float64)
    with pytest.raises(ValueError, match="init_process_group"):
        Posterior(mu, logvar, dataset_size=50, estimator="mss", distributed=True)


CONFIG = """
[model]
arch = "mlp"
latent_dim = 4
capacity = 32
[loss]
name = "beta_stcvae"
group_size = 2
estimator = "bank"
bank_capacity = 64
[data]
subset = {shape = 1, scale = 3, orientation = 8, posX = 4, posY = 4}
[train]
steps = 12
batch_size = 16
checkpoint_every = 6
log_every = 3
"""


def _train(tmp_path, out, *extra):
    cfg = tmp_path / "c.toml"
    cfg.write_text(CONFIG)
    cmd = [
        sys.executable,
        "-m",
        "tcdecomp",
        "train",
        str(cfg),
        "--nproc",
        "2",
        "--quiet",
        "--out-dir",
        str(out),
        *extra,
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    return load_checkpoint(Path(out) / "checkpoint.pt")


@pytest.mark.slow
def test_nproc_training_checkpoints_and_resumes_exactly(tmp_path):
    full = _train(tmp_path, tmp_path / "full")
    assert full["step"] == 12 and len(full["torch_rng_ranks"]) == 2
    assert not torch.equal(full["torch_rng_ranks"][0], full["torch_rng_ranks"][1])
    _train(tmp_path, tmp_path / "half", "--set", "train.steps=6")
    resumed = _train(tmp_path, tmp_path / "half", "--resume")
    for k, v in full["model"].items():
        assert torch.equal(v, resumed["model"][k]), k
    assert torch.equal(full["loss"]["bank.mu"], resumed["loss"]["bank.mu"])
    lines = [json.loads(s) for s in (tmp_path / "half" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in lines] == [3, 6, 9, 12]


def test_cli_checks_nproc_and_backend_options(tmp_path, capsys):
    from tcdecomp.cli import main

    assert main(["train", "--nproc", "0"]) == 2
    assert "argument --nproc: must be an integer >= 1" in capsys.readouterr().err
    sweep = Path(__file__).resolve().parents[2] / "experiments" / "mig_calibrated.toml"
    assert (
        main(["sweep", str(sweep), "--backend", "submitit", "--ray-address", "auto", "--out-dir", str(tmp_path)]) == 2
    )
    assert "--ray-address is for --backend ray" in capsys.readouterr().err


def test_shipped_demo_config_is_the_demo():
    from tcdecomp.vae.config import load_config
    from tcdecomp.vae.demo import demo_config

    path = Path(__file__).resolve().parents[2] / "configs" / "demo.toml"
    assert load_config(path).to_dict() == demo_config().to_dict()
