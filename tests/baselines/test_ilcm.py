"""ILCM's pieces behave as the original defines them, and ILCM-H reads a known graph."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from crlbench.baselines.graphs import ILCM_H_THRESHOLD, dag_from_weights, ilcm_h_graph, topological_order
from crlbench.baselines.ilcm import ILCM, PHASES, ILCMModule, InterventionEncoder, SolutionFunctions


def test_schedule_follows_the_original_epochs():
    mod = ILCMModule((4,), 4)
    assert PHASES == pytest.approx((10 / 90, 20 / 90, 30 / 90, 60 / 90))
    start, mid, end = mod.schedule(10 / 90), mod.schedule(15 / 90), mod.schedule(20 / 90)
    assert (start["beta"], mid["beta"], end["beta"]) == pytest.approx((0.0, 0.5, 1.0))
    assert start["eps"] == pytest.approx(0.025) and end["eps"] == pytest.approx(1e-4)
    assert mid["eps"] == pytest.approx(math.sqrt(0.025 * 1e-4))  # geometric
    assert start["z_norm"] == pytest.approx(0.01) and end["z_norm"] == 0.0


def test_intervention_encoder_start_and_floor():
    enc = InterventionEncoder()
    mu = torch.zeros(2, 3)
    moved = torch.tensor([[0.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    logits = enc.logits(mu, moved)
    assert logits[0].tolist() == pytest.approx([0.0, -3.0, -3.0, -3.0])
    assert logits[1, 2].item() == pytest.approx(-3 + 15 + 15)
    p = enc(mu, moved, eps=0.025)
    assert torch.allclose(p.sum(-1), torch.ones(2))
    assert p.min().item() >= 0.025 / (1 + 4 * 0.025) - 1e-7  # no target is ever ruled out


def test_solution_functions_scale_floor_and_inverse():
    torch.manual_seed(0)
    sol = SolutionFunctions(3)
    e = torch.randn(64, 3)
    scale, _ = sol.params(e)
    assert scale.mean().item() == pytest.approx(math.exp(2.3) + 0.2, rel=0.05)  # broad at the start
    with torch.no_grad():
        sol.conditioner.biases[-1][:, 0] = -30.0
    assert sol.params(e)[0].min().item() >= 0.2  # the floor: |dz/de| <= 5
    torch.manual_seed(1)
    tri = SolutionFunctions(3)
    with torch.no_grad():  # a triangular flow: variable i sees only e_0..e_{i-1}
        tri.off_diag.copy_(torch.tril(torch.ones(3, 3), -1))
    z = tri(e)
    assert torch.allclose(tri.inverse(z, 8), e, atol=1e-4)


def test_shared_components_are_one_sample_and_the_prior_waits():
    torch.manual_seed(0)
    mod = ILCMModule((4,), 4)
    x, xt = torch.randn(8, 4), torch.randn(8, 4)
    early = mod.pair_elbo(x, xt, interventions=False)
    late = mod.pair_elbo(x, xt, interventions=True)
    assert torch.isfinite(early["elbo"]).all() and torch.isfinite(late["elbo"]).all()
    loss, logs = mod.training_loss({"pair": torch.stack([x, xt], 1)}, 0.7)  # hard phase
    assert logs["phase"] == 4 and torch.isfinite(loss)
    loss.backward()
    assert mod.intervention.abc.grad is not None  # through the straight-through entropy term


def _linear_flow(w: np.ndarray):
    """Solution flows of the linear SCM z = W^T z + e: z = A e with A = (I - W^T)^-1, so
    e_i = z_i + sum_{j != i} (-(A - I))_ij e_j (scale 1)."""
    a = np.linalg.inv(np.eye(len(w)) - w.T)
    off = torch.as_tensor(-(a - np.eye(len(w))), dtype=torch.float32)

    def params(e: torch.Tensor):
        return torch.ones_like(e), e @ off.T

    return params


def test_ilcm_h_recovers_a_linear_scm():
    w = np.zeros((4, 4))
    w[0, 1], w[0, 2], w[1, 2], w[1, 3], w[0, 3] = 1.2, -0.9, 1.1, 0.8, -1.3
    perm = np.array([2, 0, 3, 1])  # learned variables in another order than the true one
    wp = w[np.ix_(perm, perm)]
    e = torch.randn(4000, 4, generator=torch.Generator().manual_seed(0))
    params = _linear_flow(wp)
    order = topological_order(params, e, generator=torch.Generator().manual_seed(0))
    pos = {v: i for i, v in enumerate(order)}
    assert all(pos[i] < pos[j] for i, j in zip(*np.nonzero(wp)))
    strengths = ilcm_h_graph(params, e, generator=torch.Generator().manual_seed(0))
    assert strengths[wp != 0].min() > 2 * ILCM_H_THRESHOLD
    assert strengths[wp == 0].max() < ILCM_H_THRESHOLD / 3
    assert dag_from_weights(strengths, ILCM_H_THRESHOLD).tolist() == (wp != 0).astype(int).tolist()


@pytest.mark.parametrize("graph_method", ILCM.graph_methods)
def test_graph_option_is_recorded(vector_pairs, graph_method):
    train, val = vector_pairs
    m = ILCM(graph_method=graph_method, loop={"progress": False})
    m.fit(train, val, "40steps", 0)
    cfg = m.config()
    assert cfg["graph_method"] == graph_method
    assert cfg["graph_threshold"] == (ILCM_H_THRESHOLD if graph_method == "ilcm-h" else 0.1)
    g = m.graph()
    assert g.shape == (3, 3) and np.trace(g) == 0
    assert np.isfinite(m.graph_weights()).all()


def test_runner_passes_loop_device_and_graph_option():
    from crlbench.baselines.run import make_method

    m = make_method("ilcm", params={"entropy": 0.5}, loop={"lr": 1e-3}, device="cpu", graph_method="solution")
    assert m.loop.lr == 1e-3 and m.loop.device == "cpu" and m.hparams["entropy"] == 0.5
    assert (m.graph_method, m.graph_threshold) == ("solution", 0.1)
    assert make_method("disentangled-vae").graph_threshold == 0.1
