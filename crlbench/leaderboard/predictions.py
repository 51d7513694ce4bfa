"""Predictions of a fitted method through the method contract: the one artefact a trained
method leaves for scoring (``predictions.npz`` of a run), in the format
:class:`crlbench.leaderboard.evaluate.Evaluator` checks and scores.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, cast

import numpy as np

from crlbench.datasets.loaders import Dataset, Triplets

__all__ = ["predict", "save_predictions"]


def save_predictions(path: str | Path, predictions: Mapping[str, np.ndarray]) -> Path:
    """Write predictions as a compressed ``.npz``, atomically (a reader never sees half)."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez_compressed(tmp, **predictions)
    os.replace(tmp, path)
    return path


def predict(model: Any, dataset: Dataset, *, batch: int = 512) -> dict[str, np.ndarray]:
    """The predictions of a fitted method, through the method contract.

    Triplets (sequence tracks, methods that decode): both states of each test triplet are
    encoded, the latents of mask-1 variables taken from the second state (by the method's
    assignment, or one matched on the probe set when it has none), and decoded.
    """
    from crlbench.baselines.contract import capabilities  # noqa: PLC0415

    caps = capabilities(model)

    def encode(obs: Any) -> np.ndarray:
        return np.concatenate([np.asarray(model.encode(np.asarray(obs[i : i + batch]))) for i in range(0, len(obs), batch)])

    probe = dataset["test_indep"]
    out: dict[str, np.ndarray] = {"probe_latents": encode(probe.observations)}
    if "assignment" in caps:
        out["assignment"] = np.asarray(model.assignment(), dtype=np.float64)
    if dataset.spec.mode == "pairs":
        if "graph" in caps:
            out["graph"] = np.asarray(model.graph(), dtype=np.float64)
        if "infer_targets" in caps:
            test = dataset["test"].observations
            out["test_inferred_targets"] = np.concatenate(
                [
                    np.asarray(model.infer_targets(np.asarray(test[i : i + batch, 0]), np.asarray(test[i : i + batch, 1])))
                    for i in range(0, len(test), batch)
                ]
            ).astype(np.int64)
    elif "decode" in caps and "test_triplets" in dataset.splits:
        from crlbench.metrics import hard_groups, match_assignment  # noqa: PLC0415

        trip = cast(Triplets, dataset["test_triplets"])
        obs = trip.observations
        za, zb = encode(obs[:, 0]), encode(obs[:, 1])
        assignment = out.get("assignment")
        if assignment is None:
            assignment = match_assignment(probe.latents, out["probe_latents"], variables=dataset.variables)
        groups = hard_groups(assignment)  # (M,) 0 = no variable, k+1 = variable k
        take_b = np.c_[np.zeros((len(za), 1), bool), trip.mask.astype(bool)][:, groups]
        zc = np.where(take_b, zb, za)
        out["triplet_decoded"] = np.concatenate([np.asarray(model.decode(zc[i : i + batch])) for i in range(0, len(zc), batch)])
    return out
