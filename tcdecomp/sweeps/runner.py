"""``tcdecomp sweep``: resumable grids of training runs with an append-only result store.

A sweep file is TOML:

    name = "capacity_grouping_calibrated"
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
    [ray]                       # options of the backend (tcdecomp.sweeps.backends)
    address = "auto"

Every key is checked when the file is loaded (:func:`load_sweep`), and every run's config is
expanded and validated before the first run starts. Every run is identified by the hash of
its full configuration. Results go to ``<out>/results.jsonl``, one line per finished run,
written by the parent process, which holds the folder's lock (a second sweep on the same
folder is refused) and fsyncs each line before the next; a re-run skips every id already
there, so Ctrl-C or a kill loses at most the runs in flight (a torn last line is ignored,
and an id is read once even if a line repeats it). Runs train with ``resume="auto"`` in
``runs/<id>``, so a run whose worker died is executed again from its last checkpoint.
Local worker processes die with the sweep process that started them.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
import logging
import os
import re
import socket
import time
from pathlib import Path

from tqdm.auto import tqdm

from .._checks import check_choice, check_positive_int
from ..files import DirectoryLock, append_jsonl, read_jsonl, read_toml
from ..plans import divisors_below

log = logging.getLogger(__name__)

RESULTS = "results.jsonl"
#: the sweep definition a store was started with: its records mean nothing under another one
SPEC_FILE = "sweep.json"
#: what a re-run may change: the grid (runs are independent, keyed by config hash) and where runs execute
SPEC_FREE_KEYS = ("grid", "workers", "backend", "local", "ray", "submitit")
KINDS = ("capacity_grouping", "mig")
TOP_KEYS = {"name", "kind", "workers", "base", "grid", "variants", "evaluate", "backend", "local", "ray", "submitit"}
#: the option tables of the backends (None: passed on to the engine, which checks them itself)
BACKEND_OPTIONS = {"local": set(), "ray": {"address", "num_cpus", "num_gpus", "max_retries"}, "submitit": None}
EVALUATE_KEYS = {"num_samples": "a positive integer", "mig": "true or false", "mig_points": "a positive integer"}


def load_sweep(path) -> dict:
    """A sweep file, every key and value checked, and every run it expands to validated: one line on a mistake."""
    spec = read_toml(path, "sweep file")
    try:
        check_sweep(spec)
    except ValueError as exc:
        raise ValueError(f"sweep file {path}: {exc}") from None
    return spec


def check_sweep(spec: dict) -> None:
    """Refuse unknown keys and values, an empty or ill-formed grid, and any run whose config is invalid."""
    from ..vae.config import Config, check_config
    from .backends import BACKENDS

    unknown = set(spec) - TOP_KEYS
    if unknown:
        raise ValueError(f"unknown keys {sorted(unknown)}; known: {sorted(TOP_KEYS)}")
    for key in ("name", "base", "grid"):
        if key not in spec:
            raise ValueError(f"needs a '{key}' entry")
    if (
        not isinstance(spec["name"], str)
        or not re.fullmatch(r"[A-Za-z0-9_.-]+", spec["name"])
        or spec["name"] in (".", "..")
    ):
        raise ValueError(f"name={spec['name']!r} must be a plain folder name (letters, digits, _ . -)")
    check_choice(spec.get("kind", "capacity_grouping"), KINDS, "kind")
    if "workers" in spec:
        check_positive_int(spec["workers"], "workers")
    check_choice(spec.get("backend", "local"), BACKENDS, "backend")
    for table, known in BACKEND_OPTIONS.items():
        extra = set(spec.get(table, {})) - known if known is not None else set()
        if not isinstance(spec.get(table, {}), dict) or extra:
            raise ValueError(f"[{table}] has unknown keys {sorted(extra)}; known: {sorted(known)}")
    evaluate = spec.get("evaluate", {})
    if not isinstance(evaluate, dict) or set(evaluate) - set(EVALUATE_KEYS):
        raise ValueError(
            f"[evaluate] has unknown keys {sorted(set(evaluate) - set(EVALUATE_KEYS))}; known: {sorted(EVALUATE_KEYS)}"
        )
    for key, value in evaluate.items():
        ok = (
            isinstance(value, bool)
            if key == "mig"
            else (isinstance(value, int) and not isinstance(value, bool) and value > 0)
        )
        if not ok:
            raise ValueError(f"evaluate.{key}={value!r} must be {EVALUATE_KEYS[key]}")
    if not isinstance(spec["base"], dict):
        raise ValueError("[base] must be a table of config sections")
    _check_grid(spec.get("grid"), spec.get("variants"))
    runs = expand(spec)
    if not runs:
        raise ValueError("the grid expands to no runs")
    seen = {}
    for run in runs:
        if run["id"] in seen:
            raise ValueError(
                f"runs {seen[run['id']] or run['id']!r} and {run['label'] or run['id']!r} have the same "
                "config: a variant or grid value changes nothing"
            )
        seen[run["id"]] = run["label"]
    for run in runs:
        try:
            check_config(Config.from_dict(run["config"]))
        except ValueError as exc:
            raise ValueError(f"run {run['label'] or run['id']} ({_grid_values(run['config'], spec)}): {exc}") from None


def _grid_values(config: dict, spec: dict) -> str:
    keys = list(spec["grid"]) + [k for v in spec.get("variants") or [] for k in v if k != "label"]
    return ", ".join(f"{k}={config.get(k.split('.', 1)[0], {}).get(k.split('.', 1)[1])!r}" for k in dict.fromkeys(keys))


def _check_dotted(key: str, where: str) -> None:
    if not isinstance(key, str) or key.count(".") < 1 or key.split(".", 1)[0] not in ("model", "loss", "data", "train"):
        raise ValueError(f"{where} key {key!r} must be section.key with section model, loss, data or train")


def _check_grid(grid, variants) -> None:
    if not isinstance(grid, dict) or not grid:
        raise ValueError('[grid] is empty; give at least one key, e.g. "train.seed" = [0, 1]')
    for key, values in grid.items():
        _check_dotted(key, "[grid]")
        if values == "divisors":
            if key != "loss.group_size":
                raise ValueError(f'grid."{key}" = "divisors" applies to loss.group_size only')
            continue
        if not isinstance(values, list) or not values:
            raise ValueError(f'grid."{key}" must be a non-empty list of values, got {values!r}')
        if len({json.dumps(v, sort_keys=True) for v in values}) != len(values):
            raise ValueError(f'grid."{key}" repeats a value: {values}')
    if variants is None:
        return
    if not isinstance(variants, list) or not variants:
        raise ValueError("[[variants]] must be a non-empty list of tables")
    labels = []
    for variant in variants:
        if not isinstance(variant, dict) or not isinstance(variant.get("label"), str) or not variant["label"]:
            raise ValueError(f'every [[variants]] table needs a label = "...", got {variant!r}')
        labels.append(variant["label"])
        for key, value in variant.items():
            if key != "label":
                _check_dotted(key, f"variant {variant['label']!r}")
            if value == "divisors" and key != "loss.group_size":
                raise ValueError(f'variant {variant["label"]!r}: "divisors" applies to loss.group_size only')
    if len(set(labels)) != len(labels):
        raise ValueError(f"variant labels repeat: {labels}")


def _set(config: dict, dotted: str, value) -> None:
    section, key = dotted.split(".", 1)
    if section not in ("model", "loss", "data", "train"):
        raise ValueError(f"grid key {dotted!r} must start with model., loss., data. or train.")
    config.setdefault(section, {})[key] = value


def expand(spec: dict) -> list[dict]:
    """Every run of the sweep: {"id", "label", "config"} with the config as a plain dict.

    ``"loss.group_size" = "divisors"``, in the grid or in one variant, expands to every divisor of
    that run's latent dim except the dim itself."""
    grid = {k: v for k, v in spec["grid"].items() if v != "divisors"}
    grid_divisors = [k for k, v in spec["grid"].items() if v == "divisors"]
    keys = list(grid)
    runs = []
    variants = spec.get("variants") or [{"label": ""}]
    for variant in variants:
        divisor_keys = grid_divisors + [k for k, v in variant.items() if v == "divisors"]
        for values in itertools.product(*(grid[k] for k in keys)):
            config = copy.deepcopy(spec["base"])
            for k, v in variant.items():
                if k != "label" and v != "divisors":
                    _set(config, k, v)
            for k, v in zip(keys, values):
                _set(config, k, v)
            dim = config.get("model", {}).get("latent_dim", 10)
            for i in divisors_below(dim) if divisor_keys else [None]:
                run = copy.deepcopy(config)
                for k in divisor_keys:
                    _set(run, k, i)
                runs.append({"id": run_id(run), "label": variant.get("label", ""), "config": run})
    return runs


