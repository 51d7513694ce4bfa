"""Toy linear SCM observed through a random SO(n) rotation (the ILCM scaling experiment).

Description
    ``n`` scalar causal variables ``z0 .. z{n-1}``; the observation is ``x = R z`` with ``R``
    a random rotation. No renderer: observations are float64 vectors.

Causal variables
    ========  ==========  ====================================================
    name      kind        support
    ========  ==========  ====================================================
    z{i}      continuous  real line; ``[-5, 5]`` is the nominal range (probes)
    ========  ==========  ====================================================

Graph
    Instantaneous (pairs, observational samples): a random DAG in which each forward edge
    ``i -> j`` (``i < j``) is present with probability ``edge_prob`` (0.5). With
    ``permute=True`` the node labels are shuffled, so the topological order is not the index
    order (the reference keeps index order; so does our default).
    Temporal (TRIS sequences): self-edges plus each ordered pair ``i -> j`` (``i != j``)
    with probability ``edge_prob``; no instantaneous effects within a step.

Mechanisms
    Pairs: ``z_j = sum_i w_ij z_i + eps_j``, ``eps ~ N(0, 1)``, ``w = s (1 + 0.3 g)`` with
    ``s`` a random sign and ``g ~ N(0, 1)`` (ILCM's scaling experiment). Sequences:
    ``z^t = M^T z^{t-1} + eps^t`` with temporal weights of the same law (self-weights
    ``U(0.5, 0.9)``), scaled to spectral radius at most 0.8 and then standardised so that
    every variable has unit stationary variance (so interventions and probe sets, both
    ``N(0, 1)``, match the data's scale). ``eps^t_j ~ N(0, sigma_j^2)``.

Interventions
    An intervened variable is replaced by fresh ``N(0, 1)`` noise; in pairs the others are
    recomputed with the same exogenous noise (counterfactual). Targets come from the spec's
    policy (pairs: uniform over {none, 1..n}; sequences: Bernoulli(1/(n+1))).

Observation
    ``x = R z``; ``R`` is Haar-uniform on SO(n) (QR of a Gaussian matrix with sign
    correction), or with ``mixing="expm"`` the reference's ``expm(A - A^T)`` of a Gaussian
    ``A``, which is not Haar-uniform.

Version history
    v1: initial release.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
import scipy.linalg

from crlbench.core import CausalGraph, Variable, topological_order
from crlbench.errors import CrlbenchError
from crlbench.simulators.base import Observation, Renderer, Scene, register_scene

__all__ = ["ToySON", "haar_rotation", "expm_rotation"]


def haar_rotation(rng: np.random.Generator, n: int) -> np.ndarray:
    """(n, n) rotation drawn Haar-uniformly from SO(n) (Mezzadri 2007, with det fixed to +1)."""
    q, r = np.linalg.qr(rng.standard_normal((n, n)))
    q = q * np.sign(np.diag(r))  # makes the QR factorisation unique, hence Haar on O(n)
    if np.linalg.det(q) < 0:
        q[:, 0] = -q[:, 0]  # reflect one axis: Haar on O(n) restricted to SO(n)
    return q


def expm_rotation(rng: np.random.Generator, n: int) -> np.ndarray:
    """(n, n) rotation ``expm(A - A^T)`` with Gaussian ``A``, as in the ILCM reference."""
    a = rng.standard_normal((n, n))
    return scipy.linalg.expm(a - a.T)


_MIXINGS = {"haar": haar_rotation, "expm": expm_rotation}


class _Mix(Renderer):
    def __init__(self, rotation: np.ndarray) -> None:
        self.rotation = rotation

    def __call__(self, latents: np.ndarray, seeds: np.ndarray) -> np.ndarray:
        return _matmul(np.asarray(latents, dtype=np.float64), self.rotation.T)


@register_scene
class ToySON(Scene):
    """Linear Gaussian SCM on a random DAG, observed through a random rotation."""

    name: ClassVar[str] = "toy-son"
    version: ClassVar[int] = 1
    description: ClassVar[str] = "linear Gaussian SCM on a random DAG, observed through a random SO(n) rotation"
    default_params: ClassVar[Mapping[str, Any]] = {
        "n_vars": 4,
        "edge_prob": 0.5,
        "mixing": "haar",
        "permute": False,
    }

    def __init__(self, params: Mapping[str, Any], rng: np.random.Generator) -> None:
        super().__init__(params, rng)
        n, p = self.params["n_vars"], self.params["edge_prob"]
        if not isinstance(n, int) or n < 2:
            raise CrlbenchError(f"toy-son: n_vars must be an integer >= 2, got {n!r}")
        if not 0.0 <= p <= 1.0:
            raise CrlbenchError(f"toy-son: edge_prob must be in [0, 1], got {p!r}")
        if self.params["mixing"] not in _MIXINGS:
            raise CrlbenchError(f"toy-son: mixing must be one of {sorted(_MIXINGS)}, got {self.params['mixing']!r}")
        self.n = n

        # Instantaneous DAG in index order, then optionally relabelled.
        dag = np.triu(rng.random((n, n)) < p, k=1)
        weights = dag * _signed_weights(rng, (n, n))
        perm = rng.permutation(n) if self.params["permute"] else np.arange(n)
        inv = np.argsort(perm)
        self.weights = weights[np.ix_(inv, inv)]  # node perm[i] of the new labelling = old i
        self.permutation = perm
        self.order = topological_order(self.weights)

        # Temporal weights m[i, j] (i at t-1 -> j at t), stable and standardised.
        off = (rng.random((n, n)) < p) & ~np.eye(n, dtype=bool)
        m = off * _signed_weights(rng, (n, n)) + np.diag(rng.uniform(0.5, 0.9, n))
        radius = np.max(np.abs(np.linalg.eigvals(m)))
        m = m * min(1.0, 0.8 / radius)
        cov = scipy.linalg.solve_discrete_lyapunov(m.T, np.eye(n))  # Sigma = M^T Sigma M + I
        d = np.sqrt(np.diag(cov))
        self.temporal_weights = m * d[:, None] / d[None, :]  # z = y / d
        self.temporal_noise_std = 1.0 / d
        std_cov = cov / np.outer(d, d)
        self._stationary_chol = np.linalg.cholesky(std_cov)

        self.rotation = _MIXINGS[self.params["mixing"]](rng, n)

    # --- declaration -------------------------------------------------------------------
    @property
    def variables(self) -> tuple[Variable, ...]:
        return tuple(Variable(f"z{i}", "continuous", ("",), -5.0, 5.0) for i in range(self.n))

    @property
    def graph(self) -> CausalGraph:
        return CausalGraph(temporal=self.temporal_weights != 0, instantaneous=self.weights != 0)

    @property
    def observation(self) -> Observation:
        return Observation("vector", (self.n,))

    def structure(self) -> dict[str, np.ndarray]:
        return {
            "weights": self.weights,
            "temporal_weights": self.temporal_weights,
            "temporal_noise_std": self.temporal_noise_std,
            "mixing": self.rotation,
            "permutation": self.permutation,
        }

    # --- instantaneous SCM -------------------------------------------------------------
    def sample_noise(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.standard_normal((n, self.n))

    def sample_intervention(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.standard_normal((n, self.n))

    def solve(self, noise: np.ndarray, targets: np.ndarray, values: np.ndarray) -> np.ndarray:
        z = np.zeros_like(noise, dtype=np.float64)
        hit = np.asarray(targets, dtype=bool)
        for j in self.order:
            z[:, j] = np.where(hit[:, j], values[:, j], _matmul(z, self.weights[:, j]) + noise[:, j])
        return z

    # --- temporal SCM ------------------------------------------------------------------
    def initial_state(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return _matmul(rng.standard_normal((n, self.n)), self._stationary_chol.T)

    def transition(self, prev: np.ndarray, targets: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        noise = rng.standard_normal(prev.shape) * self.temporal_noise_std
        values = rng.standard_normal(prev.shape)
        nxt = np.where(np.asarray(targets, dtype=bool), values, _matmul(prev, self.temporal_weights) + noise)
        return nxt, noise

    # --- independent factors -----------------------------------------------------------
    def sample_independent(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.standard_normal((n, self.n))

    def renderer(self, resolution: int | None, render: Mapping[str, Any] | None = None) -> Renderer:
        return _Mix(self.rotation)


def _signed_weights(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """``s (1 + 0.3 g)``: random sign, magnitude around 1 (as ILCM's toy SCM)."""
    return rng.choice([-1.0, 1.0], size=shape) * (1.0 + 0.3 * rng.standard_normal(shape))


def _matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a @ b`` summed row by row in numpy, not BLAS.

    BLAS picks kernels (and so rounding) by matrix size and CPU, which would make a row's
    result depend on the batch it was computed in; this keeps every row bit-identical
    whatever the shard size or machine. (N, K) @ (K,) -> (N,); (N, K) @ (K, M) -> (N, M).
    """
    if b.ndim == 1:
        return (a * b).sum(axis=-1)
    return (a[:, :, None] * b[None, :, :]).sum(axis=1)
