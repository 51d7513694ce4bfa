"""The documented bound between fast and faithful estimators (docs/metrics.md).

Bounds, measured on the benchmark's three scenarios at N = 10k (see the slow test) and
checked here on smaller versions of them:

- R² / Spearman matrices, ``probe="kernel"`` vs the CITRIS MLP: |diag| <= 0.02,
  |sep| <= 0.03;
- R² matrix, the CITRIS MLP (``"mlp"``) vs crlbench's earlier per-group MLPs
  (``"mlp-groups"``): |diag|, |sep| <= 0.015;
- DCI, ``regressor="gbt_fast"`` vs scikit-learn's default gradient boosting:
  |disentanglement|, |completeness| <= 0.05.
"""

from __future__ import annotations

import pytest

from crlbench.metrics import dci_score, probe_matrices
from crlbench.metrics._synthetic import SCENARIOS, make_latents

PROBE_BOUND = {"r2_diag": 0.02, "r2_sep": 0.03, "spearman_diag": 0.02, "spearman_sep": 0.03}
DCI_BOUND = {"disentanglement": 0.05, "completeness": 0.05}
PROBE_KIND_BOUND = {"r2_diag": 0.015, "r2_sep": 0.015}


def _check_probe(y, z, a, v):
    faithful = probe_matrices(y, z, variables=v, assignment=a, probe="mlp")
    fast = probe_matrices(y, z, variables=v, assignment=a, probe="kernel")
    for key, bound in PROBE_BOUND.items():
        assert abs(fast[key] - faithful[key]) <= bound, (key, fast[key], faithful[key])


def _check_dci(y, z, v):
    faithful = dci_score(y, z, variables=v, regressor="gbt")
    fast = dci_score(y, z, variables=v, regressor="gbt_fast")
    for key, bound in DCI_BOUND.items():
        a, b = getattr(fast, key), getattr(faithful, key)
        assert abs(a - b) <= bound, (key, a, b)


@pytest.mark.parametrize("scenario", ["disentangled", "entangled"])
def test_probe_bound_small(scenario):
    _check_probe(*make_latents(scenario, n=1200, n_dims=4, n_latents=10, seed=3))


@pytest.mark.parametrize("scenario", ["disentangled", "entangled"])
def test_citris_probe_vs_group_probes_small(scenario):
    y, z, a, v = make_latents(scenario, n=1200, n_dims=4, n_latents=10, seed=3)
    citris = probe_matrices(y, z, variables=v, assignment=a, probe="mlp")
    groups = probe_matrices(y, z, variables=v, assignment=a, probe="mlp-groups")
    for key, bound in PROBE_KIND_BOUND.items():
        assert abs(citris[key] - groups[key]) <= bound, (key, citris[key], groups[key])


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_dci_bound_small(scenario):
    y, z, _, v = make_latents(scenario, n=1000, n_dims=3, n_latents=6, seed=3)
    _check_dci(y, z, v)


@pytest.mark.slow
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_bounds_at_benchmark_size(scenario):
    y, z, a, v = make_latents(scenario, n=10_000, n_dims=10, n_latents=32, seed=0)
    _check_probe(y, z, a, v)
    _check_dci(y, z, v)
