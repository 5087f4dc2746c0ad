"""Command line: ``tcdecomp estimate | train | evaluate | validate | sweep | demo``.

Each subcommand parses its arguments, calls the library, and prints; a user mistake is one
line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

import numpy as np
import torch

from .files import describe_os_error, load_arrays, one_line
from .gaussian import Gaussian
from .plans import PATH_NAMES
from .plots import check_png_path
from .posterior import ESTIMATORS, Posterior
from .posterior_estimators import ESTIMATORS as POSTERIOR_ESTIMATORS
from .samples import METHODS, Samples
from .vae.metrics.registry import METRICS
from .validation.families import example_covariance

log = logging.getLogger("tcdecomp")


class CLIError(Exception):
    """A user-facing error: printed as one line, exit status 2."""


def _plan_options(args) -> dict:
    options = {}
    if args.levels is not None:
        if args.path != "bottom_up":
            raise CLIError("--levels applies to --path bottom_up only")
        options["levels"] = args.levels
    if args.group_size is not None and args.path != "grouped":
        raise CLIError("--group-size applies to --path grouped only")
    if args.path == "grouped":
        if args.group_size is None:
            raise CLIError("--path grouped needs --group-size I (contiguous groups of I dims)")
        options["group_size"] = args.group_size
    return options


#: options that only apply to one kind of input: (attribute, flag, the input it applies to)
SAMPLE_OPTIONS = (("method", "--method"), ("k", "-k"), ("interval", "--interval"), ("resamples", "--resamples"))
POSTERIOR_OPTIONS = (("estimator", "--estimator"), ("dataset_size", "--dataset-size"), ("num_samples", "--num-samples"))


def _refuse(args, options, what: str) -> None:
    given = [flag for attr, flag in options if getattr(args, attr) is not None]
    if given:
        raise CLIError(f"{', '.join(given)} {'does' if len(given) == 1 else 'do'} not apply to {what}")


def _sample_options(args) -> dict:
    method = args.method or "gaussian"
    if args.k is not None and method != "knn":
        raise CLIError(f"-k applies to --method knn only, not {method}")
    if args.resamples is not None and args.interval != "bootstrap":
        raise CLIError("--resamples applies to --interval bootstrap only")
    return {"method": method, "k": 3 if args.k is None else args.k, "interval": args.interval or "stderr",
            "resamples": args.resamples}  # fmt: skip


def _float64_tensor(value, name: str) -> torch.Tensor:
    tensor = torch.as_tensor(np.asarray(value))
    if not tensor.is_floating_point():
        raise CLIError(f"{name} must hold real floating-point numbers, got {tensor.dtype}")
    return tensor.double()


def _source_from_file(args):
    arrays = load_arrays(args.file)
    if "x" in arrays and ("mu" in arrays or "logvar" in arrays):
        raise CLIError(
            f"{args.file} holds both x (samples) and mu/logvar (posteriors); save one kind per file, "
            "so that it is clear which is estimated"
        )
    if "x" in arrays:
        _refuse(args, POSTERIOR_OPTIONS, f"samples x ({args.file} holds x): they take --method")
        return Samples(arrays["x"], progress=True, **_sample_options(args))
    if "mu" in arrays and "logvar" in arrays:
        _refuse(args, SAMPLE_OPTIONS, f"posteriors ({args.file} holds mu and logvar): they take --estimator")
        estimator = args.estimator or ("exact" if args.dataset_size is None else "mss")
        if args.num_samples is not None and ("z" in arrays or POSTERIOR_ESTIMATORS[estimator].minibatch):
            raise CLIError("--num-samples applies to --estimator exact without a stored z")
        mu, logvar = _float64_tensor(arrays["mu"], "mu"), _float64_tensor(arrays["logvar"], "logvar")
        z = None if arrays.get("z") is None else _float64_tensor(arrays["z"], "z")
        generator = torch.Generator().manual_seed(args.seed)
        return Posterior(
            mu,
            logvar,
            z=z,
            dataset_size=args.dataset_size,
            estimator=estimator,
            num_samples=args.num_samples if z is None and not POSTERIOR_ESTIMATORS[estimator].minibatch else None,
            generator=generator,
        )
    raise CLIError(f"{args.file} holds keys {sorted(arrays)}; it needs 'x' (samples) or 'mu' and 'logvar' (posteriors)")


def _estimate(args) -> int:
    options = _plan_options(args)
    if args.n_example is not None and not args.example:
        raise CLIError("--n-example applies to --example only")
    if args.example:
        if args.file:
            raise CLIError("pass either FILE or --example, not both")
        _refuse(args, POSTERIOR_OPTIONS, "--example (samples from a Gaussian): it takes --method")
        cov = example_covariance()
        n = 5000 if args.n_example is None else args.n_example
        x = np.random.default_rng(args.seed).multivariate_normal(np.zeros(len(cov)), cov, size=n)
        source, reference = Samples(x, **_sample_options(args)), Gaussian(cov)
    elif args.file:
        source, reference = _source_from_file(args), None
    else:
        raise CLIError("pass a FILE (npz/npy/pt with x, or mu and logvar) or --example")
    if args.test_independence and not isinstance(source, Samples):
        raise CLIError("--test-independence applies to samples x, not to posteriors")
    if args.permutations is not None and not args.test_independence:
        raise CLIError("--permutations applies to --test-independence only")
    if args.overwrite and not args.plot:
        raise CLIError("--overwrite applies to --plot only")
    if args.plot:  # before the estimates, which may take minutes
        try:
            check_png_path(args.plot, args.overwrite)
        except ValueError as exc:
            raise CLIError(f"--plot: {exc}".replace("overwrite=True", "--overwrite")) from None
    tc = source.total_correlation()
    decomposition = source.decompose(args.path, **options)
    test = None
    if args.test_independence:
        test = source.independence_test(permutations=args.permutations or 999, seed=args.seed)
    if args.plot:
        decomposition.plot(args.plot, overwrite=args.overwrite)
    if args.json:
        out = {"total_correlation": float(tc), "stderr": tc.stderr, "decomposition": decomposition.to_dict()}
        if reference is not None:
            out["analytic"] = reference.decompose(args.path, **options).to_dict()
        if test is not None:
            out["independence_test"] = test.to_dict()
        print(json.dumps(out, indent=2))
        return 0
    print(f"source: {source!r}")
    if reference is not None:
        print(f"analytic TC: {float(reference.total_correlation()):.4f} nats")
    print(f"TC = {float(tc):.4f} ± {tc.stderr:.4f} nats (estimate ± standard error)\n")
    ref_dec = reference.decompose(args.path, **options) if reference is not None else None
    print(decomposition.table(reference=ref_dec))
    if test is not None:
        print(f"\n{test}")
    if args.plot:
        print(f"tree of the decomposition: {args.plot}")
    return 0


def _launch_processes(args) -> int:
    """Re-run this train command in ``--nproc`` local processes under torchrun (gloo on CPU, nccl on GPU)."""
    from torch.distributed.run import parse_args, run

    child = ["train"] + ([args.config] if args.config else []) + [a for s in args.set for a in ("--set", s)]
    child += (["--out-dir", args.out_dir] if args.out_dir else []) + (["--resume"] if args.resume else [])
    child += ["--overwrite"] if args.overwrite else []
    child += ["--quiet"] if args.quiet else []
    run(parse_args(["--standalone", f"--nproc-per-node={args.nproc}", "-m", "tcdecomp", *child]))
    return 0


def _train(args) -> int:
    from .vae.config import load_config
    from .vae.train import train

    if args.nproc > 1 and "WORLD_SIZE" not in os.environ:
        load_config(args.config, args.set)  # fail here on a bad config, not in every process
        return _launch_processes(args)
    if args.resume and args.overwrite:
        raise CLIError("--resume continues the run in the folder and --overwrite replaces it: pass one of them")
    config = load_config(args.config, args.set)
    if args.out_dir:
        config.train.out_dir = args.out_dir
    train(config, resume=args.resume, progress=not args.quiet, overwrite=args.overwrite)
    if int(os.environ.get("RANK", "0")) == 0:
        print(f"trained {config.train.steps} steps; checkpoint and metrics in {config.train.out_dir}")
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:  # a torchrun worker: see end_worker_process
        from .distributed import end_worker_process

        end_worker_process(0)
    return 0


def _evaluate(args) -> int:
    from .vae.evaluate import evaluate, format_report
    from .vae.train import restore

    run = restore(args.checkpoint)
    out_dir = args.out_dir or (
        Path(args.checkpoint) if Path(args.checkpoint).is_dir() else Path(args.checkpoint).parent
    )
    result = evaluate(
        run,
        out_dir,
        num_samples=args.num_samples,
        mig_points=args.mig_points,
        suite=args.metrics,
        overwrite=args.overwrite,
    )
    print(json.dumps(result.to_dict(), indent=2) if args.json else format_report(result))
    return 0


def _demo(args) -> int:
    from .vae.demo import demo_config, run_demo
    from .vae.evaluate import format_report

    steps = demo_config(args.out_dir, args.steps).train.steps
    print(f"training beta-STCVAE (D=10, group size 2, beta=6) on procedural dSprites for {steps} steps")
    result, decomposition, seconds = run_demo(
        out_dir=args.out_dir, steps=args.steps, progress=not args.quiet, overwrite=args.overwrite
    )
    print(f"trained in {seconds:.0f} s; evaluated on the held-out images")
    print(format_report(result))
    print("\nbottom-up TC decomposition of the learned aggregate posterior (held-out, exact):")
    print(decomposition.table())
    return 0


def _validate(args) -> int:
    from .validation.report import run_validation

    ok, report = run_validation(
        args.out_dir, "full" if args.full else "small", seed=args.seed, overwrite=args.overwrite
    )
    print(f"{'every estimator inside its band' if ok else 'an estimator LEFT its band'}; report: {report}")
    return 0 if ok else 1


def _sweep(args) -> int:
    from .experiments.figures import write_summary
    from .files import DirectoryLock
    from .sweeps.runner import load_sweep, run_sweep

    spec = load_sweep(args.sweep)
    out = Path(args.out_dir or Path("sweeps") / spec["name"])
    backend, options = args.backend, None
    if args.ray_address:
        if backend not in (None, "ray"):
            raise ValueError(f"--ray-address is for --backend ray, not {backend!r}")
        backend, options = "ray", {"address": args.ray_address}
    records = run_sweep(spec, out, workers=args.workers, progress=not args.quiet, backend=backend, options=options)
    with DirectoryLock(out, "sweep summary"):  # one writer of the folder, as while the runs went in
        write_summary(spec, records, out)
    print(f"{len(records)} runs in {out / 'results.jsonl'}; summary and figure in {out}")
    return 0


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage mistake is one line on stderr (exit status 2), like every other error."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _count(minimum: int):
    """An argparse type: an integer >= minimum."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be an integer >= {minimum}, got {value}")
        return value

    return parse


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="tcdecomp", description="Total correlation: estimate and decompose.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress")
    sub = parser.add_subparsers(dest="command", required=True)
    est = sub.add_parser("estimate", help="estimate TC of samples or posteriors and decompose it along a path")
    est.add_argument(
        "file", nargs="?", help="npz/npy/pt holding x (n x D samples), or mu and logvar (+ z); or a csv/parquet table"
    )
    est.add_argument(
        "--example", action="store_true", help="use a built-in correlated Gaussian, compared with its closed form"
    )
    est.add_argument("--n-example", type=_count(1), help="samples drawn for --example (default 5000)")
    est.add_argument("--path", choices=PATH_NAMES, default="bottom_up", help="decomposition path (default bottom_up)")
    est.add_argument("--levels", type=_count(0), help="bottom_up only: stop after this many pairing levels")
    est.add_argument("--group-size", type=_count(1), help="grouped only: size of the contiguous groups")
    est.add_argument("--method", choices=METHODS, help="estimator for samples x (default gaussian)")
    est.add_argument(
        "--estimator", choices=ESTIMATORS, help="estimator for posteriors (default exact, or mss with --dataset-size)"
    )
    est.add_argument("--dataset-size", type=_count(1), help="N, when mu/logvar are a minibatch of a larger data set")
    est.add_argument(
        "--num-samples", type=_count(2), help="exact estimator: draws from q(z) (at least 2; default one per example)"
    )
    est.add_argument("-k", type=_count(1), help="neighbours for --method knn (default 3)")
    est.add_argument(
        "--interval",
        choices=("stderr", "bootstrap"),
        help="samples: standard errors only (default), or also percentile bootstrap intervals (refits per resample)",
    )
    est.add_argument("--resamples", type=_count(50), help="--interval bootstrap: resamples (default 200)")
    est.add_argument("--seed", type=_count(0), default=0, help="random seed (default 0)")
    est.add_argument("--json", action="store_true", help="print JSON instead of a table")
    est.add_argument(
        "--test-independence",
        action="store_true",
        help="also a permutation test of H0: the columns are mutually independent (samples only)",
    )
    est.add_argument("--permutations", type=_count(19), help="permutations of the test (default 999)")
    est.add_argument("--plot", help="write the decomposition as a tree to this PNG (needs matplotlib)")
    est.add_argument("--overwrite", action="store_true", help="replace the --plot file if it exists")
    est.set_defaults(handler=_estimate)

    tr = sub.add_parser("train", help="train a VAE of the beta-STCVAE family from a TOML config")
    tr.add_argument("config", nargs="?", help="TOML file with [model], [loss], [data], [train] (defaults without)")
    tr.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help="override a config value, e.g. --set train.steps=500 --set loss.group_size=2",
    )
    tr.add_argument("--out-dir", help="where checkpoints and metrics go (train.out_dir)")
    tr.add_argument("--resume", action="store_true", help="continue from the checkpoint in the output folder")
    tr.add_argument(
        "--overwrite", action="store_true", help="replace the run (and evaluation) already in the output folder"
    )
    tr.add_argument("--quiet", action="store_true", help="no progress bar")
    tr.add_argument(
        "--nproc",
        type=_count(1),
        default=1,
        help="data-parallel processes on this machine (torchrun; gloo on CPU, nccl with train.device=cuda). "
        "For several machines launch `torchrun ... -m tcdecomp train` yourself (docs/distributed.md)",
    )
    tr.set_defaults(handler=_train)

    ev = sub.add_parser("evaluate", help="held-out ELBO decomposition, MIG and pictures of a trained model")
    ev.add_argument("checkpoint", help="checkpoint file or run folder")
    ev.add_argument("--out-dir", help="where the PNGs go (default: the checkpoint's folder)")
    ev.add_argument("--num-samples", type=_count(2), default=10000, help="draws from q(z) (default 10000)")
    ev.add_argument(
        "--metrics",
        nargs="*",
        choices=tuple(METRICS),
        default=[],
        help="also these metrics: "
        + ", ".join(f"{name} ({m.label})" for name, m in METRICS.items())
        + " (all but factorvae need scikit-learn)",
    )
    ev.add_argument(
        "--mig-points", type=_count(2), help="encode only this many images for MIG (at least 2; default all)"
    )
    ev.add_argument("--json", action="store_true")
    ev.add_argument("--overwrite", action="store_true", help="replace an evaluation already in the output folder")
    ev.set_defaults(handler=_evaluate)

    va = sub.add_parser("validate", help="check every estimator against ground truths; markdown report + PNG plots")
    va.add_argument("--out-dir", default="validation-report")
    va.add_argument("--full", action="store_true", help="the full version (D=10, n up to 8000; tens of minutes)")
    va.add_argument("--seed", type=_count(0), default=0)
    va.add_argument("--overwrite", action="store_true", help="replace a report already in the output folder")
    va.set_defaults(handler=_validate)

    sw = sub.add_parser("sweep", help="run (or resume) a grid of training runs and plot the paper's experiment")
    sw.add_argument("sweep", help="sweep TOML (see tcdecomp.sweeps.runner and experiments/)")
    sw.add_argument("--out-dir", help="store and figures (default sweeps/NAME)")
    sw.add_argument("--workers", type=_count(1), help="worker processes (default: the file's, else 1)")
    sw.add_argument(
        "--backend",
        choices=["local", "ray", "submitit"],
        help="where runs execute (default: the file's backend, else local processes)",
    )
    sw.add_argument("--ray-address", help="join this Ray cluster (e.g. auto); default: start a local instance")
    sw.add_argument("--quiet", action="store_true")
    sw.set_defaults(handler=_sweep)

    de = sub.add_parser("demo", help="train beta-STCVAE on procedural dSprites (~5 min on 2 CPU cores) and report")
    de.add_argument("--out-dir", default="runs/demo")
    de.add_argument("--steps", type=_count(1), help="training steps (default: the demo's)")
    de.add_argument("--quiet", action="store_true")
    de.add_argument("--overwrite", action="store_true", help="replace a demo run already in the output folder")
    de.set_defaults(handler=_demo)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, or a usage mistake already printed as one line
        return int(exc.code or 0)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(message)s")
    try:
        return args.handler(args)
    except (CLIError, ValueError, ImportError) as exc:
        print(f"tcdecomp {args.command}: error: {one_line(exc)}", file=sys.stderr)
        return 2
    except OSError as exc:  # the file system refused: a read-only folder, a full disk, a file where a folder goes
        print(f"tcdecomp {args.command}: error: {describe_os_error(exc)}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
