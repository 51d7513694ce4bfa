"""Causal3DIdent: the mechanism against CITRIS' description, the meshes, and real Blender renders.

Mechanism tests are numpy only. The render tests need ``bpy`` (``crlbench[blender]``) and
are skipped without it; they build one Blender scene for the module.
"""

from __future__ import annotations

import sys

import numpy as np
import pytest

from crlbench.errors import CrlbenchError
from crlbench.registry import dataset_entry
from crlbench.simulators import shapes
from crlbench.simulators.base import descendants
from crlbench.simulators.causal3dident import (
    ALPHA,
    BETA,
    HUE_B,
    HUE_O,
    HUE_S,
    THETA,
    TWO_PI,
    Causal3DIdent,
    angle_step,
    fold,
)
from crlbench.simulators.policies import sample_targets

ALL_SHAPES = list(shapes.BUILTIN_SHAPES)


def make(**params) -> Causal3DIdent:
    return Causal3DIdent(params, np.random.default_rng(0))


def ang_diff(a, b):
    """Signed shortest difference a - b in [-pi, pi)."""
    return np.mod(a - b + np.pi, TWO_PI) - np.pi


def rollout(scene: Causal3DIdent, t: int, p: float, seed: int = 1):
    rng = np.random.default_rng(seed)
    k = len(scene.variables)
    targets = sample_targets("bernoulli", rng, t, k, {"p": p})
    z = [scene.initial_state(rng, 1)]
    noise = []
    for i in range(t):
        nxt, e = scene.transition(z[-1], targets[i : i + 1], rng)
        z.append(nxt)
        noise.append(e)
    return np.concatenate(z), targets, np.concatenate(noise)


# --- declaration ------------------------------------------------------------------------


def test_variables_and_graph_match_reference():
    s = make()
    assert [v.name for v in s.variables] == ["pos_o", "rot_o", "rot_s", "hue_o", "hue_s", "hue_b"]
    assert s.latent_dim == 9 and s.variables[0].low == -2 and s.variables[0].high == 2
    t = s.graph.temporal
    assert (np.diag(t) == 1).all() and s.graph.instantaneous.sum() == 0
    # pos_o -> rot_s, rot_o -> pos_o, {hue_b, hue_o} -> rot_o, hue_b -> hue_s
    edges = {(i, j) for i, j in zip(*np.nonzero(t - np.eye(6, dtype=np.uint8)))}
    assert edges == {(0, 2), (1, 0), (5, 1), (3, 1), (5, 4)}

    full = make(shapes=ALL_SHAPES)
    assert full.variables[-1].name == "obj_s" and full.variables[-1].n_categories == 7
    assert full.latent_dim == 10
    assert full.graph.temporal[[4, 5, 6], 3].all()  # {hue_s, hue_b, obj_s} -> hue_o

    inst = make(instantaneous=True)
    assert (inst.graph.temporal == np.eye(6)).all()
    assert inst.graph.instantaneous.sum() == 5


def test_registered_ids():
    from crlbench.simulators.blender import DEFAULT_RENDER

    tris = dataset_entry("causal3dident-tris-v2").spec()
    assert tris.resolution == 64 and tris.policy_params == {"p": pytest.approx(1 / 6)}
    assert tris.render == DEFAULT_RENDER and tris.scene_version == 2
    assert dataset_entry("causal3dident-pairs-v2").spec().params["instantaneous"] is True
    assert "paper" in dataset_entry("causal3dident-triplets-v2").sizes


def test_unknown_shape_is_a_clear_error():
    with pytest.raises(CrlbenchError, match="--mesh"):
        make(shapes=["teapot", "armadillo"])


# --- mechanism --------------------------------------------------------------------------


