"""Blender (``bpy``) renderer of the Causal3DIdent scene; the only module that imports bpy.

One :class:`BlenderRenderer` per worker process builds the Blender scene once (camera,
lights, ground plane, one mesh object per shape) and then, per frame, changes only what
the state moves: the object's location, rotation, colour and visibility, the spotlight's
location, aim and colour, and the ground's colour. Colours go through the objects' ``color``
property read by an *Object Info* shader node, so no shader is recompiled between frames.
Cycles renders each frame to an image in memory-backed temporary storage, read back as uint8.

The scene is the original's (the 3DIdent base scene of cl-ica as CITRIS renders it), rebuilt
in code from its published facts:
- camera at (8, 0, 8) aimed at the origin (45 degrees down from +x; the image's column
  follows +y), perspective, 35 mm lens on a 50 mm sensor (71 degree field of view);
- a sun (strength 0.5, angle 0.199 rad) straight down, an area light (power 39.27 W, size
  1) at (0, 0, 7) facing down, a black world that emits nothing;
- the object scaled 1.5, its origin at (x, y, z + s / 2), Euler rotation (alpha, beta, 0),
  colour HSV(hue_o, 1, 1), where s is the generator's "object size" (see :data:`OBJECT_SIZE`);
- a ground plane of side 1500 at z = -s, colour HSV(hue_b, 0.6, 1);
- both in CLEVR's *rubber* material: diffuse mixed with a sheen (Ashikhmin, roughness 0.6)
  by Fresnel(IOR 1.4), under a Beckmann glossy layer (roughness sqrt(0.35)) mixed in by
  Fresnel(IOR 1.2);
- a spotlight (power 3000 W, radius 0.5, cone 35 degrees, blend 0.1) at
  (4 sin(theta), 4 cos(theta), 6 + s), aimed at the object's origin, colour HSV(hue_s, 0.8, 1).
  The original sets a constant falloff, which Cycles ignores (inverse-square, as here);
- direct light only (no bounces: "reflections off").
:func:`camera_project` is the same camera as a numpy pinhole model.

Render settings (the ``render`` mapping of a DatasetSpec; they change pixels and are part
of the spec hash): ``engine`` ("cycles"), ``samples``, ``denoise`` (bool), ``denoiser``
("OPENIMAGEDENOISE"), ``denoise_quality`` ("HIGH", "BALANCED", "FAST"), ``denoise_prefilter``
("ACCURATE", "FAST", "NONE"). :data:`REFERENCE_RENDER` is the original's (128 samples,
denoised); :data:`DEFAULT_RENDER` the fast default measured against it (docs/benchmarks.md).
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
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from crlbench.errors import CrlbenchError
from crlbench.executors import worker_threads
from crlbench.simulators.base import Renderer
from crlbench.simulators.shapes import Mesh

__all__ = [
    "REFERENCE_RENDER",
    "DEFAULT_RENDER",
    "RENDER_KEYS",
    "import_bpy",
    "BlenderRenderer",
    "SceneLayout",
    "camera_project",
]

#: The original's render settings: Cycles, 128 samples, denoised (default OIDN settings).
REFERENCE_RENDER: dict[str, Any] = {
    "engine": "cycles",
    "samples": 128,
    "denoise": True,
    "denoiser": "OPENIMAGEDENOISE",
    "denoise_quality": "HIGH",
    "denoise_prefilter": "ACCURATE",
}
#: The fast default: 8 samples, denoised with OIDN's balanced quality and a fast prefilter;
#: measured against the reference in benchmarks/ (docs/benchmarks.md).
DEFAULT_RENDER: dict[str, Any] = {
    "engine": "cycles",
    "samples": 8,
    "denoise": True,
    "denoiser": "OPENIMAGEDENOISE",
    "denoise_quality": "BALANCED",
    "denoise_prefilter": "FAST",
}
RENDER_KEYS = frozenset(REFERENCE_RENDER) | {"threads"}

# The original scene's facts (see the module docstring).
CAMERA_LOCATION = (8.0, 0.0, 8.0)
CAMERA_TARGET = (0.0, 0.0, 0.0)
LENS_MM = 35.0
SENSOR_MM = 50.0
SUN_STRENGTH = 0.5
SUN_ANGLE = 0.199
SUN_HEIGHT = 25.8
AREA_POWER = 39.27
AREA_SIZE = 1.0
AREA_HEIGHT = 7.0
GROUND_SIZE = 1500.0
OBJECT_SCALE = 1.5
#: The "object size" s that lifts the object (z + s / 2), raises the spotlight (6 + s) and
#: sinks the ground (-s). The original generator takes the largest dimension over the
#: objects loaded in Blender; for the teapot alone that is 4.44 (2.961 x 1.5), but the
#: released frames place the object 1.33 higher than a lift of 2.22: 7.1 fits them
#: (object centroid within 0.4 px on average, against 6 px with 4.44; docs/scenes).
OBJECT_SIZE = 7.1
SPOT_POWER = 3000.0
SPOT_RADIUS = 0.5
SPOT_CONE_DEG = 35.0
SPOT_BLEND = 0.1
SPOT_ORBIT = 4.0  # the spotlight's distance from the z axis
SPOT_BASE_HEIGHT = 6.0  # its height is this plus the object size
RUBBER_IOR = 1.2
RUBBER_ROUGHNESS = 0.35
RUBBER_SHEEN_ROUGHNESS = 0.6


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


def camera_rotation() -> np.ndarray:
    """(3, 3) camera-to-world rotation: columns are the camera's right, up and backward axes."""
    eye, target = np.asarray(CAMERA_LOCATION), np.asarray(CAMERA_TARGET)
    back = (eye - target) / np.linalg.norm(eye - target)
    right = np.cross(-back, [0.0, 0.0, 1.0])  # world z stays up in the image
    right /= np.linalg.norm(right)
    return np.stack([right, np.cross(back, right), back], axis=1)


