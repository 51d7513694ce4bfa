"""render_states and `crlbench render`: given states -> the images the dataset builder makes.

The state checks run before any renderer starts, so the bad-input tests need neither
MuJoCo nor Blender; one test renders Causal3DIdent with Blender (skipped without bpy).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from crlbench.cli import main
from crlbench.datasets import load
from crlbench.datasets.build import generate
from crlbench.errors import CrlbenchError, UnknownIdError
from crlbench.simulators import render_states
from crlbench.simulators.render import image_grid
from tests.helpers import tiny_spec

CIRCUIT = np.array([[0.5, 0.9, 0.1, 0.1], [0.2, 0.05, 0.95, 0.5], [0.8, 0.3, 0.3, 0.9]])


def test_causal_circuit_images_equal_the_builders(tmp_path):
    """The same states give the same pixels as a generated dataset (MuJoCo is deterministic)."""
    spec = replace(tiny_spec("causal-circuit-pairs-v1"), resolution=32)
    ds = load(generate(spec, tmp_path, progress=False))
    pairs = ds["train"]
    states = pairs.latents.reshape(-1, 4)
    images = render_states("causal-circuit", states, resolution=32)
    assert images.dtype == np.uint8 and images.shape == (len(states), 32, 32, 3)
    np.testing.assert_array_equal(images, np.asarray(pairs.observations).reshape(-1, 32, 32, 3))


def test_counterfactual_changes_only_through_the_state():
    """Rendering a state twice gives the same image; changing one light changes the image."""
    a = render_states("causal-circuit", CIRCUIT[:1], resolution=16)
    b = render_states("causal-circuit", CIRCUIT[:1], resolution=16)
    lit = CIRCUIT[:1].copy()
    lit[0, 3] = 0.99  # blue on
    c = render_states("causal-circuit", lit, resolution=16)
    np.testing.assert_array_equal(a, b)
    assert np.abs(c.astype(int) - a.astype(int)).sum() > 0


@pytest.mark.parametrize(
    ("scene", "states", "params", "needle"),
    [
        ("causal-circuit", np.zeros((2, 3)), None, "(N, 4)"),
        ("causal-circuit", np.array([[0.5, 0.5, np.nan, 0.5]]), None, "column 2 (green)"),
        ("causal-circuit", np.array([[0.5, 0.5, 0.5, 1.5]]), None, "column 3 (blue) is 1.5"),
        ("causal-circuit", np.array([[-0.1, 0.5, 0.5, 0.5]]), None, "column 0 (arm)"),
        ("causal3dident", np.array([[0, 0, 2.5, 0, 0, 0, 0, 0, 0]]), None, "column 2 (pos_o.z)"),
        ("causal3dident", np.array([[0, 0, 0, 7.0, 0, 0, 0, 0, 0]]), None, "column 3 (rot_o.alpha)"),
        ("causal3dident", np.array([[0, 0, 0, 0, 0, 0, 0, 0, 0, 0.5]]), {"shapes": ["teapot", "knot"]}, "column 9 (obj_s)"),
        ("causal3dident", np.zeros((1, 10)), None, "columns pos_o.x, pos_o.y, pos_o.z, rot_o.alpha"),
    ],
)
def test_bad_states_name_the_column(scene, states, params, needle):
    with pytest.raises(CrlbenchError) as e:
        render_states(scene, states, params=params)
    assert needle in str(e.value)


def test_vector_scene_says_how_to_observe_it():
    with pytest.raises(CrlbenchError, match=r"observes vectors x = R z.*structure\['mixing'\]"):
        render_states("toy-son", np.zeros((2, 4)))


def test_unknown_scene_and_parameter():
    with pytest.raises(UnknownIdError, match="Did you mean 'causal-circuit'"):
        render_states("causal-circuitt", CIRCUIT)
    with pytest.raises(CrlbenchError, match="unknown parameter"):
        render_states("causal-circuit", CIRCUIT, params={"gian": 1.0})


def test_image_grid_layout():
    frames = np.stack([np.full((4, 5, 3), i, np.uint8) for i in range(5)])
    grid = image_grid(frames, pad=1)  # 3 columns, 2 rows
    assert grid.shape == (2 * 5 + 1, 3 * 6 + 1, 3)
    assert grid[1, 1, 0] == 0 and grid[1, 7, 0] == 1 and grid[6, 1, 0] == 3 and grid[6, 13, 0] == 255


def test_cli_render_npy_and_png(tmp_path, capsys):
    from PIL import Image

    z = tmp_path / "z.npy"
    np.save(z, CIRCUIT)
    assert main(["render", "causal-circuit", "--latents", str(z), "--out", str(tmp_path / "x.npy"), "--resolution", "16"]) == 0
    np.testing.assert_array_equal(np.load(tmp_path / "x.npy"), render_states("causal-circuit", CIRCUIT, resolution=16))
    assert main(["render", "causal-circuit", "--latents", str(z), "--out", str(tmp_path / "x.png"), "--resolution", "16"]) == 0
    assert np.asarray(Image.open(tmp_path / "x.png")).shape == (2 * 17 + 1, 2 * 17 + 1, 3)


@pytest.mark.parametrize(
    ("states", "needle"),
    [
        (np.zeros((3, 5)), "(N, 4)"),
        (np.array([[0.5, np.nan, 0.5, 0.5]]), "column 1 (red)"),
        (np.array([[0.5, 0.5, 0.5, 2.0]]), "column 3 (blue)"),
    ],
)
def test_cli_render_bad_input_exits_2_naming_the_column(tmp_path, capsys, states, needle):
    z = tmp_path / "z.npy"
    np.save(z, states)
    out = tmp_path / "x.npy"
    assert main(["render", "causal-circuit", "--latents", str(z), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert needle in err and "Traceback" not in err
    assert not out.exists()


def test_cli_render_keeps_an_existing_output(tmp_path, capsys):
    z, out = tmp_path / "z.npy", tmp_path / "x.npy"
    np.save(z, CIRCUIT)
    out.write_bytes(b"mine")
    assert main(["render", "causal-circuit", "--latents", str(z), "--out", str(out)]) == 2
    assert "--overwrite" in capsys.readouterr().err and out.read_bytes() == b"mine"
    assert main(["render", "causal-circuit", "--latents", str(tmp_path / "none.npy"), "--out", str(tmp_path / "y.npy")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_causal3dident_renders_with_blender():
    """One real Cycles render: the requested shape, and the background hue shows."""
    pytest.importorskip("bpy", reason='needs pip install "crlbench[blender]"')
    state = np.array([[0.0, 0.0, 0.0, 0.5, 0.5, 1.0, 0.0, 3.0, 0.0]])
    other = state.copy()
    other[0, 8] = np.pi  # hue_b: red ground -> cyan ground
    images = render_states("causal3dident", np.concatenate([state, other]), resolution=16)
    assert images.shape == (2, 16, 16, 3) and images.dtype == np.uint8
    mean = images.reshape(2, -1, 3).mean(axis=1)  # the ground fills most of the frame
    assert mean[0, 0] - mean[0, 2] > mean[1, 0] - mean[1, 2] + 20  # redder with hue_b = 0 than with pi
