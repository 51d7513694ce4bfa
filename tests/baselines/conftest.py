"""Fixtures: tiny in-memory pairs (vectors and images) and a generated toy pairs dataset."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from crlbench.datasets.loaders import Pairs


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """One torch thread (module scope, so module-scoped training fixtures get it too): on a
    shared, loaded machine extra OpenMP threads spin and slow training down many times."""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


def linear_pairs(n: int = 256, k: int = 3, seed: int = 0) -> Pairs:
    """Pairs of a chain SCM z0 -> z1 -> z2 ... observed through a rotation."""
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal((n, k))
    targets = np.zeros((n, k), np.uint8)
    label = rng.integers(0, k + 1, n)
    targets[label > 0, label[label > 0] - 1] = 1
    values = rng.standard_normal((n, k))

    def solve(hit: np.ndarray) -> np.ndarray:
        z = np.zeros((n, k))
        for j in range(k):
            mech = noise[:, j] + (z[:, j - 1] if j else 0.0)
            z[:, j] = np.where(hit[:, j], values[:, j], mech)
        return z

    z0, z1 = solve(np.zeros((n, k), bool)), solve(targets.astype(bool))
    rot, _ = np.linalg.qr(rng.standard_normal((k, k)))
    obs = np.stack([z0 @ rot.T, z1 @ rot.T], axis=1)
    return Pairs(latents=np.stack([z0, z1], 1), targets=targets, noise=noise, observations=obs)


def image_pairs(n: int = 16, k: int = 2, side: int = 16, seed: int = 0) -> Pairs:
    """Tiny uint8 image pairs (N, 2, side, side, 3): brightness of two colour channels."""
    p = linear_pairs(n, k, seed)
    lat = np.tanh(p.latents)  # (N, 2, K)
    img = np.zeros((n, 2, side, side, 3), np.uint8)
    for c in range(k):
        img[..., c] = ((lat[..., c] + 1) * 127.5).astype(np.uint8)[:, :, None, None]
    return Pairs(latents=p.latents, targets=p.targets, noise=p.noise, observations=img)


@pytest.fixture
def vector_pairs() -> tuple[Pairs, Pairs]:
    return linear_pairs(256, 3, 0), linear_pairs(128, 3, 1)


@pytest.fixture
def tiny_image_pairs() -> tuple[Pairs, Pairs]:
    return image_pairs(16, 2, 16, 0), image_pairs(8, 2, 16, 1)


@pytest.fixture(scope="session")
def toy_pairs_n4(tmp_path_factory):
    """Smoke-size toy-son pairs, n = 4, seed 2 (a dense graph: 5 of 6 possible edges)."""
    from crlbench.datasets import load
    from crlbench.datasets.build import generate
    from crlbench.registry import DATASETS

    spec = DATASETS["toy-son-pairs-v1"].spec(size="smoke", seed=2, params={"n_vars": 4})
    path = generate(spec, tmp_path_factory.mktemp("toy"), progress=False)
    return load(path)