def canonical_config(config: dict) -> dict:
    """A run's config as runs are identified: a whole number given where the setting is a float (``beta = 6``
    against the default 6.0, ``train.lr = 1``) becomes that float, so ``[6, 6.0]`` is one run, not two. Integer
    settings keep their type; settings without a typed default keep their value."""
    from dataclasses import fields

    from ..vae.config import SECTIONS
    from ..vae.losses import LOSSES, loss_defaults

    out = copy.deepcopy(config)
    for section, cls in SECTIONS.items():
        floats = {f.name for f in fields(cls) if f.type in (float, "float")}
        _floats(out.get(section), floats)
    loss = out.get("loss")
    if isinstance(loss, dict) and loss.get("name") in LOSSES:
        _floats(loss, {k for k, v in loss_defaults(loss["name"]).items() if isinstance(v, float)})
    return out


def _floats(section, names) -> None:
    if isinstance(section, dict):
        for key in names & set(section):
            value = section[key]
            if isinstance(value, int) and not isinstance(value, bool):
                section[key] = float(value)


def run_id(config: dict) -> str:
    canonical = canonical_config(config)
    canonical.get("train", {}).pop("out_dir", None)
    return hashlib.sha1(json.dumps(canonical, sort_keys=True).encode()).hexdigest()[:16]


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


