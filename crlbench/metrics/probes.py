"""Probes: regressors from each latent group to every causal dimension (CITRIS R² matrix).

Fitting lives here, apart from the scoring cores in ``r2.py`` and ``correlation.py``.
:func:`fit_probe_predictions` standardises the latents with the fitting half's statistics,
splits the probe set 50/50 with a fixed seed, trains one probe per latent group (group 0 =
unassigned latents) on the fitting half and predicts the scored half.

Probes (registry :data:`PROBES`; pass a name or an instance):

- ``"mlp"`` (faithful, default): the CITRIS probe, an MLP with 2 hidden layers of 128 and
  Tanh, per group; targets are the kind encodings (range-scaled value, (sin, cos),
  one-hot) with MSE, and cross-entropy for categories; Adam, lr 4e-3, batch 512, 100
  epochs. All K+1 groups train together as one batched network (``bmm``), which equals K+1
  independent networks since Adam is elementwise and the losses add up.
- ``"kernel"`` (fast): ridge regression on the group's latents plus 512 random Fourier
  features of an RBF kernel (length scale sqrt(group size) on standardised latents).
- ``"linear"`` (fast, for linear identifiability): ridge regression on the group's latents.

The difference between ``"kernel"`` and ``"mlp"`` is bounded in ``docs/metrics.md`` and
tested in ``tests/metrics/test_fast_vs_faithful.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Protocol, Sequence

import numpy as np

from crlbench.errors import CrlbenchError
from crlbench.metrics import kinds
from crlbench.metrics._checks import (
    as_assignment,
    as_latents,
    as_truth,
    check_lengths,
    split_indices,
)
from crlbench.core import Variable
from crlbench.metrics.matching import match_assignment

__all__ = [
    "Probe",
    "MLPProbe",
    "LinearProbe",
    "KernelProbe",
    "PROBES",
    "ProbeOutput",
    "fit_probe_predictions",
]


class Probe(Protocol):
    """Fits one regressor per latent group and predicts encoded targets."""

    def fit_predict(
        self,
        x_fit: np.ndarray,
        t_fit: np.ndarray,
        x_eval: np.ndarray,
        masks: np.ndarray,
        *,
        ce_blocks: Sequence[slice],
        seed: int,
    ) -> np.ndarray:
        """Args: x_fit (N1, M), t_fit (N1, C) encoded targets, x_eval (N2, M), masks
        (G, M) bool (latents of each group), ce_blocks (column slices trained with
        cross-entropy). Returns (G, N2, C) encoded predictions."""
        ...


@dataclass(frozen=True)
class MLPProbe:
    """The CITRIS MLP probe; settings are fixed so that R² values are comparable."""

    hidden: tuple[int, ...] = (128, 128)
    epochs: int = 100
    batch_size: int = 512
    lr: float = 4e-3

    def fit_predict(self, x_fit, t_fit, x_eval, masks, *, ce_blocks, seed):  # noqa: D102
        import torch  # heavy; only when the MLP probe is used

        gen = torch.Generator().manual_seed(int(seed))
        g, m = masks.shape
        sizes = [m, *self.hidden, t_fit.shape[1]]
        params = []
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
            # PyTorch's default Linear init, drawn from our own generator (no global seed).
            bound = 1.0 / np.sqrt(fan_in)
            w = (torch.rand(g, fan_in, fan_out, generator=gen) * 2 - 1) * bound
            b = (torch.rand(g, 1, fan_out, generator=gen) * 2 - 1) * bound
            params += [w.requires_grad_(), b.requires_grad_()]
        mask = torch.as_tensor(masks, dtype=torch.float32)[:, None, :]
        mse = torch.ones(t_fit.shape[1], dtype=torch.bool)
        for s in ce_blocks:
            mse[s] = False

        def forward(x: torch.Tensor) -> torch.Tensor:
            h = x[None] * mask  # (G, B, M): each group sees only its own latents
            for i in range(0, len(params), 2):
                h = torch.baddbmm(params[i + 1], h, params[i])
                if i + 2 < len(params):
                    h = torch.tanh(h)
            return h

        x = torch.as_tensor(x_fit, dtype=torch.float32)
        t = torch.as_tensor(t_fit, dtype=torch.float32)
        opt = torch.optim.Adam(params, lr=self.lr)
        n = len(x)
        for _ in range(self.epochs):
            perm = torch.randperm(n, generator=gen)
            for i in range(0, n, self.batch_size):
                idx = perm[i : i + self.batch_size]
                out, tb = forward(x[idx]), t[idx]
                loss = ((out[..., mse] - tb[..., mse]) ** 2).mean(dim=1).sum()
                for s in ce_blocks:
                    logp = torch.log_softmax(out[..., s], dim=-1)
                    loss = loss - (logp * tb[..., s]).sum(-1).mean(1).sum()
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
        with torch.no_grad():
            xe = torch.as_tensor(x_eval, dtype=torch.float32)
            out = torch.cat([forward(xe[i : i + 4096]) for i in range(0, len(xe), 4096)], 1)
        return out.double().numpy()


def _ridge(feats: np.ndarray, t: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """Ridge with an unpenalised intercept: returns (weights, intercept)."""
    mu_f, mu_t = feats.mean(0), t.mean(0)
    f = feats - mu_f
    a = f.T @ f + alpha * len(f) * np.eye(f.shape[1])
    w = np.linalg.solve(a, f.T @ (t - mu_t))
    return w, mu_t - mu_f @ w


@dataclass(frozen=True)
class LinearProbe:
    """Ridge regression from a group's latents (fast; captures linear information only)."""

    alpha: float = 1e-4

    def features(self, x: np.ndarray, rng: np.random.Generator) -> Callable[[np.ndarray], np.ndarray]:
        """The feature map fitted on ``x`` (N, d): identity for the linear probe."""
        return lambda a: a

    def fit_predict(self, x_fit, t_fit, x_eval, masks, *, ce_blocks, seed):  # noqa: D102
        out = np.empty((len(masks), len(x_eval), t_fit.shape[1]))
        for g, mask in enumerate(masks):
            rng = np.random.default_rng([int(seed), g])
            feat = self.features(x_fit[:, mask], rng)
            f_fit = feat(x_fit[:, mask])
            if f_fit.shape[1] == 0:  # empty group: the constant predictor
                out[g] = t_fit.mean(0)
                continue
            w, b = _ridge(f_fit, t_fit, self.alpha)
            out[g] = feat(x_eval[:, mask]) @ w + b
        return out


