"""``tcdecomp sweep``: resumable grids of training runs with an append-only result store.

A sweep file is TOML:

    name = "capacity_grouping_small"
    workers = 2
    [base]                      # a training config: [base.model], [base.loss], [base.data], [base.train]
    ...
    [grid]                      # dotted config keys -> lists; the runs are their product
    "model.latent_dim" = [4, 6]
    "model.capacity" = [32, 64]
    "loss.group_size" = "divisors"   # every divisor of model.latent_dim except itself
    "train.seed" = [0, 1]
    [[variants]]                # optional: named override sets, crossed with the grid
    label = "beta-TCVAE_8"
    "loss.name" = "beta_tcvae"
    [evaluate]
    num_samples = 2000          # draws from q(z) for the held-out ELBO decomposition
    mig = false                 # also compute both MIGs

    backend = "ray"             # optional: local (default), ray or submitit
    [ray]                       # options of the backend (tcdecomp.validation.backends)
    address = "auto"

Every run is identified by the hash of its full configuration. Results go to
``<out>/results.jsonl``, one line per finished run, written by the parent process and
flushed to disk before the next; a re-run skips every id already there, so Ctrl-C or a
kill loses at most the runs in flight (a torn last line is ignored). Runs train with
``resume=True`` in ``runs/<id>``, so a run whose worker died is executed again from its
last checkpoint, and the parent records every id once.
"""
from __future__ import annotations

import copy
import hashlib
import itertools
import json
import logging
import os
import socket
import time
import tomllib
from pathlib import Path

from tqdm.auto import tqdm

log = logging.getLogger(__name__)

RESULTS = "results.jsonl"


def divisors_below(n: int) -> list[int]:
    """Every divisor of n except n itself: the grouping factors of the paper's sweep."""
    return [i for i in range(1, n) if n % i == 0] or [1]


def grouping_coefficient(group_size: int, latent_dim: int) -> float:
    """i / m with m the largest divisor of D below D (paper section 4.2)."""
    return group_size / max(divisors_below(latent_dim))


def load_sweep(path) -> dict:
    file = Path(path)
    if not file.is_file():
        raise ValueError(f"sweep file not found: {path}")
    with open(file, "rb") as fh:
        spec = tomllib.load(fh)
    for key in ("name", "base", "grid"):
        if key not in spec:
            raise ValueError(f"sweep file {path} needs a '{key}' entry")
    return spec


def _set(config: dict, dotted: str, value) -> None:
    section, key = dotted.split(".", 1)
    if section not in ("model", "loss", "data", "train"):
        raise ValueError(f"grid key {dotted!r} must start with model., loss., data. or train.")
    config.setdefault(section, {})[key] = value


def expand(spec: dict) -> list[dict]:
    """Every run of the sweep: {"id", "label", "config"} with the config as a plain dict."""
    grid = dict(spec["grid"])
    divisor_key = [k for k, v in grid.items() if v == "divisors"]
    for k in divisor_key:
        grid.pop(k)
    keys = list(grid)
    runs = []
    variants = spec.get("variants") or [{"label": ""}]
    for variant in variants:
        for values in itertools.product(*(grid[k] for k in keys)):
            config = copy.deepcopy(spec["base"])
            for k, v in variant.items():
                if k != "label":
                    _set(config, k, v)
            for k, v in zip(keys, values):
                _set(config, k, v)
            dim = config.get("model", {}).get("latent_dim", 10)
            for group_sizes in ([divisors_below(dim)] if divisor_key else [[None]]):
                for i in group_sizes:
                    run = copy.deepcopy(config)
                    if i is not None:
                        for k in divisor_key:
                            _set(run, k, i)
                    runs.append({"id": run_id(run), "label": variant.get("label", ""), "config": run})
    return runs


def run_id(config: dict) -> str:
    canonical = copy.deepcopy(config)
    canonical.get("train", {}).pop("out_dir", None)
    return hashlib.sha1(json.dumps(canonical, sort_keys=True).encode()).hexdigest()[:16]


def read_results(path) -> list[dict]:
    """Finished runs in the store; a torn (half-written) line from a kill is skipped."""
    path = Path(path)
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            log.warning("skipping a torn line in %s", path)
    return out


def _append(path: Path, record: dict) -> None:
    text = path.read_text() if path.exists() else ""
    if text and not text.endswith("\n"):  # a kill tore the last line: start on a fresh one
        with open(path, "a") as fh:
            fh.write("\n")
    with open(path, "a") as fh:
        fh.write(json.dumps(record) + "\n")
        fh.flush()
        os.fsync(fh.fileno())


def execute_run(run: dict, out_dir: str, evaluate_cfg: dict) -> dict:
    """Train and evaluate one run (in a worker process, one thread); returns its record."""
    import torch

    from ..vae.config import Config
    from ..vae.evaluate import evaluate
    from ..vae.train import train

    torch.set_num_threads(1)
    start = time.time()
    config = Config.from_dict(run["config"])
    run_dir = Path(out_dir) / "runs" / run["id"]
    config.train.out_dir = str(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    # Which process holds the run (for finding a stuck or dead worker); replaced on a retry.
    (run_dir / "running.json").write_text(json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "start": start}))
    trained = train(config, resume=True, progress=False)
    result = evaluate(trained, None, num_samples=evaluate_cfg.get("num_samples", 2000),
                      mig_points=evaluate_cfg.get("mig_points"), with_mig=evaluate_cfg.get("mig", False))
    return {"id": run["id"], "label": run["label"], "config": run["config"], "seconds": time.time() - start,
            "pid": os.getpid(), **result}


def run_sweep(spec: dict, out_dir, workers: int | None = None, progress: bool = True,
              backend: str | None = None, options: dict | None = None) -> list[dict]:
    """Run every unfinished run of ``spec`` on ``backend``; returns all records in the store.

    ``backend`` (default: the file's ``backend``, else ``"local"``) and ``options`` (merged over
    the file's table of that name) are described in :mod:`tcdecomp.validation.backends`.
    """
    from .backends import BACKENDS, RUNNERS

    backend = backend or spec.get("backend", "local")
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    options = {**spec.get(backend, {}), **(options or {})}
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    store = out / RESULTS
    done = {r["id"] for r in read_results(store)}
    todo = [r for r in expand(spec) if r["id"] not in done]
    log.info("%d runs, %d finished, %d to go on %s", len(done) + len(todo), len(done), len(todo), backend)
    workers = workers or spec.get("workers", 1)
    bar = tqdm(total=len(done) + len(todo), initial=len(done), disable=not progress, desc=spec["name"])
    for record in RUNNERS[backend](execute_run, todo, (str(out), spec.get("evaluate", {})), workers, options):
        if record["id"] in done:  # a run executed twice (a retry raced its first attempt): keep the first
            log.warning("run %s finished twice; keeping the first record", record["id"])
            continue
        _append(store, record)
        done.add(record["id"])
        bar.update(1)
    bar.close()
    return read_results(store)
