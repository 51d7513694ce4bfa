"""Bad input raises a ValueError naming the argument and the expected shape.

:data:`TABLE` lists every public metric function of :mod:`crlbench.metrics` with good
arguments; :func:`test_bad_array_names_the_argument` corrupts each array argument of each
function in every way of :data:`CORRUPTIONS` (NaN, empty, wrong shape, text, complex,
non-numeric labels) and asserts a :class:`CrlbenchError` whose message names that argument.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from crlbench import metrics as M
from crlbench.errors import CrlbenchError
from crlbench.metrics.suite import metric

from .conftest import MIXED, SAMPLE_GROUPS, identity_assignment, sample_truth, table_inputs

RNG = np.random.default_rng(0)
Y = sample_truth(RNG, 60)
Z = np.column_stack([Y, RNG.normal(size=60)])
A = identity_assignment(MIXED, 1)
LATENT_METRICS = {
    "mcc": lambda y, z: M.mcc_score(y, z),
    "correlation": lambda y, z: M.correlation_matrix(y, z),
    "probe": lambda y, z: M.probe_matrices(y, z, variables=MIXED, assignment=A, probe="linear"),
    "dci": lambda y, z: M.dci_score(y, z, variables=MIXED, regressor="gbt_fast"),
    "dependence": lambda y, z: M.dependence_matrix(y, z, variables=MIXED),
}

R2 = np.clip(np.eye(5, 4, k=-1) + 0.1, 0, 1)  # (K+1, K) with row 0 = "no variable"
IMPORTANCES = np.abs(RNG.normal(size=(6, 4)))  # (M, K)
GRAPH = np.triu(np.ones((4, 4)), 1)
LABELS = RNG.integers(0, 5, 60)
K4 = tuple(v for v in MIXED)


def _call(fn: Callable[..., Any], *positional: str, **options: Any) -> tuple[Callable[..., Any], tuple[str, ...], dict[str, Any]]:
    return fn, positional, options


#: metric -> (function, names of its positional array arguments, keyword options)
TABLE: dict[str, tuple[Callable[..., Any], tuple[str, ...], dict[str, Any]]] = {
    "typed_r2_score": _call(M.typed_r2_score, "y_true", "y_pred", variables=MIXED),
    "r2_matrix": _call(M.r2_matrix, "y_true", "predictions", variables=MIXED),
    "diag_score": _call(M.diag_score, "matrix"),
    "sep_error": _call(M.sep_error, "matrix"),
    "correlation_matrix": _call(M.correlation_matrix, "y_true", "latents"),
    "spearman_matrix": _call(M.spearman_matrix, "y_true", "predictions", variables=MIXED),
    "mcc_score": _call(M.mcc_score, "y_true", "latents"),
    "importance_matrix": _call(M.importance_matrix, "y_true", "latents", variables=MIXED, regressor="gbt_fast"),
    "disentanglement_score": _call(M.disentanglement_score, "importances"),
    "completeness_score": _call(M.completeness_score, "importances"),
    "dci_score": _call(M.dci_score, "y_true", "latents", variables=MIXED, regressor="gbt_fast"),
    "shd_error": _call(M.shd_error, "true", "learned"),
    "edge_precision_score": _call(M.edge_precision_score, "true", "learned"),
    "edge_recall_score": _call(M.edge_recall_score, "true", "learned"),
    "dependence_matrix": _call(M.dependence_matrix, "y_true", "latents", variables=MIXED),
    "match_dims": _call(M.match_dims, "scores"),
    "match_variables": _call(M.match_variables, "scores"),
    "match_assignment": _call(M.match_assignment, "y_true", "latents", variables=MIXED),
    "hard_groups": _call(M.hard_groups, "assignment"),
    "fit_probe_predictions": _call(M.fit_probe_predictions, "y_true", "latents", variables=MIXED, assignment=A, probe="linear"),
    "triplet_error": _call(M.triplet_error, "y_true", "y_pred", variables=MIXED),
    "triplet_scores": _call(M.triplet_scores, "y_true", "y_pred", "y_pred_true_image", variables=MIXED),
    "intervention_accuracy_score": _call(M.intervention_accuracy_score, "targets_true", "targets_pred"),
    "match_intervention_labels": _call(M.match_intervention_labels, "targets_true", "targets_pred"),
    "probe_matrices": _call(M.probe_matrices, "y_true", "latents", variables=MIXED, assignment=A, probe="linear"),
    "evaluate_latents": _call(M.evaluate_latents, "y_true", "latents", variables=MIXED, probe="linear", dci_regressor="gbt_fast"),
}

#: argument name -> a good value
GOOD: dict[str, np.ndarray] = {
    "y_true": Y,
    "y_pred": Y + 0.01,
    "y_pred_true_image": Y,
    "predictions": np.stack([Y] * 5),
    "latents": Z,
    "matrix": R2,
    "importances": IMPORTANCES,
    "true": GRAPH,
    "learned": GRAPH,
    "scores": R2[1:],
    "assignment": A,
    "targets_true": LABELS,
    "targets_pred": LABELS,
}

#: metrics of arrays (no probes, no torch): these are also called with good input here
NOT_FITTED = (
    "typed_r2_score",
    "r2_matrix",
    "diag_score",
    "sep_error",
    "correlation_matrix",
    "disentanglement_score",
    "completeness_score",
    "shd_error",
    "edge_precision_score",
    "edge_recall_score",
    "match_dims",
    "match_variables",
    "hard_groups",
    "triplet_error",
    "triplet_scores",
    "intervention_accuracy_score",
    "match_intervention_labels",
)


def _nan(a: np.ndarray) -> np.ndarray:
    b = a.astype(np.float64).copy()
    b.flat[min(7, b.size - 1)] = np.nan
    return b


def _wrong_shape(a: np.ndarray) -> np.ndarray:
    return a[..., None, None] if a.ndim == 1 else a.reshape(-1)


CORRUPTIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "nan": _nan,
    "empty": lambda a: a[:0],
    "wrong_shape": _wrong_shape,
    "text": lambda a: np.full(a.shape, "a"),  # non-numeric labels / values
    "numeric_text": lambda a: a.astype(str),  # numbers read from a text file, never converted
    "complex": lambda a: a.astype(np.complex128),
}


def test_table_covers_every_public_metric():
    public = {n for n in M.__all__ if callable(getattr(M, n)) and not isinstance(getattr(M, n), type)}
    lazy = {"train_causal_encoder", "save_causal_encoder", "load_causal_encoder", "load_or_train_causal_encoder"}
    assert public - lazy == set(TABLE)


@pytest.mark.parametrize("name", NOT_FITTED)
def test_good_input_is_accepted(name):
    fn, positional, options = TABLE[name]
    fn(*(GOOD[p] for p in positional), **options)


@pytest.mark.parametrize("corruption", sorted(CORRUPTIONS))
@pytest.mark.parametrize("name", sorted(TABLE))
def test_bad_array_names_the_argument(name, corruption):
    fn, positional, options = TABLE[name]
    for arg in positional:
        args = [CORRUPTIONS[corruption](GOOD[p]) if p == arg else GOOD[p] for p in positional]
        with pytest.raises(CrlbenchError) as err:
            fn(*args, **options)
        assert arg in str(err.value), f"{name}({arg}={corruption}): {err.value}"


@pytest.mark.parametrize("fn", [M.diag_score, M.sep_error])
def test_all_nan_matrix_is_refused(fn):
    with pytest.raises(CrlbenchError, match="matrix must be a finite"):
        fn(np.full((4, 3), np.nan))


def test_empty_importances_are_refused():
    with pytest.raises(CrlbenchError, match=r"importances must be a non-empty"):
        M.completeness_score(np.zeros((0, 3)))


def test_graphs_of_another_size_than_the_variables_are_refused():
    with pytest.raises(CrlbenchError, match=r"true_graph must be a square \(K=4, K=4\)"):
        M.evaluate_latents(
            Y, Z, variables=MIXED, probe="linear", dci_regressor="gbt_fast", true_graph=np.zeros((2, 2)), learned_graph=np.zeros((2, 2))
        )


def test_one_sample_is_refused():
    with pytest.raises(CrlbenchError, match=r"at least 2 samples"):
        M.typed_r2_score(Y[:1], Y[:1], variables=MIXED)


def test_non_numeric_labels_name_the_argument():
    with pytest.raises(CrlbenchError, match="targets_true must hold integer labels"):
        M.intervention_accuracy_score(np.array(["a", "b"]), np.array([0, 1]))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("name", sorted(LATENT_METRICS))
def test_non_finite_latents(name, bad):
    z = Z.copy()
    z[3, 1] = bad
    with pytest.raises(ValueError, match=r"latents must be a finite \(N, M\) array"):
        LATENT_METRICS[name](Y, z)


@pytest.mark.parametrize("name", sorted(LATENT_METRICS))
def test_mismatched_lengths(name):
    with pytest.raises(ValueError, match=r"same number of samples N.*y_true: 60, latents: 59"):
        LATENT_METRICS[name](Y, Z[:59])


@pytest.mark.parametrize("name", sorted(LATENT_METRICS))
def test_one_dimensional_latents(name):
    with pytest.raises(ValueError, match=r"latents must be a \(N, M\) array, got shape \(60,\)"):
        LATENT_METRICS[name](Y, Z[:, 0])


def test_wrong_truth_width_names_variables():
    with pytest.raises(ValueError, match=r"y_true must be \(N, D=5\).*'pos'"):
        M.probe_matrices(Y[:, :4], Z, variables=MIXED, assignment=A)


def test_categorical_out_of_range():
    y = Y.copy()
    y[0, 3] = 7
    with pytest.raises(ValueError, match=r"categorical variable 'shape'.*\[0, 3\)"):
        M.typed_r2_score(y, Y, variables=MIXED)


@pytest.mark.parametrize("shape", [(6, 4), (5, 5), (6,)])
def test_wrong_assignment_shape(shape):
    with pytest.raises(ValueError, match=r"assignment must be .*\(M=6, K\+1=5\)"):
        M.probe_matrices(Y, Z, variables=MIXED, assignment=np.ones(shape), probe="linear")


def test_negative_assignment():
    with pytest.raises(ValueError, match="assignment must be non-negative"):
        M.probe_matrices(Y, Z, variables=MIXED, assignment=-A, probe="linear")


def test_cyclic_graph_where_dag_required():
    cyc = np.array([[0, 1, 0], [0, 0, 1], [1, 0, 0]])
    with pytest.raises(ValueError, match=r"true: graph has a cycle"):
        M.shd_error(cyc, np.zeros((3, 3)))
    assert M.shd_error(cyc, np.zeros((3, 3)), dag=False) == 3


def test_non_square_graph():
    with pytest.raises(ValueError, match=r"true must be a square \(K, K\) adjacency"):
        M.shd_error(np.zeros((2, 3)), np.zeros((2, 2)))


def test_unknown_option_names_choices():
    with pytest.raises(ValueError, match=r"probe must be one of \['kernel', 'linear', 'mlp', 'mlp-groups'\]"):
        M.probe_matrices(Y, Z, variables=MIXED, assignment=A, probe="svm")
    with pytest.raises(ValueError, match=r"method must be one of"):
        M.mcc_score(Y, Z, method="kendall")
    with pytest.raises(ValueError, match=r"regressor must be one of"):
        M.dci_score(Y, Z, regressor="lasso")
    with pytest.raises(ValueError, match=r"multioutput must be one of"):
        M.typed_r2_score(Y, Y, variables=MIXED, multioutput="weighted")


def test_errors_are_crlbench_errors():
    with pytest.raises(CrlbenchError):
        M.mcc_score(Y, Z[:10])


def test_triplet_prediction_shape():
    with pytest.raises(ValueError, match=r"y_pred must be \(N, D\) = \(60, 5\)"):
        M.triplet_error(Y, Z, variables=MIXED)


TABLE_INPUTS = table_inputs(np.random.default_rng(3), 60)


@pytest.mark.parametrize("name", [m.name for m in M.METRICS])
@pytest.mark.parametrize("corruption", sorted(CORRUPTIONS))
def test_every_table_metric_names_its_bad_input(name, corruption):
    """Each array a metric of :data:`crlbench.metrics.METRICS` reads, corrupted, is named."""
    needs = metric(name).needs
    keys = ["y_true", "latents", *(k for group in SAMPLE_GROUPS if set(needs) & set(group) for k in group)]
    if "learned_graph" in needs:
        keys += ["true_graph", "learned_graph"]
    for key in keys:
        bad = {**TABLE_INPUTS, key: CORRUPTIONS[corruption](TABLE_INPUTS[key])}
        with pytest.raises(CrlbenchError, match=key):
            metric(name).compute(M.Scoring(**bad, variables=MIXED, probe="linear", dci_regressor="gbt_fast"))
