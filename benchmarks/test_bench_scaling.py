"""Scale-out: generation throughput with 1 and 2 local workers, and the ratio.

A fixed number of frames per scene (8000 CausalCircuit, 800 Causal3DIdent, 64x64, the TRIS
sequence), cut into 8 shards so that 2 workers share the work evenly, generated end to end
(worker start-up and HDF5 included). One worker renders in this process; two are spawned
processes. Goal: a ratio close to 2 for rendering on an idle 2-core machine.

Per case, ``extra_info`` holds the wall-clock ``frames_per_s`` (best of the rounds), the
start-up time of the workers (best of as many 2-frame runs), ``render_frames_per_s``
(frames per second once started: start-up subtracted), the CPU milliseconds per frame of
this process and its children (start-up included; robust to other jobs' load) and, for 2
workers, ``ratio`` and ``render_ratio`` against 1 worker measured in the same pytest run. Run with
``pytest benchmarks/test_bench_scaling.py --benchmark-enable``; figures in docs/benchmarks.md.
"""

from __future__ import annotations

import importlib.util
import resource
import time
from dataclasses import replace

import h5py
import pytest

from crlbench.datasets.build import generate
from crlbench.executors import THREADS_ENV
from crlbench.registry import DATASETS

#: Scene -> (dataset id, frames).
CASES = {"causal-circuit": ("causal-circuit-tris-v1", 8000), "causal3dident": ("causal3dident-tris-v2", 800)}
SHARDS = 8
ROUNDS = 3

#: frames per second by (scene, workers): wall clock and rendering only, for the ratios.
RATES: dict[tuple[str, int], tuple[float, float]] = {}


def _cpu_s() -> float:
    """CPU seconds of this process and of its finished children."""
    return sum(r.ru_utime + r.ru_stime for r in (resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)))


def _wall_s(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


#: (scene, workers, CPU threads of the in-process worker: None = every core). Cycles
#: renders with threads of its own, so one Causal3DIdent worker already uses every core; the
#: 1-thread case gives the per-process rate that 2 single-thread workers should double.
RUNS = [
    ("causal-circuit", 1, None),
    ("causal-circuit", 2, None),
    ("causal3dident", 1, 1),
    ("causal3dident", 1, None),
    ("causal3dident", 2, None),
]


@pytest.mark.parametrize("scene, workers, threads", RUNS)
def test_generation_throughput(benchmark, tmp_path, monkeypatch, scene, workers, threads):
    if scene == "causal3dident" and importlib.util.find_spec("bpy") is None:
        pytest.skip('needs pip install "crlbench[blender]"')
    if threads:
        monkeypatch.setenv(THREADS_ENV, str(threads))
    dataset_id, n = CASES[scene]
    spec = replace(DATASETS[dataset_id].spec(size="smoke"), splits={"train": n})
    tiny = replace(spec, splits={"train": 2})
    startup = min(
        _wall_s(lambda: generate(tiny, tmp_path / "tiny", workers=workers, shard_frames=1, overwrite=True, progress=False))
        for _ in range(ROUNDS)
    )
    walls: list[float] = []
    cpu0 = _cpu_s()

    def run():
        t = time.perf_counter()
        path = generate(spec, tmp_path, workers=workers, shard_frames=n // SHARDS, overwrite=True, progress=False)
        walls.append(time.perf_counter() - t)
        return path

    path = benchmark.pedantic(run, rounds=ROUNDS, iterations=1)
    cpu = _cpu_s() - cpu0
    with h5py.File(path) as f:
        assert f["train/images"].shape[0] == n
    wall = min(walls)  # the least disturbed by other jobs, as the start-up time
    rate, render_rate = n / wall, n / max(wall - startup, 1e-9)
    RATES[(scene, workers, threads)] = (rate, render_rate)
    info = {
        "frames": n,
        "workers": workers,
        "threads": threads or "all",
        "frames_per_s": rate,
        "startup_s": startup,
        "render_frames_per_s": render_rate,
        "cpu_ms_per_frame": 1e3 * cpu / (n * len(walls)),
    }
    for base, label in (((scene, 1, None), ""), ((scene, 1, 1), "_vs_1_thread")):
        if workers == 2 and base in RATES:
            one, one_render = RATES[base]
            info.update({f"ratio{label}": rate / one, f"render_ratio{label}": render_rate / one_render})
    benchmark.extra_info.update(info)
    print(f"{scene}, {workers} worker(s): " + ", ".join(f"{k} {v:.3g}" if isinstance(v, float) else f"{k} {v}" for k, v in info.items()))
