"""The paper's summaries from synthetic sweep records (no training): per-beta trajectories, eq. 9's
omniscient-latent regions, and Fig. 3's beta-STCVAE average over grouping coefficients."""

import numpy as np
import pytest

from tcdecomp.experiments.figures import (
    capacity_series_markdown,
    mig_summary,
    omniscient_regions,
    paired_comparisons,
    stcvae_capacity_series,
    summary_markdown,
    trajectory,
)
from tcdecomp.experiments.stats import paired_bootstrap


def record(beta, dim, cap, group_size, elbo, entropies=None, mig=None, name="beta_stcvae", seed=0, label=None):
    r = {
        "label": label or name,
        "config": {
            "model": {"latent_dim": dim, "capacity": cap},
            "loss": {"name": name, "beta": beta, "group_size": group_size},
            "train": {"seed": seed},
        },
        "decomposition": {"elbo": {"value": elbo}, "marginal_entropies": entropies or [1.0] * dim},
        "omniscient_latents": [],
    }
    if mig is not None:
        r["mig_sampled"] = {"mig": mig, "chen2018": {"mig": mig / 2}}
    return r


def grouped(record, group_mig):
    record["group_mig_sampled"] = {"mig": group_mig, "chen2018": {"mig": group_mig / 2}}
    return record


def test_trajectories_are_per_beta_never_pooled():
    records = []
    for cap in (16, 32, 64):
        # beta 2 prefers group size 1 (coefficient 1/2); beta 8 prefers 2 (coefficient 1)
        records += [record(2.0, 4, cap, 1, -100.0), record(2.0, 4, cap, 2, -110.0)]
        records += [record(8.0, 4, cap, 1, -130.0), record(8.0, 4, cap, 2, -120.0)]
    summary = trajectory(records)
    best = {(p["beta"], p["capacity"]): p["best_coefficient"] for p in summary["points"]}
    assert all(best[2.0, c] == pytest.approx(0.5) and best[8.0, c] == pytest.approx(1.0) for c in (16, 32, 64))
    assert set(summary["quadratic"]) == {"2.0", "8.0"}
    assert len(summary["points"]) == 6  # pooling would give 3


def test_a_missing_beta_takes_the_loss_default():
    r = record(6.0, 4, 16, 2, -1.0)
    del r["config"]["loss"]["beta"]
    assert trajectory([r])["points"][0]["beta"] == 6.0  # BetaSTCVAE's default


def test_omniscient_regions_follow_the_delta_condition():
    low, high = [0.0001, 1.0], [1.0, 1.0]
    # setting A: dim 0 omniscient in 9 of 10 repeats (>= 1 - delta for delta = 0.1); setting B: in 8 of 10
    a = [record(4.0, 2, 16, 1, 0.0, low) for _ in range(9)] + [record(4.0, 2, 16, 1, 0.0, high)]
    b = [record(4.0, 2, 32, 1, 0.0, low) for _ in range(8)] + [record(4.0, 2, 32, 1, 0.0, high) for _ in range(2)]
    regions = omniscient_regions(a + b, epsilon=1e-3, delta=0.1)
    assert regions == [{"capacity": 16, "coefficient": 1.0, "beta": 4.0, "latent_dim": 2, "dims": [0], "repeats": 10}]
    assert len(omniscient_regions(a + b, delta=0.25)) == 2
    with pytest.raises(ValueError, match="delta"):
        omniscient_regions(a, delta=1.0)


def test_fig3_averages_beta_stcvae_over_coefficients_except_one():
    # D = 12: grouping factors 1, 2, 3, 4, 6 and m = 6; coefficient i/m = 1 is i = 6, left out (section 4.3).
    records = [record(6.0, 12, 64, i, 0.0, mig=m) for i, m in ((1, 0.1), (2, 0.3), (3, 0.5), (6, 0.9))]
    records.append(record(6.0, 12, 64, 1, 0.0, mig=0.2, name="beta_tcvae"))
    records.append(record(2.0, 12, 64, 2, 0.0, mig=0.7))  # another beta: its own series
    records.append(record(2.0, 12, 64, 1, 0.0, mig=0.4))
    series = stcvae_capacity_series(records)
    assert set(series) == {6.0, 2.0}
    assert series[6.0]["beta_stcvae"][64] == {"mean": pytest.approx(0.3), "runs": 3}
    assert series[6.0]["beta_tcvae"][64] == {"mean": pytest.approx(0.2), "runs": 1}  # the beta_tcvae run
    assert series[2.0]["beta_stcvae"][64] == {"mean": pytest.approx(0.55), "runs": 2}
    # without beta_tcvae runs, beta-STCVAE's i = 1 runs (beta-TCVAE's objective) are the reference
    assert series[2.0]["beta_tcvae"][64] == {"mean": pytest.approx(0.4), "runs": 1}


