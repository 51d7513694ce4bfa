"""Intervention accuracy: best relabelling with 'no intervention' fixed."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from crlbench.metrics import intervention_accuracy_score, match_intervention_labels


def _brute_force(t, p, k):
    best = 0.0
    for perm in itertools.permutations(range(1, k + 1)):
        mapping = np.array([0, *perm])
        best = max(best, float(np.mean(mapping[p] == t)))
    return best


def test_perfect_and_relabelled(rng):
    t = rng.integers(0, 5, 200)
    relabel = np.array([0, 3, 1, 4, 2])
    assert intervention_accuracy_score(t, t) == 1.0
    assert intervention_accuracy_score(t, relabel[t]) == 1.0


def test_no_intervention_stays_fixed():
    t = np.array([0, 0, 1, 1])
    p = np.array([1, 1, 0, 0])  # swapping 'none' with variable 1 is not a relabelling
    assert intervention_accuracy_score(t, p) == 0.0


@pytest.mark.parametrize("seed", range(4))
def test_matches_brute_force_over_permutations(seed):
    rng = np.random.default_rng(seed)
    t = rng.integers(0, 5, 60)
    p = np.where(rng.random(60) < 0.6, np.array([0, 2, 3, 4, 1])[t], rng.integers(0, 5, 60))
    assert intervention_accuracy_score(t, p) == pytest.approx(_brute_force(t, p, 4))


def test_one_hot_targets():
    onehot = np.array([[0, 0], [1, 0], [0, 1], [0, 1]])
    assert intervention_accuracy_score(onehot, np.array([0, 2, 1, 1])) == 1.0
    np.testing.assert_array_equal(match_intervention_labels(onehot, np.array([0, 2, 1, 1])), [0, 2, 1])


def test_bad_targets_raise():
    with pytest.raises(ValueError, match="at most one target"):
        intervention_accuracy_score(np.array([[1, 1]]), np.array([0]))
    with pytest.raises(ValueError, match="same number of samples"):
        intervention_accuracy_score(np.array([0, 1]), np.array([0]))
