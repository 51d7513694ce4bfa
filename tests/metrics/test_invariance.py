"""Invariances shared by every metric: sample order and the order of latent dimensions.

Scoring cores (no fitting) are exactly invariant. Metrics that split the samples are
invariant to the order of latent dimensions exactly or up to probe initialisation, and to
the sample order up to the random split (the split is by position, seeded).
"""

from __future__ import annotations

import numpy as np
import pytest

from crlbench import metrics as M
from crlbench.metrics.suite import metric

from .conftest import MIXED, SAMPLE_GROUPS, identity_assignment, sample_truth, table_inputs

RNG = np.random.default_rng(7)
Y = sample_truth(RNG, 800)
Z = np.column_stack([Y + 0.3 * RNG.normal(size=Y.shape), RNG.normal(size=(800, 2))])
A = identity_assignment(MIXED, 2)
PRED = Y + 0.2 * RNG.normal(size=Y.shape)
PRED[:, 3] = np.where(RNG.random(800) < 0.2, (Y[:, 3] + 1) % 3, Y[:, 3])


# name -> (fn(y, z, assignment), exact under latent permutation, tolerance under sample order)
FITTED = {
    "mcc_pearson": (lambda y, z, a: M.mcc_score(y, z), True, 0.05),
    "mcc_spearman": (lambda y, z, a: M.mcc_score(y, z, method="spearman"), True, 0.05),
    "r2_linear": (
        lambda y, z, a: M.probe_matrices(y, z, variables=MIXED, assignment=a, probe="linear")["r2_diag"],
        False,
        0.05,
    ),
    "r2_kernel": (
        lambda y, z, a: M.probe_matrices(y, z, variables=MIXED, assignment=a, probe="kernel")["r2_diag"],
        False,
        0.05,
    ),
    "dci_d": (
        lambda y, z, a: M.dci_score(y, z, variables=MIXED, regressor="gbt_fast").disentanglement,
        False,
        0.05,
    ),
    "matched_r2": (
        lambda y, z, a: M.probe_matrices(y, z, variables=MIXED, probe="linear")["r2_diag"],
        False,
        0.05,
    ),
}

CORES = {
    "typed_r2": lambda idx: M.typed_r2_score(Y[idx], PRED[idx], variables=MIXED, multioutput="raw_values"),
    "spearman_matrix": lambda idx: M.spearman_matrix(Y[idx], PRED[idx][None], variables=MIXED),
    "triplet": lambda idx: M.triplet_error(Y[idx], PRED[idx], variables=MIXED),
    "intervention": lambda idx: M.intervention_accuracy_score(Y[idx, 3].astype(int), PRED[idx, 3].astype(int)),
    "correlation": lambda idx: M.correlation_matrix(Y[idx], Z[idx], method="spearman"),
}


@pytest.mark.parametrize("name", sorted(CORES))
def test_cores_exactly_invariant_to_sample_order(name):
    idx = np.arange(800)
    perm = RNG.permutation(800)
    np.testing.assert_allclose(CORES[name](perm), CORES[name](idx), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", sorted(FITTED))
def test_fitted_metrics_invariant_to_sample_order(name):
    fn, _, tol = FITTED[name]
    perm = np.random.default_rng(1).permutation(800)
    assert fn(Y[perm], Z[perm], A) == pytest.approx(fn(Y, Z, A), abs=tol)


@pytest.mark.parametrize("name", sorted(FITTED))
def test_fitted_metrics_invariant_to_latent_order(name):
    fn, exact, _ = FITTED[name]
    perm = np.random.default_rng(2).permutation(Z.shape[1])
    tol = 1e-10 if exact else 0.01
    assert fn(Y, Z[:, perm], A[perm]) == pytest.approx(fn(Y, Z, A), abs=tol)


def test_graph_metrics_invariant_to_node_relabelling():
    rng = np.random.default_rng(3)
    t = np.triu(rng.random((5, 5)) < 0.5, 1).astype(int)
    l_ = np.triu(rng.random((5, 5)) < 0.5, 1).astype(int)
    p = rng.permutation(5)
    for f in (M.shd_error, M.edge_precision_score, M.edge_recall_score):
        assert f(t[np.ix_(p, p)], l_[np.ix_(p, p)]) == f(t, l_)


def test_dci_core_invariant_to_code_and_factor_order():
    r = np.abs(np.random.default_rng(4).normal(size=(6, 4)))
    pc, pf = np.random.default_rng(5).permutation(6), np.random.default_rng(6).permutation(4)
    for f in (M.disentanglement_score, M.completeness_score):
        assert f(r[pc][:, pf]) == pytest.approx(f(r))


# --- every metric of the table -------------------------------------------------------------
FAST = {"variables": MIXED, "probe": "linear", "dci_regressor": "gbt_fast"}
INPUTS = table_inputs(np.random.default_rng(11))


def _table_values(inputs: dict[str, np.ndarray]) -> dict[str, float]:
    return M.Scoring(**inputs, **FAST).metrics()


BASE = _table_values(INPUTS)


def test_the_table_scores_every_metric_from_complete_inputs():
    assert list(BASE) == [m.name for m in M.METRICS]
    assert all(np.isfinite(v) for v in BASE.values())


@pytest.mark.parametrize("name", [m.name for m in M.METRICS])
def test_table_metrics_invariant_to_sample_order(name):
    moved = dict(INPUTS)
    for group in SAMPLE_GROUPS:
        perm = np.random.default_rng(len(group)).permutation(len(INPUTS[group[0]]))
        moved.update({key: INPUTS[key][perm] for key in group})
    fitted = not metric(name).needs  # probes and regressors split the samples by position
    assert M.Scoring(**moved, **FAST).metrics()[name] == pytest.approx(BASE[name], abs=0.05 if fitted else 1e-12)


@pytest.mark.parametrize("name", [m.name for m in M.METRICS])
def test_table_metrics_invariant_to_latent_order(name):
    perm = np.random.default_rng(12).permutation(INPUTS["latents"].shape[1])
    moved = {**INPUTS, "latents": INPUTS["latents"][:, perm], "assignment": INPUTS["assignment"][perm]}
    exact = metric(name).needs or name.startswith("mcc")  # no probe initialisation involved
    assert M.Scoring(**moved, **FAST).metrics()[name] == pytest.approx(BASE[name], abs=1e-10 if exact else 0.02)
