"""Shared fixtures: typed variables and synthetic probe sets with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from crlbench.core import Variable

MIXED = (
    Variable("pos", "continuous", ("x", "y"), -2.0, 2.0),
    Variable("rot", "angle"),
    Variable("shape", "categorical", n_categories=3),
    Variable("hue", "continuous", low=0.0, high=1.0),
)


def sample_truth(rng: np.random.Generator, n: int, variables=MIXED) -> np.ndarray:
    """(N, D) independent factors drawn uniformly over each variable's support."""
    cols = []
    for v in variables:
        for _ in range(v.size):
            if v.kind == "categorical":
                cols.append(rng.integers(0, v.n_categories, n).astype(float))
            else:
                cols.append(rng.uniform(v.low, v.high, n))
    return np.column_stack(cols)


def identity_assignment(variables, extra: int = 0) -> np.ndarray:
    """(D + extra, K+1) assignment of an identity encoder (+ ``extra`` unassigned latents)."""
    dims = [k for k, v in enumerate(variables) for _ in range(v.size)]
    a = np.zeros((len(dims) + extra, len(variables) + 1))
    a[np.arange(len(dims)), np.array(dims) + 1] = 1.0
    a[len(dims) :, 0] = 1.0
    return a


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """Run torch single-threaded in these tests, restoring the setting afterwards.

    The tests run on small shared CPUs; an oversubscribed torch thread pool was measured
    10-20x slower there than one thread. The metrics never change the setting themselves.
    """
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


@pytest.fixture
def mixed() -> tuple[Variable, ...]:
    return MIXED
