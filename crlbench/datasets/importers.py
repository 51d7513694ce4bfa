"""Import the originally released data into crlbench's HDF5 layout.

Researchers who hold the files released with the papers convert them once, then train and
score on them with the same loaders, methods and metrics as generated data. Two releases
are known (:data:`FORMATS`):

``citris-causal3dident``
    CITRIS' Temporal Causal3DIdent: one folder of ``{split}.npz`` files, each holding
    ``imgs`` (N, H, W, 4) uint8 RGBA frames (64 x 64 in the release), ``raw_latents``
    (N, 10) float (x, y, z, alpha, beta, gamma, theta, hue_o, hue_s, hue_b; gamma is always
    0), ``interventions`` (N or N-1, 12) (the ten latents, shape, material) and optionally
    ``shape_latents`` (N, 2) uint8 (shape, material). CITRIS' other datasets name the first
    three ``images``, ``latents`` and ``targets``; those names are read too. Splits:
    ``train``, ``val``, ``test`` -> TRIS sequences; ``test_indep`` -> the probe set;
    ``test_triplets_coarse`` (else ``test_triplets``) -> triplets, whose files hold (N, 3, ...)
    arrays and the mask in ``interventions``. ``val_indep`` and ``val_triplets`` have no
    crlbench split and are left out.

``ilcm-causalcircuit``
    ILCM's CausalCircuit: ``train-0.npz`` .. ``train-9.npz`` (or one ``train.npz``),
    ``val.npz``, ``test.npz``, each of pairs: ``imgs`` (N, 2) JPEG bytes (512 x 512; decoded
    uint8 arrays (N, 2, H, W, 3) are read too), ``original_latents`` (N, 2, 4) float,
    ``intervention_labels`` (N,) int (0 = none, i = column i-1), ``intervention_masks``
    (N, 4) bool and optionally ``epsilon`` (N, 2, 4) float (pre- and post-intervention noise
    encodings). The probe set ``test_indep`` is the pre-intervention half of the test pairs
    (observational samples of the SCM).

How the original variables map onto crlbench's (docs/datasets.md has the tables):

* Causal3DIdent: crlbench's latents are the release's columns 0, 1, 2, 3, 4, 6, 7, 8, 9
  (gamma dropped; it must be 0), plus the shape index as ``obj_s`` when the release holds
  several shapes. A grouped variable is intervened when any of its columns is. The
  release's interventions row t holds the targets of the step from frame t to t+1, so
  crlbench's ``targets[t + 1]`` is that row and ``targets[0]`` is 0.
* CausalCircuit: the four columns are put in crlbench's order arm, red, green, blue. The
  release does not name its columns; by default the order is read from the data (in pairs
  with one target, the arm changes all four variables, green changes itself and red, red
  and blue only themselves), or given as ``columns``.

The file records where it came from in the ``source`` attribute (JSON: format, folder, the
sha256 of every input file, options); the spec's ``render`` mapping holds the format and a
digest of those sha256s, so the spec hash names the imported content. ``crlbench verify
--regenerate`` re-hashes the input files instead of regenerating.
"""

from __future__ import annotations

import hashlib
import inspect
import io
import json
import os
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

import numpy as np

from crlbench.datasets import storage
from crlbench.datasets.spec import DatasetSpec
from crlbench.errors import CrlbenchError
from crlbench.simulators.base import Scene

__all__ = ["FORMATS", "ReleaseFormat", "import_release", "check_sources", "is_imported", "foreign_file_hint", "sha256_file", "SOURCE_ATTR", "CAUSAL3DIDENT_SHAPES"]

#: Root attribute of an imported file (JSON).
SOURCE_ATTR = "source"
#: Shape slots of the original Causal3DIdent, in the order of ``shape_latents[:, 0]``.
CAUSAL3DIDENT_SHAPES = ("teapot", "armadillo", "hare", "cow", "dragon", "head", "horse")
#: The release's ``raw_latents`` columns, and which of them crlbench keeps.
CITRIS_LATENTS = ("x", "y", "z", "alpha", "beta", "gamma", "theta", "hue_o", "hue_s", "hue_b")
CITRIS_KEEP = (0, 1, 2, 3, 4, 6, 7, 8, 9)
#: crlbench variable -> the release's intervention columns (10 = shape).
CITRIS_TARGETS = ((0, 1, 2), (3, 4, 5), (6,), (7,), (8,), (9,), (10,))
ROWS = 256  # frames per block while streaming images


