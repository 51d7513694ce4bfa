"""One optimiser step of a network on a random batch of windows or pairs: what the training
benchmarks time."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn


def random_batch(batch_size: int, frame: tuple[int, ...], n_vars: int, device: str = "cpu") -> dict[str, torch.Tensor]:
    """``{"pair": (B, 2, *frame) in [-1, 1], "targets": (B, K) 0/1 (p = 0.2)}`` from seed 0."""
    g = torch.Generator().manual_seed(0)
    return {
        "pair": (torch.rand(batch_size, 2, *frame, generator=g) * 2 - 1).to(device),
        "targets": (torch.rand(batch_size, n_vars, generator=g) < 0.2).float().to(device),
    }


def step_fn(
    module: nn.Module, batch: dict[str, torch.Tensor], device: str = "cpu", *, optimizer: type = torch.optim.Adam, lr: float = 1e-4
) -> Callable[[], None]:
    """One ``training_loss`` optimiser step of ``module`` on ``batch`` (synchronised on CUDA, so a timer sees all of it)."""
    opt = optimizer(module.parameters(), lr=lr)

    def step() -> None:
        loss, _ = module.training_loss(batch, 0.5)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if device == "cuda":
            torch.cuda.synchronize()

    return step
