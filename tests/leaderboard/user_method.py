"""A user's method for the sweep tests, named by entry point ``tests.leaderboard.user_method:PCA``.

A linear encoder (principal components of the training observations): it trains in
milliseconds, so a sweep test spends its time in the runner, not in training. It follows
the method contract (``fit``, ``encode``) and takes the run directory (``workdir``) that
the runner passes, which the tests use to count fits and to plant failures:

* every call of ``fit`` appends a line to ``<workdir>/fits.log``;
* while ``<workdir>/FAIL`` exists, ``fit`` raises :class:`PlantedFailure` with that file's
  text as its message.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["PCA", "PlantedFailure", "FAIL_FILE", "FITS_FILE"]

FAIL_FILE = "FAIL"
FITS_FILE = "fits.log"


class PlantedFailure(RuntimeError):
    """The failure a test planted in a run directory."""


class PCA:
    """Observations (N, D) -> their principal components (N, D), whitened."""

    name = "pca"
    version = "1"

    def fit(self, train: Any, val: Any, budget: Any, seed: int, workdir: str | Path | None = None) -> None:
        if workdir is not None:
            workdir = Path(workdir)
            with open(workdir / FITS_FILE, "a") as fh:
                fh.write(f"seed {seed}\n")
            if (workdir / FAIL_FILE).exists():
                raise PlantedFailure((workdir / FAIL_FILE).read_text().strip())
        x = np.asarray(train.observations, dtype=np.float64)
        x = x.reshape(-1, x.shape[-1])  # pairs (N, 2, D): both states are observations
        self.mean = x.mean(axis=0)
        _, s, vt = np.linalg.svd(x - self.mean, full_matrices=False)
        self.components = vt.T / (s / np.sqrt(len(x)))

    def encode(self, x: np.ndarray) -> np.ndarray:
        return (np.asarray(x, dtype=np.float64) - self.mean) @ self.components
