"""``tcdecomp validate``: how far each estimator can be trusted, on ground truths.

For every sample estimator (gaussian, copula, student_t, t_copula, gmm, auto, knn) on every family of
:mod:`tcdecomp.validation.families`, and every posterior estimator (mws, mss, bank) on the
mixture aggregate posterior, it measures bias, std and RMSE against the budget (n, or
the batch size B) and, at the largest budget, the error of every term along every
decomposition path. It writes ``report.md`` and PNG plots, and fails (exit status 1)
when an estimator leaves its documented accuracy band:

* gaussian and copula on Gaussian families: |bias| <= 0.01 + 4 std / sqrt(reps) at every n
  (both are unbiased there; the 4-sigma term is the noise of the mean);
* knn on every family with smooth margins: |bias| <= 0.35 nats at the largest n (the project's target at
  TC = 5); on skewed margins it is reported only (KSG's neighbourhoods change under monotone maps);
* student_t on the Student-t family: |bias| <= 0.05 + 4 std / sqrt(reps) at the largest n
  (a fitted model, so held to its own family; on Gaussians it is reported only);
* t_copula on the Student-t and the skewed-margin t-copula families: the same band (on Gaussians it is
  reported only);
* gmm on the Gaussian families and the correlation-sign mixture: the same band (on the t families it is
  reported only: a finite mixture approximates a t copula's tails);
* auto on every family: the same band (it must pick a model that fits);
* mss and bank on the mixture: |bias| <= 0.10 + 4 se (mss) and 0.15 + 4 se (bank) at the
  largest batch, the bias measured paired against the exact estimator on the same z;
* no band: copula and gaussian on the t families (both assume a Gaussian copula; their bias there is
  reported), and mws (beta-TCVAE's normalisation offsets its values).
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from ..files import DirectoryLock, atomic_write_text, one_line
from ..posterior import Posterior, PosteriorBank
from ..posterior_estimators import MINIBATCH_ESTIMATORS
from ..samples import Samples
from .families import mixture_posterior, sample_families

log = logging.getLogger(__name__)

PATHS = ("line", "top_down", "bottom_up")
SCALES = {
    "small": dict(
        dims=6, budgets=(300, 1200), reps=6, N=600, batches=(32, 128), post_reps=8, bank=256, ref_samples=20000
    ),
    "full": dict(
        dims=10,
        budgets=(500, 2000, 8000),
        reps=20,
        N=2000,
        batches=(64, 256, 1024),
        post_reps=30,
        # batch + bank stays below N, so the bank's band tests an estimate, not the exact mixture
        bank=512,
        ref_samples=50000,
    ),
}


@dataclass
class Row:
    family: str
    estimator: str
    budget: int
    truth: float
    mean: float
    bias: float
    bias_se: float
    std: float
    rmse: float
    band: float | None = None
    #: why the method refused the family's samples (one line), or None
    refused: str | None = None

    @property
    def ok(self) -> bool:
        """Inside its band; a refusal is fine only where the method is not held to the family."""
        if self.refused is not None:
            return self.band is None
        return self.band is None or abs(self.bias) <= self.band


def _summary(family, estimator, budget, truth, values, paired=None, band=None) -> Row:
    values = np.asarray(values, dtype=float)
    diffs = values - truth if paired is None else values - np.asarray(paired, dtype=float)
    bias, se = float(diffs.mean()), float(diffs.std(ddof=1) / math.sqrt(len(diffs)))
    std = float(values.std(ddof=1))
    return Row(family, estimator, budget, truth, float(values.mean()), bias, se, std, math.sqrt(bias**2 + std**2), band)


#: fitted models, held at the largest n to the families (by name prefix) whose law they can represent:
#: student_t to its own family, t_copula to the t families (a t has a t copula), gmm to the mixture and the
#: Gaussians (K = 1), auto (which chooses among copula, t_copula, gmm and a flow) to every family
FITTED_MODEL_FAMILIES = {
    "student_t": ("student",),
    "t_copula": ("student", "t-copula"),
    "gmm": ("gaussian", "±"),
    "auto": ("",),
}


def _sample_band(method: str, fam, budget: int, largest: int, std: float, reps: int):
    if method == "knn":  # KSG is not invariant to monotone maps of the margins: skewed ones are reported only
        return 0.35 if budget == largest and not fam.skewed else None
    if method in FITTED_MODEL_FAMILIES:
        held = budget == largest and fam.name.startswith(FITTED_MODEL_FAMILIES[method])
        return 0.05 + 4 * std / math.sqrt(reps) if held else None
    if fam.name.startswith("gaussian"):
        return 0.01 + 4 * std / math.sqrt(reps)
    return None


def validate_samples(
    dims: int,
    budgets,
    reps: int,
    seed: int = 0,
    methods=("gaussian", "copula", "student_t", "t_copula", "gmm", "auto", "knn"),
):
    """Rows of TC accuracy against n, and per-term rows (family, method, path, term, truth, mean error)."""
    rng = np.random.default_rng(seed)
    rows, terms = [], []
    for fam in sample_families(dims, seed):
        truth = float(fam.truth.total_correlation())
        truth_terms = {p: [v for _, v in fam.truth.decompose(p).terms] for p in PATHS}
        for n in budgets:
            estimates = {m: [] for m in methods}
            term_estimates = {(m, p): [] for m in methods for p in PATHS}
            refused = {}
            for _ in range(reps):
                x = fam.sample(n, rng)
                for m in methods:
                    if m in refused:
                        continue
                    try:
                        src = Samples(x, method=m)
                    except ValueError as exc:  # e.g. student_t on margins it cannot tell from a shared scale
                        refused[m] = one_line(exc)
                        continue
                    estimates[m].append(float(src.total_correlation()))
                    if n == budgets[-1]:
                        for p in PATHS:
                            term_estimates[m, p].append([float(v) for _, v in src.decompose(p).terms])
            for m in methods:
                if m in refused:
                    band = _sample_band(m, fam, n, budgets[-1], 0.0, reps)
                    nan = float("nan")
                    rows.append(Row(fam.name, m, n, truth, nan, nan, nan, nan, nan, band, refused[m]))
                    continue
                std = float(np.std(estimates[m], ddof=1))
                band = _sample_band(m, fam, n, budgets[-1], std, reps)
                rows.append(_summary(fam.name, m, n, truth, estimates[m], band=band))
                if n == budgets[-1]:
                    for p in PATHS:
                        errors = np.mean(term_estimates[m, p], axis=0) - np.asarray(truth_terms[p])
                        for (term, _), t, e in zip(fam.truth.decompose(p).terms, truth_terms[p], errors):
                            terms.append((fam.name, m, p, str(term), t, float(e)))
    return rows, terms


def validate_posteriors(N: int, dims: int, batches, reps: int, bank: int, ref_samples: int, seed: int = 0):
    """Rows of posterior-estimator accuracy against the batch size, biases paired with the exact estimator."""
    mu, logvar = mixture_posterior(N, dims, seed)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        ref = Posterior(mu, logvar, estimator="exact", num_samples=ref_samples, generator=g).total_correlation()
    truth = float(ref)
    rng = np.random.default_rng(seed)
    rows = []
    for estimator in MINIBATCH_ESTIMATORS:
        for B in batches:
            values, paired = [], []
            for _ in range(reps):
                perm = torch.from_numpy(rng.permutation(N))
                kw = {}
                if estimator == "bank":
                    if B + bank >= N:
                        raise ValueError(
                            f"bank={bank} with batch {B} covers all N={N} posteriors: its bias is 0 "
                            "by construction; use a smaller bank"
                        )
                    kw["bank"] = PosteriorBank(bank)
                    kw["bank"].update(mu[perm[B : B + bank]], logvar[perm[B : B + bank]])
                with torch.no_grad():
                    post = Posterior(
                        mu[perm[:B]], logvar[perm[:B]], dataset_size=N, estimator=estimator, generator=g, **kw
                    )
                    values.append(float(post.total_correlation()))
                    paired.append(float(Posterior(mu, logvar, z=post.z, estimator="exact").total_correlation()))
            row = _summary(f"mixture(N={N}, D={dims})", estimator, B, truth, values, paired)
            if B == batches[-1] and estimator in ("mss", "bank"):
                row.band = (0.10 if estimator == "mss" else 0.15) + 4 * row.bias_se
            rows.append(row)
    return rows, (truth, ref.stderr)


def _table(rows) -> list[str]:
    out = [
        "| family | estimator | budget | truth | mean | bias ± se | std | RMSE | band | ok |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for r in rows:
        band = "-" if r.band is None else f"{r.band:.3f}"
        if r.refused is not None:
            out.append(
                f"| {r.family} | {r.estimator} | {r.budget} | {r.truth:.3f} | refused: {r.refused} | | | | {band} "
                f"| {'yes' if r.ok else '**NO**'} |"
            )
            continue
        out.append(
            f"| {r.family} | {r.estimator} | {r.budget} | {r.truth:.3f} "
            f"| {r.mean:.3f} | {r.bias:+.3f} ± {r.bias_se:.3f} "
            f"| {r.std:.3f} | {r.rmse:.3f} | {band} | {'yes' if r.ok else '**NO**'} |"
        )
    return out


def _plots(out: Path, sample_rows, post_rows, terms) -> list[str]:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        log.warning("matplotlib is not installed: no plots (pip install matplotlib)")
        return []
    families = sorted({r.family for r in sample_rows})
    fig, axes = plt.subplots(1, len(families) + 1, figsize=(4 * (len(families) + 1), 3.4), squeeze=False)
    for ax, fam in zip(axes[0], families):
        for m in sorted({r.estimator for r in sample_rows}):
            pts = [(r.budget, r.rmse) for r in sample_rows if r.family == fam and r.estimator == m and not r.refused]
            if pts:
                ax.loglog(*zip(*pts), marker="o", label=m)
        ax.set(title=fam, xlabel="n", ylabel="RMSE (nats)")
        ax.legend(fontsize=7)
    ax = axes[0][-1]
    for m in ("mss", "bank"):
        pts = [(r.budget, abs(r.bias) + 1e-4) for r in post_rows if r.estimator == m]
        ax.loglog(*zip(*pts), marker="o", label=f"{m} |bias|")
    ax.set(title="posterior estimators", xlabel="batch size B", ylabel="nats")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "error_vs_budget.png", dpi=90)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(4.5, 4.2))
    for m in sorted({t[1] for t in terms}):
        pts = [(t[4], t[4] + t[5]) for t in terms if t[1] == m]
        ax.scatter(*zip(*pts), s=10, label=f"{m} (terms)", alpha=0.7)
    top = max(t[4] for t in terms) * 1.1 + 0.1
    ax.plot([0, top], [0, top], "k--", lw=0.8)
    ax.set(xlabel="true term (nats)", ylabel="mean estimate", title="every term, every path (largest n)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "estimate_vs_truth.png", dpi=90)
    plt.close(fig)
    return ["error_vs_budget.png", "estimate_vs_truth.png"]


#: what a validation run writes into its folder (the figures are its *.png)
REPORT_FILES = ("report.md", "rows.json")


def run_validation(out_dir, scale: str = "small", seed: int = 0, overwrite: bool = False) -> tuple[bool, Path]:
    """Run the validation at ``scale`` ("small" for CI, "full"); returns (all bands met, report path). A folder
    that already holds a report is refused unless ``overwrite`` (which removes the old report and figures)."""
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {tuple(SCALES)}, got {scale!r}")
    with DirectoryLock(out_dir, "validation"):
        out = Path(out_dir)
        old = [name for name in REPORT_FILES if (out / name).exists()]
        if old and not overwrite:
            raise ValueError(
                f"{out} already holds a validation report ({', '.join(old)}); pass --overwrite to replace it, "
                "or choose another --out-dir"
            )
        for stale in [out / name for name in old] + (list(out.glob("*.png")) if old else []):
            stale.unlink()
        return _run_validation(out, scale, seed)


def _run_validation(out: Path, scale: str, seed: int) -> tuple[bool, Path]:
    cfg = SCALES[scale]
    log.info("sample estimators: D=%d, n in %s, %d repeats", cfg["dims"], cfg["budgets"], cfg["reps"])
    sample_rows, terms = validate_samples(cfg["dims"], cfg["budgets"], cfg["reps"], seed)
    log.info("posterior estimators: N=%d, B in %s", cfg["N"], cfg["batches"])
    post_rows, (truth, truth_se) = validate_posteriors(
        cfg["N"], cfg["dims"], cfg["batches"], cfg["post_reps"], cfg["bank"], cfg["ref_samples"], seed
    )
    pictures = _plots(out, sample_rows, post_rows, terms)
    ok = all(r.ok for r in sample_rows + post_rows)
    lines = [
        f"# tcdecomp estimator validation ({scale})",
        "",
        f"Verdict: {'every estimator inside its band' if ok else 'SOME ESTIMATOR LEFT ITS BAND'}.",
        "",
        "Bands (see `tcdecomp.validation.report`): gaussian/copula on Gaussians |bias| <= 0.01 + 4 std/sqrt(reps); "
        "knn |bias| <= 0.35 at the largest n on smooth margins (skewed: reported only); "
        "mss/bank paired |bias| <= 0.10/0.15 + 4 se at the largest B; "
        "student_t on Student-t, and t_copula on Student-t and the skewed t-copula, "
        "gmm on the Gaussians and the correlation-sign mixture, and auto on every family, "
        "|bias| <= 0.05 + 4 std/sqrt(reps) at the largest n; "
        "no band for mws, for the Gaussian-copula methods on the t families or for the t models on Gaussians.",
        "",
        f"## Raw samples (D={cfg['dims']}, {cfg['reps']} repeats per budget)",
        "",
    ]
    lines += _table(sample_rows)
    lines += [
        "",
        f"## Posterior estimators on the mixture (exact reference TC {truth:.3f} ± {truth_se:.3f}; "
        f"bias paired with the exact estimator on the same z)",
        "",
    ]
    lines += _table(post_rows)
    lines += [
        "",
        "## Per-term error at the largest n (mean estimate - truth)",
        "",
        "| family | method | path | worst term | its truth | its error | mean abs error |",
        "| --- | --- | --- | --- | ---: | ---: | ---: |",
    ]
    groups = {}
    for fam, m, p, term, t, e in terms:
        groups.setdefault((fam, m, p), []).append((abs(e), term, t, e))
    for (fam, m, p), items in groups.items():
        worst = max(items)
        lines.append(
            f"| {fam} | {m} | {p} | {worst[1]} | {worst[2]:.3f} | {worst[3]:+.3f} | "
            f"{np.mean([i[0] for i in items]):.3f} |"
        )
    lines += [""] + [f"![{p}]({p})" for p in pictures]
    report = out / "report.md"
    atomic_write_text(report, "\n".join(lines) + "\n")
    atomic_write_text(
        out / "rows.json", json.dumps([asdict(r) | {"ok": r.ok} for r in sample_rows + post_rows], indent=1)
    )
    return ok, report
