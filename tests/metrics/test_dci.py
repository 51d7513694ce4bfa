"""DCI: analytic importance matrices and an end-to-end check with gradient boosting."""

from __future__ import annotations

import numpy as np
import pytest

from crlbench.metrics import completeness_score, dci_score, disentanglement_score, importance_matrix


def test_diagonal_importances_give_one():
    r = np.diag([0.3, 1.0, 2.0])
    assert disentanglement_score(r) == pytest.approx(1.0)
    assert completeness_score(r) == pytest.approx(1.0)


def test_diagonal_with_unused_codes_gives_one():
    r = np.vstack([np.eye(3), np.zeros((2, 3))])
    assert disentanglement_score(r) == pytest.approx(1.0)
    assert completeness_score(r) == pytest.approx(1.0)


def test_one_code_for_two_factors():
    # code 0 explains both factors equally: its disentanglement is 1 - H_2(1/2, 1/2) = 0
    r = np.array([[1.0, 1.0], [0.0, 0.0]])
    assert disentanglement_score(r) == pytest.approx(0.0)
    assert completeness_score(r) == pytest.approx(1.0)
    # add a code for factor 1 only: D = 2/3 * 0 + 1/3 * 1; C = (1 + (1 - H_2(1/2, 1/2))) / 2
    r = np.array([[1.0, 1.0], [0.0, 1.0]])
    assert disentanglement_score(r) == pytest.approx(1 / 3)
    assert completeness_score(r) == pytest.approx(0.5)
    np.testing.assert_allclose(completeness_score(r, multioutput="raw_values"), [1.0, 0.0])


def test_uniform_importances_give_zero():
    r = np.ones((4, 4))
    assert disentanglement_score(r) == pytest.approx(0.0, abs=1e-12)
    assert completeness_score(r) == pytest.approx(0.0, abs=1e-12)


def test_entropy_base_analytic():
    # one factor spread over 3 of 9 codes: completeness 1 - log 3 / log 9 = 1/2
    r = np.zeros((9, 1))
    r[:3, 0] = 1.0
    assert completeness_score(r) == pytest.approx(0.5)
    assert disentanglement_score(r) == pytest.approx(1.0)  # K = 1 is trivially disentangled


def test_factor_without_importance_has_zero_completeness():
    r = np.array([[1.0, 0.0], [0.0, 0.0]])
    np.testing.assert_allclose(completeness_score(r, multioutput="raw_values"), [1.0, 0.0])


def test_negative_importances_rejected():
    with pytest.raises(ValueError, match=r"\(M codes, K factors\)"):
        disentanglement_score(np.array([[1.0, -1.0]]))


def test_identity_code_with_gbt(rng):
    y = rng.uniform(-1, 1, size=(600, 3))
    z = np.column_stack([y[:, [2, 0, 1]], rng.normal(size=(600, 2))])
    res = dci_score(y, z, regressor="gbt_fast")
    assert res.importances.shape == (5, 3)
    np.testing.assert_allclose(res.importances.sum(axis=0), 1.0)
    assert res.disentanglement > 0.9 and res.completeness > 0.9
    assert res.informativeness_error < 0.05


def test_one_code_for_two_factors_with_gbt(rng):
    y = rng.uniform(-1, 1, size=(600, 2))
    z = np.column_stack([y[:, 0] + 1e-3 * y[:, 1], rng.normal(size=600)])  # y1 ~ lost
    imp, err = importance_matrix(y, z, regressor="gbt_fast")
    assert imp[0, 0] > 0.9
    assert err[0] < 0.05 and err[1] > 0.9


def test_n_jobs_does_not_change_values(rng):
    y = rng.uniform(-1, 1, size=(300, 2))
    z = y + 0.1 * rng.normal(size=y.shape)
    a = importance_matrix(y, z, regressor="gbt_fast", n_jobs=1)
    b = importance_matrix(y, z, regressor="gbt_fast", n_jobs=2)
    np.testing.assert_array_equal(a[0], b[0])
