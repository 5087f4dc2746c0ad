"""The paper's two experiments from a sweep's result store: figures and summary numbers.

Experiment 1 (paper section 4.2, Fig. 2), the best-ELBO trajectory: for every
(latent dim, capacity), the grouping coefficient i/m whose held-out ELBO, averaged over
seeds, is best; a quadratic fitted to those points against capacity; beta-TCVAE (i = 1,
coefficient 1/m, averaged over latent dims) as the reference line; capacities where an
omniscient latent (paper eq. 9) occurred are shaded.

Experiment 2 (section 4.3, Figs. 3-4): MIG of each model label over seeds (violins; a grouped
model's groups are its latent variables), MIG against capacity per label, and every grouped model
against the others, paired by seed with bootstrap intervals (:mod:`tcdecomp.experiments.stats`).
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from .._checks import check_choice
from ..plans import grouping_coefficient
from .stats import check_interval, paired_bootstrap


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


def trajectory(records, epsilon: float = 1e-3, delta: float = 0.01) -> dict:
    """Per (beta, latent_dim, capacity): mean held-out ELBO per coefficient and the best coefficient; a quadratic
    per beta. Records of different betas are never pooled (the paper's best trajectory moves with beta).

    ``best_vs_beta_tcvae``: the best coefficient's ELBO minus beta-TCVAE's (i = 1), paired by seed, with a
    percentile bootstrap interval; the best is picked on the same runs, so the difference leans positive."""
    # (beta, dim, cap) -> coefficient -> seed -> ELBOs (one per run; variants may share a seed)
    runs = defaultdict(lambda: defaultdict(lambda: defaultdict(list)))
    omni = defaultdict(list)
    for r in records:
        dim, cap = r["config"]["model"]["latent_dim"], r["config"]["model"]["capacity"]
        coef = grouping_coefficient(r["config"]["loss"].get("group_size", 1), dim)
        runs[record_beta(r), dim, cap][coef][r["config"]["train"]["seed"]].append(_elbo(r))
        omni[cap].append(bool(r["omniscient_latents"]))
    points = []
    for (beta, dim, cap), by_coef in sorted(runs.items()):
        elbos = {c: sum(by_seed.values(), []) for c, by_seed in by_coef.items()}
        means = {c: float(np.mean(v)) for c, v in elbos.items()}
        spreads = {c: float(np.std(v, ddof=1)) if len(v) > 1 else 0.0 for c, v in elbos.items()}
        by_coef = {c: {seed: float(np.mean(v)) for seed, v in by_seed.items()} for c, by_seed in by_coef.items()}
        best = max(means, key=means.get)
        reference = min(means)  # the smallest coefficient is i = 1
        seeds = sorted(set(by_coef[best]) & set(by_coef[reference]))
        paired = None
        if best != reference and len(seeds) > 1:
            paired = paired_bootstrap([by_coef[best][s] for s in seeds], [by_coef[reference][s] for s in seeds])
        points.append(
            {
                "beta": beta,
                "latent_dim": dim,
                "capacity": cap,
                "best_coefficient": best,
                "elbo_by_coefficient": means,
                "elbo_std_by_coefficient": spreads,
                "best_elbo": means[best],
                "beta_tcvae_elbo": means[reference],
                "best_vs_beta_tcvae": paired,
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


def omniscient_regions(records, epsilon: float = 1e-3, delta: float = 0.01) -> list[dict]:
    """Settings (capacity, coefficient, beta) with an omniscient latent in the paper's sense (eq. 9):
    a dim i with P[H(z_i) < epsilon] >= 1 - delta over the trained repeats of that setting. The defaults are
    the paper's (Fig. 2: epsilon = 0.001, delta = 0.01)."""
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


def _capacity_axis(ax, capacities) -> None:
    """A log capacity axis labelled at the capacities themselves (matplotlib's minor labels collide)."""
    from matplotlib.ticker import NullLocator

    ax.set_xscale("log")
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xticks(sorted(capacities), [str(c) for c in sorted(capacities)])


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
    _capacity_axis(ax, caps)
    ax.set(
        xlabel="parameter capacity (hidden width)",
        ylabel="best grouping coefficient i/m",
        title="best held-out ELBO trajectory (grey: omniscient latents)",
    )
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


#: the MIG variants a sweep reports: every factor, and Chen et al. (2018)'s dSprites convention without shape
MIG_CONVENTIONS = ("all", "chen2018")


def record_mig(record, convention: str = "all", variables: str = "model") -> float:
    """A record's sampled MIG. ``variables="model"`` counts the model's latent variables as the paper does (each
    group of a grouped model is one variable); ``"dims"`` counts single dims."""
    check_choice(convention, MIG_CONVENTIONS, "convention")
    check_choice(variables, ("model", "dims"), "variables")
    grouped = variables == "model" and "group_mig_sampled" in record
    mig = record["group_mig_sampled" if grouped else "mig_sampled"]
    return mig["mig"] if convention == "all" else mig[convention]["mig"]


def mig_summary(records) -> dict:
    """Per model label and MIG convention: per-dim MIG (sampled) over seeds, and group MIG where the model is
    grouped."""
    by_label, by_group = defaultdict(list), defaultdict(list)
    by_capacity = defaultdict(lambda: defaultdict(list))
    for r in records:
        if "mig_sampled" not in r:
            continue
        conventions = [c for c in MIG_CONVENTIONS if c == "all" or c in r["mig_sampled"]]
        by_label[r["label"]].append({c: record_mig(r, c, "dims") for c in conventions})
        by_capacity[r["label"]][r["config"]["model"]["capacity"]].append(r["mig_sampled"]["mig"])
        if "group_mig_sampled" in r:
            by_group[r["label"]].append({c: record_mig(r, c) for c in conventions})

    def stats(rows):
        out = {"seeds": len(rows)}
        for c in rows[0]:
            values = [row[c] for row in rows]
            key = "" if c == "all" else f"_{c}"
            std = float(np.std(values, ddof=1)) if len(values) > 1 else 0.0  # the sample sd, as trajectory's
            out |= {f"mean{key}": float(np.mean(values)), f"std{key}": std, f"values{key}": values}
        return out

    return {
        "by_label": {k: stats(v) for k, v in by_label.items()},
        "group_by_label": {k: stats(v) for k, v in by_group.items()},
        "by_capacity": {k: {c: float(np.mean(v)) for c, v in sorted(d.items())} for k, d in by_capacity.items()},
    }


def _pair_key(record):
    return record["config"]["train"]["seed"], record["config"]["model"]["capacity"]


def paired_comparisons(records, level: float = 0.95, resamples: int = 10000) -> list[dict]:
    """Every grouped model label against every other label, paired by (seed, capacity), with percentile
    bootstrap intervals of the mean difference (:func:`tcdecomp.experiments.stats.paired_bootstrap`).

    Metrics: the MIG of each model's latent variables (groups for the grouped model) in both conventions, and
    the held-out ELBO; per-dim MIG as well where the two models have the same number of dims."""
    check_interval(level, resamples)
    by_label = defaultdict(dict)
    for r in records:
        if "mig_sampled" in r:
            by_label[r["label"]][_pair_key(r)] = r
    grouped = [k for k, runs in by_label.items() if any("group_mig_sampled" in r for r in runs.values())]
    metrics = {
        "MIG": lambda r: record_mig(r, "all"),
        "MIG (Chen, no shape)": lambda r: record_mig(r, "chen2018"),
        "per-dim MIG": lambda r: record_mig(r, "all", "dims"),
        "held-out ELBO": _elbo,
    }
    rows = []
    for a in grouped:
        for b in by_label:
            keys = sorted(set(by_label[a]) & set(by_label[b]))
            if b == a or len(keys) < 2:
                continue
            pair = [(by_label[a][k], by_label[b][k]) for k in keys]
            same_dims = pair[0][0]["config"]["model"]["latent_dim"] == pair[0][1]["config"]["model"]["latent_dim"]
            for name, metric in metrics.items():
                if name == "per-dim MIG" and not same_dims:
                    continue
                if name.startswith("MIG (Chen") and "chen2018" not in pair[0][0]["mig_sampled"]:
                    continue
                result = paired_bootstrap(
                    [metric(x) for x, _ in pair], [metric(y) for _, y in pair], level=level, resamples=resamples
                )
                rows.append({"a": a, "b": b, "metric": name, **result})
    return rows


def stcvae_capacity_series(records, level: float = 0.95, resamples: int = 10000) -> dict:
    """The paper's Fig. 3 summary (section 4.3), per beta (never pooled): per capacity, beta-STCVAE's MIG
    averaged over every grouping coefficient except 1 (i = m, the largest divisor, where only two latent
    variables may leave MIG distorted by an omniscient latent), next to beta-TCVAE's; group MIG where recorded
    (a run with i = 1 has no groups and counts with its per-dim MIG). beta-TCVAE's series holds the runs of
    the beta_tcvae loss (averaged per seed where several labels have one); a sweep without them uses
    beta-STCVAE's i = 1 runs, which have beta-TCVAE's objective (and count in both series).

    ``paired``: per capacity, seed by seed, beta-STCVAE's mean over its coefficients against beta-TCVAE's
    run, with a percentile bootstrap interval (:func:`tcdecomp.experiments.stats.paired_bootstrap`)."""
    check_interval(level, resamples)
    metrics = {"beta_stcvae": lambda r: record_mig(r, "all", "dims"), "beta_stcvae_group": record_mig}
    # beta -> series -> (cap, seed) -> MIGs; "i1" holds beta-STCVAE's i = 1 runs, the fallback reference
    runs = defaultdict(lambda: defaultdict(lambda: defaultdict(list)))
    for r in records:
        if "mig_sampled" not in r:
            continue
        loss, dim = r["config"]["loss"], r["config"]["model"]["latent_dim"]
        key = (r["config"]["model"]["capacity"], r["config"]["train"]["seed"])
        out = runs[record_beta(r)]
        group_size = loss.get("group_size", 1)
        if loss["name"] == "beta_tcvae":
            out["beta_tcvae"][key].append(r["mig_sampled"]["mig"])
        elif loss["name"] == "beta_stcvae" and group_size == 1:
            out["i1"][key].append(r["mig_sampled"]["mig"])
        if loss["name"] == "beta_stcvae" and grouping_coefficient(group_size, dim) < 1:
            for name, metric in metrics.items():
                out[name][key].append(metric(r))

    def means(by_key):
        caps = defaultdict(list)
        for (cap, _), values in by_key.items():
            caps[cap] += values
        return {c: {"mean": float(np.mean(v)), "runs": len(v)} for c, v in sorted(caps.items())}

    result = {}
    for beta, out in sorted(runs.items()):
        if not out["beta_tcvae"]:
            out["beta_tcvae"] = out["i1"]
        result[beta] = {name: means(out[name]) for name in ("beta_stcvae", "beta_stcvae_group", "beta_tcvae")}
        paired = []
        for name in metrics:
            for cap in sorted({c for c, _ in out[name]}):
                seeds = sorted(s for c, s in out[name] if c == cap and (c, s) in out["beta_tcvae"])
                if len(seeds) < 2:
                    continue
                stcvae = [np.mean(out[name][cap, s]) for s in seeds]
                tcvae = [np.mean(out["beta_tcvae"][cap, s]) for s in seeds]
                row = paired_bootstrap(stcvae, tcvae, level=level, resamples=resamples)
                paired.append({"capacity": cap, "metric": name, **row})
        result[beta]["paired"] = paired
    return result


def plot_capacity_series(series: dict, path) -> None:
    """Fig. 3: mean MIG against capacity, beta-STCVAE (per-dim and group) and beta-TCVAE, one panel per beta."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(series), figsize=(5 * len(series), 3.8), squeeze=False)
    for ax, (beta, s) in zip(axes[0], series.items()):
        for name, label in (
            ("beta_stcvae", "beta-STCVAE, per-dim"),
            ("beta_stcvae_group", "beta-STCVAE, groups"),
            ("beta_tcvae", "beta-TCVAE"),
        ):
            ax.plot(list(s[name]), [v["mean"] for v in s[name].values()], marker="o", label=label)
        _capacity_axis(ax, {c for name in s if name != "paired" for c in s[name]})
        ax.set(xlabel="capacity (hidden width)", ylabel="mean MIG", title=f"beta = {beta:g}")
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def capacity_series_markdown(series: dict) -> str:
    """Fig. 3 as a table: per beta and capacity, mean MIG of beta-STCVAE (per-dim and group) and beta-TCVAE,
    and the paired differences with their intervals."""
    lines = [
        "| beta | capacity | beta-STCVAE MIG | group MIG | beta-TCVAE MIG | STCVAE - TCVAE [interval] "
        "| group - TCVAE [interval] | seeds |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for beta, s in series.items():
        for cap in s["beta_tcvae"]:
            cells = [f"{s[k][cap]['mean']:.3f}" if cap in s[k] else "-" for k in ("beta_stcvae", "beta_stcvae_group")]
            diffs, seeds = [], "-"
            for name in ("beta_stcvae", "beta_stcvae_group"):
                row = next((r for r in s["paired"] if r["capacity"] == cap and r["metric"] == name), None)
                diffs.append(f"{row['difference']:+.3f} [{row['low']:+.3f}, {row['high']:+.3f}]" if row else "-")
                seeds = row["pairs"] if row else seeds
            lines.append(
                f"| {beta:g} | {cap} | {cells[0]} | {cells[1]} | {s['beta_tcvae'][cap]['mean']:.3f} | "
                + " | ".join(diffs)
                + f" | {seeds} |"
            )
    return "\n".join(lines)


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
    # the paper's count of latent variables: a grouped model's groups
    data = [summary["group_by_label"].get(k, summary["by_label"][k])["values"] for k in labels]
    if all(len(d) > 1 for d in data):
        axes[0].violinplot(data, showmeans=True)
    else:
        axes[0].boxplot(data)
    axes[0].set_xticks(range(1, len(labels) + 1), labels, rotation=30, ha="right", fontsize=7)
    axes[0].set(ylabel="MIG (sampled; groups for grouped models)", title="MIG over seeds")
    if sweeps_capacity:
        for label, caps in summary["by_capacity"].items():
            axes[1].plot(list(caps), list(caps.values()), marker="o", label=label)
        _capacity_axis(axes[1], {c for caps in summary["by_capacity"].values() for c in caps})
        axes[1].set(xlabel="capacity", ylabel="mean MIG", title="MIG against capacity")
        axes[1].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def trajectory_markdown(summary: dict) -> str:
    """Experiment 1 as a table: held-out ELBO per grouping coefficient, per (beta, D, capacity)."""
    coefs = sorted({c for p in summary["points"] for c in p["elbo_by_coefficient"]})
    lines = [
        "| beta | D | capacity | "
        + " | ".join(f"i/m={c:.2f}" for c in coefs)
        + " | best i/m | best - beta-TCVAE [paired interval] |",
        "| ---: | ---: | ---: | " + " | ".join("---:" for _ in coefs) + " | ---: | ---: |",
    ]
    for p in summary["points"]:
        cells = [
            f"{p['elbo_by_coefficient'][c]:.1f} ± {p['elbo_std_by_coefficient'][c]:.1f}"
            if c in p["elbo_by_coefficient"]
            else ""
            for c in coefs
        ]
        gain = f"{p['best_elbo'] - p['beta_tcvae_elbo']:+.2f}"
        if p.get("best_vs_beta_tcvae"):
            gain += f" [{p['best_vs_beta_tcvae']['low']:+.2f}, {p['best_vs_beta_tcvae']['high']:+.2f}]"
        lines.append(
            f"| {p['beta']:g} | {p['latent_dim']} | {p['capacity']} | "
            + " | ".join(cells)
            + f" | {p['best_coefficient']:.2f} | {gain} |"
        )
    return "\n".join(lines)


def mig_markdown(summary: dict) -> str:
    """Experiment 2 as a table: per model, MIG over seeds (mean ± sd) in both conventions, per-dim and group."""

    def cell(s, key):
        return f"{s['mean' + key]:.3f} ± {s['std' + key]:.3f}" if s and "mean" + key in s else "-"

    lines = [
        "| model | seeds | MIG | MIG (Chen, no shape) | group MIG | group MIG (Chen) |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for label, s in summary["by_label"].items():
        g = summary["group_by_label"].get(label)
        cells = [cell(s, ""), cell(s, "_chen2018"), cell(g, ""), cell(g, "_chen2018")]
        lines.append(f"| {label} | {s['seeds']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def comparisons_markdown(rows: list[dict]) -> str:
    """Paired comparisons as a table: each difference a - b with its bootstrap interval and the share of wins."""
    lines = [
        "| a | b | metric | pairs | mean a | mean b | a - b [interval] | a wins |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        d = 1 if r["metric"] == "held-out ELBO" else 3
        lines.append(
            f"| {r['a']} | {r['b']} | {r['metric']} | {r['pairs']} | {r['mean_a']:.{d}f} | {r['mean_b']:.{d}f} "
            f"| {r['difference']:+.{d}f} [{r['low']:+.{d}f}, {r['high']:+.{d}f}] | {r['wins']:.0%} |"
        )
    return "\n".join(lines)


def write_summary(spec: dict, records: list, out) -> dict:
    """The sweep's experiment summary (``summary.json``) and its figure, written into ``out``."""
    import json
    from pathlib import Path

    from ..files import atomic_write_text

    out = Path(out)
    summary = {"runs": len(records)}
    if spec.get("kind", "capacity_grouping") == "capacity_grouping":
        summary["trajectory"] = trajectory(records)
        plot_trajectory(summary["trajectory"], out / "trajectory.png")
    else:
        summary["mig"] = mig_summary(records)
        summary["paired_comparisons"] = paired_comparisons(records)
        plot_mig(summary["mig"], out / "mig.png")
    # Fig. 3 is a curve over capacities
    if len({r["config"]["model"]["capacity"] for r in records if "mig_sampled" in r}) > 1:
        summary["stcvae_capacity_series"] = stcvae_capacity_series(records)
        plot_capacity_series(summary["stcvae_capacity_series"], out / "mig_capacity.png")
    atomic_write_text(out / "summary.json", json.dumps(summary, indent=2))
    atomic_write_text(out / "summary.md", summary_markdown(summary))
    return summary


def summary_markdown(summary: dict) -> str:
    """``summary.md``: the experiment's tables."""
    parts = [f"{summary['runs']} runs"]
    if "trajectory" in summary:
        parts.append(trajectory_markdown(summary["trajectory"]))
        regions = summary["trajectory"]["omniscient_regions"]
        parts.append(
            "Omniscient latents (eq. 9, epsilon = 0.001, delta = 0.01): "
            + (
                "; ".join(
                    f"capacity {r['capacity']}, i/m = {r['coefficient']:.2f}, beta = {r['beta']:g}: dims {r['dims']} "
                    f"({r['repeats']} repeats)"
                    for r in regions
                )
                or "none"
            )
        )
    if "mig" in summary:
        parts.append(mig_markdown(summary["mig"]))
        if summary["paired_comparisons"]:
            level = summary["paired_comparisons"][0]["level"]
            parts.append(f"Paired by seed, {level:.0%} percentile bootstrap intervals:")
            parts.append(comparisons_markdown(summary["paired_comparisons"]))
    if summary.get("stcvae_capacity_series"):
        parts.append("Fig. 3: MIG against capacity, paired by seed:")
        parts.append(capacity_series_markdown(summary["stcvae_capacity_series"]))
    return "\n\n".join(parts) + "\n"
