"""ILCM's CausalCircuit release -> a crlbench pairs file of ``causal-circuit``.

``train-0.npz`` .. ``train-9.npz`` (or one ``train.npz``), ``val.npz`` and ``test.npz``, as
ILCM's own loader reads them: ``imgs`` (N, 2) JPEG bytes of 512 x 512 frames (decoded
(N, 2, H, W, 3) uint8 arrays are read too), ``original_latents`` (N, 2, 4),
``intervention_labels`` (N,) (0 = none), ``intervention_masks`` (N, 4) and
optionally ``epsilon`` (N, 2, 4) (the noise encodings before and after the intervention).

Mapping: the four columns are put in crlbench's order arm, red, green, blue. The release
does not name its columns; by default the order is read from the data (in pairs with one
target, the arm changes all four variables, green changes itself and red, red and blue only
themselves), or given as ``columns``. The masks become ``targets``; the labels only
cross-check them (label 0: no target; any other label: always the same targets).
``epsilon`` becomes ``noise`` (N, 8), pre then post.
The probe set ``test_indep`` is the pre-intervention half of the test pairs (observational
samples of the SCM).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from crlbench.datasets.importers.release import Concat, Member, Npz, Plan, Split, checked, expect, image_side, scene
from crlbench.errors import CrlbenchError

__all__ = ["read", "infer_columns", "KEYS"]

#: Arrays every file holds.
KEYS = (("imgs",), ("original_latents",), ("intervention_labels",), ("intervention_masks",))


def _find(source: Path) -> dict[str, list[Path]]:
    shards = {int(m.group(1)): p for p in source.glob("train-*.npz") if (m := re.fullmatch(r"train-(\d+)\.npz", p.name))}
    missing = sorted(set(range(max(shards, default=-1) + 1)) - set(shards))
    if missing:
        raise CrlbenchError(
            f"{source}: train-{missing[0]}.npz is missing (found shards {sorted(shards)}); a release's shards run from train-0.npz on"
        )
    train = [shards[i] for i in sorted(shards)] or [source / "train.npz"]
    found = {"train": train, "val": [source / "val.npz"], "test": [source / "test.npz"]}
    for split, paths in found.items():
        if not paths[0].exists():
            name = "train-0.npz .. train-9.npz" if split == "train" else f"{split}.npz"
            present = sorted(q.name for q in source.glob("*.npz"))
            raise CrlbenchError(
                f"{source}: {name} is missing; ILCM's CausalCircuit release holds train-0.npz .. train-9.npz, val.npz and "
                f"test.npz; found {', '.join(present) or 'no .npz files'}"
            )
    return found


def _members(path: Path) -> dict[str, Member]:
    """The arrays of one file by name; ``epsilon`` only where the file has it."""
    z = Npz(path)
    m = {k[0]: z.need(*k) for k in KEYS}
    eps = z.get("epsilon", required=False)
    if eps is not None:
        m["epsilon"] = eps
    imgs = z.need("imgs")
    if imgs.dtype.kind == "S":
        expect(imgs, (None, 2), "S", "encoded images (JPEG bytes) before and after the intervention")
    else:
        expect(imgs, (None, 2, None, None, 3), "u", "uint8 images before and after the intervention")
    expect(z.need("original_latents"), (None, 2, 4), "fiu", "latents before and after the intervention")
    expect(z.need("intervention_labels"), (None,), "iu", "labels (0 = none)")
    expect(z.need("intervention_masks"), (None, 4), "bui", "intervention masks")
    if eps is not None:
        expect(eps, (None, 2, 4), "f", "noise encodings before and after the intervention")
    n = len(z.need("original_latents"))
    for key, a in m.items():
        if len(a) != n:
            raise CrlbenchError(f"{path}: {key!r} has {len(a)} rows but original_latents has {n}")
    return m


def infer_columns(z: np.ndarray, masks: np.ndarray) -> list[int]:
    """The release's column of arm, red, green, blue, from what single interventions change.

    Args:
        z: (N, 2, 4) latents before and after; masks: (N, 4) bool targets.

    Raises:
        CrlbenchError: the pairs do not show every variable intervened alone, or show a
            pattern other than CausalCircuit's graph (arm -> all lights, green -> red).
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
        reach.append(set(np.flatnonzero(changed[rows].any(axis=0)).tolist()) | {j})
    sizes = [len(r) for r in reach]
    arm = [j for j, s in enumerate(sizes) if s == 4]
    green = [j for j, s in enumerate(sizes) if s == 2]
    if len(arm) != 1 or len(green) != 1 or sorted(sizes) != [1, 1, 2, 4]:
        raise CrlbenchError(
            f"cannot tell the release's column order: interventions on its columns change {sizes} variables, not one "
            "column all four (the arm), one two (green and red) and two only themselves; give it with --columns"
        )
    red = next(j for j in reach[green[0]] if j != green[0])
    blue = next(j for j in range(4) if j not in (arm[0], green[0], red))
    return [arm[0], red, green[0], blue]


