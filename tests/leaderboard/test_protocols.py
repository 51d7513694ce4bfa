"""Protocols: every track in both tiers, settings that reach the data and the baselines, stable hashes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from crlbench.baselines.methods import method_class
from crlbench.errors import CrlbenchError
from crlbench.leaderboard.protocols import PROTOCOLS, TIERS, protocol, tracks
from crlbench.registry import DATASETS

OFFICIAL = Path(__file__).parents[2] / "results" / "smoke"
IMAGE_TRACKS = ["causal-circuit-tris-v1", "causal3dident-tris-v2", "causal-circuit-pairs-v1", "causal3dident-pairs-v2"]


def test_every_scene_and_training_mode_has_a_track_in_both_tiers():
    scenes = {DATASETS[t].scene for t in tracks()}
    assert scenes == {"toy-son", "causal-circuit", "causal3dident"}
    for scene in scenes:
        for mode in ("pairs", "sequences"):
            assert any(DATASETS[t].scene == scene and DATASETS[t].mode == mode for t in tracks()), (scene, mode)
    for track in tracks():
        assert protocol(track, "smoke").seeds == (0, 1)
        assert protocol(track, "paper").seeds == (0, 1, 2, 3, 4)
        assert {protocol(track, t).device for t in TIERS} == {"cpu", "cuda"}


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
    for path in records:
        rec = json.loads(path.read_text())
        p = protocol(rec["track"], rec["tier"])
        assert (rec["protocol_hash"], rec["dataset_hash"]) == (p.hash, p.dataset_hash), path.name


def test_hash_covers_what_a_comparison_depends_on_not_what_a_table_shows():
    from dataclasses import replace

    p = protocol("toy-son-pairs-v1")
    for change in ({"seeds": (0,)}, {"budget": "1ep"}, {"probe": "mlp"}, {"dataset_seed": 1}, {"batch_size": 32},
                   {"baseline_params": {"ilcm": {"hidden": [8]}}}):
        assert replace(p, **change).hash != p.hash, change
    assert "metrics" not in p.to_dict() and "methods" not in p.to_dict()
    assert p.metrics and p.methods  # read from the metric and method tables


def test_unknown_track_or_tier_names_the_choices():
    with pytest.raises(CrlbenchError, match="causal-circuit-tris-v1"):
        protocol("causal-circuit-tris-v2")
    with pytest.raises(CrlbenchError, match=r"unknown tier 'gpu'.*smoke.*paper"):
        protocol("toy-son-tris-v1", "gpu")
    assert len(PROTOCOLS) == 2 * len(tracks())
