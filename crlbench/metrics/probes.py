"""Probes: regressors from each latent group to every causal dimension (CITRIS R² matrix).

Fitting lives here, apart from the scoring cores in ``r2.py`` and ``correlation.py``.
:func:`fit_probe_predictions` splits the probe set 50/50, standardises the latents, trains
the probe on the fitting half and predicts the scored half from each latent group (group 0 =
unassigned latents).

Probes (registry :data:`PROBES`; pass a name or an instance):

- ``"mlp"`` (faithful, default): CITRIS's probe (``models/shared/callbacks.py`` of
  phlippe/CITRIS), :class:`CITRISProbe`: *one* MLP for all groups, whose input is the
  group's latents (the others zeroed) concatenated with the group's 0/1 mask; 2 hidden
  layers of 128 with Tanh; a ``TanhScaled(2)`` head per continuous dimension (targets
  mapped from their range to [-2, 2]) trained with MSE, a 2-D head per angle trained with
  ``1 - cos`` of the angle between prediction and ``(sin, cos)`` plus ``0.1 (2 - |v|)^2``,
  a logit head per category with cross-entropy; the loss is the sum over dimensions;
  AdamW (no weight decay), lr 4e-3, batch 512 over (sample, group) examples, 100 epochs.
  The split is CITRIS's (torch ``random_split`` with seed 42) and the latents are
  standardised over all samples (std clamped at 0.01).
- ``"mlp-groups"``: K+1 separate MLPs (2 x 128, Tanh), one per group, on the kind
  encodings (range-scaled value, (sin, cos), one-hot) with MSE, and cross-entropy for
  categories; Adam, lr 4e-3, batch 512, 100 epochs; crlbench's split (seeded by
  ``seed``) and the fitting half's statistics.
- ``"kernel"`` (fast): ridge regression on the group's latents plus 512 random Fourier
  features of an RBF kernel (length scale sqrt(group size) on standardised latents).
- ``"linear"`` (fast, for linear identifiability): ridge regression on the group's latents.

The differences between the probes are measured in ``docs/metrics.md`` and bounded in
``tests/metrics/test_fast_vs_faithful.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np

from crlbench.core import Variable
from crlbench.errors import CrlbenchError
from crlbench.metrics import kinds
from crlbench.metrics._checks import (
    as_assignment,
    as_latents,
    as_truth,
    check_lengths,
    split_indices,
)
from crlbench.metrics.matching import match_assignment

if TYPE_CHECKING:
    import torch

__all__ = [
    "Probe",
    "CITRISProbe",
    "MLPProbe",
    "LinearProbe",
    "KernelProbe",
    "PROBES",
    "ProbeOutput",
    "fit_probe_predictions",
]


class Probe(Protocol):
    """Fits a regressor for each latent group and predicts encoded targets."""

    # Read-only properties, as in the frozen dataclasses below.
    @property
    def split_seed(self) -> int | None:
        """The probe's own split seed (``None``: the caller's ``seed``, with crlbench's split)."""
        ...

    @property
    def standardise_all(self) -> bool:
        """Standardise the latents with all samples' statistics (else the fitting half's)."""
        ...

    def fit_predict(
        self,
        x_fit: np.ndarray,
        t_fit: np.ndarray,
        x_eval: np.ndarray,
        masks: np.ndarray,
        *,
        ce_blocks: Sequence[slice],
        angle_blocks: Sequence[slice] = (),
        seed: int,
    ) -> np.ndarray:
        """Args: x_fit (N1, M), t_fit (N1, C) encoded targets, x_eval (N2, M), masks
        (G, M) bool (latents of each group), ce_blocks (column slices trained with
        cross-entropy), angle_blocks (the (sin, cos) column pairs of angles). Returns
        (G, N2, C) encoded predictions."""
        ...


