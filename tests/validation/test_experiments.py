"""The paper's summaries from synthetic sweep records (no training): per-beta trajectories, eq. 9's
omniscient-latent regions, and Fig. 3's beta-STCVAE average over grouping coefficients."""

import pytest

from tcdecomp.validation.experiments import omniscient_regions, stcvae_capacity_series, trajectory


def record(beta, dim, cap, group_size, elbo, entropies=None, mig=None, name="beta_stcvae"):
    r = {
        "config": {
            "model": {"latent_dim": dim, "capacity": cap},
            "loss": {"name": name, "beta": beta, "group_size": group_size},
        },
        "decomposition": {"elbo": {"value": elbo}, "marginal_entropies": entropies or [1.0] * dim},
        "omniscient_latents": [],
    }
    if mig is not None:
        r["mig_sampled"] = {"mig": mig}
    return r


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
    series = stcvae_capacity_series(records)
    assert series["beta_stcvae"][64] == {"mean": pytest.approx(0.3), "runs": 3}
    assert series["beta_tcvae"][64] == {"mean": pytest.approx(0.2), "runs": 1}


def test_a_variant_can_run_every_grouping_factor():
    from tcdecomp.validation.sweep import check_sweep, expand

    spec = {
        "name": "s",
        "base": {"model": {"arch": "mlp", "capacity": 8}, "data": {"subset": {"orientation": 20}}},
        "grid": {"train.seed": [0]},
        "variants": [
            {"label": "stcvae", "model.latent_dim": 12, "loss.name": "beta_stcvae", "loss.group_size": "divisors"},
            {"label": "tcvae", "model.latent_dim": 8, "loss.name": "beta_tcvae"},
        ],
    }
    check_sweep(spec)
    runs = expand(spec)
    sizes = sorted(r["config"]["loss"]["group_size"] for r in runs if r["label"] == "stcvae")
    assert sizes == [1, 2, 3, 4, 6] and sum(r["label"] == "tcvae" for r in runs) == 1
    assert all("group_size" not in r["config"]["loss"] for r in runs if r["label"] == "tcvae")
