"""The CITRIS transition prior ``p(z^{t+1} | z^t, I^{t+1})`` and its target classifier.

CITRIS (Lippe et al., ICML 2022, arXiv 2202.03169, section 4) splits the M latents into
K+1 groups by a learned assignment ``psi: {1..M} -> {0..K}`` (group 0 = "no causal
variable"). The prior factorises over latents given the previous frame:

    p(z^{t+1} | z^t, I^{t+1}) = prod_i p(z_i^{t+1} | z^t, I^{t+1}_{psi(i)}),

where an intervened latent (``I_{psi(i)} = 1``) follows a learned Gaussian independent of
``z^t`` and a non-intervened one a Gaussian whose mean and scale come from a per-latent MLP
of ``z^t`` (group 0 is never intervened). ``psi`` is unknown: the assignment is a
categorical per latent with logits ``(M, K+1)``, sampled with Gumbel-softmax while training,
and the loss is the expectation over ``psi``; because the prior factorises over latents,
that expectation is ``sum_i sum_j w_ij * loss_ij`` (:func:`marginalise`), so only the
``(B, M, K+1)`` table of per-latent, per-group terms is ever evaluated.

The :class:`TargetClassifier` predicts ``I_j^{t+1}`` from ``z^t`` and the latents of group
``j`` at ``t+1`` (masked by the assignment): its loss pushes each group to carry the
information about its own variable's interventions. Written from the paper, not from the
released code.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["LatentwiseMLP", "TransitionPrior", "TargetClassifier", "marginalise", "gaussian_log_prob", "gaussian_kl"]

_LOG_2PI = math.log(2 * math.pi)


def gaussian_log_prob(z: Tensor, mean: Tensor, log_std: Tensor) -> Tensor:
    """Elementwise ``log N(z; mean, exp(log_std)^2)``."""
    return -0.5 * ((z - mean) * torch.exp(-log_std)).square() - log_std - 0.5 * _LOG_2PI


def gaussian_kl(mean_q: Tensor, log_std_q: Tensor, mean_p: Tensor, log_std_p: Tensor) -> Tensor:
    """Elementwise ``KL(N(mean_q, std_q^2) || N(mean_p, std_p^2))``."""
    var_ratio = torch.exp(2 * (log_std_q - log_std_p))
    return 0.5 * (var_ratio + ((mean_q - mean_p) * torch.exp(-log_std_p)).square() - 1) - (log_std_q - log_std_p)


def marginalise(table: Tensor, weights: Tensor) -> Tensor:
    """Expected sum over latents of a per-(latent, group) term under the assignment.

    Args:
        table: ``(B, M, K+1)``: the term of latent i if it belonged to group j.
        weights: ``(M, K+1)`` assignment probabilities (rows sum to 1), or a relaxed sample.

    Returns:
        ``(B,)``: ``sum_i sum_j weights_ij table_bij`` = ``E_psi[sum_i table_{b,i,psi(i)}]``.
    """
    return torch.einsum("bmk,mk->b", table, weights)


class LatentwiseMLP(nn.Module):
    """M independent MLPs run as one batched network: ``(B, M, in) -> (B, M, out)``.

    Args:
        n: Number of networks M.
        in_features: Input width of each.
        out_features: Output width of each.
        hidden: Hidden widths.
    """

    def __init__(self, n: int, in_features: int, out_features: int, hidden: Sequence[int] = (32,)) -> None:
        super().__init__()
        widths = [in_features, *hidden, out_features]
        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList()
        for a, b in zip(widths[:-1], widths[1:]):
            w = torch.empty(n, a, b)
            for i in range(n):
                nn.init.kaiming_uniform_(w[i].T, a=math.sqrt(5))  # as nn.Linear
            self.weights.append(nn.Parameter(w))
            self.biases.append(nn.Parameter(torch.zeros(n, b)))

    def forward(self, x: Tensor) -> Tensor:
        for k, (w, b) in enumerate(zip(self.weights, self.biases)):
            x = torch.einsum("bni,nio->bno", x, w) + b
            if k < len(self.weights) - 1:
                x = F.silu(x)
        return x


class TransitionPrior(nn.Module):
    """CITRIS' ``p(z^{t+1} | z^t, I^{t+1})`` with a learned latent-to-group assignment.

    Args:
        n_latents: M.
        n_vars: K causal variables (groups 1..K; group 0 = none).
        hidden: Hidden widths of each latent's mechanism MLP.
        tau: Gumbel-softmax temperature of the assignment samples.
        min_log_std: Lower bound of every predicted log standard deviation.
        logit_scale: The logits are ``logit_scale * raw``: with Adam, the assignment learns
            ``logit_scale`` times faster than the networks (CITRIS also gives it a larger
            learning rate; the shared loop has one learning rate).
    """

    def __init__(
        self,
        n_latents: int,
        n_vars: int,
        hidden: Sequence[int] = (32,),
        tau: float = 1.0,
        min_log_std: float = -5.0,
        logit_scale: float = 10.0,
    ) -> None:
        super().__init__()
        self.m, self.k, self.tau, self.min_log_std, self.logit_scale = n_latents, n_vars, tau, min_log_std, logit_scale
        self.raw_logits = nn.Parameter(torch.zeros(n_latents, n_vars + 1))
        self.mechanism = LatentwiseMLP(n_latents, n_latents, 2, hidden)
        self.int_mean = nn.Parameter(torch.zeros(n_latents))
        self.int_log_std = nn.Parameter(torch.zeros(n_latents))

    # --- assignment --------------------------------------------------------------------
    @property
    def assignment_logits(self) -> Tensor:
        """``(M, K+1)`` logits of the assignment."""
        return self.logit_scale * self.raw_logits

    def assignment_probs(self) -> Tensor:
        """``(M, K+1)`` softmax of the assignment logits."""
        return self.assignment_logits.softmax(-1)

    def usage_penalty(self) -> Tensor:
        """``sum_j -log min(1, sum_i p_ij)`` over the variable groups j = 1..K (a scalar).

        A crlbench addition, not in the paper: zero once every variable group expects at
        least one latent, and otherwise a pull on the latent most likely to join the empty
        group whose gradient, unlike the softmax's, does not vanish when the assignment has
        already saturated. Without it an assignment that commits early can leave a variable
        with no latent (it happened on toy data in about one seed of three).
        """
        usage = self.assignment_probs()[:, 1:].sum(0)
        return -torch.log(usage.clamp(1e-12, 1.0)).sum()

    def assignment_weights(self) -> Tensor:
        """``(M, K+1)``: a Gumbel-softmax sample in training mode, the probabilities otherwise."""
        if self.training:
            return F.gumbel_softmax(self.assignment_logits, tau=self.tau, hard=False, dim=-1)
        return self.assignment_probs()

    # --- the two Gaussians of each latent ------------------------------------------------
    def observational(self, z_prev: Tensor) -> tuple[Tensor, Tensor]:
        """Mean and log-std ``(B, M)`` of each latent when its group is not intervened on."""
        h = self.mechanism(z_prev.unsqueeze(1).expand(-1, self.m, -1))
        return h[..., 0], h[..., 1].clamp_min(self.min_log_std)

    def interventional(self) -> tuple[Tensor, Tensor]:
        """Mean and log-std ``(M,)`` of each latent when its group is intervened on."""
        return self.int_mean, self.int_log_std.clamp_min(self.min_log_std)

    def _table(self, obs_term: Tensor, int_term: Tensor, targets: Tensor) -> Tensor:
        """``(B, M, K+1)``: group 0 takes the observational term, group j the term chosen by I_j."""
        hit = targets.bool().unsqueeze(1)  # (B, 1, K)
        per_var = torch.where(hit, int_term.unsqueeze(-1), obs_term.unsqueeze(-1))  # (B, M, K)
        return torch.cat([obs_term.unsqueeze(-1), per_var], dim=-1)

    def log_prob_table(self, z_next: Tensor, z_prev: Tensor, targets: Tensor) -> Tensor:
        """``(B, M, K+1)`` log-density of ``z_next_i`` if latent i belonged to group j.

        Args:
            z_next: ``(B, M)`` latents of frame t+1.
            z_prev: ``(B, M)`` latents of frame t.
            targets: ``(B, K)`` 0/1 intervention targets of frame t+1.
        """
        mean, log_std = self.observational(z_prev)
        im, il = self.interventional()
        return self._table(gaussian_log_prob(z_next, mean, log_std), gaussian_log_prob(z_next, im, il), targets)

    def kl_table(self, mean_q: Tensor, log_std_q: Tensor, z_prev: Tensor, targets: Tensor) -> Tensor:
        """``(B, M, K+1)`` closed-form ``KL(q(z_i^{t+1}) || p_j(z_i^{t+1} | z^t))``."""
        mean, log_std = self.observational(z_prev)
        im, il = self.interventional()
        return self._table(gaussian_kl(mean_q, log_std_q, mean, log_std), gaussian_kl(mean_q, log_std_q, im, il), targets)

    def log_prob(self, z_next: Tensor, z_prev: Tensor, targets: Tensor, weights: Tensor | None = None) -> Tensor:
        """``(B,)`` log-density marginalised over the assignment (``weights`` default: sampled)."""
        w = self.assignment_weights() if weights is None else weights
        return marginalise(self.log_prob_table(z_next, z_prev, targets), w)


class TargetClassifier(nn.Module):
    """Predicts ``I_j^{t+1}`` from ``z^t`` and the group-j latents of ``z^{t+1}``.

    Input of group j: ``[z^t, z^{t+1} * w_{:, j}, onehot(j)]``, one shared MLP for all groups.
    ``z^t`` is detached, so the loss shapes the frame-(t+1) latents and the assignment.

    Args:
        n_latents: M.
        n_vars: K.
        hidden: Hidden widths.
    """

    def __init__(self, n_latents: int, n_vars: int, hidden: Sequence[int] = (64, 64)) -> None:
        super().__init__()
        from crlbench.baselines.nn import mlp  # noqa: PLC0415

        self.k = n_vars
        self.net = mlp(2 * n_latents + n_vars, 1, hidden)

    def logits(self, z_prev: Tensor, z_next: Tensor, weights: Tensor) -> Tensor:
        """``(B, K)`` logits of the targets; ``weights`` ``(M, K+1)``."""
        b = len(z_prev)
        masked = z_next.unsqueeze(1) * weights[:, 1:].T.unsqueeze(0)  # (B, K, M)
        onehot = torch.eye(self.k, device=z_prev.device, dtype=z_prev.dtype).expand(b, -1, -1)
        inp = torch.cat([z_prev.detach().unsqueeze(1).expand(-1, self.k, -1), masked, onehot], dim=-1)
        return self.net(inp).squeeze(-1)

    def loss(self, z_prev: Tensor, z_next: Tensor, targets: Tensor, weights: Tensor) -> Tensor:
        """``(B,)`` binary cross-entropy summed over the K targets."""
        logits = self.logits(z_prev, z_next, weights)
        return F.binary_cross_entropy_with_logits(logits, targets.float(), reduction="none").sum(-1)
