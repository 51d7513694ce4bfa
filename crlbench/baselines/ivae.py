"""iVAE (Khemakhem et al., AISTATS 2020) on TRIS windows: a reference without an assignment.

The auxiliary variable is ``u = (z^t, I^{t+1})``: the prior ``p(z^{t+1} | u)`` is a
factorised Gaussian whose means and scales an MLP computes from the previous latents and
the intervention targets. There is no latent-to-variable assignment and no target
classifier, so the metrics library matches latents to variables post hoc (the table marks
that). Objective on a window: ``- log p(x^{t+1} | z^{t+1}) + beta KL(q(z^{t+1} | x^{t+1}) ||
p(z^{t+1} | z^t, I^{t+1}))`` with ``z^t ~ q(z^t | x^t)``.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from crlbench.baselines.nn import mlp
from crlbench.baselines.sequence_method import SequenceVAE, SequenceVAEModule, vae_body_defaults
from crlbench.baselines.transition_prior import gaussian_kl

__all__ = ["IVAE", "IVAEModule"]


class IVAEModule(SequenceVAEModule):
    """iVAE with the conditional prior ``p(z^{t+1} | z^t, I^{t+1})``."""

    def __init__(
        self,
        obs_shape: tuple[int, ...],
        n_latents: int,
        n_vars: int,
        *,
        beta: float = 1.0,
        prior_hidden: tuple[int, ...] = (64, 64),
        **kw: Any,
    ) -> None:
        super().__init__(obs_shape, n_latents, **kw)
        self.beta = beta
        self.prior = mlp(n_latents + n_vars, 2 * n_latents, prior_hidden)

    def training_loss(self, batch: dict[str, Tensor], progress: float) -> tuple[Tensor, dict[str, float]]:
        pair, targets = batch["pair"], batch["targets"]
        mean, log_std, e = self.posterior_pair(pair)
        rec = self.recon_ll(pair[:, 1], e[:, 1])
        p_mean, p_log_std = self.prior(torch.cat([e[:, 0], targets], -1)).chunk(2, -1)
        kl = gaussian_kl(mean[:, 1], log_std[:, 1], p_mean, p_log_std.clamp(-5.0, 3.0)).sum(-1)
        loss = (-rec + self.beta * kl).mean()
        return loss, {"recon": float(rec.mean().detach()), "kl": float(kl.mean().detach())}


class IVAE(SequenceVAE):
    """iVAE reference; hyperparameters ``n_latents``, ``beta`` (1.0), ``prior_hidden``,
    ``hidden``, ``channels``, ``min_recon_var``, ``max_recon_var``. Same loop settings as CITRIS-VAE."""

    name: ClassVar[str] = "ivae"

    @classmethod
    def defaults(cls) -> dict[str, Any]:
        return {"n_latents": None, "beta": 1.0, "prior_hidden": [64, 64], **vae_body_defaults()}

    def build(self, obs_shape: tuple[int, ...], n_vars: int) -> nn.Module:
        h = self.hparams
        return IVAEModule(
            obs_shape,
            self.n_latents(obs_shape, n_vars),
            n_vars,
            beta=float(h["beta"]),
            prior_hidden=tuple(h["prior_hidden"]),
            **self.body_kwargs(),
        )
