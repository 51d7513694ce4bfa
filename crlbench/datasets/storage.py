"""The one HDF5 schema: one writer, one reader.

Layout (one file per dataset)::

    /               attrs: spec (JSON), spec_hash, dataset_id, crlbench_version,
                           versions (JSON: numpy, h5py, renderer libraries),
                           manifest (JSON: sha256 per array), complete (True, written last)
    /variables      names (K,), kinds (K,), low (K,), high (K,), n_categories (K,),
                    dim_names (D,), dim_to_var (D,)
    /graph          temporal (K, K) uint8, instantaneous (K, K) uint8
    /structure      scene-specific arrays (weights, mixing, ...)
    /<split>        latents float64, targets uint8, noise float64, mask uint8 (triplets),
                    images uint8 (N[,2|3],H,W,3) or observations float64 (N[,2|3],D_obs)

A file is complete only when ``complete`` is set; the builder writes to a temporary name and
renames it when done, so a file under its final name is always complete. The reader refuses
anything else with a message that says how to regenerate it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from importlib import metadata
from pathlib import Path
from typing import Any, cast

import h5py
import numpy as np

from crlbench.core import CausalGraph, Kind, Variable
from crlbench.datasets.spec import DatasetSpec
from crlbench.errors import DataFileError

__all__ = [
    "IMAGE_NAMES",
    "array_sha256",
    "Writer",
    "open_file",
    "read_spec",
    "read_variables",
    "read_graph",
    "read_structure",
    "iter_arrays",
    "versions_of",
]

#: Arrays compared within a tolerance on regeneration (renderers are not bit-stable).
IMAGE_NAMES = ("images",)
_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"  # at offset 0 for every file h5py writes
_META_GROUPS = ("variables", "graph", "structure")


def array_sha256(a: np.ndarray | h5py.Dataset, block: int = 4096) -> str:
    """sha256 of an array's dtype, shape and C-order bytes (read in blocks of rows)."""
    h = _Sha(a.dtype, a.shape)
    if a.ndim == 0:
        h.update(np.asarray(a[()]))
    for start in range(0, a.shape[0] if a.ndim else 0, block):
        h.update(a[start : start + block])
    return h.hexdigest()