# --- reading .npz members in row blocks ---------------------------------------------------


class _Member:
    """One array of an ``.npz`` file, read in row blocks (releases hold GBs of frames)."""

    def __init__(self, path: Path, name: str, zf: zipfile.ZipFile) -> None:
        self.path, self.name, self._zf = path, name, zf
        with zf.open(f"{name}.npy") as fp:
            major, _ = np.lib.format.read_magic(fp)
            read = np.lib.format.read_array_header_1_0 if major == 1 else np.lib.format.read_array_header_2_0
            self.shape, self.fortran, self.dtype = read(fp)
        if self.dtype.hasobject:
            raise CrlbenchError(f"{path}: array {name!r} holds Python objects; the release stores plain arrays")

    def __len__(self) -> int:
        return self.shape[0] if self.shape else 0

    def read(self) -> np.ndarray:
        with np.load(self.path, allow_pickle=False) as z:
            return z[self.name]

    def blocks(self, rows: int = ROWS) -> Iterator[np.ndarray]:
        if self.fortran:  # rows are not contiguous on disk: read it whole
            a = self.read()
            yield from (a[i : i + rows] for i in range(0, len(a), rows))
            return
        per = int(np.prod(self.shape[1:], dtype=np.int64)) * self.dtype.itemsize
        with self._zf.open(f"{self.name}.npy") as fp:
            major, _ = np.lib.format.read_magic(fp)
            (np.lib.format.read_array_header_1_0 if major == 1 else np.lib.format.read_array_header_2_0)(fp)
            for start in range(0, len(self), rows):
                n = min(rows, len(self) - start)
                buf = fp.read(n * per)
                if len(buf) != n * per:
                    raise CrlbenchError(f"{self.path}: array {self.name!r} ends early (row {start + len(buf) // max(per, 1)} of {len(self)}); the file is truncated")
                yield np.frombuffer(buf, self.dtype).reshape(n, *self.shape[1:])


class _Npz:
    """An ``.npz`` file of a release: its arrays by name, with clear errors."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self._zf = zipfile.ZipFile(path)
        except (OSError, zipfile.BadZipFile) as e:
            raise CrlbenchError(f"{path}: not a NumPy .npz archive ({e}); the release's files are .npz") from None
        self.keys = sorted(n[:-4] for n in self._zf.namelist() if n.endswith(".npy"))

    def get(self, *names: str, required: bool = True) -> _Member | None:
        """The first present of ``names`` (aliases), or an error naming what is missing."""
        for n in names:
            if n in self.keys:
                return _Member(self.path, n, self._zf)
        if not required:
            return None
        alias = f" (or {' / '.join(repr(n) for n in names[1:])})" if len(names) > 1 else ""
        raise CrlbenchError(f"{self.path}: array {names[0]!r}{alias} is missing; the file has {', '.join(self.keys) or 'no arrays'}")


def _expect(m: _Member, shape: tuple[int | None, ...], kinds: str, what: str) -> None:
    """Shape (None: any size) and dtype kind of a release array, or an error naming it."""
    ok = len(m.shape) == len(shape) and all(s is None or s == t for s, t in zip(shape, m.shape))
    if not ok or m.dtype.kind not in kinds:
        want = "(" + ", ".join("N" if s is None else str(s) for s in shape) + ")"
        raise CrlbenchError(f"{m.path}: array {m.name!r} has shape {m.shape} and dtype {m.dtype}; the release has {want} {what}")


def sha256_file(path: Path, block: int = 1 << 20) -> str:
    """sha256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fp:
        for chunk in iter(lambda: fp.read(block), b""):
            h.update(chunk)
    return h.hexdigest()


# --- images -------------------------------------------------------------------------------


def _resize(frame: np.ndarray, side: int) -> np.ndarray:
    """(H, W, 3) uint8 -> (side, side, 3): area average when shrinking (a box filter)."""
    if frame.shape[0] == side and frame.shape[1] == side:
        return frame
    from PIL import Image  # noqa: PLC0415

    return np.asarray(Image.fromarray(frame).resize((side, side), Image.BOX))


def _decode(data: bytes) -> np.ndarray:
    from PIL import Image  # noqa: PLC0415

    with Image.open(io.BytesIO(data)) as im:
        return np.asarray(im.convert("RGB"))


