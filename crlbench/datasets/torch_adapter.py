"""torch ``Dataset`` over a typed view (kept apart so numpy users never import torch)."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset as TorchDataset

__all__ = ["TorchView", "to_tensor", "from_tensor"]


def to_tensor(a: np.ndarray, image_range: tuple[float, float]) -> torch.Tensor:
    """uint8 ``(..., H, W, 3)`` -> float32 ``(..., 3, H, W)`` in ``image_range``; else float32."""
    if a.dtype == np.uint8 and a.ndim >= 3 and a.shape[-1] == 3:
        lo, hi = image_range
        t = torch.from_numpy(np.ascontiguousarray(a)).movedim(-1, -3).float()
        return t * ((hi - lo) / 255.0) + lo
    return torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))


def from_tensor(t: torch.Tensor, image_range: tuple[float, float] = (-1.0, 1.0)) -> np.ndarray:
    """Inverse of :func:`to_tensor`: float ``(N, 3, H, W)`` in ``image_range`` -> uint8
    ``(N, H, W, 3)`` (values outside the range clipped); anything else -> float64."""
    t = t.detach()
    if t.ndim == 4:
        lo, hi = image_range
        img = ((t.clamp(lo, hi) - lo) * (255.0 / (hi - lo))).round().to(torch.uint8)
        return img.movedim(1, -1).cpu().numpy()
    return t.cpu().numpy().astype(np.float64)


class TorchView(TorchDataset):
    """Items of a view as dicts of tensors; sequences yield windows of ``window`` frames."""

    def __init__(self, view: Any, *, window: int = 2, image_range: tuple[float, float] = (-1.0, 1.0)) -> None:
        self.view = view
        self.names = [f.name for f in fields(view)]
        self.sequence = hasattr(view, "n_windows")
        self.window = window
        self.image_range = image_range
        if self.sequence and view.n_windows(window) == 0:
            raise ValueError(f"sequence of length {len(view)} has no window of {window} frames")

    def __len__(self) -> int:
        return self.view.n_windows(self.window) if self.sequence else len(self.view)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        if not 0 <= i < len(self):
            raise IndexError(i)
        idx = slice(i, i + self.window) if self.sequence else i
        return {n: to_tensor(np.asarray(getattr(self.view, n)[idx]), self.image_range) for n in self.names}
