"""Meshes for Causal3DIdent: the Utah teapot and six further shapes, all generated in code.

Every builder returns ``(vertices, faces)``: float64 ``(V, 3)`` and a list of index tuples
(triangles or quads), z up, in scene units at scale 1 (the scene scales them by 1.5, as the
original does).

The teapot is tessellated from Martin Newell's 32 bicubic Bezier patches (public domain;
``assets/teapot_bezier.json`` says where the numbers come from) and placed as the
original's: 2.961 x 2.961 x 1.999, its spout towards (+x, -y) (the long axis on the
diagonal, so the bounding box is square), its origin on the body's axis 0.907 above the
base. The original dataset's six other meshes (armadillo, hare, cow, dragon, head, horse)
are scans that may not be redistributed, so crlbench ships six distinct procedural shapes
instead, chosen to be mostly asymmetric so that the object rotation stays visible;
:func:`load_obj` reads a user's own meshes (for example the original ones). Those are
centred on their bounding box and scaled to the teapot's largest dimension, so every shape
sits in the scene as the teapot does.

This module imports no Blender: it is plain numpy and runs in the unit tests.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

import numpy as np

from crlbench.errors import CrlbenchError

__all__ = ["Mesh", "SHAPES", "BUILTIN_SHAPES", "TEAPOT_DIMENSIONS", "teapot", "load_obj", "get_mesh", "normalize"]

Mesh = tuple[np.ndarray, list[tuple[int, ...]]]

_ASSETS = Path(__file__).parent / "assets"

#: The original teapot's bounding box at scale 1 (x, y, z).
TEAPOT_DIMENSIONS = (2.961, 2.961, 1.999)
#: Its origin's height above its base.
TEAPOT_ORIGIN_HEIGHT = 0.907


def normalize(vertices: np.ndarray) -> np.ndarray:
    """Centre on the bounding-box centre, scale the largest dimension to the teapot's."""
    v = np.asarray(vertices, dtype=np.float64)
    v = v - (v.min(axis=0) + v.max(axis=0)) / 2
    span = (v.max(axis=0) - v.min(axis=0)).max()
    return v * (max(TEAPOT_DIMENSIONS) / span if span > 0 else 1.0)


