"""The method contract (docs/design.md): what a CRL method implements to be scored.

Baselines and users' methods alike are classes with ``fit`` and ``encode``; the other
capabilities are optional and each is its own small Protocol, so a method declares what it
can do by the methods it has (``isinstance(m, LearnsGraph)`` works at run time):

============================  ==========================================  ================
method                        returns                                     needed for
============================  ==========================================  ================
``fit(train, val, budget,     ``None`` (trains in place)                  everything
seed)``
``encode(x)``                 ``(N, M)`` latents                          every metric
``assignment()``              ``(M, K+1)`` latent -> variable map,        R² matrix
                              column 0 = "no variable"                    (else matched)
``decode(z)``                 observations ``(N, ...)``                   triplets
``graph()``                   ``(K, K)`` adjacency, ``A[i, j]`` = i -> j  SHD
``infer_targets(x, x_tilde)`` ``(N,)`` labels, 0 = none, i = variable i   intervention acc.
============================  ==========================================  ================

Learned variables carry the method's own labels: the evaluator matches them to the true
ones (a graph, an assignment and inferred targets from one method share one labelling).
Observations are passed as numpy arrays in the dataset's layout: vectors ``(N, D_obs)``
float, images ``(N, H, W, 3)`` uint8.

:func:`check_method` is the public conformance check (as Gymnasium's ``check_env``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np

from crlbench.errors import CrlbenchError

__all__ = [
    "Budget",
    "Method",
    "HasAssignment",
    "Decodes",
    "LearnsGraph",
    "InfersTargets",
    "capabilities",
    "check_method",
]


@dataclass(frozen=True)
class Budget:
    """A training budget: a number of epochs or of optimiser steps (exactly one).

    ``Budget.parse("90ep")``, ``Budget.parse("20000steps")``, ``Budget.parse("20000")``
    (a bare number counts steps).
    """

    epochs: int | None = None
    steps: int | None = None

    def __post_init__(self) -> None:
        if (self.epochs is None) == (self.steps is None):
            raise CrlbenchError("a budget is either epochs or steps (exactly one of them)")
        value = self.epochs if self.epochs is not None else self.steps
        if not isinstance(value, int) or value < 1:
            raise CrlbenchError(f"budget must be a positive integer, got {value!r}")

    @classmethod
    def parse(cls, text: str | int | Budget) -> Budget:
        """``"90ep"``/``"90epochs"`` or ``"500st"``/``"500steps"``/``"500"``/``500``."""
        if isinstance(text, Budget):
            return text
        if isinstance(text, int):
            return cls(steps=text)
        m = re.fullmatch(r"\s*(\d+)\s*(e|ep|epoch|epochs|s|st|step|steps)?\s*", str(text))
        if not m:
            raise CrlbenchError(f"budget {text!r}: use e.g. '90ep' (epochs) or '20000steps'")
        n, unit = int(m.group(1)), (m.group(2) or "steps")
        return cls(epochs=n) if unit.startswith("e") else cls(steps=n)

    def total_steps(self, steps_per_epoch: int) -> int:
        """Optimiser steps this budget allows at ``steps_per_epoch``."""
        if self.steps is not None:
            return self.steps
        assert self.epochs is not None  # __post_init__: exactly one of them is set
        return self.epochs * max(1, steps_per_epoch)

    def __str__(self) -> str:
        return f"{self.epochs}ep" if self.epochs is not None else f"{self.steps}steps"


@runtime_checkable
class Method(Protocol):
    """The required part of the contract: fit on a training split, encode observations."""

    def fit(self, train: Any, val: Any, budget: Budget, seed: int) -> None:
        """Train in place. ``train``/``val`` are dataset views (e.g. ``Pairs``)."""
        ...

    def encode(self, x: np.ndarray) -> np.ndarray:
        """Observations ``(N, ...)`` -> latents ``(N, M)``."""
        ...


@runtime_checkable
class HasAssignment(Protocol):
    def assignment(self) -> np.ndarray:
        """``(M, K+1)`` latent-to-variable map; column 0 = "no variable"."""
        ...


@runtime_checkable
class Decodes(Protocol):
    def decode(self, z: np.ndarray) -> np.ndarray:
        """Latents ``(N, M)`` -> observations ``(N, ...)`` in the dataset's layout."""
        ...


@runtime_checkable
class LearnsGraph(Protocol):
    def graph(self) -> np.ndarray:
        """``(K, K)`` learned adjacency over learned variables, ``A[i, j]`` = i -> j."""
        ...


@runtime_checkable
class InfersTargets(Protocol):
    def infer_targets(self, x: np.ndarray, x_tilde: np.ndarray) -> np.ndarray:
        """Pairs -> ``(N,)`` intervention labels: 0 = none, i = learned variable i."""
        ...


def capabilities(method: Any) -> list[str]:
    """Names of the optional contract methods ``method`` implements."""
    caps = {"assignment": HasAssignment, "decode": Decodes, "graph": LearnsGraph, "infer_targets": InfersTargets}
    return [name for name, proto in caps.items() if isinstance(method, proto)]


def check_method(method: Any, x: np.ndarray | None = None, x_tilde: np.ndarray | None = None) -> list[str]:
    """Check that ``method`` follows the contract; with observations, check output shapes.

    Call it after ``fit`` to also check shapes. Returns the optional capabilities found.

    Raises:
        CrlbenchError: a missing method or an output of the wrong shape or type.
    """
    if not isinstance(method, Method):
        missing = [n for n in ("fit", "encode") if not callable(getattr(method, n, None))]
        raise CrlbenchError(f"{type(method).__name__} does not implement the method contract: missing {missing}")
    caps = capabilities(method)
    if x is None:
        return caps
    z = np.asarray(method.encode(x))
    if z.ndim != 2 or len(z) != len(x) or not np.isfinite(z).all():
        raise CrlbenchError(f"encode must return finite (N={len(x)}, M) latents, got shape {z.shape}")
    # The same tests as capabilities(), written out so that each branch knows its method.
    if isinstance(method, HasAssignment):
        a = np.asarray(method.assignment())
        if a.ndim != 2 or a.shape[0] != z.shape[1]:
            raise CrlbenchError(f"assignment must be (M={z.shape[1]}, K+1), got {a.shape}")
    if isinstance(method, LearnsGraph):
        g = np.asarray(method.graph())
        if g.ndim != 2 or g.shape[0] != g.shape[1]:
            raise CrlbenchError(f"graph must be (K, K), got {g.shape}")
    if isinstance(method, Decodes):
        xr = np.asarray(method.decode(z))
        if xr.shape != np.shape(x):
            raise CrlbenchError(f"decode(encode(x)) must have x's shape {np.shape(x)}, got {xr.shape}")
    if isinstance(method, InfersTargets) and x_tilde is not None:
        t = np.asarray(method.infer_targets(x, x_tilde))
        if t.shape != (len(x),) or t.dtype.kind not in "iu" or (t < 0).any():
            raise CrlbenchError(f"infer_targets must return (N={len(x)},) non-negative int labels, got {t.shape} {t.dtype}")
    return caps
