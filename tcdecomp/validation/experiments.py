"""The paper's two experiments from a sweep's result store: figures and summary numbers.

Experiment 1 (paper section 4.2, Fig. 2), the best-ELBO trajectory: for every
(latent dim, capacity), the grouping coefficient i/m whose held-out ELBO, averaged over
seeds, is best; a quadratic fitted to those points against capacity; beta-TCVAE (i = 1,
coefficient 1/m, averaged over latent dims) as the reference line; capacities where an
omniscient latent (paper eq. 9) occurred are shaded.

Experiment 2 (section 4.3, Figs. 3-4): MIG of each model label over seeds (violins),
and MIG against capacity per label.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from .sweep import grouping_coefficient


def _elbo(record) -> float:
    return record["decomposition"]["elbo"]["value"]


def record_beta(record) -> float:
    """The loss's beta of a record (the loss class's default when the config leaves it out)."""
    import inspect

    from ..vae.losses import LOSSES

    loss = record["config"]["loss"]
    if "beta" in loss:
        return float(loss["beta"])
    default = inspect.signature(LOSSES[loss["name"]].__init__).parameters.get("beta")
    return float(default.default) if default is not None else float("nan")


def trajectory(records, epsilon: float = 1e-3, delta: float = 0.1) -> dict:
    """Per (beta, latent_dim, capacity): mean held-out ELBO per coefficient and the best coefficient; a quadratic
    per beta. Records of different betas are never pooled (the paper's best trajectory moves with beta)."""
    cells = defaultdict(lambda: defaultdict(list))
    omni = defaultdict(list)
    for r in records:
        dim, cap = r["config"]["model"]["latent_dim"], r["config"]["model"]["capacity"]
        coef = grouping_coefficient(r["config"]["loss"].get("group_size", 1), dim)
        cells[record_beta(r), dim, cap][coef].append(_elbo(r))
        omni[cap].append(bool(r["omniscient_latents"]))
    points = []
    for (beta, dim, cap), by_coef in sorted(cells.items()):
        means = {c: float(np.mean(v)) for c, v in by_coef.items()}
        spreads = {c: float(np.std(v, ddof=1)) if len(v) > 1 else 0.0 for c, v in by_coef.items()}
        best = max(means, key=means.get)
        tcvae = means.get(min(means))  # the smallest coefficient is i = 1
        points.append(
            {
                "beta": beta,
                "latent_dim": dim,
                "capacity": cap,
                "best_coefficient": best,
                "elbo_by_coefficient": means,
                "elbo_std_by_coefficient": spreads,
                "best_elbo": means[best],
                "beta_tcvae_elbo": tcvae,
                "seeds": len(by_coef[best]),
            }
        )
    quadratics = {}
    for beta in sorted({p["beta"] for p in points}):
        sel = [p for p in points if p["beta"] == beta]
        # Fitted in log2(capacity): the paper's capacity axis is an index into a geometric list.
        if len({p["capacity"] for p in sel}) >= 3:
            fit = np.polyfit(np.log2([p["capacity"] for p in sel]), [p["best_coefficient"] for p in sel], 2)
            quadratics[str(beta)] = fit.tolist()
    reference = float(np.mean([grouping_coefficient(1, p["latent_dim"]) for p in points])) if points else None
    return {
        "points": points,
        "quadratic": quadratics,
        "beta_tcvae_coefficient": reference,
        "omniscient_share": {c: float(np.mean(v)) for c, v in sorted(omni.items())},
        "omniscient_regions": omniscient_regions(records, epsilon, delta),
    }


def omniscient_regions(records, epsilon: float = 1e-3, delta: float = 0.1) -> list[dict]:
    """Settings (capacity, coefficient, beta) with an omniscient latent in the paper's sense (eq. 9):
    a dim i with P[H(z_i) < epsilon] >= 1 - delta over the trained repeats of that setting."""
    if not 0 <= delta < 1:
        raise ValueError(f"delta must be in [0, 1), got {delta!r}")
    settings = defaultdict(list)
    for r in records:
        dim = r["config"]["model"]["latent_dim"]
        coef = grouping_coefficient(r["config"]["loss"].get("group_size", 1), dim)
        key = (r["config"]["model"]["capacity"], coef, record_beta(r), dim)
        settings[key].append(np.asarray(r["decomposition"]["marginal_entropies"]) < epsilon)
    regions = []
    for (cap, coef, beta, dim), repeats in sorted(settings.items()):
        share = np.mean(repeats, axis=0)  # per dim: the fraction of repeats where it is omniscient
        dims = np.flatnonzero(share >= 1 - delta).tolist()
        if dims:
            regions.append(
                {
                    "capacity": cap,
                    "coefficient": coef,
                    "beta": beta,
                    "latent_dim": dim,
                    "dims": dims,
                    "repeats": len(repeats),
                }
            )
    return regions


def plot_trajectory(summary: dict, path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pts = summary["points"]
    fig, ax = plt.subplots(figsize=(5.5, 4))
    caps = sorted({p["capacity"] for p in pts})
    for cap, share in summary["omniscient_share"].items():
        if share > 0:
            ax.axvspan(cap * 0.9, cap * 1.1, color="0.5", alpha=0.15 + 0.35 * share, lw=0)
    for beta, dim in sorted({(p["beta"], p["latent_dim"]) for p in pts}):
        sel = [p for p in pts if p["latent_dim"] == dim and p["beta"] == beta]
        ax.scatter(
            [p["capacity"] for p in sel],
            [p["best_coefficient"] for p in sel],
            label=f"D={dim}, beta={beta:g}",
            zorder=3,
        )
    xs = np.geomspace(min(caps), max(caps), 100) if caps else None
    for beta, coefs in summary["quadratic"].items():  # one trajectory per beta, never pooled
        ax.plot(xs, np.polyval(coefs, np.log2(xs)), lw=1, label=f"quadratic fit, beta={float(beta):g}")
    ax.axhline(summary["beta_tcvae_coefficient"], color="r", ls=":", label="beta-TCVAE (i=1)")
    ax.set(
        xscale="log",
        xlabel="parameter capacity (hidden width)",
        ylabel="best grouping coefficient i/m",
        title="best held-out ELBO trajectory (grey: omniscient latents)",
    )
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def mig_summary(records) -> dict:
    """Per model label: per-dim MIG (sampled) over seeds, and group MIG where the model is grouped."""
    by_label, by_group = defaultdict(list), defaultdict(list)
    by_capacity = defaultdict(lambda: defaultdict(list))
    for r in records:
        if "mig_sampled" not in r:
            continue
        by_label[r["label"]].append(r["mig_sampled"]["mig"])
        by_capacity[r["label"]][r["config"]["model"]["capacity"]].append(r["mig_sampled"]["mig"])
        if "group_mig_sampled" in r:
            by_group[r["label"]].append(r["group_mig_sampled"]["mig"])

    def stats(values):
        return {"mean": float(np.mean(values)), "std": float(np.std(values)), "seeds": len(values), "values": values}

    return {
        "by_label": {k: stats(v) for k, v in by_label.items()},
        "group_by_label": {k: stats(v) for k, v in by_group.items()},
        "by_capacity": {k: {c: float(np.mean(v)) for c, v in sorted(d.items())} for k, d in by_capacity.items()},
    }


def stcvae_capacity_series(records) -> dict:
    """The paper's Fig. 3 summary (section 4.3): per capacity, beta-STCVAE's MIG averaged over every grouping
    coefficient except 1 (i = m, the largest divisor, where only two latent variables may leave MIG distorted
    by an omniscient latent), next to beta-TCVAE's; group MIG where recorded."""
    stcvae, tcvae, group = defaultdict(list), defaultdict(list), defaultdict(list)
    for r in records:
        if "mig_sampled" not in r:
            continue
        cap, loss = r["config"]["model"]["capacity"], r["config"]["loss"]
        if loss["name"] == "beta_tcvae":
            tcvae[cap].append(r["mig_sampled"]["mig"])
        elif loss["name"] == "beta_stcvae":
            coefficient = grouping_coefficient(loss.get("group_size", 2), r["config"]["model"]["latent_dim"])
            if coefficient < 1.0:
                stcvae[cap].append(r["mig_sampled"]["mig"])
                if "group_mig_sampled" in r:
                    group[cap].append(r["group_mig_sampled"]["mig"])

    def means(d):
        return {c: {"mean": float(np.mean(v)), "runs": len(v)} for c, v in sorted(d.items())}

    return {"beta_stcvae": means(stcvae), "beta_stcvae_group": means(group), "beta_tcvae": means(tcvae)}


def plot_mig(summary: dict, path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = list(summary["by_label"])
    sweeps_capacity = any(len(caps) > 1 for caps in summary["by_capacity"].values())
    fig, axes = plt.subplots(
        1, 2 if sweeps_capacity else 1, figsize=(10 if sweeps_capacity else 5.5, 3.8), squeeze=False
    )
    axes = axes[0]
    data = [summary["by_label"][k]["values"] for k in labels]
    if all(len(d) > 1 for d in data):
        axes[0].violinplot(data, showmeans=True)
    else:
        axes[0].boxplot(data)
    axes[0].set_xticks(range(1, len(labels) + 1), labels, rotation=30, ha="right", fontsize=7)
    axes[0].set(ylabel="MIG (sampled)", title="MIG over seeds")
    if sweeps_capacity:
        for label, caps in summary["by_capacity"].items():
            axes[1].plot(list(caps), list(caps.values()), marker="o", label=label)
        axes[1].set(xscale="log", xlabel="capacity", ylabel="mean MIG", title="MIG against capacity")
        axes[1].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def trajectory_markdown(summary: dict) -> str:
    """Experiment 1 as a table: held-out ELBO per grouping coefficient, per (beta, D, capacity)."""
    coefs = sorted({c for p in summary["points"] for c in p["elbo_by_coefficient"]})
    lines = [
        "| beta | D | capacity | " + " | ".join(f"i/m={c:.2f}" for c in coefs) + " | best i/m | best - beta-TCVAE |",
        "| ---: | ---: | ---: | " + " | ".join("---:" for _ in coefs) + " | ---: | ---: |",
    ]
    for p in summary["points"]:
        cells = [
            f"{p['elbo_by_coefficient'][c]:.1f} ± {p['elbo_std_by_coefficient'][c]:.1f}"
            if c in p["elbo_by_coefficient"]
            else ""
            for c in coefs
        ]
        lines.append(
            f"| {p['beta']:g} | {p['latent_dim']} | {p['capacity']} | "
            + " | ".join(cells)
            + f" | {p['best_coefficient']:.2f} | {p['best_elbo'] - p['beta_tcvae_elbo']:+.2f} |"
        )
    return "\n".join(lines)


def mig_markdown(summary: dict) -> str:
    lines = ["| model | MIG mean | std | group MIG mean | std | seeds |", "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for label, s in summary["by_label"].items():
        g = summary.get("group_by_label", {}).get(label)
        group = f"{g['mean']:.3f} | {g['std']:.3f}" if g else "- | -"
        lines.append(f"| {label} | {s['mean']:.3f} | {s['std']:.3f} | {group} | {s['seeds']} |")
    return "\n".join(lines)


def write_summary(spec: dict, records: list, out) -> dict:
    """The sweep's experiment summary (``summary.json``) and its figure, written into ``out``."""
    import json
    from pathlib import Path

    from ..io import atomic_write_text

    out = Path(out)
    summary = {"runs": len(records)}
    if spec.get("kind", "capacity_grouping") == "capacity_grouping":
        summary["trajectory"] = trajectory(records)
        plot_trajectory(summary["trajectory"], out / "trajectory.png")
    else:
        summary["mig"] = mig_summary(records)
        summary["stcvae_capacity_series"] = stcvae_capacity_series(records)
        plot_mig(summary["mig"], out / "mig.png")
    atomic_write_text(out / "summary.json", json.dumps(summary, indent=2))
    return summary