def _frames(m: _Member, side: int) -> Iterator[np.ndarray]:
    """Row blocks of an image array as uint8 (rows, [2|3,] side, side, 3).

    Arrays of encoded images (bytes per frame) are decoded; RGBA drops its alpha channel.
    """
    for block in m.blocks():
        if block.dtype.kind == "S":
            flat = [_decode(bytes(b)) for b in block.reshape(-1)]
        else:
            flat = list(block.reshape(-1, *block.shape[-3:])[..., :3])
        out = np.stack([_resize(np.ascontiguousarray(f), side) for f in flat])
        yield out.reshape(*block.shape[: block.ndim - (0 if block.dtype.kind == "S" else 3)], side, side, 3)


def _image_side(m: _Member) -> int:
    if m.dtype.kind == "S":
        first = next(m.blocks(1)).reshape(-1)[0]
        return int(_decode(bytes(first)).shape[0])
    return int(m.shape[-3])


# --- the plan of one import ---------------------------------------------------------------


@dataclass
class _Split:
    """One crlbench split of an import: small arrays, and the image member to stream."""

    arrays: dict[str, np.ndarray]
    images: _Member
    prefix: tuple[int, ...]
    take: Callable[[np.ndarray], np.ndarray] = lambda b: b  # row selection of image blocks


@dataclass
class _Plan:
    scene: Scene
    params: dict[str, Any]
    mode: str
    splits: dict[str, _Split]
    files: list[Path]
    native: int
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ReleaseFormat:
    """A known release: the crlbench scene and mode it maps to, and its reader."""

    name: str
    scene: str
    mode: str
    tag: str
    description: str
    read: Callable[..., _Plan]
    keys: tuple[tuple[str, ...], ...] = ()  # arrays every file holds (with their aliases)


def _scene(name: str, params: Mapping[str, Any]) -> Scene:
    from crlbench.registry import scene_class  # noqa: PLC0415

    return scene_class(name)(dict(params), np.random.default_rng(0))


def _checked(scene: Scene, z: np.ndarray, where: str) -> np.ndarray:
    from crlbench.simulators.render import check_states  # noqa: PLC0415

    flat = z.reshape(-1, z.shape[-1])
    try:
        check_states(scene, flat)
    except CrlbenchError as e:
        raise CrlbenchError(f"{where}: {e}") from None
    return z


# --- CITRIS: Temporal Causal3DIdent --------------------------------------------------------


def _citris_file(source: Path, split: str) -> Path | None:
    names = [f"{split}_coarse.npz", f"{split}.npz"] if split.endswith("triplets") else [f"{split}.npz"]
    return next((source / n for n in names if (source / n).exists()), None)


