"""``tcdecomp evaluate``: held-out ELBO decomposition, MIG, omniscient latents, pictures."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import numpy as np
import torch

from .._checks import check_choice, check_positive_float, check_positive_int
from ..files import DirectoryLock, atomic_write_text
from ..plans import contiguous_groups
from .metrics import (
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


#: disentanglement_lib's metrics evaluate can add (tcdecomp.vae.suite)
SUITE = ("dci", "sap", "modularity", "factorvae", "betavae")
#: votes / points of the intervention scores in evaluate (the reference's 10,000 / 5,000 take long on a CPU)
SCORE_TRAIN, SCORE_EVAL = 1000, 500


def _suite_metric(name: str, run: Run, mu, classes, seed: int) -> dict:
    from . import suite  # scikit-learn is an optional extra: imported only when asked for

    if name in ("factorvae", "betavae"):
        score = suite.factor_vae_score if name == "factorvae" else suite.beta_vae_score
        return score(
            run.model,
            run.dataset,
            num_train=SCORE_TRAIN,
            num_eval=SCORE_EVAL,
            seed=seed,
            device=run.config.train.device,
        )
    metric = {"dci": suite.dci, "sap": suite.sap, "modularity": suite.modularity_explicitness}[name]
    return metric(mu.numpy(), classes, seed=seed)


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
) -> dict:
    """Everything ``tcdecomp evaluate`` reports, as a dict.

    ``suite`` adds disentanglement_lib's metrics: "dci", "sap", "modularity" on the encoder means of the MIG
    rows, and "factorvae", "betavae" on batches with one factor fixed (:mod:`tcdecomp.vae.suite`; needs
    scikit-learn), each with its time.
    With ``out_dir``, the PNGs and ``evaluation.json`` go there, written atomically under the
    folder's lock (a second writer of the folder, e.g. a training run, is refused); a folder that already
    holds an evaluation is refused unless ``overwrite``."""
    suite = tuple(suite)
    for name in suite:
        check_choice(name, SUITE, "metrics")
    num_samples = check_positive_int(num_samples, "num_samples", minimum=2)
    if mig_points is not None:
        check_positive_int(mig_points, "mig_points", minimum=2)
    check_positive_float(epsilon, "epsilon")
    if out_dir is None:
        return _evaluate(run, None, num_samples, mig_points, epsilon, seed, with_mig, suite)
    refuse_sweep_store(out_dir, "an evaluation")
    with DirectoryLock(out_dir, "evaluation"):
        claim(out_dir, EVALUATION_OUTPUTS, (EVALUATION,), overwrite, "an evaluation", "")
        result = _evaluate(run, Path(out_dir), num_samples, mig_points, epsilon, seed, with_mig, suite)
        atomic_write_text(Path(out_dir) / EVALUATION, json.dumps(result, indent=2))
    return result


def _evaluate(run: Run, out_dir, num_samples, mig_points, epsilon, seed, with_mig, suite) -> dict:
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
    result = {
        "model": {
            "arch": run.config.model.arch,
            "capacity": run.config.model.capacity or DEFAULT_CAPACITY[run.config.model.arch],
            "parameters": sum(p.numel() for p in model.parameters()),
        },
        "group_size": group_size,
        "held_out": len(held_out),
        "decomposition": {
            k: (v if isinstance(v, list) else {"value": float(v), "stderr": v.stderr}) for k, v in decomposition.items()
        },
        "omniscient_latents": omniscient_latents(decomposition["marginal_entropies"], epsilon),
        "factor_names": list(dataset.factor_names),
    }
    if with_mig and not dataset.factor_names:
        result["notes"] = [f"{run.config.data.name} has no factors: MIG and the metric suite are skipped"]
        log.info(result["notes"][0])
    elif with_mig:
        rows = np.arange(len(dataset))
        if mig_points is not None and mig_points < len(rows):
            rows = np.sort(np.random.default_rng(seed).choice(len(rows), mig_points, replace=False))
        log.info("encoding %d images for MIG", len(rows))
        mu, logvar = encode(model, dataset, rows, device=device)
        classes = dataset.local_classes(rows) if hasattr(dataset, "local_classes") else dataset.classes(rows)
        result["mig_sampled"] = mig_sampled(mu, logvar, classes, num_samples=num_samples, seed=seed)
        result["mig_discrete"] = mig_discrete(mu, classes, seed=seed)
        if 1 < group_size < mu.shape[1]:  # a grouped model's latent variables are its groups
            groups = contiguous_groups(mu.shape[1], group_size)
            result["group_mig_sampled"] = mig_sampled(mu, logvar, classes, num_samples, seed, groups=groups)
        if "shape" in result["factor_names"]:  # Chen et al. (2018) leave dSprites' shape out
            chen = factor_selection(result["factor_names"], "chen2018")
            for key in ("mig_sampled", "group_mig_sampled"):
                if key in result:
                    result[key]["chen2018"] = mig_under(result[key], chen)
        result["timings"] = {}
        for name in suite:
            start = time.perf_counter()
            result[name] = _suite_metric(name, run, mu, classes, seed)
            result["timings"][name] = time.perf_counter() - start
    if out_dir is not None:
        x = dataset.images(held_out[:8], device=device)
        save_traversal(model, x, out_dir / TRAVERSAL)
        save_reconstructions(model, x, out_dir / RECONSTRUCTIONS)
        result["pictures"] = [str(out_dir / TRAVERSAL), str(out_dir / RECONSTRUCTIONS)]
    return result


def posterior_decomposition(run: Run, path: str = "bottom_up", num_samples: int = 10000, seed: int = 0, **plan):
    """The TC decomposition of the learned aggregate posterior (held-out set, exact estimator)."""
    from ..posterior import Posterior

    mu, logvar = encode(run.model, run.dataset, held_out_rows(run), device=run.config.train.device)
    g = torch.Generator().manual_seed(seed)
    return Posterior(mu, logvar, estimator="exact", num_samples=num_samples, generator=g).decompose(path, **plan)


def format_report(result: dict) -> str:
    d = result["decomposition"]
    lines = []
    if "model" in result:
        m = result["model"]
        lines.append(f"model: {m['arch']}, capacity {m['capacity']}, {m['parameters']:,} parameters")
    lines.append(
        f"held-out ELBO decomposition ({result['held_out']} images, exact aggregate posterior, "
        f"group size {result['group_size']}):"
    )
    for key, label in [
        ("elbo", "ELBO"),
        ("recon", "E log p(x|z)"),
        ("kl", "KL(q(z|x)||p(z))"),
        ("mi", "  MI"),
        ("tc", "  TC"),
        ("tc_groups", "    TC_groups"),
        ("tc_within", "    TC_within"),
        ("dim_kl", "  dimKL"),
    ]:
        lines.append(f"  {label:<18} {d[key]['value']:>10.3f} ± {d[key]['stderr']:.3f}")
    lines.append("  marginal entropies H(z_k): " + " ".join(f"{h:.2f}" for h in d["marginal_entropies"]))
    omni = result["omniscient_latents"]
    lines.append(f"  omniscient latents (H < 0.001, paper eq. 9): {omni if omni else 'none'}")
    lines += [f"note: {note}" for note in result.get("notes", [])]
    if "mig_sampled" not in result:
        return "\n".join(lines)
    lines.append(
        f"MIG sampled (Chen et al. 2018): {result['mig_sampled']['mig']:.3f}   "
        f"MIG discretised (20 bins): {result['mig_discrete']['mig']:.3f}"
    )
    if "group_mig_sampled" in result:
        lines.append(
            f"group MIG sampled (each group of {result['group_size']} dims one variable): "
            f"{result['group_mig_sampled']['mig']:.3f}"
        )
    if "chen2018" in result["mig_sampled"]:
        chen = [f"per-dim {result['mig_sampled']['chen2018']['mig']:.3f}"]
        if "group_mig_sampled" in result:
            chen.append(f"group {result['group_mig_sampled']['chen2018']['mig']:.3f}")
        lines.append("  without shape (Chen et al.'s dSprites convention): " + ", ".join(chen))
    per = ", ".join(
        f"{n} {g:.2f}"
        for n, g in zip(
            [n for n, h in zip(result["factor_names"], result["mig_sampled"]["factor_entropy"]) if h > 0],
            result["mig_sampled"]["per_factor"],
        )
    )
    lines.append(f"  per factor (sampled): {per}")
    for name, label in (
        ("dci", "DCI"),
        ("sap", "SAP"),
        ("modularity", "modularity/explicitness"),
        ("factorvae", "FactorVAE score"),
        ("betavae", "beta-VAE score"),
    ):
        if name in result:
            values = ", ".join(f"{k} {v:.3f}" for k, v in result[name].items() if isinstance(v, float))
            lines.append(f"{label}: {values}   ({result['timings'][name]:.1f} s)")
    best = result.get("group_mig_sampled", result["mig_sampled"])
    kind = "group" if "group_mig_sampled" in result else "dim"
    lines.append(f"  where the factors went, I({kind}; factor) in nats:")
    lines.append("    " + " " * 12 + "".join(f"{n[:11]:>12}" for n in result["factor_names"]))
    for variable, row in zip(best["variables"], best["mi"]):
        label = "z" + ",".join(str(k) for k in variable)
        lines.append(f"    {label:<12}" + "".join(f"{v:>12.3f}" for v in row))
    if "pictures" in result:
        lines.append("pictures: " + ", ".join(result["pictures"]))
    return "\n".join(lines)
