"""Training-step throughput of every image baseline and the shared stages, fp32 against
``auto``; and of ILCM on toy vector pairs.

Run: ``pytest benchmarks/test_bench_training.py --benchmark-enable --benchmark-only -p no:cacheprovider -s``
(``CRLBENCH_BENCH_COMPILE=1`` adds ``auto`` + ``torch.compile``; the first step, which
compiles, is timed separately; ``CRLBENCH_BENCH_ROUNDS`` sets the rounds, default 3, and
``CRLBENCH_BENCH_THREADS`` the CPU threads, default 2).
Figures go to docs/benchmarks.md.

For each network and resolution (32 and 64 px) one test builds the same module (same
weights) once per precision and times one optimiser step per precision in interleaved
rounds, so both sides of the ratio see the same machine load; the best round counts.
``extra_info`` holds images/s per precision (the frames a step consumes: 2 per pair or
window), their ratio, ``auto`` against float32 in PyTorch's default NCHW layout as well
(``auto_over_fp32_nchw``; crlbench's fp32 trains in NHWC on CPU), the FLOPs of one step
(``torch.utils.flop_counter``: convolutions and matrix products, forward and backward) and
the GFLOP/s achieved against the CPU's AMX bf16 and AVX-512 fp32 peaks. CPU: batch 64.
CUDA (when present): batch 256.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import replace

import pytest
import torch
from torch import nn
from training_step import random_batch, step_fn

from crlbench.baselines.precision import configure, resolve_precision

K, M = 7, 32  # CausalCircuit / Causal3DIdent scale: variables, latents
ROUNDS = int(os.environ.get("CRLBENCH_BENCH_ROUNDS", "3"))
COMPILE = os.environ.get("CRLBENCH_BENCH_COMPILE") == "1"
#: CPU threads: the reference machine's 2 cores; on a machine loaded by other jobs, 1 thread
#: avoids OpenMP threads spinning against them (2 threads measured 5x slower than 1 there).
THREADS = int(os.environ.get("CRLBENCH_BENCH_THREADS", "2"))


def _citris_vae(obs):
    from crlbench.baselines.citris_vae import CitrisVAEModule

    return CitrisVAEModule(obs, M, K)


def _ivae(obs):
    from crlbench.baselines.ivae import IVAEModule

    return IVAEModule(obs, M, K)


def _slowvae(obs):
    from crlbench.baselines.slowvae import SlowVAEModule

    return SlowVAEModule(obs, M)


def _citris_ae(obs):  # CITRIS-NF's expensive stage (its flow trains on cached vectors)
    from crlbench.baselines.autoencoder import STAGE_KINDS

    return STAGE_KINDS["citris-ae"].build(obs, STAGE_KINDS["citris-ae"].defaults)


def _reduce_dim(obs):  # the pairs methods' shared stage on image tracks
    from crlbench.baselines.autoencoder import STAGE_KINDS

    return STAGE_KINDS["reduce-dim"].build(obs, STAGE_KINDS["reduce-dim"].defaults)


def _beta_vae(obs):
    from crlbench.baselines.beta_vae import BetaVAEModule

    return BetaVAEModule(obs, 4)


def _ilcm(obs):  # end to end on images, the pair-ELBO phase (K+1 decoder passes)
    from crlbench.baselines.ilcm import ILCMModule

    return ILCMModule(obs, 4)


NETWORKS: dict[str, Callable[[tuple[int, ...]], nn.Module]] = {
    "citris-vae": _citris_vae,
    "ivae": _ivae,
    "slowvae": _slowvae,
    "citris-nf-autoencoder": _citris_ae,
    "reduce-dim-stage": _reduce_dim,
    "beta-vae": _beta_vae,
    "ilcm-images": _ilcm,
}
DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU"))]


def _peaks() -> dict[str, float]:
    """GFLOP/s peaks of the CPU's cores in use: AMX bf16 1024 FLOP/cycle/core, AVX-512 fp32
    64 FLOP/cycle/core (two FMA units), at the nominal clock of /proc/cpuinfo."""
    mhz = 0.0
    try:
        with open("/proc/cpuinfo") as f:
            mhz = next(float(line.split(":")[1]) for line in f if line.startswith("cpu MHz"))
    except (OSError, StopIteration):
        pass
    cores = torch.get_num_threads()
    return {"amx_bf16": 1024 * mhz * 1e-3 * cores, "avx512_fp32": 64 * mhz * 1e-3 * cores}


def _flops(step: Callable[[], None]) -> float:
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        step()
    return float(counter.get_total_flops())


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("res", [32, 64])
@pytest.mark.parametrize("name", list(NETWORKS))
def test_training_step_fp32_vs_auto(benchmark, name, res, device):
    threads = torch.get_num_threads()
    if device == "cpu":
        torch.set_num_threads(THREADS)
    batch_size = 256 if device == "cuda" else 64
    obs = (3, res, res)
    batch = random_batch(batch_size, obs, K, device)
    # fp32_nchw: float32 in PyTorch's default NCHW layout (crlbench's fp32 is NHWC on CPU).
    variants = {"fp32": ("fp32", False), "fp32_nchw": ("fp32", False), "auto": ("auto", False)}
    if COMPILE:
        variants["auto+compile"] = ("auto", True)
    steps, first_s, used = {}, {}, {}
    for label, (precision, compiled) in variants.items():
        torch.manual_seed(0)
        module = NETWORKS[name](obs).to(device).train()
        p = resolve_precision(precision, device)
        if label == "fp32_nchw":
            p = replace(p, channels_last=False)
        configure(module, p, compile=compiled)
        used[label] = p.name
        steps[label] = step_fn(module, batch, device)
        t0 = time.perf_counter()
        steps[label]()  # warm-up: allocator, oneDNN primitives, compilation
        first_s[label] = time.perf_counter() - t0
    flops = _flops(steps["fp32"])  # doubles as a second warm-up of the fp32 side
    best = {k: float("inf") for k in steps}
    for _ in range(ROUNDS):  # interleaved: every round times each precision once
        for k, step in steps.items():
            t0 = time.perf_counter()
            step()
            best[k] = min(best[k], time.perf_counter() - t0)
    benchmark.pedantic(steps["auto"], rounds=1, iterations=1)
    images = 2 * batch_size
    peaks = _peaks()
    info = {"device": device, "batch": batch_size, "threads": torch.get_num_threads(), "gflop_per_step": round(flops / 1e9, 1)}
    for k in steps:
        info[f"{k}_precision"] = used[k]
        info[f"{k}_images_per_s"] = round(images / best[k], 1)
        info[f"{k}_gflops"] = round(flops / best[k] / 1e9, 1)
        info[f"{k}_first_step_s"] = round(first_s[k], 1)
    for k in steps:
        if k != "fp32":
            info[f"{k}_over_fp32"] = round(best["fp32"] / best[k], 2)
    info["auto_over_fp32_nchw"] = round(best["fp32_nchw"] / best["auto"], 2)
    if device == "cpu" and peaks["amx_bf16"] > 0:
        info["auto_fraction_of_amx_peak"] = round(flops / best["auto"] / 1e9 / peaks["amx_bf16"], 3)
        info["fp32_fraction_of_avx512_peak"] = round(flops / best["fp32"] / 1e9 / peaks["avx512_fp32"], 3)
    benchmark.extra_info.update(info)
    print(f"\n{name} {res}px {device}: " + ", ".join(f"{k}={v}" for k, v in info.items()))
    torch.set_num_threads(threads)


TOY = {"toy-n4": 4, "toy-n10": 10}


@pytest.mark.parametrize("case", sorted(TOY))
def test_ilcm_toy_train_step(benchmark, case):
    """ILCM on toy vector pairs (pairs/s, batch 64, one thread): vectors stay float32."""
    from crlbench.baselines.ilcm import ILCMModule

    k = TOY[case]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    step = step_fn(ILCMModule((k,), k), {"pair": torch.randn(64, 2, k)})
    step()
    benchmark.pedantic(step, rounds=50, iterations=1)
    benchmark.extra_info["pairs_per_s"] = round(64 / benchmark.stats.stats.min, 1)
    torch.set_num_threads(threads)
