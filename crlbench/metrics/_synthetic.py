"""Synthetic probe sets with known structure, for tests, benchmarks and estimator bounds.

Not part of the public API: ``make_latents`` builds learned-latent stand-ins of a given
quality, so the difference between fast and faithful estimators can be measured on data
that spans the range a real method produces.
"""

from __future__ import annotations

import numpy as np

from crlbench.core import Variable

__all__ = ["SCENARIOS", "make_latents"]

#: How the latents relate to the factors.
SCENARIOS = ("disentangled", "entangled", "noise")


def make_latents(
    scenario: str, *, n: int = 10_000, n_dims: int = 10, n_latents: int = 32, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[Variable, ...]]:
    """A probe set: ``(y (N, D), z (N, M), assignment (M, D+1), variables)``.

    ``disentangled``: each factor through a monotone nonlinearity into its own latent (+ 5%
    noise), the rest noise. ``entangled``: factors rotated by 30 degrees in pairs, then the
    same. ``noise``: latents independent of the factors. Latent order is shuffled.
    """
    rng = np.random.default_rng(seed)
    variables = tuple(Variable(f"z{i}", low=-1.0, high=1.0) for i in range(n_dims))
    y = rng.uniform(-1, 1, size=(n, n_dims))
    s = y.copy()
    if scenario == "entangled":
        c, si = np.cos(np.pi / 6), np.sin(np.pi / 6)
        for i in range(0, n_dims - 1, 2):
            a, b = s[:, i].copy(), s[:, i + 1].copy()
            s[:, i], s[:, i + 1] = c * a - si * b, si * a + c * b
    if scenario == "noise":
        s = rng.uniform(-1, 1, size=(n, n_dims))
    maps = (np.tanh, lambda x: x**3, np.exp, lambda x: 2 * x + 1)
    s = np.column_stack([maps[i % len(maps)](2 * s[:, i]) for i in range(n_dims)])
    s = s / s.std(0) + 0.05 * rng.standard_normal(s.shape)
    z = np.column_stack([s, rng.standard_normal((n, n_latents - n_dims))])
    perm = rng.permutation(n_latents)
    z = z[:, perm]
    assignment = np.zeros((n_latents, n_dims + 1))
    assignment[:, 0] = 1.0
    where = np.argsort(perm)  # where[j] = new position of old latent j
    for d in range(n_dims):
        assignment[where[d]] = 0.0
        assignment[where[d], d + 1] = 1.0
    return y, z, assignment, variables
