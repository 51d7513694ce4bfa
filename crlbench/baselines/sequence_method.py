"""What the TRIS sequence baselines share: windows of two frames, input checks, the latent
size, the frame VAE body and batched decoding of numpy latents.

A sequence baseline (CITRIS-VAE, CITRIS-NF, iVAE, SlowVAE) trains on windows
``(x^t, x^{t+1}, I^{t+1})`` of a TRIS rollout (:class:`crlbench.datasets.Sequence`), where
``I^{t+1}`` (the ``targets`` row of frame t+1) says which variables were intervened on to
reach frame t+1. It is a thin :class:`SequenceMethod` subclass that builds its module
(:meth:`SequenceMethod.build`); the module is :class:`~crlbench.baselines.loop.Trainable`
on batches ``{"pair": (B, 2, ...), "targets": (B, K)}`` and has ``encode_mean(x)`` (and
``decode_latents(z)`` where the method decodes).
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np
import torch
from torch import Tensor, nn

from crlbench.baselines.loop import LoopConfig
from crlbench.baselines.torch_method import TorchMethod, torch_layout
from crlbench.datasets.torch_adapter import from_tensor
from crlbench.errors import CrlbenchError

__all__ = [
    "SequenceMethod",
    "SequenceVAE",
    "SequenceVAEModule",
    "vae_body_defaults",
    "FrameWindows",
    "check_sequence",
    "window_arrays",
    "frame_shape",
    "calibrated_log_likelihood",
]

#: Image splits up to this size are read into memory once instead of per batch.
IN_MEMORY_BYTES = 2 * 1024**3


def check_sequence(view: Any, method: str, split: str) -> None:
    """Raise a :class:`CrlbenchError` naming what ``method`` needs unless ``view`` is a TRIS rollout.

    Args:
        view: A dataset split view.
        method: Method name for the message.
        split: Split name for the message.
    """
    kind = type(view).__name__
    if not callable(getattr(view, "window", None)) or getattr(view, "observations", None) is None:
        mode = {"Pairs": "pairs", "Triplets": "triplets", "States": "i.i.d. states"}.get(kind, kind)
        raise CrlbenchError(
            f"{method} needs a sequences dataset (mode 'sequences': TRIS rollouts of observations (T, ...) with "
            f"intervention targets (T, K), e.g. toy-son-tris-v1 or causal-circuit-tris-v1); its {split} split is {mode}"
        )
    t = getattr(view, "targets", None)
    if t is None or np.ndim(t) != 2 or len(t) != len(view.observations):
        raise CrlbenchError(f"{method} needs intervention targets (T, K) 0/1 for every frame of its {split} split")
    if len(view.observations) < 2:
        raise CrlbenchError(f"{method} needs sequences of at least 2 frames; the {split} split has {len(view.observations)}")


def frame_shape(obs: Any) -> tuple[int, ...]:
    """Torch layout of one frame: ``(D_obs,)`` or ``(3, H, W)`` from ``(T, ...)`` arrays."""
    return torch_layout(tuple(obs.shape[1:]))


class FrameWindows:
    """``(T - 1, 2, ...)`` view of consecutive frame pairs of a ``(T, ...)`` array, read on indexing.

    Indexing with integer arrays reads each needed frame once (sorted, as HDF5 wants), so
    lazy image splits stay on disk; :class:`~crlbench.baselines.loop.Batches` treats it as
    an image array.
    """

    def __init__(self, frames: Any) -> None:
        self.frames = frames
        self.dtype = frames.dtype
        self.shape = (len(frames) - 1, 2, *frames.shape[1:])

    def __len__(self) -> int:
        return self.shape[0]

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __getitem__(self, idx: Any) -> np.ndarray:
        idx = np.arange(len(self))[idx]
        flat = np.atleast_1d(idx)
        need = np.unique(np.concatenate([flat, flat + 1]))
        data = np.asarray(self.frames[need])
        pos = np.searchsorted(need, flat)
        out = np.stack([data[pos], data[pos + 1]], axis=1)
        return out[0] if np.ndim(idx) == 0 else out

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        a = self[np.arange(len(self))]
        return a if dtype is None else a.astype(dtype)


def window_arrays(view: Any) -> dict[str, Any]:
    """``{"pair": (T-1, 2, ...), "targets": (T-1, K)}`` of a rollout: windows (x^t, x^{t+1}, I^{t+1})."""
    obs = view.observations
    if getattr(obs, "dtype", None) == np.uint8:
        if int(np.prod(obs.shape)) <= IN_MEMORY_BYTES:
            obs = np.asarray(obs)  # small split: one read instead of one per batch
        pair: Any = FrameWindows(obs)
    else:
        o = np.asarray(obs, dtype=np.float32)
        pair = np.stack([o[:-1], o[1:]], axis=1)
    return {"pair": pair, "targets": np.asarray(view.targets[1:], dtype=np.float32)}


def calibrated_log_likelihood(x: Tensor, x_hat: Tensor, *, min_var: float = 1e-4, max_var: float = math.exp(4.0)) -> Tensor:
    """Gaussian ``log p(x | z)`` summed over observation dims, per sample ``(B,)``.

    The decoder variance is the batch's mean squared error per vector dimension (per colour
    channel for images), detached: the maximum-likelihood variance ("calibrated decoder",
    Rybkin et al., ICML 2021), so reconstruction and prior terms need no hand-set balance.
    It is clamped to ``[min_var, max_var]``; ``min_var == max_var`` fixes it.
    """
    se = (x - x_hat).square()
    var = se.mean(0, keepdim=True)
    if se.ndim == 4:
        var = var.mean(dim=(2, 3), keepdim=True)
    var = var.detach().clamp(min_var, max_var)
    ll = -0.5 * se / var - 0.5 * var.log() - 0.5 * math.log(2 * math.pi)
    return ll.flatten(1).sum(-1)


def vae_body_defaults() -> dict[str, Any]:
    """Hyperparameters of the frame VAE body (:class:`SequenceVAEModule`) and their defaults (a new dict)."""
    return {"hidden": [64, 64], "channels": 64, "min_recon_var": 1e-4, "max_recon_var": 1e-2}


class SequenceVAEModule(nn.Module):
    """Gaussian encoder ``q(z | x)`` and decoder ``g(z)`` on single frames (the VAE baselines' body).

    Args:
        obs_shape: ``(D_obs,)`` or ``(3, H, W)``.
        n_latents: M.
        hidden: MLP widths (vector observations).
        channels: Conv channels (images).
        min_recon_var: Floor of the calibrated decoder variance.
        max_recon_var: Ceiling of the calibrated decoder variance (a low ceiling keeps a
            poorly reconstructing VAE from collapsing latents to the prior).
    """

    def __init__(
        self,
        obs_shape: tuple[int, ...],
        n_latents: int,
        *,
        hidden: tuple[int, ...] = (64, 64),
        channels: int = 64,
        min_recon_var: float = 1e-4,
        max_recon_var: float = 1e-2,
    ) -> None:
        super().__init__()
        from crlbench.baselines.nn import make_decoder, make_encoder  # noqa: PLC0415

        self.obs_shape, self.m = tuple(obs_shape), n_latents
        self.min_recon_var, self.max_recon_var = min_recon_var, max_recon_var
        self.encoder = make_encoder(obs_shape, 2 * n_latents, hidden=hidden, channels=channels)
        self.decoder = make_decoder(n_latents, obs_shape, hidden=hidden, channels=channels)

    def posterior(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Mean and log-std ``(B, M)`` of ``q(z | x)``."""
        from crlbench.baselines.nn import gaussian_params  # noqa: PLC0415

        return gaussian_params(self.encoder(x))

    def posterior_pair(self, pair: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """``pair (B, 2, ...)`` -> mean, log-std and a reparametrised sample, each ``(B, 2, M)``."""
        mean, log_std = self.posterior(pair.flatten(0, 1))
        mean, log_std = mean.view(len(pair), 2, -1), log_std.view(len(pair), 2, -1)
        return mean, log_std, mean + log_std.exp() * torch.randn_like(mean)

    def recon_ll(self, x: Tensor, z: Tensor) -> Tensor:
        """``(B,)`` calibrated Gaussian ``log p(x | z)``."""
        return calibrated_log_likelihood(x, self.decoder(z), min_var=self.min_recon_var, max_var=self.max_recon_var)

    def encode_mean(self, x: Tensor) -> Tensor:
        return self.posterior(x)[0]

    def decode_latents(self, z: Tensor) -> Tensor:
        return self.decoder(z)

    def training_loss(self, batch: dict[str, Tensor], progress: float) -> tuple[Tensor, dict[str, float]]:
        """Each baseline's objective on a batch of windows: loss and logged terms."""
        raise NotImplementedError

    def validation_loss(self, batch: dict[str, Tensor]) -> dict[str, float]:
        loss, logs = self.training_loss(batch, 1.0)
        return {"loss": float(loss), **logs}


class SequenceMethod(TorchMethod):
    """Base of the TRIS sequence baselines.

    Args:
        loop: Overrides of the method's :class:`LoopConfig` fields (``lr``, ``batch_size``...).
        device: ``"auto"``, ``"cpu"`` or ``"cuda"``.
        hparams: Method hyperparameters (see each subclass's :meth:`defaults`).
    """

    name: ClassVar[str] = "sequence-method"
    default_budget: ClassVar[str] = "100ep"
    modes: ClassVar[tuple[str, ...]] = ("sequences",)
    map_batch: ClassVar[int] = 512

    def n_latents(self, obs_shape: tuple[int, ...], n_vars: int) -> int:
        """Latent size M: the ``n_latents`` parameter, else K for vectors and 32 for images.

        On images CITRIS uses more latents than variables (16-32 for 7 variables), the spare
        ones going to the "no variable" group. On vector data spare latents only copy
        information of some variable into another group (which the R² ``sep`` counts), so
        the default there is one latent per causal variable.
        """
        m = self.hparams.get("n_latents")
        if m is not None:
            return int(m)
        return n_vars if len(obs_shape) == 1 else 32

    # --- the contract ----------------------------------------------------------------------
    def encode(self, x: np.ndarray) -> np.ndarray:
        """Frames ``(N, D_obs)`` or ``(N, H, W, 3)`` -> latents ``(N, M)`` (posterior means)."""
        mod = self._check_ready()
        return self._map(mod.encode_mean, x)

    # --- the fit hooks ---------------------------------------------------------------------
    def _check_split(self, view: Any, split: str) -> None:
        check_sequence(view, self.name, split)

    def _shapes(self, train: Any, val: Any) -> tuple[tuple[int, ...], int]:
        n_vars = int(np.shape(train.targets)[1])
        if val is not None and np.shape(val.targets)[1] != n_vars:
            raise CrlbenchError(f"{self.name}: train and val splits have different numbers of variables")
        return frame_shape(train.observations), n_vars

    def _arrays(self, view: Any) -> dict[str, Any]:
        """``{"pair": (T-1, 2, ...), "targets": (T-1, K)}`` windows (:func:`window_arrays`)."""
        return window_arrays(view)

    # --- helpers ---------------------------------------------------------------------------
    def _decode(self, z: Any) -> np.ndarray:
        mod = self._check_ready().eval()
        z = np.asarray(z, dtype=np.float32)
        outs = []
        b = self.map_batch
        with torch.no_grad():
            for s in range(0, len(z), b):
                outs.append(from_tensor(mod.decode_latents(torch.as_tensor(z[s : s + b], device=self.device))))  # type: ignore[operator]  # nn.Module types attributes as Tensor | Module
        return np.concatenate(outs)


class SequenceVAE(SequenceMethod):
    """Base of the VAE sequence baselines (CITRIS-VAE, iVAE, SlowVAE): the reference's loop
    (AdamW, lr 1e-3, cosine schedule with 5% warmup, batch 512) and budget, the body's
    hyperparameters (:func:`vae_body_defaults`, listed after each method's own) and decoding."""

    default_loop: ClassVar[LoopConfig] = LoopConfig(batch_size=512, lr=1e-3, optimizer="adamw", schedule="cosine_warmup", warmup=0.05)
    default_budget: ClassVar[str] = "200ep"

    def body_kwargs(self) -> dict[str, Any]:
        """The :class:`SequenceVAEModule` keyword arguments in :attr:`hparams`."""
        h = self.hparams
        return {
            "hidden": tuple(h["hidden"]),
            "channels": int(h["channels"]),
            "min_recon_var": float(h["min_recon_var"]),
            "max_recon_var": float(h["max_recon_var"]),
        }

    def decode(self, z: np.ndarray) -> np.ndarray:
        """Latents ``(N, M)`` -> frames in the dataset's layout."""
        return self._decode(z)
