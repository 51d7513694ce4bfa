"""Protocols: every track in every tier, settings that reach the data and the baselines, stable hashes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from crlbench.baselines.methods import method_class
from crlbench.errors import CrlbenchError
from crlbench.leaderboard.protocols import PROTOCOLS, TIERS, protocol, tracks
from crlbench.registry import DATASETS

OFFICIAL = Path(__file__).parents[2] / "results" / "smoke"
IMAGE_TRACKS = ["causal-circuit-tris-v1", "causal3dident-tris-v2", "causal-circuit-pairs-v1", "causal3dident-pairs-v2"]


def test_every_scene_and_training_mode_has_a_track_in_every_tier():
    assert TIERS == ("smoke", "cpu", "paper")
    main = tracks("smoke")
    assert {DATASETS[t].scene for t in main} == {"toy-son", "causal-circuit", "causal3dident"}
    for scene in ("toy-son", "causal-circuit", "causal3dident"):
        for mode in ("pairs", "sequences"):
            assert any(DATASETS[t].scene == scene and DATASETS[t].mode == mode for t in main), (scene, mode)
    for track in main:
        assert protocol(track, "smoke").seeds == (0, 1)
        assert protocol(track, "paper").seeds == (0, 1, 2, 3, 4)
        assert {protocol(track, t).device for t in TIERS} == {"cpu", "cuda"}
    assert tracks("cpu") == tracks("paper") == tracks()  # the scaling track has no smoke tier
    for track in tracks():
        cpu = protocol(track, "cpu")
        assert len(cpu.seeds) >= 3 and cpu.device == "cpu"
        assert (cpu.probe, cpu.dci_regressor) == ("mlp", "gbt")  # the faithful probes


def test_cpu_tier_image_tracks_fix_resolution_data_and_every_baseline():
    for track in IMAGE_TRACKS:
        p = protocol(track, "cpu")
        # TRIS at the papers' 64 px; pairs at 32 px (their shared stage does not fit the budget at 64)
        assert p.dataset_spec().resolution == (64 if p.mode == "sequences" else 32)
        assert p.size == "cpu" and p.dataset_spec().splits["train"] >= 5000
        assert set(p.baseline_params) == set(p.methods)


def test_toy_tracks_cover_several_graphs_with_enough_edges():
    from crlbench.datasets.build import make_scene

    for track, tier in [(t, r) for t in tracks() if t.startswith("toy-") for r in ("cpu", "paper")]:
        p = protocol(track, tier)
        assert len(p.graphs) >= 3, (track, tier)
        hashes = {g.dataset_hash for g in p.per_graph()}
        assert len(hashes) == len(p.graphs)  # one dataset per graph
        assert {g.hash for g in p.per_graph()} == {p.hash}  # one protocol
        for g in p.per_graph():
            graph = make_scene(g.dataset_spec()).graph
            a = graph.instantaneous if p.mode == "pairs" else graph.temporal * (1 - np.eye(len(graph.temporal), dtype=np.uint8))
            n = a.shape[0]
            assert a.sum() >= n, f"{track} graph {g.graph}: {a.sum()} edges on {n} variables; SHD would barely separate methods"
    scaling = protocol("toy-son-pairs-n10-v1", "cpu")
    assert scaling.dataset_id == "toy-son-pairs-v1" and scaling.dataset_spec().params["n_vars"] == 10
    assert protocol("toy-son-pairs-v1", "smoke").graphs == ()  # the shipped smoke records' single graph


def test_graphs_and_scaling_tracks_keep_their_data_apart(tmp_path):
    from crlbench.leaderboard.runner import dataset_path, record_file

    paths = {dataset_path(g, tmp_path) for t in ("toy-son-pairs-v1", "toy-son-pairs-n10-v1") for g in protocol(t, "cpu").per_graph()}
    assert len(paths) == 6
    assert dataset_path(protocol("toy-son-pairs-v1", "smoke"), tmp_path) == tmp_path / "smoke" / "toy-son-pairs-v1.h5"
    g1 = protocol("toy-son-pairs-v1", "cpu").on_graph(1)
    assert dataset_path(g1, tmp_path) == tmp_path / "cpu" / "graph1" / "toy-son-pairs-v1.h5"
    assert record_file(g1, "ilcm", 2, tmp_path).name == "ilcm-graph1-seed2.json"
    with pytest.raises(CrlbenchError, match="no graph 7"):
        protocol("toy-son-pairs-v1", "cpu").on_graph(7)


@pytest.mark.parametrize("track", IMAGE_TRACKS)
def test_image_tracks_fix_resolution_and_baseline_settings(track):
    smoke, paper = protocol(track, "smoke"), protocol(track, "paper")
    assert (smoke.dataset_spec().resolution, paper.dataset_spec().resolution) == (32, 64)
    assert smoke.dataset_hash != paper.dataset_hash
    for p in (smoke, paper):
        assert set(p.baseline_params) == set(p.methods)
        for method, params in p.baseline_params.items():
            known = method_class(method).defaults()
            assert set(params) <= set(known), f"{method}: {set(params) - set(known)} are not its hyperparameters"
            if "n_latents" in params:  # sequence baselines follow the protocol's latent size
                assert params["n_latents"] == p.latent_dim


def test_protocol_hashes_match_the_shipped_records():
    records = sorted(OFFICIAL.glob("*/smoke/*.json"))
    shipped = {path.parent.parent.name for path in records}
    assert {"toy-son-pairs-v1", "toy-son-tris-v1"} <= shipped <= set(tracks()), "official smoke records are missing"
    cpu = sorted((OFFICIAL.parent / "cpu").glob("*/cpu/*.json"))
    assert cpu, "the cpu tier's reference records are missing"
    for path in records + cpu:
        rec = json.loads(path.read_text())
        p = protocol(rec["track"], rec["tier"])
        if rec.get("graph") is not None:
            p = p.on_graph(rec["graph"])
        assert (rec["protocol_hash"], rec["dataset_hash"]) == (p.hash, p.dataset_hash), path.name


def test_hash_covers_what_a_comparison_depends_on_not_what_a_table_shows():
    from dataclasses import replace

    p = protocol("toy-son-pairs-v1")
    for change in (
        {"seeds": (0,)},
        {"budget": "1ep"},
        {"probe": "mlp"},
        {"dataset_seed": 1},
        {"batch_size": 32},
        {"baseline_params": {"ilcm": {"hidden": [8]}}},
        {"stage_budget": "100steps"},
    ):
        assert replace(p, **change).hash != p.hash, change
    assert "metrics" not in p.to_dict() and "methods" not in p.to_dict()
    assert "stage_budget" not in p.to_dict()  # unset: the hashes of protocols without stages stay as they were
    assert p.metrics and p.methods  # read from the metric and method tables


def test_unknown_track_or_tier_names_the_choices():
    with pytest.raises(CrlbenchError, match="causal-circuit-tris-v1"):
        protocol("causal-circuit-tris-v2")
    with pytest.raises(CrlbenchError, match=r"unknown tier 'gpu'.*smoke.*cpu.*paper"):
        protocol("toy-son-tris-v1", "gpu")
    with pytest.raises(CrlbenchError, match="toy-son-pairs-n10-v1 has no smoke tier; its tiers: cpu, paper"):
        protocol("toy-son-pairs-n10-v1", "smoke")
    assert len(PROTOCOLS) == 3 * len(tracks("smoke")) + 2


def test_sweep_runs_every_graph_once_and_the_table_averages_them(tmp_path):
    from dataclasses import replace

    from crlbench.leaderboard.protocols import expected_dataset_hash
    from crlbench.leaderboard.records import load_record
    from crlbench.leaderboard.runner import sweep
    from crlbench.leaderboard.table import aggregate, aggregate_graphs

    # the registered cpu data (3 graphs), one seed and the fast probes: seconds
    p = replace(protocol("toy-son-pairs-v1", "cpu"), seeds=(0,), probe="linear", dci_regressor="gbt_fast")
    method = "tests.leaderboard.user_method:PCA"
    report = sweep(p, [method], tmp_path / "results", root=tmp_path / "data")
    assert report.failed == {}
    assert sorted(path.name for path in report.records) == [f"tests.leaderboard.user_method_PCA-graph{g}-seed0.json" for g in (0, 1, 2)]
    records = [load_record(path, expected_hash=expected_dataset_hash) for path in report.records]
    assert sorted(r.graph for r in records) == [0, 1, 2]
    assert {r.graph: r.dataset_hash for r in records} == expected_dataset_hash("toy-son-pairs-v1", "cpu")
    assert {r.protocol_hash for r in records} == {p.hash}
    row = aggregate(records).iloc[0]
    assert (row["n_graphs"], row["n_seeds"]) == (3, 1)
    m = sorted(records[0].metrics)[0]
    assert row[f"{m}_mean"] == pytest.approx(np.mean([r.metrics[m] for r in records]))
    assert len(aggregate_graphs(records)) == 3
    before = {path: path.stat().st_mtime_ns for path in report.records}
    again = sweep(p, [method], tmp_path / "results", root=tmp_path / "data")
    assert {path: path.stat().st_mtime_ns for path in again.records} == before  # resumable: nothing reran
