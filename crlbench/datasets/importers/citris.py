"""CITRIS' Temporal Causal3DIdent release -> a crlbench TRIS file of ``causal3dident``.

A folder of ``{split}.npz`` files as CITRIS' own loader reads them: ``imgs`` (N, H, W, 4)
uint8 RGBA (64 x 64), ``raw_latents`` (N, 10) (x, y, z, alpha, beta, gamma, theta, hue_o,
hue_s, hue_b; gamma is always 0), ``interventions`` (N or N-1, 12) (the ten latents, shape,
material) and ``shape_latents`` (N, 2) uint8 (shape, material). CITRIS' other datasets name
the first three ``images``, ``latents`` and ``targets``; those names are read too. Triplet
files hold (N, 3, ...) arrays and the per-column mask in ``interventions``.

Mapping: crlbench keeps columns 0, 1, 2, 3, 4, 6, 7, 8, 9 (gamma must be 0), plus the shape
as ``obj_s`` when the release holds several shapes. A grouped variable is intervened when
any of its columns is. CITRIS' loader pairs frames t and t+1 with row t of the flags, so
crlbench's ``targets[t + 1]`` is row t and ``targets[0]`` is 0.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from crlbench.datasets.importers.release import Member, Npz, Plan, Split, checked, expect, scene
from crlbench.errors import CrlbenchError

__all__ = ["read", "SHAPES", "LATENTS", "KEEP", "TARGETS", "KEYS"]

#: Shape slots of the original, in the order of ``shape_latents[:, 0]``.
SHAPES = ("teapot", "armadillo", "hare", "cow", "dragon", "head", "horse")
#: The release's ``raw_latents`` columns, and those crlbench keeps (in its order).
LATENTS = ("x", "y", "z", "alpha", "beta", "gamma", "theta", "hue_o", "hue_s", "hue_b")
KEEP = (0, 1, 2, 3, 4, 6, 7, 8, 9)
#: crlbench variable -> the release's intervention columns (10: the shape).
TARGETS = ((0, 1, 2), (3, 4, 5), (6,), (7,), (8,), (9,), (10,))
#: Arrays every file holds (a name and its aliases).
KEYS = (("imgs", "images"), ("raw_latents", "latents"))
#: crlbench split -> the release's files, first found wins; required or not.
FILES = {
    "train": (("train.npz",), True),
    "val": (("val.npz",), True),
    "test": (("test.npz",), True),
    "test_indep": (("test_indep.npz",), False),
    "test_triplets": (("test_triplets_coarse.npz", "test_triplets.npz"), False),
}


def _find(source: Path) -> dict[str, Path]:
    found = {}
    for split, (names, required) in FILES.items():
        path = next((source / n for n in names if (source / n).exists()), None)
        if path is None and required:
            present = sorted(q.name for q in source.glob("*.npz"))
            raise CrlbenchError(
                f"{source}: {names[0]} is missing; a CITRIS Temporal Causal3DIdent release holds train.npz, val.npz, "
                f"test.npz (and test_indep.npz, test_triplets.npz); found {', '.join(present) or 'no .npz files'}"
            )
        if path is not None:
            found[split] = path
    return found


def _members(split: str, z: Npz) -> tuple[Member, Member, Member | None, Member | None]:
    """imgs, latents, flags, shapes of one file, their shapes checked."""
    lead: tuple[int | None, ...] = (None, 3) if split == "test_triplets" else (None,)
    imgs, lat = z.need(*KEYS[0]), z.need(*KEYS[1])
    expect(imgs, (*lead, None, None, None), "u", "uint8 RGBA frames")
    if imgs.shape[-1] not in (3, 4) or imgs.shape[-2] != imgs.shape[-3]:
        raise CrlbenchError(f"{imgs.path}: {imgs.name!r} has shape {imgs.shape}; the release has square RGBA frames (N, H, H, 4)")
    expect(lat, (*lead, len(LATENTS)), "fiu", f"latents ({', '.join(LATENTS)})")
    flags = z.get("interventions", "targets", required=split != "test_indep")
    if flags is not None:
        rows = (len(lat) - 1, len(lat)) if split in ("train", "val", "test") else (len(lat),)
        if len(flags.shape) != 2 or flags.shape[0] not in rows or flags.shape[1] < 11:  # at least the ten latents and the shape
            raise CrlbenchError(
                f"{flags.path}: {flags.name!r} has shape {flags.shape}; the release has ({len(lat)}, 12) intervention "
                "flags (the ten latents, shape, material)"
            )
    shapes = z.get("shape_latents", required=False)
    if len(imgs) != len(lat) or (shapes is not None and len(shapes) != len(lat)):
        raise CrlbenchError(f"{z.path}: arrays of different lengths ({imgs.name} {len(imgs)}, {lat.name} {len(lat)})")
    return imgs, lat, flags, shapes


def read(source: Path, *, instantaneous: bool = False) -> Plan:
    """The import plan of a release folder.

    Args:
        instantaneous: The iCITRIS release (the instantaneous graph).
    """
    files = _find(source)
    members = {split: _members(split, Npz(path)) for split, path in files.items()}
    shape_of = {split: (m[3].read()[..., 0].astype(np.int64) if m[3] is not None else None) for split, m in members.items()}
    seen = sorted({int(s) for a in shape_of.values() if a is not None for s in np.unique(a)}) or [0]
    if seen[-1] >= len(SHAPES):
        raise CrlbenchError(f"{source}: shape index {seen[-1]} in shape_latents; the release has {len(SHAPES)} shapes")
    multi = len(seen) > 1
    # Variables and graph come from crlbench's scene. Its shape slots have the original's hue
    # goals, so with several shapes the built-in ones stand in for the originals' meshes.
    from crlbench.simulators.shapes import SHAPES as BUILT_IN  # noqa: PLC0415

    sc = scene("causal3dident", {"shapes": list(BUILT_IN)[: len(SHAPES)] if multi else ["teapot"], "instantaneous": instantaneous})
    params = {**sc.params, "shapes": list(SHAPES) if multi else [SHAPES[seen[0]]]}
    k = len(sc.variables)

    def latents(split: str) -> np.ndarray:
        raw = members[split][1].read().astype(np.float64)
        if np.any(raw[..., LATENTS.index("gamma")] != 0):
            raise CrlbenchError(f"{files[split]}: gamma (column 5) is not 0; crlbench's Causal3DIdent has no third rotation angle")
        z = raw[..., list(KEEP)]
        if multi:
            shapes = shape_of[split]
            if shapes is None:
                raise CrlbenchError(f"{files[split]}: no shape_latents, while the other splits hold several shapes")
            z = np.concatenate([z, shapes[..., None].astype(np.float64)], axis=-1)
        return checked(sc, z, str(files[split]))

    def grouped(split: str) -> np.ndarray:
        flags_member = members[split][2]
        assert flags_member is not None  # _members requires the flags of train, val and test
        flags = flags_member.read()
        return np.stack([(flags[:, list(cols)] != 0).any(axis=-1) for cols in TARGETS[:k]], axis=-1).astype(np.uint8)

    splits: dict[str, Split] = {}
    for split in ("train", "val", "test"):
        z = latents(split)
        targets = np.zeros((len(z), k), np.uint8)
        targets[1:] = grouped(split)[: len(z) - 1]  # row t: the step from frame t to t+1
        splits[split] = Split({"latents": z, "targets": targets, "noise": np.zeros((len(z), 0))}, members[split][0], (len(z),))
    if "test_indep" in members:
        z = latents("test_indep")
        splits["test_indep"] = Split({"latents": z}, members["test_indep"][0], (len(z),))
    if "test_triplets" in members:
        z, mask = latents("test_triplets"), grouped("test_triplets")
        bad = np.argwhere(np.where(sc.expand(mask.astype(bool)), z[:, 1], z[:, 0]) != z[:, 2])
        if len(bad):
            row, col = bad[0]
            name = [n for v in sc.variables for n in v.dim_names][col]
            raise CrlbenchError(
                f"{files['test_triplets']}: row {row}: the third state's {name} comes from neither state as the mask says; "
                "crlbench's triplets take whole causal variables: use the coarse triplet file (test_triplets_coarse.npz)"
            )
        splits["test_triplets"] = Split({"latents": z, "mask": mask}, members["test_triplets"][0], (len(z), 3))
    native = int(members["train"][0].shape[-2])
    return Plan(sc, params, "sequences", splits, list(files.values()), native, {"instantaneous": instantaneous})
