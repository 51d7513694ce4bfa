"""Input validation shared by every metric.

Every check raises :class:`~crlbench.errors.CrlbenchError` (a ``ValueError``) whose message
names the argument, the expected shape and what was wrong, so that a user scoring saved
arrays sees at once which file is off.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

import numpy as np

from crlbench.core import Variable, topological_order
from crlbench.errors import CrlbenchError
from crlbench.metrics import kinds

__all__ = [
    "as_array",
    "as_latents",
    "as_truth",
    "as_group_predictions",
    "as_assignment",
    "as_adjacency",
    "as_variables",
    "check_lengths",
    "check_choice",
    "split_indices",
]


def _finite(name: str, a: np.ndarray, shape: str) -> None:
    bad = ~np.isfinite(a)
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        raise CrlbenchError(
            f"{name} must be a finite {shape} array; found {a[where]} at index {where} ({int(bad.sum())} non-finite entries)"
        )


def as_latents(z: object, name: str = "latents", shape: str = "(N, M)") -> np.ndarray:
    """A finite, non-empty 2-D float64 array (samples x dimensions)."""
    return as_array(z, name, shape, ndim=2)


def as_array(z: object, name: str, shape: str, *, ndim: int) -> np.ndarray:
    """A finite, non-empty float64 array of ``ndim`` dimensions, from numbers only."""
    try:
        raw = np.asarray(z)
    except (TypeError, ValueError) as e:  # ragged nested lists
        raise CrlbenchError(f"{name} must be a numeric {shape} array: {e}") from e
    if raw.dtype.kind not in "biuf":  # text would convert silently, complex would lose its imaginary part
        raise CrlbenchError(f"{name} must be a numeric {shape} array of integers or floats, got dtype {raw.dtype}")
    a = raw.astype(np.float64)
    if a.ndim != ndim:
        raise CrlbenchError(f"{name} must be a {shape} array, got shape {a.shape}")
    if a.size == 0:
        raise CrlbenchError(f"{name} must be a non-empty {shape} array, got shape {a.shape}")
    _finite(name, a, shape)
    return a


def as_variables(variables: Sequence[Variable], name: str = "variables") -> tuple[Variable, ...]:
    """A non-empty tuple of :class:`Variable`."""
    vs = tuple(variables)
    if not vs or not all(isinstance(v, Variable) for v in vs):
        raise CrlbenchError(f"{name} must be a non-empty sequence of crlbench Variable objects")
    return vs


def as_truth(y: object, variables: Sequence[Variable], name: str = "y_true") -> np.ndarray:
    """Ground-truth causal factors: (N, D) with D the summed sizes of ``variables``.

    Categorical dimensions must hold integer category indices in ``[0, n_categories)``.
    Angles are wrapped into ``[0, 2 pi)``.
    """
    vs = as_variables(variables)
    d = sum(v.size for v in vs)
    a = as_latents(y, name, f"(N, D={d})").copy()
    if a.shape[1] != d:
        raise CrlbenchError(
            f"{name} must be (N, D={d}) for variables {[v.name for v in vs]} (sizes {[v.size for v in vs]}), got shape {a.shape}"
        )
    col = 0
    for v in vs:
        cols = slice(col, col + v.size)
        col += v.size
        if v.kind == "angle":
            a[:, cols] = np.mod(a[:, cols], 2 * np.pi)
        elif v.kind == "categorical":
            c = a[:, cols]
            if (c != np.round(c)).any() or (c < 0).any() or (c >= v.n_categories).any():
                raise CrlbenchError(
                    f"{name}: categorical variable {v.name!r} must hold integer indices in "
                    f"[0, {v.n_categories}), got values in [{c.min()}, {c.max()}]"
                )
    return a


def as_group_predictions(
    y_true: object, predictions: object, variables: Sequence[Variable] | None, multioutput: str, name: str
) -> tuple[np.ndarray, np.ndarray, Sequence[Variable]]:
    """Inputs of a group-by-variable matrix (``name`` in messages): checked ``(N, D)`` truth,
    ``(G, N, D)`` per-group predictions and the variables (default: D continuous scalars);
    ``multioutput`` must be ``"per_variable"`` or ``"raw_values"``."""
    y = as_latents(y_true, "y_true", "(N, D)")
    variables = kinds.default_variables(y.shape[-1]) if variables is None else variables
    y = as_truth(y, variables)
    preds = as_array(predictions, "predictions", "(G, N, D)", ndim=3)
    if preds.shape[1:] != y.shape:
        raise CrlbenchError(f"predictions must be (G, N, D) with (N, D) = {y.shape}, got {preds.shape}")
    if multioutput not in ("per_variable", "raw_values"):
        raise CrlbenchError(f"{name}: multioutput must be 'per_variable' or 'raw_values'")
    return y, preds, variables


def check_lengths(**arrays: np.ndarray) -> int:
    """All arrays have the same number of samples (first axis); returns it."""
    lengths = {k: len(a) for k, a in arrays.items()}
    if len(set(lengths.values())) > 1:
        raise CrlbenchError(
            "arguments must have the same number of samples N along axis 0, got " + ", ".join(f"{k}: {n}" for k, n in lengths.items())
        )
    return next(iter(lengths.values()))


def as_assignment(a: object, n_latents: int, n_variables: int, name: str = "assignment") -> np.ndarray:
    """A finite, non-negative (M, K+1) latent-to-group map (column 0 = no variable)."""
    shape = f"(M={n_latents}, K+1={n_variables + 1})"
    arr = as_latents(a, name, shape)
    if arr.shape != (n_latents, n_variables + 1):
        raise CrlbenchError(f"{name} must be {shape} (one row per latent, column 0 = 'no variable'), got shape {arr.shape}")
    if (arr < 0).any():
        raise CrlbenchError(f"{name} must be non-negative (hard 0/1 or soft probabilities)")
    return arr


def as_adjacency(a: object, name: str, n: int | None = None, *, dag: bool = False) -> np.ndarray:
    """A finite square (K, K) adjacency, ``A[i, j] != 0`` meaning ``i -> j``."""
    shape = "(K, K)" if n is None else f"(K={n}, K={n})"
    arr = as_latents(a, name, shape)
    if arr.shape[0] != arr.shape[1] or (n is not None and arr.shape[0] != n):
        raise CrlbenchError(f"{name} must be a square {shape} adjacency, got shape {arr.shape}")
    if dag:
        try:
            topological_order(arr)
        except ValueError as e:
            raise CrlbenchError(f"{name}: {e} (pass dag=False for graphs with cycles)") from e
    return arr


def check_choice(name: str, value: str, choices: Collection[str]) -> str:
    if value not in choices:
        raise CrlbenchError(f"{name} must be one of {sorted(choices)}, got {value!r}")
    return value


def split_indices(n: int, split: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded random ``(fit, score)`` index halves of ``range(n)``.

    The split is a function of ``(n, split, seed)`` only, so every metric that fits on one
    part and scores on the other sees the same parts for the same data.
    """
    if not 0.0 < split < 1.0:
        raise CrlbenchError(f"split must be in (0, 1), got {split}")
    n_fit = int(round(n * split))
    if n_fit < 2 or n - n_fit < 2:
        raise CrlbenchError(f"need at least 2 samples on each side of the split, got N={n}")
    perm = np.random.default_rng(seed).permutation(n)
    return np.sort(perm[:n_fit]), np.sort(perm[n_fit:])
