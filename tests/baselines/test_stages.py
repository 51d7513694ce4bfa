"""Shared encoding stages: trained once per (dataset, settings), cached by key, reused."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from crlbench.baselines.autoencoder import EncodingStage, load_or_train_stage, stage_spec
from crlbench.baselines.beta_vae import BetaVAE
from crlbench.baselines.citris_nf import CitrisNF
from crlbench.baselines.loop import LoopConfig
from crlbench.errors import CrlbenchError
from tests.baselines.conftest import image_pairs
from tests.baselines.test_citris import _image_sequence, _vector_sequence

LOOP = LoopConfig(batch_size=8, progress=False, device="cpu")


def _stage(tmp_path, calls: list, dataset_hash: str = "a" * 64, kind: str = "reduce-dim") -> EncodingStage:
    pairs = image_pairs(24, side=16)
    spec = stage_spec(kind, budget=3, run_loop=LOOP, settings={"channels": 8})

    def data():
        calls.append(1)
        return {"pair": pairs.observations}, {"pair": pairs.observations[:8]}

    return load_or_train_stage(spec, dataset_id="toy-images", dataset_hash=dataset_hash, folder=tmp_path, data=data)


def test_stage_is_trained_once_and_reused(tmp_path):
    calls: list = []
    first = _stage(tmp_path, calls)
    again = _stage(tmp_path, calls)
    assert calls == [1], "the second use must load the cached stage, not train it again"
    assert again.key == first.key and again.weights_sha256 == first.weights_sha256
    assert first.path == again.path and first.path.exists() and first.key[:12] in first.path.name
    prov = again.provenance()
    assert prov["kind"] == "reduce-dim" and prov["key"] == first.key and len(prov["weights_sha256"]) == 64
    other = _stage(tmp_path, calls, dataset_hash="b" * 64)  # another dataset version: its own stage
    assert calls == [1, 1] and other.key != first.key and other.path != first.path


def test_stage_encodes_and_decodes_images(tmp_path):
    stage = _stage(tmp_path, [])
    pairs = image_pairs(5, side=16)
    z = stage.encode_pairs(pairs.observations)
    assert z.shape == (5, 2, 8) and z.dtype == np.float32
    np.testing.assert_allclose(z[:, 0], stage.encode(pairs.observations[:, 0]), rtol=1e-5, atol=1e-6)
    x = stage.decode(z[:, 0])
    assert x.shape == (5, 16, 16, 3) and x.dtype == np.uint8


def test_a_cached_file_of_another_key_is_refused(tmp_path):
    stage = _stage(tmp_path, [])
    rec = torch.load(stage.path, weights_only=False)
    rec["key"] = "0" * 64
    torch.save(rec, stage.path)
    with pytest.raises(CrlbenchError, match="delete it to retrain"):
        _stage(tmp_path, [])


def test_unknown_stage_settings_are_named():
    with pytest.raises(CrlbenchError, match="unknown settings"):
        stage_spec("reduce-dim", budget=3, run_loop=LOOP, settings={"width": 3})
    with pytest.raises(CrlbenchError, match="unknown stage kind"):
        stage_spec("pca", budget=3, run_loop=LOOP)


def test_pairs_method_trains_on_the_stage_encodings(tmp_path):
    stage = _stage(tmp_path, [])
    pairs = image_pairs(24, side=16)
    m = BetaVAE(device="cpu", loop={"batch_size": 8, "progress": False})
    assert set(m.shared_stages(pairs, 3)) == {"encoding"}
    m.fit(pairs, None, 3, 0, stages={"encoding": stage})
    assert m.module.encoder[0] is stage.encoder  # images in: the stage, then the method's MLP
    z = m.encode(pairs.observations[:4, 0])
    assert z.shape == (4, 2)
    x = m.decode(z)
    assert x.shape == (4, 16, 16, 3) and x.dtype == np.uint8


def test_ilcm_family_trains_on_the_reduce_dim_encodings(tmp_path):
    from crlbench.baselines.disentangled_vae import DisentangledVAE
    from crlbench.baselines.ilcm import ILCM

    stage = _stage(tmp_path, [])
    pairs = image_pairs(24, side=16)
    for cls in (ILCM, DisentangledVAE):
        m = cls(device="cpu", loop={"batch_size": 8, "progress": False}, graph_method="interventions")
        spec = m.shared_stages(pairs, 3)["encoding"]
        assert spec.kind == "reduce-dim" and spec.settings["n_latents"] == 8
        m.fit(pairs, None, 3, 0, stages={"encoding": stage})
        assert m.encode(pairs.observations[:4, 0]).shape == (4, 2)
        assert m.infer_targets(pairs.observations[:4, 0], pairs.observations[:4, 1]).shape == (4,)
        assert m.decode(m.encode(pairs.observations[:4, 0])).shape == (4, 16, 16, 3)


def test_citris_nf_declares_its_autoencoder_on_images_only():
    m = CitrisNF(device="cpu", loop={"batch_size": 8, "progress": False}, n_latents=6, channels=8)
    specs = m.shared_stages(_image_sequence(12), 3)
    assert list(specs) == ["autoencoder"] and specs["autoencoder"].kind == "citris-ae"
    assert specs["autoencoder"].settings["n_latents"] == 6
    assert m.shared_stages(_vector_sequence(20), 3) == {}


def test_citris_nf_uses_a_shared_autoencoder(tmp_path):
    m = CitrisNF(device="cpu", loop={"batch_size": 8, "progress": False}, n_latents=6, channels=8)
    seq = _image_sequence(20)
    spec = m.shared_stages(seq, 3)["autoencoder"]
    stage = load_or_train_stage(spec, dataset_id="seq", dataset_hash="c" * 64, folder=tmp_path, data=lambda: (m.stage_arrays(seq), None))
    m.fit(seq, None, 3, 0, workdir=tmp_path / "run", stages={"autoencoder": stage})
    assert m.module.autoencoder is stage.module
    assert not (tmp_path / "run" / "autoencoder").exists()
    z = m.encode(np.asarray(seq.observations[:3]))
    assert z.shape == (3, 6) and m.decode(z).shape == (3, 64, 64, 3)


def test_records_carry_the_stage_keys_of_the_run(tmp_path):
    import json
    from pathlib import Path

    from crlbench.leaderboard.records import RecordError, ResultRecord, run_stages

    config = {"stages": {"autoencoder": {"kind": "citris-ae", "key": "ab" * 32, "weights_sha256": "cd" * 32, "path": None}}}
    (tmp_path / "config.json").write_text(json.dumps(config))
    assert run_stages(tmp_path) == {"autoencoder": "ab" * 32}
    assert run_stages({}) == {}
    src = Path(__file__).parents[2] / "results/smoke/causal-circuit-tris-v1/smoke/citris-nf-seed0.json"
    data = json.loads(src.read_text())
    rec = ResultRecord.from_dict({**data, "stages": run_stages(tmp_path)})
    assert rec.stages == {"autoencoder": "ab" * 32} and json.loads(rec.to_json())["stages"] == rec.stages
    assert "stages" not in json.loads(ResultRecord.from_dict(data).to_json())  # older records unchanged
    with pytest.raises(RecordError, match="stages.autoencoder"):
        ResultRecord.from_dict({**data, "stages": {"autoencoder": "not-a-key"}})


def test_stage_budget_sets_the_stages_training_length_apart_from_the_methods(tmp_path):
    import json

    from crlbench.baselines.run import train
    from crlbench.datasets import load
    from crlbench.datasets.build import generate
    from tests.helpers import tiny_spec

    data = load(generate(tiny_spec("causal-circuit-pairs-v1"), tmp_path / "data", progress=False))
    kw = {"params": {"channels": 8}, "loop": {"batch_size": 8, "progress": False}, "device": "cpu", "progress": False}
    stages = {}
    for name, budget, stage_budget in (("a", "3steps", "2steps"), ("b", "4steps", "2steps"), ("c", "3steps", None)):
        run = train("beta-vae", data, 0, tmp_path / name, budget=budget, stage_budget=stage_budget, **kw)
        config = json.loads((run / "config.json").read_text())
        assert config["budget"] == budget and config["stage_budget"] == stage_budget
        stages[name] = config["stages"]["encoding"]["key"]
    # One stage per stage budget, whatever the method's budget; without one, the method's.
    assert stages["a"] == stages["b"] != stages["c"]
    assert len(list((tmp_path / "data").glob("*.stage.pt"))) == 2