def _check_labels(split: str, labels: np.ndarray, masks: np.ndarray) -> None:
    """Labels and masks must tell the same story: label 0 = no target, and each other label
    always the same targets (the masks are what is stored; labels only cross-check them)."""
    for label in np.unique(labels):
        rows = np.flatnonzero(labels == label)
        first = masks[rows[0]] if label else np.zeros(masks.shape[1], bool)
        if label and not first.any():
            raise CrlbenchError(f"{split}: pair {rows[0]} has intervention label {label} but no target in its mask")
        bad = rows[(masks[rows] != first).any(axis=1)]
        if len(bad):
            raise CrlbenchError(
                f"{split}: pair {bad[0]} has intervention label {label} but mask {masks[bad[0]].astype(int).tolist()}, "
                f"while label {label} means {first.astype(int).tolist()}; the release's labels and masks disagree"
            )


def read(source: Path, *, columns: str | None = None) -> Plan:
    """The import plan of a release folder.

    Args:
        columns: The release's column order as crlbench names (``"arm,red,green,blue"``);
            ``None``: read it from the training pairs.
    """
    sc = scene("causal-circuit", {})
    names = [v.name for v in sc.variables]
    files = _find(source)
    parts = {split: [_members(p) for p in paths] for split, paths in files.items()}

    def cat(split: str, key: str) -> np.ndarray:
        return np.concatenate([m[key].read() for m in parts[split]])

    if columns is None:
        order = infer_columns(cat("train", "original_latents"), cat("train", "intervention_masks").astype(bool))
        used = "inferred: " + ",".join(f"{n}={c}" for n, c in zip(names, order))
    else:
        given = [c.strip() for c in columns.split(",")]
        if sorted(given) != sorted(names):
            raise CrlbenchError(f"--columns must name each of {', '.join(names)} once, in the release's column order; got {columns}")
        order, used = [given.index(n) for n in names], ",".join(given)

    splits: dict[str, Split] = {}
    for split in files:
        z = cat(split, "original_latents").astype(np.float64)[..., order]
        masks = cat(split, "intervention_masks").astype(bool)
        labels = cat(split, "intervention_labels").astype(np.int64)
        _check_labels(split, labels, masks)
        eps = cat(split, "epsilon") if all("epsilon" in m for m in parts[split]) else None
        noise = np.zeros((len(z), 0)) if eps is None else eps.astype(np.float64)[..., order].reshape(len(z), -1)
        arrays = {"latents": checked(sc, z, f"{source} ({split})"), "targets": masks[:, order].astype(np.uint8), "noise": noise}
        splits[split] = Split(arrays, Concat([m["imgs"] for m in parts[split]]), (len(z), 2))
    test = splits["test"]
    n = len(test.arrays["latents"])
    splits["test_indep"] = Split({"latents": test.arrays["latents"][:, 0]}, test.images, (n,), take=lambda block: block[:, 0])
    native = image_side(splits["train"].images)
    return Plan(sc, dict(sc.params), "pairs", splits, [p for ps in files.values() for p in ps], native, {"columns": used})
