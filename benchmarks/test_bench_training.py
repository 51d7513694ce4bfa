"""Training throughput of ILCM (pairs per second), one optimiser step per round.

Toy vector pairs with n = 4 and n = 10 and 64x64 image pairs (n = 4), batch 64, in the
pair-ELBO phase (soft marginalisation over the K+1 intervention options, the costliest
phase). Samples/s = pairs per second, in ``extra_info``. Run with ``make bench`` or
``pytest benchmarks/test_bench_training.py --benchmark-enable``; figures in
docs/results.md.
"""

from __future__ import annotations

import time

import pytest
import torch

from crlbench.baselines.ilcm import ILCMModule
from crlbench.baselines.train import resolve_device

CASES = {
    "toy-n4": ((4,), 4, None),
    "toy-n10": ((10,), 10, None),
    "image64-n4": ((3, 64, 64), 4, None),
    "image64-n4-top2": ((3, 64, 64), 4, 2),  # max_options=2: 2 of the 5 options decoded
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_ilcm_train_step(benchmark, case):
    obs_shape, k, max_options = CASES[case]
    device = resolve_device("auto")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # CPU figures are single-threaded (shared machines: see docs/results.md)
    torch.manual_seed(0)
    module = ILCMModule(obs_shape, k, max_options=max_options).to(device)
    opt = torch.optim.Adam(module.parameters(), lr=3e-4)
    batch = {"pair": (torch.rand(64, 2, *obs_shape, device=device) * 2 - 1)}

    def step():
        loss, _ = module.training_loss(batch, 0.5)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if device.type == "cuda":
            torch.cuda.synchronize()

    step()  # warm-up
    rounds = 2 if len(obs_shape) == 3 and device.type == "cpu" else 50
    t0 = time.perf_counter()
    benchmark.pedantic(step, rounds=rounds, iterations=1)
    elapsed = time.perf_counter() - t0
    benchmark.extra_info["samples_per_s"] = 64 * rounds / elapsed
    benchmark.extra_info["device"] = str(device)
    benchmark.extra_info["threads"] = torch.get_num_threads()
    torch.set_num_threads(threads)
