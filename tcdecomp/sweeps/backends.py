"""Where a sweep's runs execute: local processes (default), a Ray cluster, or Slurm through submitit.

Every backend hands finished records back to the parent, which alone writes the result
store (:func:`tcdecomp.sweeps.runner.run_sweep`), so the store stays the single source of
truth. A run is identified by its config hash and trains into ``runs/<id>`` with
``resume=True``: a run whose worker died is simply executed again and continues from its
last checkpoint, and the parent records each id once.

* ``local``: a spawn process pool on this machine. Its workers die with the sweep process:
  a parent-death signal on Linux, and on every platform a watchdog thread that exits once the
  worker's parent has changed, so killing the sweep never leaves workers training or starting runs.
* ``ray``: ``ray.init(address=...)`` joins an existing cluster (``"auto"``, or
  ``"ray://host:10001"``); with no address a local Ray instance with ``workers`` CPUs is
  started. Each run is a task with one CPU and ``max_retries`` retries when its worker dies.
* ``submitit``: one job per run on Slurm (``[submitit]`` in the sweep file is passed to
  ``AutoExecutor.update_parameters``, e.g. ``slurm_partition``, ``timeout_min``,
  ``gpus_per_node``; ``cluster = "local"`` runs jobs as local processes). A job that
  fails is resubmitted up to ``max_retries`` times.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from multiprocessing import get_context
from pathlib import Path

log = logging.getLogger(__name__)

BACKENDS = ("local", "ray", "submitit")
INSTALL = {
    "ray": "the ray backend needs Ray: pip install 'tcdecomp[distributed]' (or pip install ray)",
    "submitit": "the submitit backend needs submitit: pip install 'tcdecomp[distributed]' (or pip install submitit)",
}


def _require(module: str):
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise ValueError(INSTALL[module]) from None


#: how often a worker checks that the sweep process is still its parent
WATCHDOG_SECONDS = 0.5
PR_SET_PDEATHSIG = 1


def _watch_parent(parent_pid: int) -> None:
    while True:
        if os.getppid() != parent_pid:
            os._exit(1)  # the sweep died: stop now, without finishing this run or starting the next
        time.sleep(WATCHDOG_SECONDS)


def die_with_parent(parent_pid: int) -> None:
    """Worker initializer: end this process when ``parent_pid`` dies (kill -9 included)."""
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent_pid:  # the parent died before the signal was armed
        os._exit(1)
    threading.Thread(target=_watch_parent, args=(parent_pid,), daemon=True, name="parent-watchdog").start()


def run_local(execute: Callable, runs: list, args: tuple, workers: int, options: dict) -> Iterator[dict]:
    if workers <= 1:
        for run in runs:
            yield execute(run, *args)
        return
    with ProcessPoolExecutor(
        max_workers=workers, mp_context=get_context("spawn"), initializer=die_with_parent, initargs=(os.getpid(),)
    ) as pool:
        futures = [pool.submit(execute, run, *args) for run in runs]
        for future in as_completed(futures):
            yield future.result()


def run_ray(execute: Callable, runs: list, args: tuple, workers: int, options: dict) -> Iterator[dict]:
    ray = _require("ray")
    address = options.get("address")
    started = False
    if not ray.is_initialized():
        if address:
            ray.init(address=address)
        else:  # a local instance: a cluster of this machine's `workers` CPUs
            ray.init(num_cpus=max(workers, 1), include_dashboard=False)
        started = True
    try:
        task = ray.remote(
            num_cpus=options.get("num_cpus", 1),
            num_gpus=options.get("num_gpus", 0),
            max_retries=options.get("max_retries", 3),
            retry_exceptions=False,
        )(execute)
        pending = {task.remote(run, *args): run["id"] for run in runs}
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            for ref in ready:
                pending.pop(ref)
                yield ray.get(ref)
    finally:
        if started:
            ray.shutdown()


def run_submitit(execute: Callable, runs: list, args: tuple, workers: int, options: dict) -> Iterator[dict]:
    submitit = _require("submitit")
    opts = dict(options)
    folder = Path(opts.pop("folder", Path(args[0]) / "submitit"))
    retries = opts.pop("max_retries", 2)
    poll = opts.pop("poll_seconds", 2.0)
    executor = submitit.AutoExecutor(folder=folder, cluster=opts.pop("cluster", None))
    if opts:
        executor.update_parameters(**opts)
    jobs = {run["id"]: (executor.submit(execute, run, *args), run, 0) for run in runs}
    while jobs:
        for run_id, (job, run, tries) in list(jobs.items()):
            if not job.done():
                continue
            del jobs[run_id]
            try:
                yield job.result()
            except Exception as exc:  # the job died or failed: run it again (it resumes from its checkpoint)
                if tries >= retries:
                    raise
                log.warning("run %s failed (%s); resubmitting (%d of %d)", run_id, exc, tries + 1, retries)
                jobs[run_id] = (executor.submit(execute, run, *args), run, tries + 1)
        if jobs:
            time.sleep(poll)


RUNNERS = {"local": run_local, "ray": run_ray, "submitit": run_submitit}
