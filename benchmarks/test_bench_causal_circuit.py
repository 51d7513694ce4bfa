"""CausalCircuit rendering and generation throughput.

Goals: at least 350 frames/s per core at 64x64 with the lamps' glow visible;
generation that scales across worker processes; the paper-size 64x64 pairs dataset in
under 5 minutes on a 2-core machine, HDF5 write included (``-m slow``; it takes minutes).
Frames per second (wall) and CPU milliseconds per frame (robust to other jobs' load) are
stored in each result's ``extra_info``. Run with ``make bench`` or
``pytest benchmarks/test_bench_causal_circuit.py --benchmark-enable``.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from crlbench.datasets.build import generate
from crlbench.registry import DATASETS
from crlbench.simulators.causal_circuit import CausalCircuit

#: Frames per timed call, per resolution (about a second of work each).
FRAMES = {64: 500, 128: 400, 512: 100}


@pytest.mark.parametrize("resolution", [64, 128, 512])
def test_render_frames_per_second(benchmark, resolution):
    scene = CausalCircuit({}, np.random.default_rng(0))
    n = FRAMES[resolution]
    states = scene.sample_independent(np.random.default_rng(1), n)
    seeds = np.zeros(n, np.uint64)
    cpu = []  # process CPU time (llvmpipe's threads included): robust to other jobs' load

    def timed(render):
        start = time.process_time()
        out = render(states, seeds)
        cpu.append(time.process_time() - start)
        return out

    with scene.renderer(resolution) as render:
        render(states[:10], seeds[:10])  # warm-up: shader compilation, first allocations
        images = benchmark.pedantic(timed, args=(render,), rounds=5, iterations=1)
    assert images.shape == (n, resolution, resolution, 3)
    benchmark.extra_info["frames_per_call"] = n
    benchmark.extra_info["cpu_ms_per_frame"] = 1e3 * min(cpu) / n
    benchmark.extra_info["frames_per_s"] = n / benchmark.stats.stats.mean
    benchmark.extra_info["ms_per_frame"] = 1e3 * benchmark.stats.stats.mean / n


@pytest.mark.parametrize("workers", [1, 2])
def test_generate_smoke_group(benchmark, tmp_path, workers):
    """All three smoke datasets (tris, pairs, triplets), rendered and written."""
    ids = ["causal-circuit-tris-v1", "causal-circuit-pairs-v1", "causal-circuit-triplets-v1"]
    specs = [DATASETS[i].spec(size="smoke") for i in ids]

    def run() -> None:
        for spec in specs:
            generate(spec, tmp_path, workers=workers, overwrite=True, progress=False)

    benchmark.pedantic(run, rounds=2, iterations=1)
    frames = sum(_frames(s) for s in specs)
    benchmark.extra_info["frames"] = frames
    benchmark.extra_info["frames_per_s"] = frames / benchmark.stats.stats.mean


@pytest.mark.slow
def test_generate_paper_pairs_64px(benchmark, tmp_path):
    """The paper-size pairs dataset at 64x64 with 2 workers (goal: under 5 minutes)."""
    spec = DATASETS["causal-circuit-pairs-v1"].spec(size="paper")
    benchmark.pedantic(lambda: generate(spec, tmp_path, workers=2, overwrite=True, progress=False), rounds=1, iterations=1)
    benchmark.extra_info["frames"] = _frames(spec)
    benchmark.extra_info["frames_per_s"] = _frames(spec) / benchmark.stats.stats.mean


def _frames(spec) -> int:
    per = {"sequence": 1, "states": 1, "pairs": 2, "triplets": 3}
    return sum(n * per[spec.split_kind(s)] for s, n in spec.splits.items())