def _linear_params(sizes: Sequence[int], gen: torch.Generator, lead: tuple[int, ...] = ()) -> list[torch.Tensor]:
    """PyTorch's default ``nn.Linear`` initialisation, drawn from ``gen`` (no global seed):
    ``[w0, b0, w1, b1, ...]`` with ``w`` ``(*lead, fan_in, fan_out)``, ``b`` ``(*lead, 1, fan_out)``."""
    import torch  # noqa: PLC0415

    params = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        bound = 1.0 / np.sqrt(fan_in)
        w = (torch.rand(*lead, fan_in, fan_out, generator=gen) * 2 - 1) * bound
        b = (torch.rand(*lead, 1, fan_out, generator=gen) * 2 - 1) * bound
        params += [w.requires_grad_(), b.requires_grad_()]
    return params


@dataclass(frozen=True)
class CITRISProbe:
    """CITRIS's probe (see the module docstring); settings are fixed so that R² values compare."""

    hidden: int = 128
    epochs: int = 100
    batch_size: int = 512
    lr: float = 4e-3
    continuous_scale: float = 2.0
    angle_norm_weight: float = 0.1
    split_seed: int | None = 42
    standardise_all: bool = True

    def fit_predict(self, x_fit, t_fit, x_eval, masks, *, ce_blocks, angle_blocks=(), seed):  # noqa: D102
        import torch  # noqa: PLC0415 - heavy; only when an MLP probe is used

        gen = torch.Generator().manual_seed(int(seed))
        g, m = masks.shape
        c = t_fit.shape[1]
        trunk = _linear_params([2 * m, self.hidden, self.hidden], gen)
        head = _linear_params([self.hidden, c], gen)  # all heads side by side
        params = trunk + head
        special = [col for s in (*ce_blocks, *angle_blocks) for col in range(c)[s]]
        cont = torch.ones(c, dtype=torch.bool)
        cont[special] = False
        sc = self.continuous_scale
        mask_t = torch.as_tensor(masks, dtype=torch.float32)  # (G, M)

        def forward(x: torch.Tensor, groups: torch.Tensor) -> torch.Tensor:
            mk = mask_t[groups]
            h = torch.cat([x * mk, mk], dim=-1)
            h = torch.tanh(h @ trunk[0] + trunk[1][0])
            h = torch.tanh(h @ trunk[2] + trunk[3][0])
            out = h @ head[0] + head[1][0]
            return torch.where(cont, sc * torch.tanh(out / sc), out)  # TanhScaled on continuous heads

        def loss_fn(out: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
            loss = ((out[:, cont] - sc * t[:, cont]) ** 2).mean(0).sum()
            for s in angle_blocks:
                v = out[:, s]
                loss = loss + (1 - torch.nn.functional.cosine_similarity(v, t[:, s], dim=-1)).mean()
                loss = loss + self.angle_norm_weight * ((2 - v.norm(dim=-1)) ** 2).mean()
            for s in ce_blocks:
                loss = loss - (torch.log_softmax(out[:, s], -1) * t[:, s]).sum(-1).mean()
            return loss

        x = torch.as_tensor(x_fit, dtype=torch.float32)
        t = torch.as_tensor(t_fit, dtype=torch.float32)
        n = len(x)
        # One example per (sample, group), as CITRIS's expanded inputs.
        ex_sample = torch.arange(n).repeat_interleave(g)
        ex_group = torch.arange(g).repeat(n)
        opt = torch.optim.AdamW(params, lr=self.lr, weight_decay=0.0)
        for _ in range(self.epochs):
            perm = torch.randperm(n * g, generator=gen)
            for i in range(0, n * g, self.batch_size):
                idx = perm[i : i + self.batch_size]
                si = ex_sample[idx]
                loss = loss_fn(forward(x[si], ex_group[idx]), t[si])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
        with torch.no_grad():
            xe = torch.as_tensor(x_eval, dtype=torch.float32)
            out = torch.stack([forward(xe, torch.full((len(xe),), k, dtype=torch.long)) for k in range(g)])
            out[..., cont] = out[..., cont] / sc  # back to the kind encoding
        return out.double().numpy()


@dataclass(frozen=True)
class MLPProbe:
    """K+1 separate MLPs, one per group (``"mlp-groups"``, see the module docstring).

    All groups train together as one batched network (``bmm``), which equals K+1
    independent networks since Adam is elementwise and the losses add up.
    """

    hidden: tuple[int, ...] = (128, 128)
    epochs: int = 100
    batch_size: int = 512
    lr: float = 4e-3
    split_seed: int | None = None
    standardise_all: bool = False

    def fit_predict(self, x_fit, t_fit, x_eval, masks, *, ce_blocks, angle_blocks=(), seed):  # noqa: D102
        import torch  # noqa: PLC0415 - heavy; only when an MLP probe is used

        gen = torch.Generator().manual_seed(int(seed))
        g, m = masks.shape
        params = _linear_params([m, *self.hidden, t_fit.shape[1]], gen, (g,))
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
    split_seed: int | None = None
    standardise_all: bool = False

    def features(self, x: np.ndarray, rng: np.random.Generator) -> Callable[[np.ndarray], np.ndarray]:
        """The feature map fitted on ``x`` (N, d): identity for the linear probe."""
        return lambda a: a

    def fit_predict(self, x_fit, t_fit, x_eval, masks, *, ce_blocks, angle_blocks=(), seed):  # noqa: D102
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


PROBES: dict[str, Probe] = {"mlp": CITRISProbe(), "mlp-groups": MLPProbe(), "kernel": KernelProbe(), "linear": LinearProbe()}


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


def _torch_split(n: int, split: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """CITRIS's split: ``torch.utils.data.random_split`` with a generator seeded ``seed``
    (a ``torch.randperm``, the first ``int(split * n)`` indices fitting), sorted."""
    import torch  # noqa: PLC0415

    if not 0.0 < split < 1.0:
        raise CrlbenchError(f"split must be in (0, 1), got {split}")
    n_fit = int(split * n)
    if n_fit < 2 or n - n_fit < 2:
        raise CrlbenchError(f"need at least 2 samples on each side of the split, got N={n}")
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(int(seed))).numpy()
    return np.sort(perm[:n_fit]), np.sort(perm[n_fit:])


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
        seed: Seeds the probe, and the split unless the probe fixes its own
            (``"mlp"``: CITRIS's seed 42).

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
    if probe.split_seed is None:
        fit, score = split_indices(n, split, seed)
    else:
        fit, score = _torch_split(n, split, probe.split_seed)
    matched = assignment is None
    if matched:
        assignment = match_assignment(y_true[fit], latents[fit], variables=variables)
    assignment = as_assignment(assignment, latents.shape[1], len(variables))
    groups = np.argmax(assignment, axis=1)
    masks = groups[None, :] == np.arange(len(variables) + 1)[:, None]

    if probe.standardise_all:  # CITRIS: all samples, torch's unbiased std clamped at 0.01
        x = (latents - latents.mean(0)) / np.maximum(latents.std(0, ddof=1), 1e-2)
    else:
        mu, sd = latents[fit].mean(0), latents[fit].std(0)
        x = (latents - mu) / np.where(sd > 0, sd, 1.0)
    t_fit = kinds.encode(y_true[fit], variables)
    cols = kinds.encoded_columns(variables)
    dims = kinds.dim_variables(variables)
    ce = [c for c, v in zip(cols, dims) if kinds.KINDS[v.kind].loss == "ce"]
    angles = [c for c, v in zip(cols, dims) if v.kind == "angle"]
    enc = probe.fit_predict(x[fit], t_fit, x[score], masks, ce_blocks=ce, angle_blocks=angles, seed=seed)
    preds = kinds.decode(enc, variables)
    return ProbeOutput(y_true[score], preds, assignment, matched, score)
