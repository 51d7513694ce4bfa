"""The whole smoke leaderboard build from existing records: load, validate, aggregate, write
Markdown, CSV and the HTML page with every plot.

Goal: under 10 s for 4 tracks x 5 methods x 2 seeds (40 records with R² matrices,
graphs and, on the triplet track, 16x16 triplet examples). Run with ``make bench`` or
``pytest benchmarks/test_bench_leaderboard.py --benchmark-enable``.
"""

from __future__ import annotations

from crlbench.leaderboard.records import load_records
from crlbench.leaderboard.report import build_site
from tests.leaderboard.synthetic import write_smoke_results


def test_smoke_leaderboard_build(benchmark, tmp_path):
    paths = write_smoke_results(tmp_path / "results")
    assert len(paths) == 40

    def build():
        return build_site(load_records(tmp_path / "results"), tmp_path / "site")

    df = benchmark.pedantic(build, rounds=3, iterations=1, warmup_rounds=1)
    assert len(df) == 20 and (tmp_path / "site" / "index.html").stat().st_size > 100_000
    if benchmark.stats is not None:  # None under --benchmark-disable (one plain run)
        assert benchmark.stats.stats.max < 10.0
