"""Temporal Causal3DIdent (CITRIS): a coloured object under a moving spotlight, in Blender.

Description
    One object (the Utah teapot by default) floats above a coloured ground plane, lit by a
    coloured spotlight that circles it, seen from the original's camera: at (8, 0, 8),
    looking 45 degrees down at the origin, so the image's column follows y and its row
    follows z and x. The scene is the original's, rebuilt in code from its facts. Seven causal
    variables (ten dimensions) move half way towards goals set by their parents, with
    Gaussian noise, and are resampled uniformly when intervened on. Rendered with Cycles
    through ``bpy`` (see :mod:`crlbench.simulators.blender`); the mechanism below follows
    the CITRIS paper and its released generator.

Causal variables
    ======  ==================  ============  =======================================
    index   name (dims)         kind          support
    ======  ==================  ============  =======================================
    0       pos_o (x, y, z)     continuous    [-2, 2] each
    1       rot_o (alpha, beta) angle         [0, 2 pi); the third Euler angle is 0
    2       rot_s (theta)       angle         spotlight angle around the object
    3       hue_o               angle         object hue, HSV(hue_o / 2 pi, 1, 1)
    4       hue_s               angle         spotlight hue, HSV(., 0.8, 1)
    5       hue_b               angle         background (plane) hue, HSV(., 0.6, 1)
    6       obj_s               categorical   shape index; only with two or more shapes
    ======  ==================  ============  =======================================

    With a single shape (``shapes=["teapot"]``, the default and the paper's main setting)
    obj_s is constant and, as in the released generator, not a causal variable: K = 6,
    D = 9. With ``shapes`` of length S > 1, obj_s is categorical(S): K = 7, D = 10.

Graph
    Temporal (default), parents at t-1, every variable also depends on itself:
    ``rot_o -> pos_o`` (x <- beta; y, z <- alpha), ``pos_o -> rot_s`` (theta <- atan2(x, y)),
    ``hue_b -> rot_o`` (alpha), ``hue_o -> rot_o`` (beta), ``hue_b -> hue_s``, and
    ``obj_s -> hue_o`` (S > 1) plus ``{hue_s, hue_b} -> hue_o`` when a shape whose hue goal
    reads them is present (slots 2 and 4, S >= 3). No instantaneous edges.
    Instantaneous (``instantaneous=True``, iCITRIS): the same equations within one step in
    the topological order obj_s, hue_b, hue_s, hue_o, rot_o, pos_o, rot_s; the temporal
    graph keeps only the self-edges.

Mechanism
    ``v^t = v^{t-1} + (goal - v^{t-1}) / 2 + eps``, ``eps ~ N(0, 0.1^2)`` for positions and
    ``N(0, 0.15^2)`` for angles and hues. Angles take the short way round (the difference
    is wrapped to [-pi, pi) before halving) and the result wraps to [0, 2 pi). Positions
    stay in [-2, 2]: noise that would leave the box is drawn again (truncated Gaussian).
    Goals: x = 1.5 sin(beta), y = 1.5 sin(alpha), z = 1.5 cos(alpha); alpha = hue_b,
    beta = hue_o; theta = atan2(x, y); hue_s = 2 pi - hue_b; hue_b = itself (random walk);
    hue_o = a goal per shape slot: 0 (slot 0, the teapot), 2 pi/5, circmean(hue_s, hue_b),
    4 pi/5, pi + circmean(hue_s, hue_b), 6 pi/5, 8 pi/5 (slots 1-6, as the original's
    armadillo, hare, cow, dragon, head, horse). The shape switches to a uniformly drawn one
    with probability 0.05 per step.

Interventions
    An intervened variable is resampled uniformly over its support (positions in
    [-2, 2]^3, angles in [0, 2 pi)^dims, shapes uniform). Targets come from the spec's policy:
    ``bernoulli`` with p = 1/6 for the teapot ids (the released generator's rate: about a
    third of steps without intervention), ``single``, or ``groups`` with
    :data:`CITRIS_GROUPS` (the appendix's grouped targets).

Pairs (instantaneous SCM)
    :meth:`solve` is one instantaneous step from an exogenous *base* state: the noise holds
    the step noise ``eps`` (D), the base state (D, drawn like :meth:`sample_independent`),
    a uniform ``u`` for the shape switch and the shape switched to. A counterfactual reuses
    all of it with other targets, so only the intervened variables and their descendants
    change. Positions that the fixed noise would push out of [-2, 2] are reflected back
    (a deterministic fold; resampling would break the shared noise).

Observation
    uint8 (resolution, resolution, 3) Cycles render; 64 x 64 by default. Render settings
    come from the spec's ``render`` mapping (:data:`~crlbench.simulators.blender.DEFAULT_RENDER`
    unless given; :data:`~crlbench.simulators.blender.REFERENCE_RENDER` is the original's).

Parameters
    ``shapes``: list of shape names (built in: teapot, knot, spring, mug, lblock, hammer,
    star), slot order as above. ``meshes``: {name: OBJ path} for user meshes named in
    ``shapes`` (``--mesh NAME=PATH`` writes ``PATH#sha256=HEX``: the spec hash pins the
    file's content, and rendering refuses a file that changed).
    ``instantaneous``: the iCITRIS variant. ``teapot_segments``: Bezier tessellation.

Version history
    v2: the original's scene: camera, lens, sun and area lights, CLEVR's rubber material,
    ground depth, object lift and size, spotlight power, cone and height, and the teapot at
    the original's size and pose; measured against released frames (docs/scenes).
    v1: crlbench's own look (a camera straight down, an ambient fill, a smaller teapot);
    withdrawn, its images do not match the original's.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from crlbench.core import CausalGraph, Variable
from crlbench.errors import CrlbenchError
from crlbench.simulators.base import Observation, Renderer, Scene, register_scene
from crlbench.simulators.shapes import SHAPES

__all__ = ["Causal3DIdent", "CITRIS_GROUPS", "POS_STD", "ANGLE_STD", "SWITCH_PROB", "HUE_GOALS"]

TWO_PI = 2.0 * np.pi
POS_STD = 0.1
ANGLE_STD = 0.15
SWITCH_PROB = 0.05
POS_LIMIT = 2.0
#: hue_o goal per shape slot: a constant angle, or "mean" / "mean+pi" of (hue_s, hue_b).
HUE_GOALS: tuple[float | str, ...] = (0.0, TWO_PI / 5, "mean", 2 * TWO_PI / 5, "mean+pi", 3 * TWO_PI / 5, 4 * TWO_PI / 5)
#: CITRIS' grouped targets over (pos_o, rot_o, rot_s, hue_o, hue_s, hue_b), for
#: ``policy="groups"``: position; rotation; {rot_s, hue_s}; {hue_o, hue_s}; {hue_o, hue_b}.
CITRIS_GROUPS: list[list[int]] = [[0], [1], [2, 4], [3, 4], [3, 5]]

# Latent columns.
X, Y, Z, ALPHA, BETA, THETA, HUE_O, HUE_S, HUE_B, SHAPE = range(10)
# Variable indices.
V_POS, V_ROT, V_ROTS, V_HUEO, V_HUES, V_HUEB, V_SHAPE = range(7)


def wrap(a: np.ndarray) -> np.ndarray:
    """Angles into [0, 2 pi)."""
    out = np.mod(a, TWO_PI)
    return np.where(out >= TWO_PI, 0.0, out)  # mod can round up to 2 pi for tiny negatives


def angle_step(current: np.ndarray, goal: np.ndarray) -> np.ndarray:
    """Half the signed shortest angular distance from ``current`` to ``goal``."""
    return (np.mod(goal - current + np.pi, TWO_PI) - np.pi) / 2.0


def circmean(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Circular mean of two angles, in [0, 2 pi)."""
    return wrap(np.arctan2(np.sin(a) + np.sin(b), np.cos(a) + np.cos(b)))


