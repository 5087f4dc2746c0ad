"""The beta-STCVAE loss family (paper eq. 7-8; docs/math.md#loss-family).

A loss is a function of the model's output, a :class:`~tcdecomp.vae.models.VAEOutput` (mu,
logvar, z and log p(x|z) per example), so any encoder and decoder can use it::

    out = model(x)                  # or VAEOutput(mu, logvar, z, log_px) from your own networks
    total, parts = loss(out)        # the scalar to minimise, and detached parts for logging
    total.backward(); optimizer.step()
    loss.after_step(out)            # the bank's update, FactorVAE's discriminator step

``parts`` always includes the true ``elbo = E[log p(x|z)] - KL(q(z|x) || p(z))`` (for
group_size > 1 the beta-STCVAE objective is not the ELBO). A loss is an ``nn.Module``: its state (the
posterior bank's buffers, FactorVAE's discriminator and, as extra state, its optimiser) comes with torch's
``state_dict`` / ``load_state_dict``, and ``loss.to(device)`` moves it.

TC family, with log q^ from one Posterior estimator on the minibatch:
    MI        = mean_b[log q(z_b|x_b) - log q^(z_b)]
    TC_groups = mean_b[log q^(z_b) - sum_g log q^(z_b,G_g)]      (contiguous groups of size i)
    TC_within = sum_g mean_b[log q^(z_b,G_g) - sum_{k in g} log q^(z_b,k)]
    dimKL     = mean_b[sum_k log q^(z_b,k) - log p(z_b)]
    loss      = recon + alpha MI + beta TC_groups + gamma TC_within + lambda dimKL
beta-STCVAE: gamma = 0, group size i; beta-TCVAE: i = 1; HFVAE: gamma > 0.

Data parallelism: a loss's ``distributed`` attribute (set by :func:`tcdecomp.vae.train.train`
under torchrun) makes the TC family evaluate its estimator against the global batch and
keep one bank, identical in every process, of global batches; FactorVAE averages its
discriminator's gradients and DIP-VAE takes the covariance of the global batch's means.
"""

from __future__ import annotations

import inspect

import torch
from torch import nn
from torch.nn import functional as F

from .._checks import check_choice, check_positive_float, check_positive_int, check_weight
from ..distributed import all_gather_rows, average_gradients
from ..posterior import Posterior, PosteriorBank
from ..posterior_estimators import ESTIMATORS, MINIBATCH_ESTIMATORS
from .kl import decomposition_sets, kl_terms
from .models import gaussian_log_density, kl_to_standard_normal


def _detach(parts: dict) -> dict:
    return {k: float(v.detach()) if torch.is_tensor(v) else float(v) for k, v in parts.items()}


class VAELoss(nn.Module):
    """Base: reconstruction, analytic KL and the true ELBO. ``loss(out)`` returns the scalar to minimise and
    detached parts for logging (``forward``)."""

    name = "vae"
    distributed = False

    def base_terms(self, out):
        """The reconstruction term -E[log p(x|z)] and the analytic KL per example."""
        return -out.log_px.mean(), kl_to_standard_normal(out.mu, out.logvar)

    def after_step(self, out) -> None:
        """Called once per training step after the optimiser step."""


class BetaVAE(VAELoss):
    """recon + beta KL(q(z|x) || p(z)) (Higgins et al. 2017)."""

    name = "beta_vae"

    def __init__(self, beta: float = 4.0):
        super().__init__()
        self.beta = check_weight(beta, "loss.beta")

    def forward(self, out):
        recon, kl = self.base_terms(out)
        kl_mean = kl.mean()
        total = recon + self.beta * kl_mean
        return total, _detach({"loss": total, "recon": recon, "kl": kl_mean, "elbo": -(recon + kl_mean)})


