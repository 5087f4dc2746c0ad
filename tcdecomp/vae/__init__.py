"""The VAE layer: beta-STCVAE and its baselines, data, training, evaluation."""

from .config import Config, load_config
from .data import FactorDataset, ProceduralDSprites, render_dsprites
from .evaluate import Evaluation
from .losses import DIPVAE, HFVAE, BetaSTCVAE, BetaTCVAE, BetaVAE, FactorVAE, build_loss
from .metrics import (
    METRICS,
    beta_vae_score,
    dci,
    elbo_decomposition,
    factor_vae_score,
    mig_discrete,
    mig_sampled,
    modularity_explicitness,
    omniscient_latents,
    sap,
)
from .models import VAE, VAEOutput, build_vae
from .train import restore, train, training_step

__all__ = [
    "METRICS",
    "Evaluation",
    "beta_vae_score",
    "dci",
    "factor_vae_score",
    "modularity_explicitness",
    "sap",
    "BetaSTCVAE",
    "BetaTCVAE",
    "BetaVAE",
    "Config",
    "DIPVAE",
    "FactorDataset",
    "FactorVAE",
    "HFVAE",
    "ProceduralDSprites",
    "VAE",
    "VAEOutput",
    "build_loss",
    "build_vae",
    "elbo_decomposition",
    "load_config",
    "mig_discrete",
    "mig_sampled",
    "omniscient_latents",
    "render_dsprites",
    "restore",
    "train",
    "training_step",
]
