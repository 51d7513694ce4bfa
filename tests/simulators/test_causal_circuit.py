"""CausalCircuit: mechanisms, interventions, inverse kinematics and real MuJoCo rendering.

The conformance suite (tests/datasets/test_conformance.py) covers the registered ids end to
end; these are the scene checks a user relies on. Rendering tests share one 64x64 renderer.
"""

from __future__ import annotations

import numpy as np
import pytest

from crlbench.registry import DATASETS, GROUPS
from crlbench.simulators import gl
from crlbench.simulators.base import descendants
from crlbench.simulators.causal_circuit import BUTTON_ARM, JOINTS, CausalCircuit, arm_pose, fingertip, presses

ARM, RED, GREEN, BLUE = range(4)


def scene(**params) -> CausalCircuit:
    return CausalCircuit(params, np.random.default_rng(0))


@pytest.fixture(scope="module")
def render():
    with scene().renderer(64) as r:
        yield r


def _one(renderer, *states) -> np.ndarray:
    return renderer(np.array(states, dtype=np.float64), np.zeros(len(states), np.uint64)).astype(int)


# --- declaration and registry --------------------------------------------------------------


def test_variables_and_graph():
    s = scene()
    assert [v.name for v in s.variables] == ["arm", "red", "green", "blue"]
    assert all(v.kind == "continuous" and (v.low, v.high) == (0.0, 1.0) for v in s.variables)
    inst = s.graph.instantaneous
    edges = {(int(i), int(j)) for i, j in zip(*np.nonzero(inst))}
    assert edges == {(ARM, RED), (ARM, GREEN), (ARM, BLUE), (GREEN, RED)}
    np.testing.assert_array_equal(s.graph.temporal, inst | np.eye(4, dtype=np.uint8))


def test_registered_ids():
    ids = GROUPS["causal-circuit-v1"]
    assert sorted(ids) == ["causal-circuit-pairs-v1", "causal-circuit-triplets-v1", "causal-circuit-tris-v1"]
    pairs = DATASETS["causal-circuit-pairs-v1"]
    assert pairs.policy == "single" and pairs.resolution == 64
    paper = dict(pairs.sizes["paper"])
    assert (paper["train"], paper["val"], paper["test"]) == (100_000, 10_000, 10_000)
    assert pairs.spec(resolution=128).resolution == 128


def test_scene_is_deterministic_and_validates_params():
    a, b = CausalCircuit({}, np.random.default_rng(1)), CausalCircuit({}, np.random.default_rng(2))
    noise = a.sample_noise(np.random.default_rng(0), 50)
    z = np.zeros((50, 4))
    np.testing.assert_array_equal(a.solve(noise, z, z), b.solve(noise, z, z))
    with pytest.raises(ValueError, match="relax"):
        scene(relax=0.0)
    with pytest.raises(ValueError, match="unknown parameter"):
        scene(colour="red")


# --- mechanisms --------------------------------------------------------------------------


def test_button_press_lights_matching_light():
    s = scene()
    n = len(BUTTON_ARM)
    noise = np.zeros((n, 4))
    values = np.zeros((n, 4))
    values[:, ARM] = BUTTON_ARM
    targets = np.zeros((n, 4), np.uint8)
    targets[:, ARM] = 1  # do(arm = button position), lights from their mechanisms
    z = s.solve(noise, targets, values)
    for i, light in enumerate((RED, GREEN, BLUE)):
        assert z[i, light] > 0.9, f"pressing button {i} must switch its light on"
    assert z[0, GREEN] < 0.1 and z[0, BLUE] < 0.1  # red button: red only
    assert z[1, RED] > 0.9 and z[1, BLUE] < 0.1  # green button: green, and red through green
    assert z[2, RED] < 0.1 and z[2, GREEN] < 0.1  # blue button: blue only
    far = s.solve(noise[:1], targets[:1], np.array([[0.0, 0, 0, 0]]))  # away from every button
    assert (far[0, 1:] < 0.1).all()


