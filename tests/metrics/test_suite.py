"""The metric suite on an identity encoder: every headline number at its known answer."""

from __future__ import annotations

import numpy as np
import pytest

from crlbench.metrics import evaluate_latents
from crlbench.metrics._synthetic import make_latents


def test_identity_encoder_suite():
    rng = np.random.default_rng(0)
    y = rng.uniform(-1, 1, size=(800, 3))
    z = np.column_stack([y, rng.normal(size=(800, 2))])
    a = np.zeros((5, 4))
    a[[0, 1, 2], [1, 2, 3]] = 1
    a[[3, 4], 0] = 1
    g = np.array([[0, 1, 0], [0, 0, 1], [0, 0, 0]])
    r = evaluate_latents(y, z, assignment=a, probe="kernel", dci_regressor="gbt_fast", true_graph=g, learned_graph=g)
    assert r["r2_diag"] > 0.99 and abs(r["r2_sep"]) < 0.03
    assert r["mcc_pearson"] == pytest.approx(1.0) and r["mcc_spearman"] == pytest.approx(1.0)
    assert r["dci_disentanglement"] > 0.95 and r["dci_completeness"] > 0.95
    assert r["shd"] == 0 and r["edge_precision"] == 1.0 and r["edge_recall"] == 1.0
    assert r["r2"].shape == (4, 3) and r["mcc_pearson_per_dim"].shape == (3,)
    assert r["assignment_matched"] is False


def test_suite_matches_when_no_assignment():
    y, z, a, v = make_latents("disentangled", n=600, n_dims=3, n_latents=6, seed=1)
    r = evaluate_latents(y, z, variables=v, probe="linear", dci_regressor="gbt_fast")
    assert r["assignment_matched"] is True
    np.testing.assert_array_equal(r["assignment"], a)
