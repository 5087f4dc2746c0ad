"""Encoders, decoders and the VAE wrapper.

``capacity`` is the one width knob the paper's experiments sweep ("parameter capacity"):
the hidden width of the MLP, or the base channel count of the conv networks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from .._checks import check_choice, check_positive_int
from .._constants import LOG_2PI

ARCHS = ("mlp", "conv")
LIKELIHOODS = ("bernoulli", "gaussian")


#: capacity where a config gives none: beta-TCVAE's MLP width and a 32-channel conv base
DEFAULT_CAPACITY = {"mlp": 1200, "conv": 32}


class MLPEncoder(nn.Module):
    """x -> (mu, logvar) with two hidden layers of ``capacity`` units (beta-TCVAE uses 1200)."""

    def __init__(self, image_shape, latent_dim: int, capacity: int = 1200):
        super().__init__()
        n_in = math.prod(image_shape)
        self.net = nn.Sequential(
            nn.Flatten(),
            nn.Linear(n_in, capacity),
            nn.ReLU(),
            nn.Linear(capacity, capacity),
            nn.ReLU(),
            nn.Linear(capacity, 2 * latent_dim),
        )

    def forward(self, x):
        return self.net(x).chunk(2, dim=1)


class MLPDecoder(nn.Module):
    def __init__(self, image_shape, latent_dim: int, capacity: int = 1200):
        super().__init__()
        self.image_shape = tuple(image_shape)
        self.net = nn.Sequential(
            nn.Linear(latent_dim, capacity),
            nn.Tanh(),
            nn.Linear(capacity, capacity),
            nn.Tanh(),
            nn.Linear(capacity, math.prod(image_shape)),
        )

    def forward(self, z):
        return self.net(z).view(-1, *self.image_shape)


class ConvEncoder(nn.Module):
    """beta-TCVAE's 64 x 64 conv encoder (Chen et al. 2018, appendix): channels
    c, c, 2c, 2c (4 x 4 kernels, stride 2), 16c (4 x 4), then a 1 x 1 conv to 2D; c = capacity
    (32 in the reference). No batch norm, so each posterior depends on its own image only."""

    def __init__(self, image_shape, latent_dim: int, capacity: int = 32):
        super().__init__()
        c, (channels, h, w) = capacity, image_shape
        if (h, w) != (64, 64):
            raise ValueError(f"the conv architecture takes 64 x 64 images, got {h} x {w}; use arch='mlp'")
        self.net = nn.Sequential(
            nn.Conv2d(channels, c, 4, 2, 1),
            nn.ReLU(),
            nn.Conv2d(c, c, 4, 2, 1),
            nn.ReLU(),
            nn.Conv2d(c, 2 * c, 4, 2, 1),
            nn.ReLU(),
            nn.Conv2d(2 * c, 2 * c, 4, 2, 1),
            nn.ReLU(),
            nn.Conv2d(2 * c, 16 * c, 4),
            nn.ReLU(),
            nn.Conv2d(16 * c, 2 * latent_dim, 1),
            nn.Flatten(),
        )

    def forward(self, x):
        return self.net(x).chunk(2, dim=1)


class ConvDecoder(nn.Module):
    """The mirror of :class:`ConvEncoder` with transposed convolutions."""

    def __init__(self, image_shape, latent_dim: int, capacity: int = 32):
        super().__init__()
        c, channels = capacity, image_shape[0]
        self.net = nn.Sequential(
            nn.Unflatten(1, (latent_dim, 1, 1)),
            nn.ConvTranspose2d(latent_dim, 16 * c, 1),
            nn.ReLU(),
            nn.ConvTranspose2d(16 * c, 2 * c, 4),
            nn.ReLU(),
            nn.ConvTranspose2d(2 * c, 2 * c, 4, 2, 1),
            nn.ReLU(),
            nn.ConvTranspose2d(2 * c, c, 4, 2, 1),
            nn.ReLU(),
            nn.ConvTranspose2d(c, c, 4, 2, 1),
            nn.ReLU(),
            nn.ConvTranspose2d(c, channels, 4, 2, 1),
        )

    def forward(self, z):
        return self.net(z)


@dataclass
class VAEOutput:
    """What a loss needs from a VAE's forward pass on a batch x (any encoder and decoder can fill it)."""

    #: the encoder's means and log-variances, B x D
    mu: torch.Tensor
    logvar: torch.Tensor
    #: one reparameterised draw from q(z|x) per example, B x D
    z: torch.Tensor
    #: log p(x | z) per example (B,), normalising constants included
    log_px: torch.Tensor
    #: the decoder's output for z (for pictures); optional
    logits: torch.Tensor | None = None


class VAE(nn.Module):
    """A VAE with a factorised Gaussian encoder, N(0, I) prior and a Bernoulli or Gaussian likelihood.

    For ``likelihood="gaussian"`` the decoder gives the mean sigmoid(logits) with a fixed
    ``obs_std``; both likelihoods keep their normalising constants, so ELBOs are true bounds.
    """

    def __init__(self, encoder, decoder, latent_dim: int, likelihood: str = "bernoulli", obs_std: float = 0.1):
        super().__init__()
        self.encoder, self.decoder = encoder, decoder
        self.latent_dim = latent_dim
        self.likelihood = check_choice(likelihood, LIKELIHOODS, "likelihood")
        self.obs_std = obs_std

    def encode(self, x):
        mu, logvar = self.encoder(x)
        return mu, logvar

    def decode(self, z):
        return self.decoder(z)

    def forward(self, x) -> VAEOutput:
        mu, logvar = self.encode(x)
        z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)
        logits = self.decode(z)
        return VAEOutput(mu, logvar, z, self.log_likelihood(x, logits), logits)

    def log_likelihood(self, x, logits) -> torch.Tensor:
        """log p(x | z) per example (B,)."""
        if self.likelihood == "bernoulli":
            return -F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(1)
        mean = torch.sigmoid(logits)
        var = self.obs_std**2
        return (-0.5 * ((x - mean) ** 2 / var + math.log(var) + LOG_2PI)).flatten(1).sum(1)

    def mean_image(self, logits):
        return torch.sigmoid(logits)


def build_vae(
    arch: str = "conv",
    latent_dim: int = 10,
    capacity: int | None = None,
    image_shape=(1, 64, 64),
    likelihood: str = "bernoulli",
) -> VAE:
    """A VAE with the named architecture; ``capacity`` defaults to beta-TCVAE's (MLP 1200, conv 32)."""
    check_choice(arch, ARCHS, "arch")
    latent_dim = check_positive_int(latent_dim, "latent_dim")
    capacity = check_positive_int(capacity if capacity is not None else DEFAULT_CAPACITY[arch], "capacity")
    enc_cls, dec_cls = (MLPEncoder, MLPDecoder) if arch == "mlp" else (ConvEncoder, ConvDecoder)
    return VAE(
        enc_cls(image_shape, latent_dim, capacity), dec_cls(image_shape, latent_dim, capacity), latent_dim, likelihood
    )


def gaussian_log_density(z, mu, logvar):
    """Per-dim log N(z; mu, exp(logvar))."""
    return -0.5 * (LOG_2PI + logvar + (z - mu) ** 2 * torch.exp(-logvar))


def kl_to_standard_normal(mu, logvar):
    """KL(N(mu, exp(logvar)) || N(0, 1)) per example, summed over dims (B,)."""
    return 0.5 * (mu**2 + torch.exp(logvar) - 1.0 - logvar).sum(1)
