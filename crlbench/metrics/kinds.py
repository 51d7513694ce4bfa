"""Per-kind operations on causal dimensions: encoding, decoding, distance, baseline.

One registry entry per :data:`crlbench.core.Kind`; metrics loop over dimensions
and look the operations up here instead of branching on the kind name.

- **continuous**: encoded as ``2 (y - low) / (high - low) - 1`` (in [-1, 1]); distance
  ``|y - y_hat|`` over the range; constant predictor: the mean.
- **angle**: encoded as ``(sin y, cos y)`` (a probe predicts a 2-D vector, decoded with
  ``atan2``); distance: the wrapped angular error over pi (180 degrees); constant
  predictor: the circular mean.
- **categorical**: encoded one-hot; decoded by argmax; distance ``1[y != y_hat]``; constant
  predictor: the most frequent category (smallest index on ties).

Every distance lies in ``[0, 1]`` for in-range predictions (continuous predictions outside
the range may exceed 1).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from crlbench.core import Variable
from crlbench.errors import CrlbenchError

__all__ = [
    "KindOps",
    "KINDS",
    "dim_variables",
    "dim_to_var",
    "encode",
    "decode",
    "encoded_columns",
    "distance",
    "baseline",
    "MULTIOUTPUT",
    "default_variables",
    "aggregate",
]

Array = np.ndarray


@dataclass(frozen=True)
class KindOps:
    """Operations on one dimension of a variable of a given kind.

    Attributes:
        width: Number of encoded columns per dimension.
        encode: ``(y (N,), v) -> (N, width)`` probe target.
        decode: ``(p (N, width), v) -> (N,)`` value in the variable's own space.
        distance: ``(y (N,), y_hat (N,), v) -> (N,)`` normalised distance.
        baseline: ``(y (N,), v) -> float`` the constant predictor's value.
        loss: ``"mse"`` or ``"ce"`` (cross-entropy over the encoded columns), for probes.
    """

    width: Callable[[Variable], int]
    encode: Callable[[Array, Variable], Array]
    decode: Callable[[Array, Variable], Array]
    distance: Callable[[Array, Array, Variable], Array]
    baseline: Callable[[Array, Variable], float]
    loss: str


def _span(v: Variable) -> float:
    # A zero-width range would make every distance infinite; treat it as unit range.
    return float(v.high - v.low) or 1.0


def _wrap(a: Array) -> Array:
    """Absolute angular difference folded into [0, pi]."""
    d = np.mod(a, 2 * np.pi)
    return np.minimum(d, 2 * np.pi - d)


def _circular_mean(y: Array, v: Variable) -> float:
    s, c = np.sin(y).mean(), np.cos(y).mean()
    # A balanced sample has no mean direction (resultant ~ 0 up to rounding): use 0 rather
    # than an arbitrary direction picked by rounding noise.
    return float(np.mod(np.arctan2(s, c), 2 * np.pi)) if np.hypot(s, c) > 1e-12 else 0.0


def _mode(y: Array, v: Variable) -> float:
    counts = np.bincount(np.round(y).astype(int), minlength=max(v.n_categories, 1))
    return float(np.argmax(counts))


def _one_hot(y: Array, v: Variable) -> Array:
    out = np.zeros((len(y), v.n_categories))
    out[np.arange(len(y)), np.clip(np.round(y).astype(int), 0, v.n_categories - 1)] = 1.0
    return out


KINDS: dict[str, KindOps] = {
    "continuous": KindOps(
        width=lambda v: 1,
        # [-1, 1] like sin / cos, so that no kind dominates a joint MSE loss
        encode=lambda y, v: (2 * (y - v.low) / _span(v) - 1)[:, None],
        decode=lambda p, v: v.low + (p[:, 0] + 1) / 2 * _span(v),
        distance=lambda y, yh, v: np.abs(y - yh) / _span(v),
        baseline=lambda y, v: float(np.mean(y)),
        loss="mse",
    ),
    "angle": KindOps(
        width=lambda v: 2,
        encode=lambda y, v: np.stack([np.sin(y), np.cos(y)], axis=1),
        decode=lambda p, v: np.mod(np.arctan2(p[:, 0], p[:, 1]), 2 * np.pi),
        distance=lambda y, yh, v: _wrap(y - yh) / np.pi,
        baseline=_circular_mean,
        loss="mse",
    ),
    "categorical": KindOps(
        width=lambda v: v.n_categories,
        encode=_one_hot,
        decode=lambda p, v: np.argmax(p, axis=1).astype(np.float64),
        distance=lambda y, yh, v: (np.round(y) != np.round(yh)).astype(np.float64),
        baseline=_mode,
        loss="ce",
    ),
}


def dim_variables(variables: Sequence[Variable]) -> list[Variable]:
    """The variable of each of the D dimensions, in order."""
    return [v for v in variables for _ in range(v.size)]


def dim_to_var(variables: Sequence[Variable]) -> np.ndarray:
    """(D,) index of the variable each dimension belongs to."""
    return np.repeat(np.arange(len(variables)), [v.size for v in variables])


def encoded_columns(variables: Sequence[Variable]) -> list[slice]:
    """For each of the D dimensions, its slice of the (N, C) encoded array."""
    out, c = [], 0
    for v in dim_variables(variables):
        w = KINDS[v.kind].width(v)
        out.append(slice(c, c + w))
        c += w
    return out


def encode(y: Array, variables: Sequence[Variable]) -> Array:
    """(N, D) values -> (N, C) probe targets."""
    dv = dim_variables(variables)
    return np.concatenate([KINDS[v.kind].encode(y[:, d], v) for d, v in enumerate(dv)], axis=1)


def decode(p: Array, variables: Sequence[Variable]) -> Array:
    """(..., N, C) probe outputs -> (..., N, D) values."""
    p = np.asarray(p)
    lead = p.shape[:-1]
    flat = p.reshape(-1, p.shape[-1])
    cols = encoded_columns(variables)
    dv = dim_variables(variables)
    out = np.stack([KINDS[v.kind].decode(flat[:, s], v) for v, s in zip(dv, cols)], axis=-1)
    return out.reshape(*lead, len(dv))


def distance(y: Array, y_hat: Array, variables: Sequence[Variable]) -> Array:
    """(N, D) normalised per-dimension distances."""
    dv = dim_variables(variables)
    return np.stack([KINDS[v.kind].distance(y[:, d], y_hat[:, d], v) for d, v in enumerate(dv)], 1)


def baseline(y: Array, variables: Sequence[Variable]) -> Array:
    """(D,) constant predictor of each dimension, estimated on ``y``."""
    dv = dim_variables(variables)
    return np.array([KINDS[v.kind].baseline(y[:, d], v) for d, v in enumerate(dv)])


MULTIOUTPUT = ("raw_values", "per_variable", "uniform_average")


def default_variables(n_dims: int) -> tuple[Variable, ...]:
    """``n_dims`` scalar continuous variables ``z0 .. z{n-1}`` on ``[0, 1]``.

    Used when a metric gets no ``variables``; the range cancels out of every R² and
    correlation, so only the kind matters.
    """
    return tuple(Variable(f"z{i}") for i in range(n_dims))


def aggregate(values: Array, variables: Sequence[Variable], multioutput: str) -> Array | float:
    """Reduce per-dimension values (..., D) as ``multioutput`` says.

    ``"raw_values"``: (..., D) unchanged. ``"per_variable"``: (..., K), the unweighted mean
    over each variable's dimensions (a 3-D position counts once, its x, y, z equally).
    ``"uniform_average"``: the mean over variables (scalar for 1-D input).
    """
    if multioutput not in MULTIOUTPUT:
        raise CrlbenchError(f"multioutput must be one of {list(MULTIOUTPUT)}, got {multioutput!r}")
    values = np.asarray(values, dtype=np.float64)
    if multioutput == "raw_values":
        return values
    idx = dim_to_var(variables)
    per_var = np.stack([values[..., idx == k].mean(axis=-1) for k in range(len(variables))], -1)
    if multioutput == "per_variable":
        return per_var
    out = per_var.mean(axis=-1)
    return float(out) if out.ndim == 0 else out
