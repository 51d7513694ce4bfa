"""Intervention policies: which causal variables are intervened on, per sample or step.

A policy is a pure function ``(rng, n, k, **params) -> (N, K) uint8`` registered by name,
so a spec can name it (``policy="bernoulli"``, ``policy_params={"p": 0.2}``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

__all__ = ["POLICIES", "sample_targets", "bernoulli", "single", "groups"]

Policy = Callable[..., np.ndarray]


def bernoulli(rng: np.random.Generator, n: int, k: int, *, p: float | None = None) -> np.ndarray:
    """Independent Bernoulli(p) per variable; ``p`` defaults to 1/(K+1) as in CITRIS.

    Returns:
        (N, K) uint8 targets.
    """
    p = 1.0 / (k + 1) if p is None else float(p)
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"bernoulli policy: p must be in [0, 1], got {p}")
    return (rng.random((n, k)) < p).astype(np.uint8)


def single(rng: np.random.Generator, n: int, k: int, *, none: bool = True) -> np.ndarray:
    """At most one target, uniform over {none, 1, ..., K} (ILCM); ``none=False`` drops 'none'.

    Returns:
        (N, K) uint8 one-hot (or all-zero) targets.
    """
    choice = rng.integers(0 if none else 1, k + 1, size=n)  # 0 = no intervention
    out = np.zeros((n, k), dtype=np.uint8)
    hit = choice > 0
    out[np.flatnonzero(hit), choice[hit] - 1] = 1
    return out


def groups(rng: np.random.Generator, n: int, k: int, *, sets: list[list[int]], none: bool = True) -> np.ndarray:
    """Uniform over fixed groups of variables intervened together (and 'none').

    Args:
        sets: Groups as lists of variable indices, e.g. ``[[0, 1], [2]]``.

    Returns:
        (N, K) uint8 targets.
    """
    if not sets or any(not g or min(g) < 0 or max(g) >= k for g in sets):
        raise ValueError(f"groups policy: sets must be non-empty lists of indices in [0, {k}), got {sets}")
    table = np.zeros((len(sets) + 1, k), dtype=np.uint8)
    for i, g in enumerate(sets, start=1):
        table[i, g] = 1
    return table[rng.integers(0 if none else 1, len(table), size=n)]


POLICIES: dict[str, Policy] = {"bernoulli": bernoulli, "single": single, "groups": groups}


def sample_targets(name: str, rng: np.random.Generator, n: int, k: int, params: Mapping[str, Any] | None = None) -> np.ndarray:
    """Draw (N, K) uint8 targets from the policy registered as ``name``."""
    if name not in POLICIES:
        raise ValueError(f"unknown intervention policy {name!r}; known: {sorted(POLICIES)}")
    return POLICIES[name](rng, n, k, **dict(params or {}))
