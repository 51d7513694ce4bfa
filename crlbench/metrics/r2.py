"""Typed R² and the CITRIS R² matrix (scoring cores; the probes live in ``probes.py``).

For a causal dimension with normalised distance ``d`` (see :mod:`crlbench.metrics.kinds`)

    R² = 1 - E[d(y, y_hat)²] / E[d(y, c)²]

where ``c`` is the best constant predictor of that kind on the scored samples (mean,
circular mean, mode). For a continuous dimension this is exactly scikit-learn's
``r2_score`` (the range cancels). As in scikit-learn, a constant target gives 1.0 for a
perfect prediction and 0.0 otherwise.

The R² *matrix* (CITRIS, Lippe et al. 2022) has one row per latent group (row 0 = latents
assigned to no variable, row k = latents assigned to variable k) and one column per causal
variable. Multi-dimensional variables are aggregated explicitly: a variable's entry is the
unweighted mean of its dimensions' R² (``multioutput="per_variable"``); the per-dimension
matrix is available with ``multioutput="raw_values"``.

``diag`` is the mean of the diagonal (group k -> variable k) and ``sep`` the mean over
groups 1..K of the largest off-diagonal entry of their row; row 0 enters neither.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from crlbench.core import Variable
from crlbench.errors import CrlbenchError
from crlbench.metrics import kinds
from crlbench.metrics._checks import as_group_predictions, as_latents, as_truth, check_lengths

__all__ = ["typed_r2_score", "r2_matrix", "diag_score", "sep_error"]


def typed_r2_score(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    *,
    variables: Sequence[Variable] | None = None,
    multioutput: str = "per_variable",
) -> np.ndarray | float:
    """R² with a kind-aware normalised distance and a constant-predictor baseline.

    Args:
        y_true: (N, D) true causal factors.
        y_pred: (N, D) predictions in the variables' own space (radians, category indices).
        variables: The K variables spanning the D dimensions; default: D continuous scalars.
        multioutput: ``"raw_values"`` (D,), ``"per_variable"`` (K,) or
            ``"uniform_average"`` (scalar, mean over variables).

    Returns:
        R² per dimension, per variable, or averaged; 1 is perfect, 0 is no better than the
        constant predictor, negative is worse.
    """
    y_true = as_latents(y_true, "y_true", "(N, D)")
    variables = kinds.default_variables(y_true.shape[-1]) if variables is None else variables
    y_true = as_truth(y_true, variables, "y_true")
    y_pred = as_latents(y_pred, "y_pred", f"(N, D={y_true.shape[1]})")
    check_lengths(y_true=y_true, y_pred=y_pred)
    if len(y_true) < 2:
        raise CrlbenchError(f"y_true: R² needs at least 2 samples (one sample has no variance), got N={len(y_true)}")
    if y_pred.shape != y_true.shape:
        raise CrlbenchError(f"y_pred must be (N, D) = {y_true.shape}, got {y_pred.shape}")
    r2 = _r2_dims(y_true, y_pred[None], variables)[0]
    return kinds.aggregate(r2, variables, multioutput)


def _r2_dims(y_true: np.ndarray, preds: np.ndarray, variables: Sequence[Variable]) -> np.ndarray:
    """(G, D) R² of (G, N, D) predictions against (N, D) validated truth."""
    base = kinds.baseline(y_true, variables)
    d0 = kinds.distance(y_true, np.broadcast_to(base, y_true.shape), variables)
    den = np.mean(d0**2, axis=0)
    out = np.empty(preds.shape[::2])
    for g, p in enumerate(preds):
        num = np.mean(kinds.distance(y_true, p, variables) ** 2, axis=0)
        with np.errstate(divide="ignore", invalid="ignore"):
            r2 = 1.0 - num / den
        # Constant target: scikit-learn's force_finite convention.
        out[g] = np.where(den > 0, r2, np.where(num == 0, 1.0, 0.0))
    return out


def r2_matrix(
    y_true: np.ndarray,
    predictions: np.ndarray,
    *,
    variables: Sequence[Variable] | None = None,
    multioutput: str = "per_variable",
) -> np.ndarray:
    """The R² matrix from per-group probe predictions.

    Args:
        y_true: (N, D) true causal factors of the scored (held-out) samples.
        predictions: (G, N, D) predictions of every causal dimension from each latent
            group's probe (G = K+1 with row 0 = unassigned latents).
        variables: The K variables; default: D continuous scalars.
        multioutput: ``"per_variable"`` gives (G, K); ``"raw_values"`` gives (G, D).

    Returns:
        (G, K) or (G, D) matrix of R² values.
    """
    y, preds, variables = as_group_predictions(y_true, predictions, variables, multioutput, "r2_matrix")
    return np.asarray(kinds.aggregate(_r2_dims(y, preds, variables), variables, multioutput))


def _square(matrix: np.ndarray) -> np.ndarray:
    m = as_latents(matrix, "matrix", "(K+1, K) or (K, K)")
    if m.shape[0] not in (m.shape[1], m.shape[1] + 1):
        raise CrlbenchError(f"matrix must be (K+1, K) (row 0 = unassigned) or (K, K), got shape {m.shape}")
    return m[m.shape[0] - m.shape[1] :]


def diag_score(matrix: np.ndarray, *, multioutput: str = "uniform_average") -> np.ndarray | float:
    """CITRIS ``diag``: how well each group predicts its own variable (higher is better).

    Args:
        matrix: (K+1, K) or (K, K) R² or correlation matrix (row 0, if present, is dropped).
        multioutput: ``"raw_values"`` for the (K,) diagonal, else its mean.
    """
    d = np.diag(_square(matrix)).copy()
    return d if multioutput == "raw_values" else float(d.mean())


def sep_error(matrix: np.ndarray, *, multioutput: str = "uniform_average") -> np.ndarray | float:
    """CITRIS ``sep``: the largest off-diagonal entry of each group's row (lower is better).

    Args:
        matrix: (K+1, K) or (K, K) R² or correlation matrix (row 0, if present, is dropped).
        multioutput: ``"raw_values"`` for the (K,) row maxima, else their mean.

    Returns:
        0 for a single variable (no off-diagonal entry).
    """
    m = _square(matrix)
    k = m.shape[0]
    if k == 1:
        off = np.zeros(1)
    else:
        masked = np.where(np.eye(k, dtype=bool), -np.inf, m)
        off = masked.max(axis=1)
    return off if multioutput == "raw_values" else float(off.mean())
