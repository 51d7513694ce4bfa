"""Bad input raises a ValueError naming the argument and the expected shape."""

from __future__ import annotations

import numpy as np
import pytest

from crlbench import metrics as M
from crlbench.errors import CrlbenchError

from .conftest import MIXED, identity_assignment, sample_truth

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
    with pytest.raises(ValueError, match=r"probe must be one of \['kernel', 'linear', 'mlp'\]"):
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