def _image_chunks(shape: tuple[int, ...]) -> tuple[int, ...]:
    # ~256 KiB chunks: big enough to compress well, small enough for random access.
    per = int(np.prod(shape[1:]))
    rows = int(max(1, min(shape[0], 262_144 // max(per, 1))))
    return (rows, *shape[1:])


class Writer:
    """Writes one dataset file; arrays may be streamed in row blocks (images).

    The manifest (sha256 per array) is computed while writing; :meth:`finish` stores it and
    sets ``complete`` last. Use as a context manager; leaving it with an exception leaves
    the file incomplete, which :func:`open_file` refuses.
    """

    def __init__(
        self,
        path: Path,
        spec: DatasetSpec,
        variables: tuple[Variable, ...],
        graph: CausalGraph,
        structure: Mapping[str, np.ndarray],
        versions: Mapping[str, str],
    ) -> None:
        from crlbench import __version__  # noqa: PLC0415

        self.manifest: dict[str, str] = {}
        self.spec = spec
        self.f = f = h5py.File(path, "w")
        f.attrs["spec"] = spec.to_json()
        f.attrs["spec_hash"] = spec.hash
        f.attrs["dataset_id"] = spec.dataset_id
        f.attrs["crlbench_version"] = __version__
        f.attrs["versions"] = json.dumps(dict(versions), sort_keys=True)
        f.attrs["complete"] = False
        g = f.create_group("variables")
        g["names"] = np.array([v.name for v in variables], dtype=h5py.string_dtype())
        g["kinds"] = np.array([v.kind for v in variables], dtype=h5py.string_dtype())
        g["dims"] = np.array(["|".join(v.dims) for v in variables], dtype=h5py.string_dtype())
        g["low"] = np.array([v.low for v in variables], dtype=np.float64)
        g["high"] = np.array([v.high for v in variables], dtype=np.float64)
        g["n_categories"] = np.array([v.n_categories for v in variables], dtype=np.int64)
        g["dim_names"] = np.array([n for v in variables for n in v.dim_names], dtype=h5py.string_dtype())
        g["dim_to_var"] = np.repeat(np.arange(len(variables)), [v.size for v in variables])
        f["graph/temporal"] = graph.temporal
        f["graph/instantaneous"] = graph.instantaneous
        f.create_group("structure")
        for name, a in structure.items():
            f[f"structure/{name}"] = np.asarray(a)

    def array(self, key: str, data: np.ndarray) -> None:
        """Write a whole (small) array."""
        self.f.create_dataset(key, data=data)
        self.manifest[key] = array_sha256(data)

    def stream(self, key: str, shape: tuple[int, ...], dtype: np.dtype, blocks: Iterator[np.ndarray]) -> None:
        """Write an array of ``shape`` from consecutive row blocks (compressed if images)."""
        image = key.rsplit("/", 1)[-1] in IMAGE_NAMES
        opts: dict[str, Any] = dict(chunks=_image_chunks(shape), compression="gzip", compression_opts=1) if image else {}
        ds = self.f.create_dataset(key, shape=shape, dtype=dtype, **opts)
        h = _Sha(dtype, shape)
        row = 0
        for block in blocks:
            ds[row : row + len(block)] = block
            h.update(block)
            row += len(block)
        if row != shape[0]:
            raise RuntimeError(f"{key}: wrote {row} rows, expected {shape[0]}")
        self.manifest[key] = h.hexdigest()

    def finish(self) -> None:
        """Store the manifest and mark the file complete (last write).

        Only a file that holds this writer's spec and every array it wrote is marked.
        """
        written = set(dict(iter_arrays(self.f)))
        if str(self.f.attrs["spec"]) != self.spec.to_json() or written != set(self.manifest):
            name = self.f.filename
            self.f.close()
            raise DataFileError(
                f"{name}: changed by another writer while being built; it is left "
                "incomplete: run the same `crlbench generate` command again"
            )
        self.f.attrs["manifest"] = json.dumps(self.manifest, sort_keys=True)
        self.f.flush()
        self.f.attrs["complete"] = True
        self.f.close()

    def __enter__(self) -> Writer:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.f.id.valid:
            self.f.close()


class _Sha:
    """Incremental :func:`array_sha256`."""

    def __init__(self, dtype: np.dtype, shape: tuple[int, ...]) -> None:
        self.h = hashlib.sha256(f"{np.dtype(dtype).str}{tuple(shape)}".encode())

    def update(self, block: np.ndarray) -> None:
        self.h.update(np.ascontiguousarray(block).tobytes())

    def hexdigest(self) -> str:
        return self.h.hexdigest()


def open_file(path: str | Path) -> h5py.File:
    """Open a complete crlbench file read-only, or raise :class:`DataFileError` saying why."""
    path = Path(path)
    if not path.exists():
        raise DataFileError(f"{path}: no such file; create it with `crlbench generate DATASET_ID --out DIR`")
    if path.is_dir():
        raise DataFileError(f"{path} is a folder, not a dataset file; name the .h5 files in it (e.g. {path}/*.h5)")
    try:
        with open(path, "rb") as fh:
            magic = fh.read(len(_HDF5_MAGIC))
    except OSError as e:
        raise DataFileError(f"{path}: cannot read it ({e.strerror})") from None
    if magic != _HDF5_MAGIC:
        from crlbench.datasets.importers import foreign_file_hint  # noqa: PLC0415 - names an .npz's arrays

        raise DataFileError(
            f"{path} is not an HDF5 file (another format, or empty); pass a crlbench dataset file (.h5)" + foreign_file_hint(path)
        )
    try:
        f = h5py.File(path, "r")
    except OSError as e:  # an HDF5 header but an unreadable rest: cut short while copied or written
        raise DataFileError(
            f"{path}: not a readable HDF5 file ({e}); it may be truncated: delete it and run `crlbench generate` again"
        ) from None
    if "spec" not in f.attrs:
        f.close()
        raise DataFileError(f"{path}: not a crlbench dataset (no spec attribute)")
    if not f.attrs.get("complete", False):
        f.close()
        raise DataFileError(
            f"{path}: incomplete dataset (generation did not finish); run the same `crlbench generate` command again to resume"
        )
    return f


def read_spec(f: h5py.File) -> DatasetSpec:
    return DatasetSpec.from_json(str(f.attrs["spec"]))


def read_variables(f: h5py.File) -> tuple[Variable, ...]:
    g = f["variables"]
    out = []
    for i, name in enumerate(g["names"].asstr()[:]):
        dims = tuple(str(g["dims"].asstr()[i]).split("|"))
        out.append(
            Variable(
                name,
                cast(Kind, str(g["kinds"].asstr()[i])),  # Variable checks the value
                dims,
                float(g["low"][i]),
                float(g["high"][i]),
                int(g["n_categories"][i]),
            )
        )
    return tuple(out)


def read_graph(f: h5py.File) -> CausalGraph:
    return CausalGraph(temporal=f["graph/temporal"][:], instantaneous=f["graph/instantaneous"][:])


def read_structure(f: h5py.File) -> dict[str, np.ndarray]:
    return {k: v[()] for k, v in f["structure"].items()}


def iter_arrays(f: h5py.File) -> Iterator[tuple[str, h5py.Dataset]]:
    """``(split/name, dataset)`` for every data array (not the metadata groups)."""
    for split, group in f.items():
        if split in _META_GROUPS or not isinstance(group, h5py.Group):
            continue
        for name, ds in group.items():
            yield f"{split}/{name}", ds


def versions_of(*modules: str) -> dict[str, Any]:
    """Installed versions of the named distributions (missing ones are skipped)."""
    out = {}
    for m in modules:
        try:
            out[m] = metadata.version(m)
        except metadata.PackageNotFoundError:
            pass
    return out
