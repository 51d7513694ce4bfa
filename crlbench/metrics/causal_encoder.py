"""The causal encoder: a supervised CNN from images to causal factors, for triplet errors.

Triplet errors are only comparable between methods if every method's decoded images are
read by the same frozen predictor. The causal encoder is trained once per dataset version
(on the training images and their true latents), saved with its dataset hash and a sha256
of its weights, and loaded by every evaluation of that dataset.

Architecture (as the CITRIS encoder, Lippe et al. 2022): 4 stride-2 conv blocks (3x3 conv,
BatchNorm, SiLU; ``c_hid`` channels, a second 3x3 conv per block) down to resolution/16,
a linear layer of 256 units with SiLU, and one typed head per causal variable:
continuous -> ``size`` values (range-scaled), angle -> ``2 * size`` values (sin, cos),
categorical -> ``n_categories * size`` logits. Losses: MSE, MSE, cross-entropy.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from crlbench.core import Variable
from crlbench.errors import CrlbenchError
from crlbench.metrics import kinds
from crlbench.metrics._checks import as_truth, as_variables, check_lengths

__all__ = [
    "CausalEncoder",
    "train_causal_encoder",
    "save_causal_encoder",
    "load_causal_encoder",
    "load_or_train_causal_encoder",
    "weights_sha256",
]

import torch
from torch import nn


def _to_float_images(x: torch.Tensor) -> torch.Tensor:
    """(B, H, W, C) uint8 -> (B, C, H, W) float in [-1, 1]."""
    return x.permute(0, 3, 1, 2).float().div(127.5).sub(1.0)


class CausalEncoder(nn.Module):
    """CNN with typed heads; ``forward`` returns (B, C) kind encodings."""

    def __init__(
        self,
        variables: Sequence[Variable],
        *,
        resolution: int = 64,
        channels: int = 3,
        c_hid: int = 32,
    ) -> None:
        super().__init__()
        self.variables = as_variables(variables)
        if resolution % 16:
            raise CrlbenchError(f"resolution must be a multiple of 16, got {resolution}")
        self.config = {"resolution": resolution, "channels": channels, "c_hid": c_hid}
        layers: list[nn.Module] = []
        c_in = channels
        for _ in range(4):
            layers += [
                nn.Conv2d(c_in, c_hid, 3, stride=2, padding=1),
                nn.BatchNorm2d(c_hid),
                nn.SiLU(),
                nn.Conv2d(c_hid, c_hid, 3, padding=1),
                nn.BatchNorm2d(c_hid),
                nn.SiLU(),
            ]
            c_in = c_hid
        side = resolution // 16
        self.body = nn.Sequential(*layers, nn.Flatten(), nn.Linear(c_hid * side * side, 256), nn.SiLU())
        self.heads = nn.ModuleList(nn.Linear(256, kinds.KINDS[v.kind].width(v) * v.size) for v in self.variables)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """(B, H, W, C) uint8 images -> (B, C_enc) encoded factors."""
        h = self.body(_to_float_images(images))
        return torch.cat([head(h) for head in self.heads], dim=1)

    @torch.no_grad()
    def predict(self, images: np.ndarray, *, batch_size: int = 256) -> np.ndarray:
        """(N, H, W, C) uint8 images -> (N, D) predicted factors (radians, indices)."""
        self.eval()
        dev = next(self.parameters()).device
        out = [self(torch.as_tensor(np.asarray(images[i : i + batch_size]), device=dev)).cpu() for i in range(0, len(images), batch_size)]
        return kinds.decode(torch.cat(out).double().numpy(), self.variables)


def _loss(pred: torch.Tensor, target: torch.Tensor, variables: Sequence[Variable]) -> torch.Tensor:
    loss = pred.new_zeros(())
    dv = kinds.dim_variables(variables)
    for v, s in zip(dv, kinds.encoded_columns(variables)):
        if kinds.KINDS[v.kind].loss == "ce":
            loss = loss - (torch.log_softmax(pred[:, s], -1) * target[:, s]).sum(-1).mean()
        else:
            loss = loss + ((pred[:, s] - target[:, s]) ** 2).sum(-1).mean()
    return loss


def train_causal_encoder(
    images: np.ndarray,
    latents: np.ndarray,
    *,
    variables: Sequence[Variable],
    epochs: int = 50,
    batch_size: int = 128,
    lr: float = 1e-3,
    c_hid: int = 32,
    seed: int = 0,
    device: str = "cpu",
) -> CausalEncoder:
    """Train a causal encoder on images and their true factors.

    Args:
        images: (N, H, W, C) uint8 images (H = W, a multiple of 16).
        latents: (N, D) true factors.
        variables: The K variables spanning D.
        epochs, batch_size, lr, c_hid: Training settings (AdamW, cosine schedule).
        seed: Seeds the initialisation and the batch order.
        device: Torch device.

    Returns:
        The trained encoder, in eval mode.
    """
    variables = as_variables(variables)
    y = as_truth(latents, variables, "latents")
    if np.ndim(images) != 4 or images.shape[1] != images.shape[2]:
        raise CrlbenchError(f"images must be (N, H, W, C) square uint8, got {np.shape(images)}")
    n = check_lengths(images=images, latents=y)
    # Module init draws from torch's global generator; fork it so that the caller's random
    # state is untouched and the init depends on `seed` only.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = CausalEncoder(variables, resolution=images.shape[1], channels=images.shape[3], c_hid=c_hid).to(device)
    gen = torch.Generator().manual_seed(seed)
    target = torch.as_tensor(kinds.encode(y, variables), dtype=torch.float32)
    opt = torch.optim.AdamW(model.parameters(), lr=lr)
    steps = epochs * -(-n // batch_size)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(steps, 1))
    model.train()
    for _ in range(epochs):
        perm = torch.randperm(n, generator=gen).numpy()
        for i in range(0, n, batch_size):
            idx = np.sort(perm[i : i + batch_size])  # sorted: h5py-friendly fancy indexing
            x = torch.as_tensor(np.asarray(images[idx]), device=device)
            loss = _loss(model(x), target[idx].to(device), variables)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
    return model.eval()


def weights_sha256(model: CausalEncoder) -> str:
    """sha256 over the state dict tensors, in key order (device and dtype independent)."""
    h = hashlib.sha256()
    for key, value in model.state_dict().items():
        h.update(key.encode())
        h.update(value.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def save_causal_encoder(model: CausalEncoder, path: str | Path, *, dataset_hash: str) -> str:
    """Save weights, configuration, variables, the dataset hash and the weights' sha256.

    Returns:
        The weights' sha256.
    """
    digest = weights_sha256(model)
    record = {
        "state_dict": {k: v.cpu() for k, v in model.state_dict().items()},
        "config": model.config,
        "variables": [dataclasses.asdict(v) for v in model.variables],
        "dataset_hash": dataset_hash,
        "weights_sha256": digest,
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    torch.save(record, buf)
    # One temporary name per process: sweep workers may save the same encoder side by side.
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(buf.getvalue())
    tmp.replace(path)  # atomic: a crashed save never leaves a half-written encoder
    return digest


def load_causal_encoder(path: str | Path, *, dataset_hash: str | None = None) -> CausalEncoder:
    """Load a saved causal encoder, checking its weights and (optionally) its dataset.

    Raises:
        CrlbenchError: If the file's weights do not match their sha256, or it was trained
            on another dataset version than ``dataset_hash``.
    """
    record = torch.load(Path(path), map_location="cpu", weights_only=True)
    if dataset_hash is not None and record["dataset_hash"] != dataset_hash:
        raise CrlbenchError(
            f"causal encoder {path} was trained on dataset {record['dataset_hash'][:12]}, "
            f"not {dataset_hash[:12]}; retrain it for this dataset version"
        )
    variables = [Variable(**{**v, "dims": tuple(v["dims"])}) for v in record["variables"]]
    model = CausalEncoder(variables, **record["config"])
    model.load_state_dict(record["state_dict"])
    if weights_sha256(model) != record["weights_sha256"]:
        raise CrlbenchError(f"causal encoder {path}: weights do not match their sha256")
    return model.eval()


def load_or_train_causal_encoder(
    path: str | Path,
    *,
    dataset_hash: str,
    data: Callable[[], tuple[np.ndarray, np.ndarray]],
    variables: Sequence[Variable],
    **train_kwargs: Any,
) -> CausalEncoder:
    """Load the encoder at ``path`` for ``dataset_hash``, or train and save it once.

    Args:
        path: Where the encoder lives (one file per dataset version).
        dataset_hash: The dataset's spec hash; a file for another hash is retrained.
        data: Called only when training: returns (images (N, H, W, C), latents (N, D)).
        variables: The K variables spanning D.
        **train_kwargs: Passed to :func:`train_causal_encoder`.
    """
    path = Path(path)
    if path.exists():
        saved_for = torch.load(path, map_location="cpu", weights_only=True)["dataset_hash"]
        if saved_for == dataset_hash:  # else: another dataset version, retrain below
            return load_causal_encoder(path, dataset_hash=dataset_hash)
    images, latents = data()
    model = train_causal_encoder(images, latents, variables=variables, **train_kwargs)
    save_causal_encoder(model, path, dataset_hash=dataset_hash)
    return model
