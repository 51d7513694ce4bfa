"""Typed views of a dataset file, and torch ``Dataset`` adapters.

``load(path_or_id)`` opens a complete file and returns a :class:`Dataset` whose splits are
typed views: :class:`Sequence` (TRIS rollouts, cut into windows), :class:`Pairs`,
:class:`Triplets` and :class:`States` (i.i.d. probe sets). Latents, targets, noise and
masks are numpy arrays; images stay on disk as :class:`LazyArray` (read on indexing) unless
``in_memory=True``.

Shapes: N samples, T sequence length, K causal variables, D latent dimensions,
E noise dimensions, observations ``(..., H, W, 3)`` uint8 or ``(..., D_obs)`` float64.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from crlbench.core import CausalGraph, Variable
from crlbench.datasets import storage
from crlbench.datasets.spec import DatasetSpec
from crlbench.errors import DataFileError
from crlbench.registry import dataset_entry

__all__ = [
    "LazyArray",
    "Sequence",
    "Pairs",
    "Triplets",
    "States",
    "Dataset",
    "load",
    "data_root",
    "torch_dataset",
]


def data_root() -> Path:
    """Where dataset ids are looked up: ``$CRLBENCH_DATA`` or ``~/.cache/crlbench``."""
    return Path(os.environ.get("CRLBENCH_DATA", Path.home() / ".cache" / "crlbench"))


class LazyArray:
    """An HDF5 array read on indexing; reopens the file in each process (DataLoader-safe)."""

    def __init__(self, path: Path, key: str, shape: tuple[int, ...], dtype: np.dtype) -> None:
        self.path, self.key, self.shape, self.dtype = path, key, shape, dtype
        self._pid: int | None = None
        self._ds: h5py.Dataset | None = None

    def _dataset(self) -> h5py.Dataset:
        if self._pid != os.getpid():  # h5py handles must not cross a fork
            self._ds = h5py.File(self.path, "r")[self.key]
            self._pid = os.getpid()
        assert self._ds is not None
        return self._ds

    def __getitem__(self, idx: Any) -> np.ndarray:
        return self._dataset()[idx]

    def __len__(self) -> int:
        return self.shape[0]

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        a = self._dataset()[()]
        return a if dtype is None else a.astype(dtype)

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_pid": None, "_ds": None}

    @property
    def ndim(self) -> int:
        """Number of axes, as ``np.ndarray.ndim``."""
        return len(self.shape)


Array = np.ndarray | LazyArray


@dataclass(frozen=True)
class Sequence:
    """A TRIS rollout: ``targets[t]`` says which variables were intervened to reach frame t.

    Attributes:
        latents: (T, D); targets: (T, K) uint8; noise: (T, E); observations: (T, ...).
    """

    latents: np.ndarray
    targets: np.ndarray
    noise: np.ndarray
    observations: Array

    def __len__(self) -> int:
        return len(self.latents)

    def n_windows(self, length: int) -> int:
        """Number of windows of ``length`` consecutive frames."""
        if length < 1:
            raise ValueError(f"window length must be >= 1, got {length}")
        return max(0, len(self) - length + 1)

    def window(self, start: int, length: int) -> dict[str, np.ndarray]:
        """Frames ``start .. start+length-1``: latents (L, D), targets (L, K), observations (L, ...)."""
        sl = slice(start, start + length)
        return {"latents": self.latents[sl], "targets": self.targets[sl], "observations": self.observations[sl]}


@dataclass(frozen=True)
class Pairs:
    """Pre/post-intervention pairs sharing exogenous noise.

    Attributes:
        latents: (N, 2, D); targets: (N, K) uint8; noise: (N, E); observations: (N, 2, ...).
    """

    latents: np.ndarray
    targets: np.ndarray
    noise: np.ndarray
    observations: Array

    def __len__(self) -> int:
        return len(self.latents)


@dataclass(frozen=True)
class Triplets:
    """Two states and a third taking mask-1 variables from the second, rendered anew.

    Attributes:
        latents: (N, 3, D); mask: (N, K) uint8; observations: (N, 3, ...).
    """

    latents: np.ndarray
    mask: np.ndarray
    observations: Array

    def __len__(self) -> int:
        return len(self.latents)


@dataclass(frozen=True)
class States:
    """I.i.d. states (metric probe sets). latents: (N, D); observations: (N, ...)."""

    latents: np.ndarray
    observations: Array

    def __len__(self) -> int:
        return len(self.latents)


_VIEWS: dict[str, type] = {"sequence": Sequence, "pairs": Pairs, "triplets": Triplets, "states": States}


@dataclass(frozen=True)
class Dataset:
    """A loaded dataset: spec, variable table, graph, scene structure and typed splits."""

    path: Path
    spec: DatasetSpec
    variables: tuple[Variable, ...]
    graph: CausalGraph
    structure: dict[str, np.ndarray]
    splits: dict[str, Sequence | Pairs | Triplets | States]

    def __getitem__(self, split: str) -> Sequence | Pairs | Triplets | States:
        if split not in self.splits:
            raise KeyError(f"{self.spec.dataset_id} has no split {split!r}; it has {sorted(self.splits)}")
        return self.splits[split]

    @property
    def dim_to_var(self) -> np.ndarray:
        """(D,) index of the causal variable of each latent dimension."""
        return np.repeat(np.arange(len(self.variables)), [v.size for v in self.variables])


def _resolve(path_or_id: str | Path, root: str | Path | None) -> Path:
    p = Path(path_or_id)
    if p.suffix == ".h5" or p.exists():
        return p
    entry = dataset_entry(str(path_or_id))  # did-you-mean on unknown ids
    p = Path(root or data_root()) / f"{entry.id}.h5"
    if not p.exists():
        raise DataFileError(f"{entry.id} is not generated yet at {p}; run `crlbench generate {entry.id} --out {p.parent}`")
    return p


def load(path_or_id: str | Path, *, root: str | Path | None = None, in_memory: bool = False) -> Dataset:
    """Open a complete dataset file, by path or by id (looked up under :func:`data_root`).

    Args:
        path_or_id: A ``.h5`` path or a registered dataset id.
        root: Folder where ids are looked up (default ``$CRLBENCH_DATA``).
        in_memory: Read images into memory too (vectors always are).

    Raises:
        DataFileError: missing, truncated, incomplete or foreign file (says how to fix it).
    """
    path = _resolve(path_or_id, root)
    with storage.open_file(path) as f:
        spec = storage.read_spec(f)
        splits: dict[str, Any] = {}
        for split in spec.splits:
            cls = _VIEWS[spec.split_kind(split)]
            arrays: dict[str, Array] = {}
            for fl in fields(cls):
                name = fl.name
                if name == "observations":
                    key = f"{split}/images" if f"{split}/images" in f else f"{split}/observations"
                    ds = f[key]
                    lazy = ds.dtype == np.uint8 and not in_memory
                    arrays[name] = LazyArray(path, key, ds.shape, ds.dtype) if lazy else ds[()]
                else:
                    key = f"{split}/{name}"
                    if key not in f:
                        raise DataFileError(f"{path}: array {key} is missing; regenerate the file")
                    arrays[name] = f[key][()]
            splits[split] = cls(**arrays)
        return Dataset(path, spec, storage.read_variables(f), storage.read_graph(f), storage.read_structure(f), splits)


def torch_dataset(view: Sequence | Pairs | Triplets | States, *, window: int = 2, image_range: tuple[float, float] = (-1.0, 1.0)):
    """A ``torch.utils.data.Dataset`` over a view; items are dicts of tensors.

    Images become float32 ``(..., 3, H, W)`` scaled to ``image_range`` (CITRIS uses
    [-1, 1]); vector observations become float32. Sequence items are windows of ``window``
    frames: ``observations (L, ...)``, ``latents (L, D)``, ``targets (L, K)``.
    """
    from crlbench.datasets.torch_adapter import TorchView  # noqa: PLC0415

    return TorchView(view, window=window, image_range=image_range)
