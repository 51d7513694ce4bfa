"""torch ``Dataset`` over a typed view (kept apart so numpy users never import torch)."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset as TorchDataset

__all__ = ["TorchView", "to_tensor"]


def to_tensor(a: np.ndarray, image_range: tuple[float, float]) -> torch.Tensor:
    """uint8 ``(..., H, W, 3)`` -> float32 ``(..., 3, H, W)`` in ``image_range``; else float32."""
    if a.dtype == np.uint8 and a.ndim >= 3 and a.shape[-1] == 3:
        lo, hi = image_range
        t = torch.from_numpy(np.ascontiguousarray(a)).movedim(-1, -3).float()
        return t * ((hi - lo) / 255.0) + lo
    return torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))


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
