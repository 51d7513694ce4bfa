"""CausalCircuit: a robot arm presses buttons wired to a red, a green and a blue light.

Description
    A reconstruction of ILCM's CausalCircuit (Brehmer et al., NeurIPS 2022), whose generator
    was never published; the equations below are crlbench's own. A three-joint arm (base
    yaw, shoulder and elbow pitch; two visible links and a fingertip) stands behind three
    push buttons laid out on an arc. The fingertip moves along the arc; the causal variable
    ``arm`` is its position along it, and the whole pose follows from ``arm`` by closed-form
    inverse kinematics (the fingertip dips towards a button as it presses it). Each button
    is wired to a lamp; the lamps' intensities are the causal variables ``red``, ``green``
    and ``blue``. The red lamp is also wired to the green one. Rendered with MuJoCo from a
    fixed camera.

Causal variables
    =====  ==========  =======  ============================================================
    name   kind        support  meaning
    =====  ==========  =======  ============================================================
    arm    continuous  [0, 1]   fingertip position along the arc (0 = leftmost, 1 = right)
    red    continuous  [0, 1]   red lamp intensity
    green  continuous  [0, 1]   green lamp intensity
    blue   continuous  [0, 1]   blue lamp intensity
    =====  ==========  =======  ============================================================

Graph
    Instantaneous (pairs, observational samples): ``arm -> red``, ``arm -> green``,
    ``arm -> blue``, ``green -> red``.
    Temporal (TRIS sequences): the same edges from ``t-1`` to ``t`` plus a self-edge on every
    variable; no instantaneous effects within a step.

Mechanisms
    Geometry: the fingertip sits at angle ``phi(arm) = (2 arm - 1) * 60 deg`` on an arc of
    radius 0.46 around the arm's base; the red, green and blue buttons sit on the arc at
    ``arm = 0.2, 0.5, 0.8``. With ``d_i(arm)`` the (chord) distance from the fingertip to
    button ``i``, the press is ``p_i(arm) = exp(-d_i^2 / (2 w^2))`` (``w = press_width``,
    0.05). With ``s(x) = 1 / (1 + exp(-x))``, ``g = gain`` (8), ``b = bias`` (-4),
    ``sigma = noise_scale`` (1) and ``eps ~ N(0, 1)`` per variable (the exogenous noise,
    stored in that order: arm, red, green, blue)::

        arm   = Phi(eps_arm)                                    (Phi: the normal CDF)
        green = s(g * p_green(arm) + b + sigma * eps_green)
        blue  = s(g * p_blue(arm)  + b + sigma * eps_blue)
        red   = s(g * (1 - (1 - p_red(arm)) * (1 - green)) + b + sigma * eps_red)

    so ``arm`` is uniform on [0, 1], a light is near 0.02 when its button is free and near
    0.98 when pressed, and the red light is a soft OR of its button and the green light.

    TRIS transitions: ``arm`` takes a reflected random-walk step,
    ``arm_t = reflect(arm_{t-1} + arm_step * eps_arm)`` into [0, 1] (``arm_step`` 0.08);
    each light relaxes in logit space towards its mechanism's value given the previous
    frame: ``l_t = l_{t-1} + r (m(pa_{t-1}) - l_{t-1}) + sigma sqrt(1 - (1 - r)^2) eps``
    with ``l = logit(light)``, ``r = relax`` (0.5) and ``m`` the noise-free logit above (for
    red with ``green_{t-1}``), so that with its parents held fixed a light's stationary law
    is the instantaneous one. The stored noise is the ``(N, 4)`` ``eps`` of the step.

Interventions
    An intervened variable is set to a value drawn uniformly from [0, 1]. In pairs the
    descendants are recomputed with the same exogenous noise (an intervention on ``arm``
    recomputes every light; on ``green`` it changes ``red`` and nothing else; on ``red`` or
    ``blue`` only that light). Probe sets and triplets draw all four variables
    independently and uniformly from [0, 1].

Observation
    RGB ``uint8`` images, 64x64 by default (128 and the original's 512 selectable), from a
    fixed camera. Each lamp is an emissive bulb whose colour and emission scale with its
    intensity, plus a shadowless spotlight just above it that casts a coloured glow on the
    table, attenuated with distance (per-vertex lighting on a finely gridded table): both
    show the intensity. No multisampling, shadow maps or reflections, which keeps Mesa's
    software renderer (llvmpipe, one thread) at about 1.1 ms of CPU per 64x64 frame. The renderer is deterministic and
    ignores the render seeds; images are reproducible on one machine and match across
    machines only within the renderer's tolerance.

Version history
    v1: initial release.
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib import metadata
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from scipy.special import expit, logit, ndtr

from crlbench.core import CausalGraph, Variable
from crlbench.errors import CrlbenchError
from crlbench.simulators.base import Observation, Renderer, Scene, register_scene

__all__ = [
    "CausalCircuit",
    "CircuitRenderer",
    "XML_PATH",
    "fingertip",
    "presses",
    "arm_pose",
    "build_model",
    "JOINTS",
    "LIGHTS",
]

XML_PATH = Path(__file__).with_name("causal_circuit.xml")

# --- geometry (metres, radians); the XML's placeholders are overwritten from these ------
ARM_BASE = np.array([0.0, 0.50])  # (x, y) of the base on the table
ARC_RADIUS = 0.46  # fingertip's horizontal distance from the base axis
ARC_HALF_ANGLE = np.deg2rad(60.0)  # arm = 0 / 1 is -60 / +60 degrees from straight ahead
BUTTON_ARM = (0.2, 0.5, 0.8)  # arm positions of the red, green, blue buttons
LAMP_RADIUS = 0.70  # lamps stand beyond their buttons, on the same rays
SHOULDER_Z = 0.20  # shoulder height above the table (base 0.06 + turret 0.14)
UPPER_LEN, FORE_LEN = 0.32, 0.30  # link lengths (match the XML)
HOVER_Z, PRESS_Z = 0.14, 0.064  # fingertip centre height: free, and on a button cap

LIGHTS = ("red", "green", "blue")
JOINTS = ("yaw", "shoulder", "elbow")
_COLOURS = np.array([[1.0, 0.08, 0.05], [0.1, 1.0, 0.1], [0.15, 0.3, 1.0]])
_DARK = np.array([0.16, 0.15, 0.14])  # a bulb that is off
GLOW_GAIN = 1.6  # glow light's diffuse colour at full intensity (before attenuation)


def _angle(arm: np.ndarray) -> np.ndarray:
    return (2.0 * np.asarray(arm, dtype=np.float64) - 1.0) * ARC_HALF_ANGLE


def _on_arc(arm: np.ndarray, radius: float) -> np.ndarray:
    """(N, 2) points at ``radius`` from the base, on the ray of arc position ``arm``."""
    phi = _angle(arm)
    return ARM_BASE + radius * np.stack([np.sin(phi), -np.cos(phi)], axis=-1)


def presses(arm: np.ndarray, width: float = 0.05) -> np.ndarray:
    """(N, 3) button presses in [0, 1] (red, green, blue) for (N,) arm positions.

    ``exp(-d^2 / (2 width^2))`` of the chord distance ``d`` from fingertip to button.
    """
    tip = _on_arc(arm, ARC_RADIUS)[..., None, :]
    buttons = _on_arc(np.asarray(BUTTON_ARM), ARC_RADIUS)
    d2 = np.sum((tip - buttons) ** 2, axis=-1)
    return np.exp(-0.5 * d2 / width**2)


def fingertip(arm: np.ndarray, width: float = 0.05) -> np.ndarray:
    """(N, 3) fingertip position: on the arc, dipping onto a button as it presses it."""
    arm = np.asarray(arm, dtype=np.float64)
    z = HOVER_Z - (HOVER_Z - PRESS_Z) * presses(arm, width).max(axis=-1)
    return np.concatenate([_on_arc(arm, ARC_RADIUS), z[..., None]], axis=-1)


def arm_pose(arm: np.ndarray, width: float = 0.05) -> np.ndarray:
    """(N, 3) joint angles (yaw, shoulder, elbow) that put the fingertip at :func:`fingertip`.

    Closed-form two-link inverse kinematics in the arm's vertical plane, elbow up. Angles
    follow the XML's joints: yaw about +z (0 = pointing at the camera, -y), shoulder and
    elbow about +x, positive pitching down.
    """
    arm = np.asarray(arm, dtype=np.float64)
    tip = fingertip(arm, width)
    reach = np.hypot(tip[..., 0] - ARM_BASE[0], tip[..., 1] - ARM_BASE[1])
    drop = SHOULDER_Z - tip[..., 2]
    c2 = (reach**2 + drop**2 - UPPER_LEN**2 - FORE_LEN**2) / (2 * UPPER_LEN * FORE_LEN)
    elbow = np.arccos(np.clip(c2, -1.0, 1.0))
    inner = np.arctan2(FORE_LEN * np.sin(elbow), UPPER_LEN + FORE_LEN * np.cos(elbow))
    shoulder = np.arctan2(drop, reach) - inner
    return np.stack([_angle(arm), shoulder, elbow], axis=-1)


def _lay_wire(model: Any, geom: int, a: np.ndarray, b: np.ndarray) -> None:
    """Place capsule ``geom`` flat on the table from (x, y) point ``a`` to ``b``."""
    d = np.asarray(b, dtype=np.float64) - np.asarray(a, dtype=np.float64)
    yaw = np.arctan2(d[1], d[0])
    # The capsule's axis is its local z: pitch it onto +x, then turn it by ``yaw``.
    qy = np.array([np.cos(np.pi / 4), 0.0, np.sin(np.pi / 4), 0.0])
    qz = np.array([np.cos(yaw / 2), 0.0, 0.0, np.sin(yaw / 2)])
    w1, v1, w2, v2 = qz[0], qz[1:], qy[0], qy[1:]
    model.geom_quat[geom] = [w1 * w2 - v1 @ v2, *(w1 * v2 + w2 * v1 + np.cross(v1, v2))]
    model.geom_pos[geom, :2] = (np.asarray(a) + np.asarray(b)) / 2
    model.geom_size[geom, 1] = np.linalg.norm(d) / 2
    model.geom_sameframe[geom] = 0  # mjSAMEFRAME_NONE: the compiler saw an unrotated geom


def _reflect(x: np.ndarray) -> np.ndarray:
    """Fold the real line onto [0, 1] by reflection at 0 and 1."""
    y = np.mod(x, 2.0)
    return np.where(y > 1.0, 2.0 - y, y)


@register_scene
class CausalCircuit(Scene):
    """Robot arm, three buttons and three wired lamps (red, green, blue); MuJoCo-rendered."""

    name: ClassVar[str] = "causal-circuit"
    version: ClassVar[int] = 1
    description: ClassVar[str] = "robot arm pressing buttons wired to a red, a green and a blue light (MuJoCo)"
    default_params: ClassVar[Mapping[str, Any]] = {
        "press_width": 0.05,
        "gain": 8.0,
        "bias": -4.0,
        "noise_scale": 1.0,
        "arm_step": 0.08,
        "relax": 0.5,
    }

    def __init__(self, params: Mapping[str, Any], rng: np.random.Generator) -> None:
        super().__init__(params, rng)
        p = self.params
        for key in ("press_width", "noise_scale", "arm_step"):
            if not float(p[key]) > 0:
                raise CrlbenchError(f"causal-circuit: {key} must be > 0, got {p[key]!r}")
        if not 0.0 < float(p["relax"]) <= 1.0:
            raise CrlbenchError(f"causal-circuit: relax must be in (0, 1], got {p['relax']!r}")
        self.width = float(p["press_width"])
        self.gain, self.bias = float(p["gain"]), float(p["bias"])
        self.sigma = float(p["noise_scale"])
        self.arm_step, self.relax = float(p["arm_step"]), float(p["relax"])
        # The structure is fixed: rng is not used, so any rng gives the same scene.

    # --- declaration -------------------------------------------------------------------
    @property
    def variables(self) -> tuple[Variable, ...]:
        return tuple(Variable(n, "continuous", ("",), 0.0, 1.0) for n in ("arm", *LIGHTS))

    @property
    def graph(self) -> CausalGraph:
        inst = np.zeros((4, 4), dtype=np.uint8)
        inst[0, 1:] = 1  # arm -> red, green, blue
        inst[2, 1] = 1  # green -> red
        return CausalGraph(temporal=inst | np.eye(4, dtype=np.uint8), instantaneous=inst)

    @property
    def observation(self) -> Observation:
        return Observation("image", (64, 64, 3))

    def versions(self) -> dict[str, str]:
        return {"mujoco": metadata.version("mujoco")}

    def structure(self) -> dict[str, np.ndarray]:
        return {
            "button_arm": np.asarray(BUTTON_ARM),
            "mechanism": np.array([self.width, self.gain, self.bias, self.sigma, self.arm_step, self.relax]),
        }

    # --- mechanisms --------------------------------------------------------------------
    def drives(self, arm: np.ndarray, green: np.ndarray) -> np.ndarray:
        """(N, 3) noise-free drive in [0, 1] of the red, green, blue lights.

        A light's drive is its button's press; red's is the soft OR of its press and the
        green light, ``1 - (1 - p_red)(1 - green)``.
        """
        p = presses(arm, self.width)
        red = 1.0 - (1.0 - p[:, 0]) * (1.0 - np.asarray(green))
        return np.stack([red, p[:, 1], p[:, 2]], axis=-1)

    def _logit(self, drive: np.ndarray) -> np.ndarray:
        return self.gain * drive + self.bias

    # --- instantaneous SCM -------------------------------------------------------------
    def sample_noise(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.standard_normal((n, 4))

    def sample_intervention(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.uniform(0.0, 1.0, (n, 4))

    def solve(self, noise: np.ndarray, targets: np.ndarray, values: np.ndarray) -> np.ndarray:
        noise = np.asarray(noise, dtype=np.float64)
        hit = np.asarray(targets, dtype=bool)
        values = np.asarray(values, dtype=np.float64)
        z = np.empty_like(noise)
        z[:, 0] = np.where(hit[:, 0], values[:, 0], ndtr(noise[:, 0]))
        p = presses(z[:, 0], self.width)
        for j, press in ((2, p[:, 1]), (3, p[:, 2])):  # green, blue
            mech = expit(self._logit(press) + self.sigma * noise[:, j])
            z[:, j] = np.where(hit[:, j], values[:, j], mech)
        red_drive = 1.0 - (1.0 - p[:, 0]) * (1.0 - z[:, 2])
        z[:, 1] = np.where(hit[:, 1], values[:, 1], expit(self._logit(red_drive) + self.sigma * noise[:, 1]))
        return z

    # --- temporal SCM ------------------------------------------------------------------
    def initial_state(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return self.solve(self.sample_noise(rng, n), np.zeros((n, 4), np.uint8), np.zeros((n, 4)))

    def transition(self, prev: np.ndarray, targets: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        prev = np.asarray(prev, dtype=np.float64)
        n = len(prev)
        eps = rng.standard_normal((n, 4))
        values = rng.uniform(0.0, 1.0, (n, 4))
        nxt = np.empty_like(prev)
        nxt[:, 0] = _reflect(prev[:, 0] + self.arm_step * eps[:, 0])
        goal = self._logit(self.drives(prev[:, 0], prev[:, 2]))
        last = logit(np.clip(prev[:, 1:], 1e-6, 1.0 - 1e-6))
        step_std = self.sigma * np.sqrt(1.0 - (1.0 - self.relax) ** 2)
        nxt[:, 1:] = expit(last + self.relax * (goal - last) + step_std * eps[:, 1:])
        hit = np.asarray(targets, dtype=bool)
        return np.where(hit, values, nxt), eps

    # --- independent factors -----------------------------------------------------------
    def sample_independent(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.uniform(0.0, 1.0, (n, 4))

    # --- rendering -----------------------------------------------------------------------
    def prepare_workers(self) -> None:
        from crlbench.simulators import gl  # noqa: PLC0415

        gl.ensure_backend()  # probe once here; spawned workers inherit MUJOCO_GL

    def renderer(self, resolution: int | None, render: Mapping[str, Any] | None = None) -> Renderer:
        return CircuitRenderer(64 if resolution is None else int(resolution), press_width=self.width)


def build_model(resolution: int = 512) -> Any:
    """The scene's ``mujoco.MjModel``: the XML with buttons, lamps and wires placed.

    Args:
        resolution: Largest image side it will render (sizes the offscreen buffer).
    """
    import mujoco  # noqa: PLC0415

    m = mujoco.MjModel.from_xml_path(str(XML_PATH))
    m.vis.global_.offwidth = max(m.vis.global_.offwidth, resolution)
    m.vis.global_.offheight = max(m.vis.global_.offheight, resolution)
    name2id = lambda kind, name: mujoco.mj_name2id(m, kind, name)  # noqa: E731
    body, geom = mujoco.mjtObj.mjOBJ_BODY, mujoco.mjtObj.mjOBJ_GEOM
    m.body_pos[name2id(body, "base")] = [*ARM_BASE, 0.0]
    buttons = _on_arc(np.asarray(BUTTON_ARM), ARC_RADIUS)
    lamps = _on_arc(np.asarray(BUTTON_ARM), LAMP_RADIUS)
    for i, light in enumerate(LIGHTS):
        m.body_pos[name2id(body, f"button_{light}")] = [*buttons[i], 0.0]
        m.body_pos[name2id(body, f"lamp_{light}")] = [*lamps[i], 0.0]
        _lay_wire(m, name2id(geom, f"wire_{light}"), buttons[i], lamps[i])
    _lay_wire(m, name2id(geom, "wire_green_red"), lamps[1], lamps[0])
    return m


class CircuitRenderer(Renderer):
    """MuJoCo offscreen renderer for CausalCircuit; one GL context, reused across frames.

    Per frame it writes the joint angles into ``qpos`` and the lamps' colours, emission and
    glow into the model arrays, runs forward kinematics and renders from the fixed camera.

    Args:
        resolution: Image side in pixels (square images).
        press_width: The scene's ``press_width`` (the fingertip's dip follows the press).
    """

    def __init__(self, resolution: int, *, press_width: float = 0.05) -> None:
        from crlbench.simulators import gl  # noqa: PLC0415

        backend = gl.ensure_backend()
        try:
            import mujoco  # noqa: PLC0415
        except Exception as e:  # a MUJOCO_GL the user forced that cannot load here
            raise gl.backend_error(backend, e) from e

        if resolution < 8:
            raise CrlbenchError(f"causal-circuit: resolution must be >= 8, got {resolution}")
        self._mj = mujoco
        self.resolution = resolution
        self.width = press_width
        m = build_model(resolution)
        name2id = lambda kind, name: mujoco.mj_name2id(m, kind, name)  # noqa: E731
        obj = mujoco.mjtObj
        self._qadr = np.array([m.jnt_qposadr[name2id(obj.mjOBJ_JOINT, j)] for j in JOINTS])
        self._bulbs = np.array([name2id(obj.mjOBJ_GEOM, f"bulb_{c}") for c in LIGHTS])
        self._mats = np.array([name2id(obj.mjOBJ_MATERIAL, f"bulb_{c}") for c in LIGHTS])
        self._glows = np.array([name2id(obj.mjOBJ_LIGHT, f"glow_{c}") for c in LIGHTS])
        self.model, self.data = m, mujoco.MjData(m)
        mujoco.mj_forward(m, self.data)  # static bodies, lights and camera placed once

        try:
            self._ctx = gl.context_class(backend)(resolution, resolution)
            self._ctx.make_current()
            self._mjr = mujoco.MjrContext(m, mujoco.mjtFontScale.mjFONTSCALE_50)
        except Exception as e:  # a backend the user forced that does not work here
            raise gl.backend_error(backend, e) from e
        mujoco.mjr_setBuffer(mujoco.mjtFramebuffer.mjFB_OFFSCREEN, self._mjr)
        self._scn = mujoco.MjvScene(m, maxgeom=64)
        rnd = mujoco.mjtRndFlag
        for flag in (rnd.mjRND_SHADOW, rnd.mjRND_REFLECTION, rnd.mjRND_SKYBOX):
            self._scn.flags[flag] = 0
        self._opt = mujoco.MjvOption()
        self._cam = mujoco.MjvCamera()
        self._cam.type = mujoco.mjtCamera.mjCAMERA_FIXED
        self._cam.fixedcamid = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_CAMERA, "front")
        self._rect = mujoco.MjrRect(0, 0, resolution, resolution)
        self._buf = np.empty((resolution, resolution, 3), dtype=np.uint8)

    def frame_settings(self, latents: np.ndarray) -> dict[str, np.ndarray]:
        """Per-frame model values for (N, 4) states: joint angles and lamp appearance.

        Returns:
            ``qpos`` (N, 3) yaw, shoulder, elbow; ``rgba`` (N, 3, 3) bulb colours;
            ``emission`` (N, 3) bulb emission; ``glow`` (N, 3, 3) glow-light diffuse colour.
        """
        lights = np.clip(latents[:, 1:4], 0.0, 1.0)[..., None]  # (N, 3, 1)
        return {
            "qpos": arm_pose(latents[:, 0], self.width),
            "rgba": _DARK + lights * (_COLOURS - _DARK),
            "emission": 0.9 * lights[..., 0],
            "glow": GLOW_GAIN * lights * _COLOURS,
        }

    def __call__(self, latents: np.ndarray, seeds: np.ndarray) -> np.ndarray:
        mj, m, d = self._mj, self.model, self.data
        latents = np.asarray(latents, dtype=np.float64)
        if latents.ndim != 2 or latents.shape[1] != 4:
            raise ValueError(f"causal-circuit: latents must be (N, 4), got {latents.shape}")
        if self._mjr is None:
            raise RuntimeError("causal-circuit renderer used after close()")
        self._ctx.make_current()
        f = self.frame_settings(latents)
        qpos, rgba, emission, diffuse = d.qpos, m.geom_rgba, m.mat_emission, m.light_diffuse
        out = np.empty((len(latents), self.resolution, self.resolution, 3), dtype=np.uint8)
        for i in range(len(latents)):
            qpos[self._qadr] = f["qpos"][i]
            rgba[self._bulbs, :3] = f["rgba"][i]
            emission[self._mats] = f["emission"][i]
            diffuse[self._glows] = f["glow"][i]
            mj.mj_kinematics(m, d)
            mj.mjv_updateScene(m, d, self._opt, None, self._cam, mj.mjtCatBit.mjCAT_ALL, self._scn)
            mj.mjr_render(self._rect, self._scn, self._mjr)
            mj.mjr_readPixels(self._buf, None, self._rect, self._mjr)
            out[i] = self._buf[::-1]  # OpenGL's rows run bottom-up
        return out

    def close(self) -> None:
        if getattr(self, "_mjr", None) is not None:
            self._ctx.make_current()
            self._mjr.free()
            self._mjr = None
            self._ctx.free()
            self._ctx = None

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # noqa: BLE001 - interpreter shutdown; nothing left to free
            pass
