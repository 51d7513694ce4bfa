"""iVAE and SlowVAE references; the toy identification comparison (CITRIS against both)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from crlbench.baselines.citris_nf import CitrisNF
from crlbench.baselines.citris_vae import CitrisVAE
from crlbench.baselines.contract import check_method
from crlbench.baselines.ivae import IVAE
from crlbench.baselines.methods import method_class
from crlbench.baselines.slowvae import SlowVAE
from crlbench.datasets import Sequence, load
from crlbench.datasets.build import generate
from crlbench.errors import CrlbenchError
from crlbench.registry import DATASETS


def _vector_sequence(t: int = 200, d: int = 3, k: int = 3, seed: int = 0) -> Sequence:
    rng = np.random.default_rng(seed)
    z = np.cumsum(rng.normal(size=(t, d)), 0) * 0.1
    return Sequence(z, (rng.random((t, k)) < 0.25).astype(np.uint8), np.zeros((t, 1)), z @ rng.normal(size=(d, d)))


@pytest.mark.parametrize("name", ["citris-vae", "citris-nf", "ivae", "slowvae"])
def test_registered(name):
    assert method_class(name).name == name


@pytest.mark.parametrize("cls", [IVAE, SlowVAE])
def test_reference_contract(cls):
    torch.manual_seed(0)
    seq = _vector_sequence()
    m = cls(device="cpu", loop={"batch_size": 64, "progress": False})
    assert m.fit(seq, None, 15, 0).steps == 15
    x = np.asarray(seq.observations[:40])
    caps = check_method(m, x)
    assert "assignment" not in caps and "decode" in caps  # matched post hoc by the metrics
    assert m.encode(x).shape == (40, 3)  # default: K latents for vectors
    z = m.encode(np.asarray(seq.observations))
    assert z.shape == (200, 3) and np.isfinite(z).all()
    np.testing.assert_allclose(z[:40], m.encode(x), rtol=1e-5, atol=1e-6)  # latents do not depend on the batch


@pytest.mark.parametrize("cls", [IVAE, SlowVAE])
def test_reference_refuses_pairs(cls, tmp_path):
    from tests.helpers import tiny_spec

    pairs = load(generate(tiny_spec("toy-son-pairs-v1"), tmp_path, progress=False))
    with pytest.raises(CrlbenchError, match="needs a sequences dataset"):
        cls(device="cpu").fit(pairs["train"], None, 1, 0)


# --- identification on toy TRIS data -------------------------------------------------------

#: Reduced budget of the comparison (the smoke protocol runs 3000 steps at batch 128).
BUDGET, BATCH = "1500steps", 128


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    spec = DATASETS["toy-son-tris-v1"].spec(size="smoke", params={"n_vars": 4})
    return load(generate(spec, tmp_path_factory.mktemp("toy"), progress=False))


def _score(method, ds) -> tuple[float, float]:
    from crlbench.metrics import probe_matrices

    probe = ds["test_indep"]
    z = method.encode(np.asarray(probe.observations))
    a = method.assignment() if hasattr(method, "assignment") else None
    res = probe_matrices(probe.latents, z, variables=ds.variables, assignment=a, probe="kernel", seed=0)
    return float(res["r2_diag"]), float(res["r2_sep"])


def test_citris_identifies_toy_variables_better_than_references(toy):
    torch.set_num_threads(1)
    scores = {}
    for cls in (CitrisNF, CitrisVAE, IVAE, SlowVAE):
        torch.manual_seed(0)
        extra = {"flow_batch_size": BATCH} if cls is CitrisNF else {}
        m = cls(device="cpu", loop={"batch_size": BATCH, "progress": False}, **extra)
        m.fit(toy["train"], toy["val"], BUDGET, 0)
        scores[cls.name] = _score(m, toy)
    gap = {k: d - s for k, (d, s) in scores.items()}
    assert scores["citris-nf"][0] > 0.9 and scores["citris-nf"][1] < 0.1, scores
    assert max(gap["citris-nf"], gap["citris-vae"]) > max(gap["ivae"], gap["slowvae"]) + 0.1, scores