#: what every finished run's record holds: key -> (test, what it must be)
RECORD_SCHEMA = {
    "id": (lambda v: isinstance(v, str) and re.fullmatch(r"[0-9a-f]{16}", v) is not None, "a run id"),
    "label": (lambda v: isinstance(v, str), "a string"),
    "config": (
        lambda v: isinstance(v, dict) and all(isinstance(v.get(k), dict) for k in ("model", "loss", "data", "train")),
        "a config with model, loss, data and train",
    ),
    "seconds": (lambda v: _is_number(v) and v >= 0, "a number of seconds"),
    "decomposition": (
        lambda v: isinstance(v, dict) and isinstance(v.get("elbo"), dict) and _is_number(v["elbo"].get("value")),
        "the held-out ELBO decomposition",
    ),
}
#: results a record holds when the sweep asked for them
MIG_KEYS = ("mig_sampled",)


def record_problem(record: dict) -> str | None:
    """Why ``record`` is not a finished run's record (None when it is one)."""
    for key, (ok, what) in RECORD_SCHEMA.items():
        if key not in record:
            return f"it has no {key}"
        if not ok(record[key]):
            return f"its {key} is not {what}"
    for key in MIG_KEYS:
        if key in record and not (isinstance(record[key], dict) and _is_number(record[key].get("mig"))):
            return f"its {key} is not a MIG result"
    return None


def read_results(path) -> list[dict]:
    """Finished runs in the store, each id once (the first record). Torn lines from a kill, and lines that are
    JSON but not a run's record, are skipped with a warning: such a run is not finished and runs again."""
    out, seen = [], set()
    for number, record in enumerate(read_jsonl(path), start=1):
        problem = record_problem(record)
        if problem:
            log.warning(
                "%s: record %d is not a finished run (%s); skipped, the run is not counted", path, number, problem
            )
            continue
        if record["id"] in seen:
            log.warning("run %s appears twice in %s; keeping the first record", record["id"], path)
            continue
        seen.add(record["id"])
        out.append(record)
    return out