def fig4_records():
    """STCVAE_8_2 (16 dims in pairs) against TCVAE_16 and TCVAE_8 over 4 seeds; TCVAE_8 misses seed 3."""
    records = []
    for seed in range(4):
        records.append(grouped(record(6.0, 16, 512, 2, -40.0 - seed, mig=0.05, label="S", seed=seed), 0.2 + seed / 100))
        records.append(record(6.0, 16, 512, 1, -41.0, mig=0.1 + seed / 50, name="beta_tcvae", label="T16", seed=seed))
        if seed < 3:
            records.append(record(6.0, 8, 512, 1, -39.0, mig=0.15, name="beta_tcvae", label="T8", seed=seed))
    return records


def test_paired_comparisons_pair_by_seed_and_use_the_models_latent_variables():
    rows = {(r["b"], r["metric"]): r for r in paired_comparisons(fig4_records(), resamples=2000)}
    group = [0.2 + s / 100 for s in range(4)]
    # the grouped model's MIG is its group MIG, the others' their per-dim MIG
    expected = paired_bootstrap(group, [0.1 + s / 50 for s in range(4)], resamples=2000)
    assert rows["T16", "MIG"] == {"a": "S", "b": "T16", "metric": "MIG", **expected}
    assert rows["T16", "MIG (Chen, no shape)"]["difference"] == pytest.approx(expected["difference"] / 2)
    assert rows["T16", "per-dim MIG"]["mean_a"] == pytest.approx(0.05)  # same D: per-dim against per-dim
    assert ("T8", "per-dim MIG") not in rows  # 16 dims against 8: no per-dim pairing
    assert rows["T8", "MIG"]["pairs"] == 3  # only the seeds both have
    assert rows["T8", "held-out ELBO"]["difference"] == pytest.approx(np.mean([-40.0, -41.0, -42.0]) + 39.0)
    assert all(r["a"] == "S" for r in rows.values())  # only grouped models are compared against the rest


def test_mig_summary_reports_both_conventions_and_the_markdown_shows_them():
    summary = mig_summary(fig4_records())
    assert summary["by_label"]["S"]["mean"] == pytest.approx(0.05)
    assert summary["by_label"]["S"]["mean_chen2018"] == pytest.approx(0.025)
    assert summary["group_by_label"]["S"]["values"] == pytest.approx([0.2, 0.21, 0.22, 0.23])
    assert "T16" not in summary["group_by_label"]
    text = summary_markdown({"runs": 11, "mig": summary, "paired_comparisons": paired_comparisons(fig4_records())})
    assert "| S | 4 | 0.050 ± 0.000 | 0.025 ± 0.000 | 0.215 ± 0.013 | 0.107 ± 0.006 |" in text
    assert "| S | T8 | MIG | 3 |" in text


def test_fig3_pairs_each_seeds_coefficient_mean_with_its_beta_tcvae_run():
    records = []
    for seed in range(3):
        records.append(record(6.0, 12, 64, 1, 0.0, mig=0.1 * seed, seed=seed))  # the i = 1 reference
        for i, extra in ((2, 0.2), (3, 0.4), (6, 5.0)):  # i = 6 is coefficient 1: left out
            records.append(grouped(record(6.0, 12, 64, i, 0.0, mig=0.1 * seed + extra, seed=seed), 0.9))
    series = stcvae_capacity_series(records, resamples=500)[6.0]
    rows = {r["metric"]: r for r in series["paired"]}
    # per seed: mean over i = 1, 2, 3 of (0.1 s + {0, 0.2, 0.4}) minus the reference 0.1 s = 0.2
    assert rows["beta_stcvae"]["difference"] == pytest.approx(0.2) and rows["beta_stcvae"]["pairs"] == 3
    assert rows["beta_stcvae"]["low"] == pytest.approx(0.2) and rows["beta_stcvae"]["high"] == pytest.approx(0.2)
    # groups: i = 1 has none and counts per-dim; i = 2, 3 count their group MIG 0.9
    expected = np.mean([np.mean([0.1 * s, 0.9, 0.9]) - 0.1 * s for s in range(3)])
    assert rows["beta_stcvae_group"]["difference"] == pytest.approx(expected)
    table = capacity_series_markdown({6.0: series})
    assert "| 6 | 64 | 0.300 |" in table and "+0.200 [+0.200, +0.200]" in table


