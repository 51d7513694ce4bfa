"""The toy linear SCM: structure laws, rotations, mechanisms and interventions."""

from __future__ import annotations

import numpy as np
import pytest

from crlbench.errors import CrlbenchError
from crlbench.simulators.base import topological_order
from crlbench.simulators.toy_son import ToySON, expm_rotation, haar_rotation


def scene(seed: int = 0, **params) -> ToySON:
    return ToySON(params, np.random.default_rng(seed))


@pytest.mark.parametrize("draw", [haar_rotation, expm_rotation])
@pytest.mark.parametrize("n", [2, 4, 10])
def test_rotations_are_in_son(draw, n):
    r = draw(np.random.default_rng(n), n)
    np.testing.assert_allclose(r @ r.T, np.eye(n), atol=1e-12)
    assert np.linalg.det(r) == pytest.approx(1.0)


def test_haar_rotation_is_uniform():
    # Under Haar measure E[R] = 0 and E[R_ij^2] = 1/n; the expm draw has E[R_00] > 0.
    rs = np.stack([haar_rotation(np.random.default_rng(s), 3) for s in range(4000)])
    np.testing.assert_allclose(rs.mean(axis=0), 0.0, atol=0.05)
    np.testing.assert_allclose((rs**2).mean(axis=0), 1 / 3, atol=0.03)


def test_dag_edge_density_and_index_order():
    edges, possible = 0, 0
    for s in range(200):
        w = scene(s, n_vars=6).weights
        assert not np.tril(w).any(), "without permute the index order is topological"
        edges += (w != 0).sum()
        possible += 15
    assert edges / possible == pytest.approx(0.5, abs=0.03)


def test_permute_hides_the_index_order():
    orders = [topological_order(scene(s, n_vars=6, permute=True).weights) for s in range(20)]
    assert any(np.tril(scene(s, n_vars=6, permute=True).weights).any() for s in range(20))
    assert all(sorted(o) == list(range(6)) for o in orders)


def test_weights_follow_reference_law():
    w = np.concatenate([scene(s, n_vars=8).weights.ravel() for s in range(100)])
    w = w[w != 0]
    assert np.mean(w > 0) == pytest.approx(0.5, abs=0.03)
    assert np.abs(w).mean() == pytest.approx(1.0, abs=0.03)
    assert np.abs(w).std() == pytest.approx(0.3, abs=0.03)


def test_solve_is_the_linear_scm():
    s = scene(1, n_vars=5)
    rng = np.random.default_rng(0)
    eps = s.sample_noise(rng, 100)
    z = s.solve(eps, np.zeros((100, 5)), np.zeros((100, 5)))
    np.testing.assert_allclose(z, z @ s.weights + eps, atol=1e-12)


def test_sequence_is_stationary_with_unit_variance():
    s = scene(2, n_vars=4)
    rng = np.random.default_rng(0)
    z = s.initial_state(rng, 20000)
    for _ in range(5):
        z, _ = s.transition(z, np.zeros((20000, 4)), rng)
    np.testing.assert_allclose(z.var(axis=0), 1.0, atol=0.05)
    assert np.max(np.abs(np.linalg.eigvals(s.temporal_weights))) <= 0.8 + 1e-9


def test_transition_interventions_cut_the_past():
    s = scene(3, n_vars=4)
    rng = np.random.default_rng(0)
    prev = np.full((5000, 4), 10.0)
    targets = np.zeros((5000, 4))
    targets[:, 2] = 1
    nxt, _ = s.transition(prev, targets, rng)
    assert abs(nxt[:, 2].mean()) < 0.1 and nxt[:, 2].std() == pytest.approx(1.0, abs=0.05)


def test_observation_is_the_rotation():
    s = scene(4, n_vars=3)
    z = np.random.default_rng(0).standard_normal((10, 3))
    np.testing.assert_allclose(s.renderer(None)(z, np.zeros(10, np.uint64)), z @ s.rotation.T)


@pytest.mark.parametrize("params", [{"n_vars": 1}, {"n_vars": 2.5}, {"edge_prob": 1.5}, {"mixing": "qr"}, {"nvars": 3}])
def test_bad_parameters_are_named(params):
    with pytest.raises(ValueError, match=next(iter(params)).replace("nvars", "unknown")):
        scene(0, **params)
    assert issubclass(CrlbenchError, ValueError)
