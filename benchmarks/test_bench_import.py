"""`crlbench import` throughput: frames per second from a release folder to a crlbench file.

Two releases written by the benchmark in the original formats: ILCM's CausalCircuit
(512 x 512 JPEG pairs of crlbench's MuJoCo renders, shrunk to 64 x 64 on import) and
CITRIS' Temporal Causal3DIdent (64 x 64 RGBA frames, stored as they are). Run with
``pytest benchmarks/test_bench_import.py --benchmark-enable --benchmark-only``.
"""

from __future__ import annotations

import numpy as np
import pytest

from crlbench.datasets.importers import import_release
from tests.datasets.release_files import write_citris, write_ilcm


@pytest.fixture(scope="module")
def releases(tmp_path_factory):
    root = tmp_path_factory.mktemp("releases")
    ilcm = write_ilcm(root / "ilcm", shards=2, n=50, side=512, rendered=True)  # 150 + 25 + 25 pairs
    citris = write_citris(root / "citris", n=2000, side=64)
    return {"ilcm-causalcircuit": (ilcm, 64), "citris-causal3dident": (citris, None)}


@pytest.mark.parametrize("fmt", ["ilcm-causalcircuit", "citris-causal3dident"])
def test_import_frames_per_second(benchmark, releases, tmp_path, fmt):
    source, resolution = releases[fmt]

    def run():
        return import_release(fmt, source, tmp_path, resolution=resolution, overwrite=True)

    path = benchmark.pedantic(run, rounds=2, iterations=1)
    from crlbench.datasets import load

    ds = load(path)
    frames = sum(int(np.prod(np.asarray(ds[s].latents).shape[:-1])) for s in ds.splits)
    benchmark.extra_info["frames"] = frames
    benchmark.extra_info["frames_per_s"] = frames / benchmark.stats.stats.min