def test_observational_distribution():
    s = scene()
    z = s.solve(s.sample_noise(np.random.default_rng(0), 20_000), np.zeros((20_000, 4)), np.zeros((20_000, 4)))
    assert ((z >= 0) & (z <= 1)).all()
    assert z[:, ARM].mean() == pytest.approx(0.5, abs=0.01)  # Phi(N(0, 1)) is uniform
    assert z[:, ARM].std() == pytest.approx(np.sqrt(1 / 12), abs=0.01)
    assert 0.05 < (z[:, 1:] > 0.5).mean() < 0.5  # lights are on part of the time


def test_intervention_on_green_changes_red_but_never_arm_or_blue():
    s = scene()
    rng = np.random.default_rng(3)
    n = 500
    noise = s.sample_noise(rng, n)
    values = s.sample_intervention(rng, n)
    targets = np.zeros((n, 4), np.uint8)
    pre = s.solve(noise, targets, values)
    targets[:, GREEN] = 1
    post = s.solve(noise, targets, values)
    np.testing.assert_array_equal(post[:, ARM], pre[:, ARM])
    np.testing.assert_array_equal(post[:, BLUE], pre[:, BLUE])
    np.testing.assert_array_equal(post[:, GREEN], values[:, GREEN])
    assert (post[:, RED] != pre[:, RED]).all()
    big = np.abs(post[:, GREEN] - pre[:, GREEN]) > 0.5
    assert np.abs(post[big, RED] - pre[big, RED]).mean() > 0.2  # red follows green


@pytest.mark.parametrize("target", [ARM, RED, GREEN, BLUE])
def test_counterfactual_changes_exactly_the_descendants(target):
    s = scene()
    rng = np.random.default_rng(target)
    n = 300
    noise, values = s.sample_noise(rng, n), s.sample_intervention(rng, n)
    targets = np.zeros((n, 4), np.uint8)
    pre = s.solve(noise, targets, values)
    targets[:, target] = 1
    post = s.solve(noise, targets, values)
    reach = descendants(s.graph.instantaneous, targets[0].astype(bool))
    np.testing.assert_array_equal(post[:, ~reach], pre[:, ~reach])
    assert (post[:, target] == values[:, target]).all()


def test_transition_relaxes_towards_mechanism_and_intervenes():
    s = scene()
    n = 4000
    prev = np.tile([0.5, 0.5, 0.98, 0.5], (n, 1))  # fingertip on the green button, green on
    none = np.zeros((n, 4), np.uint8)
    nxt, eps = s.transition(prev, none, np.random.default_rng(0))
    assert eps.shape == (n, 4)
    assert ((nxt >= 0) & (nxt <= 1)).all()
    assert np.median(nxt[:, GREEN]) > 0.85 and np.median(nxt[:, BLUE]) < 0.15  # half way in logits
    assert np.median(nxt[:, RED]) > 0.85  # green at t-1 drives red
    dark = prev.copy()
    dark[:, GREEN] = 0.02
    dim, _ = s.transition(dark, none, np.random.default_rng(0))
    assert np.median(dim[:, RED]) < 0.6  # without green, only the (free) red button: decays
    assert np.abs(nxt[:, ARM] - 0.5).mean() == pytest.approx(0.08 * np.sqrt(2 / np.pi), rel=0.1)
    again, _ = s.transition(prev, none, np.random.default_rng(0))
    np.testing.assert_array_equal(nxt, again)
    everything = np.ones((n, 4), np.uint8)
    hit, _ = s.transition(prev, everything, np.random.default_rng(1))
    assert hit.mean(axis=0) == pytest.approx([0.5] * 4, abs=0.03)  # uniform interventions
    walk = np.full((1, 4), 0.02)
    for _ in range(2000):
        walk, _ = s.transition(walk, np.zeros((1, 4), np.uint8), np.random.default_rng(_))
        assert 0.0 <= walk[0, ARM] <= 1.0


