"""Training-step time of beta-STCVAE against beta-VAE on CPU (conv, B = 256, D = 10).

The project's target: a beta-STCVAE step costs at most 1.25x a beta-VAE step; the extra work is one
fused group_logsumexp pass over the B x B posterior pairs for all sets.

    python3 benchmarks/vae_step.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tcdecomp.vae.losses import BetaSTCVAE, BetaTCVAE, BetaVAE  # noqa: E402
from tcdecomp.vae.models import build_vae  # noqa: E402


def step_time(loss, batch, repeats):
    torch.manual_seed(0)
    model = build_vae("conv", latent_dim=10)
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    times = []
    for _ in range(repeats + 1):
        start = time.perf_counter()
        total, _ = loss(model(batch))
        opt.zero_grad()
        total.backward()
        opt.step()
        times.append(time.perf_counter() - start)
    return sorted(times[1:])[len(times[1:]) // 2]


def main(batch_size=256, repeats=5):
    x = (torch.rand(batch_size, 1, 64, 64) > 0.8).float()
    base = step_time(BetaVAE(4.0), x, repeats)
    print(f"conv VAE, B={batch_size}, D=10, {torch.get_num_threads()} threads; median of {repeats} steps")
    print(f"{'loss':<26}{'s/step':>9}{'ratio':>8}")
    print(f"{'beta-VAE':<26}{base:>9.3f}{1.0:>8.2f}")
    for name, loss in [
        ("beta-TCVAE (mss)", BetaTCVAE(737280)),
        ("beta-STCVAE i=2 (mss)", BetaSTCVAE(737280, group_size=2)),
        ("beta-STCVAE i=2 (bank 4096)", BetaSTCVAE(737280, group_size=2, estimator="bank", bank_capacity=4096)),
    ]:
        if loss.bank is not None:
            loss.bank.update(torch.randn(4096, 10), torch.zeros(4096, 10))
        t = step_time(loss, x, repeats)
        print(f"{name:<26}{t:>9.3f}{t / base:>8.2f}")


if __name__ == "__main__":
    main()
