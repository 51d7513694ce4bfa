"""Aggregation: exact, hand-computed means and sample standard deviations, flags, output."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from crlbench.errors import CrlbenchError
from crlbench.leaderboard.records import ResultRecord
from crlbench.leaderboard.table import aggregate, aggregate_graphs, format_mean_std, lower_is_better, marks, to_csv, to_markdown
from tests.leaderboard.synthetic import record_dict, sha

T = "toy-son-pairs-v1"


def rec(method: str, seed: int, metrics: dict, **kw) -> ResultRecord:
    return ResultRecord.from_dict(record_dict(method, kw.pop("track", T), kw.pop("tier", "smoke"), seed, metrics=metrics, **kw))


@pytest.fixture
def known() -> list[ResultRecord]:
    """A: r2_diag 0.5, 0.7, 0.9 and shd 1, 2, 4 over seeds 0..2; B: one seed."""
    return [
        rec("A", 2, {"r2_diag": 0.9, "shd": 4}),
        rec("A", 0, {"r2_diag": 0.5, "shd": 1}, assignment="post-hoc"),
        rec("A", 1, {"r2_diag": 0.7, "shd": 2}, wall_time_s=20.0),
        rec("B", 0, {"r2_diag": 0.25}, deviations=["batch size 32 instead of 64"]),
    ]


def test_known_means_and_sample_stds(known):
    df = aggregate(known)
    assert list(df["method"]) == ["A", "B"]
    a, b = df.iloc[0], df.iloc[1]
    # mean(0.5, 0.7, 0.9) = 0.7; deviations -0.2, 0, 0.2 -> sum of squares 0.08 / (3 - 1) -> std 0.2
    assert a["r2_diag_mean"] == pytest.approx(0.7, abs=1e-15)
    assert a["r2_diag_std"] == pytest.approx(0.2, abs=1e-15)
    # mean(1, 2, 4) = 7/3; deviations -4/3, -1/3, 5/3 -> (16 + 1 + 25) / 9 / 2 = 7/3 -> std sqrt(7/3)
    assert a["shd_mean"] == pytest.approx(7 / 3, abs=1e-15)
    assert a["shd_std"] == pytest.approx(math.sqrt(7 / 3), abs=1e-15)
    assert a["n_seeds"] == 3 and a["seeds"] == "0,1,2"
    assert a["wall_time_s_mean"] == pytest.approx((12.5 + 20.0 + 12.5) / 3)
    # one seed: the mean is the value, the std is undefined (NaN), and a missing metric is NaN
    assert b["r2_diag_mean"] == 0.25 and math.isnan(b["r2_diag_std"])
    assert math.isnan(b["shd_mean"]) and math.isnan(b["shd_std"])


def test_flags(known):
    df = aggregate(known).set_index("method")
    assert df.loc["A", "post_hoc"] and not df.loc["B", "post_hoc"]  # one post-hoc seed marks the row
    assert df.loc["A", "assignment"] == "post-hoc, learned"  # unique, in seed order
    assert df.loc["B", "deviated"] and df.loc["B", "deviations"] == "batch size 32 instead of 64"
    assert not df.loc["A", "deviated"] and df.loc["A", "deviations"] == ""
    assert not df["other_tier"].any() and (df["main_tier"] == "smoke").all()
    assert marks(df.loc["A"]) == "†" and marks(df.loc["B"]) == "*"


def test_main_tier_is_paper_when_present_and_overridable():
    rs = [rec("A", 0, {"mcc": 0.5}), rec("A", 0, {"mcc": 0.9}, tier="paper"), rec("B", 0, {"mcc": 0.1})]
    df = aggregate(rs)
    assert list(zip(df["method"], df["tier"], df["other_tier"])) == [("A", "paper", False), ("A", "smoke", True), ("B", "smoke", True)]
    df = aggregate(rs, main_tier={T: "smoke"})
    assert list(zip(df["method"], df["tier"], df["other_tier"])) == [("A", "smoke", False), ("B", "smoke", False), ("A", "paper", True)]
    assert aggregate(rs, main_tier=lambda track: "smoke").equals(df)


def test_records_of_different_tiers_never_share_a_row():
    # the same method, seeds and numbers on all three tiers: three rows, never one of 9 seeds
    rs = [
        rec("A", s, {"mcc": 0.1 * s + i}, tier=tier, track="causal-circuit-tris-v1")
        for i, tier in enumerate(("smoke", "cpu", "paper"))
        for s in (0, 1, 2)
    ]
    df = aggregate(rs)
    assert sorted(df["tier"]) == ["cpu", "paper", "smoke"] and set(df["n_seeds"]) == {3}
    assert list(df["tier"]) == ["paper", "cpu", "smoke"]  # the main tier (largest with records) first
    for tier, i in (("smoke", 0), ("cpu", 1), ("paper", 2)):
        assert df.set_index("tier").loc[tier, "mcc_mean"] == pytest.approx(0.1 + i)
    assert list(df["other_tier"]) == [False, True, True]
    cpu_only = aggregate([r for r in rs if r.tier != "paper"])
    assert list(zip(cpu_only["tier"], cpu_only["other_tier"])) == [("cpu", False), ("smoke", True)]
    md = to_markdown(df)
    assert md.count("| A |") == 3 and "| A | cpu | 3 |" in md


def test_several_graphs_aggregate_over_every_graph_and_seed():
    # cpu tier of the toy pairs track: 3 graphs x 2 seeds; shd = graph + seed / 2
    rs = [rec("A", s, {"shd": g + s / 2}, tier="cpu", graph=g) for g in (0, 1, 2) for s in (0, 1)]
    row = aggregate(rs).iloc[0]
    assert (row["n_seeds"], row["n_graphs"], row["seeds"]) == (2, 3, "0,1")
    values = [0, 0.5, 1, 1.5, 2, 2.5]  # every graph x seed run
    assert row["shd_mean"] == pytest.approx(sum(values) / 6)
    assert row["shd_std"] == pytest.approx(pd.Series(values).std(ddof=1))
    per = aggregate_graphs(rs)
    assert list(per["graph"]) == [0, 1, 2] and list(per["n_seeds"]) == [2, 2, 2]
    assert list(per["shd_mean"]) == pytest.approx([0.25, 1.25, 2.25])
    assert row["shd_mean"] == pytest.approx(per["shd_mean"].mean())  # equal seeds per graph: mean of graph means
    md = to_markdown(aggregate(rs), graphs=per)
    assert "| A | cpu | 2 x 3 graphs |" in md and "Per graph" in md and "| A | cpu | 1 | 2 | 1.250 ± 0.354 |" in md
    assert aggregate_graphs([rec("A", 0, {"shd": 1})]).empty  # single-graph tracks have no breakdown
    with pytest.raises(CrlbenchError, match="seed 1 on graph 2 has 2 records"):
        aggregate([*rs, rec("A", 1, {"shd": 9}, tier="cpu", graph=2)])
    # a graph's record carrying another graph's data is refused when read against the protocol
    from crlbench.leaderboard.protocols import expected_dataset_hash

    bad = record_dict("A", T, "cpu", 0, graph=1, dataset_hash=expected_dataset_hash(T, "cpu")[0])
    with pytest.raises(CrlbenchError, match="dataset_hash"):
        ResultRecord.from_dict(bad, expected_hash=expected_dataset_hash)
    assert ResultRecord.from_dict(record_dict("A", T, "cpu", 0, graph=1), expected_hash=expected_dataset_hash).graph == 1


def test_metric_missing_in_one_seed_averages_the_others():
    df = aggregate([rec("A", 0, {"mcc": 0.2, "shd": 3}), rec("A", 1, {"mcc": 0.4})])
    assert df.loc[0, "mcc_mean"] == pytest.approx(0.3) and df.loc[0, "shd_mean"] == 3.0
    assert math.isnan(df.loc[0, "shd_std"])


def test_other_protocol_is_marked():
    p_old = sha("old protocol")
    rs = [rec("A", 0, {"mcc": 0.5}), rec("B", 0, {"mcc": 0.5}), rec("C", 0, {"mcc": 0.5}, protocol_hash=p_old)]
    df = aggregate(rs).set_index("method")
    assert list(df["other_protocol"]) == [False, False, True]
    assert marks(df.loc["C"]) == "§"


def test_duplicate_seed_and_mixed_hashes_are_refused():
    with pytest.raises(CrlbenchError, match=r"track toy-son-pairs-v1 tier smoke method 'A': seed 0 has 2 records"):
        aggregate([rec("A", 0, {"mcc": 0.5}), rec("A", 0, {"mcc": 0.6})])
    with pytest.raises(CrlbenchError, match="seeds ran on different dataset_hash values"):
        aggregate([rec("A", 0, {"mcc": 0.5}), rec("A", 1, {"mcc": 0.6}, dataset_hash=sha("x"))])
    with pytest.raises(CrlbenchError, match="no result records"):
        aggregate([])


def test_to_markdown_exact(known):
    md = to_markdown(aggregate(known))
    assert md == (
        "### toy-son-pairs-v1 (main tier: smoke)\n\n"
        "| Method | Tier | Seeds | r2_diag ↑ | shd ↓ | Marks |\n"
        "|---|---|--:|--:|--:|---|\n"
        "| A | smoke | 3 | 0.700 ± 0.200 | 2.333 ± 1.528 | † |\n"
        "| B | smoke | 1 | 0.250 ± n/a |  | \\* |\n\n"
        "Mean ± sample std over seeds (n/a: one seed). Marks: † post-hoc assignment of latents to "
        "variables (matched after training); \\* deviates from the protocol (see the deviations).\n"
    )


def test_markdown_escapes_names():
    md = to_markdown(aggregate([rec("a|b <script>x</script>", 0, {"mcc": 0.5})]))
    assert "| a\\|b \\<script\\>x\\</script\\> | smoke |" in md


def test_csv_round_trip(known, tmp_path):
    df = aggregate(known)
    back = pd.read_csv(to_csv(df, tmp_path / "sub" / "t.csv"))
    assert list(back.columns) == list(df.columns)
    assert back["r2_diag_mean"].tolist() == df["r2_diag_mean"].tolist()  # full precision
    assert math.isnan(back.loc[1, "r2_diag_std"])  # NaN as an empty cell
    assert back["post_hoc"].tolist() == [True, False]


def test_helpers():
    assert format_mean_std(0.85, math.nan) == "0.850 ± n/a"
    assert format_mean_std(math.nan, math.nan) == ""
    assert format_mean_std(1234.5, 10.25) == "1234 ± 10.250"
    assert [lower_is_better(m) for m in ("r2_diag", "r2_sep", "shd", "triplet_error", "mcc")] == [False, True, True, True, False]
