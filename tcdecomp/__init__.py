"""tcdecomp: total correlation estimation and exact decomposition in PyTorch."""

from .decomposition import Decomposition, Estimate
from .gaussian import Gaussian, gaussian_entropy
from .kernels import group_logsumexp
from .plans import (
    Plan,
    Term,
    bottom_up_plan,
    contiguous_groups,
    grouped_plan,
    line_plan,
    top_down_plan,
)
from .posterior import Posterior, PosteriorBank
from .samples import Samples, tc_plugin_bias
from .student_t import StudentT

__version__ = "0.1.0"

__all__ = [
    "Decomposition",
    "Estimate",
    "Gaussian",
    "Plan",
    "Posterior",
    "PosteriorBank",
    "Samples",
    "StudentT",
    "Term",
    "bottom_up_plan",
    "contiguous_groups",
    "gaussian_entropy",
    "group_logsumexp",
    "grouped_plan",
    "line_plan",
    "tc_plugin_bias",
    "top_down_plan",
]
