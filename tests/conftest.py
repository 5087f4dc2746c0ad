import os

# The Triton kernel is tested on the CPU through the interpreter, which must be switched on
# before triton is first imported. A GPU run sets TRITON_INTERPRET=0 to compile for real.
os.environ.setdefault("TRITON_INTERPRET", "1")

import numpy as np
import pytest
import torch
from hypothesis import settings
from hypothesis import strategies as st

from tcdecomp import bottom_up_plan, grouped_plan, line_plan, top_down_plan
from tcdecomp.plans import bottom_up_levels

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


def draw_plan(draw, n: int, rng: np.random.Generator):
    """A random plan over n dims: any path, a random order, random levels or a random partition."""
    order = list(rng.permutation(n))
    kind = draw(st.sampled_from(["line", "top_down", "bottom_up", "grouped"]))
    if kind == "line":
        return line_plan(n, order=order)
    if kind == "top_down":
        return top_down_plan(n, order=order)
    if kind == "bottom_up":
        return bottom_up_plan(n, levels=draw(st.integers(0, bottom_up_levels(n))), order=order)
    cuts = sorted(rng.choice(np.arange(1, n), size=draw(st.integers(0, n - 1)), replace=False).tolist())
    return grouped_plan([list(g) for g in np.split(np.array(order), cuts)], n=n)


@pytest.fixture
def one_cpu_thread():
    """One torch thread here and in the children (the environment it yields): CPU matrix products sum in a
    thread-count-dependent order, so a run compared bit for bit across processes must use one count."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    torch.set_num_threads(before)
