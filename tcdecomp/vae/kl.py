"""The decomposed KL (docs/math.md#loss-family): one function for the losses and for the evaluation.

    E_x KL(q(z|x) || p(z)) = MI + TC_groups + TC_within + dimKL

Both the training losses (log q^ from a minibatch estimator) and the held-out evaluation
(log q exact over the data set) evaluate the same sets of dims in one fused pass and hand the
log-densities to :func:`kl_terms`.
"""

from __future__ import annotations

import torch

from ..plans import contiguous_groups


def decomposition_sets(latent_dim: int, group_size: int) -> tuple[list[list[int]], tuple]:
    """The sets whose log-densities the decomposition needs, and the groups: the joint, then the groups
    (when 1 < group_size < latent_dim, where they differ from the joint and the single dims), then
    every single dim."""
    groups = contiguous_groups(latent_dim, group_size)  # raises with the valid divisors
    middle = [list(g) for g in groups] if 1 < group_size < latent_dim else []
    return [list(range(latent_dim))] + middle + [[k] for k in range(latent_dim)], groups


def kl_terms(log_qzx: torch.Tensor, log_q: torch.Tensor, log_pz: torch.Tensor, groups) -> dict[str, torch.Tensor]:
    """Per-sample MI, TC_groups, TC_within and dimKL (each a B-vector).

    Args:
        log_qzx: log q(z_b | x_b).
        log_q: B x S log-densities of :func:`decomposition_sets`'s sets, in its order.
        log_pz: log p(z_b) under the prior.
        groups: the partition of the dims (contiguous groups of the grouping factor).
    """
    latent_dim = sum(len(g) for g in groups)
    group_size = len(groups[0])
    joint, singles = log_q[:, 0], log_q[:, log_q.shape[1] - latent_dim :]
    if group_size == 1:
        group_q = singles
    elif group_size == latent_dim:
        group_q = joint[:, None]
    else:
        group_q = log_q[:, 1 : 1 + len(groups)]
    within = torch.stack([singles[:, list(g)].sum(1) for g in groups], dim=1)
    return {
        "mi": log_qzx - joint,
        "tc_groups": joint - group_q.sum(1),
        "tc_within": (group_q - within).sum(1),
        "dim_kl": singles.sum(1) - log_pz,
    }
