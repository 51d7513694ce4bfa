"""Flow layers: invertibility and log-determinants against autograd (as zuko tests its flows)."""

from __future__ import annotations

import pytest
import torch

from crlbench.baselines.flows import (
    MADE,
    ActNorm,
    AffineAutoregressive,
    FlowSequence,
    InvertibleLinear,
    Reverse,
    citris_flow,
)

D = 5


def _randomise(flow: torch.nn.Module) -> None:
    """Move every parameter off its (often identity) initialisation."""
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in flow.parameters():
            p.add_(0.3 * torch.randn(p.shape, generator=gen, dtype=p.dtype))


FLOWS = {
    "actnorm": lambda: ActNorm(D),
    "invertible_linear": lambda: InvertibleLinear(D, seed=0),
    "affine_autoregressive": lambda: AffineAutoregressive(D, (16, 16)),
    "reverse": lambda: Reverse(),
    "sequence": lambda: FlowSequence([ActNorm(D), InvertibleLinear(D, seed=3), AffineAutoregressive(D, (12,)), Reverse()]),
    "citris_flow": lambda: citris_flow(D, n_layers=2, hidden_per_feature=4),
}


@pytest.fixture(params=sorted(FLOWS))
def flow(request) -> torch.nn.Module:
    torch.manual_seed(0)
    f = FLOWS[request.param]().double()
    f.train()
    f(torch.randn(64, D, dtype=torch.float64) * 2 + 1)  # ActNorm's data-dependent initialisation
    _randomise(f)
    return f.eval()


def test_inverse(flow):
    x = torch.randn(32, D, dtype=torch.float64)
    z, _ = flow(x)
    assert z.shape == x.shape
    torch.testing.assert_close(flow.inverse(z), x, atol=1e-9, rtol=1e-7)
    torch.testing.assert_close(flow(flow.inverse(x))[0], x, atol=1e-9, rtol=1e-7)


def test_log_abs_det_jacobian(flow):
    x = torch.randn(6, D, dtype=torch.float64)
    _, ladj = flow(x)
    assert ladj.shape == (6,)
    for i in range(len(x)):
        jac = torch.autograd.functional.jacobian(lambda v: flow(v[None])[0][0], x[i])
        torch.testing.assert_close(ladj[i], torch.linalg.slogdet(jac).logabsdet, atol=1e-8, rtol=1e-6)


def test_gradients_reach_every_parameter(flow):
    if not list(flow.parameters()):
        pytest.skip("no parameters")
    z, ladj = flow(torch.randn(16, D, dtype=torch.float64))
    (z.square().sum() - ladj.sum()).backward()
    for name, p in flow.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name


def test_made_is_autoregressive():
    torch.manual_seed(0)
    made = MADE(D, (20, 20), 2).double()
    _randomise(made)
    x = torch.randn(D, dtype=torch.float64)
    jac = torch.autograd.functional.jacobian(lambda v: made(v[None])[0], x)  # (D, 2, D)
    for i in range(D):
        assert torch.all(jac[i, :, i:] == 0), f"output {i} depends on x_{{>={i}}}"
    assert torch.any(jac[D - 1, :, : D - 1] != 0)


def test_actnorm_initialises_from_data():
    layer = ActNorm(3)
    x = torch.randn(500, 3) * torch.tensor([1.0, 5.0, 0.2]) + torch.tensor([3.0, -1.0, 0.0])
    z, _ = layer.train()(x)
    torch.testing.assert_close(z.mean(0), torch.zeros(3), atol=1e-5, rtol=0)
    torch.testing.assert_close(z.std(0), torch.ones(3), atol=1e-4, rtol=0)
