"""Generation throughput: the paper-size toy pairs dataset (n = 10) end to end.

Goal: under 10 s on one core, HDF5 write included. Run with
``make bench`` or ``pytest benchmarks/test_bench_generation.py --benchmark-enable``.
"""

from __future__ import annotations

from crlbench.datasets.build import generate
from crlbench.registry import DATASETS


def test_toy_pairs_paper_n10(benchmark, tmp_path):
    spec = DATASETS["toy-son-pairs-v1"].spec(size="paper", params={"n_vars": 10})
    assert sum(spec.splits.values()) == 220_000
    path = benchmark.pedantic(lambda: generate(spec, tmp_path, overwrite=True, progress=False), rounds=3, iterations=1)
    assert path.exists()


def test_toy_tris_paper_n10(benchmark, tmp_path):
    spec = DATASETS["toy-son-tris-v1"].spec(size="paper", params={"n_vars": 10})
    benchmark.pedantic(lambda: generate(spec, tmp_path, overwrite=True, progress=False), rounds=3, iterations=1)
