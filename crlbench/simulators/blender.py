"""Blender (``bpy``) renderer of the Causal3DIdent scene; the only module that imports bpy.

One :class:`BlenderRenderer` per worker process builds the Blender scene once (camera,
spotlight, ground plane, one mesh object per shape) and then, per frame, changes only what
the state moves: the object's location, rotation, colour and visibility, the spotlight's
location, aim and colour, and the plane's colour. Colours go through the objects' ``color``
property read by an *Object Info* shader node, so no shader is recompiled between frames.
Cycles renders each frame to an image in memory-backed temporary storage, read back as uint8.

Geometry of the original (Causal3DIdent, after CITRIS and cl-ica):
- object scaled 1.5 at (x, y, z), Euler rotation (alpha, beta, 0), colour HSV(hue_o, 1, 1);
- spotlight at (4 sin(theta), 4 cos(theta), 6 + object size), aimed at the object, cone 35
  degrees, colour HSV(hue_s, 0.8, 1);
- a large ground plane below the object, colour HSV(hue_b, 0.6, 1);
- diffuse materials only (reflections off), direct light only, and an ambient fill (an
  emission term that only camera rays see, 0.35 of the surface colour) in place of the
  original's unknown world lighting; anti-aliasing is then the only noise left.
The camera looks straight down at the plane, so x and y move the object in the image and
z changes its apparent size (the original camera and world are not public: these are ours).

Render settings (the ``render`` mapping of a DatasetSpec; they change pixels and are part
of the spec hash): ``engine`` ("cycles"), ``samples``, ``denoise`` (bool), ``denoiser``
("OPENIMAGEDENOISE"), ``denoise_quality`` ("HIGH", "BALANCED", "FAST"), ``denoise_prefilter``
("ACCURATE", "FAST", "NONE"). :data:`REFERENCE_RENDER` is the original's look (128 samples,
denoised); :data:`DEFAULT_RENDER` the fast default measured against it (docs/scenes).
``threads`` does not change pixels; 0 (the default) means the worker's share of the cores
(:func:`crlbench.executors.worker_threads`), or every core outside a worker.
"""

from __future__ import annotations

import colorsys
import contextlib
import math
import os
import sys
import tempfile
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

import numpy as np

from crlbench.errors import CrlbenchError
from crlbench.executors import worker_threads
from crlbench.simulators.base import Renderer
from crlbench.simulators.shapes import Mesh

__all__ = ["REFERENCE_RENDER", "DEFAULT_RENDER", "RENDER_KEYS", "import_bpy", "BlenderRenderer", "SceneLayout"]

#: The original's render settings: Cycles, 128 samples, denoised (default OIDN settings).
REFERENCE_RENDER: dict[str, Any] = {
    "engine": "cycles",
    "samples": 128,
    "denoise": True,
    "denoiser": "OPENIMAGEDENOISE",
    "denoise_quality": "HIGH",
    "denoise_prefilter": "ACCURATE",
}
#: The fast default: Cycles at 4 samples, no denoising. The fastest setting measured within
#: both bounds of the reference (MAE < 2 grey levels and PSNR > 35 dB); docs/scenes.
DEFAULT_RENDER: dict[str, Any] = {
    "engine": "cycles",
    "samples": 4,
    "denoise": False,
    "denoiser": "OPENIMAGEDENOISE",
    "denoise_quality": "HIGH",
    "denoise_prefilter": "ACCURATE",
}
RENDER_KEYS = frozenset(REFERENCE_RENDER) | {"threads"}

OBJECT_SCALE = 1.5
SPOT_RADIUS = 4.0
SPOT_HEIGHT = 6.0 + OBJECT_SCALE  # "6 + object size"
SPOT_CONE_DEG = 35.0
PLANE_Z = -4.0  # below the lowest object (z = -2 minus its radius 1.5)
CAMERA_Z = 12.0
BOUNCES = 0  # direct light only (reflections off, as the original); the ambient fill is emission
AMBIENT = 0.35
CAMERA_FOV_DEG = 36.0


