"""Canonical metrics of causal representation learning: pure functions of saved arrays.

Conventions (as scikit-learn's metrics): truth first, keyword-only options, ``*_score``
higher is better, ``*_error`` lower is better, ``multioutput="raw_values"`` for per-dimension
(``"per_variable"`` for per-variable) results. Causal dimensions are typed by
:class:`crlbench.core.Variable`; see ``docs/metrics.md`` for definitions,
variants, defaults and the bounds between fast and faithful estimators.

Modules: ``r2`` (typed R², R² matrix, diag / sep), ``correlation`` (Spearman matrix, MCC),
``dci``, ``graph`` (SHD, edge precision / recall), ``matching``, ``triplet``,
``interventions``, ``probes`` (fitting, kept apart from scoring), ``causal_encoder``
(imported lazily: it needs torch), ``suite`` (:data:`METRICS`, the one table of published
metrics, and :func:`evaluate_latents`).
"""

from __future__ import annotations

import importlib
from typing import Any

from crlbench.metrics.correlation import correlation_matrix, mcc_score, spearman_matrix
from crlbench.metrics.dci import (
    DCIResult,
    completeness_score,
    dci_score,
    disentanglement_score,
    importance_matrix,
)
from crlbench.metrics.graph import edge_precision_score, edge_recall_score, shd_error
from crlbench.metrics.interventions import intervention_accuracy_score, match_intervention_labels
from crlbench.metrics.matching import (
    dependence_matrix,
    hard_groups,
    match_assignment,
    match_dims,
    match_variables,
)
from crlbench.metrics.probes import PROBES, ProbeOutput, fit_probe_predictions
from crlbench.metrics.r2 import diag_score, r2_matrix, sep_error, typed_r2_score
from crlbench.metrics.suite import METRICS, Metric, Scoring, evaluate_latents, probe_matrices
from crlbench.metrics.triplet import TripletScores, triplet_error, triplet_scores

_LAZY = {
    name: "crlbench.metrics.causal_encoder"
    for name in (
        "CausalEncoder",
        "train_causal_encoder",
        "save_causal_encoder",
        "load_causal_encoder",
        "load_or_train_causal_encoder",
    )
}

__all__ = [
    "typed_r2_score",
    "r2_matrix",
    "diag_score",
    "sep_error",
    "correlation_matrix",
    "spearman_matrix",
    "mcc_score",
    "DCIResult",
    "importance_matrix",
    "disentanglement_score",
    "completeness_score",
    "dci_score",
    "shd_error",
    "edge_precision_score",
    "edge_recall_score",
    "dependence_matrix",
    "match_dims",
    "match_variables",
    "match_assignment",
    "hard_groups",
    "PROBES",
    "ProbeOutput",
    "fit_probe_predictions",
    "triplet_error",
    "triplet_scores",
    "TripletScores",
    "intervention_accuracy_score",
    "match_intervention_labels",
    "probe_matrices",
    "evaluate_latents",
    "METRICS",
    "Metric",
    "Scoring",
    *_LAZY,
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'crlbench.metrics' has no attribute {name!r}")
