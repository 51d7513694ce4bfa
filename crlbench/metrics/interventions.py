"""Intervention accuracy for pairs (ILCM): inferred targets against true ones.

A method's intervention labels are identifiable only up to a relabelling of the variables,
so the accuracy is the best one over relabellings with "no intervention" (label 0) kept
fixed. The best relabelling is a linear assignment problem on the (K x L) confusion matrix
of the intervened labels, solved by :func:`scipy.optimize.linear_sum_assignment` in
O(K^3) instead of trying all K! permutations (ILCM's reference code does the latter).
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment

from crlbench.errors import CrlbenchError
from crlbench.metrics._checks import check_lengths

__all__ = ["as_labels", "match_intervention_labels", "intervention_accuracy_score"]


def as_labels(targets: np.ndarray, name: str = "targets") -> np.ndarray:
    """Intervention labels (N,) in ``0..K`` (0 = none) from labels or one-hot targets.

    Args:
        targets: (N,) integer labels, or (N, K) 0/1 targets with at most one 1 per row (the
            ``single`` policy's format; an all-zero row is "no intervention").
    """
    a = np.asarray(targets)
    if a.dtype.kind not in "biuf":
        raise CrlbenchError(f"{name} must hold integer labels (0 = no intervention) or 0/1 targets, got dtype {a.dtype}")
    if a.ndim == 2 and len(a) == 0:
        raise CrlbenchError(f"{name} must not be empty, got shape {a.shape}")
    if a.ndim == 2:
        if not np.isin(a, (0, 1)).all() or (a.sum(axis=1) > 1).any():
            raise CrlbenchError(f"{name} as (N, K) must be 0/1 with at most one target per row; pass (N,) labels for other policies")
        return np.where(a.any(axis=1), np.argmax(a, axis=1) + 1, 0)
    if a.ndim != 1 or a.size == 0:
        raise CrlbenchError(f"{name} must be (N,) labels or (N, K) one-hot, got shape {a.shape}")
    if not np.isfinite(a.astype(float)).all() or (a != np.round(a)).any() or (a < 0).any():
        raise CrlbenchError(f"{name} must hold non-negative integer labels (0 = no intervention)")
    return a.astype(int)


def match_intervention_labels(targets_true: np.ndarray, targets_pred: np.ndarray) -> np.ndarray:
    """Best relabelling of predicted labels, keeping 0 fixed.

    Args:
        targets_true: (N,) labels or (N, K) one-hot.
        targets_pred: (N,) labels or (N, L) one-hot.

    Returns:
        (L+1,) map from each predicted label to a true label (``map[0] = 0``); predicted
        labels left over when L > K map to -1 (always wrong).
    """
    t, p = as_labels(targets_true, "targets_true"), as_labels(targets_pred, "targets_pred")
    check_lengths(targets_true=t, targets_pred=p)
    k, l_ = int(t.max(initial=0)), int(p.max(initial=0))
    confusion = np.zeros((k + 1, l_ + 1))
    np.add.at(confusion, (t, p), 1)
    mapping = np.full(l_ + 1, -1)
    mapping[0] = 0
    rows, cols = linear_sum_assignment(confusion[1:, 1:], maximize=True)
    mapping[cols + 1] = rows + 1
    return mapping


def intervention_accuracy_score(targets_true: np.ndarray, targets_pred: np.ndarray) -> float:
    """Accuracy of inferred intervention targets under the best relabelling.

    Args:
        targets_true: (N,) labels in 0..K (0 = no intervention) or (N, K) one-hot.
        targets_pred: (N,) labels in 0..L or (N, L) one-hot.

    Returns:
        Accuracy in [0, 1].
    """
    t, p = as_labels(targets_true, "targets_true"), as_labels(targets_pred, "targets_pred")
    check_lengths(targets_true=t, targets_pred=p)
    mapping = match_intervention_labels(t, p)
    return float(np.mean(mapping[p] == t))
