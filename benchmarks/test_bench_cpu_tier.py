"""Step cost of the cpu tier's image networks: CPU seconds per training step, one thread.

Run: ``pytest benchmarks/test_bench_cpu_tier.py --benchmark-enable --benchmark-only -s -p no:cacheprovider``.

The cpu tier (docs/leaderboard.md, "Tiers") is sized from these figures: each sweep worker
trains with one thread, so CPU seconds per step is what a run costs on an idle core, and,
unlike wall time, it stays close to that figure on a machine other jobs load (they take
turns on the core; they do not add work to the step). Settings are read from the cpu-tier
protocols: resolution, batch size, conv width and latent size of the TRIS baselines, and
the shared stages (CITRIS-NF's autoencoder at the tier's width; the pairs methods'
reduce-dim stage at its fixed settings) at the pairs and TRIS resolutions. Precision:
``auto`` (bf16 on AMX CPUs) beside fp32, in interleaved rounds.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
import torch
from torch import nn
from training_step import random_batch, step_fn

from crlbench.baselines.autoencoder import STAGE_KINDS
from crlbench.baselines.precision import configure, resolve_precision
from crlbench.leaderboard.protocols import protocol

ROUNDS = 3
TRIS = protocol("causal-circuit-tris-v1", "cpu")
PAIRS = protocol("causal-circuit-pairs-v1", "cpu")
K = 7


def _tris(name: str) -> Callable[[tuple[int, ...]], nn.Module]:
    params: dict[str, Any] = TRIS.baseline_params[name]

    def build(obs: tuple[int, ...]) -> nn.Module:
        if name == "citris-vae":
            from crlbench.baselines.citris_vae import CitrisVAEModule

            return CitrisVAEModule(obs, params["n_latents"], K, channels=params["channels"])
        if name == "ivae":
            from crlbench.baselines.ivae import IVAEModule

            return IVAEModule(obs, params["n_latents"], K, channels=params["channels"])
        from crlbench.baselines.slowvae import SlowVAEModule

        return SlowVAEModule(obs, params["n_latents"], channels=params["channels"])

    return build


def _stage(kind: str, **settings: Any) -> Callable[[tuple[int, ...]], nn.Module]:
    return lambda obs: STAGE_KINDS[kind].build(obs, {**STAGE_KINDS[kind].defaults, **settings})


NF = TRIS.baseline_params["citris-nf"]
#: name -> (network builder, resolution, batch size)
NETWORKS: dict[str, tuple[Callable[[tuple[int, ...]], nn.Module], int, int]] = {
    "citris-vae": (_tris("citris-vae"), TRIS.resolution, TRIS.batch_size),
    "ivae": (_tris("ivae"), TRIS.resolution, TRIS.batch_size),
    "slowvae": (_tris("slowvae"), TRIS.resolution, TRIS.batch_size),
    "citris-ae-stage": (_stage("citris-ae", channels=NF["channels"], n_latents=NF["n_latents"]), TRIS.resolution, TRIS.batch_size),
    "reduce-dim-stage": (_stage("reduce-dim"), PAIRS.resolution, PAIRS.batch_size),
    "reduce-dim-stage-64px": (_stage("reduce-dim"), 64, PAIRS.batch_size),
}


@pytest.mark.parametrize("name", list(NETWORKS))
def test_cpu_seconds_per_step(benchmark, name):
    build, res, batch_size = NETWORKS[name]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a sweep worker's share
    obs = (3, res, res)
    batch = random_batch(batch_size, obs, K)
    steps = {}
    for precision in ("fp32", "auto"):
        torch.manual_seed(0)
        module = build(obs).train()
        configure(module, resolve_precision(precision, "cpu"))
        step = step_fn(module, batch)
        step()  # warm-up: allocator, oneDNN primitives
        steps[precision] = step
    cpu = {k: float("inf") for k in steps}
    wall = dict(cpu)
    for _ in range(ROUNDS):  # interleaved: every round times each precision once
        for k, step in steps.items():
            c0, w0 = time.process_time(), time.perf_counter()
            step()
            cpu[k] = min(cpu[k], time.process_time() - c0)
            wall[k] = min(wall[k], time.perf_counter() - w0)
    benchmark.pedantic(steps["auto"], rounds=1, iterations=1)
    info = {"resolution": res, "batch": batch_size, "used": resolve_precision("auto", "cpu").name}
    for k in steps:
        info[f"{k}_cpu_s_per_step"] = round(cpu[k], 3)
        info[f"{k}_wall_s_per_step"] = round(wall[k], 3)
    info["auto_over_fp32_cpu"] = round(cpu["fp32"] / cpu["auto"], 2)
    benchmark.extra_info.update(info)
    print(f"\n{name}: " + ", ".join(f"{k}={v}" for k, v in info.items()))
    torch.set_num_threads(threads)
