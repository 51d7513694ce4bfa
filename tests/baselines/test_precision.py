"""Mixed precision: resolution, fp32 where it must be, and equal results in fp32 and bf16.

Tolerances (stated in docs/training.md): one conv training step in bf16 gives the fp32 loss
within 2% and gradients with cosine similarity above 0.99; the conv encoder trained to read
two factors off 16x16 images reaches a held-out R² within 0.03 of the fp32 run's; toy
(vector) training is bit-identical whatever the precision, since only conv networks
autocast.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch import nn

from crlbench.baselines import precision as prec
from crlbench.baselines.citris_nf import Autoencoder
from crlbench.baselines.loop import LoopConfig, fit_module
from crlbench.baselines.nn import ConvDecoder, ConvEncoder
from crlbench.errors import CrlbenchError


def test_auto_is_bf16_with_amx_and_fp32_without(monkeypatch):
    monkeypatch.setattr(prec, "cpu_has_amx", lambda: True)
    p = prec.resolve_precision("auto", "cpu")
    assert p.name == "bf16" and p.dtype == torch.bfloat16 and p.channels_last and not p.needs_scaler
    monkeypatch.setattr(prec, "cpu_has_amx", lambda: False)
    assert prec.resolve_precision("auto", "cpu").name == "fp32"
    fp32 = prec.resolve_precision("fp32", "cpu")
    assert fp32.mixed is False and fp32.channels_last  # oneDNN's faster layout in fp32 too


def test_bf16_without_amx_says_it_is_slow(monkeypatch):
    monkeypatch.setattr(prec, "cpu_has_amx", lambda: False)
    with pytest.warns(prec.SlowPrecisionWarning, match="without AMX"):
        assert prec.resolve_precision("bf16", "cpu").name == "bf16"


def test_bad_precisions_are_refused():
    with pytest.raises(CrlbenchError, match="fp16 needs a CUDA device"):
        prec.resolve_precision("fp16", "cpu")
    with pytest.raises(CrlbenchError, match="precision must be one of"):
        LoopConfig(precision="half")


class _Regression(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lin = nn.Linear(3, 1)

    def training_loss(self, batch, progress):
        loss = (self.lin(batch["x"]).squeeze(-1) - batch["y"]).square().mean()
        return loss, {}

    def validation_loss(self, batch):
        return {"loss": float(self.training_loss(batch, 1.0)[0])}


def test_vector_models_stay_fp32_and_the_log_says_so(tmp_path):
    x = np.random.default_rng(0).standard_normal((64, 3))
    cfg = LoopConfig(batch_size=16, progress=False, precision="bf16")
    fit_module(_Regression(), {"x": x, "y": x.sum(1)}, None, budget=4, seed=0, config=cfg, workdir=tmp_path)
    log = json.loads((tmp_path / "log.json").read_text())
    assert log["precision"]["requested"] == "bf16" and log["precision"]["used"] == "fp32"


def test_conv_networks_compute_in_bf16_and_return_fp32():
    torch.manual_seed(0)
    enc = ConvEncoder(16, 8, channels=8)
    prec.configure(enc, prec.Precision("bf16", "cpu", channels_last=True))
    seen = []
    enc.features[0].register_forward_hook(lambda m, i, o: seen.append(o.dtype))
    out = enc(torch.rand(4, 3, 16, 16))
    assert seen == [torch.bfloat16] and out.dtype == torch.float32
    assert enc.features[0].weight.is_contiguous(memory_format=torch.channels_last)


def _conv_pair(seed: int = 0) -> nn.ModuleDict:
    torch.manual_seed(seed)
    return nn.ModuleDict({"enc": ConvEncoder(16, 8, channels=16), "dec": ConvDecoder(8, 16, channels=16)})


def test_one_conv_step_matches_fp32():
    x = torch.rand(16, 3, 16, 16) * 2 - 1
    losses, grads = {}, {}
    for name in ("fp32", "bf16"):
        m = _conv_pair()
        prec.configure(m, prec.Precision(name, "cpu", channels_last=name == "bf16"))
        loss = (m["dec"](m["enc"](x)) - x).square().mean()
        loss.backward()
        losses[name] = float(loss.detach())
        grads[name] = torch.cat([p.grad.flatten() for p in m.parameters()])
    assert abs(losses["bf16"] - losses["fp32"]) <= 0.02 * losses["fp32"]
    cos = torch.nn.functional.cosine_similarity(grads["bf16"], grads["fp32"], dim=0)
    assert cos > 0.99


def _squares(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """16x16 images of a square whose position and colour are two latent factors."""
    rng = np.random.default_rng(seed)
    lat = rng.random((n, 2))
    img = np.zeros((n, 16, 16, 3), np.uint8)
    for i, (a, b) in enumerate(lat):
        x0 = int(a * 10)
        img[i, 5:11, x0 : x0 + 6] = (int(255 * b), 90, 255 - int(255 * b))
    return img, lat


def _r2(pred: np.ndarray, truth: np.ndarray) -> float:
    return float(1 - ((pred - truth) ** 2).sum(0).mean() / ((truth - truth.mean(0)) ** 2).sum(0).mean())


class _Regressor(nn.Module):
    """The shared conv encoder trained to read the two factors off the image (as the causal
    encoder of the triplet metric is): a small image task that converges the same way from
    any seed, so a difference between precisions is the precision's."""

    def __init__(self) -> None:
        super().__init__()
        self.enc = ConvEncoder(16, 2, channels=16)

    def training_loss(self, batch, progress):
        loss = (self.enc(batch["image"]) - batch["y"]).square().mean()
        return loss, {}

    def validation_loss(self, batch):
        return {"loss": float(self.training_loss(batch, 1.0)[0])}


