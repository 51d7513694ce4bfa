"""Causal3DIdent rendering: cost per setting, the default against the reference, throughput.

Goals: the default render settings at least 10x faster than the reference (the original's
Cycles settings: 128 samples, denoised) and within PSNR 35 dB of it, both sides measured in
one process in interleaved rounds; at least 50 images/s at 64x64 end to end on the 2-core
machine (25 on shared runners); the 10k-frame TRIS sequence with its triplets in under 5
minutes. Needs ``bpy``. Run
with ``pytest benchmarks/test_bench_causal3dident.py --benchmark-enable`` (``make bench``).
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from crlbench.datasets.build import generate
from crlbench.registry import DATASETS
from crlbench.simulators.blender import DEFAULT_RENDER, REFERENCE_RENDER
from crlbench.simulators.causal3dident import Causal3DIdent

pytest.importorskip("bpy", reason='needs pip install "crlbench[blender]"')

N_FRAMES = 8
FAST_DENOISE = {"denoise": True, "denoise_quality": "FAST", "denoise_prefilter": "FAST"}
SETTINGS = {
    "reference-128-denoised": REFERENCE_RENDER,
    "default-8-balanced": DEFAULT_RENDER,
    "6-balanced": {**DEFAULT_RENDER, "samples": 6},
    "8-fast-denoise": {**DEFAULT_RENDER, **FAST_DENOISE},
    "8-no-denoise": {**DEFAULT_RENDER, "denoise": False},
}


def _scene() -> Causal3DIdent:
    return Causal3DIdent({}, np.random.default_rng(0))


def _states(n: int, seed: int) -> np.ndarray:
    return _scene().sample_independent(np.random.default_rng(seed), n)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = ((a.astype(float) - b.astype(float)) ** 2).mean()
    return float(10 * np.log10(255**2 / mse))


@pytest.mark.parametrize("name", list(SETTINGS))
def test_ms_per_image(benchmark, name):
    z, seeds = _states(N_FRAMES, 1), np.arange(N_FRAMES, dtype=np.uint64)
    with _scene().renderer(64, SETTINGS[name]) as render:
        render(z[:1], seeds[:1])  # warm-up: shader compilation, BVH
        benchmark.pedantic(lambda: render(z, seeds), rounds=3, iterations=1)
    if benchmark.stats is not None:
        benchmark.extra_info["ms_per_image"] = 1000 * benchmark.stats.stats.min / N_FRAMES


def test_default_against_reference():
    """Speed-up and PSNR of the default against the reference on the same 32 states.

    One Blender scene switches between the two settings, round by round, so that both
    sides see the same machine load; each side's time is its best round.
    """
    n, rounds = 32, 3
    z, seeds = _states(n, seed=7), np.arange(n, dtype=np.uint64)
    times: dict[str, list[float]] = {"reference": [], "default": []}
    images: dict[str, np.ndarray] = {}
    with _scene().renderer(64, REFERENCE_RENDER) as render:
        render(z[:1], seeds[:1])
        for _ in range(rounds):
            # Other render seeds for the default: no shared noise.
            sides = (("reference", REFERENCE_RENDER, seeds), ("default", DEFAULT_RENDER, seeds + np.uint64(10**6)))
            for name, settings, s in sides:
                render.configure(settings)
                t = time.perf_counter()
                images[name] = render(z, s)
                times[name].append((time.perf_counter() - t) / n)
    speedup = min(times["reference"]) / min(times["default"])
    quality = psnr(images["default"], images["reference"])
    mae = np.abs(images["default"].astype(float) - images["reference"]).mean()
    print(
        f"reference {1000 * min(times['reference']):.0f} ms/image, default {1000 * min(times['default']):.0f} "
        f"ms/image: {speedup:.1f}x; default vs reference PSNR {quality:.1f} dB, MAE {mae:.2f} grey levels"
    )
    assert speedup >= 10 and quality >= 35


def test_images_per_second_two_workers(tmp_path):
    spec = DATASETS["causal3dident-tris-v2"].spec(size="smoke")
    frames = sum(n * (3 if k == "test_triplets" else 1) for k, n in spec.splits.items())
    t = time.perf_counter()
    generate(spec, tmp_path, workers=2, progress=False)
    rate = frames / (time.perf_counter() - t)
    print(f"{frames} frames, {rate:.1f} images/s end to end (2 workers, Blender start included)")
    assert rate > 25  # the goal is 50/s on an idle machine; shared CI runners are slower


def test_10k_tris_with_triplets(tmp_path):
    spec = DATASETS["causal3dident-tris-v2"].spec(size="smoke")
    spec = type(spec)(**{**spec.to_dict(), "splits": {"train": 10_000, "test_triplets": 1_000}})
    t = time.perf_counter()
    generate(spec, tmp_path, workers=2, progress=False)
    dt = time.perf_counter() - t
    print(f"10k-frame TRIS sequence + 1k triplets (13k frames): {dt:.0f} s")
    assert dt < 300
