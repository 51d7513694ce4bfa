"""Training throughput of CITRIS-VAE and CITRIS-NF at 64x64 (images per second).

Run: ``pytest benchmarks/test_bench_citris.py --benchmark-enable -p no:cacheprovider``.
One optimiser step on a batch of windows ``(x^t, x^{t+1}, I^{t+1})`` of 64x64 frames with
the reference architectures (conv encoder / decoder with c_hid 64, 32 latents, 7
variables). Images/s counts the frames a step consumes (2 per window). CITRIS-NF is timed
at its expensive stage, the autoencoder; its flow stage runs on cached 32-dimensional
encodings and is timed separately. Batch 64 on CPU; batch 512 on CUDA when one is present.
Figures go to ``docs/results.md``.
"""

from __future__ import annotations

import pytest
import torch
from training_step import random_batch, step_fn

from crlbench.baselines.citris_nf import Autoencoder, FlowPrior
from crlbench.baselines.citris_vae import CitrisVAEModule

K, M, RES = 7, 32, 64
DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
BATCH = 512 if DEVICE == "cuda" else 64


@pytest.fixture(scope="module", autouse=True)
def _threads():
    before = torch.get_num_threads()
    if DEVICE == "cpu":
        torch.set_num_threads(2)  # the CI machine's cores
    yield
    torch.set_num_threads(before)


MODULES = {
    "citris-vae": lambda: (CitrisVAEModule((3, RES, RES), M, K, channels=64), (3, RES, RES)),
    "citris-nf-autoencoder": lambda: (Autoencoder((3, RES, RES), M, channels=64), (3, RES, RES)),
    "citris-nf-flow": lambda: (FlowPrior(M, K), (M,)),
}


@pytest.mark.parametrize("name", sorted(MODULES))
def test_training_throughput(benchmark, name):
    torch.manual_seed(0)
    module, frames = MODULES[name]()
    module.to(DEVICE).train()
    step = step_fn(module, random_batch(BATCH, frames, K, DEVICE), DEVICE, optimizer=torch.optim.AdamW, lr=1e-3)
    step()  # warm-up (ActNorm initialisation, allocator)
    benchmark.pedantic(step, rounds=3, iterations=1)
    benchmark.extra_info.update(device=DEVICE, batch=BATCH, images_per_s=round(2 * BATCH / benchmark.stats.stats.min, 1))
