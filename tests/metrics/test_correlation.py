"""MCC and correlation matrices: known answers and scipy cross-checks."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment
from scipy.stats import pearsonr, spearmanr

from crlbench.core import Variable
from crlbench.metrics import correlation_matrix, mcc_score, spearman_matrix

from .conftest import sample_truth


@pytest.mark.parametrize("method", ["pearson", "spearman"])
def test_correlation_matrix_matches_scipy(rng, method):
    y = rng.normal(size=(200, 3))
    z = np.column_stack([y[:, 0] ** 3, rng.normal(size=200), np.round(y[:, 1])])  # ties too
    ref = pearsonr if method == "pearson" else spearmanr
    expected = np.array([[ref(y[:, d], z[:, m])[0] for m in range(3)] for d in range(3)])
    np.testing.assert_allclose(correlation_matrix(y, z, method=method), expected, atol=1e-12)


def test_constant_column_correlates_zero(rng):
    y = rng.normal(size=(50, 2))
    z = np.column_stack([np.ones(50), y[:, 0]])
    c = correlation_matrix(y, z)
    assert c[0, 0] == 0.0 and c[0, 1] == pytest.approx(1.0)


@pytest.mark.parametrize("method", ["pearson", "spearman"])
def test_identity_is_one(rng, method):
    y = rng.normal(size=(500, 4))
    assert mcc_score(y, y, method=method) == pytest.approx(1.0)


def test_permutation_and_monotone_map_keeps_spearman_mcc_one(rng):
    y = rng.normal(size=(500, 4))
    z = y[:, [2, 0, 3, 1]]
    z = np.column_stack([np.exp(z[:, 0]), z[:, 1] ** 3, -np.tanh(z[:, 2]), 5 * z[:, 3] - 1])
    assert mcc_score(y, z, method="spearman") == pytest.approx(1.0)
    assert mcc_score(y, z, method="pearson") < 0.99  # the nonlinear maps are not linear


def test_rotation_lowers_mcc(rng):
    y = rng.normal(size=(2000, 3))
    q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    assert mcc_score(y, y @ q) < 0.9
    c, s = np.cos(np.pi / 4), np.sin(np.pi / 4)
    z = y[:, :2] @ np.array([[c, -s], [s, c]])  # 45 degrees: |corr| = 1/sqrt(2) each
    assert mcc_score(y[:, :2], z) == pytest.approx(1 / np.sqrt(2), abs=0.03)


def test_noise_is_near_zero(rng):
    y, z = rng.normal(size=(2000, 3)), rng.normal(size=(2000, 3))
    assert mcc_score(y, z) < 0.06


def test_extra_latents_ignored_missing_ones_count_zero(rng):
    y = rng.normal(size=(400, 2))
    z = np.column_stack([y, rng.normal(size=(400, 5))])
    assert mcc_score(y, z) == pytest.approx(1.0)
    per_dim = mcc_score(y, y[:, :1], multioutput="raw_values")
    np.testing.assert_allclose(per_dim, [1.0, 0.0])


@pytest.mark.parametrize("method", ["pearson", "spearman"])
def test_mcc_matches_independent_scipy_computation(rng, method):
    from crlbench.metrics._checks import split_indices

    y = rng.normal(size=(300, 3))
    z = np.column_stack([y @ rng.normal(size=(3, 3)), rng.normal(size=(300, 2))])
    z = z + 0.5 * rng.normal(size=z.shape)
    fit, score = split_indices(300, 0.5, 7)
    ref = pearsonr if method == "pearson" else spearmanr

    def absc(idx):
        return np.array([[abs(ref(y[idx, d], z[idx, m])[0]) for m in range(5)] for d in range(3)])

    rows, cols = linear_sum_assignment(absc(fit), maximize=True)
    # brute force over injective maps agrees with the Hungarian solution
    c = absc(fit)
    best = max(sum(c[i, p[i]] for i in range(3)) for p in itertools.permutations(range(5), 3))
    assert c[rows, cols].sum() == pytest.approx(best)
    expected = absc(score)[rows, cols].mean()
    assert mcc_score(y, z, method=method, seed=7) == pytest.approx(expected, abs=1e-12)


def test_spearman_matrix_matches_scipy(rng):
    v = [Variable("a", low=-1, high=1), Variable("b", low=-1, high=1)]
    y = rng.uniform(-1, 1, size=(300, 2))
    preds = np.stack([y**3, y + rng.normal(size=y.shape)])
    m = spearman_matrix(y, preds, variables=v)
    expected = [[abs(spearmanr(y[:, d], p[:, d])[0]) for d in range(2)] for p in preds]
    np.testing.assert_allclose(m, expected, atol=1e-12)
    np.testing.assert_allclose(m[0], 1.0)


def test_spearman_matrix_typed_perfect(rng, mixed):
    y = sample_truth(rng, 300, mixed)
    m = spearman_matrix(y, y[None], variables=mixed)
    np.testing.assert_allclose(m, 1.0)