def _read_citris(source: Path, *, instantaneous: bool = False) -> _Plan:
    wanted = {"train": True, "val": True, "test": True, "test_indep": False, "test_triplets": False}
    files: dict[str, Path] = {}
    for split, required in wanted.items():
        p = _citris_file(source, split)
        if p is None and required:
            present = sorted(q.name for q in source.glob("*.npz"))
            raise CrlbenchError(
                f"{source}: {split}.npz is missing; a CITRIS Temporal Causal3DIdent release holds train.npz, val.npz, "
                f"test.npz (and test_indep.npz, test_triplets.npz); found {', '.join(present) or 'no .npz files'}"
            )
        if p is not None:
            files[split] = p
    npz = {split: _Npz(p) for split, p in files.items()}
    members = {}
    for split, z in npz.items():
        lead: tuple[None, ...] = (None, 3) if split == "test_triplets" else (None,)  # type: ignore[assignment]
        imgs, lat = z.get("imgs", "images"), z.get("raw_latents", "latents")
        _expect(imgs, (*lead, None, None, None), "u", "uint8 RGBA frames")
        if imgs.shape[-1] not in (3, 4) or imgs.shape[-2] != imgs.shape[-3]:
            raise CrlbenchError(f"{imgs.path}: {imgs.name!r} has shape {imgs.shape}; the release has square RGBA frames (N, H, H, 4)")
        _expect(lat, (*lead, len(CITRIS_LATENTS)), "fiu", f"latents ({', '.join(CITRIS_LATENTS)})")
        intv = z.get("interventions", "targets", required=split != "test_indep")
        if intv is not None:
            rows = (len(lat) - 1, len(lat)) if split in ("train", "val", "test") else (len(lat),)
            if len(intv.shape) != 2 or intv.shape[0] not in rows or intv.shape[1] < 11:
                raise CrlbenchError(
                    f"{intv.path}: {intv.name!r} has shape {intv.shape}; the release has ({len(lat)}, 12) intervention "
                    "flags (the ten latents, shape, material)"
                )
        shp = z.get("shape_latents", required=False)
        if len(imgs) != len(lat) or (shp is not None and len(shp) != len(lat)):
            raise CrlbenchError(f"{z.path}: arrays of different lengths ({imgs.name} {len(imgs)}, {lat.name} {len(lat)})")
        members[split] = (imgs, lat, intv, shp)

    shapes = {split: (m[3].read()[..., 0].astype(np.int64) if m[3] is not None else None) for split, m in members.items()}
    seen = sorted({int(s) for a in shapes.values() if a is not None for s in np.unique(a)}) or [0]
    if seen[-1] >= len(CAUSAL3DIDENT_SHAPES):
        raise CrlbenchError(f"{source}: shape index {seen[-1]} in shape_latents; the release has {len(CAUSAL3DIDENT_SHAPES)} shapes")
    multi = len(seen) > 1
    # Variables and graph come from crlbench's scene; with several shapes its slots follow
    # the original's (same hue goals), so the built-in shapes only stand in for the table.
    from crlbench.simulators.shapes import SHAPES  # noqa: PLC0415

    stand_in = list(SHAPES)[: len(CAUSAL3DIDENT_SHAPES)] if multi else ["teapot"]
    scene = _scene("causal3dident", {"shapes": stand_in, "instantaneous": instantaneous})
    params = {**scene.params, "shapes": list(CAUSAL3DIDENT_SHAPES) if multi else [CAUSAL3DIDENT_SHAPES[seen[0]]]}
    k = len(scene.variables)

    def latents(split: str) -> np.ndarray:
        raw = members[split][1].read().astype(np.float64)
        gamma = raw[..., CITRIS_LATENTS.index("gamma")]
        if np.any(gamma != 0):
            raise CrlbenchError(f"{files[split]}: gamma (column 5) is not 0; crlbench's Causal3DIdent has no third rotation angle")
        z = raw[..., list(CITRIS_KEEP)]
        if multi:
            z = np.concatenate([z, shapes[split][..., None].astype(np.float64)], axis=-1)
        return _checked(scene, z, str(files[split]))

    def grouped(flags: np.ndarray) -> np.ndarray:
        return np.stack([(flags[..., list(cols)] != 0).any(axis=-1) for cols in CITRIS_TARGETS[:k]], axis=-1).astype(np.uint8)

    splits: dict[str, _Split] = {}
    for split in ("train", "val", "test"):
        z = latents(split)
        flags = grouped(members[split][2].read())
        targets = np.zeros((len(z), k), np.uint8)
        targets[1:] = flags[: len(z) - 1]  # row t: the step from frame t to t+1
        splits[split] = _Split({"latents": z, "targets": targets, "noise": np.zeros((len(z), 0))}, members[split][0], (len(z),))
    if "test_indep" in members:
        z = latents("test_indep")
        splits["test_indep"] = _Split({"latents": z}, members["test_indep"][0], (len(z),))
    if "test_triplets" in members:
        z = latents("test_triplets")
        mask = grouped(members["test_triplets"][2].read())
        mixed = np.where(scene.expand(mask.astype(bool)), z[:, 1], z[:, 0])
        bad = np.argwhere(mixed != z[:, 2])
        if len(bad):
            row, col = bad[0]
            name = [n for v in scene.variables for n in v.dim_names][col]
            raise CrlbenchError(
                f"{files['test_triplets']}: row {row}: the third state's {name} comes from neither state as the mask says; "
                "crlbench's triplets take whole causal variables: use the coarse triplet file (test_triplets_coarse.npz)"
            )
        splits["test_triplets"] = _Split({"latents": z, "mask": mask}, members["test_triplets"][0], (len(z), 3))
    native = int(members["train"][0].shape[-2])
    return _Plan(scene, params, "sequences", splits, list(files.values()), native, {"instantaneous": instantaneous})


# --- ILCM: CausalCircuit -------------------------------------------------------------------