@dataclass(frozen=True)
class KernelProbe(LinearProbe):
    """Ridge on the latents plus random Fourier features of an RBF kernel (fast)."""

    n_features: int = 512
    length_scale: float = 1.0  # times sqrt(group size), on standardised latents
    alpha: float = 1e-4

    def features(self, x, rng):  # noqa: D102
        d = x.shape[1]
        if d == 0:
            return lambda a: a
        w = rng.standard_normal((d, self.n_features)) / (self.length_scale * np.sqrt(d))
        b = rng.uniform(0, 2 * np.pi, self.n_features)
        scale = np.sqrt(2.0 / self.n_features)
        return lambda a: np.concatenate([a, scale * np.cos(a @ w + b)], axis=1)


PROBES: dict[str, Probe] = {"mlp": MLPProbe(), "kernel": KernelProbe(), "linear": LinearProbe()}


@dataclass(frozen=True)
class ProbeOutput:
    """Held-out probe predictions.

    Attributes:
        y_true: (N2, D) true factors of the scored half.
        predictions: (K+1, N2, D) decoded predictions of each group's probe.
        assignment: (M, K+1) hard assignment used.
        matched: True if the assignment came from matching rather than the method.
        score_index: (N2,) indices of the scored samples in the input.
    """

    y_true: np.ndarray
    predictions: np.ndarray
    assignment: np.ndarray
    matched: bool
    score_index: np.ndarray


def fit_probe_predictions(
    y_true: np.ndarray,
    latents: np.ndarray,
    *,
    variables: Sequence[Variable] | None = None,
    assignment: np.ndarray | None = None,
    probe: str | Probe = "mlp",
    split: float = 0.5,
    seed: int = 0,
) -> ProbeOutput:
    """Fit group probes on one half of a probe set and predict the other.

    Args:
        y_true: (N, D) true causal factors of an i.i.d. probe set.
        latents: (N, M) learned latents of the same samples.
        variables: The K variables spanning D; default: D continuous scalars.
        assignment: (M, K+1) soft or hard latent-to-group map (argmax per row); ``None``
            matches one on the fitting half (:func:`~crlbench.metrics.matching.match_assignment`).
        probe: A name in :data:`PROBES` or a :class:`Probe`.
        split: Fraction of samples used for fitting.
        seed: Seeds the split and the probe.

    Returns:
        A :class:`ProbeOutput`.
    """
    latents = as_latents(latents)
    variables = kinds.default_variables(np.shape(y_true)[-1]) if variables is None else variables
    y_true = as_truth(y_true, variables)
    n = check_lengths(y_true=y_true, latents=latents)
    if isinstance(probe, str):
        if probe not in PROBES:
            raise CrlbenchError(f"probe must be one of {sorted(PROBES)} or a Probe, got {probe!r}")
        probe = PROBES[probe]
    fit, score = split_indices(n, split, seed)
    matched = assignment is None
    if matched:
        assignment = match_assignment(y_true[fit], latents[fit], variables=variables)
    assignment = as_assignment(assignment, latents.shape[1], len(variables))
    groups = np.argmax(assignment, axis=1)
    masks = groups[None, :] == np.arange(len(variables) + 1)[:, None]

    mu, sd = latents[fit].mean(0), latents[fit].std(0)
    x = (latents - mu) / np.where(sd > 0, sd, 1.0)
    t_fit = kinds.encode(y_true[fit], variables)
    cols = kinds.encoded_columns(variables)
    ce = [c for c, v in zip(cols, kinds.dim_variables(variables)) if kinds.KINDS[v.kind].loss == "ce"]
    enc = probe.fit_predict(x[fit], t_fit, x[score], masks, ce_blocks=ce, seed=seed)
    preds = kinds.decode(enc, variables)
    return ProbeOutput(y_true[score], preds, assignment, matched, score)
