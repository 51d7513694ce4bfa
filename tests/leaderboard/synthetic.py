"""Synthetic result records: the leaderboard tests' and benchmark's fixtures."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np

from crlbench.leaderboard.protocols import expected_dataset_hash
from crlbench.leaderboard.records import ResultRecord, record_path

TRACKS = ("toy-son-pairs-v1", "toy-son-tris-v1", "toy-son-triplets-v1", "causal-circuit-tris-v1")
METHODS = ("beta-vae", "citris-vae", "citris-nf", "ilcm", "identity")


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def record_dict(
    method: str = "beta-vae",
    track: str = "toy-son-pairs-v1",
    tier: str = "smoke",
    seed: int = 0,
    *,
    metrics: dict[str, float] | None = None,
    **overrides: Any,
) -> dict[str, Any]:
    """A valid record as a JSON-shaped dict; ``overrides`` replace fields. On a track with
    several graphs the record is on ``graph`` (default 0) and carries that graph's hash."""
    expected = expected_dataset_hash(track, tier)
    graph = overrides.get("graph", 0 if isinstance(expected, dict) else None)
    if isinstance(expected, dict):
        expected = expected.get(graph)
    d: dict[str, Any] = {
        "schema_version": 1,
        "method": method,
        "method_version": "1.0",
        "track": track,
        "tier": tier,
        "protocol_hash": sha(f"protocol {track} {tier}"),
        "dataset_id": track,
        # tracks with a protocol must carry its dataset hash (the CLI checks it)
        "dataset_hash": expected or sha(f"dataset {track} {tier}"),
        "seed": seed,
        "metrics": {"r2_diag": 0.8, "r2_sep": 0.1, "mcc": 0.7} if metrics is None else metrics,
        "per_variable": {"r2_diag": {"a": 0.9, "b": 0.7}},
        "assignment": "learned",
        "deviations": [],
        "hardware": {"device": "cpu", "cpu_count": 2, "gpu": None},
        "wall_time_s": 12.5,
        "n_parameters": 1000,
        "crlbench_version": "0.1.0",
        "commit": "0" * 40,
        "created": "2026-01-31T12:00:00+00:00",
        **({} if graph is None else {"graph": graph}),
    }
    d.update(overrides)
    return d


def rich_record(method: str, track: str, tier: str, seed: int, k: int = 4, image: int = 0) -> ResultRecord:
    """A record with every artifact: R² matrix, graphs and (if ``image``) triplet examples."""
    rng = np.random.default_rng([int(sha(method)[:8], 16), int(sha(track)[:8], 16), seed])
    names = [f"c{j}" for j in range(k)]
    quality = 0.4 + 0.5 * (METHODS.index(method) / len(METHODS) if method in METHODS else rng.random())
    r2 = np.clip(rng.normal(0.05, 0.03, (k + 1, k)), 0, 1)
    r2[1:][np.diag_indices(k)] = np.clip(quality + rng.normal(0, 0.05, k), 0, 1)
    true = np.triu(rng.random((k, k)) < 0.5, 1).astype(int)
    learned = np.where(rng.random((k, k)) < 0.8 * quality, true, 1 - true) * (1 - np.eye(k, dtype=int))
    artifacts: dict[str, Any] = {
        "r2_matrix": r2.tolist(),
        "r2_matrix_rows": ["none", *names],
        "variables": names,
        "graph_true": true.tolist(),
        "graph_learned": learned.tolist(),
    }
    metrics = {
        "r2_diag": float(np.mean(np.diag(r2[1:]))),
        "r2_sep": float(r2[1:].max(0).mean() * 0.3),
        "mcc": quality - 0.05,
        "dci_disentanglement": quality * 0.9,
        "shd": float(np.abs(true - learned).sum()),
    }
    if "pairs" in track:
        metrics["intervention_accuracy"] = quality
    if image:
        metrics["triplet_error"] = 1 - quality
        artifacts["triplet_examples"] = rng.integers(0, 256, (2, 4, image, image, 3)).tolist()
        artifacts["triplet_examples_panels"] = ["first", "second", "decoded", "true third"]
    return ResultRecord.from_dict(
        record_dict(
            method,
            track,
            tier,
            seed,
            metrics=metrics,
            per_variable={"r2_diag": dict(zip(names, np.diag(r2[1:]).tolist()))},
            assignment="post-hoc" if method == "beta-vae" else "learned",
            n_parameters=10_000 + 17 * len(method),
            wall_time_s=float(30 + 10 * seed),
            artifacts=artifacts,
        )
    )


def write_smoke_results(root: Path, tracks=TRACKS, methods=METHODS, seeds=(0, 1), image: int = 16) -> list[Path]:
    """Records of every (track, method, seed) at the smoke tier, written as JSON files."""
    paths = []
    for track in tracks:
        for method in methods:
            for seed in seeds:
                rec = rich_record(method, track, "smoke", seed, image=image if "triplets" in track else 0)
                paths.append(rec.save(record_path(rec, root)))
    return paths
