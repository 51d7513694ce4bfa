"""SlowVAE (Klindt et al., ICLR 2021) on TRIS windows: a reference without an assignment.

Prior: ``z^t ~ N(0, I)`` and ``z^{t+1} | z^t ~ Laplace(z^t, 1 / rate)`` per latent, which
favours sparse, slow transitions. Objective on a window: the reconstruction of both frames,
``KL(q(z^t) || N(0, I))`` and ``gamma * (log q(z^{t+1} | x^{t+1}) - log p(z^{t+1} | z^t))``
from the posterior samples (the transition KL has no closed form). It ignores the
intervention targets. Defaults from the paper: ``rate`` 6, ``gamma`` 10.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

from torch import Tensor, nn

from crlbench.baselines.sequence_method import SequenceVAE, SequenceVAEModule, vae_body_defaults
from crlbench.baselines.transition_prior import gaussian_log_prob

__all__ = ["SlowVAE", "SlowVAEModule"]


class SlowVAEModule(SequenceVAEModule):
    """SlowVAE with a Laplace transition prior of fixed ``rate``."""

    def __init__(
        self, obs_shape: tuple[int, ...], n_latents: int, *, beta: float = 1.0, gamma: float = 10.0, rate: float = 6.0, **kw: Any
    ) -> None:
        super().__init__(obs_shape, n_latents, **kw)
        self.beta, self.gamma, self.rate = beta, gamma, rate

    def training_loss(self, batch: dict[str, Tensor], progress: float) -> tuple[Tensor, dict[str, float]]:
        pair = batch["pair"]
        mean, log_std, e = self.posterior_pair(pair)
        rec = self.recon_ll(pair[:, 0], e[:, 0]) + self.recon_ll(pair[:, 1], e[:, 1])
        kl0 = 0.5 * (mean[:, 0].square() + (2 * log_std[:, 0]).exp() - 1 - 2 * log_std[:, 0]).sum(-1)
        log_q1 = gaussian_log_prob(e[:, 1], mean[:, 1], log_std[:, 1]).sum(-1)
        log_p1 = (math.log(self.rate / 2) - self.rate * (e[:, 1] - e[:, 0]).abs()).sum(-1)
        kl1 = log_q1 - log_p1
        loss = (-rec + self.beta * kl0 + self.gamma * kl1).mean()
        return loss, {
            "recon": float(rec.mean().detach()),
            "kl_normal": float(kl0.mean().detach()),
            "kl_laplace": float(kl1.mean().detach()),
        }


class SlowVAE(SequenceVAE):
    """SlowVAE reference; hyperparameters ``n_latents``, ``beta`` (1.0), ``gamma`` (10.0),
    ``rate`` (6.0), ``hidden``, ``channels``, ``min_recon_var``, ``max_recon_var``. Same loop as CITRIS-VAE."""

    name: ClassVar[str] = "slowvae"

    @classmethod
    def defaults(cls) -> dict[str, Any]:
        return {"n_latents": None, "beta": 1.0, "gamma": 10.0, "rate": 6.0, **vae_body_defaults()}

    def build(self, obs_shape: tuple[int, ...], n_vars: int) -> nn.Module:
        h = self.hparams
        return SlowVAEModule(
            obs_shape,
            self.n_latents(obs_shape, n_vars),
            beta=float(h["beta"]),
            gamma=float(h["gamma"]),
            rate=float(h["rate"]),
            **self.body_kwargs(),
        )