@pytest.mark.parametrize("kind", ["mig", "capacity_grouping"])
def test_write_summary_writes_json_markdown_and_figures(tmp_path, kind):
    import json

    from tcdecomp.experiments.figures import write_summary

    if kind == "mig":
        records = fig4_records() + [
            dict(r, config={**r["config"], "model": {**r["config"]["model"], "capacity": 64}}) for r in fig4_records()
        ]
    else:
        records = [
            grouped(record(b, 4, cap, i, -50.0 - i - seed, mig=0.1 * i, seed=seed), 0.3)
            if i > 1
            else record(b, 4, cap, i, -50.0 - seed, mig=0.1, seed=seed)
            for b in (2.0, 6.0)
            for cap in (16, 32, 64)
            for i in (1, 2)
            for seed in (0, 1)
        ]
    summary = write_summary({"kind": kind}, records, tmp_path)
    assert json.loads((tmp_path / "summary.json").read_text())["runs"] == len(records)
    text = (tmp_path / "summary.md").read_text()
    assert "Fig. 3: MIG against capacity" in text and ("| S | T16 | MIG |" in text) == (kind == "mig")
    assert ("Omniscient latents (eq. 9, epsilon = 0.001, delta = 0.01): none" in text) == (kind != "mig")
    figures = {"mig": ["mig.png"], "capacity_grouping": ["trajectory.png"]}[kind] + ["mig_capacity.png"]
    assert all((tmp_path / f).stat().st_size > 0 for f in figures)
    assert set(summary["stcvae_capacity_series"]) == ({6.0} if kind == "mig" else {2.0, 6.0})


def test_a_single_capacity_has_no_fig3_curve(tmp_path):
    from tcdecomp.experiments.figures import write_summary

    summary = write_summary({"kind": "mig"}, fig4_records(), tmp_path)
    assert "stcvae_capacity_series" not in summary and not (tmp_path / "mig_capacity.png").exists()
    assert "Fig. 3" not in (tmp_path / "summary.md").read_text()


def test_the_best_coefficient_is_paired_with_beta_tcvae_by_seed():
    from tcdecomp.experiments.figures import trajectory_markdown

    # D = 4: coefficients 1/2 (i = 1) and 1 (i = 2); i = 2 is better by 1 + seed/10 nats on each seed
    records = [record(6.0, 4, 16, 1, -100.0 - seed, seed=seed) for seed in range(4)]
    records += [record(6.0, 4, 16, 2, -99.0 - seed + seed / 10, seed=seed) for seed in range(4)]
    point = trajectory(records)["points"][0]
    assert point["best_coefficient"] == pytest.approx(1.0)
    expected = paired_bootstrap([-99.0 - s + s / 10 for s in range(4)], [-100.0 - s for s in range(4)])
    assert point["best_vs_beta_tcvae"] == expected and expected["difference"] == pytest.approx(1.15)
    table = trajectory_markdown(trajectory(records))
    assert f"| 1.00 | +1.15 [{expected['low']:+.2f}, {expected['high']:+.2f}] |" in table
    # where i = 1 is the best, there is nothing to pair
    assert trajectory(records[:4] + [record(6.0, 4, 16, 2, -200.0)])["points"][0]["best_vs_beta_tcvae"] is None


def test_record_mig_names_a_bad_convention_or_variables():
    from tcdecomp.experiments.figures import record_mig

    r = grouped(record(6.0, 4, 16, 2, 0.0, mig=0.1), 0.4)
    assert (record_mig(r), record_mig(r, "chen2018"), record_mig(r, variables="dims")) == (0.4, 0.2, 0.1)
    with pytest.raises(ValueError, match="convention must be one of"):
        record_mig(r, "chen")
    with pytest.raises(ValueError, match="variables must be one of"):
        record_mig(r, variables="groups")


@pytest.mark.parametrize("function", [paired_comparisons, stcvae_capacity_series])
def test_interval_options_are_checked_even_without_pairs(function):
    with pytest.raises(ValueError, match="level must be in"):
        function([], level=1.5)
    with pytest.raises(ValueError, match="resamples"):
        function([], resamples=0)