def test_small_image_training_gives_the_same_result_in_bf16():
    img, lat = _squares(512, 0)
    vimg, vlat = _squares(256, 1)
    r2 = {}
    for name in ("fp32", "bf16"):
        torch.manual_seed(0)
        m = _Regressor()
        cfg = LoopConfig(batch_size=32, lr=3e-3, progress=False, precision=name, select="last")
        res = fit_module(m, {"image": img, "y": lat}, None, budget=200, seed=0, config=cfg)
        assert res.log["precision"]["used"] == name
        m.eval()
        with torch.no_grad():
            pred = m.enc(torch.from_numpy(vimg).permute(0, 3, 1, 2).float() / 127.5 - 1).numpy()
        r2[name] = _r2(pred, vlat)
    assert r2["fp32"] > 0.9, "the fp32 reference must learn the task for the comparison to mean anything"
    assert abs(r2["bf16"] - r2["fp32"]) <= 0.03


def test_toy_vector_training_is_identical_whatever_the_precision():
    from crlbench.baselines.citris_vae import CitrisVAE
    from tests.baselines.test_citris import _vector_sequence

    z = {}
    for name in ("fp32", "bf16"):
        torch.manual_seed(0)
        m = CitrisVAE(device="cpu", loop={"batch_size": 64, "progress": False, "precision": name})
        m.fit(_vector_sequence(), None, 10, 0)
        z[name] = m.encode(np.asarray(_vector_sequence().observations[:50]))
    np.testing.assert_array_equal(z["bf16"], z["fp32"])


class _ConvAE(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.ae = Autoencoder((3, 8, 8), 3, channels=8, latent_noise=0.1)

    def training_loss(self, batch, progress):
        return self.ae.training_loss(batch, progress)

    def validation_loss(self, batch):
        return self.ae.validation_loss(batch)


def test_bf16_resume_after_kill_is_identical(tmp_path):
    img = np.random.default_rng(0).integers(0, 255, (96, 2, 8, 8, 3), dtype=np.uint8)
    cfg = LoopConfig(batch_size=16, progress=False, precision="bf16", val_every=5, select="last")

    class Killed(Exception):
        pass

    def kill(step, logs):
        if step == 8:
            raise Killed

    torch.manual_seed(0)
    ref = _ConvAE()
    fit_module(ref, {"pair": img}, None, budget=15, seed=1, config=cfg, workdir=tmp_path / "ref")
    torch.manual_seed(0)
    with pytest.raises(Killed):
        fit_module(_ConvAE(), {"pair": img}, None, budget=15, seed=1, config=cfg, workdir=tmp_path / "run", on_step=kill)
    fresh = _ConvAE()
    res = fit_module(fresh, {"pair": img}, None, budget=15, seed=1, config=cfg, workdir=tmp_path / "run")
    assert res.resumed_from == 5
    for a, b in zip(ref.state_dict().values(), fresh.state_dict().values()):
        assert torch.equal(a, b)
