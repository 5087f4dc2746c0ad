"""Training-step time of beta-STCVAE against beta-VAE on CPU (conv, B = 256, D = 10).

The project's target: a beta-STCVAE step costs at most 1.25x a beta-VAE step; the extra work is one
fused group_logsumexp pass over the B x B posterior pairs for all sets.

    python -m benchmarks.vae_step [--quick] [--device cuda]
"""

from __future__ import annotations

import time

import torch

from tcdecomp.vae.losses import BetaSTCVAE, BetaTCVAE, BetaVAE
from tcdecomp.vae.models import build_vae

from . import harness


def step_time(loss, batch, repeats):
    torch.manual_seed(0)
    model = build_vae("conv", latent_dim=10).to(batch.device)
    loss.to(batch.device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    times = []
    for _ in range(repeats + 1):
        start = time.perf_counter()
        total, _ = loss(model(batch))
        opt.zero_grad()
        total.backward()
        opt.step()
        if batch.device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return sorted(times[1:])[len(times[1:]) // 2]


def run(recorder: harness.Recorder, batch_size=256, repeats=5, device="cpu"):
    x = (torch.rand(batch_size, 1, 64, 64) > 0.8).float().to(device)
    base = step_time(BetaVAE(4.0), x, repeats)
    case = {"arch": "conv", "latent_dim": 10, "batch": batch_size, "repeats": repeats}
    recorder.add({**case, "loss": "beta-VAE"}, {"seconds_per_step": base, "ratio": 1.0})
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
        recorder.add({**case, "loss": name}, {"seconds_per_step": t, "ratio": t / base})


def main(argv=None):
    p = harness.parser("vae_step", __doc__, quick={"batch": 16, "repeats": 1})
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--repeats", type=int, default=5)
    args = harness.parse(p, argv)
    recorder = harness.Recorder(args)
    run(recorder, args.batch, args.repeats, args.device)
    recorder.close()


if __name__ == "__main__":
    main()
