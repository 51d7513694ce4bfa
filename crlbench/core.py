"""Causal variables and graphs: the vocabulary scenes, datasets and metrics share.

Kept apart from the scene contract so that metrics and dataset readers need no simulator.
Shapes: ``K`` causal variables.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

__all__ = ["Kind", "Variable", "CausalGraph", "topological_order", "descendants"]

Kind = Literal["continuous", "angle", "categorical"]


@dataclass(frozen=True)
class Variable:
    """A causal variable: a name, a kind and its dimensions.

    Args:
        name: Identifier, e.g. ``"pos_o"``.
        kind: ``"continuous"`` (range ``[low, high]``), ``"angle"`` (radians, period 2*pi,
            stored in ``[0, 2*pi)``) or ``"categorical"`` (``n_categories`` values, stored
            as floats ``0.0 .. n-1``).
        dims: Names of its dimensions, e.g. ``("x", "y", "z")``; one entry for scalars.
        low, high: Range of every dimension (continuous); the probe's normaliser. For
            unbounded Gaussian variables use the range that holds nearly all mass and say so.
        n_categories: Number of categories (categorical only).
    """

    name: str
    kind: Kind = "continuous"
    dims: tuple[str, ...] = ("",)
    low: float = 0.0
    high: float = 1.0
    n_categories: int = 0

    def __post_init__(self) -> None:
        if self.kind not in ("continuous", "angle", "categorical"):
            raise ValueError(f"Variable {self.name!r}: unknown kind {self.kind!r}")
        if self.kind == "angle":
            object.__setattr__(self, "low", 0.0)
            object.__setattr__(self, "high", float(2 * np.pi))
        if self.kind == "categorical":
            if self.n_categories < 1:
                raise ValueError(f"Variable {self.name!r}: categorical needs n_categories >= 1")
            object.__setattr__(self, "low", 0.0)
            object.__setattr__(self, "high", float(self.n_categories - 1))

    @property
    def size(self) -> int:
        """Number of latent dimensions."""
        return len(self.dims)

    @property
    def dim_names(self) -> tuple[str, ...]:
        """Fully qualified dimension names, ``name`` or ``name.dim``."""
        return tuple(self.name if not d else f"{self.name}.{d}" for d in self.dims)


@dataclass(frozen=True)
class CausalGraph:
    """Adjacency over causal variables; ``A[i, j] = 1`` means ``i -> j``.

    Args:
        temporal: (K, K) parents at t-1 of each variable at t (self-edges included where a
            variable depends on its own past).
        instantaneous: (K, K) parents at t; a DAG.
    """

    temporal: np.ndarray
    instantaneous: np.ndarray

    def __post_init__(self) -> None:
        for name in ("temporal", "instantaneous"):
            a = np.asarray(getattr(self, name), dtype=np.uint8)
            if a.ndim != 2 or a.shape[0] != a.shape[1]:
                raise ValueError(f"CausalGraph.{name} must be (K, K), got {a.shape}")
            object.__setattr__(self, name, a)
        if self.temporal.shape != self.instantaneous.shape:
            raise ValueError("CausalGraph: temporal and instantaneous must have the same shape")
        topological_order(self.instantaneous)  # raises on a cycle


def topological_order(adjacency: np.ndarray) -> list[int]:
    """Kahn's algorithm; raises ``ValueError`` naming a node on a cycle.

    Args:
        adjacency: (K, K), ``A[i, j] != 0`` means ``i -> j``.
    """
    a = np.asarray(adjacency) != 0
    indeg = a.sum(axis=0).astype(int)
    order: list[int] = []
    ready = [i for i in range(len(a)) if indeg[i] == 0]
    while ready:
        i = ready.pop(0)
        order.append(i)
        for j in np.flatnonzero(a[i]):
            indeg[j] -= 1
            if indeg[j] == 0:
                ready.append(int(j))
    if len(order) != len(a):
        rest = sorted(set(range(len(a))) - set(order))
        raise ValueError(f"graph has a cycle through node(s) {rest}; a DAG is required")
    return order


def descendants(adjacency: np.ndarray, nodes: np.ndarray) -> np.ndarray:
    """(K,) bool mask of ``nodes`` and everything reachable from them.

    Args:
        adjacency: (K, K) DAG, ``A[i, j] != 0`` means ``i -> j``.
        nodes: (K,) bool mask of start nodes.
    """
    a = np.asarray(adjacency) != 0
    reach = np.asarray(nodes, dtype=bool).copy()
    for _ in range(len(a)):
        new = reach | a[reach].any(axis=0)
        if (new == reach).all():
            break
        reach = new
    return reach
