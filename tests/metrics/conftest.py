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


def table_inputs(rng: np.random.Generator, n: int = 400) -> dict[str, np.ndarray]:
    """Good :class:`crlbench.metrics.Scoring` inputs for every metric of the table (MIXED
    variables): a noisy encoder with 2 extra latents, graphs, targets and triplets."""
    y = sample_truth(rng, n)
    k = len(MIXED)
    true = np.triu(rng.random((k, k)) < 0.6, 1).astype(float)
    labels = rng.integers(0, k + 1, n)
    return {
        "y_true": y,
        "latents": np.column_stack([y + 0.3 * rng.normal(size=y.shape), rng.normal(size=(n, 2))]),
        "assignment": identity_assignment(MIXED, 2),
        "true_graph": true,
        "learned_graph": np.triu(rng.random((k, k)), 1),
        "targets_true": labels,
        "targets_pred": np.where(rng.random(n) < 0.2, 0, labels),
        "triplet_true": y,
        "triplet_pred": y + 0.1 * rng.normal(size=y.shape),
        "triplet_pred_true_image": y + 0.05 * rng.normal(size=y.shape),
    }


#: Inputs with one row per sample of the probe set, of the test pairs, of the triplets.
SAMPLE_GROUPS = (("y_true", "latents"), ("targets_true", "targets_pred"), ("triplet_true", "triplet_pred", "triplet_pred_true_image"))


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