@pytest.mark.parametrize("instantaneous", [False, True])
def test_goals_without_noise(instantaneous):
    """With zero noise every variable moves exactly half way to its goal (CITRIS' mechanism)."""
    s = make(instantaneous=instantaneous)
    rng = np.random.default_rng(3)
    n, d = 200, s.latent_dim
    base = s.sample_independent(rng, n)
    noise = np.zeros((n, s.noise_dim))
    noise[:, d : 2 * d] = base
    new = s.solve(noise, np.zeros((n, 6), bool), s.sample_intervention(rng, n))
    par = new if instantaneous else base  # where the goals read their parents

    def half(col, goal):
        return np.mod(base[:, col] + ang_diff(goal, base[:, col]) / 2, TWO_PI)

    np.testing.assert_allclose(new[:, HUE_B], base[:, HUE_B])  # random walk: goal = itself
    np.testing.assert_allclose(new[:, HUE_S], half(HUE_S, TWO_PI - par[:, HUE_B]))
    np.testing.assert_allclose(new[:, HUE_O], half(HUE_O, 0.0))  # teapot goal 0
    np.testing.assert_allclose(new[:, ALPHA], half(ALPHA, par[:, HUE_B]))
    np.testing.assert_allclose(new[:, BETA], half(BETA, par[:, HUE_O]))
    goal = 1.5 * np.stack([np.sin(par[:, BETA]), np.sin(par[:, ALPHA]), np.cos(par[:, ALPHA])], 1)
    np.testing.assert_allclose(new[:, :3], (base[:, :3] + goal) / 2)
    np.testing.assert_allclose(new[:, THETA], half(THETA, np.arctan2(par[:, 0], par[:, 1])))


def test_hue_goal_per_shape_slot():
    s = make(shapes=ALL_SHAPES)
    d, n = s.latent_dim, 7
    base = s.sample_independent(np.random.default_rng(0), n)
    base[:, -1] = np.arange(7)
    base[:, HUE_O] = 1.0
    noise = np.zeros((n, s.noise_dim))
    noise[:, d : 2 * d] = base
    noise[:, 2 * d] = 1.0  # no shape switch
    new = s.solve(noise, np.zeros((n, 7), bool), base)
    m = np.arctan2(np.sin(base[:, HUE_S]) + np.sin(base[:, HUE_B]), np.cos(base[:, HUE_S]) + np.cos(base[:, HUE_B]))
    goals = np.array([0.0, TWO_PI / 5, m[2], 2 * TWO_PI / 5, m[4] + np.pi, 3 * TWO_PI / 5, 4 * TWO_PI / 5])
    np.testing.assert_allclose(ang_diff(new[:, HUE_O], 1.0), ang_diff(goals, 1.0) / 2, atol=1e-12)


def test_wrap_around_takes_the_short_way():
    assert angle_step(np.array([6.2]), np.array([0.1]))[0] == pytest.approx((0.1 + TWO_PI - 6.2) / 2)
    assert angle_step(np.array([0.1]), np.array([6.2]))[0] == pytest.approx(-(0.1 + TWO_PI - 6.2) / 2)
    s = make()
    d = s.latent_dim
    base = np.array([[0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 6.2, 0.0, 0.0]])
    noise = np.zeros((1, s.noise_dim))
    noise[0, :d] = [0, 0, 0, 0, 0, 0, 0.2, 0, 0]
    noise[0, d : 2 * d] = base
    new = s.solve(noise, np.zeros((1, 6), bool), base)
    # hue_o: 6.2 half way to 0 (short way: +0.04) plus 0.2 crosses 2 pi and wraps.
    assert new[0, HUE_O] == pytest.approx(6.2 + (TWO_PI - 6.2) / 2 + 0.2 - TWO_PI)
    assert 0 <= new[0, HUE_O] < TWO_PI


def test_fold_keeps_positions_in_the_box():
    x = np.linspace(-9, 9, 1001)
    y = fold(x)
    assert (np.abs(y) <= 2).all()
    np.testing.assert_allclose(fold(np.array([1.5, 2.1, -2.3])), [1.5, 1.9, -1.7])