def import_bpy() -> Any:
    """Import ``bpy`` or raise a :class:`CrlbenchError` that names the pip extra."""
    if "bpy" not in sys.modules:
        # A process started with "spawn" from one that had imported bpy inherits Blender's
        # script folders at the head of sys.path; their `bpy` package shadows the real
        # module (ImportError: No module named '_bpy'). Blender adds them back on import.
        marker = os.sep + "bpy" + os.sep
        sys.path[:] = [p for p in sys.path if not (marker in p and os.sep + "scripts" in p)]
    try:
        import bpy  # noqa: PLC0415 - heavy and optional: imported only when rendering
    except ImportError as e:
        raise CrlbenchError(
            "the Causal3DIdent renderer needs Blender's Python module `bpy` (5.0.x, Python 3.11, "
            f'numpy < 2); install it with: pip install "crlbench[blender]"  ({e})'
        ) from e
    return bpy


def hsv(hue_angle: float, s: float, v: float) -> tuple[float, float, float, float]:
    """RGBA of a hue given as an angle in radians (mapped to [0, 1)) and S, V."""
    h = (float(hue_angle) / (2 * math.pi)) % 1.0
    return (*colorsys.hsv_to_rgb(h, s, v), 1.0)


class SceneLayout:
    """Where the parts of one state sit in a latent vector (set by the scene).

    Args:
        pos, rot, rot_s, hue_o, hue_s, hue_b: Column indices (pos: 3, rot: 2, others: 1).
        shape: Column of obj_s, or ``None`` when there is a single shape.
    """

    def __init__(
        self,
        pos: Sequence[int],
        rot: Sequence[int],
        rot_s: int,
        hue_o: int,
        hue_s: int,
        hue_b: int,
        shape: int | None,
    ) -> None:
        self.pos, self.rot, self.rot_s = list(pos), list(rot), rot_s
        self.hue_o, self.hue_s, self.hue_b, self.shape = hue_o, hue_s, hue_b, shape


