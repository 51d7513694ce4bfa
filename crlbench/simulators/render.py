"""Render given latent states of a registered scene (counterfactual images, checks).

:func:`render_states` takes states in the scene's documented dimension order (``crlbench
info ID`` lists them; e.g. Causal3DIdent's ``pos_o.x .. hue_b``) and returns the images of
them made by the renderer the dataset builder uses (identical pixels for deterministic
renderers such as MuJoCo; for path tracers, within their noise). States are checked
first: a wrong width, a NaN or a value outside a variable's support raises
:class:`~crlbench.errors.CrlbenchError` naming the column.

Vector scenes (``toy-son``) observe ``x = R z`` instead of an image; :func:`render_states`
refuses them with a message that says how to get the observations.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from crlbench.errors import CrlbenchError
from crlbench.simulators.base import Scene

__all__ = ["render_states", "check_states", "image_grid", "render_file"]

#: Render seed of every frame: counterfactual images then differ only through their states
#: (path tracers draw the same sample pattern for each).
RENDER_SEED = 0


def _scene(scene_id: str, params: Mapping[str, Any] | None) -> Scene:
    """The registered scene ``scene_id`` with ``params`` (did-you-mean on unknown ids).

    Image scenes have a fixed structure, so the structure generator is only a formality.
    """
    from crlbench.registry import scene_class  # noqa: PLC0415 - heavy modules on first use

    cls = scene_class(scene_id)
    try:
        return cls(dict(params or {}), np.random.default_rng(0))
    except ValueError as e:  # unknown parameters
        raise CrlbenchError(str(e)) from None


def check_states(scene: Scene, latents: Any) -> np.ndarray:
    """``latents`` as (N, D) float64, or a :class:`CrlbenchError` naming the bad column.

    Checks: two dimensions with D columns, finite values, each value inside its variable's
    support (continuous ``[low, high]``, angles ``[0, 2 pi]``, categories ``0 .. n-1``).
    """
    names = [n for v in scene.variables for n in v.dim_names]
    try:
        z = np.asarray(latents, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise CrlbenchError(f"latents must be numbers: {e}") from None
    if z.ndim != 2 or z.shape[1] != len(names):
        raise CrlbenchError(f"latents must be (N, {len(names)}): one row per state, columns {', '.join(names)}; got shape {z.shape}")
    bad = ~np.isfinite(z)
    if bad.any():
        row, col = np.argwhere(bad)[0]
        raise CrlbenchError(f"latents column {col} ({names[col]}) is {z[row, col]} in row {row}; every value must be finite")
    per_dim = [v for v in scene.variables for _ in v.dims]
    lows, highs = np.array([v.low for v in per_dim]), np.array([v.high for v in per_dim])
    out = (z < lows) | (z > highs)
    if out.any():
        row, col = np.argwhere(out)[0]
        raise CrlbenchError(
            f"latents column {col} ({names[col]}) is {z[row, col]:g} in row {row}, outside its range [{lows[col]:g}, {highs[col]:g}]"
        )
    fraction = np.array([v.kind == "categorical" for v in per_dim]) & (z != np.round(z))
    if fraction.any():
        row, col = np.argwhere(fraction)[0]
        raise CrlbenchError(f"latents column {col} ({names[col]}) is {z[row, col]:g} in row {row}; categories are whole numbers")
    return z


def render_states(
    scene_id: str,
    latents: Any,
    *,
    resolution: int = 64,
    params: Mapping[str, Any] | None = None,
    render: Mapping[str, Any] | None = None,
) -> np.ndarray:
    """Render states of a registered image scene.

    Args:
        scene_id: A registered scene (``causal3dident``, ``causal-circuit``).
        latents: (N, D) states, columns in the scene's dimension order.
        resolution: Image side in pixels.
        params: Scene parameters that differ from the scene's defaults.
        render: Render settings (e.g. :data:`crlbench.simulators.blender.REFERENCE_RENDER`);
            ``None``: the scene's defaults, as the registered datasets use.

    Returns:
        (N, resolution, resolution, 3) uint8 images, every frame rendered with render seed
        :data:`RENDER_SEED`.

    Raises:
        CrlbenchError: unknown scene or parameter, a vector scene, bad states.
    """
    scene = _scene(scene_id, params)
    if scene.observation.kind != "image":
        raise CrlbenchError(
            f"scene {scene_id} observes vectors x = R z, not images; its observations of states z are "
            "z @ R.T with R = crlbench.datasets.load(FILE).structure['mixing'] (the rotation of that dataset)"
        )
    if not isinstance(resolution, (int, np.integer)) or resolution < 8:
        raise CrlbenchError(f"resolution must be an integer >= 8 pixels, got {resolution!r}")
    z = check_states(scene, latents)
    if len(z) == 0:
        return np.zeros((0, resolution, resolution, 3), np.uint8)
    with scene.renderer(int(resolution), render) as renderer:
        images = renderer(z, np.full(len(z), RENDER_SEED, dtype=np.uint64))
    return np.asarray(images, dtype=np.uint8)


def image_grid(images: np.ndarray, *, columns: int | None = None, pad: int = 1) -> np.ndarray:
    """(N, H, W, 3) uint8 -> one (rows (H + pad) + pad, columns (W + pad) + pad, 3) image.

    Row-major, white gaps; ``columns`` defaults to ``ceil(sqrt(N))``.
    """
    n, h, w, c = images.shape
    cols = columns or max(1, int(np.ceil(np.sqrt(n))))
    rows = max(1, -(-n // cols))
    out = np.full((rows * (h + pad) + pad, cols * (w + pad) + pad, c), 255, np.uint8)
    for i in range(n):
        r, q = divmod(i, cols)
        out[pad + r * (h + pad) : pad + r * (h + pad) + h, pad + q * (w + pad) : pad + q * (w + pad) + w] = images[i]
    return out


def render_file(
    scene_id: str,
    latents: str | Path,
    out: str | Path,
    *,
    resolution: int = 64,
    params: Mapping[str, Any] | None = None,
    overwrite: bool = False,
) -> np.ndarray:
    """``crlbench render``: states from an ``.npy`` file -> images in ``.npy`` or a PNG grid.

    Args:
        latents: An ``.npy`` file of (N, D) states.
        out: ``*.npy`` (the (N, H, W, 3) uint8 array) or ``*.png`` (one grid of the frames).
        overwrite: Replace an existing ``out`` (otherwise refused before rendering).

    Returns:
        The rendered (N, H, W, 3) images.
    """
    latents, out = Path(latents), Path(out)
    if out.suffix.lower() not in (".npy", ".png"):
        raise CrlbenchError(f"--out {out}: name a .npy file (the image array) or a .png file (a grid of the images)")
    if out.exists() and not overwrite:
        raise CrlbenchError(f"--out {out} exists; pass --overwrite to replace it, or choose another file")
    if latents.suffix.lower() != ".npy" or not latents.is_file():
        what = "no such file" if not latents.exists() else "not a .npy file"
        raise CrlbenchError(f"--latents {latents}: {what}; save the (N, D) states with numpy.save(FILE.npy, states)")
    try:
        z = np.load(latents, allow_pickle=False)
    except (OSError, ValueError) as e:
        raise CrlbenchError(f"--latents {latents}: not a readable .npy array ({e})") from None
    images = render_states(scene_id, z, resolution=resolution, params=params)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    if out.suffix.lower() == ".npy":
        with open(tmp, "wb") as fh:
            np.save(fh, images)
    else:
        from PIL import Image  # noqa: PLC0415

        Image.fromarray(image_grid(images)).save(tmp, format="PNG")
    os.replace(tmp, out)  # never a half-written output under the final name
    return images
