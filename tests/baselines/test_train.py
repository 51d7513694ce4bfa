"""The training loop: resume after a kill, NaN handling, schedules, selection, logs."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch import nn

from crlbench.baselines.loop import (
    Batches,
    LoopConfig,
    TrainingDiverged,
    fit_module,
    lr_factor,
    resolve_device,
)
from crlbench.errors import CrlbenchError


class Regression(nn.Module):
    """A noisy linear regression: uses the RNG (dropout-like noise) so resuming must restore it."""

    def __init__(self, nan_at: float | None = None) -> None:
        super().__init__()
        self.lin = nn.Linear(3, 1)
        self.nan_at = nan_at

    def training_loss(self, batch, progress):
        pred = self.lin(batch["x"] + 0.01 * torch.randn_like(batch["x"]))
        loss = (pred.squeeze(-1) - batch["y"]).square().mean()
        if self.nan_at is not None and progress >= self.nan_at:
            loss = loss * float("nan")
        return loss, {"mse": float(loss.detach())}

    def validation_loss(self, batch):
        return {"loss": float((self.lin(batch["x"]).squeeze(-1) - batch["y"]).square().mean())}


def _data(n=200, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 3))
    return {"x": x, "y": x @ np.array([1.0, -2.0, 0.5]) + 0.3}


CFG = LoopConfig(batch_size=16, lr=1e-2, val_every=10, progress=False, select="last")


def _params(m):
    return torch.cat([p.detach().flatten() for p in m.parameters()])


def test_trains_and_logs(tmp_path):
    torch.manual_seed(0)
    m = Regression()
    res = fit_module(m, _data(), _data(50, 1), budget="3ep", seed=0, config=CFG, workdir=tmp_path)
    assert res.steps == 3 * (200 // 16)
    log = json.loads((tmp_path / "log.json").read_text())
    assert log["status"] == "done" and log["val"][-1]["loss"] < log["val"][0]["loss"]
    assert {"step", "loss", "mse", "lr", "grad_norm"} <= set(log["train"][0])
    assert (tmp_path / "checkpoint.pt").exists() and (tmp_path / "best.pt").exists()


def test_resume_after_kill_is_identical(tmp_path):
    torch.manual_seed(0)
    ref = Regression()
    fit_module(ref, _data(), _data(50, 1), budget=60, seed=3, config=CFG, workdir=tmp_path / "ref")

    class Killed(Exception):
        pass

    def kill(step, logs):
        if step == 37:  # between checkpoints at 30 and 40: steps 31..37 are lost
            raise Killed

    torch.manual_seed(0)
    with pytest.raises(Killed):
        fit_module(Regression(), _data(), _data(50, 1), budget=60, seed=3, config=CFG, workdir=tmp_path / "run", on_step=kill)
    fresh = Regression()  # a new process: different initial weights, restored from the checkpoint
    res = fit_module(fresh, _data(), _data(50, 1), budget=60, seed=3, config=CFG, workdir=tmp_path / "run")
    assert res.resumed_from == 30 and res.steps == 60
    assert torch.equal(_params(fresh), _params(ref))
    log = json.loads((tmp_path / "run" / "log.json").read_text())
    assert log["resumed_at"] == [30]


def test_finished_run_is_not_retrained(tmp_path):
    torch.manual_seed(0)
    m = Regression()
    fit_module(m, _data(), None, budget=20, seed=0, config=CFG, workdir=tmp_path)
    again = Regression()
    res = fit_module(again, _data(), None, budget=20, seed=0, config=CFG, workdir=tmp_path)
    assert res.resumed_from == 20 and torch.equal(_params(again), _params(m))


def test_other_config_in_workdir_is_refused(tmp_path):
    fit_module(Regression(), _data(), None, budget=10, seed=0, config=CFG, workdir=tmp_path)
    with pytest.raises(CrlbenchError, match="another configuration"):
        fit_module(Regression(), _data(), None, budget=10, seed=1, config=CFG, workdir=tmp_path)


def test_nan_names_step_and_checkpoint(tmp_path):
    with pytest.raises(TrainingDiverged, match=r"at step 25; last good checkpoint: .*checkpoint.pt \(step 20\)"):
        fit_module(Regression(nan_at=0.5), _data(), _data(50, 1), budget=50, seed=0, config=CFG, workdir=tmp_path)
    assert json.loads((tmp_path / "log.json").read_text())["status"] == "diverged"


def test_nan_without_checkpoint():
    with pytest.raises(TrainingDiverged, match="at step 0; last good checkpoint: none"):
        fit_module(Regression(nan_at=0.0), _data(), None, budget=5, seed=0, config=CFG)


def test_best_selection_respects_select_after():
    torch.manual_seed(0)
    m = Regression()
    cfg = LoopConfig(batch_size=16, lr=1e-2, val_every=5, progress=False, select="best", select_after=0.5)
    res = fit_module(m, _data(), _data(50, 1), budget=40, seed=0, config=cfg)
    assert res.best_step >= 20


def test_schedules():
    assert lr_factor("constant", 5, 10) == 1.0
    assert lr_factor("cosine", 0, 10) == 1.0 and lr_factor("cosine", 10, 10) == pytest.approx(0.0)
    assert lr_factor("cosine_warmup", 0, 100, 0.1) == pytest.approx(0.1)
    assert lr_factor("cosine_warmup", 10, 100, 0.1) == pytest.approx(1.0)
    assert lr_factor("linear_warmup", 50, 100, 0.1) == 1.0
    with pytest.raises(CrlbenchError):
        LoopConfig(schedule="exotic")


def test_adamw_and_clipping_run():
    cfg = LoopConfig(
        batch_size=16, lr=1e-2, optimizer="adamw", weight_decay=0.1, grad_clip=0.5, schedule="cosine_warmup", warmup=0.2, progress=False
    )
    res = fit_module(Regression(), _data(), _data(50, 1), budget=30, seed=0, config=cfg)
    assert res.log["train"][-1]["grad_norm"] >= 0


def test_batches_are_seeded_and_cover_epoch():
    b = Batches({"x": np.arange(10.0)[:, None]}, 3)
    e0 = [t["x"].flatten().tolist() for t in b.epoch(seed=0, epoch=0)]
    assert e0 == [t["x"].flatten().tolist() for t in b.epoch(seed=0, epoch=0)]
    assert e0 != [t["x"].flatten().tolist() for t in b.epoch(seed=0, epoch=1)]
    assert len(e0) == 3 and len(set(sum(e0, []))) == 9
    assert [t["x"].flatten().tolist() for t in b.epoch(0, 0, start=1)] == e0[1:]


def test_batches_convert_images():
    imgs = np.zeros((4, 2, 8, 8, 3), np.uint8)
    batch = next(Batches({"pair": imgs}, 2).ordered())
    assert batch["pair"].shape == (2, 2, 3, 8, 8) and batch["pair"].min() == -1.0


def test_device_resolution():
    assert resolve_device("cpu").type == "cpu"
    assert resolve_device("auto").type in ("cpu", "cuda")
    if not torch.cuda.is_available():
        with pytest.raises(CrlbenchError, match="CUDA"):
            resolve_device("cuda")


def test_rejects_non_trainable():
    with pytest.raises(CrlbenchError, match="training_loss"):
        fit_module(nn.Linear(2, 2), _data(), None, budget=1, seed=0, config=CFG)