def _ilcm_files(source: Path) -> dict[str, list[Path]]:
    shards = {int(m.group(1)): p for p in source.glob("train-*.npz") if (m := re.fullmatch(r"train-(\d+)\.npz", p.name))}
    if shards:
        missing = sorted(set(range(max(shards) + 1)) - set(shards))
        if missing:
            raise CrlbenchError(f"{source}: train-{missing[0]}.npz is missing (found shards {sorted(shards)}); a release's shards run from train-0.npz on")
        train = [shards[i] for i in sorted(shards)]
    elif (source / "train.npz").exists():
        train = [source / "train.npz"]
    else:
        train = []
    out = {"train": train, "val": [source / "val.npz"], "test": [source / "test.npz"]}
    for split, paths in out.items():
        if not paths or not paths[0].exists():
            name = "train-0.npz .. train-9.npz" if split == "train" else f"{split}.npz"
            present = sorted(q.name for q in source.glob("*.npz"))
            raise CrlbenchError(
                f"{source}: {name} is missing; ILCM's CausalCircuit release holds train-0.npz .. train-9.npz, val.npz and "
                f"test.npz; found {', '.join(present) or 'no .npz files'}"
            )
    return out


def _infer_columns(z: np.ndarray, masks: np.ndarray) -> list[int]:
    """The release's column of arm, red, green, blue, from what single interventions change.

    Raises:
        CrlbenchError: the data do not show every variable intervened alone.
    """
    changed = np.abs(z[:, 1] - z[:, 0]) > 1e-9
    single = masks.sum(axis=1) == 1
    reach = []
    for j in range(masks.shape[1]):
        rows = single & masks[:, j]
        if not rows.any():
            raise CrlbenchError(
                f"cannot tell the release's column order: no pair intervenes on column {j} alone; "
                "give it with --columns (e.g. arm,red,green,blue)"
            )
        reach.append(set(np.flatnonzero(changed[rows].any(axis=0))) | {j})
    sizes = [len(r) for r in reach]
    arm = [j for j in range(4) if sizes[j] == 4]
    green = [j for j in range(4) if sizes[j] == 2]
    if len(arm) != 1 or len(green) != 1:
        raise CrlbenchError(
            f"cannot tell the release's column order from its interventions (columns reach {sizes} variables; expected "
            "one column reaching all four: the arm, and one reaching two: green); give it with --columns"
        )
    red = [j for j in reach[green[0]] if j != green[0]]
    blue = [j for j in range(4) if j not in (arm[0], green[0], red[0])]
    return [arm[0], red[0], green[0], blue[0]]


def _read_ilcm(source: Path, *, columns: str | list[str] | None = None) -> _Plan:
    scene = _scene("causal-circuit", {})
    names = [v.name for v in scene.variables]
    files = _ilcm_files(source)
    parts: dict[str, list[dict[str, _Member | None]]] = {}
    for split, paths in files.items():
        parts[split] = []
        for p in paths:
            z = _Npz(p)
            m = {
                "imgs": z.get("imgs"),
                "original_latents": z.get("original_latents"),
                "intervention_labels": z.get("intervention_labels"),
                "intervention_masks": z.get("intervention_masks"),
                "epsilon": z.get("epsilon", required=False),
            }
            imgs = m["imgs"]
            if imgs.dtype.kind == "S":
                _expect(imgs, (None, 2), "S", "encoded images (JPEG bytes) before and after the intervention")
            else:
                _expect(imgs, (None, 2, None, None, 3), "u", "uint8 images")
            _expect(m["original_latents"], (None, 2, 4), "fiu", "latents before and after the intervention")
            _expect(m["intervention_labels"], (None,), "iu", "labels (0 = none, i = column i-1)")
            _expect(m["intervention_masks"], (None, 4), "bui", "intervention masks")
            if m["epsilon"] is not None:
                _expect(m["epsilon"], (None, 2, 4), "f", "noise encodings before and after the intervention")
            n = len(m["original_latents"])
            for key, a in m.items():
                if a is not None and len(a) != n:
                    raise CrlbenchError(f"{p}: {key!r} has {len(a)} rows but original_latents has {n}")
            parts[split].append(m)

    def cat(split: str, key: str) -> np.ndarray | None:
        got = [m[key].read() for m in parts[split] if m[key] is not None]
        if len(got) != len(parts[split]):
            return None
        return np.concatenate(got)

    if columns is None:
        order = _infer_columns(cat("train", "original_latents"), cat("train", "intervention_masks").astype(bool))
        given = None
    else:
        given = columns.split(",") if isinstance(columns, str) else list(columns)
        if sorted(given) != sorted(names):
            raise CrlbenchError(f"--columns must name each of {', '.join(names)} once, in the release's column order; got {','.join(given)}")
        order = [given.index(n) for n in names]

    splits: dict[str, _Split] = {}
    for split, paths in files.items():
        z = cat(split, "original_latents").astype(np.float64)[..., order]
        masks = cat(split, "intervention_masks").astype(bool)
        labels = cat(split, "intervention_labels").astype(np.int64)
        want = np.where(masks.any(axis=1), masks.argmax(axis=1) + 1, 0)
        bad = np.flatnonzero((masks.sum(axis=1) > 1) | (labels != want))
        if len(bad):
            raise CrlbenchError(f"{split}: pair {bad[0]} has intervention label {labels[bad[0]]} but mask {masks[bad[0]].astype(int).tolist()}")
        eps = cat(split, "epsilon")
        noise = np.zeros((len(z), 0)) if eps is None else eps.astype(np.float64)[..., order].reshape(len(z), -1)
        arrays = {"latents": _checked(scene, z, f"{source} ({split})"), "targets": masks[:, order].astype(np.uint8), "noise": noise}
        splits[split] = _Split(arrays, _Concat([m["imgs"] for m in parts[split]]), (len(z), 2))  # type: ignore[misc]
    test = splits["test"]
    splits["test_indep"] = _Split({"latents": test.arrays["latents"][:, 0]}, test.images, (len(test.arrays["latents"]),), take=lambda b: b[:, 0])
    native = _image_side(parts["train"][0]["imgs"])  # type: ignore[arg-type]
    flat = [p for ps in files.values() for p in ps]
    return _Plan(scene, dict(scene.params), "pairs", splits, flat, native, {"columns": ",".join(given) if given else "inferred: " + ",".join(f"{names[i]}={order[i]}" for i in range(4))})