def test_rollout_noise_scale_support_and_intervention_rate():
    s = make()
    t = 20_000
    z, targets, noise = rollout(s, t, p=1 / 6)
    d = s.latent_dim
    assert (np.abs(z[:, :3]) <= 2).all()
    assert ((z[:, 3:] >= 0) & (z[:, 3:] < TWO_PI)).all()
    # Intervention rate close to 1/6 per variable, about a third of steps untouched.
    assert targets.mean() == pytest.approx(1 / 6, abs=0.01)
    assert (targets.sum(1) == 0).mean() == pytest.approx((5 / 6) ** 6, abs=0.02)
    # Noise scale on steps without interventions: 0.1 for positions, 0.15 for angles.
    free = targets.sum(1) == 0
    eps = noise[free, :d]
    assert eps[:, :3].std() == pytest.approx(0.1, rel=0.05)
    assert eps[:, 3:].std() == pytest.approx(0.15, rel=0.05)
    # The stored noise reproduces the step (the truncation redraws are written back).
    prev, nxt = z[:-1][free], z[1:][free]
    s_noise = noise[free].copy()
    np.testing.assert_allclose(s.solve(s_noise, targets[free].astype(bool), nxt), nxt, atol=1e-12)
    assert np.allclose(s_noise[:, d : 2 * d], prev)
    # Intervened positions are uniform over [-2, 2].
    hit = targets[:, 0] == 1
    assert z[1:][hit, 0].mean() == pytest.approx(0.0, abs=0.15)
    assert z[1:][hit, 0].std() == pytest.approx(4 / np.sqrt(12), rel=0.1)


def test_shape_switches_with_probability_005():
    s = make(shapes=ALL_SHAPES)
    z, targets, _ = rollout(s, 20_000, p=0.0)
    changed = (z[1:, -1] != z[:-1, -1]).mean()
    assert changed == pytest.approx(0.05 * 6 / 7, abs=0.007)
    assert set(np.unique(z[:, -1])) == set(range(7))


@pytest.mark.parametrize("shapes_", [["teapot"], ALL_SHAPES])
def test_counterfactual_changes_only_descendants(shapes_):
    s = make(instantaneous=True, shapes=shapes_)
    rng = np.random.default_rng(5)
    n, k = 300, len(s.variables)
    noise = s.sample_noise(rng, n)
    values = s.sample_intervention(rng, n)
    pre = s.solve(noise, np.zeros((n, k), bool), values)
    for j in range(k):
        t = np.zeros((n, k), bool)
        t[:, j] = True
        post = s.solve(noise, t, values)
        changed = np.zeros(k, bool)
        for v in range(k):
            changed[v] = not np.allclose(pre[:, s.dim_to_var == v], post[:, s.dim_to_var == v])
        allowed = descendants(s.graph.instantaneous, t[0])
        assert changed[j] and not (changed & ~allowed).any(), (j, changed, allowed)


# --- meshes -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ALL_SHAPES)
def test_meshes_span_the_teapots_largest_dimension(name):
    v, f = shapes.SHAPES[name]()
    assert np.ptp(v, axis=0).max() == pytest.approx(max(shapes.TEAPOT_DIMENSIONS), rel=1e-3)
    assert len(f) > 10 and max(max(face) for face in f) < len(v)


def test_teapot_has_the_originals_size_and_pose():
    """2.961 x 2.961 x 1.999 at scale 1, long axis on the diagonal, spout towards (+x, -y)."""
    v, _ = shapes.teapot(8)
    np.testing.assert_allclose(np.ptp(v, axis=0), shapes.TEAPOT_DIMENSIONS, atol=0.003)
    assert v[:, 2].min() == pytest.approx(-shapes.TEAPOT_ORIGIN_HEIGHT)  # origin 0.907 above the base
    along = v[:, :2] @ np.array([1.0, -1.0]) / np.sqrt(2)  # the spout-handle axis
    across = v[:, :2] @ np.array([1.0, 1.0]) / np.sqrt(2)
    # Newell's proportions: spout tip 3.43, handle 3.0, body radius 2.0, height 3.15.
    assert along.max() == pytest.approx(1.999 * 3.43 / 3.15, rel=0.01)  # the spout
    assert -along.min() == pytest.approx(1.999 * 3.0 / 3.15, rel=0.01)  # the handle
    assert np.ptp(across) == pytest.approx(1.999 * 4.0 / 3.15, rel=0.01)
    spout = v[along.argmax()]
    assert spout[2] > v[along.argmin(), 2] + 0.3  # the spout's tip sits above the handle


def test_teapot_is_newells_and_obj_round_trips(tmp_path):
    v, f = shapes.teapot(4)
    assert len(f) > 400
    path = tmp_path / "pot.obj"
    path.write_text(
        "".join(f"v {a} {b} {c}\n" for a, b, c in v) + "".join("f " + " ".join(f"{i + 1}/1/1" for i in face) + "\n" for face in f)
    )
    v2, f2 = shapes.load_obj(path)
    np.testing.assert_allclose(v2, shapes.normalize(v), atol=1e-9)
    assert f2 == f
    s = make(shapes=["teapot", "mine"], meshes={"mine": str(path)})
    assert s.variables[-1].n_categories == 2


