"""Datasets: spec -> HDF5 (build), the one schema (storage), typed views (loaders), checks.

Names are imported on first use, so that ``crlbench.datasets.spec`` (which the registry
needs) can be imported without the loaders (which look ids up in the registry).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from crlbench.datasets.loaders import Dataset, Pairs, Sequence, States, Triplets, data_root, load, torch_dataset
    from crlbench.datasets.spec import DatasetSpec

_NAMES = {
    "DatasetSpec": "crlbench.datasets.spec",
    **{
        name: "crlbench.datasets.loaders"
        for name in ("Dataset", "Sequence", "Pairs", "Triplets", "States", "load", "data_root", "torch_dataset")
    },
}

__all__ = ["DatasetSpec", "Dataset", "Sequence", "Pairs", "Triplets", "States", "load", "data_root", "torch_dataset"]


def __getattr__(name: str) -> Any:
    if name in _NAMES:
        return getattr(importlib.import_module(_NAMES[name]), name)
    raise AttributeError(f"module 'crlbench.datasets' has no attribute {name!r}")
