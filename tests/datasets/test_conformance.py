"""Conformance over every registered dataset id (as dm_control's suite_test does).

Each id is generated at a tiny size; the checks are what every user relies on: the spec
round-trips, generation is deterministic and independent of the number of workers, the
file round-trips through the loader with the documented shapes and dtypes, pairs change
exactly the intervened variables and their descendants, triplets follow their mask.
"""

from __future__ import annotations

from dataclasses import replace

import h5py
import numpy as np
import pytest

from crlbench.core import descendants
from crlbench.datasets import load
from crlbench.datasets.build import generate, make_scene, sample_split
from crlbench.datasets.spec import DatasetSpec
from crlbench.registry import DATASETS
from tests.helpers import tiny_spec


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    """dataset id -> path of its tiny file (generated once per module)."""
    cache: dict[str, object] = {}

    def get(dataset_id: str):
        if dataset_id not in cache:
            out = tmp_path_factory.mktemp(dataset_id)
            cache[dataset_id] = generate(tiny_spec(dataset_id), out, progress=False)
        return cache[dataset_id]

    return get


def test_spec_round_trip(dataset_id):
    spec = tiny_spec(dataset_id)
    again = DatasetSpec.from_json(spec.to_json())
    assert again == spec and again.hash == spec.hash
    assert tiny_spec(dataset_id, seed=1).hash != spec.hash


def test_scene_determinism(dataset_id):
    spec = tiny_spec(dataset_id)
    a, b = make_scene(spec), make_scene(spec)
    for key, value in a.structure().items():
        np.testing.assert_array_equal(value, b.structure()[key])
    other = make_scene(replace(spec, seed=spec.seed + 1))
    differs = False
    for split in spec.splits:
        x, y = sample_split(a, spec, split), sample_split(b, spec, split)
        for name in x.arrays:
            np.testing.assert_array_equal(x.arrays[name], y.arrays[name], err_msg=f"{split}/{name}")
        z = sample_split(other, replace(spec, seed=spec.seed + 1), split)
        differs |= not np.array_equal(x.arrays["latents"], z.arrays["latents"])
    assert differs, "a different seed must give different samples"


def test_file_round_trip(dataset_id, generated):
    spec = tiny_spec(dataset_id)
    data = load(generated(dataset_id))
    scene = make_scene(spec)
    assert data.spec == spec
    assert data.variables == scene.variables
    np.testing.assert_array_equal(data.graph.temporal, scene.graph.temporal)
    np.testing.assert_array_equal(data.graph.instantaneous, scene.graph.instantaneous)
    k, d, obs = len(scene.variables), scene.latent_dim, scene.observation.at(spec.resolution)
    lead = {"sequence": (), "pairs": (2,), "triplets": (3,), "states": ()}
    for split, n in spec.splits.items():
        view = data[split]
        kind = spec.split_kind(split)
        assert view.latents.shape == (n, *lead[kind], d) and view.latents.dtype == np.float64
        o = np.asarray(view.observations)
        assert o.shape == (n, *lead[kind], *obs.shape) and o.dtype == obs.dtype
        assert np.isfinite(view.latents).all()
        if hasattr(view, "targets"):
            assert view.targets.shape == (n, k) and view.targets.dtype == np.uint8
            assert set(np.unique(view.targets)) <= {0, 1}
        if hasattr(view, "mask"):
            assert view.mask.shape == (n, k) and view.mask.dtype == np.uint8


def test_workers_give_identical_files(dataset_id, generated, tmp_path):
    spec = tiny_spec(dataset_id)
    two = generate(spec, tmp_path, workers=2, shard_frames=4, progress=False)
    with h5py.File(generated(dataset_id)) as f, h5py.File(two) as g:
        assert f.attrs["manifest"] == g.attrs["manifest"]  # every array bit for bit


def test_pairs_change_only_targets_and_descendants(dataset_id):
    spec = tiny_spec(dataset_id)
    if spec.mode != "pairs":
        pytest.skip("pairs only")
    spec = replace(spec, splits={"train": 200})
    scene = make_scene(spec)
    sl = sample_split(scene, spec, "train")
    pre, post, targets = sl.arrays["latents"][:, 0], sl.arrays["latents"][:, 1], sl.arrays["targets"]
    dim_to_var = scene.dim_to_var
    kinds = np.array([v.kind for v in scene.variables])
    assert targets.sum(axis=1).max() <= 1 and targets.any()
    for i in range(len(targets)):
        reach = descendants(scene.graph.instantaneous, targets[i].astype(bool))
        unchanged = ~reach[dim_to_var]
        np.testing.assert_array_equal(post[i, unchanged], pre[i, unchanged])
        if not targets[i].any():
            np.testing.assert_array_equal(post[i], pre[i])
        hit = targets[i].astype(bool)[dim_to_var] & (kinds[dim_to_var] != "categorical")
        assert (post[i, hit] != pre[i, hit]).all(), "an intervened variable must take a new value"


def _views_with(data, attribute: str, what: str) -> list:
    """The splits whose views have ``attribute``; skips (saying so) when the mode has none."""
    views = [view for view in data.splits.values() if hasattr(view, attribute)]
    if not views:
        pytest.skip(f"no {what} split in this mode")
    return views


def test_triplets_follow_mask(dataset_id, generated):
    data = load(generated(dataset_id))
    for view in _views_with(data, "mask", "triplet"):
        m = view.mask.astype(bool)
        assert m.any(axis=1).all() and (~m).any(axis=1).all(), "mask must be neither all 0 nor all 1"
        take_b = m[:, data.dim_to_var]
        a, b, c = view.latents[:, 0], view.latents[:, 1], view.latents[:, 2]
        np.testing.assert_array_equal(c, np.where(take_b, b, a))


def test_sequences_start_unintervened(dataset_id, generated):
    data = load(generated(dataset_id))
    for view in _views_with(data, "n_windows", "sequence"):
        assert not view.targets[0].any()
        assert view.n_windows(2) == len(view) - 1


def test_resolution_sets_the_image_shape(tmp_path):
    # the first image pairs dataset (MuJoCo renders faster than Blender in sort order)
    image_ids = sorted(d for d, e in DATASETS.items() if e.resolution is not None and e.mode == "pairs")
    assert image_ids, "an image scene must be registered"
    spec = replace(tiny_spec(image_ids[0]), resolution=32, splits={"train": 3})
    data = load(generate(spec, tmp_path, progress=False))
    assert np.asarray(data["train"].observations).shape == (3, 2, 32, 32, 3)