class BlenderRenderer(Renderer):
    """A worker-local Cycles scene, built once and reused across frames.

    Args:
        meshes: One mesh per shape index (``shapes.Mesh``).
        layout: Latent columns of each scene part.
        resolution: Image side in pixels.
        render: Render settings (see the module docstring); missing keys take
            :data:`DEFAULT_RENDER`.
    """

    def __init__(
        self, meshes: Sequence[Mesh], layout: SceneLayout, resolution: int, render: Mapping[str, Any] | None = None
    ) -> None:
        render = dict(render or {})
        unknown = set(render) - RENDER_KEYS
        if unknown:
            raise CrlbenchError(f"unknown render setting(s) {sorted(unknown)}; known: {sorted(RENDER_KEYS)}")
        self.settings = {**DEFAULT_RENDER, **render}
        if self.settings["engine"] != "cycles":
            raise CrlbenchError(
                f"render engine {self.settings['engine']!r} is not supported: EEVEE takes seconds per "
                "frame headless and Workbench ignores the spotlight; use 'cycles'"
            )
        self.layout = layout
        self.resolution = int(resolution)
        self.bpy = bpy = import_bpy()
        self._tmp = tempfile.TemporaryDirectory(prefix="crlbench-blender-", dir=_fast_tmp())
        self._path = str(Path(self._tmp.name) / "frame.bmp")

        bpy.ops.wm.read_factory_settings(use_empty=True)
        scene = bpy.context.scene
        self.scene = scene
        self._setup_render(scene)
        self._setup_world(scene)

        # Camera, straight down at the plane.
        cam_data = bpy.data.cameras.new("camera")
        cam_data.angle = math.radians(CAMERA_FOV_DEG)
        cam_data.clip_end = 100.0
        cam = bpy.data.objects.new("camera", cam_data)
        cam.location = (0.0, 0.0, CAMERA_Z)
        scene.collection.objects.link(cam)
        scene.camera = cam

        # Ground plane, coloured through its object colour.
        plane_mat = self._material("plane")
        mesh = bpy.data.meshes.new("plane")
        s = 50.0
        mesh.from_pydata([(-s, -s, 0), (s, -s, 0), (s, s, 0), (-s, s, 0)], [], [(0, 1, 2, 3)])
        mesh.materials.append(plane_mat)
        self.plane = bpy.data.objects.new("plane", mesh)
        self.plane.location = (0.0, 0.0, PLANE_Z)
        scene.collection.objects.link(self.plane)

        # One object per shape; only the current one is rendered.
        obj_mat = self._material("object")
        self.objects = []
        for i, (verts, faces) in enumerate(meshes):
            m = bpy.data.meshes.new(f"shape{i}")
            m.from_pydata([tuple(v) for v in np.asarray(verts, dtype=float)], [], [tuple(f) for f in faces])
            m.validate()
            m.shade_smooth()
            m.materials.append(obj_mat)
            o = bpy.data.objects.new(f"shape{i}", m)
            o.scale = (OBJECT_SCALE,) * 3
            o.rotation_mode = "XYZ"
            o.hide_render = i != 0
            scene.collection.objects.link(o)
            self.objects.append(o)
        self._shown = 0

        # Spotlight, aimed at the object by a track-to constraint on an empty target.
        light = bpy.data.lights.new("spot", type="SPOT")
        light.spot_size = math.radians(SPOT_CONE_DEG)
        light.spot_blend = 0.15
        light.shadow_soft_size = 0.0  # a hard spot: no shadow noise at low sample counts
        light.energy = 4000.0
        self.light = light
        self.spot = bpy.data.objects.new("spot", light)
        scene.collection.objects.link(self.spot)
        self.target = bpy.data.objects.new("target", None)
        scene.collection.objects.link(self.target)
        track = self.spot.constraints.new(type="TRACK_TO")
        track.target = self.target
        track.track_axis = "TRACK_NEGATIVE_Z"
        track.up_axis = "UP_Y"

    # --- setup ---------------------------------------------------------------------------
    def _setup_render(self, scene: Any) -> None:
        st = self.settings
        r = scene.render
        r.engine = "CYCLES"
        r.resolution_x = r.resolution_y = self.resolution
        r.resolution_percentage = 100
        r.use_persistent_data = True  # keep the BVH and shaders between frames
        r.dither_intensity = 0.0  # no output dithering: it is noise the reference does not need
        r.image_settings.file_format = "BMP"  # uncompressed: cheap to write and to parse
        r.image_settings.color_mode = "RGB"
        threads = int(st.get("threads", 0) or worker_threads() or 0)
        r.threads_mode = "FIXED" if threads > 0 else "AUTO"
        if threads > 0:
            r.threads = threads
        scene.view_settings.view_transform = "Standard"
        scene.view_settings.look = "None"
        c = scene.cycles
        c.device = "CPU"
        c.samples = int(st["samples"])
        c.use_adaptive_sampling = False  # fixed sample count: the same cost for every frame
        c.use_denoising = bool(st["denoise"])
        c.denoiser = st["denoiser"]
        c.denoising_quality = st["denoise_quality"]
        c.denoising_prefilter = st["denoise_prefilter"]
        c.denoising_input_passes = "RGB_ALBEDO_NORMAL"
        # Reflections off (diffuse materials); short light paths, no caustics.
        c.max_bounces = BOUNCES
        c.diffuse_bounces = BOUNCES
        c.glossy_bounces = 0
        c.transmission_bounces = 0
        c.transparent_max_bounces = 0
        c.volume_bounces = 0
        c.caustics_reflective = False
        c.caustics_refractive = False
        c.sample_clamp_indirect = 10.0
        c.use_auto_tile = False
        c.use_light_tree = False

    def _setup_world(self, scene: Any) -> None:
        world = self.bpy.data.worlds.new("world")
        tree = _node_tree(world)
        bg = tree.nodes.get("Background") or tree.nodes.new("ShaderNodeBackground")
        bg.inputs["Color"].default_value = (0.0, 0.0, 0.0, 1.0)
        bg.inputs["Strength"].default_value = 0.0
        scene.world = world

    def _material(self, name: str) -> Any:
        """A diffuse material whose colour is the object's ``color`` property."""
        mat = self.bpy.data.materials.new(name)
        tree = _node_tree(mat)
        # The emission term is an ambient fill, not a light: never sample it as one.
        mat.cycles.emission_sampling = "NONE"
        nodes, links = tree.nodes, tree.links
        nodes.clear()
        info = nodes.new("ShaderNodeObjectInfo")
        bsdf = nodes.new("ShaderNodeBsdfDiffuse")
        glow = nodes.new("ShaderNodeEmission")
        # Ambient fill seen by the camera only: rays from other surfaces must not pick it up
        # (else every surface lights every other one, a source of sparse fireflies).
        path = nodes.new("ShaderNodeLightPath")
        scale = nodes.new("ShaderNodeMath")
        scale.operation = "MULTIPLY"
        scale.inputs[1].default_value = AMBIENT
        links.new(path.outputs["Is Camera Ray"], scale.inputs[0])
        links.new(scale.outputs["Value"], glow.inputs["Strength"])
        add = nodes.new("ShaderNodeAddShader")
        out = nodes.new("ShaderNodeOutputMaterial")
        links.new(info.outputs["Color"], bsdf.inputs["Color"])
        links.new(info.outputs["Color"], glow.inputs["Color"])
        links.new(bsdf.outputs["BSDF"], add.inputs[0])
        links.new(glow.outputs["Emission"], add.inputs[1])
        links.new(add.outputs["Shader"], out.inputs["Surface"])
        return mat

    # --- per frame -----------------------------------------------------------------------
    def set_state(self, z: np.ndarray) -> None:
        """Move the Blender scene to one (D,) state."""
        lay = self.layout
        shape = 0 if lay.shape is None else int(round(float(z[lay.shape])))
        if shape != self._shown:
            self.objects[self._shown].hide_render = True
            self.objects[shape].hide_render = False
            self._shown = shape
        obj = self.objects[shape]
        x, y, zz = (float(z[i]) for i in lay.pos)
        obj.location = (x, y, zz)
        obj.rotation_euler = (float(z[lay.rot[0]]), float(z[lay.rot[1]]), 0.0)
        obj.color = hsv(z[lay.hue_o], 1.0, 1.0)
        theta = float(z[lay.rot_s])
        self.spot.location = (SPOT_RADIUS * math.sin(theta), SPOT_RADIUS * math.cos(theta), SPOT_HEIGHT)
        self.target.location = (x, y, zz)
        self.light.color = hsv(z[lay.hue_s], 0.8, 1.0)[:3]
        self.plane.color = hsv(z[lay.hue_b], 0.6, 1.0)

    def render_one(self, z: np.ndarray, seed: int) -> np.ndarray:
        """(H, W, 3) uint8 image of one state."""
        self.set_state(z)
        self.scene.cycles.seed = int(seed) % (2**31 - 1)
        self.scene.render.filepath = self._path
        self.bpy.ops.render.render(write_still=True)
        return _read_bmp(self._path)

    def __call__(self, latents: np.ndarray, seeds: np.ndarray) -> np.ndarray:
        latents = np.atleast_2d(np.asarray(latents, dtype=np.float64))
        seeds = np.asarray(seeds, dtype=np.uint64).reshape(-1)
        if len(seeds) != len(latents):
            raise ValueError(f"got {len(latents)} states but {len(seeds)} render seeds")
        out = np.empty((len(latents), self.resolution, self.resolution, 3), dtype=np.uint8)
        with _quiet():  # Blender prints a "Saved: ..." line per frame on the C-level stdout
            for i, (z, s) in enumerate(zip(latents, seeds)):
                out[i] = self.render_one(z, int(s))
        return out

    def close(self) -> None:
        if getattr(self, "_tmp", None) is not None:
            self._tmp.cleanup()
            self._tmp = None


