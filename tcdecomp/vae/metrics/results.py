"""Typed results of the metrics: small frozen dataclasses whose ``to_dict()`` is the JSON that
``evaluation.json`` and a sweep's store hold (fields left ``None`` are not written)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field


class Result:
    """A metric's result: its fields, ``to_dict()`` for JSON, ``scalars()`` for a one-line report."""

    def to_dict(self) -> dict:
        return {
            f.name: _plain(getattr(self, f.name)) for f in dataclasses.fields(self) if getattr(self, f.name) is not None
        }

    def scalars(self) -> dict[str, float]:
        """The fields that are single scores (floats), in field order."""
        return {
            f.name: getattr(self, f.name) for f in dataclasses.fields(self) if isinstance(getattr(self, f.name), float)
        }


def _plain(value):
    if isinstance(value, Result):
        return value.to_dict()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


@dataclass(frozen=True)
class MIGScore(Result):
    """MIG re-scored with only ``factors`` counting (the MI matrix of the full result is the same)."""

    mig: float
    per_factor: list[float]
    factors: list[int]


@dataclass(frozen=True)
class MIGResult(Result):
    """MIG (docs/math.md#mig): the score, the normalised gap of each counted factor, the variables x factors MI
    matrix (every factor, nats) and each factor's entropy. ``variables`` and ``factors`` (the latent variables
    and the counted factors) are set by :func:`mig_sampled`; ``conventions`` holds re-scorings under published
    factor conventions (e.g. ``"chen2018"``), written beside the score in ``to_dict()``."""

    mig: float
    per_factor: list[float]
    mi: list[list[float]]
    factor_entropy: list[float]
    variables: list[list[int]] | None = None
    factors: list[int] | None = None
    conventions: dict[str, MIGScore] = field(default_factory=dict)

    def to_dict(self) -> dict:
        out = super().to_dict()
        out.update(out.pop("conventions"))
        return out

    def with_convention(self, name: str, score: MIGScore) -> MIGResult:
        return dataclasses.replace(self, conventions={**self.conventions, name: score})


@dataclass(frozen=True)
class DCIResult(Result):
    """DCI (Eastwood & Williams 2018): disentanglement, completeness, informativeness (mean train and test
    accuracy) and the codes x factors importance matrix."""

    disentanglement: float
    completeness: float
    informativeness_train: float
    informativeness_test: float
    importance: list[list[float]]


@dataclass(frozen=True)
class SAPResult(Result):
    """SAP (Kumar et al. 2018): the score, the codes x counted-factors accuracy matrix, the counted factors."""

    sap: float
    scores: list[list[float]]
    factors: list[int]


@dataclass(frozen=True)
class ModularityResult(Result):
    """Modularity and explicitness (Ridgeway & Mozer 2018), with the codes x counted-factors MI matrix."""

    modularity: float
    explicitness_train: float
    explicitness_test: float
    mi: list[list[float]]
    factors: list[int]


@dataclass(frozen=True)
class InterventionScore(Result):
    """A score from batches with one factor fixed (FactorVAE, beta-VAE): the classifier's train and held-out
    accuracy; ``active_dims`` (the FactorVAE score's dims above the variance threshold) where it applies."""

    train_accuracy: float
    eval_accuracy: float
    active_dims: int | None = None