def _weld(vertices: np.ndarray, faces: np.ndarray, decimals: int = 6) -> Mesh:
    """Merge coincident vertices (patch seams) and drop faces that collapse to < 3 corners."""
    key = np.round(vertices, decimals)
    uniq, inverse = np.unique(key, axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    out: list[tuple[int, ...]] = []
    for f in inverse[faces]:
        corners: list[int] = []
        for i in f.tolist():
            if i not in corners:
                corners.append(i)
        if len(corners) >= 3:
            out.append(tuple(corners))
    return uniq, out


def _grid_faces(nu: int, nv: int, wrap_u: bool = False, wrap_v: bool = False) -> np.ndarray:
    """Quads (as (F, 4) indices) over an ``nu x nv`` grid of points, optionally closed."""
    iu = np.arange(nu if wrap_u else nu - 1)
    iv = np.arange(nv if wrap_v else nv - 1)
    u, v = np.meshgrid(iu, iv, indexing="ij")
    u, v = u.ravel(), v.ravel()
    u1, v1 = (u + 1) % nu, (v + 1) % nv
    return np.stack([u * nv + v, u1 * nv + v, u1 * nv + v1, u * nv + v1], axis=1)


def _surface(points: np.ndarray, wrap_u: bool = False, wrap_v: bool = False) -> Mesh:
    nu, nv, _ = points.shape
    return _weld(points.reshape(-1, 3), _grid_faces(nu, nv, wrap_u, wrap_v))


def _merge(*meshes: Mesh) -> Mesh:
    verts, offset = [], 0
    faces: list[tuple[int, ...]] = []
    for v, f in meshes:
        verts.append(v)
        faces.extend(tuple(i + offset for i in face) for face in f)
        offset += len(v)
    return np.concatenate(verts), faces


# --- the teapot ----------------------------------------------------------------------


@lru_cache(maxsize=1)
def _teapot_data() -> tuple[np.ndarray, np.ndarray]:
    data = json.loads((_ASSETS / "teapot_bezier.json").read_text())
    return np.asarray(data["patches"], dtype=np.int64), np.asarray(data["vertices"], dtype=np.float64)


def teapot(segments: int = 8) -> Mesh:
    """The Utah teapot: each of Newell's 32 Bezier patches sampled on a grid.

    Args:
        segments: Subdivisions per patch edge (8 gives ~2k faces, plenty at 64x64).
    """
    patches, control = _teapot_data()
    t = np.linspace(0.0, 1.0, segments + 1)
    # Cubic Bernstein basis, (segments+1, 4).
    basis = np.stack([(1 - t) ** 3, 3 * t * (1 - t) ** 2, 3 * t**2 * (1 - t), t**3], axis=1)
    grids = []
    for patch in patches:
        cp = control[patch].reshape(4, 4, 3)
        grids.append(np.einsum("ui,vj,ijc->uvc", basis, basis, cp))
    n = segments + 1
    faces = np.concatenate([_grid_faces(n, n) + k * n * n for k in range(len(grids))])
    v, f = _weld(np.concatenate([g.reshape(-1, 3) for g in grids]), faces)
    # Newell's data: body axis = z axis, base at z = 0, spout towards +x. Scale to the
    # original's height, turn the spout to (+x, -y), lower the base below the origin.
    v = v * (TEAPOT_DIMENSIONS[2] / np.ptp(v[:, 2]))
    h = np.sqrt(0.5)  # cos and sin of the -45 degree turn about z
    x, y, z = v.T
    return np.stack([h * (x + y), h * (y - x), z - z.min() - TEAPOT_ORIGIN_HEIGHT], axis=1), f


# --- six procedural shapes -------------------------------------------------------------


def _frames(curve: np.ndarray, closed: bool) -> tuple[np.ndarray, np.ndarray]:
    """Rotation-minimising normal/binormal frames along a polyline (parallel transport)."""
    tangent = np.gradient(curve, axis=0)
    if closed:
        tangent = np.roll(curve, -1, axis=0) - np.roll(curve, 1, axis=0)
    tangent /= np.linalg.norm(tangent, axis=1, keepdims=True)
    ref = np.array([0.0, 0.0, 1.0]) if abs(tangent[0, 2]) < 0.9 else np.array([1.0, 0.0, 0.0])
    normal = np.empty_like(curve)
    normal[0] = np.cross(tangent[0], ref)
    normal[0] /= np.linalg.norm(normal[0])
    for i in range(1, len(curve)):
        n = normal[i - 1] - tangent[i] * (normal[i - 1] @ tangent[i])
        normal[i] = n / np.linalg.norm(n)
    return normal, np.cross(tangent, normal)


def _tube(curve: np.ndarray, radius: float | np.ndarray, closed: bool, sides: int = 12) -> Mesh:
    normal, binormal = _frames(curve, closed)
    phi = np.linspace(0, 2 * np.pi, sides, endpoint=False)
    r = np.broadcast_to(np.asarray(radius, dtype=np.float64), (len(curve),))[:, None, None]
    pts = curve[:, None, :] + r * (np.cos(phi)[None, :, None] * normal[:, None, :] + np.sin(phi)[None, :, None] * binormal[:, None, :])
    return _surface(pts, wrap_u=closed, wrap_v=True)


def _revolve(radius: np.ndarray, height: np.ndarray, sides: int = 24) -> Mesh:
    """Surface of revolution about z of the profile ``(radius[i], height[i])``."""
    phi = np.linspace(0, 2 * np.pi, sides, endpoint=False)
    pts = np.stack(
        [radius[:, None] * np.cos(phi), radius[:, None] * np.sin(phi), np.broadcast_to(height[:, None], (len(radius), sides))],
        axis=-1,
    )
    return _surface(pts, wrap_v=True)


def _box(lo: tuple[float, float, float], hi: tuple[float, float, float]) -> Mesh:
    x0, y0, z0 = lo
    x1, y1, z1 = hi
    v = np.array(
        [[x0, y0, z0], [x1, y0, z0], [x1, y1, z0], [x0, y1, z0], [x0, y0, z1], [x1, y0, z1], [x1, y1, z1], [x0, y1, z1]],
        dtype=np.float64,
    )
    f: list[tuple[int, ...]] = [(0, 3, 2, 1), (4, 5, 6, 7), (0, 1, 5, 4), (1, 2, 6, 5), (2, 3, 7, 6), (3, 0, 4, 7)]
    return v, f


def knot() -> Mesh:
    """A trefoil knot tube."""
    t = np.linspace(0, 2 * np.pi, 120, endpoint=False)
    c = np.stack([np.sin(t) + 2 * np.sin(2 * t), np.cos(t) - 2 * np.cos(2 * t), -np.sin(3 * t)], axis=1)
    v, f = _tube(c, 0.45, closed=True)
    return normalize(v), f


def spring() -> Mesh:
    """A helical spring of 2.5 turns whose wire thickens towards one end."""
    t = np.linspace(0, 5 * np.pi, 120)
    c = np.stack([np.cos(t), np.sin(t), 0.35 * t], axis=1)
    v, f = _tube(c, np.linspace(0.15, 0.35, len(t)), closed=False)
    return normalize(v), f


def mug() -> Mesh:
    """A cup (open cylinder with a base) with a ring handle on one side."""
    s = np.linspace(0, 1, 12)
    body = _revolve(np.concatenate([0.9 * s[:-1], np.full(12, 0.9)]), np.concatenate([np.zeros(11), 1.6 * s]))
    inner = _revolve(np.full(8, 0.8), np.linspace(1.6, 0.2, 8))
    t = np.linspace(-0.5 * np.pi, 0.5 * np.pi, 30)
    handle = _tube(np.stack([0.9 + 0.5 * np.cos(t), np.zeros_like(t), 0.8 + 0.5 * np.sin(t)], axis=1), 0.12, closed=False)
    v, f = _merge(body, inner, handle)
    return normalize(v), f


def lblock() -> Mesh:
    """A chiral block of four cubes (an 'L' with a cube bent out of its plane)."""
    v, f = _merge(
        _box((0, 0, 0), (1, 1, 3)),
        _box((1, 0, 0), (2, 1, 1)),
        _box((0, 1, 2), (1, 2, 3)),
    )
    return normalize(v), f


def hammer() -> Mesh:
    """A hammer: a round handle and a head with a flat face and a tapered claw."""
    handle = _revolve(np.array([0.0, 0.14, 0.14, 0.0]), np.array([0.0, 0.0, 2.6, 2.6]), sides=16)
    head = _box((-0.3, -0.22, 2.3), (0.5, 0.22, 2.85))
    claw_r = np.array([0.22, 0.22, 0.12, 0.0])
    claw = _revolve(claw_r, np.array([0.0, 0.1, 0.6, 0.8]), sides=16)
    cv = claw[0][:, [2, 1, 0]] * np.array([-1.0, 1.0, 1.0]) + np.array([-0.3, 0.0, 2.57])
    v, f = _merge(handle, head, (cv, claw[1]))
    return normalize(v), f


def star() -> Mesh:
    """A five-pointed star prism, twisted by 60 degrees along its height."""
    k = np.arange(10)
    r = np.where(k % 2 == 0, 1.0, 0.45)
    heights = np.linspace(0.0, 0.8, 6)
    rings = []
    for h in heights:
        a = k * np.pi / 5 + h / 0.8 * np.pi / 3
        rings.append(np.stack([r * np.cos(a), r * np.sin(a), np.full(10, h)], axis=1))
    side = _surface(np.stack(rings), wrap_v=True)
    caps: list[Mesh] = []
    for ring, flip in ((rings[0], True), (rings[-1], False)):
        centre = ring.mean(axis=0, keepdims=True)
        idx: list[tuple[int, ...]] = [(10, (i + 1) % 10, i) if flip else (10, i, (i + 1) % 10) for i in range(10)]
        caps.append((np.concatenate([ring, centre]), idx))
    v, f = _merge(side, *caps)
    return normalize(v), f


#: Built-in shapes in the order of the original's shape slots (teapot first). The hue goal
#: of the object depends on the slot index, not on the name (see causal3dident.py).
SHAPES: dict[str, Callable[[], Mesh]] = {
    "teapot": teapot,
    "knot": knot,
    "spring": spring,
    "mug": mug,
    "lblock": lblock,
    "hammer": hammer,
    "star": star,
}
BUILTIN_SHAPES: tuple[str, ...] = tuple(SHAPES)


def load_obj(path: str | Path) -> Mesh:
    """Read the vertices and polygon faces of a Wavefront OBJ file (normalised).

    Texture/normal indices (``f 1/2/3``) and negative (relative) indices are accepted;
    materials, groups and everything else are ignored.
    """
    p = Path(path)
    if not p.is_file():
        raise CrlbenchError(f"mesh file {str(p)!r} does not exist (from --mesh NAME=PATH)")
    verts: list[list[float]] = []
    faces: list[tuple[int, ...]] = []
    for line in p.read_text(errors="replace").splitlines():
        parts = line.split()
        if not parts:
            continue
        if parts[0] == "v":
            verts.append([float(x) for x in parts[1:4]])
        elif parts[0] == "f":
            idx = [int(tok.split("/")[0]) for tok in parts[1:]]
            faces.append(tuple(i - 1 if i > 0 else len(verts) + i for i in idx))
    if not verts or not faces:
        raise CrlbenchError(f"mesh file {str(p)!r} has no vertices or faces; is it a Wavefront OBJ?")
    return normalize(np.asarray(verts)), faces


#: A user mesh in a spec: ``PATH#sha256=HEX``, so that the spec hash pins the file's content.
_PIN = "#sha256="


def pin_mesh(path: str | Path) -> str:
    """``PATH#sha256=HEX`` of an OBJ file (what ``--mesh NAME=PATH`` writes into a spec)."""
    p = Path(path).resolve()
    if not p.is_file():
        raise CrlbenchError(f"--mesh: no such OBJ file: {str(path)!r}")
    return f"{p}{_PIN}{hashlib.sha256(p.read_bytes()).hexdigest()}"


def get_mesh(name: str, meshes: dict[str, str] | None = None) -> Mesh:
    """The mesh called ``name``: a user OBJ from ``meshes`` if given there, else built in.

    A pinned entry (:func:`pin_mesh`) is checked against the file's content first.
    """
    if meshes and name in meshes:
        path, _, want = meshes[name].partition(_PIN)
        if want and Path(path).is_file():
            got = hashlib.sha256(Path(path).read_bytes()).hexdigest()
            if got != want:
                raise CrlbenchError(
                    f"mesh {name!r} at {path} changed since the dataset spec was written "
                    f"(sha256 {got[:12]}, spec {want[:12]}): restore that file to regenerate "
                    "the dataset, or generate a new one with --mesh"
                )
        return load_obj(path)
    if name not in SHAPES:
        raise CrlbenchError(f"unknown shape {name!r}; built-in shapes are {list(SHAPES)}, or pass an OBJ file with --mesh {name}=PATH")
    return SHAPES[name]()
