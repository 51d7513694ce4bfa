"""beta-VAE (Higgins et al., ICLR 2017): the reference point that ignores the pairing.

Both observations of every pair are used as independent samples of a VAE with a standard
normal prior and KL weight ``beta``; the encoder and decoder are the shared blocks of
:mod:`crlbench.baselines.nn`, with as many latents as causal variables. It has no
intervention encoder: :meth:`BetaVAE.infer_targets` labels a pair by the latent whose
posterior mean moves most, or "none" when no latent moves by more than ``none_tol``. Its
graph comes from the intervention-based learner on those inferred triples. On image pairs
it trains on the encodings of the shared ``"reduce-dim"`` stage
(:mod:`crlbench.baselines.autoencoder`) when the run provides it, as the baselines of ILCM's
CausalCircuit experiment do.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, cast

import torch
from torch import Tensor, nn

from crlbench.baselines.ilcm import ILCMModule
from crlbench.baselines.loop import LoopConfig
from crlbench.baselines.pairs_method import PairsMethod
from crlbench.datasets.torch_adapter import from_tensor

__all__ = ["BetaVAE", "BetaVAEModule"]


class BetaVAEModule(ILCMModule):
    """A plain VAE on single observations (reuses ILCM's encoder, decoder and likelihood)."""

    def __init__(
        self, obs_shape: Sequence[int], k: int, *, beta: float = 1.0, hidden: Sequence[int] = (64, 64), channels: int = 64
    ) -> None:
        super().__init__(obs_shape, k, cross=False, hidden=hidden, channels=channels, decoder_std="calibrated", consistency=0.0)
        self.beta = beta
        del self.solution, self.intervention  # not part of this model

    def training_loss(self, batch: dict[str, Tensor], progress: float) -> tuple[Tensor, dict[str, float]]:
        pair = batch["pair"]
        loss, rec = self._vae_loss(pair.flatten(0, 1), self.beta)
        return loss, {"recon": float(rec)}

    def validation_loss(self, batch: dict[str, Tensor]) -> dict[str, float]:
        pair = batch["pair"]
        loss, rec = self._vae_loss(pair.flatten(0, 1), self.beta)
        return {"loss": float(loss), "recon": float(rec)}


class BetaVAE(PairsMethod):
    """beta-VAE; hyperparameters ``beta`` (1.0), ``hidden``, ``channels``, ``none_tol``."""

    name: ClassVar[str] = "beta-vae"
    default_loop: ClassVar[LoopConfig] = LoopConfig(batch_size=64, lr=3e-4, optimizer="adam")
    default_budget: ClassVar[str] = "20ep"
    encoding_stage: ClassVar[str | None] = "reduce-dim"  # on images, as ILCM's reference baselines

    @classmethod
    def defaults(cls) -> dict[str, Any]:
        return {"beta": 1.0, "hidden": [64, 64], "channels": 64, "none_tol": 0.1}

    def build(self, obs_shape: tuple[int, ...], n_vars: int) -> nn.Module:
        h = self.hparams
        return BetaVAEModule(obs_shape, n_vars, beta=float(h["beta"]), hidden=tuple(h["hidden"]), channels=int(h["channels"]))

    def _check_ready(self) -> BetaVAEModule:
        return cast(BetaVAEModule, super()._check_ready())  # what build returns

    def _encode_t(self, x: Tensor) -> Tensor:
        return self._check_ready().encode_noise(x)[0]

    def _targets_t(self, x: Tensor, xt: Tensor) -> Tensor:
        mod = self._check_ready()
        d = (mod.encode_noise(xt)[0] - mod.encode_noise(x)[0]).abs()
        moved = d.max(-1)
        return torch.where(moved.values > self.hparams["none_tol"], moved.indices + 1, 0)

    def decode(self, z: Any) -> Any:
        """Latents ``(N, K)`` -> observations in the dataset's layout."""
        mod = self._check_ready()
        with torch.no_grad():
            x = mod.decoder(torch.as_tensor(z, dtype=torch.float32, device=self.device))
        return from_tensor(x)