class _Concat:
    """Several shard members read as one array, block after block."""

    def __init__(self, members: list[_Member]) -> None:
        self.members = members
        self.shape = (sum(len(m) for m in members), *members[0].shape[1:])
        self.dtype = members[0].dtype

    def __len__(self) -> int:
        return self.shape[0]

    def blocks(self, rows: int = ROWS) -> Iterator[np.ndarray]:
        for m in self.members:
            yield from m.blocks(rows)


FORMATS: dict[str, ReleaseFormat] = {
    f.name: f
    for f in (
        ReleaseFormat(
            "citris-causal3dident", "causal3dident", "sequences", "citris",
            "CITRIS' Temporal Causal3DIdent: {train,val,test,test_indep,test_triplets}.npz, 64x64 RGBA", _read_citris,
            (("imgs", "images"), ("raw_latents", "latents")),
        ),
        ReleaseFormat(
            "ilcm-causalcircuit", "causal-circuit", "pairs", "ilcm",
            "ILCM's CausalCircuit: train-0..9.npz, val.npz, test.npz of JPEG image pairs, 512x512", _read_ilcm,
            (("imgs",), ("original_latents",), ("intervention_labels",), ("intervention_masks",)),
        ),
    )
}


def foreign_file_hint(path: str | Path) -> str:
    """For a file that is not HDF5: what it is and, if a release's, how to import it.

    Returns ``""`` for files that are not ``.npz`` archives.
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


def _format(name: str) -> ReleaseFormat:
    if name not in FORMATS:
        from crlbench.registry import suggest  # noqa: PLC0415

        raise suggest(name, sorted(FORMATS), "release format", f"Known: {', '.join(FORMATS)}.")
    return FORMATS[name]


# --- writing -------------------------------------------------------------------------------


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
        fmt: A key of :data:`FORMATS` (``citris-causal3dident``, ``ilcm-causalcircuit``).
        source: The folder holding the release's ``.npz`` files.
        out_dir: Where ``<dataset_id>.h5`` is written (dataset id ``<scene>-<mode>-<tag>``,
            e.g. ``causal3dident-tris-citris``).
        resolution: Image side of the output (area-averaged down); default the release's.
        overwrite: Replace an existing output file.
        options: Format options: ``instantaneous`` (citris: the iCITRIS release),
            ``columns`` (ilcm: the release's column order, e.g. ``"arm,red,green,blue"``).

    Returns:
        The path of the complete file.

    Raises:
        CrlbenchError: unknown format, a missing file or array (named), arrays of the
            wrong shape, latents outside crlbench's ranges, an existing output file.
    """
    from crlbench.datasets.card import write_card  # noqa: PLC0415
    from crlbench.registry import MODE_TOKENS  # noqa: PLC0415

    f = _format(fmt)
    source = Path(source)
    if not source.is_dir():
        raise CrlbenchError(f"{source}: not a folder; pass the folder that holds the release's .npz files")
    takes = [k for k in inspect.signature(f.read).parameters if k != "source"]
    for key in options:
        if key not in takes:
            raise CrlbenchError(f"--{key} does not apply to {f.name}; it takes {', '.join('--' + k for k in takes) or 'no options'}")
    plan = f.read(source, **options)
    side = plan.native if resolution is None else int(resolution)
    if side < 8 or side > plan.native:
        raise CrlbenchError(f"resolution must be between 8 and the release's {plan.native} pixels, got {side}")

    hashes = {p.name: sha256_file(p) for p in plan.files}
    digest = hashlib.sha256(json.dumps(hashes, sort_keys=True).encode()).hexdigest()
    dataset_id = f"{f.scene}-{MODE_TOKENS[plan.mode]}-{f.tag}"
    spec = DatasetSpec(
        dataset_id=dataset_id,
        scene=f.scene,
        scene_version=plan.scene.version,
        mode=plan.mode,  # type: ignore[arg-type]
        splits={s: len(sp.arrays["latents"]) for s, sp in plan.splits.items()},
        params=json.loads(json.dumps(plan.params)),
        resolution=side,
        policy="imported",
        render={"imported": f.name, "source_sha256": digest},
    )
    out = Path(out_dir) / f"{dataset_id}.h5"
    if out.exists() and not overwrite:
        raise CrlbenchError(f"{out} exists; pass --overwrite to replace it, or choose another --out")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    source_info = {
        "format": f.name,
        "description": f.description,
        "folder": str(source.resolve()),
        "files": hashes,
        "resolution": {"release": plan.native, "stored": side},
        "options": plan.options,
    }
    from tqdm.auto import tqdm  # noqa: PLC0415

    total = sum(int(np.prod(sp.prefix)) for sp in plan.splits.values())
    versions = storage.versions_of("numpy", "h5py", "pillow")
    try:
        with storage.Writer(tmp, spec, plan.scene.variables, plan.scene.graph, plan.scene.structure(), versions) as w, tqdm(
            total=total, unit="frame", desc=dataset_id, disable=not progress
        ) as bar:
            w.f.attrs[SOURCE_ATTR] = json.dumps(source_info, sort_keys=True)
            for split, sp in plan.splits.items():
                for name, a in sp.arrays.items():
                    w.array(f"{split}/{name}", a)

                def blocks(sp: _Split = sp) -> Iterator[np.ndarray]:
                    for b in _frames(sp.images, side):  # type: ignore[arg-type]
                        b = sp.take(b)
                        bar.update(int(np.prod(b.shape[: len(sp.prefix)])))
                        yield b

                w.stream(f"{split}/images", (*sp.prefix, side, side, 3), np.dtype(np.uint8), blocks())
            w.finish()
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, out)
    write_card(out)
    return out


# --- verification ---------------------------------------------------------------------------


def check_sources(f: Any, *, folder: str | Path | None = None) -> list[tuple[str, str, str]]:
    """Re-hash an imported file's input files: ``(key, status, detail)`` per input file.

    Args:
        f: The open imported HDF5 file (its ``source`` attribute lists the inputs).
        folder: Where the release lies now (default: the folder recorded at import).

    Status ``ok``, ``differs`` (the file changed) or ``missing`` (not found there).
    """
    info = json.loads(str(f.attrs[SOURCE_ATTR]))
    root = Path(folder) if folder is not None else Path(info["folder"])
    out = []
    for name, want in sorted(info["files"].items()):
        p = root / name
        key = f"source {name}"
        if not p.exists():
            out.append((key, "missing", f"not found in {root}; the release was moved or deleted"))
        elif sha256_file(p) != want:
            out.append((key, "differs", "sha256 differs from the one recorded at import"))
        else:
            out.append((key, "ok", ""))
    return out


def is_imported(f: Any) -> bool:
    """Whether an open crlbench file was imported from a release (not generated)."""
    return SOURCE_ATTR in f.attrs
