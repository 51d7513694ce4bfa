"""Datasets: spec -> HDF5 (build), the one schema (storage), typed views (loaders), checks."""

from crlbench.datasets.loaders import Dataset, Pairs, Sequence, States, Triplets, data_root, load, torch_dataset
from crlbench.datasets.spec import DatasetSpec

__all__ = ["DatasetSpec", "Dataset", "Sequence", "Pairs", "Triplets", "States", "load", "data_root", "torch_dataset"]