def _node_tree(owner: Any) -> Any:
    """The shader node tree of a world or material (always there from Blender 5.0 on;
    ``use_nodes``, needed before, is deprecated there)."""
    if owner.node_tree is None:  # Blender < 5
        owner.use_nodes = True
    return owner.node_tree


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Send file descriptor 1 (C-level stdout) to /dev/null for the duration."""
    try:
        sys.stdout.flush()
        saved = os.dup(1)
    except (OSError, ValueError, AttributeError):  # no real stdout (some notebooks)
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)


def _fast_tmp() -> str | None:
    """A RAM-backed folder for the per-frame image when there is one (Linux /dev/shm)."""
    return "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None


def _read_bmp(path: str) -> np.ndarray:
    """(H, W, 3) uint8 RGB of an uncompressed 24-bit BMP (as Blender writes it)."""
    data = np.fromfile(path, dtype=np.uint8)
    offset = int(data[10:14].view("<u4")[0])
    w, h = (int(v) for v in data[18:26].view("<i4"))
    bpp = int(data[28:30].view("<u2")[0])
    if bpp != 24:
        raise RuntimeError(f"expected a 24-bit BMP from Blender, got {bpp} bits per pixel")
    stride = (3 * w + 3) // 4 * 4
    rows = data[offset : offset + stride * abs(h)].reshape(abs(h), stride)[:, : 3 * w].reshape(abs(h), w, 3)
    img = rows[:, :, ::-1]  # BGR -> RGB
    return np.ascontiguousarray(img[::-1] if h > 0 else img)  # positive height: bottom-up rows
