"""``tcdecomp evaluate``: held-out ELBO decomposition, MIG, omniscient latents, pictures."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from .._checks import check_choice, check_positive_float, check_positive_int, check_seed
from ..files import DirectoryLock, atomic_write_text
from ..plans import contiguous_groups
from .metrics import (
    METRICS,
    ELBODecomposition,
    MetricInputs,
    MIGResult,
    Result,
    elbo_decomposition,
    encode,
    factor_selection,
    mig_discrete,
    mig_sampled,
    mig_under,
    omniscient_latents,
)
from .models import DEFAULT_CAPACITY
from .plots import save_reconstructions, save_traversal
from .run_folder import EVALUATION, EVALUATION_OUTPUTS, RECONSTRUCTIONS, TRAVERSAL, claim, refuse_sweep_store
from .train import Run

log = logging.getLogger(__name__)


def held_out_rows(run: Run) -> np.ndarray:
    """The held-out split, or the training rows when nothing is held out."""
    return run.test_idx if len(run.test_idx) else run.train_idx


@dataclass(frozen=True)
class ModelSummary(Result):
    arch: str
    capacity: int
    parameters: int


@dataclass
class Evaluation(Result):
    """Everything ``tcdecomp evaluate`` reports. ``to_dict()`` is ``evaluation.json``; ``report()`` the text.

    MIG and the metrics are ``None`` / empty where they were not computed (``with_mig=False``, or a data set
    without factors, which ``notes`` then says); ``metrics`` maps each name of :data:`METRICS` asked for to
    its result, ``timings`` to its seconds."""

    model: ModelSummary
    group_size: int
    held_out: int
    decomposition: ELBODecomposition
    omniscient_latents: list[int]
    factor_names: list[str]
    notes: list[str] = field(default_factory=list)
    mig_sampled: MIGResult | None = None
    mig_discrete: MIGResult | None = None
    group_mig_sampled: MIGResult | None = None
    metrics: dict[str, Result] = field(default_factory=dict)
    timings: dict[str, float] | None = None
    pictures: list[str] | None = None

    def to_dict(self) -> dict:
        out = super().to_dict()
        if not self.notes:
            del out["notes"]
        out.update(out.pop("metrics"))  # each metric under its own name, as the store's records have them
        return out

    def report(self) -> str:
        return format_report(self)


def evaluate(
    run: Run,
    out_dir=None,
    num_samples: int = 10000,
    mig_points: int | None = None,
    epsilon: float = 1e-3,
    seed: int = 0,
    with_mig: bool = True,
    suite: tuple = (),
    overwrite: bool = False,
) -> Evaluation:
    """Everything ``tcdecomp evaluate`` reports, as an :class:`Evaluation`.

    ``suite`` adds metrics of :data:`~tcdecomp.vae.metrics.METRICS` by name: disentanglement_lib's "dci",
    "sap", "modularity" on the encoder means of the MIG rows, and "factorvae", "betavae" on batches with one
    factor fixed (:mod:`tcdecomp.vae.metrics`; scikit-learn is needed by all but "factorvae"), each with its
    time.
    With ``out_dir``, the PNGs and ``evaluation.json`` go there, written atomically under the
    folder's lock (a second writer of the folder, e.g. a training run, is refused); a folder that already
    holds an evaluation is refused unless ``overwrite``."""
    suite = tuple(suite)
    for name in suite:
        check_choice(name, tuple(METRICS), "metrics")
    num_samples = check_positive_int(num_samples, "num_samples", minimum=2)
    if mig_points is not None:
        check_positive_int(mig_points, "mig_points", minimum=2)
    check_positive_float(epsilon, "epsilon")
    seed = check_seed(seed, "seed")
    if out_dir is None:
        return _evaluate(run, None, num_samples, mig_points, epsilon, seed, with_mig, suite)
    refuse_sweep_store(out_dir, "an evaluation")
    with DirectoryLock(out_dir, "evaluation"):
        claim(out_dir, EVALUATION_OUTPUTS, (EVALUATION,), overwrite, "an evaluation", "")
        result = _evaluate(run, Path(out_dir), num_samples, mig_points, epsilon, seed, with_mig, suite)
        atomic_write_text(Path(out_dir) / EVALUATION, json.dumps(result.to_dict(), indent=2))
    return result


def _evaluate(run: Run, out_dir, num_samples, mig_points, epsilon, seed, with_mig, suite) -> Evaluation:
    model, dataset = run.model, run.dataset
    device = run.config.train.device
    group_size = getattr(run.loss, "group_size", 1)  # the loss's own grouping; 1 for non-TC losses
    held_out = held_out_rows(run)
    log.info("encoding %d held-out images", len(held_out))
    decomposition = elbo_decomposition(
        model,
        dataset,
        held_out,
        group_size=group_size,
        num_samples=min(num_samples, max(len(held_out), 1) * 10),
        seed=seed,
        device=device,
    )
    result = Evaluation(
        model=ModelSummary(
            arch=run.config.model.arch,
            capacity=run.config.model.capacity or DEFAULT_CAPACITY[run.config.model.arch],
            parameters=sum(p.numel() for p in model.parameters()),
        ),
        group_size=group_size,
        held_out=len(held_out),
        decomposition=decomposition,
        omniscient_latents=omniscient_latents(decomposition.marginal_entropies, epsilon),
        factor_names=list(dataset.factor_names),
    )
    if with_mig and not dataset.factor_names:
        result.notes.append(f"{run.config.data.name} has no factors: MIG and the metric suite are skipped")
        log.info(result.notes[0])
    elif with_mig:
        _add_mig(result, run, num_samples, mig_points, seed, group_size, suite)
    if out_dir is not None:
        x = dataset.images(held_out[:8], device=device)
        save_traversal(model, x, out_dir / TRAVERSAL)
        save_reconstructions(model, x, out_dir / RECONSTRUCTIONS)
        result.pictures = [str(out_dir / TRAVERSAL), str(out_dir / RECONSTRUCTIONS)]
    return result


def _add_mig(result: Evaluation, run: Run, num_samples, mig_points, seed, group_size, suite) -> None:
    """MIG (per dim, per group for a grouped model, and under Chen et al.'s dSprites convention) and the
    asked-for metrics, on the encoder means of ``mig_points`` rows (all rows by default)."""
    model, dataset, device = run.model, run.dataset, run.config.train.device
    rows = np.arange(len(dataset))
    if mig_points is not None and mig_points < len(rows):
        rows = np.sort(np.random.default_rng(seed).choice(len(rows), mig_points, replace=False))
    log.info("encoding %d images for MIG", len(rows))
    mu, logvar = encode(model, dataset, rows, device=device)
    classes = dataset.local_classes(rows) if hasattr(dataset, "local_classes") else dataset.classes(rows)
    result.mig_sampled = mig_sampled(mu, logvar, classes, num_samples=num_samples, seed=seed)
    result.mig_discrete = mig_discrete(mu, classes, seed=seed)
    if 1 < group_size < mu.shape[1]:  # a grouped model's latent variables are its groups
        groups = contiguous_groups(mu.shape[1], group_size)
        result.group_mig_sampled = mig_sampled(mu, logvar, classes, num_samples, seed, groups=groups)
    if "shape" in result.factor_names:  # Chen et al. (2018) leave dSprites' shape out
        chen = factor_selection(result.factor_names, "chen2018")
        result.mig_sampled = result.mig_sampled.with_convention("chen2018", mig_under(result.mig_sampled, chen))
        if result.group_mig_sampled is not None:
            grouped = result.group_mig_sampled
            result.group_mig_sampled = grouped.with_convention("chen2018", mig_under(grouped, chen))
    result.timings = {}
    inputs = MetricInputs(model, dataset, mu.numpy(), classes, seed, device)
    for name in suite:
        start = time.perf_counter()
        result.metrics[name] = METRICS[name].compute(inputs)
        result.timings[name] = time.perf_counter() - start


def posterior_decomposition(run: Run, path: str = "bottom_up", num_samples: int = 10000, seed: int = 0, **plan):
    """The TC decomposition of the learned aggregate posterior (held-out set, exact estimator)."""
    from ..posterior import Posterior

    seed = check_seed(seed, "seed")
    mu, logvar = encode(run.model, run.dataset, held_out_rows(run), device=run.config.train.device)
    g = torch.Generator().manual_seed(seed)
    return Posterior(mu, logvar, estimator="exact", num_samples=num_samples, generator=g).decompose(path, **plan)


def format_report(result: Evaluation) -> str:
    """The text report of an evaluation."""
    lines = []
    m = result.model
    lines.append(f"model: {m.arch}, capacity {m.capacity}, {m.parameters:,} parameters")
    lines.append(
        f"held-out ELBO decomposition ({result.held_out} images, exact aggregate posterior, "
        f"group size {result.group_size}):"
    )
    lines += result.decomposition.report_lines()
    lines.append(
        "  marginal entropies H(z_k): " + " ".join(f"{h:.2f}" for h in result.decomposition.marginal_entropies)
    )
    omni = result.omniscient_latents
    lines.append(f"  omniscient latents (H < 0.001, paper eq. 9): {omni if omni else 'none'}")
    lines += [f"note: {note}" for note in result.notes]
    if result.mig_sampled is not None:
        lines += _mig_lines(result)
    if result.pictures:
        lines.append("pictures: " + ", ".join(result.pictures))
    return "\n".join(lines)


def _mig_lines(result: Evaluation) -> list[str]:
    sampled, grouped = result.mig_sampled, result.group_mig_sampled
    lines = [
        f"MIG sampled (Chen et al. 2018): {sampled.mig:.3f}   MIG discretised (20 bins): {result.mig_discrete.mig:.3f}"
    ]
    if grouped is not None:
        lines.append(f"group MIG sampled (each group of {result.group_size} dims one variable): {grouped.mig:.3f}")
    if "chen2018" in sampled.conventions:
        chen = [f"per-dim {sampled.conventions['chen2018'].mig:.3f}"]
        if grouped is not None:
            chen.append(f"group {grouped.conventions['chen2018'].mig:.3f}")
        lines.append("  without shape (Chen et al.'s dSprites convention): " + ", ".join(chen))
    varying = [n for n, h in zip(result.factor_names, sampled.factor_entropy) if h > 0]
    lines.append("  per factor (sampled): " + ", ".join(f"{n} {g:.2f}" for n, g in zip(varying, sampled.per_factor)))
    for name, metric_result in result.metrics.items():
        values = ", ".join(f"{k} {v:.3f}" for k, v in metric_result.scalars().items())
        lines.append(f"{METRICS[name].label}: {values}   ({result.timings[name]:.1f} s)")
    best, kind = (grouped, "group") if grouped is not None else (sampled, "dim")
    lines.append(f"  where the factors went, I({kind}; factor) in nats:")
    lines.append("    " + " " * 12 + "".join(f"{n[:11]:>12}" for n in result.factor_names))
    for variable, row in zip(best.variables, best.mi):
        label = "z" + ",".join(str(k) for k in variable)
        lines.append(f"    {label:<12}" + "".join(f"{v:>12.3f}" for v in row))
    return lines
