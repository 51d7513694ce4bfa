"""Triplet errors per kind, normalised, with the floor."""

from __future__ import annotations

import numpy as np
import pytest

from crlbench.metrics import triplet_error, triplet_scores

from .conftest import MIXED


def test_known_errors():
    # columns: pos.x, pos.y (range 4), rot (angle), shape (3 categories), hue (range 1)
    y = np.array([[0.0, 1.0, np.deg2rad(359.0), 0, 0.5], [1.0, -1.0, 0.0, 2, 0.0]])
    p = np.array([[1.0, 1.0, np.deg2rad(1.0), 1, 0.5], [1.0, 1.0, np.pi, 2, 0.25]])
    raw = triplet_error(y, p, variables=MIXED)
    np.testing.assert_allclose(raw, [0.5, 1.0, (2.0 + 180.0) / 2, 0.5, 0.125])
    norm = triplet_error(y, p, variables=MIXED, normalize=True)
    np.testing.assert_allclose(norm, [0.125, 0.25, 182.0 / 360, 0.5, 0.125])
    per_var = triplet_error(y, p, variables=MIXED, normalize=True, multioutput="per_variable")
    np.testing.assert_allclose(per_var, [0.1875, 182.0 / 360, 0.5, 0.125])


def test_scores_and_floor(rng):
    y = np.column_stack([rng.uniform(-2, 2, (50, 2)), rng.uniform(0, 6, 50), rng.integers(0, 3, 50), rng.uniform(0, 1, 50)])
    s = triplet_scores(y, y + 0.1, y, variables=MIXED)
    np.testing.assert_allclose(s.floor, 0.0, atol=1e-12)
    assert s.error[0] == pytest.approx(0.1)
    assert s.error[2] == pytest.approx(np.rad2deg(0.1))
    assert s.mean_normalized > 0
