"""Step time of data-parallel training against the number of processes (the demo configuration).

The global batch stays fixed (strong scaling): with N processes each renders, encodes and
decodes B/N images and evaluates the TC estimator on B/N x B tiles against the gathered
global batch. Processes are spawned on this machine with gloo (CPU) or nccl (``--device
cuda``, one GPU per process); the threads per process are ``--threads-total / N`` on CPU.

    python -m benchmarks.ddp_scaling                      # 1 and 2 processes, CPU
    python -m benchmarks.ddp_scaling --nproc 1 2 4 --batch 256 --steps 20
"""

from __future__ import annotations

import os
import socket
import statistics
import time
from pathlib import Path

import torch
import torch.multiprocessing as mp
from torch import distributed as dist

from tcdecomp.distributed import end_worker_process, leave_process_group
from tcdecomp.vae.config import load_config
from tcdecomp.vae.train import DDPModel, build_run, training_step

from . import harness

DEMO = Path(__file__).resolve().parents[1] / "configs" / "demo.toml"


def _worker(rank, world, port, args, queue):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(max(1, args.threads_total // world))
    cuda = args.device == "cuda"
    dist.init_process_group("nccl" if cuda else "gloo", rank=rank, world_size=world)
    device = f"cuda:{rank}" if cuda else "cpu"
    if cuda:
        torch.cuda.set_device(device)
    config = load_config(DEMO, [f"train.batch_size={args.batch}", f'loss.estimator="{args.estimator}"'])
    run = build_run(config)
    run.model.to(device)
    run.loss.to(device)
    run.loss.distributed = world > 1
    model = run.model
    if world > 1:
        from torch.nn.parallel import DistributedDataParallel

        model = DDPModel(DistributedDataParallel(run.model, device_ids=[device] if cuda else None))
    local = args.batch // world
    g = torch.Generator().manual_seed(0)
    times = []
    for step in range(args.warmup + args.steps):
        idx = run.train_idx[torch.randint(len(run.train_idx), (args.batch,), generator=g).numpy()]
        x = run.dataset.images(idx[rank * local : (rank + 1) * local], device=device)
        dist.barrier()
        start = time.perf_counter()
        training_step(run, model, x)  # the training loop's own step
        if cuda:
            torch.cuda.synchronize()
        dist.barrier()
        if step >= args.warmup:
            times.append(time.perf_counter() - start)
    if rank == 0:
        queue.put(statistics.median(times))
        queue.close()
        queue.join_thread()  # the result is in the pipe before the process ends without finalisation
    leave_process_group()
    end_worker_process(0)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main(argv=None):
    parser = harness.parser("ddp_scaling", __doc__, quick={"nproc": [1], "steps": 2, "warmup": 1, "batch": 16})
    parser.add_argument("--nproc", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--batch", type=int, default=64, help="global batch (the demo's: 64)")
    parser.add_argument("--steps", type=int, default=15)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--estimator", default="mss", choices=["mss", "mws", "bank"])
    parser.add_argument("--threads-total", type=int, default=os.cpu_count() or 1)
    args = harness.parse(parser, argv)
    recorder = harness.Recorder(args)
    ctx = mp.get_context("spawn")
    print(
        f"demo config (conv, D=10, beta-STCVAE i=2, {args.estimator}), global batch {args.batch}, {args.device}, "
        f"median of {args.steps} steps after {args.warmup} warm-up"
    )
    print(f"{'processes':>9} {'local batch':>11} {'step (s)':>9} {'vs 1 process':>13}")
    base = None
    for n in args.nproc:
        if args.batch % n:
            print(f"{n:>9}  skipped: the batch {args.batch} is not divisible by {n}")
            continue
        queue = ctx.Queue()
        mp.start_processes(_worker, args=(n, free_port(), args, queue), nprocs=n, join=True, start_method="spawn")
        seconds = queue.get()
        base = base or seconds
        print(f"{n:>9} {args.batch // n:>11} {seconds:>9.3f} {base / seconds:>12.2f}x", flush=True)
        case = {"config": "demo", "estimator": args.estimator, "batch": args.batch, "processes": n, "steps": args.steps}
        recorder.add(case, {"seconds_per_step": seconds, "speedup": base / seconds})
    recorder.close()


if __name__ == "__main__":
    main()
