"""What the pairs baselines share: input checks, the arrays they train on, the optional
shared encoding stage, inference of intervention targets and the graph learners.

A baseline is a thin :class:`PairsMethod` subclass that builds its ``nn.Module``
(:meth:`PairsMethod.build`) and says how to read latents and targets from it; what every
method on the shared loop does (parameters, ``fit``, devices, checkpoints) lives in
:class:`~crlbench.baselines.torch_method.TorchMethod`.

A method that names an ``encoding_stage`` (a kind of
:data:`crlbench.baselines.autoencoder.STAGE_KINDS`, e.g. ``"reduce-dim"``) trains, on image
pairs, on the encodings of that shared stage, as ILCM's reference workflow trains ILCM and
its baselines on the 8-dimensional encodings of one weakly supervised VAE: :meth:`fit`
encodes the pairs once, builds the method's vector networks on the encodings and, once
trained, prepends the stage's encoder to the method's encoder and appends its decoder to
the method's decoder, so ``encode``, ``decode`` and ``infer_targets`` take and give images.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import torch
from torch import Tensor, nn

from crlbench.baselines.contract import Budget
from crlbench.baselines.graphs import EDGE_THRESHOLD, dag_from_weights, intervention_graph
from crlbench.baselines.torch_method import TorchMethod, torch_layout
from crlbench.datasets.torch_adapter import to_tensor
from crlbench.errors import CrlbenchError

if TYPE_CHECKING:
    from crlbench.baselines.autoencoder import StageSpec

__all__ = ["PairsMethod", "check_pairs", "observation_shape"]


def check_pairs(view: Any, method: str, split: str, *, needs_targets: bool = False) -> None:
    """Raise a :class:`CrlbenchError` naming what ``method`` needs unless ``view`` is pairs.

    Args:
        view: A dataset split view.
        method: Method name for the message.
        split: Split name for the message.
        needs_targets: Also require ``(N, K)`` intervention targets.
    """
    kind = type(view).__name__
    obs = getattr(view, "observations", None)
    if kind in ("Sequence", "Triplets", "States") or obs is None or len(getattr(obs, "shape", ())) < 3 or obs.shape[1] != 2:
        mode = {"Sequence": "sequences", "Triplets": "triplets", "States": "i.i.d. states"}.get(kind, kind)
        raise CrlbenchError(
            f"{method} needs a pairs dataset (mode 'pairs': observations (N, 2, ...) before and after "
            f"one intervention, e.g. toy-son-pairs-v1); its {split} split is {mode}"
        )
    if needs_targets:
        t = getattr(view, "targets", None)
        if t is None or np.ndim(t) != 2 or len(t) != len(obs):
            raise CrlbenchError(f"{method} needs intervention targets (N, K) 0/1 for each pair of its {split} split; this dataset has none")


def observation_shape(obs: Any) -> tuple[int, ...]:
    """Torch layout of one observation: ``(D_obs,)`` or ``(3, H, W)`` from ``(N, 2, ...)`` arrays."""
    return torch_layout(tuple(obs.shape[2:]))


class PairsMethod(TorchMethod):
    """Base of the pairs baselines (ILCM, disentangled VAE, beta-VAE).

    Args:
        loop: Overrides of the method's :class:`LoopConfig` fields (``lr``, ``batch_size``...).
        device: ``"auto"``, ``"cpu"`` or ``"cuda"``.
        graph_method: ``"solution"`` (the method's own heuristic, where it has one) or
            ``"interventions"`` (structure learner on inferred (z, z~, target) triples).
        graph_threshold: Threshold on standardised edge strengths (:data:`EDGE_THRESHOLD`).
        hparams: Method hyperparameters (see each subclass).
    """

    name: ClassVar[str] = "pairs-method"
    modes: ClassVar[tuple[str, ...]] = ("pairs",)
    needs_targets: ClassVar[bool] = False
    graph_methods: ClassVar[tuple[str, ...]] = ("interventions",)
    #: Shared stage the method trains on for image pairs (``None``: end to end on images).
    encoding_stage: ClassVar[str | None] = None

    def __init__(
        self,
        *,
        loop: dict[str, Any] | None = None,
        device: str = "auto",
        graph_method: str | None = None,
        graph_threshold: float = EDGE_THRESHOLD,
        **hparams: Any,
    ) -> None:
        super().__init__(loop=loop, device=device, **hparams)
        self.graph_method = graph_method or self.graph_methods[0]
        if self.graph_method not in self.graph_methods:
            raise CrlbenchError(f"{self.name}: graph_method must be one of {self.graph_methods}, got {graph_method!r}")
        self.graph_threshold = float(graph_threshold)
        self._graph_weights: np.ndarray | None = None

    # --- to override ---------------------------------------------------------------------
    def shared_stages(self, train: Any, budget: Budget) -> dict[str, StageSpec]:
        """``{"encoding": spec}`` of :attr:`encoding_stage` on image pairs, else ``{}``."""
        from crlbench.baselines.autoencoder import stage_spec  # noqa: PLC0415

        if self.encoding_stage is None or len(observation_shape(train.observations)) != 3:
            return {}
        return {"encoding": stage_spec(self.encoding_stage, budget=budget, run_loop=self.loop)}

    def _encode_t(self, x: Tensor) -> Tensor:
        raise NotImplementedError

    def _targets_t(self, x: Tensor, xt: Tensor) -> Tensor:
        raise NotImplementedError

    def _solution_graph(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    # --- the contract ----------------------------------------------------------------------
    def config(self) -> dict[str, Any]:
        """Everything that defines this method instance (written to the run's config.json)."""
        return {**super().config(), "graph_method": self.graph_method, "graph_threshold": self.graph_threshold}

    def encode(self, x: np.ndarray) -> np.ndarray:
        """Observations ``(N, D_obs)`` or ``(N, H, W, 3)`` -> latents ``(N, M)``."""
        return self._map(self._encode_t, x)

    def infer_targets(self, x: np.ndarray, x_tilde: np.ndarray) -> np.ndarray:
        """``(N,)`` inferred intervention labels: 0 = none, i = learned variable i."""
        return self._map2(self._targets_t, x, x_tilde).astype(np.int64)

    def graph(self) -> np.ndarray:
        """``(K, K)`` DAG over the learned variables (thresholded, see :mod:`graphs`)."""
        return dag_from_weights(self.graph_weights(), self.graph_threshold)

    def graph_weights(self) -> np.ndarray:
        """``(K, K)`` standardised edge strengths before thresholding."""
        if self._graph_weights is None:
            raise CrlbenchError(f"{self.name}: call fit before graph")
        return self._graph_weights

    def assignment(self) -> np.ndarray:
        """``(K, K+1)``: latent i is learned variable i (labels are the method's own)."""
        k = self.n_vars
        return np.concatenate([np.zeros((k, 1)), np.eye(k)], axis=1)

    # --- the fit hooks (see the module docstring for the encoding stage) ---------------------
    def _check_split(self, view: Any, split: str) -> None:
        check_pairs(view, self.name, split, needs_targets=self.needs_targets)

    def _shapes(self, train: Any, val: Any) -> tuple[tuple[int, ...], int]:
        t = getattr(train, "targets", None)
        if t is None or np.ndim(t) != 2:
            raise CrlbenchError("pairs methods need the number of causal variables: targets (N, K) in the split")
        return observation_shape(train.observations), int(np.shape(t)[1])

    def _arrays(self, view: Any) -> dict[str, Any]:
        """``{"pair": (N, 2, ...)}``: images stay lazy (read per batch), vectors in memory."""
        obs = view.observations
        return {"pair": obs if getattr(obs, "dtype", None) == np.uint8 else np.asarray(obs)}

    def _fit_arrays(self, train: Any, val: Any) -> tuple[dict[str, Any], dict[str, Any] | None]:
        stage = self.stages.get("encoding")
        if stage is None:
            return super()._fit_arrays(train, val)
        train_arrays = {"pair": stage.encode_pairs(train.observations)}
        self.obs_shape = (train_arrays["pair"].shape[-1],)
        return train_arrays, {"pair": stage.encode_pairs(val.observations)} if val is not None else None

    def _after_fit(self, train: Any, val: Any) -> None:
        stage = self.stages.get("encoding")
        mod: Any = self._check_ready()
        if stage is not None:  # images in, images out: the stage around the method's networks
            mod.encoder = nn.Sequential(stage.encoder, mod.encoder)
            mod.decoder = nn.Sequential(mod.decoder, stage.decoder)
        self._graph_weights = self._learn_graph(val if val is not None else train)

    # --- helpers ---------------------------------------------------------------------------
    def _to_tensor(self, x: np.ndarray) -> Tensor:
        return to_tensor(np.asarray(x), (-1.0, 1.0)).to(self.device)

    def _map2(self, fn: Any, x: np.ndarray, xt: np.ndarray) -> np.ndarray:
        self._check_ready().eval()
        outs = []
        b = self.map_batch
        with torch.no_grad():
            for s in range(0, len(x), b):
                outs.append(fn(self._to_tensor(x[s : s + b]), self._to_tensor(xt[s : s + b])).cpu().numpy())
        return np.concatenate(outs)

    def _graph_sample(self, view: Any, n: int = 4000) -> tuple[np.ndarray, np.ndarray]:
        """Up to ``n`` pairs of ``view`` (observations only: no ground truth)."""
        idx = np.arange(min(n, len(view)))
        obs = view.observations[idx] if getattr(view.observations, "dtype", None) == np.uint8 else np.asarray(view.observations)[idx]
        return obs[:, 0], obs[:, 1]

    def _learn_graph(self, view: Any) -> np.ndarray:
        x, xt = self._graph_sample(view)
        if self.graph_method == "interventions":
            return intervention_graph(self.encode(x), self.encode(xt), self.infer_targets(x, xt))
        return self._solution_graph(x)
