"""The metrics ``evaluate`` can add to its report, one entry each: the CLI's ``--metrics`` choices, the dispatch
and the report's labels all derive from :data:`METRICS`. Adding a metric is one function and one entry here."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from . import interventions, suite
from .results import Result

#: votes / points of the intervention scores in evaluate (the reference's 10,000 / 5,000 take long on a CPU)
SCORE_TRAIN, SCORE_EVAL = 1000, 500


@dataclass(frozen=True)
class MetricInputs:
    """What a metric may use: the model and its data set, the encoder means (codes) of the scored rows with
    their factor classes, the seed and the device."""

    model: object
    dataset: object
    codes: np.ndarray
    classes: np.ndarray
    seed: int
    device: str


@dataclass(frozen=True)
class Metric:
    """A metric of the report: its name (the CLI's choice and the key in ``evaluation.json``), its label in
    the text report, and how it is computed from :class:`MetricInputs`."""

    name: str
    label: str
    compute: Callable[[MetricInputs], Result]


def _on_codes(function) -> Callable[[MetricInputs], Result]:
    return lambda inputs: function(inputs.codes, inputs.classes, seed=inputs.seed)


def _intervening(function) -> Callable[[MetricInputs], Result]:
    # The module's constants are read at call time, so a test (or a patient user) can change them.
    return lambda inputs: function(
        inputs.model,
        inputs.dataset,
        num_train=SCORE_TRAIN,
        num_eval=SCORE_EVAL,
        seed=inputs.seed,
        device=inputs.device,
    )


METRICS: dict[str, Metric] = {
    metric.name: metric
    for metric in (
        Metric("dci", "DCI", _on_codes(suite.dci)),
        Metric("sap", "SAP", _on_codes(suite.sap)),
        Metric("modularity", "modularity/explicitness", _on_codes(suite.modularity_explicitness)),
        Metric("factorvae", "FactorVAE score", _intervening(interventions.factor_vae_score)),
        Metric("betavae", "beta-VAE score", _intervening(interventions.beta_vae_score)),
    )
}