def fold(x: np.ndarray, limit: float = POS_LIMIT) -> np.ndarray:
    """Reflect values into [-limit, limit] (a triangle wave; identity inside)."""
    period = 4 * limit
    y = np.mod(x + limit, period)
    return np.where(y > 2 * limit, period - y, y) - limit


@register_scene
class Causal3DIdent(Scene):
    """Temporal Causal3DIdent; see the module docstring for the full description."""

    name: ClassVar[str] = "causal3dident"
    version: ClassVar[int] = 2
    description: ClassVar[str] = "Blender teapot under a circling coloured spotlight (CITRIS' Temporal Causal3DIdent)"
    default_params: ClassVar[Mapping[str, Any]] = {
        "shapes": ["teapot"],
        "meshes": {},
        "instantaneous": False,
        "teapot_segments": 8,
    }

    def __init__(self, params: Mapping[str, Any], rng: np.random.Generator) -> None:
        super().__init__(params, rng)
        shapes = list(self.params["shapes"])
        meshes = dict(self.params["meshes"] or {})
        if not shapes:
            raise CrlbenchError("causal3dident: 'shapes' must name at least one shape")
        if len(set(shapes)) != len(shapes):
            raise CrlbenchError(f"causal3dident: duplicate shapes in {shapes}")
        for s in shapes:
            if s not in SHAPES and s not in meshes:
                raise CrlbenchError(
                    f"causal3dident: unknown shape {s!r}; built in: {list(SHAPES)}; or pass an OBJ file with --mesh {s}=PATH"
                )
        self.shapes: list[str] = shapes
        self.meshes: dict[str, str] = meshes
        self.instantaneous = bool(self.params["instantaneous"])
        self.n_shapes = len(shapes)
        self.has_shape = self.n_shapes > 1
        goals = [HUE_GOALS[i % len(HUE_GOALS)] for i in range(self.n_shapes)]
        self._hue_const = np.array([g if isinstance(g, float) else 0.0 for g in goals])
        self._hue_mode = np.array([0 if isinstance(g, float) else (1 if g == "mean" else 2) for g in goals])

        vs = [
            Variable("pos_o", "continuous", ("x", "y", "z"), -POS_LIMIT, POS_LIMIT),
            Variable("rot_o", "angle", ("alpha", "beta")),
            Variable("rot_s", "angle", ("theta",)),
            Variable("hue_o", "angle"),
            Variable("hue_s", "angle"),
            Variable("hue_b", "angle"),
        ]
        if self.has_shape:
            vs.append(Variable("obj_s", "categorical", n_categories=self.n_shapes))
        self._variables = tuple(vs)
        self._std = np.array([POS_STD] * 3 + [ANGLE_STD] * 6 + ([0.0] if self.has_shape else []))
        self._graph = self._build_graph()

    # --- declaration -------------------------------------------------------------------
    @property
    def variables(self) -> tuple[Variable, ...]:
        return self._variables

    @property
    def graph(self) -> CausalGraph:
        return self._graph

    @property
    def observation(self) -> Observation:
        return Observation("image", (64, 64, 3))

    @property
    def noise_dim(self) -> int:
        """E = 2 D + 2: step noise (D), base state (D), switch uniform, switched-to shape."""
        return 2 * self.latent_dim + 2

    def prepare_workers(self) -> None:
        """Fail in the parent, with the pip hint, when ``bpy`` is missing (cheap: no import)."""
        import importlib.util  # noqa: PLC0415

        if importlib.util.find_spec("bpy") is None:
            from crlbench.simulators.blender import import_bpy  # noqa: PLC0415

            import_bpy()  # raises the CrlbenchError that names crlbench[blender]

    def versions(self) -> dict[str, str]:
        """The Blender (bpy) version that renders the images."""
        from importlib.metadata import PackageNotFoundError, version  # noqa: PLC0415

        try:
            return {"bpy": version("bpy")}
        except PackageNotFoundError:
            return {"bpy": "not installed"}

    def _build_graph(self) -> CausalGraph:
        k = len(self._variables)
        edges = [(V_ROT, V_POS), (V_POS, V_ROTS), (V_HUEB, V_ROT), (V_HUEO, V_ROT), (V_HUEB, V_HUES)]
        if (self._hue_mode > 0).any():
            edges += [(V_HUES, V_HUEO), (V_HUEB, V_HUEO)]
        if self.has_shape:
            edges.append((V_SHAPE, V_HUEO))
        a = np.zeros((k, k), dtype=np.uint8)
        for i, j in edges:
            a[i, j] = 1
        eye = np.eye(k, dtype=np.uint8)
        if self.instantaneous:
            return CausalGraph(temporal=eye, instantaneous=a)
        return CausalGraph(temporal=eye | a, instantaneous=np.zeros_like(a))

    # --- sampling helpers ----------------------------------------------------------------
    def sample_independent(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """(N, D) uniform over the support: positions in [-2, 2], angles in [0, 2 pi)."""
        out = np.empty((n, self.latent_dim))
        out[:, :3] = rng.uniform(-POS_LIMIT, POS_LIMIT, size=(n, 3))
        out[:, 3:9] = rng.uniform(0.0, TWO_PI, size=(n, 6))
        if self.has_shape:
            out[:, SHAPE] = rng.integers(0, self.n_shapes, size=n)
        return out

    def sample_intervention(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """(N, D) intervention values: uniform over the support (as the original)."""
        return self.sample_independent(rng, n)

    def initial_state(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return self.sample_independent(rng, n)

    def sample_noise(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """(N, E): step noise (scaled), an independent base state, switch uniform, new shape."""
        d = self.latent_dim
        out = np.zeros((n, 2 * d + 2))
        out[:, :d] = rng.standard_normal((n, d)) * self._std
        out[:, d : 2 * d] = self.sample_independent(rng, n)
        out[:, 2 * d] = rng.random(n)
        out[:, 2 * d + 1] = rng.integers(0, self.n_shapes, size=n)
        return out

    # --- mechanisms --------------------------------------------------------------------
    def solve(self, noise: np.ndarray, targets: np.ndarray, values: np.ndarray) -> np.ndarray:
        noise = np.asarray(noise, dtype=np.float64)
        d = self.latent_dim
        return self._step(noise[:, d : 2 * d], noise, np.asarray(targets, bool), np.asarray(values, float), None)

    def transition(self, prev: np.ndarray, targets: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        prev = np.asarray(prev, dtype=np.float64)
        n, d = prev.shape
        noise = np.zeros((n, 2 * d + 2))
        noise[:, :d] = rng.standard_normal((n, d)) * self._std
        noise[:, d : 2 * d] = prev
        noise[:, 2 * d] = rng.random(n)
        noise[:, 2 * d + 1] = rng.integers(0, self.n_shapes, size=n)
        values = self.sample_intervention(rng, n)
        nxt = self._step(prev, noise, np.asarray(targets, bool), values, rng)
        return nxt, noise

    def _step(
        self,
        base: np.ndarray,
        noise: np.ndarray,
        targets: np.ndarray,
        values: np.ndarray,
        rng: np.random.Generator | None,
    ) -> np.ndarray:
        """One step from ``base`` under ``do(targets = values)``.

        Temporal mode reads parents from ``base``; instantaneous mode from the new values,
        computed in topological order. With ``rng`` (sequences), position noise that would
        leave [-2, 2] is redrawn and written back into ``noise``; without (pairs), it folds.
        """
        n, d = base.shape
        eps = noise[:, :d]
        new = np.empty_like(base)
        src = new if self.instantaneous else base  # where parents are read from
        t = targets

        def assign(cols: list[int], var: int, proposal: np.ndarray) -> None:
            hit = t[:, var][:, None]
            new[:, cols] = np.where(hit, values[:, cols], proposal)

        # obj_s: keep, or switch to a uniformly drawn shape with probability 0.05.
        if self.has_shape:
            u, switch_to = noise[:, 2 * d], noise[:, 2 * d + 1]
            assign([SHAPE], V_SHAPE, np.where(u < SWITCH_PROB, switch_to, base[:, SHAPE])[:, None])
            shape = src[:, SHAPE].astype(int)
        else:
            shape = np.zeros(n, dtype=int)

        def angle(col: int, goal: np.ndarray) -> np.ndarray:
            return wrap(base[:, col] + angle_step(base[:, col], goal) + eps[:, col])[:, None]

        assign([HUE_B], V_HUEB, angle(HUE_B, base[:, HUE_B]))
        assign([HUE_S], V_HUES, angle(HUE_S, TWO_PI - src[:, HUE_B]))
        m = circmean(src[:, HUE_S], src[:, HUE_B])
        mode = self._hue_mode[shape]
        goal_o = np.where(mode == 1, m, np.where(mode == 2, wrap(m + np.pi), self._hue_const[shape]))
        assign([HUE_O], V_HUEO, angle(HUE_O, goal_o))
        rot = np.concatenate([angle(ALPHA, src[:, HUE_B]), angle(BETA, src[:, HUE_O])], axis=1)
        assign([ALPHA, BETA], V_ROT, rot)

        goal_p = 1.5 * np.stack([np.sin(src[:, BETA]), np.sin(src[:, ALPHA]), np.cos(src[:, ALPHA])], axis=1)
        mean = base[:, :3] + (goal_p - base[:, :3]) / 2.0
        pos = mean + eps[:, :3]
        if rng is not None:
            free = ~t[:, V_POS][:, None]
            bad = (np.abs(pos) > POS_LIMIT) & free
            while bad.any():  # truncated Gaussian: redraw only the offending noise
                redraw = rng.standard_normal(int(bad.sum())) * POS_STD
                eps[:, :3][bad] = redraw
                pos = mean + eps[:, :3]
                bad = (np.abs(pos) > POS_LIMIT) & free
        else:
            pos = fold(pos)
        assign([X, Y, Z], V_POS, pos)

        assign([THETA], V_ROTS, angle(THETA, wrap(np.arctan2(src[:, X], src[:, Y]))))
        return new

    # --- rendering -----------------------------------------------------------------------
    def renderer(self, resolution: int | None, render: Mapping[str, Any] | None = None) -> Renderer:
        """A Cycles renderer (one Blender scene per process, reused across frames).

        Args:
            resolution: Image side in pixels (``None``: 64).
            render: The spec's render settings; :data:`blender.DEFAULT_RENDER` if ``None``.
        """
        from crlbench.simulators import blender  # noqa: PLC0415 - bpy only when rendering
        from crlbench.simulators.shapes import get_mesh  # noqa: PLC0415

        blender.import_bpy()  # fail early with the pip hint, before building meshes
        seg = int(self.params["teapot_segments"])
        meshes = []
        for s in self.shapes:
            if s == "teapot" and s not in self.meshes:
                from crlbench.simulators.shapes import teapot  # noqa: PLC0415

                meshes.append(teapot(seg))
            else:
                meshes.append(get_mesh(s, self.meshes))
        layout = blender.SceneLayout(
            pos=[X, Y, Z],
            rot=[ALPHA, BETA],
            rot_s=THETA,
            hue_o=HUE_O,
            hue_s=HUE_S,
            hue_b=HUE_B,
            shape=SHAPE if self.has_shape else None,
        )
        return blender.BlenderRenderer(meshes, layout, 64 if resolution is None else int(resolution), render)
