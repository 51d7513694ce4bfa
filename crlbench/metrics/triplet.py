"""Triplet error (CITRIS): factors of decoded triplet images against the true third state.

A method decodes the mask-combined latents of a triplet into an image; a frozen causal
encoder (:mod:`crlbench.metrics.causal_encoder`) predicts the causal factors of that image,
and the prediction is compared with the true third state per causal dimension:

- continuous: absolute error; normalised: over the range ``high - low``;
- angle: wrapped angular error in degrees; normalised: over 180 degrees;
- categorical: error rate (0/1 per sample); normalised: the same.

The *floor* is the causal encoder's own error on the true third image: a method cannot be
told apart from a perfect one below it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from crlbench.core import Variable
from crlbench.errors import CrlbenchError
from crlbench.metrics import kinds
from crlbench.metrics._checks import as_latents, as_truth, check_lengths

__all__ = ["UNITS", "triplet_error", "TripletScores", "triplet_scores"]

#: Kind -> factor from the normalised distance to the raw unit (range, degrees, rate).
UNITS = {
    "continuous": lambda v: float(v.high - v.low) or 1.0,
    "angle": lambda v: 180.0,
    "categorical": lambda v: 1.0,
}


def _prediction(y: np.ndarray, pred: object, name: str) -> np.ndarray:
    """``pred`` as a finite (N, D) array of the shape of the truth ``y``."""
    p = as_latents(pred, name, f"(N, D={y.shape[1]})")
    check_lengths(y_true=y, **{name: p})
    if p.shape != y.shape:
        raise CrlbenchError(f"{name} must be (N, D) = {y.shape}, got {p.shape}")
    return p


def triplet_error(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    *,
    variables: Sequence[Variable],
    normalize: bool = False,
    multioutput: str = "raw_values",
) -> np.ndarray | float:
    """Mean per-dimension distance of predicted factors to the true third state.

    Args:
        y_true: (N, D) true factors of the third state.
        y_pred: (N, D) factors predicted by the causal encoder from the decoded images.
        variables: The K variables spanning D.
        normalize: Divide by the range / 180 degrees (comparable across kinds).
        multioutput: ``"raw_values"`` (D,), ``"per_variable"`` (K,) or
            ``"uniform_average"`` (mean over variables; use with ``normalize=True``).

    Returns:
        Errors; lower is better.
    """
    y = as_truth(y_true, variables, "y_true")
    p = _prediction(y, y_pred, "y_pred")
    err = kinds.distance(y, p, variables).mean(axis=0)
    if not normalize:
        err = err * np.array([UNITS[v.kind](v) for v in kinds.dim_variables(variables)])
    return kinds.aggregate(err, variables, multioutput)


@dataclass(frozen=True)
class TripletScores:
    """Per-dimension (D,) triplet errors and the causal encoder's floor."""

    error: np.ndarray
    normalized: np.ndarray
    floor: np.ndarray
    floor_normalized: np.ndarray

    @property
    def mean_normalized(self) -> float:
        """Mean normalised error over dimensions (the headline number)."""
        return float(self.normalized.mean())


def triplet_scores(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    y_pred_true_image: np.ndarray,
    *,
    variables: Sequence[Variable],
) -> TripletScores:
    """Raw and normalised triplet errors with the floor.

    Args:
        y_true: (N, D) true third states.
        y_pred: (N, D) causal-encoder predictions on the method's decoded images.
        y_pred_true_image: (N, D) causal-encoder predictions on the true third images.
        variables: The K variables spanning D.
    """
    y = as_truth(y_true, variables, "y_true")
    for name, pred in (("y_pred", y_pred), ("y_pred_true_image", y_pred_true_image)):
        _prediction(y, pred, name)  # named here: triplet_error below calls both y_pred

    def run(pred: np.ndarray, norm: bool) -> np.ndarray:
        return np.asarray(triplet_error(y_true, pred, variables=variables, normalize=norm))  # raw_values: (N, D)

    return TripletScores(
        error=run(y_pred, False),
        normalized=run(y_pred, True),
        floor=run(y_pred_true_image, False),
        floor_normalized=run(y_pred_true_image, True),
    )
