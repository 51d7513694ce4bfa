"""Test helpers: tiny specs of every registered dataset id."""

from __future__ import annotations

from dataclasses import replace

from crlbench.datasets.spec import SPLIT_KINDS, DatasetSpec
from crlbench.registry import DATASETS

#: Per split kind: a size that exercises every code path in well under a second per id.
TINY = {"sequence": 12, "pairs": 6, "triplets": 5, "states": 7}


def tiny_spec(dataset_id: str, seed: int = 0, **params) -> DatasetSpec:
    """The smoke spec of ``dataset_id`` shrunk to :data:`TINY` split sizes."""
    spec = DATASETS[dataset_id].spec(size="smoke", seed=seed, params=params)
    kinds = SPLIT_KINDS[spec.mode]
    return replace(spec, splits={s: TINY[kinds[s]] for s in spec.splits})
