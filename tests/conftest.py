import os

# The Triton kernel is tested on the CPU through the interpreter, which must be switched on
# before triton is first imported. A GPU run sets TRITON_INTERPRET=0 to compile for real.
os.environ.setdefault("TRITON_INTERPRET", "1")

import numpy as np
import pytest
from hypothesis import settings

settings.register_profile("ci", max_examples=25, deadline=None, derandomize=True)
settings.load_profile("ci")


def random_spd(n: int, rng: np.random.Generator, condition: float = 50.0) -> np.ndarray:
    """A random covariance with eigenvalues spread over [1, condition] and random scales."""
    q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    eig = np.exp(rng.uniform(0.0, np.log(condition), size=n))
    cov = (q * eig) @ q.T
    scale = np.exp(rng.uniform(-1, 1, size=n))
    return cov * scale[:, None] * scale[None, :]


def equicorrelated(n: int, rho: float) -> np.ndarray:
    return (1 - rho) * np.eye(n) + rho * np.ones((n, n))


@pytest.fixture
def rng():
    return np.random.default_rng(1234)