def _check_same_sweep(out: Path, spec: dict) -> None:
    """Record the sweep's definition in a new store; refuse to add to a store started under another one."""
    from ..files import atomic_write_text
    from ..vae.config import changed_keys

    fixed = {k: v for k, v in spec.items() if k not in SPEC_FREE_KEYS}
    path = out / SPEC_FILE
    if path.exists():
        try:
            before = json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError):
            before = None
        if not isinstance(before, dict):
            raise ValueError(
                f"{path} is corrupted (not the JSON object a sweep writes); move the folder aside or restore it"
            )
        changed = changed_keys(before, json.loads(json.dumps(fixed)), allowed=())
        if changed:
            raise ValueError(
                f"{out} holds a sweep started with another definition: {'; '.join(changed)}; "
                "only the grid, workers and backend may change (use another --out-dir)"
            )
    elif (out / RESULTS).exists():
        raise ValueError(
            f"{out} holds {RESULTS} but no {SPEC_FILE}, so what its runs were is unknown; move it aside or choose "
            "another --out-dir"
        )
    atomic_write_text(path, json.dumps(fixed, indent=2, sort_keys=True))


def _refuse_training_run(out: Path) -> None:
    """A training run's folder is not a sweep's store: refuse to add a store (and its runs) to one."""
    from ..vae.run_folder import EVALUATION_OUTPUTS, TRAINING_OUTPUTS, present

    found = present(out, TRAINING_OUTPUTS + EVALUATION_OUTPUTS)
    if found:
        raise ValueError(
            f"{out} holds a training run ({', '.join(found)}), not a sweep's store; choose another --out-dir"
        )


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
    (run_dir / "running.json").write_text(
        json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "start": start})
    )
    trained = train(config, resume="auto", progress=False, wait_for_lock=True)
    result = evaluate(
        trained,
        None,
        num_samples=evaluate_cfg.get("num_samples", 2000),
        mig_points=evaluate_cfg.get("mig_points"),
        with_mig=evaluate_cfg.get("mig", False),
    ).to_dict()
    full = config.to_dict()  # every key, defaults included, so summaries never miss one
    full["train"].pop("out_dir")
    return {
        "id": run["id"],
        "label": run["label"],
        "config": full,
        "seconds": time.time() - start,
        "pid": os.getpid(),
        **result,
    }


def run_sweep(
    spec: dict,
    out_dir,
    workers: int | None = None,
    progress: bool = True,
    backend: str | None = None,
    options: dict | None = None,
) -> list[dict]:
    """Run every unfinished run of ``spec`` on ``backend``; returns all records in the store.

    ``backend`` (default: the file's ``backend``, else ``"local"``) and ``options`` (merged over
    the file's table of that name) are described in :mod:`tcdecomp.sweeps.backends`. What the records say
    about the paper's figures is :func:`tcdecomp.experiments.figures.write_summary`'s business.
    """
    from .backends import BACKENDS, RUNNERS

    backend = backend or spec.get("backend", "local")
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    workers = check_positive_int(spec.get("workers", 1) if workers is None else workers, "workers")
    options = {**spec.get(backend, {}), **(options or {})}
    out = Path(out_dir)
    with DirectoryLock(out, "sweep"):
        _refuse_training_run(out)
        _check_same_sweep(out, spec)
        store = out / RESULTS
        done = {r["id"] for r in read_results(store)}
        todo = [r for r in expand(spec) if r["id"] not in done]
        log.info("%d runs, %d finished, %d to go on %s", len(done) + len(todo), len(done), len(todo), backend)
        bar = tqdm(total=len(done) + len(todo), initial=len(done), disable=not progress, desc=spec["name"])
        for record in RUNNERS[backend](execute_run, todo, (str(out), spec.get("evaluate", {})), workers, options):
            if record["id"] in done:  # a run executed twice (a retry raced its first attempt): keep the first
                log.warning("run %s finished twice; keeping the first record", record["id"])
                continue
            append_jsonl(store, record)
            done.add(record["id"])
            bar.update(1)
        bar.close()
        return read_results(store)