class TCFamily(VAELoss):
    """The decomposed-KL losses; see the module docstring."""

    name = "tc_family"

    def __init__(
        self,
        dataset_size: int,
        beta: float = 6.0,
        group_size: int = 1,
        gamma: float = 0.0,
        alpha: float = 1.0,
        lam: float = 1.0,
        estimator: str = "mss",
        bank_capacity: int | None = None,
    ):
        super().__init__()
        self.dataset_size = check_positive_int(dataset_size, "dataset_size")
        self.group_size = check_positive_int(group_size, "loss.group_size")
        self.alpha, self.beta = check_weight(alpha, "loss.alpha"), check_weight(beta, "loss.beta")
        self.gamma, self.lam = check_weight(gamma, "loss.gamma"), check_weight(lam, "loss.lam")
        self.estimator = check_choice(estimator, MINIBATCH_ESTIMATORS, "loss.estimator")
        self.bank = None
        if ESTIMATORS[estimator].takes_bank:
            self.bank = PosteriorBank(
                check_positive_int(4096 if bank_capacity is None else bank_capacity, "loss.bank_capacity")
            )
        elif bank_capacity is not None:
            raise ValueError("loss.bank_capacity only applies to loss.estimator='bank'")

    def sets(self, latent_dim: int):
        """The joint, then the groups (when grouped), then the single dims: one fused pass evaluates all."""
        return decomposition_sets(latent_dim, self.group_size)

    def decomposed(self, out):
        """MI, TC_groups, TC_within and dimKL (differentiable minibatch means)."""
        sets, groups = self.sets(out.mu.shape[1])
        post = Posterior(
            out.mu,
            out.logvar,
            z=out.z,
            dataset_size=self.dataset_size,
            estimator=self.estimator,
            bank=self.bank,
            distributed=self.distributed,
        )
        log_qzx = gaussian_log_density(out.z, out.mu, out.logvar).sum(1)
        log_pz = gaussian_log_density(out.z, torch.zeros_like(out.z), torch.zeros_like(out.z)).sum(1)
        return {k: v.mean() for k, v in kl_terms(log_qzx, post.log_density(sets), log_pz, groups).items()}

    def objective(self, out) -> tuple[torch.Tensor, dict]:
        """The loss and its parts, all tensors: what ``torch.compile(fullgraph=True)`` can trace."""
        recon, kl = self.base_terms(out)
        batch = out.mu.shape[0]
        if self.bank is not None and len(self.bank) + batch > self.dataset_size:
            raise ValueError(
                f"batch + bank ({batch} + {len(self.bank)}) exceed "
                f"dataset_size={self.dataset_size}; lower loss.bank_capacity"
            )
        parts = self.decomposed(out)
        total = (
            recon
            + self.alpha * parts["mi"]
            + self.beta * parts["tc_groups"]
            + self.gamma * parts["tc_within"]
            + self.lam * parts["dim_kl"]
        )
        kl_mean = kl.mean()
        return total, {
            "loss": total,
            "recon": recon,
            **parts,
            "tc": parts["tc_groups"] + parts["tc_within"],
            "kl": kl_mean,
            "elbo": -(recon + kl_mean),
        }

    def forward(self, out):
        total, parts = self.objective(out)
        return total, _detach(parts)

    def after_step(self, out) -> None:
        if self.bank is None:
            return
        mu, logvar = out.mu.detach(), out.logvar.detach()
        if self.distributed:  # the global batch in rank order, so every process keeps the same bank
            mu, logvar = all_gather_rows(mu)[0], all_gather_rows(logvar)[0]
        self.bank.update(mu, logvar)


class BetaTCVAE(TCFamily):
    """beta-TCVAE (Chen et al. 2018): TC on single dims, weight beta."""

    name = "beta_tcvae"
    fixed_parameters = ("group_size", "gamma")

    def __init__(self, dataset_size: int, beta: float = 6.0, **kw):
        super().__init__(dataset_size, beta=beta, group_size=1, gamma=0.0, **kw)


class BetaSTCVAE(TCFamily):
    """beta-STCVAE (paper eq. 7): beta weighs the TC between contiguous groups of ``group_size`` dims;
    dependence within a group is left free (gamma = 0). group_size = 1 is beta-TCVAE."""

    name = "beta_stcvae"
    fixed_parameters = ("gamma",)

    def __init__(self, dataset_size: int, group_size: int = 2, beta: float = 6.0, **kw):
        super().__init__(dataset_size, beta=beta, group_size=group_size, gamma=0.0, **kw)

    def sets(self, latent_dim: int):
        if self.group_size == latent_dim > 1:
            divisors = [i for i in range(1, latent_dim) if latent_dim % i == 0]
            raise ValueError(
                f"loss.group_size={self.group_size} equals model.latent_dim: one group holds every dim, so "
                f"TC_groups is identically 0 and beta does nothing (the paper excludes it); choose one of {divisors}"
            )
        return super().sets(latent_dim)


class HFVAE(TCFamily):
    """HFVAE (Esmaeili et al. 2019; paper eq. 8): beta between groups and gamma within them."""

    name = "hfvae"

    def __init__(self, dataset_size: int, gamma: float = 1.0, group_size: int = 2, beta: float = 6.0, **kw):
        super().__init__(dataset_size, beta=beta, group_size=group_size, gamma=gamma, **kw)


def permute_dims(z: torch.Tensor, generator=None) -> torch.Tensor:
    """Shuffle each latent dim independently across the batch: samples of prod_k q(z_k)."""
    B = z.shape[0]
    idx = torch.stack([torch.randperm(B, generator=generator) for _ in range(z.shape[1])], dim=1).to(z.device)
    return torch.gather(z, 0, idx)


