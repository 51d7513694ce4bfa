"""What the pairs baselines share: input checks, the fit -> training loop hand-off, batched
encoding of numpy observations, and the graph learners.

A baseline is a thin :class:`PairsMethod` subclass that builds its ``nn.Module``
(:meth:`PairsMethod.build`) and says how to read latents and targets from it; everything
else (views to arrays, the loop, devices, checkpoints) lives here once.

A method that names an ``encoding_stage`` (a kind of
:data:`crlbench.baselines.autoencoder.STAGE_KINDS`, e.g. ``"reduce-dim"``) trains, on image
pairs, on the encodings of that shared stage, as ILCM's reference workflow trains ILCM and
its baselines on the 8-dimensional encodings of one weakly supervised VAE: :meth:`fit`
encodes the pairs once, builds the method's vector networks on the encodings and, once
trained, prepends the stage's encoder to the method's encoder and appends its decoder to
the method's decoder, so ``encode``, ``decode`` and ``infer_targets`` take and give images.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Mapping

import numpy as np
import torch
from torch import Tensor, nn

from crlbench.baselines.contract import Budget
from crlbench.baselines.graphs import EDGE_THRESHOLD, dag_from_weights, intervention_graph
from crlbench.baselines.train import LoopConfig, TrainResult, fit_module, resolve_device
from crlbench.datasets.torch_adapter import to_tensor
from crlbench.errors import CrlbenchError

if TYPE_CHECKING:
    from crlbench.baselines.autoencoder import EncodingStage, StageSpec

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
            raise CrlbenchError(
                f"{method} needs intervention targets (N, K) 0/1 for each pair of its {split} split; "
                "this dataset has none"
            )


def observation_shape(obs: Any) -> tuple[int, ...]:
    """Torch layout of one observation: ``(D_obs,)`` or ``(3, H, W)`` from ``(N, 2, ...)`` arrays."""
    return torch_layout(tuple(obs.shape[2:]))


def torch_layout(shape: tuple[int, ...]) -> tuple[int, ...]:
    """One observation's numpy shape ``(D_obs,)`` or ``(H, W, 3)`` -> torch ``(D_obs,)`` or ``(3, H, W)``."""
    if len(shape) == 3:
        h, w, c = shape
        if c != 3:
            raise CrlbenchError(f"images must be (H, W, 3) uint8, got {shape}")
        return (3, h, w)
    if len(shape) != 1:
        raise CrlbenchError(f"observations must be vectors (D,) or images (H, W, 3), got {shape}")
    return shape


