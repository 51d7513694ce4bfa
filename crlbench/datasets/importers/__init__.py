"""Import the originally released data into crlbench's HDF5 layout.

Researchers who hold the files released with the papers convert them once, then train and
score them with the same loaders, methods, protocols and metrics as generated data. The known
releases are the rows of :data:`FORMATS`; each has a reader module that documents its files
and how their variables map onto crlbench's:

* ``citris-causal3dident`` (:mod:`.citris`): CITRIS' Temporal Causal3DIdent -> a TRIS
  file of ``causal3dident`` (``causal3dident-tris-citris``);
* ``ilcm-causalcircuit`` (:mod:`.ilcm`): ILCM's CausalCircuit -> a pairs file of
  ``causal-circuit`` (``causal-circuit-pairs-ilcm``).

The file records where it came from in the root attribute ``source`` (JSON: format, folder,
the sha256 of every input file, options); the spec's ``render`` mapping holds the format and a
digest of those sha256s, so the spec hash names the imported content. ``crlbench verify
--regenerate`` re-hashes the input files (:func:`check_sources`) instead of regenerating.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from crlbench.datasets import storage
from crlbench.datasets.card import write_card
from crlbench.datasets.importers import citris, ilcm
from crlbench.datasets.importers.release import Plan, Split, frames, sha256_file
from crlbench.datasets.spec import DatasetSpec, Mode
from crlbench.errors import CrlbenchError

__all__ = ["FORMATS", "ReleaseFormat", "import_release", "check_sources", "is_imported", "foreign_file_hint", "sha256_file", "SOURCE_ATTR"]

#: Root attribute of an imported file (JSON).
SOURCE_ATTR = "source"


@dataclass(frozen=True)
class ReleaseFormat:
    """A known release: the crlbench scene and mode it becomes, and its reader.

    Args:
        tag: The last part of the dataset id (``<scene>-<mode token>-<tag>``).
        read: ``read(folder, **options) -> Plan``; its keyword arguments are the options.
        keys: Arrays every file of the release holds (a name and its aliases).
    """

    name: str
    scene: str
    mode: Mode
    tag: str
    description: str
    read: Callable[..., Plan]
    keys: tuple[tuple[str, ...], ...]


FORMATS: dict[str, ReleaseFormat] = {
    f.name: f
    for f in (
        ReleaseFormat(
            "citris-causal3dident",
            "causal3dident",
            "sequences",
            "citris",
            "CITRIS' Temporal Causal3DIdent: {train,val,test,test_indep,test_triplets}.npz, 64x64 RGBA",
            citris.read,
            citris.KEYS,
        ),
        ReleaseFormat(
            "ilcm-causalcircuit",
            "causal-circuit",
            "pairs",
            "ilcm",
            "ILCM's CausalCircuit: train-0..9.npz, val.npz, test.npz of JPEG image pairs, 512x512",
            ilcm.read,
            ilcm.KEYS,
        ),
    )
}


def _format(name: str) -> ReleaseFormat:
    if name not in FORMATS:
        from crlbench.registry import suggest  # noqa: PLC0415

        raise suggest(name, sorted(FORMATS), "release format", f"Known: {', '.join(FORMATS)}.")
    return FORMATS[name]


def import_release(
    fmt: str,
    source: str | Path,
    out_dir: str | Path,
    *,
    resolution: int | None = None,
    overwrite: bool = False,
    progress: bool = False,
    **options: Any,
) -> Path:
    """Convert an original release into one crlbench HDF5 file.

    Args:
        fmt: A key of :data:`FORMATS`.
        source: The folder holding the release's ``.npz`` files.
        out_dir: Where ``<dataset_id>.h5`` is written (e.g. ``causal3dident-tris-citris.h5``).
        resolution: Image side of the output (areas averaged); default the release's.
        overwrite: Replace an existing output file (otherwise refused, before any work).
        options: The format's options: ``instantaneous`` (citris: the iCITRIS release),
            ``columns`` (ilcm: the release's column order, e.g. ``"arm,red,green,blue"``).

    Returns:
        The path of the complete file; until it is complete it exists only as ``.tmp``.

    Raises:
        CrlbenchError: unknown format or option, a missing file or array (named), arrays of
            the wrong shape, latents outside crlbench's supports, an existing output file.
    """
    from crlbench.registry import MODE_TOKENS  # noqa: PLC0415

    f = _format(fmt)
    takes = [k for k in inspect.signature(f.read).parameters if k != "source"]
    for key in options:
        if key not in takes:
            raise CrlbenchError(f"--{key} does not apply to {f.name}; it takes {', '.join('--' + k for k in takes) or 'no options'}")
    source = Path(source)
    if not source.is_dir():
        raise CrlbenchError(f"{source}: not a folder; pass the folder that holds the release's .npz files")
    dataset_id = f"{f.scene}-{MODE_TOKENS[f.mode]}-{f.tag}"
    out = Path(out_dir) / f"{dataset_id}.h5"
    if out.exists() and not overwrite:
        raise CrlbenchError(f"{out} exists; pass --overwrite to replace it, or choose another --out")
    plan = f.read(source, **options)
    side = plan.native if resolution is None else int(resolution)
    if not 8 <= side <= plan.native:
        raise CrlbenchError(f"resolution must be between 8 and the release's {plan.native} pixels, got {side}")

    hashes = {p.name: sha256_file(p) for p in plan.files}
    spec = DatasetSpec(
        dataset_id=dataset_id,
        scene=f.scene,
        scene_version=plan.scene.version,
        mode=f.mode,
        splits={name: len(s.arrays["latents"]) for name, s in plan.splits.items()},
        params=json.loads(json.dumps(plan.params)),
        resolution=side,
        policy="imported",
        render={"imported": f.name, "source_sha256": hashlib.sha256(json.dumps(hashes, sort_keys=True).encode()).hexdigest()},
    )
    source_info = {
        "format": f.name,
        "description": f.description,
        "folder": str(source.resolve()),
        "files": hashes,
        "resolution": {"release": plan.native, "stored": side},
        "options": plan.options,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    try:
        _write(tmp, spec, plan, side, source_info, progress)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, out)  # a file under its final name is always complete
    write_card(out)
    return out


def _write(path: Path, spec: DatasetSpec, plan: Plan, side: int, source_info: dict[str, Any], progress: bool) -> None:
    from tqdm.auto import tqdm  # noqa: PLC0415

    total = sum(int(np.prod(s.prefix)) for s in plan.splits.values())
    versions = storage.versions_of("numpy", "h5py", "pillow")
    sc = plan.scene
    with (
        storage.Writer(path, spec, sc.variables, sc.graph, sc.structure(), versions) as w,
        tqdm(total=total, unit="frame", desc=spec.dataset_id, disable=not progress) as bar,
    ):
        w.f.attrs[SOURCE_ATTR] = json.dumps(source_info, sort_keys=True)
        for name, split in plan.splits.items():
            for key, a in split.arrays.items():
                w.array(f"{name}/{key}", a)
            w.stream(f"{name}/images", (*split.prefix, side, side, 3), np.dtype(np.uint8), _blocks(split, side, bar))
        w.finish()


def _blocks(split: Split, side: int, bar: Any) -> Iterator[np.ndarray]:
    for block in frames(split.images, side):
        block = split.take(block)
        bar.update(int(np.prod(block.shape[: len(split.prefix)])))
        yield block


# --- what verify and the loaders ask -----------------------------------------------------------


def is_imported(f: Any) -> bool:
    """Whether an open crlbench file was imported from a release (not generated)."""
    return SOURCE_ATTR in f.attrs


def check_sources(f: Any, *, folder: str | Path | None = None) -> list[tuple[str, str, str]]:
    """Re-hash an imported file's input files: ``(key, status, detail)`` per file.

    Args:
        f: The open imported file (its ``source`` attribute lists the inputs).
        folder: Where the release lies now (default: the folder recorded at import).

    Status: ``ok``, ``differs`` (the file changed) or ``missing`` (not found there).
    """
    info = json.loads(str(f.attrs[SOURCE_ATTR]))
    root = Path(folder) if folder is not None else Path(info["folder"])
    out = []
    for name, want in sorted(info["files"].items()):
        p = root / name
        if not p.exists():
            out.append((f"source {name}", "missing", f"not found in {root}; the release was moved or deleted"))
        elif sha256_file(p) != want:
            out.append((f"source {name}", "differs", "sha256 differs from the one recorded at import"))
        else:
            out.append((f"source {name}", "ok", ""))
    return out


def foreign_file_hint(path: str | Path) -> str:
    """For a file that is not HDF5: what it is and, if a release's, how to import it.

    ``""`` for files that are not ``.npz`` archives.
    """
    try:
        with zipfile.ZipFile(path) as zf:
            keys = {n[:-4] for n in zf.namelist() if n.endswith(".npy")}
    except (OSError, zipfile.BadZipFile):
        return ""
    held = f"; it is a NumPy .npz archive holding {', '.join(sorted(keys)) or 'no arrays'}, with no HDF5 header, spec or manifest"
    lacks = {}
    for f in FORMATS.values():
        lacks[f.name] = [k[0] for k in f.keys if not keys & set(k)]
        if not lacks[f.name]:
            return f"{held}; it looks like a file of the {f.name} release: convert its folder with `crlbench import {f.name} FOLDER`"
    return held + "; not a release crlbench imports either (" + "; ".join(f"{n} lacks {', '.join(m)}" for n, m in lacks.items()) + ")"
