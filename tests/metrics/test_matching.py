"""Matching latents to causal dimensions and variables."""

from __future__ import annotations

import numpy as np
import pytest

from crlbench.metrics import dependence_matrix, hard_groups, match_assignment, match_dims
from crlbench.metrics.matching import assignment_from_dims

from .conftest import identity_assignment, sample_truth


def test_permuted_monotone_latents_are_matched(rng, mixed):
    y = sample_truth(rng, 1000, mixed)
    perm = np.array([3, 0, 4, 1, 2])
    z = np.column_stack([y, rng.normal(size=(1000, 2))])[:, [*perm, 5, 6]]
    z[:, 0] = np.exp(z[:, 0])  # monotone maps do not matter (ranks)
    a = match_assignment(y, z, variables=mixed)
    expected = identity_assignment(mixed, 2)[[*perm, 5, 6]]
    np.testing.assert_array_equal(a, expected)


def test_dependence_matrix_is_in_unit_interval(rng, mixed):
    y = sample_truth(rng, 500, mixed)
    dep = dependence_matrix(y, np.column_stack([y, rng.normal(size=500)]), variables=mixed)
    assert dep.shape == (6, 5)
    assert (dep >= 0).all() and (dep <= 1 + 1e-12).all()
    # the angle is seen through (sin, cos); the rank of the angle is not linear in them
    assert dep[2, 2] == max(dep[:, 2])


def test_fewer_latents_than_dims_leaves_dims_unmatched():
    scores = np.array([[0.9, 0.1, 0.2]])
    np.testing.assert_array_equal(match_dims(scores), [0, -1, -1])


def test_assignment_from_dims_column_zero_for_leftovers(mixed):
    a = assignment_from_dims(np.array([0, 1, -1, 2, 3]), 6, mixed)
    # dims pos.x, pos.y, rot, shape, hue -> latents 0, 1, none, 2, 3
    np.testing.assert_array_equal(hard_groups(a), [1, 1, 3, 4, 0, 0])


def test_hard_groups_of_soft_assignment():
    soft = np.array([[0.2, 0.7, 0.1], [0.5, 0.2, 0.3]])
    np.testing.assert_array_equal(hard_groups(soft), [1, 0])
    with pytest.raises(ValueError, match=r"\(M=2, K\+1=4\)"):
        hard_groups(soft, 3)