class PairsMethod:
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
    #: Loop defaults of the method (the reference's optimiser settings).
    default_loop: ClassVar[LoopConfig] = LoopConfig()
    #: Default budget (the reference's training length).
    default_budget: ClassVar[str] = "20ep"
    #: Dataset modes the method trains on.
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
        from dataclasses import replace

        unknown = set(hparams) - set(self.defaults())
        if unknown:
            raise CrlbenchError(f"{self.name}: unknown parameters {sorted(unknown)}; known: {sorted(self.defaults())}")
        self.hparams = {**self.defaults(), **hparams}
        try:
            self.loop = replace(self.default_loop, **(loop or {}), device=device)
        except TypeError as e:
            raise CrlbenchError(f"{self.name}: bad loop setting: {e}") from e
        self.graph_method = graph_method or self.graph_methods[0]
        if self.graph_method not in self.graph_methods:
            raise CrlbenchError(f"{self.name}: graph_method must be one of {self.graph_methods}, got {graph_method!r}")
        self.graph_threshold = float(graph_threshold)
        self.module: nn.Module | None = None
        self.result: TrainResult | None = None
        self._graph_weights: np.ndarray | None = None

    # --- to override ---------------------------------------------------------------------
    @classmethod
    def defaults(cls) -> dict[str, Any]:
        """Method hyperparameters and their defaults."""
        return {}

    def build(self, obs_shape: tuple[int, ...], n_vars: int) -> nn.Module:
        """The trainable module for observations of ``obs_shape`` and ``n_vars`` variables."""
        raise NotImplementedError

    def shared_stages(self, train: Any, budget: Budget) -> dict[str, StageSpec]:
        """``{"encoding": spec}`` of :attr:`encoding_stage` on image pairs, else ``{}``."""
        from crlbench.baselines.autoencoder import stage_spec

        if self.encoding_stage is None or len(observation_shape(train.observations)) != 3:
            return {}
        return {"encoding": stage_spec(self.encoding_stage, budget=budget, run_loop=self.loop)}

    def stage_arrays(self, view: Any) -> dict[str, Any]:
        """The arrays a shared stage trains on: ``{"pair": (N, 2, ...)}``."""
        return self._arrays(view)

    # --- the contract ----------------------------------------------------------------------
    def config(self) -> dict[str, Any]:
        """Everything that defines this method instance (written to the run's config.json)."""
        from dataclasses import asdict

        return {
            "method": self.name,
            "hparams": self.hparams,
            "loop": asdict(self.loop),
            "graph_method": self.graph_method,
            "graph_threshold": self.graph_threshold,
        }

    def fit(
        self,
        train: Any,
        val: Any,
        budget: Budget | str | int | None = None,
        seed: int = 0,
        *,
        workdir: str | Path | None = None,
        progress: bool | None = None,
        stages: Mapping[str, EncodingStage] | None = None,
    ) -> TrainResult:
        """Train on a pairs split; ``workdir`` makes the run resumable (checkpoints, log).

        ``stages["encoding"]``, a trained shared stage, makes the method train on its
        encodings of the pairs (see the module docstring)."""
        check_pairs(train, self.name, "train", needs_targets=self.needs_targets)
        if val is not None:
            check_pairs(val, self.name, "val", needs_targets=self.needs_targets)
        n_vars = self._n_vars(train)
        self.obs_shape = observation_shape(train.observations)
        self.n_vars = n_vars
        stage = (stages or {}).get("encoding")
        train_arrays, val_arrays = self._arrays(train), self._arrays(val) if val is not None else None
        if stage is not None:
            train_arrays = {"pair": stage.encode_pairs(train.observations)}
            val_arrays = {"pair": stage.encode_pairs(val.observations)} if val is not None else None
            self.obs_shape = (train_arrays["pair"].shape[-1],)
        torch.manual_seed(seed)
        self.module = self.build(self.obs_shape, n_vars)
        loop = self.loop if progress is None else _replace(self.loop, progress=progress)
        self.device = resolve_device(loop.device)
        self.result = fit_module(
            self.module,
            train_arrays,
            val_arrays,
            budget=Budget.parse(budget if budget is not None else self.default_budget),
            seed=seed,
            config=loop,
            workdir=workdir,
        )
        self.module.eval()
        if stage is not None:  # images in, images out: the stage around the method's networks
            self.module.encoder = nn.Sequential(stage.encoder, self.module.encoder)
            self.module.decoder = nn.Sequential(self.module.decoder, stage.decoder)
        self._graph_weights = self._learn_graph(val if val is not None else train)
        return self.result

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

    # --- helpers ---------------------------------------------------------------------------
    @staticmethod
    def _n_vars(view: Any) -> int:
        t = getattr(view, "targets", None)
        if t is None or np.ndim(t) != 2:
            raise CrlbenchError("pairs methods need the number of causal variables: targets (N, K) in the split")
        return int(np.shape(t)[1])

    @staticmethod
    def _arrays(view: Any) -> dict[str, Any]:
        """``{"pair": (N, 2, ...)}``: images stay lazy (read per batch), vectors in memory."""
        obs = view.observations
        return {"pair": obs if getattr(obs, "dtype", None) == np.uint8 else np.asarray(obs)}

    def _to_tensor(self, x: np.ndarray) -> Tensor:
        return to_tensor(np.asarray(x), (-1.0, 1.0)).to(self.device)

    def _check_ready(self) -> nn.Module:
        if self.module is None:
            raise CrlbenchError(f"{self.name}: call fit before encode / infer_targets")
        return self.module

    def _map(self, fn: Any, x: np.ndarray, batch: int = 1024) -> np.ndarray:
        self._check_ready().eval()
        outs = []
        with torch.no_grad():
            for s in range(0, len(x), batch):
                outs.append(fn(self._to_tensor(x[s : s + batch])).cpu().numpy())
        return np.concatenate(outs).astype(np.float64)

    def _map2(self, fn: Any, x: np.ndarray, xt: np.ndarray, batch: int = 1024) -> np.ndarray:
        self._check_ready().eval()
        outs = []
        with torch.no_grad():
            for s in range(0, len(x), batch):
                outs.append(fn(self._to_tensor(x[s : s + batch]), self._to_tensor(xt[s : s + batch])).cpu().numpy())
        return np.concatenate(outs)

    def _encode_t(self, x: Tensor) -> Tensor:
        raise NotImplementedError

    def _targets_t(self, x: Tensor, xt: Tensor) -> Tensor:
        raise NotImplementedError

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

    def _solution_graph(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError


def _replace(cfg: LoopConfig, **kw: Any) -> LoopConfig:
    from dataclasses import replace

    return replace(cfg, **kw)
