"""The causal encoder: typed heads, determinism, save / load with hashes, train-once cache."""

from __future__ import annotations

import numpy as np
import pytest

from crlbench.core import Variable
from crlbench.metrics import triplet_error
from crlbench.metrics.causal_encoder import (
    CausalEncoder,
    load_causal_encoder,
    load_or_train_causal_encoder,
    save_causal_encoder,
    train_causal_encoder,
)

VARS = (
    Variable("b", "continuous", low=0.0, high=1.0),
    Variable("a", "angle"),
    Variable("c", "categorical", n_categories=2),
)


def _toy_images(rng, n=128, res=16):
    """Images whose channels show the factors: brightness, (sin, cos) halves, a category."""
    y = np.column_stack([rng.uniform(0, 1, n), rng.uniform(0, 2 * np.pi, n), rng.integers(0, 2, n)])
    img = np.zeros((n, res, res, 3))
    img[..., 0] = y[:, 0, None, None]
    img[:, :, : res // 2, 1] = ((np.sin(y[:, 1]) + 1) / 2)[:, None, None]
    img[:, :, res // 2 :, 1] = ((np.cos(y[:, 1]) + 1) / 2)[:, None, None]
    img[..., 2] = y[:, 2, None, None]
    return (img * 255).astype(np.uint8), y


def test_heads_are_typed():
    model = CausalEncoder(VARS, resolution=16)
    assert [h.out_features for h in model.heads] == [1, 2, 2]


def test_trains_saves_and_loads(tmp_path, rng):
    images, y = _toy_images(rng)
    kw = dict(variables=VARS, epochs=20, batch_size=32, lr=1e-2, c_hid=8, seed=0)
    model = train_causal_encoder(images, y, **kw)
    pred = model.predict(images)
    err = triplet_error(y, pred, variables=VARS, normalize=True)
    assert err[0] < 0.15 and err[1] < 0.1 and err[2] < 0.1  # chance: 0.25, 0.5, 0.5

    path = tmp_path / "enc.pt"
    digest = save_causal_encoder(model, path, dataset_hash="abc123")
    loaded = load_causal_encoder(path, dataset_hash="abc123")
    np.testing.assert_array_equal(loaded.predict(images), pred)
    with pytest.raises(ValueError, match="trained on dataset abc123"):
        load_causal_encoder(path, dataset_hash="other")
    again = train_causal_encoder(images, y, **kw)  # same seed, same weights
    from crlbench.metrics.causal_encoder import weights_sha256

    assert weights_sha256(again) == digest


def test_load_or_train_trains_once(tmp_path, rng):
    images, y = _toy_images(rng, n=32)
    calls = []

    def data():
        calls.append(1)
        return images, y

    kw = dict(variables=VARS, epochs=1, batch_size=16, c_hid=4)
    path = tmp_path / "cache" / "enc.pt"
    load_or_train_causal_encoder(path, dataset_hash="h1", data=data, **kw)
    load_or_train_causal_encoder(path, dataset_hash="h1", data=data, **kw)
    assert len(calls) == 1
    load_or_train_causal_encoder(path, dataset_hash="h2", data=data, **kw)  # new version
    assert len(calls) == 2
