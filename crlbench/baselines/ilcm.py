"""ILCM: implicit latent causal model (Brehmer et al., NeurIPS 2022, arXiv 2203.16437).

Weakly supervised: the data are pairs ``(x, x~)`` before and after an unknown intervention on
at most one causal variable, sharing all other exogenous noise. Reimplemented from the
paper and the facts of its released code (BSD-3-Clause-Clear; no code was taken from it);
the settings below are the released code's toy ("scaling") experiment, and
docs/results.md measures each of them against the earlier crlbench choices.

The model is a VAE over *noise encodings* ``e`` (one scalar per causal variable):

- **noise encoder** ``q(e | x) = N(mu(x), sigma(x)^2)``, the same network for ``x`` and
  ``x~``; ``sigma = 1e-4 + softplus(.)``, 0.01 at initialisation;
- **decoder** ``p(x | e) = N(g(e), diag(s^2))`` with a learned standard deviation ``s`` per
  observation dimension (per colour channel for images), 0.1 at initialisation;
- **intervention encoder** ``q(I | x, x~)`` over ``I in {none, 1..K}``: the logit of
  variable i is ``a + b |de_i| + c de_i^2`` with ``de = mu(x~) - mu(x)``, ``(a, b, c)``
  learned from ``(-3, 15, 15)``; the "no intervention" logit is 0. Every probability is
  lifted by a floor ``eps`` and renormalised; ``eps`` shrinks from 0.025 to 1e-4;
- given ``I = i``, the non-intervened components are shared: their posterior is a random
  mixture ``lam q(e | x) + (1 - lam) q(e | x~)`` of the two (mean and standard deviation
  mixed, ``lam ~ U(0, 1)`` per component and option), while ``e_i`` and ``e~_i`` keep their
  own;
- **solution functions**: an affine flow from causal variable to noise per variable,
  ``e_i = z_i * scale_i(e_-i) + shift_i(e_-i)`` with ``scale = exp(.) + 0.2`` (a floor,
  so ``|dz/de| <= 5``) and an MLP conditioner on the other noise components, starting at
  ``scale ~ 10`` (a broad intervention prior). The intervened variable takes a fresh value
  ``z~_i ~ N(0, 1)``, so ``p(e~_i | e) = N(z~_i; 0, 1) / scale_i(e_-i)``; ``p(e) = N(0, I)``;
- the ELBO is marginalised over ``q(I | x, x~)``; the causal structure lives only in the
  prior (the model is "implicit").

Small regularisers: 0.01 x the reconstruction error of the unmixed posteriors' samples
("consistency"), 0.01 x ``|e|^2`` shrinking to 0 over the warm-up, and minus the entropy of
the batch-mean intervention posterior (weight 1) from the end of pretraining on, which keeps
every target in use.

The learned causal variables of an observation are ``z = s(mu(x))``. The graph (``graph_method``):
``"ilcm-h"`` (the original's heuristic, :func:`~crlbench.baselines.graphs.ilcm_h_graph`),
``"solution"`` (inverse Jacobian of the solution functions) or ``"interventions"`` (inferred
``(z, z~, target)`` triples).

Training phases (fractions of the budget; the original's epochs 10 / 20 / 30 / 60 of 90):

1. ``[0, pretrain)``: beta-VAE on single observations, KL weight ``beta_pretrain`` (0.001);
2. ``[pretrain, warmup)``: the pair ELBO with beta warmed up linearly from 0 to 1 (the
   probability floor and the norm regulariser shrink over the same stretch);
3. ``[interventions, 1]``: the intervention prior ``p(e~_i | e)`` enters the ELBO (before
   that only ``p(e)`` does, so the solution functions learn nothing early);
4. ``[hard, 1]``: hard intervention encoder: the ELBO of the most likely target only.

The run keeps its final weights (the original has no model selection at this budget).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, ClassVar, cast

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from crlbench.baselines.graphs import EDGE_THRESHOLD, ILCM_H_THRESHOLD, ilcm_h_graph, solution_graph
from crlbench.baselines.loop import LoopConfig
from crlbench.baselines.nn import make_decoder, make_encoder
from crlbench.baselines.pairs_method import PairsMethod
from crlbench.datasets.torch_adapter import from_tensor

__all__ = ["ILCM", "ILCMModule", "SolutionFunctions", "InterventionEncoder", "StackedMLP"]

_LOG_2PI = math.log(2 * math.pi)
#: The original's phase boundaries, epochs 10 / 20 / 30 / 60 of 90.
PHASES = (1 / 9, 2 / 9, 1 / 3, 2 / 3)


def _inv_softplus(y: float) -> float:
    return math.log(math.expm1(y))


class StackedMLP(nn.Module):
    """K independent ReLU MLPs evaluated together: ``(B, K, in) -> (B, K, out)``.

    Args:
        k: Number of MLPs.
        in_features, out_features: Widths of each.
        hidden: Hidden widths.
    """

    def __init__(self, k: int, in_features: int, out_features: int, hidden: Sequence[int] = (64, 64)) -> None:
        super().__init__()
        widths = [in_features, *hidden, out_features]
        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList()
        for a, b in zip(widths[:-1], widths[1:]):
            bound = 1.0 / math.sqrt(a)
            self.weights.append(nn.Parameter(torch.empty(k, a, b).uniform_(-bound, bound)))
            self.biases.append(nn.Parameter(torch.empty(k, b).uniform_(-bound, bound)))

    def forward(self, h: Tensor) -> Tensor:
        n = len(self.weights)
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            h = torch.einsum("...ki,kio->...ko", h, w) + b
            if i < n - 1:
                h = F.relu(h)
        return h


class SolutionFunctions(nn.Module):
    """Affine flows ``e_i = z_i * scale_i(e_-i) + shift_i(e_-i)`` for all i at once.

    Args:
        k: Number of causal variables.
        hidden: Conditioner MLP widths.
        cross: Condition on the other noise components (ILCM). ``False`` gives constant
            ``scale_i, shift_i`` (the disentangled VAE: no cross-variable inputs).
        scale_floor: Added to ``exp(log_scale)``: bounds ``|dz/de|`` by ``1 / scale_floor``.
        init_log_scale: Initial ``log_scale`` (2.3: ``scale ~ 10``, a broad prior).
    """

    off_diag: Tensor  # a buffer (cross=True), declared for the type checker

    def __init__(
        self, k: int, hidden: Sequence[int] = (64, 64), cross: bool = True, scale_floor: float = 0.2, init_log_scale: float = 2.3
    ) -> None:
        super().__init__()
        self.k, self.cross, self.scale_floor = k, cross, scale_floor
        if cross:
            self.conditioner = StackedMLP(k, k, 2, hidden)
            self.register_buffer("off_diag", 1.0 - torch.eye(k))
            with torch.no_grad():  # log-scale ~ constant, shift weakly dependent at the start
                w, b = self.conditioner.weights[-1], self.conditioner.biases[-1]
                w[:, :, 0].normal_(0.0, 1e-3)
                b[:, 0].normal_(init_log_scale, 1e-6)
                w[:, :, 1].normal_(0.0, 0.1)
                b[:, 1].normal_(0.0, 1e-3)
        else:
            self.constants = nn.Parameter(torch.tensor([[init_log_scale, 0.0]]).repeat(k, 1))

    def params(self, e: Tensor) -> tuple[Tensor, Tensor]:
        """``(scale, shift)``, each ``(..., K)``, of each variable's flow given noise ``(..., K)``."""
        if self.cross:
            masked = e.unsqueeze(-2) * self.off_diag  # (..., K, K): row i = e with e_i zeroed
            out = self.conditioner(masked)
        else:
            out = self.constants.expand(*e.shape, 2)
        scale = out[..., 0].clamp(max=15.0).exp() + self.scale_floor
        return scale, out[..., 1]

    def forward(self, e: Tensor) -> Tensor:
        """Causal variables ``z = s(e)``, ``(..., K)``."""
        scale, shift = self.params(e)
        return (e - shift) / scale

    def inverse(self, z: Tensor, iterations: int) -> Tensor:
        """Noise ``e`` with ``s(e) = z`` by fixed-point iteration (exact where ``s`` is
        triangular, as learned, after ``K`` iterations)."""
        e = z.clone()
        for _ in range(iterations):
            scale, shift = self.params(e)
            e = z * scale + shift
        return e