class FactorVAE(VAELoss):
    """FactorVAE (Kim & Mnih 2018): recon + KL + gamma TC, with TC from a discriminator's
    density ratio log(D(z) / (1 - D(z))); the discriminator tells z from a dim-wise permuted batch."""

    name = "factorvae"

    def __init__(self, latent_dim: int, gamma: float = 6.4, hidden: int = 1000, lr: float = 1e-4):
        super().__init__()
        self.gamma = check_weight(gamma, "loss.gamma")
        hidden = check_positive_int(hidden, "loss.hidden")
        lr = check_positive_float(lr, "loss.lr")
        self.discriminator = nn.Sequential(
            nn.Linear(latent_dim, hidden),
            nn.LeakyReLU(0.2),
            nn.Linear(hidden, hidden),
            nn.LeakyReLU(0.2),
            nn.Linear(hidden, hidden),
            nn.LeakyReLU(0.2),
            nn.Linear(hidden, 2),
        )
        self.optimizer = torch.optim.Adam(self.discriminator.parameters(), lr=lr, betas=(0.5, 0.9))

    def forward(self, out):
        recon, kl = self.base_terms(out)
        logits = self.discriminator(out.z)
        tc = (logits[:, 0] - logits[:, 1]).mean()
        kl_mean = kl.mean()
        total = recon + kl_mean + self.gamma * tc
        return total, _detach({"loss": total, "recon": recon, "kl": kl_mean, "tc": tc, "elbo": -(recon + kl_mean)})

    def after_step(self, out) -> None:
        z = out.z.detach()
        ones = torch.zeros(z.shape[0], dtype=torch.long, device=z.device)
        d_real = self.discriminator(z)
        d_perm = self.discriminator(permute_dims(z))
        loss = 0.5 * (F.cross_entropy(d_real, ones) + F.cross_entropy(d_perm, ones + 1))
        self.optimizer.zero_grad()
        loss.backward()
        average_gradients(self.discriminator.parameters())  # keeps the processes' discriminators identical
        self.optimizer.step()

    def get_extra_state(self) -> dict:
        """The discriminator's optimiser: saved in ``state_dict`` beside the discriminator's weights."""
        return self.optimizer.state_dict()

    def set_extra_state(self, state: dict) -> None:
        self.optimizer.load_state_dict(state)


class DIPVAE(VAELoss):
    """DIP-VAE-I (Kumar et al. 2018): recon + KL + lambda_od sum_{i!=j} Cov[mu]_ij^2
    + lambda_d sum_i (Cov[mu]_ii - 1)^2, on the encoder means of the minibatch."""

    name = "dipvae"

    def __init__(self, lambda_od: float = 10.0, lambda_d: float | None = None):
        super().__init__()
        self.lambda_od = check_weight(lambda_od, "loss.lambda_od")
        self.lambda_d = 10.0 * self.lambda_od if lambda_d is None else check_weight(lambda_d, "loss.lambda_d")

    def forward(self, out):
        recon, kl = self.base_terms(out)
        mu = all_gather_rows(out.mu)[0] if self.distributed else out.mu
        centred = mu - mu.mean(0, keepdim=True)
        cov = centred.T @ centred / mu.shape[0]
        diag = torch.diagonal(cov)
        off = cov - torch.diag(diag)
        penalty = self.lambda_od * (off**2).sum() + self.lambda_d * ((diag - 1) ** 2).sum()
        kl_mean = kl.mean()
        total = recon + kl_mean + penalty
        return total, _detach(
            {"loss": total, "recon": recon, "kl": kl_mean, "dip": penalty, "elbo": -(recon + kl_mean)}
        )


LOSSES = {
    "beta_vae": BetaVAE,
    "beta_tcvae": BetaTCVAE,
    "beta_stcvae": BetaSTCVAE,
    "hfvae": HFVAE,
    "factorvae": FactorVAE,
    "dipvae": DIPVAE,
}


def build_loss(name: str, *, dataset_size: int, latent_dim: int, **params) -> VAELoss:
    """A loss by name with its parameters (unknown parameters raise)."""
    check_choice(name, tuple(LOSSES), "loss.name")
    cls = LOSSES[name]
    known = loss_parameters(cls)
    unknown = sorted(set(params) - set(known))
    if unknown:
        raise ValueError(f"loss.{unknown[0]} is not a parameter of {name}; its parameters are {known}")
    if issubclass(cls, TCFamily):
        params["dataset_size"] = dataset_size
    if cls is FactorVAE:
        params["latent_dim"] = latent_dim
    return cls(**params)


#: set by the training loop, not by the config
_SUPPLIED = ("self", "dataset_size", "latent_dim")


def loss_defaults(name: str) -> dict:
    """Every config parameter of the loss ``name`` with its default (a required one is left out)."""
    cls = LOSSES[check_choice(name, tuple(LOSSES), "loss.name")]
    defaults = {}
    for owner in (TCFamily, cls):  # the class's own defaults win over what it passes on to TCFamily
        for p in inspect.signature(owner.__init__).parameters.values():
            if p.default is not p.empty:
                defaults[p.name] = p.default
    return {k: defaults[k] for k in loss_parameters(cls) if k in defaults}


def loss_parameters(cls) -> list[str]:
    """The config keys a loss class takes (its own keywords, and TCFamily's where it passes **kw on)."""
    names, spec = [], inspect.signature(cls.__init__).parameters
    for p in spec.values():
        if p.kind is p.VAR_KEYWORD:
            names += [q for q in loss_parameters(TCFamily) if q not in names]
        elif p.name not in _SUPPLIED and p.kind is not p.VAR_POSITIONAL:
            names.append(p.name)
    return [n for n in names if n not in getattr(cls, "fixed_parameters", ())]