def test_inverse_kinematics_reaches_the_fingertip():
    mujoco = pytest.importorskip("mujoco")
    from crlbench.simulators.causal_circuit import build_model

    m = build_model()
    d = mujoco.MjData(m)
    site = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_SITE, "fingertip")
    arms = np.linspace(0, 1, 41)
    q = arm_pose(arms)
    qadr = [m.jnt_qposadr[mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_JOINT, j)] for j in JOINTS]
    for arm, pose, want in zip(arms, q, fingertip(arms)):
        d.qpos[qadr] = pose
        mujoco.mj_kinematics(m, d)
        np.testing.assert_allclose(d.site_xpos[site], want, atol=1e-9, err_msg=f"arm={arm}")
    assert presses(np.asarray(BUTTON_ARM)).diagonal() == pytest.approx(1.0)


# --- rendering (real MuJoCo) ---------------------------------------------------------------


def test_renders_images_that_are_not_constant(render):
    im = render(np.random.default_rng(0).uniform(size=(5, 4)), np.zeros(5, np.uint64))
    assert im.shape == (5, 64, 64, 3) and im.dtype == np.uint8
    assert (im.reshape(5, -1).std(axis=1) > 5).all()
    assert len({i.tobytes() for i in im}) == 5


def test_each_light_shows_in_its_colour_with_a_glow(render):
    off = [0.05, 0.02, 0.02, 0.02]
    ims = _one(render, off, [0.05, 0.98, 0.02, 0.02], [0.05, 0.02, 0.98, 0.02], [0.05, 0.02, 0.02, 0.98])
    for channel in range(3):
        diff = ims[1 + channel] - ims[0]
        changed = np.abs(diff).max(axis=-1) > 8
        assert changed.sum() > 300, "the glow on the table must spread well beyond the bulb"
        assert diff.reshape(-1, 3).mean(axis=0).argmax() == channel
    half = _one(render, [0.05, 0.5, 0.02, 0.02])[0]
    brightness = [np.abs(x - ims[0]).sum() for x in (half, ims[1])]
    assert 0 < brightness[0] < brightness[1], "glow must grow with the intensity"


def test_arm_intervention_moves_the_arm_locally(render):
    a, b = _one(render, [0.05, 0.5, 0.5, 0.5], [0.95, 0.5, 0.5, 0.5])
    changed = np.abs(a - b).max(axis=-1) > 8
    assert 50 < changed.sum() < 0.15 * changed.size
    rows = np.nonzero(changed)[0]
    assert rows.max() < 40, "only the arm (upper part of the image) may change, not the lamps"


def test_rendering_is_deterministic_and_resolution_selectable(render):
    states = np.random.default_rng(1).uniform(size=(3, 4))
    first = render(states, np.arange(3, dtype=np.uint64))
    np.testing.assert_array_equal(first, render(states, np.zeros(3, np.uint64)))  # seeds ignored
    with scene().renderer(128) as big:
        im = big(states, np.zeros(3, np.uint64))
    assert im.shape == (3, 128, 128, 3)
    small = im.reshape(3, 64, 2, 64, 2, 3).mean(axis=(2, 4))
    assert np.abs(small - first).mean() < 12  # the same picture, finer


# --- GL backend selection --------------------------------------------------------------------


def test_no_working_backend_names_the_debian_packages(monkeypatch):
    monkeypatch.delenv("MUJOCO_GL", raising=False)
    monkeypatch.setattr(gl, "_chosen", None)
    monkeypatch.setattr(gl, "probe", lambda backend: (False, "libEGL not found"))
    with pytest.raises(gl.GLBackendError) as err:
        gl.ensure_backend()
    for package in ("libegl1", "libgl1", "libosmesa6"):
        assert package in str(err.value)


def test_backend_order_is_egl_then_osmesa(monkeypatch):
    tried = []
    monkeypatch.delenv("MUJOCO_GL", raising=False)
    monkeypatch.delenv("PYOPENGL_PLATFORM", raising=False)
    monkeypatch.setattr(gl, "_chosen", None)
    monkeypatch.setattr(gl, "probe", lambda backend: (tried.append(backend), (backend == "osmesa", "no"))[1])
    assert gl.ensure_backend() == "osmesa"
    assert tried == ["egl", "osmesa"]
    import os

    assert os.environ["MUJOCO_GL"] == "osmesa"
