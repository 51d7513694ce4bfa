"""Typed views and torch adapters over a generated file."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from crlbench.datasets import Pairs, Sequence, States, Triplets, load, torch_dataset
from crlbench.datasets.build import generate
from crlbench.errors import DataFileError, UnknownIdError
from tests.helpers import tiny_spec


@pytest.fixture(scope="module")
def tris(tmp_path_factory):
    return load(generate(tiny_spec("toy-son-tris-v1"), tmp_path_factory.mktemp("tris"), progress=False))


def test_views_are_typed(tris):
    assert isinstance(tris["train"], Sequence)
    assert isinstance(tris["test_indep"], States)
    assert isinstance(tris["test_triplets"], Triplets)
    with pytest.raises(KeyError, match="has no split 'nope'"):
        tris["nope"]


def test_sequence_windows(tris):
    seq = tris["train"]
    w = seq.window(3, 4)
    np.testing.assert_array_equal(w["latents"], seq.latents[3:7])
    assert w["targets"].shape == (4, 4)
    ds = torch_dataset(seq, window=2)
    assert len(ds) == len(seq) - 1
    item = ds[5]
    assert item["observations"].shape == (2, 4) and item["observations"].dtype == torch.float32
    torch.testing.assert_close(item["latents"], torch.from_numpy(seq.latents[5:7]).float())
    with pytest.raises(IndexError):
        ds[len(ds)]


def test_pairs_adapter(tmp_path):
    data = load(generate(tiny_spec("toy-son-pairs-v1"), tmp_path, progress=False))
    pairs = data["train"]
    assert isinstance(pairs, Pairs)
    item = torch_dataset(pairs)[0]
    assert item["observations"].shape == (2, 4) and item["targets"].shape == (4,)
    # The observation is the stored rotation of the latents.
    np.testing.assert_allclose(pairs.observations, pairs.latents @ data.structure["mixing"].T, atol=1e-12)


def test_images_become_chw_floats_in_range():
    from crlbench.datasets.torch_adapter import to_tensor

    img = np.array([[[0, 128, 255]]], dtype=np.uint8)  # (1, 1, 3)
    t = to_tensor(img, (-1.0, 1.0))
    assert t.shape == (3, 1, 1)
    torch.testing.assert_close(t.flatten(), torch.tensor([-1.0, 128 / 255 * 2 - 1, 1.0]))


def test_decoded_images_return_to_uint8_exactly():
    from crlbench.datasets.torch_adapter import from_tensor, to_tensor

    img = np.random.default_rng(0).integers(0, 256, (5, 4, 4, 3), dtype=np.uint8)
    for lo, hi in ((-1.0, 1.0), (0.0, 1.0)):
        np.testing.assert_array_equal(from_tensor(to_tensor(img, (lo, hi)), (lo, hi)), img)
    out = from_tensor(torch.tensor([-3.0, -1.0, 0.0, 1.0, 7.0]).reshape(1, 1, 1, 5).expand(1, 3, 1, 5))
    assert out.dtype == np.uint8 and out.shape == (1, 1, 5, 3)
    np.testing.assert_array_equal(out[0, 0, :, 0], [0, 0, 128, 255, 255])  # clipped outside [-1, 1]
    assert from_tensor(torch.ones(2, 3)).dtype == np.float64  # vectors stay numbers


def test_load_by_id(tmp_path, monkeypatch):
    monkeypatch.setenv("CRLBENCH_DATA", str(tmp_path))
    with pytest.raises(DataFileError, match="crlbench generate toy-son-pairs-v1"):
        load("toy-son-pairs-v1")
    with pytest.raises(UnknownIdError, match="Did you mean"):
        load("toy-son-pairz-v1")
    generate(tiny_spec("toy-son-pairs-v1"), tmp_path, progress=False)
    assert load("toy-son-pairs-v1").spec.dataset_id == "toy-son-pairs-v1"
