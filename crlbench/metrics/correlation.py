"""Correlation-based identifiability scores: the CITRIS Spearman matrix and MCC.

- :func:`correlation_matrix`: Pearson or Spearman correlations between true dimensions
  and latents (Spearman = Pearson on average ranks, as :func:`scipy.stats.spearmanr`).
- :func:`spearman_matrix` (CITRIS variant): |Spearman| between each group's *probe
  predictions* and the truth, per causal variable. Angles are compared through (sin, cos)
  and categories through one-hot indicators; a dimension's value is the mean |rho| over its
  encoded columns (constant columns skipped), a variable's the mean over its dimensions.
- :func:`mcc_score`: mean correlation coefficient. Absolute correlations between every
  true dimension and every latent; Hungarian matching (one latent per true dimension)
  fitted on one half of the samples, scored on the other half.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.stats import rankdata

from crlbench.core import Variable
from crlbench.metrics import kinds
from crlbench.metrics._checks import (
    as_group_predictions,
    as_latents,
    check_choice,
    check_lengths,
    split_indices,
)

__all__ = ["CORRELATIONS", "correlation_matrix", "spearman_matrix", "mcc_score"]

#: Correlation name -> per-column transform applied before Pearson.
CORRELATIONS = {
    "pearson": lambda a: a,
    "spearman": lambda a: rankdata(a, axis=0),
}


def _corr(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(P, Q) Pearson correlations of the columns of (N, P) and (N, Q); constant -> 0."""
    a = a - a.mean(0)
    b = b - b.mean(0)
    na, nb = np.linalg.norm(a, axis=0), np.linalg.norm(b, axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        c = (a.T @ b) / np.outer(na, nb)
    # A constant column carries no information: correlation 0, not NaN.
    return np.clip(np.nan_to_num(c, nan=0.0, posinf=0.0, neginf=0.0), -1.0, 1.0)


def correlation_matrix(y_true: np.ndarray, latents: np.ndarray, *, method: str = "pearson") -> np.ndarray:
    """Signed correlations between true dimensions and latents.

    Args:
        y_true: (N, D) true factors.
        latents: (N, M) learned latents.
        method: ``"pearson"`` or ``"spearman"``.

    Returns:
        (D, M) correlations; 0 where a column is constant.
    """
    check_choice("method", method, CORRELATIONS)
    y = as_latents(y_true, "y_true", "(N, D)")
    z = as_latents(latents, "latents", "(N, M)")
    check_lengths(y_true=y, latents=z)
    f = CORRELATIONS[method]
    return _corr(f(y), f(z))


def mcc_score(
    y_true: np.ndarray,
    latents: np.ndarray,
    *,
    method: str = "pearson",
    split: float = 0.5,
    seed: int = 0,
    multioutput: str = "uniform_average",
) -> np.ndarray | float:
    """Mean correlation coefficient with held-out matching.

    |correlation| between each true dimension and each latent; the one-to-one matching of
    dimensions to latents maximising the sum is fitted (Hungarian) on one half and the
    matched |correlations| are measured on the other half.

    Extra latents (M > D) are left unmatched and do not enter the score: MCC measures
    whether each true factor is recovered, not whether the code is compact. If M < D, the
    unmatched true dimensions count as 0.

    Args:
        y_true: (N, D) true factors (raw values; meaningful for continuous factors).
        latents: (N, M) learned latents.
        method: ``"pearson"`` (linear identifiability) or ``"spearman"`` (monotone).
        split: Fraction of samples used to fit the matching.
        seed: Seeds the split.
        multioutput: ``"raw_values"`` for the (D,) per-dimension scores, else their mean.

    Returns:
        MCC in [0, 1]; 1 means every factor is a (monotone, for Spearman) function of a
        distinct latent.
    """
    check_choice("method", method, CORRELATIONS)
    y = as_latents(y_true, "y_true", "(N, D)")
    z = as_latents(latents, "latents", "(N, M)")
    n = check_lengths(y_true=y, latents=z)
    fit, score = split_indices(n, split, seed)
    f = CORRELATIONS[method]
    rows, cols = linear_sum_assignment(np.abs(_corr(f(y[fit]), f(z[fit]))), maximize=True)
    held = np.abs(_corr(f(y[score]), f(z[score])))
    per_dim = np.zeros(y.shape[1])
    per_dim[rows] = held[rows, cols]
    return per_dim if multioutput == "raw_values" else float(per_dim.mean())


def spearman_matrix(
    y_true: np.ndarray,
    predictions: np.ndarray,
    *,
    variables: Sequence[Variable] | None = None,
    multioutput: str = "per_variable",
) -> np.ndarray:
    """CITRIS Spearman matrix: |rho| between each group's probe predictions and the truth.

    Args:
        y_true: (N, D) true factors of the scored samples.
        predictions: (G, N, D) decoded predictions of each group's probe.
        variables: The K variables; default: D continuous scalars.
        multioutput: ``"per_variable"`` gives (G, K); ``"raw_values"`` gives (G, D).

    Returns:
        (G, K) or (G, D) matrix in [0, 1].
    """
    y, preds, variables = as_group_predictions(y_true, predictions, variables, multioutput, "spearman_matrix")
    t = kinds.encode(y, variables)
    rt = rankdata(t, axis=0)
    informative = t.std(axis=0) > 0
    cols = kinds.encoded_columns(variables)
    out = np.zeros((len(preds), y.shape[1]))
    for g, p in enumerate(preds):
        rp = rankdata(kinds.encode(p, variables), axis=0)
        rho = np.abs(np.diag(_corr(rt, rp)))  # column c of truth vs column c of prediction
        for d, s in enumerate(cols):
            keep = informative[s]
            out[g, d] = rho[s][keep].mean() if keep.any() else 0.0
    return np.asarray(kinds.aggregate(out, variables, multioutput))
