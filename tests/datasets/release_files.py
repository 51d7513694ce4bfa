"""Small files in the formats of the original releases, written by the tests.

CITRIS' Temporal Causal3DIdent (``{split}.npz`` with ``imgs`` RGBA, ``raw_latents`` of ten
columns, ``interventions`` of twelve, ``shape_latents``) and ILCM's CausalCircuit (shards of
JPEG image pairs with ``original_latents``, ``intervention_labels``, ``intervention_masks``,
``epsilon``), as their loaders read them.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from crlbench.simulators.causal_circuit import CausalCircuit

TWO_PI = 2 * np.pi
#: The release's column order used by the tests' CausalCircuit files (the importer must
#: find it from the data): red, green, blue, arm.
ILCM_ORDER = ("red", "green", "blue", "arm")


def citris_latents(rng: np.random.Generator, n: int) -> np.ndarray:
    """(n, 10) states in the release's columns (x, y, z, alpha, beta, gamma = 0, theta, hues)."""
    z = np.zeros((n, 10), np.float32)
    z[:, :3] = rng.uniform(-2, 2, (n, 3))
    z[:, [3, 4, 6, 7, 8, 9]] = rng.uniform(0, TWO_PI - 1e-3, (n, 6))
    return z


def citris_flags(rng: np.random.Generator, n: int) -> np.ndarray:
    """(n, 12) coarse intervention flags: position and rotation columns move together."""
    f = (rng.random((n, 12)) < 0.3).astype(np.float64)
    f[:, 0:3] = f[:, :1]
    f[:, 3:6] = f[:, 3:4]
    f[:, [10, 11]] = 0
    return f


def citris_frames(z: np.ndarray, side: int) -> np.ndarray:
    """(..., side, side, 4) uint8 RGBA frames of states (..., 10): a ground darkening towards
    the top in a colour of hue_b, and a square in a colour of hue_o where (y, z) put it.
    Smooth like renders, so that they compress as real frames do."""
    lead = z.shape[:-1]
    rows = np.linspace(0.4, 1.0, side)[:, None, None]
    ground = 0.5 + 0.5 * np.cos(z[..., 9, None] + np.array([0.0, 2.1, 4.2]))  # (..., 3)
    img = ground[..., None, None, :] * rows
    obj = 0.5 + 0.5 * np.cos(z[..., 7, None] + np.array([0.0, 2.1, 4.2]))
    r = ((z[..., 2] + 2) / 4 * (side - side // 4)).astype(int)
    c = ((z[..., 1] + 2) / 4 * (side - side // 4)).astype(int)
    yy, xx = np.arange(side)[:, None], np.arange(side)[None, :]
    inside = (
        (yy >= r[..., None, None])
        & (yy < r[..., None, None] + side // 4)
        & (xx >= c[..., None, None])
        & (xx < c[..., None, None] + side // 4)
    )
    img = np.where(inside[..., None], obj[..., None, None, :], img)
    alpha = np.ones((*lead, side, side, 1))
    return (np.concatenate([img, alpha], axis=-1) * 255).astype(np.uint8)


def write_citris(folder: Path, *, n: int = 12, side: int = 16, seed: int = 0, compressed: bool = True, shapes: bool = False) -> Path:
    """A CITRIS Temporal Causal3DIdent release folder with all five splits crlbench reads."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    save = np.savez_compressed if compressed else np.savez
    for split in ("train", "val", "test", "test_indep"):
        shape_latents = np.zeros((n, 2), np.uint8)
        if shapes:
            shape_latents[:, 0] = rng.integers(0, 7, n)
        z = citris_latents(rng, n)
        save(
            folder / f"{split}.npz",
            imgs=citris_frames(z, side),
            raw_latents=z,
            interventions=citris_flags(rng, n),
            shape_latents=shape_latents,
        )
    a, b = citris_latents(rng, n), citris_latents(rng, n)
    mask = citris_flags(rng, n)
    mask[:, 5] = mask[:, 3]
    c = np.where(mask[:, :10] == 1, b, a)
    save(
        folder / "test_triplets.npz",
        imgs=citris_frames(np.stack([a, b, c], axis=1), side),
        raw_latents=np.stack([a, b, c], axis=1),
        interventions=mask,
        shape_latents=np.zeros((n, 3, 2), np.uint8),
    )
    return folder


def jpeg(image: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="JPEG", quality=95)
    return buf.getvalue()


def ilcm_pairs(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """n CausalCircuit pairs from crlbench's own SCM, in the release's layout and column order."""
    scene = CausalCircuit({}, rng)
    names = [v.name for v in scene.variables]
    order = [names.index(c) for c in ILCM_ORDER]
    labels = np.arange(n) % 5  # none, then each crlbench variable alone
    targets = np.zeros((n, 4), np.uint8)
    targets[labels > 0, labels[labels > 0] - 1] = 1
    noise = scene.sample_noise(rng, n)
    values = scene.sample_intervention(rng, n)
    pre = scene.solve(noise, np.zeros_like(targets), values)
    post = scene.solve(noise, targets, values)
    latents = np.stack([pre, post], axis=1)[..., order].astype(np.float32)
    masks = targets[:, order].astype(bool)
    return {
        "original_latents": latents,
        "intervention_masks": masks,
        "intervention_labels": np.where(masks.any(axis=1), masks.argmax(axis=1) + 1, 0).astype(np.int64),
        "epsilon": np.stack([noise, noise], axis=1)[..., order].astype(np.float32),
    }


def pair_image(z: np.ndarray, side: int) -> np.ndarray:
    """A flat image whose colour encodes red, green, blue: survives JPEG within a few levels."""
    return np.broadcast_to((np.asarray(z[:3]) * 255).astype(np.uint8), (side, side, 3)).copy()


def write_ilcm(folder: Path, *, shards: int = 2, n: int = 15, side: int = 32, seed: int = 0, rendered: bool = False) -> Path:
    """An ILCM CausalCircuit release folder: train-0.npz .. train-{shards-1}.npz, val.npz, test.npz.

    Frames are flat colours of the lights, or with ``rendered`` crlbench's MuJoCo renders
    (JPEG files of a realistic size).
    """
    from crlbench.simulators import render_states

    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    names = [f"train-{i}" for i in range(shards)] + ["val", "test"]
    back = [ILCM_ORDER.index(v) for v in ("arm", "red", "green", "blue")]  # release -> crlbench order
    for name in names:
        d = ilcm_pairs(rng, n)
        z = d["original_latents"].reshape(-1, 4)
        frames = render_states("causal-circuit", z[:, back], resolution=side) if rendered else [pair_image(s, side) for s in z]
        imgs = np.array([jpeg(f) for f in frames]).reshape(n, 2)
        np.savez(folder / f"{name}.npz", imgs=imgs, **d)
    return folder
