"""What every baseline on the shared training loop has in common: hyperparameters and loop
settings checked once, the run config, ``fit`` handing a built module to
:func:`crlbench.baselines.loop.fit_module`, and batched mapping of numpy observations.

:class:`TorchMethod` is the one base; :class:`~crlbench.baselines.pairs_method.PairsMethod`
(pairs before and after an intervention) and
:class:`~crlbench.baselines.sequence_method.SequenceMethod` (windows of TRIS rollouts) say
which splits they accept and which arrays they train on.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import torch
from torch import nn

from crlbench.baselines.contract import Budget
from crlbench.baselines.loop import LoopConfig, TrainResult, fit_module, resolve_device
from crlbench.datasets.torch_adapter import to_tensor
from crlbench.errors import CrlbenchError

if TYPE_CHECKING:
    from crlbench.baselines.autoencoder import EncodingStage, StageSpec

__all__ = ["TorchMethod", "torch_layout"]


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


class TorchMethod:
    """Base of the baselines trained by the shared loop.

    Args:
        loop: Overrides of the method's :class:`LoopConfig` fields (``lr``, ``batch_size``...).
        device: ``"auto"``, ``"cpu"`` or ``"cuda"``.
        hparams: Method hyperparameters (see each subclass's :meth:`defaults`).
    """

    name: ClassVar[str] = "torch-method"
    #: Loop defaults of the method (the reference's optimiser settings).
    default_loop: ClassVar[LoopConfig] = LoopConfig()
    #: Default budget (the reference's training length).
    default_budget: ClassVar[str] = "20ep"
    #: Dataset modes the method trains on.
    modes: ClassVar[tuple[str, ...]] = ()
    #: Observations per batch when encoding numpy arrays.
    map_batch: ClassVar[int] = 1024

    def __init__(self, *, loop: dict[str, Any] | None = None, device: str = "auto", **hparams: Any) -> None:
        unknown = set(hparams) - set(self.defaults())
        if unknown:
            raise CrlbenchError(f"{self.name}: unknown parameters {sorted(unknown)}; known: {sorted(self.defaults())}")
        self.hparams = {**self.defaults(), **hparams}
        try:
            self.loop = replace(self.default_loop, **(loop or {}), device=device)
        except TypeError as e:
            raise CrlbenchError(f"{self.name}: bad loop setting: {e}") from e
        self.module: nn.Module | None = None
        self.result: TrainResult | None = None
        self.device = torch.device("cpu")
        self.stages: dict[str, EncodingStage] = {}

    # --- to override ---------------------------------------------------------------------
    @classmethod
    def defaults(cls) -> dict[str, Any]:
        """Method hyperparameters and their defaults."""
        return {}

    def build(self, obs_shape: tuple[int, ...], n_vars: int) -> nn.Module:
        """The trainable module for observations of ``obs_shape`` and ``n_vars`` causal variables."""
        raise NotImplementedError

    def shared_stages(self, train: Any, budget: Budget) -> dict[str, StageSpec]:
        """The shared pretrained stages this method uses on ``train`` (name -> spec); the
        caller trains or loads each once per dataset and hands them to :meth:`fit`."""
        return {}

    def stage_arrays(self, view: Any) -> dict[str, Any]:
        """The arrays a shared stage trains on (what :meth:`fit` trains on, ``{"pair": ...}``)."""
        return self._arrays(view)

    def _check_split(self, view: Any, split: str) -> None:
        """Raise a :class:`CrlbenchError` unless ``view`` is a split of the method's mode."""
        raise NotImplementedError

    def _shapes(self, train: Any, val: Any) -> tuple[tuple[int, ...], int]:
        """Torch observation shape and number of causal variables of checked splits."""
        raise NotImplementedError

    def _arrays(self, view: Any) -> dict[str, Any]:
        """Name -> array (sample axis first) the loop draws batches from."""
        raise NotImplementedError

    def _fit_arrays(self, train: Any, val: Any) -> tuple[dict[str, Any], dict[str, Any] | None]:
        """Training and validation arrays of :meth:`fit` (may use :attr:`stages`)."""
        return self._arrays(train), self._arrays(val) if val is not None else None

    def _train(
        self, train: dict[str, Any], val: dict[str, Any] | None, budget: Budget, seed: int, loop: LoopConfig, workdir: Path | None
    ) -> TrainResult:
        """One run of the shared loop on the module (CITRIS-NF overrides it with two stages)."""
        assert self.module is not None
        return fit_module(self.module, train, val, budget=budget, seed=seed, config=loop, workdir=workdir)

    def _after_fit(self, train: Any, val: Any) -> None:
        """Work on the trained module in eval mode (the pairs methods learn their graph)."""

    # --- the contract ----------------------------------------------------------------------
    def config(self) -> dict[str, Any]:
        """Everything that defines this method instance (written to the run's config.json)."""
        return {"method": self.name, "hparams": self.hparams, "loop": asdict(self.loop)}

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
        """Train on ``train``, select on ``val``; ``workdir`` makes the run resumable
        (checkpoints, log); ``stages`` are trained shared stages (:meth:`shared_stages`)."""
        self._check_split(train, "train")
        if val is not None:
            self._check_split(val, "val")
        self.obs_shape, self.n_vars = self._shapes(train, val)
        loop = self.loop if progress is None else replace(self.loop, progress=progress)
        self.device = resolve_device(loop.device)
        self.stages = dict(stages or {})
        train_arrays, val_arrays = self._fit_arrays(train, val)
        torch.manual_seed(seed)
        self.module = self.build(self.obs_shape, self.n_vars)
        self.result = self._train(
            train_arrays,
            val_arrays,
            Budget.parse(budget if budget is not None else self.default_budget),
            seed,
            loop,
            Path(workdir) if workdir is not None else None,
        )
        self.module.eval()
        self._after_fit(train, val)
        return self.result

    # --- helpers ---------------------------------------------------------------------------
    def _check_ready(self) -> nn.Module:
        if self.module is None:
            raise CrlbenchError(f"{self.name}: call fit before encode, decode or infer_targets")
        return self.module

    def _map(self, fn: Any, x: Any) -> np.ndarray:
        """``fn`` on batches of observations ``(N, ...)`` -> float64 ``(N, ...)``."""
        self._check_ready().eval()
        outs = []
        with torch.no_grad():
            for s in range(0, len(x), self.map_batch):
                t = to_tensor(np.asarray(x[s : s + self.map_batch]), (-1.0, 1.0)).to(self.device)
                outs.append(fn(t).cpu().numpy())
        return np.concatenate(outs).astype(np.float64)