def test_user_mesh_is_pinned_by_content(tmp_path, capsys):
    """--mesh writes PATH#sha256=HEX: the spec hash follows the file, and a changed file is refused."""
    from crlbench.cli import main

    path = tmp_path / "cube.obj"
    cube = "v 0 0 0\nv 1 0 0\nv 0 1 0\nv 0 0 1\nf 1 2 3\nf 1 2 4\nf 1 3 4\nf 2 3 4\n"
    path.write_text(cube)
    pinned = shapes.pin_mesh(path)
    assert pinned.startswith(str(path.resolve()) + "#sha256=") and len(pinned.split("=")[-1]) == 64
    assert len(shapes.get_mesh("cube", {"cube": pinned})[1]) == 4

    def spec_hash() -> str:
        assert main(["info", "causal3dident-tris-v2", "--mesh", f"cube={path}"]) == 0
        return capsys.readouterr().out.split("spec hash (smoke, seed 0): ")[1].split()[0]

    before = spec_hash()
    path.write_text(cube.replace("v 0 0 1", "v 0 0 2"))
    assert spec_hash() != before, "another mesh file must give another dataset"
    with pytest.raises(CrlbenchError, match=r"mesh 'cube' at .* changed since the dataset spec was written"):
        shapes.get_mesh("cube", {"cube": pinned})
    with pytest.raises(CrlbenchError, match="no such OBJ file"):
        shapes.pin_mesh(tmp_path / "missing.obj")


def test_missing_bpy_names_the_extra(monkeypatch):
    from crlbench.simulators import blender

    monkeypatch.setitem(sys.modules, "bpy", None)  # makes `import bpy` raise ImportError
    with pytest.raises(CrlbenchError, match=r"crlbench\[blender\]"):
        blender.import_bpy()
    monkeypatch.setattr("importlib.util.find_spec", lambda name, *a: None)
    with pytest.raises(CrlbenchError, match=r"crlbench\[blender\]"):
        make().prepare_workers()  # the builder calls it before starting render workers


# --- real Blender -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def renderer():
    pytest.importorskip("bpy", reason='needs pip install "crlbench[blender]"')
    r = make().renderer(64)  # one Blender scene per process: every render test shares it
    yield r
    r.close()


@pytest.fixture()
def render(renderer):
    return lambda z: renderer(np.asarray(z, float), np.zeros(len(z), np.uint64))


def state(**kw):
    z = dict(x=0.0, y=0.0, z=0.0, alpha=0.3, beta=0.2, theta=1.0, hue_o=0.0, hue_s=3.0, hue_b=2.0)
    z.update(kw)
    return [z[k] for k in ("x", "y", "z", "alpha", "beta", "theta", "hue_o", "hue_s", "hue_b")]


def mask_of(render, **kw):
    """Object pixels: those that change with the object's hue (nothing else reads it)."""
    imgs = render([state(hue_o=h, **kw) for h in (0.0, TWO_PI / 3, 2 * TWO_PI / 3)]).astype(int)
    return np.max([np.abs(imgs[i] - imgs[j]).sum(-1) for i, j in ((0, 1), (1, 2), (0, 2))], axis=0) > 20


def euler_xyz(alpha: float, beta: float) -> np.ndarray:
    """Blender's XYZ Euler rotation (alpha about x, then beta about y) as a (3, 3) matrix."""
    ca, sa, cb, sb = np.cos(alpha), np.sin(alpha), np.cos(beta), np.sin(beta)
    rx = np.array([[1, 0, 0], [0, ca, -sa], [0, sa, ca]])
    ry = np.array([[cb, 0, sb], [0, 1, 0], [-sb, 0, cb]])
    return ry @ rx


