"""Every metric of a VAE's latent code, each a function returning a typed result with ``to_dict()``:

* :mod:`.elbo`: the held-out ELBO decomposition and omniscient latents;
* :mod:`.mig`: MIG, sampled (Chen et al. 2018) and discretised (disentanglement_lib);
* :mod:`.suite`: DCI, SAP, modularity and explicitness on codes and factor classes (scikit-learn);
* :mod:`.interventions`: the FactorVAE and beta-VAE scores on batches with one factor fixed;
* :mod:`.registry`: the metrics ``evaluate`` can add, by name.
"""

from .elbo import ELBODecomposition, elbo_decomposition, encode, omniscient_latents
from .interventions import beta_vae_score, factor_vae_score
from .mig import FACTOR_CONVENTIONS, factor_selection, mig_discrete, mig_sampled, mig_under
from .registry import METRICS, Metric, MetricInputs
from .results import DCIResult, InterventionScore, MIGResult, MIGScore, ModularityResult, Result, SAPResult
from .suite import dci, modularity_explicitness, sap

__all__ = [
    "DCIResult",
    "ELBODecomposition",
    "FACTOR_CONVENTIONS",
    "InterventionScore",
    "METRICS",
    "MIGResult",
    "MIGScore",
    "Metric",
    "MetricInputs",
    "ModularityResult",
    "Result",
    "SAPResult",
    "beta_vae_score",
    "dci",
    "elbo_decomposition",
    "encode",
    "factor_selection",
    "factor_vae_score",
    "mig_discrete",
    "mig_sampled",
    "mig_under",
    "modularity_explicitness",
    "omniscient_latents",
    "sap",
]
