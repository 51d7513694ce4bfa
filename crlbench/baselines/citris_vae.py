"""CITRIS-VAE (Lippe et al., ICML 2022, arXiv 2202.03169): a VAE with the CITRIS transition prior.

On a window ``(x^t, x^{t+1}, I^{t+1})`` the objective is

    - log p(x^{t+1} | z^{t+1}) + beta * E_psi KL(q(z^{t+1} | x^{t+1}) || p(z^{t+1} | z^t, I^{t+1}, psi))
    + lambda * BCE(target classifier(z^t, z^{t+1}_psi), I^{t+1}),

with ``z^t ~ q(z^t | x^t)``, the expectation over the latent-to-variable assignment ``psi``
taken exactly given its (Gumbel-softmax sampled) probabilities
(:mod:`crlbench.baselines.transition_prior`), and the decoder variance calibrated
(:func:`~crlbench.baselines.sequence_method.calibrated_log_likelihood`). With
``flow_layers > 0`` an autoregressive flow (:func:`~crlbench.baselines.flows.citris_flow`)
sits between the encoder and the prior, as in the released code; the KL is then estimated
from the posterior sample. Encoder and decoder are the shared blocks of
:mod:`crlbench.baselines.nn`. Reimplemented from the paper.
"""

from __future__ import annotations

from typing import Any, ClassVar, cast

import numpy as np
import torch
from torch import Tensor, nn

from crlbench.baselines.flows import citris_flow
from crlbench.baselines.sequence_method import SequenceVAE, SequenceVAEModule, vae_body_defaults
from crlbench.baselines.transition_prior import TargetClassifier, TransitionPrior, gaussian_log_prob, marginalise

__all__ = ["CitrisVAE", "CitrisVAEModule"]


class CitrisVAEModule(SequenceVAEModule):
    """The CITRIS-VAE network and objective (batches ``{"pair", "targets"}``).

    Args:
        obs_shape: ``(D_obs,)`` or ``(3, H, W)``.
        n_latents: M.
        n_vars: K.
        beta: KL weight.
        classifier_weight: Weight lambda of the target-classifier loss.
        flow_layers: Autoregressive flow blocks between encoder and prior (0 = none).
        prior_hidden: Hidden widths of each latent's mechanism MLP.
        tau: Gumbel-softmax temperature.
        logit_scale: Assignment learning-speed factor (:class:`TransitionPrior`).
        usage_weight: Weight of :meth:`TransitionPrior.usage_penalty` (0 = the paper's objective).
        kw: ``hidden``, ``channels``, ``min_recon_var``, ``max_recon_var`` of :class:`SequenceVAEModule`.
    """

    def __init__(
        self,
        obs_shape: tuple[int, ...],
        n_latents: int,
        n_vars: int,
        *,
        beta: float = 1.0,
        classifier_weight: float = 2.0,
        flow_layers: int = 0,
        prior_hidden: tuple[int, ...] = (32,),
        tau: float = 1.0,
        logit_scale: float = 10.0,
        usage_weight: float = 1.0,
        **kw: Any,
    ) -> None:
        super().__init__(obs_shape, n_latents, **kw)
        self.beta, self.classifier_weight, self.usage_weight = beta, classifier_weight, usage_weight
        self.flow = citris_flow(n_latents, flow_layers, hidden_per_feature=16) if flow_layers > 0 else None
        self.prior = TransitionPrior(n_latents, n_vars, prior_hidden, tau=tau, logit_scale=logit_scale)
        self.classifier = TargetClassifier(n_latents, n_vars)

    def to_prior(self, e: Tensor) -> Tensor:
        """Encoder space -> prior space (through the flow when there is one)."""
        return e if self.flow is None else self.flow(e)[0]

    def encode_mean(self, x: Tensor) -> Tensor:
        return self.to_prior(self.posterior(x)[0])

    def decode_latents(self, z: Tensor) -> Tensor:
        return self.decoder(z if self.flow is None else self.flow.inverse(z))

    def training_loss(self, batch: dict[str, Tensor], progress: float) -> tuple[Tensor, dict[str, float]]:
        pair, targets = batch["pair"], batch["targets"]
        mean, log_std, e = self.posterior_pair(pair)
        rec = self.recon_ll(pair[:, 1], e[:, 1])
        w = self.prior.assignment_weights()
        if self.flow is None:
            z0, z1 = e[:, 0], e[:, 1]
            kl = marginalise(self.prior.kl_table(mean[:, 1], log_std[:, 1], z0, targets), w)
        else:  # single-sample KL through the flow: log q(e) - log|det| - log p(flow(e))
            (z0, _), (z1, ladj) = self.flow(e[:, 0]), self.flow(e[:, 1])
            log_q = gaussian_log_prob(e[:, 1], mean[:, 1], log_std[:, 1]).sum(-1)
            kl = log_q - ladj - self.prior.log_prob(z1, z0, targets, w)
        cls = self.classifier.loss(z0, z1, targets, w)
        usage = self.prior.usage_penalty()
        loss = (-rec + self.beta * kl + self.classifier_weight * cls).mean() + self.usage_weight * usage
        logs = {"recon": float(rec.mean().detach()), "kl": float(kl.mean().detach()), "classifier": float(cls.mean().detach())}
        return loss, {**logs, "usage": float(usage.detach())}


class CitrisVAE(SequenceVAE):
    """CITRIS-VAE on TRIS sequences.

    Hyperparameters: ``n_latents`` (None: K for vectors, 32 for images), ``beta`` (1.0),
    ``classifier_weight`` (2.0), ``flow_layers`` (0), ``prior_hidden`` ([32]), ``tau`` (1.0),
    ``logit_scale`` (10, assignment speed),
    ``usage_weight`` (1.0; 0 = the paper's objective, see
    :meth:`~crlbench.baselines.transition_prior.TransitionPrior.usage_penalty`),
    ``hidden`` ([64, 64], vectors), ``channels`` (64, images), ``min_recon_var`` (1e-4),
    ``max_recon_var`` (1e-2).
    Loop: AdamW, lr 1e-3, cosine schedule with 5% warmup, batch 512 (the reference's).
    """

    name: ClassVar[str] = "citris-vae"

    @classmethod
    def defaults(cls) -> dict[str, Any]:
        return {
            "n_latents": None,
            "beta": 1.0,
            "classifier_weight": 2.0,
            "flow_layers": 0,
            "prior_hidden": [32],
            "tau": 1.0,
            "logit_scale": 10.0,
            "usage_weight": 1.0,
            **vae_body_defaults(),
        }

    def build(self, obs_shape: tuple[int, ...], n_vars: int) -> nn.Module:
        h = self.hparams
        return CitrisVAEModule(
            obs_shape,
            self.n_latents(obs_shape, n_vars),
            n_vars,
            beta=float(h["beta"]),
            classifier_weight=float(h["classifier_weight"]),
            flow_layers=int(h["flow_layers"]),
            prior_hidden=tuple(h["prior_hidden"]),
            tau=float(h["tau"]),
            logit_scale=float(h["logit_scale"]),
            usage_weight=float(h["usage_weight"]),
            **self.body_kwargs(),
        )

    def assignment(self) -> np.ndarray:
        """``(M, K+1)`` learned assignment probabilities; column 0 = no variable."""
        mod = cast(CitrisVAEModule, self._check_ready())
        with torch.no_grad():
            return mod.prior.assignment_probs().cpu().numpy().astype(np.float64)
