"""CITRIS-NF (Lippe et al., ICML 2022, arXiv 2202.03169): an autoencoder, then a flow with the
CITRIS transition prior on its frozen encodings.

Stage 1 trains a deterministic autoencoder on single frames (Gaussian noise of std
``latent_noise`` on the encodings before decoding, as in the paper). The encodings of every
frame are then computed once and cached as vector windows ``(e^t, e^{t+1})``. Stage 2 trains
a normalizing flow ``z = f(e)`` (:func:`~crlbench.baselines.flows.citris_flow`: ActNorm,
invertible 1x1 (LU), affine autoregressive MADE coupling) by maximum likelihood under the
CITRIS prior marginalised over the assignment, plus the target classifier:

    - log p(f(e^{t+1}) | f(e^t), I^{t+1}) - log|det df/de (e^{t+1})| + lambda * BCE.

``encode`` is ``f(encoder(x))``; ``decode`` goes back through ``f^{-1}`` and the decoder, so
triplets (latents mixed per variable group) can be decoded. Budget: each stage runs the
given budget (the flow stage works on cached vectors and costs a fraction of the first).

On images the autoencoder is a shared stage (:mod:`crlbench.baselines.autoencoder`, kind
``"citris-ae"``): ``crlbench train`` and the leaderboard runner train it once per dataset
version and settings (seed 0), cache it beside the dataset and reuse it for every seed, as
the reference trains its flows on one pretrained autoencoder. Without a stage handed to
:meth:`CitrisNF.fit` (vectors, or a direct call) the autoencoder trains within the run, its
checkpoints in ``workdir/autoencoder``; the flow's live in ``workdir``.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar, cast

import numpy as np
import torch
from torch import Tensor, nn

from crlbench.baselines.autoencoder import StageSpec, stage_spec
from crlbench.baselines.contract import Budget
from crlbench.baselines.flows import citris_flow
from crlbench.baselines.loop import LoopConfig, TrainResult, fit_module
from crlbench.baselines.nn import make_decoder, make_encoder
from crlbench.baselines.sequence_method import SequenceMethod, frame_shape
from crlbench.baselines.transition_prior import TargetClassifier, TransitionPrior

__all__ = ["CitrisNF", "CitrisNFModule", "Autoencoder", "FlowPrior"]


class Autoencoder(nn.Module):
    """Deterministic autoencoder on single frames of ``{"pair"}`` batches (both frames used)."""

    def __init__(
        self,
        obs_shape: tuple[int, ...],
        n_latents: int,
        *,
        hidden: tuple[int, ...] = (64, 64),
        channels: int = 64,
        latent_noise: float = 0.05,
    ) -> None:
        super().__init__()
        self.obs_shape, self.latent_noise = tuple(obs_shape), latent_noise
        self.encoder = make_encoder(obs_shape, n_latents, hidden=hidden, channels=channels)
        self.decoder = make_decoder(n_latents, obs_shape, hidden=hidden, channels=channels)

    def _loss(self, batch: dict[str, Tensor], noise: bool) -> Tensor:
        x = batch["pair"].flatten(0, 1)
        e = self.encoder(x)
        if noise:
            e = e + self.latent_noise * torch.randn_like(e)
        return (self.decoder(e) - x).square().flatten(1).sum(-1).mean()

    def training_loss(self, batch: dict[str, Tensor], progress: float) -> tuple[Tensor, dict[str, float]]:
        loss = self._loss(batch, True)
        return loss, {}

    def validation_loss(self, batch: dict[str, Tensor]) -> dict[str, float]:
        return {"loss": float(self._loss(batch, False))}


class FlowPrior(nn.Module):
    """The flow with the transition prior and target classifier, on cached encodings."""

    def __init__(
        self,
        n_latents: int,
        n_vars: int,
        *,
        latent_noise: float = 0.05,
        flow_layers: int = 4,
        hidden_per_latent: int = 16,
        prior_hidden: tuple[int, ...] = (32,),
        tau: float = 1.0,
        logit_scale: float = 10.0,
        usage_weight: float = 1.0,
        classifier_weight: float = 2.0,
    ) -> None:
        super().__init__()
        self.classifier_weight, self.latent_noise, self.usage_weight = classifier_weight, latent_noise, usage_weight
        self.flow = citris_flow(n_latents, flow_layers, hidden_per_latent)
        self.prior = TransitionPrior(n_latents, n_vars, prior_hidden, tau=tau, logit_scale=logit_scale)
        self.classifier = TargetClassifier(n_latents, n_vars)

    def training_loss(self, batch: dict[str, Tensor], progress: float) -> tuple[Tensor, dict[str, float]]:
        pair, targets = batch["pair"], batch["targets"]
        if self.training:  # the autoencoder's noise: encodings of more latents than the data's
            pair = pair + self.latent_noise * torch.randn_like(pair)  # dimension must not collapse the density
        z, ladj = self.flow(pair.flatten(0, 1))
        z, ladj = z.view(len(pair), 2, -1), ladj.view(len(pair), 2)
        w = self.prior.assignment_weights()
        nll = -(self.prior.log_prob(z[:, 1], z[:, 0], targets, w) + ladj[:, 1])
        cls = self.classifier.loss(z[:, 0], z[:, 1], targets, w)
        usage = self.prior.usage_penalty()
        loss = (nll + self.classifier_weight * cls).mean() + self.usage_weight * usage
        return loss, {"nll": float(nll.mean().detach()), "classifier": float(cls.mean().detach()), "usage": float(usage.detach())}

    def validation_loss(self, batch: dict[str, Tensor]) -> dict[str, float]:
        loss, logs = self.training_loss(batch, 1.0)
        return {"loss": float(loss), **logs}


class CitrisNFModule(nn.Module):
    """Both stages in one module (one state dict, one parameter count)."""

    def __init__(self, autoencoder: Autoencoder, flow: FlowPrior) -> None:
        super().__init__()
        self.autoencoder, self.flow_prior = autoencoder, flow

    def encode_mean(self, x: Tensor) -> Tensor:
        return self.flow_prior.flow(self.autoencoder.encoder(x))[0]

    def decode_latents(self, z: Tensor) -> Tensor:
        return self.autoencoder.decoder(self.flow_prior.flow.inverse(z))


class CitrisNF(SequenceMethod):
    """CITRIS-NF on TRIS sequences.

    Hyperparameters: ``n_latents`` (None: D_obs for vectors, 32 for images),
    ``latent_noise`` (0.05), ``flow_layers`` (4), ``hidden_per_latent`` (16),
    ``prior_hidden`` ([32]), ``tau`` (1.0), ``logit_scale`` (10, assignment speed),
    ``usage_weight`` (1.0; 0 = the paper's objective, see
    :meth:`~crlbench.baselines.transition_prior.TransitionPrior.usage_penalty`),
    ``classifier_weight`` (2.0), ``hidden`` ([64, 64]), ``channels`` (64), ``flow_lr``
    (1e-3), ``flow_batch_size`` (512).
    Loop (autoencoder stage): Adam, lr 5e-4, batch 256, cosine schedule with warmup.
    """

    name: ClassVar[str] = "citris-nf"
    default_loop: ClassVar[LoopConfig] = LoopConfig(batch_size=256, lr=5e-4, optimizer="adam", schedule="cosine_warmup", warmup=0.05)
    default_budget: ClassVar[str] = "200ep"

    @classmethod
    def defaults(cls) -> dict[str, Any]:
        return {
            "n_latents": None,
            "latent_noise": 0.05,
            "flow_layers": 4,
            "hidden_per_latent": 16,
            "prior_hidden": [32],
            "tau": 1.0,
            "logit_scale": 10.0,
            "usage_weight": 1.0,
            "classifier_weight": 2.0,
            "hidden": [64, 64],
            "channels": 64,
            "flow_lr": 1e-3,
            "flow_batch_size": 512,
        }

    def n_latents(self, obs_shape: tuple[int, ...], n_vars: int) -> int:
        """Latent size M: ``n_latents``, else D_obs for vectors (the autoencoder can be exact and
        the encodings fill their space, so the flow's density is proper) and 32 for images."""
        m = self.hparams.get("n_latents")
        if m is None and len(obs_shape) == 1:
            return int(obs_shape[0])
        return super().n_latents(obs_shape, n_vars)

    def shared_stages(self, train: Any, budget: Budget) -> dict[str, StageSpec]:
        """On images: the autoencoder, as a shared ``"citris-ae"`` stage."""
        shape = frame_shape(train.observations)
        if len(shape) != 3:
            return {}
        h = self.hparams
        settings = {
            "n_latents": self.n_latents(shape, int(np.shape(train.targets)[1])),
            "channels": int(h["channels"]),
            "latent_noise": float(h["latent_noise"]),
        }
        return {"autoencoder": stage_spec("citris-ae", budget=budget, run_loop=self.loop, settings=settings)}

    def build(self, obs_shape: tuple[int, ...], n_vars: int) -> nn.Module:
        h = self.hparams
        m = self.n_latents(obs_shape, n_vars)
        ae = Autoencoder(obs_shape, m, hidden=tuple(h["hidden"]), channels=int(h["channels"]), latent_noise=float(h["latent_noise"]))
        flow = FlowPrior(
            m,
            n_vars,
            latent_noise=float(h["latent_noise"]),
            flow_layers=int(h["flow_layers"]),
            hidden_per_latent=int(h["hidden_per_latent"]),
            prior_hidden=tuple(h["prior_hidden"]),
            tau=float(h["tau"]),
            logit_scale=float(h["logit_scale"]),
            usage_weight=float(h["usage_weight"]),
            classifier_weight=float(h["classifier_weight"]),
        )
        return CitrisNFModule(ae, flow)

    def _train(
        self, train: dict[str, Any], val: dict[str, Any] | None, budget: Budget, seed: int, loop: LoopConfig, workdir: Path | None
    ) -> TrainResult:
        mod = cast(CitrisNFModule, self.module)
        stage = self.stages.get("autoencoder")
        if stage is not None:
            mod.autoencoder = cast(Autoencoder, stage.module)  # shared, frozen
            self.ae_result = stage.result
        else:
            ae_dir = workdir / "autoencoder" if workdir is not None else None
            self.ae_result = fit_module(mod.autoencoder, train, val, budget=budget, seed=seed, config=loop, workdir=ae_dir)
        mod.autoencoder.eval()
        flow_loop = replace(loop, lr=float(self.hparams["flow_lr"]), batch_size=int(self.hparams["flow_batch_size"]))
        cached_train = self._cache(train)
        cached_val = self._cache(val) if val is not None else None
        return fit_module(mod.flow_prior, cached_train, cached_val, budget=budget, seed=seed, config=flow_loop, workdir=workdir)

    def _cache(self, arrays: dict[str, Any]) -> dict[str, Any]:
        """Encodings of every frame, as vector windows ``(N, 2, M)`` (computed once)."""
        pair = arrays["pair"]
        frames = _Frames(pair)
        enc = self._map(cast(CitrisNFModule, self.module).autoencoder.encoder, frames).astype(np.float32)
        return {"pair": np.stack([enc[:-1], enc[1:]], axis=1), "targets": arrays["targets"]}

    def assignment(self) -> np.ndarray:
        """``(M, K+1)`` learned assignment probabilities; column 0 = no variable."""
        mod = cast(CitrisNFModule, self._check_ready())
        with torch.no_grad():
            return mod.flow_prior.prior.assignment_probs().cpu().numpy().astype(np.float64)

    def decode(self, z: np.ndarray) -> np.ndarray:
        """Latents ``(N, M)`` -> frames, through the inverse flow and the decoder."""
        return self._decode(z)


class _Frames:
    """The T frames behind ``(T-1, 2, ...)`` windows, sliceable as ``(n, ...)`` arrays."""

    def __init__(self, pair: Any) -> None:
        self.pair = pair

    def __len__(self) -> int:
        return len(self.pair) + 1

    def __getitem__(self, sl: slice) -> np.ndarray:
        start, stop, _ = sl.indices(len(self))
        idx = np.arange(start, stop)
        first = np.minimum(idx, len(self.pair) - 1)
        w = np.asarray(self.pair[first])  # (n, 2, ...): frame i is window i's first, the last is window T-2's second
        return np.where(_expand(idx == len(self.pair), w.ndim - 1), w[:, 1], w[:, 0])


def _expand(mask: np.ndarray, ndim: int) -> np.ndarray:
    return mask.reshape(-1, *[1] * (ndim - 1))
