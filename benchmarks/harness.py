"""What every benchmark shares: its arguments and its record format.

Each benchmark is a module run from the repository root, ``python -m benchmarks.NAME``, with

* ``--quick``: small sizes that finish in seconds (what the tests run; the numbers are not figures);
* ``--device``: ``cpu`` (default) or ``cuda``, where the benchmark can use a GPU;
* ``--out``: the JSONL file its records are appended to; by default ``docs/data/benchmarks/NAME.jsonl``
  for a full run and nowhere for a ``--quick`` one.

A record is one JSON object per line::

    {"benchmark": NAME, "case": {what was measured: sizes, method, ...},
     "metrics": {the numbers: seconds, nats, errors, ...},
     "environment": {"python", "torch", "triton", "device", "threads", "commit", "quick"}, "date": ISO 8601}

Benchmarks with a resumable results store of their own (BMI, independent data, the calibration) keep it
(``--store``) and write their summary records here.
"""

from __future__ import annotations

import argparse
import datetime
import json
import logging
import platform
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RECORDS = ROOT / "docs" / "data" / "benchmarks"
DEVICES = ("cpu", "cuda")


def parser(name: str, doc: str | None, quick: dict | None = None) -> argparse.ArgumentParser:
    """The benchmark's argument parser with the shared arguments; ``quick`` holds the defaults that
    ``--quick`` puts in place of the full-size ones (see :func:`parse`)."""
    p = argparse.ArgumentParser(prog=f"python -m benchmarks.{name}", description=doc, formatter_class=_Formatter)
    shared = p.add_argument_group("shared by every benchmark")
    shared.add_argument("--quick", action="store_true", help="small sizes that finish in seconds (not figures)")
    shared.add_argument("--device", default="cpu", choices=DEVICES, help="where to run, where it applies")
    shared.add_argument(
        "--out",
        type=Path,
        help=f"JSONL file for the records (default: {RECORDS.relative_to(ROOT)}/{name}.jsonl; none with --quick)",
    )
    p.set_defaults(benchmark=name, quick_defaults=quick or {})
    return p


class _Formatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    pass


def parse(p: argparse.ArgumentParser, argv=None) -> argparse.Namespace:
    """Parse; under ``--quick`` every argument the user did not give takes its quick value."""
    argv = sys.argv[1:] if argv is None else list(argv)
    # argparse fills in a default only where the namespace has no value yet, so quick values placed there first
    # stand wherever the command line is silent, and what it gives (even the full-size default) wins.
    preset = argparse.Namespace(**p.get_default("quick_defaults")) if "--quick" in argv else None
    args = p.parse_args(argv, preset)
    if args.device == "cuda":
        import torch

        if not torch.cuda.is_available():
            p.error("--device cuda: no CUDA device here; leave --device at cpu")
    if args.out is None and not args.quick:
        args.out = RECORDS / f"{args.benchmark}.jsonl"
    return args


def environment(args: argparse.Namespace) -> dict:
    import torch

    try:
        import triton

        triton_version = triton.__version__
    except ImportError:
        triton_version = None
    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "triton": triton_version,
        "device": torch.cuda.get_device_name() if args.device == "cuda" else platform.processor() or "cpu",
        "threads": torch.get_num_threads(),
        "commit": _commit(),
        "quick": bool(args.quick),
    }


def _commit() -> str | None:
    """The checkout's commit (12 hex digits), read from .git without running git; None outside a checkout."""
    git = ROOT / ".git"
    try:
        head = (git / "HEAD").read_text().strip()
        if not head.startswith("ref: "):
            return head[:12]
        ref = head[5:]
        if (git / ref).exists():
            return (git / ref).read_text().strip()[:12]
        for line in (git / "packed-refs").read_text().splitlines():
            if line.endswith(" " + ref):
                return line.split()[0][:12]
    except OSError:
        return None
    return None


class Recorder:
    """Collects a benchmark's records and appends each to ``args.out`` (when set) as it is made, so that a
    long run killed halfway keeps what it measured."""

    def __init__(self, args: argparse.Namespace):
        self.name, self.out = args.benchmark, args.out
        self.env = environment(args)
        self.records: list[dict] = []
        if self.out is not None:
            self.out.parent.mkdir(parents=True, exist_ok=True)

    def add(self, case: dict, metrics: dict) -> dict:
        record = {
            "benchmark": self.name,
            "case": _plain(case),
            "metrics": _plain(metrics),
            "environment": self.env,
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        }
        self.records.append(record)
        if self.out is not None:
            with open(self.out, "a") as f:
                f.write(json.dumps(record) + "\n")
        return record

    def close(self) -> None:
        if self.out is not None and self.records:
            logging.getLogger(__name__).info("%d records appended to %s", len(self.records), self.out)
            print(f"{len(self.records)} records appended to {self.out}")


def _plain(value):
    """JSON-ready: numpy and torch scalars become floats/ints, paths strings; non-finite floats stay (JSON's
    NaN/Infinity)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "item") and callable(value.item):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    return value


def resumable_store(args: argparse.Namespace, report) -> list[dict] | None:
    """The records of ``args.store`` (none with ``--store`` unset); with ``--report``, prints ``report`` of them and
    returns None (the caller stops). The store's folder is made, so a first run can append to it."""
    from tcdecomp.files import read_jsonl

    stored = read_jsonl(args.store) if args.store is not None else []
    if args.report:
        print(report(stored))
        return None
    if args.store is not None:
        args.store.parent.mkdir(parents=True, exist_ok=True)
    return stored


def read_records(path: Path) -> list[dict]:
    """The records of a JSONL file written by :class:`Recorder`."""
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]
