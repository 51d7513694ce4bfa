"""Matching learned latents or variables to true causal variables.

Methods with a latent-to-variable assignment (CITRIS) use it as is (argmax of a soft
assignment). Methods without one get a hard assignment by Hungarian matching
(:func:`scipy.optimize.linear_sum_assignment`) of latent dimensions to causal dimensions on
a dependence score computed on the probe set's *fitting* half only, so the scored half
never informs the matching. Each causal dimension receives at most one latent; latents left
over go to group 0 ("no variable"). Reports should say that the assignment was matched.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.stats import rankdata

from crlbench.core import Variable
from crlbench.metrics import kinds
from crlbench.metrics._checks import as_assignment, as_latents, as_truth, check_lengths

__all__ = [
    "dependence_matrix",
    "match_dims",
    "match_variables",
    "assignment_from_dims",
    "match_assignment",
    "hard_groups",
]


def _standardise(a: np.ndarray) -> np.ndarray:
    a = a - a.mean(axis=0)
    sd = a.std(axis=0)
    # Constant columns correlate with nothing; dividing by 1 leaves them all-zero.
    return a / np.where(sd > 0, sd, 1.0)


def dependence_matrix(y_true: np.ndarray, latents: np.ndarray, *, variables: Sequence[Variable] | None = None) -> np.ndarray:
    """How much each latent tells about each causal dimension, in [0, 1].

    The score is the variance-weighted R² of a rank-linear fit of the dimension's encoded
    columns (value, (sin, cos) or one-hot) on the ranked latent: invariant to monotone maps
    of the latent and defined for every kind.

    Args:
        y_true: (N, D) true causal factors.
        latents: (N, M) learned latents.
        variables: The K variables; default: D continuous scalars.

    Returns:
        (M, D) dependence scores.
    """
    latents = as_latents(latents)
    variables = kinds.default_variables(np.shape(y_true)[-1]) if variables is None else variables
    y_true = as_truth(y_true, variables)
    n = check_lengths(y_true=y_true, latents=latents)
    t = kinds.encode(y_true, variables)
    zs = _standardise(rankdata(latents, axis=0))
    var = t.var(axis=0)
    r2 = ((zs.T @ _standardise(t)) / n) ** 2  # (M, C) squared correlations
    out = np.empty((latents.shape[1], y_true.shape[1]))
    for d, cols in enumerate(kinds.encoded_columns(variables)):
        w = var[cols]
        out[:, d] = (r2[:, cols] @ w) / w.sum() if w.sum() > 0 else 0.0
    return out


def match_dims(scores: np.ndarray) -> np.ndarray:
    """Hungarian matching of latents to causal dimensions, maximising the total score.

    Args:
        scores: (M, D) latent x dimension scores (higher = better match).

    Returns:
        (D,) int index of the latent matched to each dimension; -1 where M < D left a
        dimension unmatched.
    """
    s = as_latents(scores, "scores", "(M, D)")
    rows, cols = linear_sum_assignment(s.T, maximize=True)
    out = np.full(s.shape[1], -1, dtype=int)
    out[rows] = cols
    return out


def match_variables(scores: np.ndarray) -> np.ndarray:
    """Hungarian matching of learned variables to true variables (for graphs).

    Args:
        scores: (K, L) true x learned similarity (e.g. held-out R² or |correlation|).

    Returns:
        (K,) index of the learned variable matched to each true variable (-1 if L < K).
    """
    return match_dims(as_latents(scores, "scores", "(K, L)").T)


def assignment_from_dims(dim_latents: np.ndarray, n_latents: int, variables: Sequence[Variable]) -> np.ndarray:
    """Hard (M, K+1) assignment from the latent matched to each dimension.

    Args:
        dim_latents: (D,) latent index per causal dimension (-1 = none), from
            :func:`match_dims`.
        n_latents: M.
        variables: The K variables spanning the D dimensions.
    """
    a = np.zeros((n_latents, len(variables) + 1))
    a[:, 0] = 1.0
    for d, k in enumerate(kinds.dim_to_var(variables)):
        m = int(dim_latents[d])
        if m >= 0:
            a[m] = 0.0
            a[m, k + 1] = 1.0
    return a


def match_assignment(y_true: np.ndarray, latents: np.ndarray, *, variables: Sequence[Variable] | None = None) -> np.ndarray:
    """Hard (M, K+1) assignment by Hungarian matching on :func:`dependence_matrix`.

    Pass only the fitting half of a probe set (``fit_probe_predictions`` does).
    """
    latents = as_latents(latents)
    variables = kinds.default_variables(np.shape(y_true)[-1]) if variables is None else variables
    dims = match_dims(dependence_matrix(y_true, latents, variables=variables))
    return assignment_from_dims(dims, latents.shape[1], variables)


def hard_groups(assignment: np.ndarray, n_variables: int | None = None) -> np.ndarray:
    """(M,) group of each latent: the argmax of its (soft or hard) assignment row.

    Args:
        assignment: (M, K+1), column 0 = "no variable".
        n_variables: K, checked when given.
    """
    a = as_latents(assignment, "assignment", "(M, K+1)")
    a = as_assignment(a, a.shape[0], a.shape[1] - 1 if n_variables is None else n_variables)
    return np.argmax(a, axis=1)
