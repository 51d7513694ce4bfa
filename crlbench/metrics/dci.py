"""DCI: disentanglement, completeness, informativeness (Eastwood & Williams, ICLR 2018).

The scoring core works on an importance matrix ``R`` of shape (M codes, K factors), apart
from the regressor that estimates it:

- disentanglement of code i: ``1 - H_K(P_i.)`` with ``P_ij = R_ij / sum_k R_ik`` and
  ``H_K`` the entropy in base K; overall: the average weighted by each code's share of the
  total importance ``rho_i = sum_j R_ij / sum R`` (codes with no importance weigh 0);
- completeness of factor j: ``1 - H_M(P~_.j)`` with ``P~_ij = R_ij / sum_i R_ij``;
  overall: the unweighted mean over factors; a factor with no importance at all has
  completeness 0. disentanglement_lib instead weights factor j by its share of the total
  importance ``sum_i R_ij / sum R``; the two agree when every column of ``R`` has the same
  sum, as the importances estimated here do (each column sums to 1, see below);
- informativeness: the regressors' held-out prediction error, reported as normalised MSE
  (MSE over the variance of the target, i.e. ``1 - R²``; lower is better).

With a single factor (K = 1) disentanglement is 1 by definition, with a single code
(M = 1) completeness is 1.

The importance matrix comes from one regressor per target (:data:`REGRESSORS`), fitted on
one half of the samples and evaluated on the other. ``"gbt"`` (default) is scikit-learn's
``GradientBoostingRegressor`` with its default settings (100 trees of depth 3, learning
rate 0.1) and its impurity importances, as in ILCM; ``"gbt_fast"`` fits 20 trees with
learning rate 0.5 on at most 2,000 samples (bound in ``docs/metrics.md``). With
``variables``, targets are the kind encodings (range-scaled value, (sin, cos), one-hot);
a dimension's importances are the mean over its encoded columns, so every factor's column
sums to 1. Factors are causal *dimensions*, not variables: a 3-D position legitimately
spans three codes and must not lose completeness for it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from crlbench.core import Variable
from crlbench.errors import CrlbenchError
from crlbench.metrics import kinds
from crlbench.metrics._checks import as_latents, as_truth, check_lengths, split_indices

__all__ = [
    "REGRESSORS",
    "DCIResult",
    "disentanglement_score",
    "completeness_score",
    "importance_matrix",
    "dci_score",
]


def _gbt(seed: int) -> Any:
    from sklearn.ensemble import GradientBoostingRegressor  # noqa: PLC0415

    return GradientBoostingRegressor(random_state=seed)


def _gbt_fast(seed: int) -> Any:
    from sklearn.ensemble import GradientBoostingRegressor  # noqa: PLC0415

    return GradientBoostingRegressor(n_estimators=20, learning_rate=0.5, random_state=seed)


@dataclass(frozen=True)
class Regressor:
    """A regressor factory ``seed -> estimator`` with ``feature_importances_``."""

    make: Callable[[int], Any]
    max_samples: int | None = None  # fit on at most this many samples of the fitting half


REGRESSORS: dict[str, Regressor] = {
    "gbt": Regressor(_gbt),
    "gbt_fast": Regressor(_gbt_fast, max_samples=2000),
}


def _importances(r: np.ndarray) -> np.ndarray:
    r = as_latents(r, "importances", "(M codes, K factors)")
    if (r < 0).any():
        raise CrlbenchError(f"importances must be a non-negative (M codes, K factors) array, found {r.min()}")
    return r


def _one_minus_entropy(p: np.ndarray, base: int) -> np.ndarray:
    """1 - entropy (base ``base``) of each row of non-negative ``p`` (rows sum to 1 or 0)."""
    if base < 2:
        return np.ones(len(p))
    with np.errstate(divide="ignore", invalid="ignore"):
        h = -np.where(p > 0, p * np.log(p), 0.0).sum(axis=1) / np.log(base)
    return 1.0 - h


def _normalise_rows(r: np.ndarray) -> np.ndarray:
    s = r.sum(axis=1, keepdims=True)
    return np.divide(r, s, out=np.zeros_like(r), where=s > 0)


def disentanglement_score(importances: np.ndarray, *, multioutput: str = "uniform_average") -> np.ndarray | float:
    """Disentanglement from an importance matrix.

    Args:
        importances: (M, K) non-negative importance of code i for factor j.
        multioutput: ``"raw_values"`` for the (M,) per-code scores, else the
            importance-weighted average.
    """
    r = _importances(importances)
    per_code = _one_minus_entropy(_normalise_rows(r), r.shape[1])
    if multioutput == "raw_values":
        return per_code
    total = r.sum()
    return float((per_code * r.sum(axis=1)).sum() / total) if total > 0 else 0.0


def completeness_score(importances: np.ndarray, *, multioutput: str = "uniform_average") -> np.ndarray | float:
    """Completeness from an importance matrix.

    Args:
        importances: (M, K) non-negative importance of code i for factor j.
        multioutput: ``"raw_values"`` for the (K,) per-factor scores, else their mean.
    """
    r = _importances(importances)
    per_factor = _one_minus_entropy(_normalise_rows(r.T), r.shape[0])
    per_factor = np.where(r.sum(axis=0) > 0, per_factor, 0.0)
    return per_factor if multioutput == "raw_values" else float(per_factor.mean())


def _fit_one(reg: Regressor, x_fit, t_fit, x_score, t_score, seed):
    est = reg.make(seed).fit(x_fit, t_fit)
    var = t_score.var()
    mse = float(np.mean((est.predict(x_score) - t_score) ** 2))
    nmse = mse / var if var > 0 else float(mse > 0)
    return np.asarray(est.feature_importances_, dtype=np.float64), nmse


def importance_matrix(
    y_true: np.ndarray,
    latents: np.ndarray,
    *,
    variables: Sequence[Variable] | None = None,
    regressor: str = "gbt",
    split: float = 0.5,
    seed: int = 0,
    n_jobs: int = 1,
) -> tuple[np.ndarray, np.ndarray]:
    """Importance matrix and held-out error of one regressor per target.

    Args:
        y_true: (N, D) true factors.
        latents: (N, M) learned latents (codes).
        variables: The K variables spanning D; default: D continuous scalars.
        regressor: A name in :data:`REGRESSORS`.
        split: Fraction of samples used for fitting.
        seed: Seeds the split and the regressors.
        n_jobs: Parallel fits (joblib); the values do not depend on it.

    Returns:
        ``(importances, nmse)``: (M, D) importances (each column sums to 1, or 0 if the
        factor is constant) and (D,) held-out normalised MSE per causal dimension.
    """
    if regressor not in REGRESSORS:
        raise CrlbenchError(f"regressor must be one of {sorted(REGRESSORS)}, got {regressor!r}")
    reg = REGRESSORS[regressor]
    z = as_latents(latents)
    variables = kinds.default_variables(np.shape(y_true)[-1]) if variables is None else variables
    y = as_truth(y_true, variables)
    n = check_lengths(y_true=y, latents=z)
    fit, score = split_indices(n, split, seed)
    if reg.max_samples is not None and len(fit) > reg.max_samples:
        fit = np.sort(np.random.default_rng(seed).choice(fit, reg.max_samples, replace=False))
    t = kinds.encode(y, variables)
    from joblib import Parallel, delayed  # noqa: PLC0415 - shipped with scikit-learn

    jobs = (delayed(_fit_one)(reg, z[fit], t[fit, c], z[score], t[score, c], seed) for c in range(t.shape[1]))
    results = Parallel(n_jobs=n_jobs)(jobs)
    imp_cols = np.stack([r[0] for r in results], axis=1)  # (M, C)
    err_cols = np.array([r[1] for r in results])
    cols = kinds.encoded_columns(variables)
    imp_dims = np.stack([imp_cols[:, s].mean(axis=1) for s in cols], axis=1)
    err_dims = np.array([err_cols[s].mean() for s in cols])
    return imp_dims, err_dims


@dataclass(frozen=True)
class DCIResult:
    """DCI scores with their per-code / per-factor breakdown.

    Attributes:
        disentanglement, completeness: In [0, 1], higher is better.
        informativeness_error: Mean held-out normalised MSE over factors, lower is better.
        importances: (M, D) importance matrix (factors = causal dimensions).
        per_code: (M,) disentanglement of each code.
        per_factor: (D,) completeness of each factor.
        per_factor_error: (D,) normalised MSE of each factor.
    """

    disentanglement: float
    completeness: float
    informativeness_error: float
    importances: np.ndarray
    per_code: np.ndarray
    per_factor: np.ndarray
    per_factor_error: np.ndarray


def dci_score(
    y_true: np.ndarray,
    latents: np.ndarray,
    *,
    variables: Sequence[Variable] | None = None,
    regressor: str = "gbt",
    split: float = 0.5,
    seed: int = 0,
    n_jobs: int = 1,
) -> DCIResult:
    """DCI of latents (N, M) against factors (N, D); see :func:`importance_matrix`."""
    imp, err = importance_matrix(
        y_true,
        latents,
        variables=variables,
        regressor=regressor,
        split=split,
        seed=seed,
        n_jobs=n_jobs,
    )
    return DCIResult(
        disentanglement=float(disentanglement_score(imp)),
        completeness=float(completeness_score(imp)),
        informativeness_error=float(np.mean(err)),
        importances=imp,
        per_code=np.asarray(disentanglement_score(imp, multioutput="raw_values")),
        per_factor=np.asarray(completeness_score(imp, multioutput="raw_values")),
        per_factor_error=np.asarray(err),
    )
