"""The VAE layer: beta-STCVAE and its baselines, data, training, evaluation."""

from .config import Config, load_config
from .data import FactorDataset, ProceduralDSprites, render_dsprites
from .losses import DIPVAE, HFVAE, BetaSTCVAE, BetaTCVAE, BetaVAE, FactorVAE, build_loss
from .metrics import elbo_decomposition, mig_discrete, mig_sampled, omniscient_latents
from .models import VAE, VAEOutput, build_vae
from .train import restore, train

__all__ = [
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
]