class InterventionEncoder(nn.Module):
    """``q(I | x, x~)`` ``(B, K+1)`` from the noise means: softmax of ``[0, a + b|d| + c d^2]``,
    every probability lifted by ``eps`` and renormalised (no target is ever ruled out early)."""

    def __init__(self, a: float = -3.0, b: float = 15.0, c: float = 15.0) -> None:
        super().__init__()
        self.abc = nn.Parameter(torch.tensor([a, b, c]))

    def logits(self, mu: Tensor, mu_tilde: Tensor) -> Tensor:
        d = mu_tilde - mu
        a, b, c = self.abc
        logits = a + b * d.abs() + c * d.square()
        return torch.cat([torch.zeros_like(logits[:, :1]), logits], dim=1)

    def forward(self, mu: Tensor, mu_tilde: Tensor, eps: float = 1e-4) -> Tensor:
        p = self.logits(mu, mu_tilde).softmax(-1) + eps
        return p / p.sum(-1, keepdim=True)


class ILCMModule(nn.Module):
    """The trainable ILCM (and, with ``cross=False``, the weakly supervised disentangled VAE).

    Args:
        obs_shape: ``(D_obs,)`` or ``(3, H, W)``.
        k: Number of causal variables (= noise encodings).
        cross: Solution functions see the other noise components.
        hidden: MLP widths (encoder / decoder for vectors, conditioners).
        channels: Conv width for images.
        phases: ``(pretrain, warmup, interventions, hard)`` fractions of the budget.
        beta_pretrain: KL weight of the beta-VAE pretraining.
        averaging: ``"stochastic"`` (random mixture of the two posteriors of a shared
            component) or ``"mean"`` (their average).
        decoder_std: ``"learned"`` (a parameter per dimension / channel) or ``"calibrated"``
            (the current mean squared error, detached: Rybkin et al., ICML 2021).
        intervention_init: Initial ``(a, b, c)`` of the intervention encoder.
        prob_floor: ``(start, end)`` of the probability floor, shrunk geometrically over
            the warm-up.
        scale_floor, init_log_scale: Of the solution functions.
        consistency, z_norm, entropy: Weights of the regularisers (``z_norm`` shrinks to 0
            over the warm-up).
        max_options: Marginalise over only the ``max_options`` most likely intervention
            options of each pair (q renormalised over them); ``None`` = all K+1. Each
            option costs two decoder passes, so this is the lever for large image decoders.
    """

    int_masks: Tensor  # a buffer, declared for the type checker

    def __init__(
        self,
        obs_shape: Sequence[int],
        k: int,
        *,
        cross: bool = True,
        hidden: Sequence[int] = (64, 64),
        channels: int = 64,
        phases: Sequence[float] = PHASES,
        beta_pretrain: float = 1e-3,
        averaging: str = "stochastic",
        decoder_std: str = "learned",
        intervention_init: Sequence[float] = (-3.0, 15.0, 15.0),
        prob_floor: Sequence[float] = (0.025, 1e-4),
        scale_floor: float = 0.2,
        init_log_scale: float = 2.3,
        consistency: float = 0.01,
        z_norm: float = 0.01,
        entropy: float = 1.0,
        max_options: int | None = None,
    ) -> None:
        super().__init__()
        if averaging not in ("stochastic", "mean"):
            raise ValueError(f"averaging must be 'stochastic' or 'mean', got {averaging!r}")
        if decoder_std not in ("learned", "calibrated"):
            raise ValueError(f"decoder_std must be 'learned' or 'calibrated', got {decoder_std!r}")
        if len(phases) != 4 or not 0 <= phases[0] <= min(phases[1:]) <= max(phases) <= 1:
            raise ValueError(f"phases must be 4 fractions (pretrain, warmup, interventions, hard), pretraining first, got {phases}")
        self.k = k
        self.max_options = max_options
        self.obs_shape = tuple(obs_shape)
        self.encoder = make_encoder(obs_shape, 2 * k, hidden=hidden, channels=channels)
        last = self.encoder[-1] if isinstance(self.encoder, nn.Sequential) else None
        if isinstance(last, nn.Linear):  # the std head starts flat at 0.01 (as the original)
            with torch.no_grad():
                last.weight[k:].normal_(0.0, 1e-3)
                last.bias[k:].zero_()
        self.decoder = make_decoder(k, obs_shape, hidden=hidden, channels=channels)
        self.decoder_std = decoder_std
        n_std = obs_shape[0] if len(self.obs_shape) == 1 else 3
        self.dec_std_raw = nn.Parameter(torch.full((n_std,), _inv_softplus(0.1 - 1e-3)))
        self.solution = SolutionFunctions(k, hidden, cross=cross, scale_floor=scale_floor, init_log_scale=init_log_scale)
        self.intervention = InterventionEncoder(*intervention_init)
        self.phases = tuple(float(p) for p in phases)
        self.beta_pretrain = beta_pretrain
        self.averaging = averaging
        self.prob_floor = tuple(float(p) for p in prob_floor)
        self.consistency, self.z_norm, self.entropy = consistency, z_norm, entropy
        masks = torch.zeros(k + 1, k, dtype=torch.bool)
        masks[torch.arange(1, k + 1), torch.arange(k)] = True
        self.register_buffer("int_masks", masks)  # row I: which component is intervened

    # --- pieces ----------------------------------------------------------------------------
    def encode_noise(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """``(mean, std)`` of ``q(e | x)``, each ``(B, K)``."""
        mean, raw = self.encoder(x).chunk(2, dim=-1)
        return mean, 1e-4 + F.softplus(raw + _inv_softplus(0.01 - 1e-4))

    def causal(self, x: Tensor) -> Tensor:
        """Learned causal variables ``z = s(mu(x))``, ``(B, K)``."""
        return self.solution(self.encode_noise(x)[0])

    def target_probs(self, x: Tensor, x_tilde: Tensor, eps: float = 1e-4) -> Tensor:
        return self.intervention(self.encode_noise(x)[0], self.encode_noise(x_tilde)[0], eps)

    def squared_error(self, x: Tensor, e: Tensor) -> Tensor:
        """``(x - g(e))^2`` in observation layout; ``e`` is ``(..., K)``, ``x`` broadcasts."""
        lead = e.shape[:-1]
        mean = self.decoder(e.reshape(-1, self.k)).reshape(*lead, *self.obs_shape)
        return (x - mean).square()

    def log_likelihood(self, sq_err: Tensor, variance: Tensor | None = None) -> Tensor:
        """Gaussian ``log p(x | e)`` summed over observation dims, from squared errors.

        With ``decoder_std="calibrated"``, ``variance`` (the current mean squared error,
        :meth:`_variance`) is the maximum-likelihood decoder variance, detached.
        """
        if self.decoder_std == "learned":
            var = (1e-3 + F.softplus(self.dec_std_raw)).square()
            if len(self.obs_shape) == 3:
                var = var[:, None, None]
        else:
            assert variance is not None
            var = variance.detach().clamp(math.exp(-10.0), math.exp(4.0))
        ll = -0.5 * sq_err / var - 0.5 * var.log() - 0.5 * _LOG_2PI
        n_lead = sq_err.ndim - len(self.obs_shape)
        return ll.flatten(n_lead).sum(-1)

    def _variance(self, sq_err: Tensor, weights: Tensor | None = None) -> Tensor | None:
        """Per-dimension (per-channel) mean of ``sq_err`` over samples (weighted over options)."""
        if self.decoder_std == "learned":
            return None
        if weights is not None:  # sq_err (K+1, B, ...), weights (K+1, B)
            sq_err = (weights.reshape(*weights.shape, *[1] * len(self.obs_shape)) * sq_err).sum(0)
        v = sq_err.reshape(-1, *self.obs_shape).mean(0)
        return v.mean(dim=(1, 2), keepdim=True) if len(self.obs_shape) == 3 else v

    # --- schedules ---------------------------------------------------------------------------
    def schedule(self, progress: float) -> dict[str, float]:
        """Phase settings at ``progress`` in [0, 1]: beta, probability floor, norm weight."""
        pretrain, warmup, _, _ = self.phases
        t = min(1.0, max(0.0, (progress - pretrain) / max(1e-9, warmup - pretrain)))
        lo, hi = self.prob_floor
        return {
            "beta": t,
            "eps": math.exp((1 - t) * math.log(lo) + t * math.log(hi)),
            "z_norm": self.z_norm * (1 - t),
        }

    # --- objectives --------------------------------------------------------------------------
    def _vae_loss(self, x: Tensor, beta: float, z_norm: float = 0.0) -> tuple[Tensor, Tensor]:
        mu, std = self.encode_noise(x)
        e = mu + std * torch.randn_like(mu)
        kl = 0.5 * (mu.square() + std.square() - 1).sum(-1) - std.log().sum(-1)
        se = self.squared_error(x, e)
        rec = self.log_likelihood(se, self._variance(se))
        loss = -(rec - beta * kl).mean()
        loss = loss + self.consistency * se.flatten(1).sum(-1).mean() + z_norm * e.square().sum(-1).mean()
        return loss, rec.mean().detach()

    def pair_elbo(
        self, x: Tensor, x_tilde: Tensor, *, beta: float = 1.0, hard: bool = False, eps: float = 1e-4, interventions: bool = True
    ) -> dict[str, Tensor]:
        """Per-pair ELBO terms, marginalised over ``q(I | x, x~)`` (or at its argmax).

        Returns a dict of ``(B,)`` tensors (``elbo``, ``recon``, ``kl``), ``q`` ``(B, K+1)``
        (straight-through one-hot when ``hard``), and the unmixed noise samples ``e1, e2``.
        """
        mu1, s1 = self.encode_noise(x)
        mu2, s2 = self.encode_noise(x_tilde)
        probs = self.intervention(mu1, mu2, eps)
        if hard:
            options = probs.argmax(-1, keepdim=True)  # (B, 1)
            one_hot = torch.zeros_like(probs).scatter_(1, options, 1.0)
            q_out = one_hot + probs - probs.detach()
        elif self.max_options is not None and self.max_options < self.k + 1:
            options = probs.topk(self.max_options, dim=-1).indices  # (B, m)
            q_out = probs
        else:
            options = None
            q_out = probs
        if options is None:
            m = self.int_masks[:, None, :]  # (K+1, 1, K): option x component
            q = probs
        else:
            m = self.int_masks[options].transpose(0, 1)  # (m, B, K)
            q = torch.ones_like(options, dtype=probs.dtype) if hard else probs.gather(1, options)
            q = q / q.sum(-1, keepdim=True)
        n_opt = m.shape[0] if options is None else options.shape[1]
        shape = (n_opt, *mu1.shape)
        lam = (
            torch.rand(shape, device=mu1.device, dtype=mu1.dtype)
            if self.averaging == "stochastic"
            else torch.full(shape, 0.5, device=mu1.device, dtype=mu1.dtype)
        )
        mean_e = torch.where(m, mu1, lam * mu1 + (1 - lam) * mu2)
        std_e = torch.where(m, s1, lam * s1 + (1 - lam) * s2)
        e = mean_e + std_e * torch.randn_like(mean_e)  # (K+1, B, K)
        e_t = torch.where(m, mu2 + s2 * torch.randn_like(mean_e), e)
        se = self.squared_error(x, e)
        se_t = self.squared_error(x_tilde, e_t)
        var = self._variance(0.5 * (se + se_t), q.T.detach())
        recon = self.log_likelihood(se, var) + self.log_likelihood(se_t, var)  # (K+1, B)

        # -entropy of q(e, e~_I) and the expected log prior, per option.
        mf = m.to(mu1.dtype)
        half = 0.5 * (1 + _LOG_2PI)
        neg_entropy = -(std_e.log() + half).sum(-1) - (mf * (s2.log() + half)).sum(-1)
        log_p_e = (-0.5 * (mean_e.square() + std_e.square()) - 0.5 * _LOG_2PI).sum(-1)
        kl = neg_entropy - log_p_e
        if interventions:
            scale, shift = self.solution.params(e)
            z_t = (e_t - shift) / scale
            kl = kl - (mf * (-0.5 * z_t.square() - 0.5 * _LOG_2PI - scale.log())).sum(-1)
        kl_i = (q * q.clamp_min(1e-12).log()).sum(-1) + math.log(self.k + 1)  # KL(q(I) || uniform)
        elbo = (q.T * (recon - beta * kl)).sum(0) - beta * kl_i
        return {
            "elbo": elbo,
            "recon": (q.T * recon).sum(0),
            "kl": (q.T * kl).sum(0),
            "q": q_out,
            "e1": mu1 + s1 * torch.randn_like(mu1),
            "e2": mu2 + s2 * torch.randn_like(mu2),
        }

    def training_loss(self, batch: dict[str, Tensor], progress: float) -> tuple[Tensor, dict[str, float]]:
        pair = batch["pair"]
        x, x_tilde = pair[:, 0], pair[:, 1]
        pretrain, warmup, interventions, hard = self.phases
        sched = self.schedule(progress)
        if progress < pretrain:
            loss, rec = self._vae_loss(torch.cat([x, x_tilde]), self.beta_pretrain, sched["z_norm"])
            return loss, {"phase": 0, "recon": float(rec)}
        is_hard = progress >= hard
        out = self.pair_elbo(x, x_tilde, beta=sched["beta"], hard=is_hard, eps=sched["eps"], interventions=progress >= interventions)
        loss = -out["elbo"].mean()
        logs = {
            "phase": 1 + (progress >= warmup) + (progress >= interventions) + is_hard,
            "beta": sched["beta"],
            "recon": float(out["recon"].mean().detach()),
            "kl": float(out["kl"].mean().detach()),
        }
        if self.consistency > 0:
            se = torch.cat([self.squared_error(x, out["e1"]), self.squared_error(x_tilde, out["e2"])])
            loss = loss + self.consistency * 2 * se.flatten(1).sum(-1).mean()
        if sched["z_norm"] > 0:
            loss = loss + sched["z_norm"] * (out["e1"].square().sum(-1) + out["e2"].square().sum(-1)).mean()
        if self.entropy > 0:
            q_bar = out["q"].mean(0)
            h = -(q_bar * (q_bar + 1e-9).log()).sum()
            loss = loss - self.entropy * h
            logs["target_entropy"] = float(h.detach())
        return loss, logs

    def validation_loss(self, batch: dict[str, Tensor]) -> dict[str, float]:
        pair = batch["pair"]
        out = self.pair_elbo(pair[:, 0], pair[:, 1])
        return {"loss": float(-out["elbo"].mean()), "recon": float(out["recon"].mean().detach()), "kl": float(out["kl"].mean().detach())}


class ILCM(PairsMethod):
    """ILCM on pairs of vectors or images (see the module docstring).

    Hyperparameters (:meth:`defaults`, the original's toy settings): ``hidden`` MLP widths
    (2 x 64), ``channels`` conv width for images, ``phases``, ``beta_pretrain``,
    ``averaging``, ``decoder_std``, ``intervention_init``, ``prob_floor``, ``scale_floor``,
    ``init_log_scale``, ``consistency``, ``z_norm``, ``entropy``, ``max_options``. Loop
    defaults: Adam, lr 3e-4, batch 64, final weights kept. Default budget 20 epochs, not the
    reference's 90 (docs/results.md); pass ``budget="90ep"`` for the reference. Graph:
    ``graph_method="ilcm-h"`` (default), ``"solution"`` or ``"interventions"``.
    """

    name: ClassVar[str] = "ilcm"
    default_loop: ClassVar[LoopConfig] = LoopConfig(batch_size=64, lr=3e-4, optimizer="adam", select="last")
    default_budget: ClassVar[str] = "20ep"
    graph_methods: ClassVar[tuple[str, ...]] = ("ilcm-h", "solution", "interventions")
    cross: ClassVar[bool] = True
    encoding_stage: ClassVar[str | None] = "reduce-dim"  # image pairs: the reference's 8-dim encodings

    def __init__(
        self,
        *,
        loop: dict[str, Any] | None = None,
        device: str = "auto",
        graph_method: str | None = None,
        graph_threshold: float | None = None,
        **hparams: Any,
    ) -> None:
        """As :class:`PairsMethod`; ``graph_threshold`` defaults to ``ILCM_H_THRESHOLD`` for
        ``"ilcm-h"`` and ``EDGE_THRESHOLD`` otherwise."""
        method = graph_method or self.graph_methods[0]
        if graph_threshold is None:
            graph_threshold = ILCM_H_THRESHOLD if method == "ilcm-h" else EDGE_THRESHOLD
        super().__init__(loop=loop, device=device, graph_method=graph_method, graph_threshold=graph_threshold, **hparams)

    @classmethod
    def defaults(cls) -> dict[str, Any]:
        return {
            "hidden": [64, 64],
            "channels": 64,
            "phases": list(PHASES),
            "beta_pretrain": 1e-3,
            "averaging": "stochastic",
            "decoder_std": "learned",
            "intervention_init": [-3.0, 15.0, 15.0],
            "prob_floor": [0.025, 1e-4],
            "scale_floor": 0.2,
            "init_log_scale": 2.3,
            "consistency": 0.01,
            "z_norm": 0.01,
            "entropy": 1.0,
            "max_options": None,
        }

    def build(self, obs_shape: tuple[int, ...], n_vars: int) -> ILCMModule:
        h = self.hparams
        return ILCMModule(
            obs_shape,
            n_vars,
            cross=self.cross,
            hidden=tuple(h["hidden"]),
            channels=int(h["channels"]),
            phases=tuple(h["phases"]),
            beta_pretrain=float(h["beta_pretrain"]),
            averaging=str(h["averaging"]),
            decoder_std=str(h["decoder_std"]),
            intervention_init=tuple(h["intervention_init"]),
            prob_floor=tuple(h["prob_floor"]),
            scale_floor=float(h["scale_floor"]),
            init_log_scale=float(h["init_log_scale"]),
            consistency=float(h["consistency"]),
            z_norm=float(h["z_norm"]),
            entropy=float(h["entropy"]),
            max_options=h["max_options"],
        )

    def _check_ready(self) -> ILCMModule:
        return cast(ILCMModule, super()._check_ready())  # what build returns

    def _encode_t(self, x: Tensor) -> Tensor:
        return self._check_ready().causal(x)

    def encode_noise(self, x: np.ndarray) -> np.ndarray:
        """Noise encodings ``mu(x)`` ``(N, K)`` (the VAE latents, before the solution functions)."""
        mod = self._check_ready()
        return self._map(lambda t: mod.encode_noise(t)[0], x)

    def _targets_t(self, x: Tensor, xt: Tensor) -> Tensor:
        return self._check_ready().target_probs(x, xt).argmax(-1)

    def decode(self, z: np.ndarray) -> np.ndarray:
        """Causal variables ``(N, K)`` -> observations, inverting the solution functions."""
        mod = self._check_ready()
        with torch.no_grad():
            zt = torch.as_tensor(np.asarray(z), dtype=torch.float32, device=self.device)
            x = mod.decoder(mod.solution.inverse(zt, 2 * self.n_vars + 2))
        return from_tensor(x)

    def _learn_graph(self, view: Any) -> np.ndarray:
        if self.graph_method != "ilcm-h":
            return super()._learn_graph(view)
        x, _ = self._graph_sample(view)
        mod = self._check_ready()
        noise = torch.as_tensor(self.encode_noise(x), dtype=torch.float32, device=self.device)
        gen = torch.Generator(device=self.device).manual_seed(0)
        return ilcm_h_graph(mod.solution.params, noise, generator=gen)

    def _solution_graph(self, x: np.ndarray) -> np.ndarray:
        mod = self._check_ready()
        noise = torch.as_tensor(self.encode_noise(x), dtype=torch.float32, device=self.device)
        return solution_graph(mod.solution, noise)