def camera_project(points: np.ndarray, resolution: int) -> np.ndarray:
    """Pixel coordinates of world points in the scene's camera (pinhole model).

    Args:
        points: (N, 3) world coordinates.
        resolution: Image side in pixels (square images: the sensor's 50 mm span the width).

    Returns:
        (N, 2) (row, column) in pixel-index units: pixel (i, j) covers [i - 0.5, i + 0.5]
        x [j - 0.5, j + 0.5], row 0 at the top, so a centroid of pixel indices compares directly.
    """
    cam = (np.asarray(points, dtype=np.float64) - np.asarray(CAMERA_LOCATION)) @ camera_rotation()
    f = LENS_MM / SENSOR_MM * resolution  # focal length in pixels
    depth = -cam[:, 2]
    col = resolution / 2 + f * cam[:, 0] / depth - 0.5
    row = resolution / 2 - f * cam[:, 1] / depth - 0.5
    return np.stack([row, col], axis=1)


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
        meshes: One mesh per shape index (``shapes.Mesh``), in scene units at scale 1.
        layout: Latent columns of each scene part.
        resolution: Image side in pixels.
        render: Render settings (see the module docstring); missing keys take
            :data:`DEFAULT_RENDER`.
    """

    def __init__(self, meshes: Sequence[Mesh], layout: SceneLayout, resolution: int, render: Mapping[str, Any] | None = None) -> None:
        self.layout = layout
        self.resolution = int(resolution)
        self.bpy = bpy = import_bpy()
        self._tmp: tempfile.TemporaryDirectory[str] | None = tempfile.TemporaryDirectory(prefix="crlbench-blender-", dir=_fast_tmp())
        self._path = str(Path(self._tmp.name) / "frame.bmp")

        bpy.ops.wm.read_factory_settings(use_empty=True)
        scene = bpy.context.scene
        self.scene = scene
        self.configure(render)
        self._setup_world(scene)
        self._setup_camera_and_lights(scene)

        # One object per shape; only the current one is rendered.
        rubber = self._rubber("object")
        self.objects = []
        for i, (verts, faces) in enumerate(meshes):
            m = bpy.data.meshes.new(f"shape{i}")
            m.from_pydata([tuple(v) for v in np.asarray(verts, dtype=float)], [], [tuple(f) for f in faces])
            m.validate()
            m.shade_smooth()
            m.materials.append(rubber)
            o = bpy.data.objects.new(f"shape{i}", m)
            o.scale = (OBJECT_SCALE,) * 3
            o.rotation_mode = "XYZ"
            o.hide_render = i != 0
            scene.collection.objects.link(o)
            self.objects.append(o)
        self._shown = 0

        # Ground plane one object size below the origin.
        mesh = bpy.data.meshes.new("ground")
        h = GROUND_SIZE / 2
        mesh.from_pydata([(-h, -h, 0), (h, -h, 0), (h, h, 0), (-h, h, 0)], [], [(0, 1, 2, 3)])
        mesh.materials.append(self._rubber("ground"))
        self.ground = bpy.data.objects.new("ground", mesh)
        self.ground.location = (0.0, 0.0, -OBJECT_SIZE)
        scene.collection.objects.link(self.ground)

        # Spotlight, aimed at the object's origin by a track-to constraint on an empty.
        light = bpy.data.lights.new("spot", type="SPOT")
        light.energy = SPOT_POWER
        light.shadow_soft_size = SPOT_RADIUS
        light.spot_size = math.radians(SPOT_CONE_DEG)
        light.spot_blend = SPOT_BLEND
        self.light = light
        self.spot = bpy.data.objects.new("spot", light)
        scene.collection.objects.link(self.spot)
        self.target = bpy.data.objects.new("target", None)
        scene.collection.objects.link(self.target)
        track = self.spot.constraints.new(type="TRACK_TO")
        track.target = self.target
        track.track_axis = "TRACK_NEGATIVE_Z"
        track.up_axis = "UP_X"

    # --- setup ---------------------------------------------------------------------------
    def configure(self, render: Mapping[str, Any] | None = None) -> None:
        """Apply render settings (missing keys take :data:`DEFAULT_RENDER`) to the live scene.

        One scene renders under several settings in turn, as the benchmarks compare them.
        """
        render = dict(render or {})
        unknown = set(render) - RENDER_KEYS
        if unknown:
            raise CrlbenchError(f"unknown render setting(s) {sorted(unknown)}; known: {sorted(RENDER_KEYS)}")
        settings = {**DEFAULT_RENDER, **render}
        if settings["engine"] != "cycles":
            raise CrlbenchError(
                f"render engine {settings['engine']!r} is not supported: EEVEE takes seconds per "
                "frame headless and Workbench ignores the spotlight; use 'cycles'"
            )
        self.settings = settings
        self._setup_render(self.scene)

    def _setup_render(self, scene: Any) -> None:
        st = self.settings
        r = scene.render
        r.engine = "CYCLES"
        r.resolution_x = r.resolution_y = self.resolution
        r.resolution_percentage = 100
        r.use_persistent_data = True  # keep the BVH and shaders between frames
        r.dither_intensity = 0.0  # as the original scene file
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
        # Direct light only: the original renders with no bounces ("reflections off").
        c.max_bounces = 0
        c.diffuse_bounces = 0
        c.glossy_bounces = 0
        c.transmission_bounces = 0
        c.transparent_max_bounces = 0
        c.volume_bounces = 0
        c.caustics_reflective = False
        c.caustics_refractive = False
        c.use_auto_tile = False
        c.use_light_tree = True  # samples the light that matters (the spot, where it shines): less noise per sample

    def _setup_world(self, scene: Any) -> None:
        world = self.bpy.data.worlds.new("world")
        tree = _node_tree(world)
        bg = tree.nodes.get("Background") or tree.nodes.new("ShaderNodeBackground")
        bg.inputs["Color"].default_value = (0.051, 0.051, 0.051, 1.0)
        bg.inputs["Strength"].default_value = 0.0  # the world emits nothing: a black sky
        scene.world = world

    def _setup_camera_and_lights(self, scene: Any) -> None:
        from mathutils import Matrix  # noqa: PLC0415 - ships with bpy

        bpy = self.bpy
        cam_data = bpy.data.cameras.new("camera")
        cam_data.type = "PERSP"
        cam_data.lens = LENS_MM
        cam_data.sensor_fit = "AUTO"
        cam_data.sensor_width = SENSOR_MM
        cam_data.clip_start, cam_data.clip_end = 0.1, 100.0
        cam = bpy.data.objects.new("camera", cam_data)
        rot = camera_rotation()
        cam.matrix_world = Matrix([[*rot[i], CAMERA_LOCATION[i]] for i in range(3)] + [[0.0, 0.0, 0.0, 1.0]])
        scene.collection.objects.link(cam)
        scene.camera = cam

        sun = bpy.data.lights.new("sun", type="SUN")
        sun.energy = SUN_STRENGTH
        sun.angle = SUN_ANGLE
        sun_obj = bpy.data.objects.new("sun", sun)  # no rotation: shines straight down
        sun_obj.location = (0.0, 0.0, SUN_HEIGHT)
        scene.collection.objects.link(sun_obj)

        area = bpy.data.lights.new("area", type="AREA")
        area.energy = AREA_POWER
        area.size = AREA_SIZE
        area_obj = bpy.data.objects.new("area", area)  # faces down, at the origin
        area_obj.location = (0.0, 0.0, AREA_HEIGHT)
        scene.collection.objects.link(area_obj)

    def _rubber(self, name: str) -> Any:
        """CLEVR's rubber material, coloured by the object's ``color`` property."""
        mat = self.bpy.data.materials.new(name)
        nodes, links = _node_tree(mat).nodes, _node_tree(mat).links
        nodes.clear()
        color = nodes.new("ShaderNodeObjectInfo").outputs["Color"]
        diffuse = nodes.new("ShaderNodeBsdfDiffuse")
        sheen = nodes.new("ShaderNodeBsdfSheen")
        sheen.distribution = "ASHIKHMIN"  # Blender's former Velvet BSDF
        sheen.inputs["Roughness"].default_value = RUBBER_SHEEN_ROUGHNESS
        glossy = nodes.new("ShaderNodeBsdfAnisotropic")
        glossy.distribution = "BECKMANN"
        glossy.inputs["Roughness"].default_value = math.sqrt(RUBBER_ROUGHNESS)
        links.new(color, diffuse.inputs["Color"])
        links.new(color, sheen.inputs["Color"])

        def mix(ior: float, a: Any, b: Any) -> Any:
            fresnel = nodes.new("ShaderNodeFresnel")
            fresnel.inputs["IOR"].default_value = ior
            node = nodes.new("ShaderNodeMixShader")
            links.new(fresnel.outputs["Fac"], node.inputs[0])
            links.new(a, node.inputs[1])
            links.new(b, node.inputs[2])
            return node.outputs["Shader"]

        base = mix(RUBBER_IOR + 0.2, diffuse.outputs["BSDF"], sheen.outputs["BSDF"])
        shader = mix(RUBBER_IOR, base, glossy.outputs["BSDF"])
        links.new(shader, nodes.new("ShaderNodeOutputMaterial").inputs["Surface"])
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
        origin = (x, y, zz + OBJECT_SIZE / 2)
        obj.location = origin
        obj.rotation_euler = (float(z[lay.rot[0]]), float(z[lay.rot[1]]), 0.0)
        obj.color = hsv(z[lay.hue_o], 1.0, 1.0)
        theta = float(z[lay.rot_s])
        height = SPOT_BASE_HEIGHT + OBJECT_SIZE
        self.spot.location = (SPOT_ORBIT * math.sin(theta), SPOT_ORBIT * math.cos(theta), height)
        self.target.location = origin
        self.light.color = hsv(z[lay.hue_s], 0.8, 1.0)[:3]
        self.ground.color = hsv(z[lay.hue_b], 0.6, 1.0)

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
        tmp = getattr(self, "_tmp", None)  # None once closed, absent if __init__ failed early
        if tmp is not None:
            tmp.cleanup()
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