def test_render_hue_b_changes_background_not_object(render):
    m1 = mask_of(render)
    m2 = mask_of(render, hue_b=4.5)
    assert 30 < m1.sum() < 0.5 * m1.size
    assert (m1 != m2).mean() < 0.005  # the object's mask does not move
    a, b = render([state(), state(hue_b=4.5)])
    change = np.abs(a.astype(int) - b).sum(-1)  # summed over RGB
    shadow = a.max(-1) < 40  # the object's shadow stays dark whatever the hue
    assert (change[~m1 & ~shadow] > 30).mean() > 0.95  # lit background pixels change
    inner = m1.copy()  # the object without its anti-aliased rim
    inner[1:-1, 1:-1] &= m1[:-2, 1:-1] & m1[2:, 1:-1] & m1[1:-1, :-2] & m1[1:-1, 2:]
    # Object pixels do not, bar holes (the ground seen through the handle) and the
    # denoiser's blending of a few levels across the edges.
    assert inner.sum() > 20 and np.median(change[inner]) <= 4 and (change[inner] > 30).mean() < 0.05


@pytest.mark.parametrize(
    "pose",
    [{}, {"x": 1.5}, {"y": -1.5}, {"z": -1.8}, {"x": -2.0, "y": 2.0, "z": -2.0, "alpha": 2.0, "beta": 4.0}],
)
def test_render_follows_the_pinhole_camera(render, pose):
    """The object's silhouette spans the projected bounding box of its posed mesh (camera at
    (8, 0, 8) aimed at the origin, 35 mm lens on a 50 mm sensor), to a pixel."""
    from crlbench.simulators.blender import OBJECT_SCALE, OBJECT_SIZE, camera_project

    z = state(**pose)
    verts = shapes.teapot(8)[0] @ euler_xyz(z[ALPHA], z[BETA]).T * OBJECT_SCALE
    proj = camera_project(verts + [z[0], z[1], z[2] + OBJECT_SIZE / 2], 64)
    rows, cols = np.nonzero(mask_of(render, **pose))
    got = np.array([rows.min(), rows.max(), cols.min(), cols.max()])
    want = np.array([proj[:, 0].min(), proj[:, 0].max(), proj[:, 1].min(), proj[:, 1].max()])
    assert np.abs(got - want).max() <= 1.5, (got, want.round(1))


def test_camera_model_axes():
    """+y moves the object right, +z up, +x (towards the camera, seen from 45 degrees up) down."""
    from crlbench.simulators.blender import camera_project

    p = camera_project(np.array([[0, 0, 0], [0, 1, 0], [0, 0, 1], [1, 0, 0]], float), 64)
    np.testing.assert_allclose(p[0], [31.5, 31.5])  # the camera aims at the origin
    assert p[1, 1] > p[0, 1] + 3 and abs(p[1, 0] - p[0, 0]) < 1e-9
    assert p[2, 0] < p[0, 0] - 2.5 and p[3, 0] > p[0, 0] + 2.5 and abs(p[3, 1] - p[0, 1]) < 1e-9


def test_scene_places_lights_object_and_ground_as_the_original(renderer):
    """The original's facts, read back from the live Blender scene after a state is set."""
    from crlbench.simulators import blender

    z = state(x=0.5, y=-1.0, z=1.2, theta=2.0)
    renderer.set_state(np.asarray(z))
    s = blender.OBJECT_SIZE
    np.testing.assert_allclose(renderer.objects[0].location, [0.5, -1.0, 1.2 + s / 2], atol=1e-6)
    np.testing.assert_allclose(renderer.objects[0].scale, [1.5] * 3)
    np.testing.assert_allclose(renderer.spot.location, [4 * np.sin(2.0), 4 * np.cos(2.0), 6 + s], atol=1e-6)
    np.testing.assert_allclose(renderer.target.location, renderer.objects[0].location)  # the spot's aim
    assert renderer.ground.location[2] == pytest.approx(-s)
    spot = renderer.light
    assert (spot.energy, spot.shadow_soft_size, spot.spot_blend) == pytest.approx((3000, 0.5, 0.1))
    assert np.degrees(spot.spot_size) == pytest.approx(35)
    lights = {o.data.type: o for o in renderer.scene.objects if o.type == "LIGHT"}
    assert lights["SUN"].data.energy == pytest.approx(0.5) and lights["SUN"].data.angle == pytest.approx(0.199)
    assert lights["AREA"].data.energy == pytest.approx(39.27) and tuple(lights["AREA"].location) == (0, 0, 7)
    cam = renderer.scene.camera
    assert tuple(cam.location) == (8, 0, 8) and cam.data.lens == 35 and cam.data.sensor_width == 50
    assert renderer.scene.cycles.max_bounces == 0
