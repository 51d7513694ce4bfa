"""The one training loop every baseline uses (no training framework; see docs/training.md).

A method hands :func:`fit_module` a :class:`Trainable` module (an ``nn.Module`` with a
``training_loss`` and a ``validation_loss``), the training and validation arrays, a
:class:`~crlbench.baselines.contract.Budget`, a seed and a :class:`LoopConfig`. The loop:

- draws batches in an order fixed by ``(seed, epoch)``, so a resumed run sees the batches
  an uninterrupted one would have seen;
- steps Adam or AdamW with the learning-rate schedule the method asks for (stateless in the
  step, so resuming needs no scheduler state) and clips the gradient norm;
- every ``val_every`` steps evaluates the method's *own* unsupervised loss on the
  validation split (model selection never sees ground truth), saves the best weights to
  ``best.pt`` and a resumable ``checkpoint.pt`` (model, optimiser, RNG state, log), both
  written atomically, and rewrites ``log.json``;
- stops on a non-finite loss with :class:`TrainingDiverged`, naming the step and the last
  good checkpoint;
- resumes from ``checkpoint.pt`` when called again on the same work folder (a killed run
  loses at most ``val_every`` steps and then continues bit-identically on CPU);
- runs the module's conv networks at the configured precision
  (:mod:`crlbench.baselines.precision`: bf16 autocast on AMX CPUs and GPUs, fp16 with a
  gradient scaler on GPUs without bf16) and, with ``compile``, through ``torch.compile``.

The module learns how far training has got through ``progress`` in [0, 1] (step / total),
which is how phased methods (ILCM) schedule their phases without any loop-side state.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol, cast, runtime_checkable

import numpy as np
import torch
from torch import Tensor, nn

from crlbench.baselines.contract import Budget
from crlbench.baselines.precision import PRECISIONS, Precision, configure, resolve_precision
from crlbench.datasets.torch_adapter import to_tensor
from crlbench.errors import CrlbenchError

__all__ = [
    "LoopConfig",
    "Trainable",
    "Batches",
    "TrainResult",
    "TrainingDiverged",
    "fit_module",
    "resolve_device",
    "used_precision",
    "lr_factor",
]

SCHEDULES = ("constant", "cosine", "cosine_warmup", "linear_warmup")
OPTIMIZERS = ("adam", "adamw")


class TrainingDiverged(CrlbenchError):
    """The loss became NaN or infinite; the message names the step and the last checkpoint."""


@runtime_checkable
class Trainable(Protocol):
    """What the loop trains: an ``nn.Module`` with these two methods.

    ``training_loss(batch, progress)`` returns the scalar loss to minimise and a dict of
    floats to log; ``validation_loss(batch)`` returns a dict of floats whose ``"loss"`` is
    the unsupervised selection criterion (it must not depend on ``progress``, so that
    validations at different steps compare).
    """

    def training_loss(self, batch: dict[str, Tensor], progress: float) -> tuple[Tensor, dict[str, float]]: ...

    def validation_loss(self, batch: dict[str, Tensor]) -> dict[str, float]: ...


@dataclass(frozen=True)
class LoopConfig:
    """Optimisation settings a method asks for (every field is recorded in the run config).

    Attributes:
        batch_size: Training batch size.
        lr: Peak learning rate.
        optimizer: ``"adam"`` or ``"adamw"``.
        weight_decay: Decoupled (AdamW) or L2 (Adam) weight decay.
        schedule: ``"constant"``, ``"cosine"`` (to 0), ``"cosine_warmup"`` or
            ``"linear_warmup"`` (linear warm-up then constant).
        warmup: Warm-up length as a fraction of the budget.
        grad_clip: Max gradient norm (``None`` = no clipping).
        val_every: Steps between validations and checkpoints (default: one epoch, at most
            a tenth of the budget).
        val_batch_size: Batch size for validation.
        select: ``"best"`` restores the weights of the lowest validation loss at the end,
            ``"last"`` keeps the final ones.
        select_after: Validations before this fraction of the budget are not candidates
            (phased methods whose early phases optimise another objective).
        device: ``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda"``, ``"cuda:1"``...
        threads: ``torch.set_num_threads`` for the run (``None`` = leave as is).
        precision: ``"auto"``, ``"fp32"``, ``"bf16"`` or ``"fp16"`` for the conv networks
            (:func:`~crlbench.baselines.precision.resolve_precision`).
        compile: ``torch.compile`` the conv networks' training forward (pays off after a
            few hundred steps, docs/benchmarks.md).
        progress: Show a progress bar.
    """

    batch_size: int = 64
    lr: float = 3e-4
    optimizer: str = "adam"
    weight_decay: float = 0.0
    schedule: str = "constant"
    warmup: float = 0.0
    grad_clip: float | None = 10.0
    val_every: int | None = None
    val_batch_size: int = 1024
    select: str = "best"
    select_after: float = 0.0
    device: str = "auto"
    threads: int | None = None
    precision: str = "auto"
    compile: bool = False
    progress: bool = True

    def __post_init__(self) -> None:
        if self.schedule not in SCHEDULES:
            raise CrlbenchError(f"schedule must be one of {SCHEDULES}, got {self.schedule!r}")
        if self.optimizer not in OPTIMIZERS:
            raise CrlbenchError(f"optimizer must be one of {OPTIMIZERS}, got {self.optimizer!r}")
        if self.select not in ("best", "last"):
            raise CrlbenchError(f"select must be 'best' or 'last', got {self.select!r}")
        if self.batch_size < 1 or self.lr <= 0:
            raise CrlbenchError("batch_size must be >= 1 and lr > 0")
        if self.precision not in PRECISIONS:
            raise CrlbenchError(f"precision must be one of {', '.join(PRECISIONS)}; got {self.precision!r}")


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` -> CUDA when available, else CPU; anything else as torch parses it."""
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise CrlbenchError(f"device {device!r} asked for, but CUDA is not available here; use --device cpu")
    return dev


def used_precision(module: nn.Module, requested: str, device: torch.device | str, *, compile: bool = False) -> Precision:
    """Resolve ``requested`` on ``device``, apply it to ``module``'s conv networks and return
    what the run uses: fp32 when the module has no network the precision applies to."""
    dev = torch.device(device)
    precision = resolve_precision(requested, dev)
    if not configure(module, precision, compile=compile):
        return Precision("fp32", dev.type)
    return precision


def lr_factor(schedule: str, step: int, total: int, warmup: float = 0.0) -> float:
    """Multiplier of the peak learning rate at ``step`` of ``total``."""
    n_warm = int(round(warmup * total))
    if schedule in ("cosine_warmup", "linear_warmup") and step < n_warm:
        return (step + 1) / n_warm
    if schedule == "cosine":
        return 0.5 * (1 + math.cos(math.pi * step / max(1, total)))
    if schedule == "cosine_warmup":
        return 0.5 * (1 + math.cos(math.pi * (step - n_warm) / max(1, total - n_warm)))
    return 1.0


class Batches:
    """Mini-batches of a dict of equally long arrays, in an order fixed by (seed, epoch).

    Vector arrays are turned into tensors once; uint8 images (numpy or lazy HDF5 arrays)
    are read and converted per batch, as float32 ``(..., 3, H, W)`` in [-1, 1].

    Args:
        arrays: Name -> array with the sample axis first.
        batch_size: Samples per batch; the last incomplete batch of an epoch is dropped
            when shuffling (unless the split is smaller than one batch).
        device: Where batches go.
    """

    def __init__(self, arrays: Mapping[str, Any], batch_size: int, device: torch.device | str = "cpu") -> None:
        lengths = {k: len(v) for k, v in arrays.items()}
        if len(set(lengths.values())) != 1:
            raise CrlbenchError(f"arrays must have the same length, got {lengths}")
        self.n = next(iter(lengths.values()))
        if self.n == 0:
            raise CrlbenchError("cannot train on an empty split")
        self.batch_size = min(batch_size, self.n)
        self.device = torch.device(device)
        self.arrays: dict[str, Any] = {}
        for k, v in arrays.items():
            if _is_image_array(v):
                self.arrays[k] = v  # converted per batch
            else:
                self.arrays[k] = torch.as_tensor(np.asarray(v, dtype=np.float32))

    @property
    def steps_per_epoch(self) -> int:
        return max(1, self.n // self.batch_size)

    def _take(self, idx: np.ndarray) -> dict[str, Tensor]:
        out = {}
        for k, a in self.arrays.items():
            if isinstance(a, Tensor):
                out[k] = a[torch.from_numpy(idx)].to(self.device, non_blocking=True)
            else:
                order = np.argsort(idx)  # HDF5 wants increasing indices
                raw = np.asarray(a[idx[order]])
                raw = raw[np.argsort(order)]
                out[k] = to_tensor(raw, (-1.0, 1.0)).to(self.device, non_blocking=True)
        return out

    def epoch(self, seed: int, epoch: int, start: int = 0) -> Iterator[dict[str, Tensor]]:
        """Shuffled batches of epoch ``epoch``, from batch ``start`` on."""
        perm = np.random.default_rng([seed, epoch]).permutation(self.n)
        for b in range(start, self.steps_per_epoch):
            yield self._take(perm[b * self.batch_size : (b + 1) * self.batch_size])

    def ordered(self, batch_size: int | None = None) -> Iterator[dict[str, Tensor]]:
        """All samples in order (validation, encoding)."""
        bs = batch_size or self.batch_size
        for s in range(0, self.n, bs):
            yield self._take(np.arange(s, min(s + bs, self.n)))


def _is_image_array(a: Any) -> bool:
    return getattr(a, "dtype", None) == np.uint8 and len(getattr(a, "shape", ())) >= 3 and a.shape[-1] == 3


@dataclass
class TrainResult:
    """What a finished :func:`fit_module` call reports."""

    steps: int
    best_step: int | None
    best_val: float | None
    wall_s: float
    resumed_from: int | None = None
    log: dict[str, Any] = field(default_factory=dict)


def _atomic_save(obj: Any, path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def _atomic_json(obj: Any, path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(obj, indent=1, default=_json_default))
    os.replace(tmp, path)


def _json_default(o: Any) -> Any:
    if isinstance(o, (np.floating, np.integer)):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"not JSON serialisable: {type(o)}")


def _validate(module: nn.Module, val: Batches, batch_size: int, seed: int) -> dict[str, float]:
    module.eval()
    sums: dict[str, float] = {}
    with torch.no_grad(), torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)  # the same sampling noise at every validation
        for batch in val.ordered(batch_size):
            n = len(next(iter(batch.values())))
            for k, v in cast(Trainable, module).validation_loss(batch).items():
                sums[k] = sums.get(k, 0.0) + float(v) * n
    module.train()
    return {k: v / val.n for k, v in sums.items()}


@dataclass
class _RunState:
    """What a run carries from step to step and stores in ``checkpoint.pt``."""

    log: dict[str, Any]
    step: int = 0
    best_val: float = math.inf
    best_step: int | None = None
    best_state: dict[str, Tensor] | None = None
    resumed_from: int | None = None
    wall_before: float = 0.0
    #: ``(checkpoint path, step)`` of the last checkpoint written, named when a run diverges.
    last_good: tuple[str, int] | None = None
    acc: dict[str, float] = field(default_factory=dict)
    n_acc: int = 0

    def last_good_text(self) -> str:
        return f"{self.last_good[0]} (step {self.last_good[1]})" if self.last_good else "none (no checkpoint saved yet)"


@dataclass
class _Optimisation:
    """The optimiser side of a run: parameters, optimiser and gradient scaler."""

    params: list[nn.Parameter]
    optimizer: torch.optim.Optimizer
    scaler: torch.amp.GradScaler


def _fingerprint(budget: Budget, seed: int, config: LoopConfig, n_train: int, precision: Precision) -> dict[str, Any]:
    """What a checkpoint must match to be resumed (settings that do not change the result left out)."""
    fingerprint: dict[str, Any] = {"budget": str(budget), "seed": seed, "config": asdict(config), "n_train": n_train}
    for key in ("progress", "device", "threads"):
        fingerprint["config"].pop(key)
    fingerprint["precision_used"] = precision.name  # "auto" is bf16 on one machine, fp32 on another
    return fingerprint


def _resume(work: Path, module: nn.Module, opt: _Optimisation, state: _RunState, device: torch.device) -> None:
    """Load ``work/checkpoint.pt`` (and ``best.pt``) into ``module``, ``opt`` and ``state``.

    Raises:
        CrlbenchError: the checkpoint's fingerprint differs from ``state.log``'s.
    """
    ckpt_path, best_path = work / "checkpoint.pt", work / "best.pt"
    ck = torch.load(ckpt_path, map_location=device, weights_only=False)
    if ck["log"]["fingerprint"] != json.loads(json.dumps(state.log["fingerprint"])):
        raise CrlbenchError(
            f"{work} holds a checkpoint of another configuration ({ck['log']['fingerprint']}); use a new run folder or delete it"
        )
    module.load_state_dict(ck["model"])
    opt.optimizer.load_state_dict(ck["optimizer"])
    if "scaler" in ck:
        opt.scaler.load_state_dict(ck["scaler"])
    torch.set_rng_state(ck["rng"])
    state.step, state.best_val, state.best_step, state.log = ck["step"], ck["best_val"], ck["best_step"], ck["log"]
    state.wall_before = state.log.get("wall_s", 0.0)
    state.resumed_from = state.step
    state.log.setdefault("resumed_at", []).append(state.step)
    if best_path.exists():
        state.best_state = torch.load(best_path, map_location=device, weights_only=True)
    state.last_good = (str(ckpt_path), state.step)


def _train_step(
    module: nn.Module, batch: dict[str, Tensor], opt: _Optimisation, state: _RunState, config: LoopConfig, total: int, log_path: Path | None
) -> dict[str, float]:
    """One optimiser step on ``batch`` at ``state.step``; returns the step's logs (``"loss"`` first).

    Raises:
        TrainingDiverged: a non-finite loss (``log.json`` records where).
    """
    step = state.step
    for g in opt.optimizer.param_groups:
        g["lr"] = config.lr * lr_factor(config.schedule, step, total, config.warmup)
    loss, logs = cast(Trainable, module).training_loss(batch, step / total)
    value = float(loss.detach())
    if not math.isfinite(value):
        state.log["status"] = "diverged"
        state.log["diverged_at"] = step
        if log_path is not None:
            _atomic_json(state.log, log_path)
        raise TrainingDiverged(
            f"loss became {value} at step {step}; last good checkpoint: {state.last_good_text()}. "
            "Lower the learning rate or tighten gradient clipping and run again from a new folder."
        )
    opt.optimizer.zero_grad(set_to_none=True)
    opt.scaler.scale(loss).backward()
    if config.grad_clip is not None:
        opt.scaler.unscale_(opt.optimizer)
        logs["grad_norm"] = float(nn.utils.clip_grad_norm_(opt.params, config.grad_clip))
    opt.scaler.step(opt.optimizer)
    opt.scaler.update()
    state.step += 1
    logs = {"loss": value, **logs}
    for k, v in logs.items():
        state.acc[k] = state.acc.get(k, 0.0) + float(v)
    state.n_acc += 1
    return logs


def _validate_and_checkpoint(
    module: nn.Module,
    val: Batches | None,
    opt: _Optimisation,
    state: _RunState,
    config: LoopConfig,
    *,
    seed: int,
    total: int,
    work: Path | None,
    t0: float,
    bar: Any,
) -> None:
    """Log the mean training losses since the last call, validate, keep the best weights
    (``best.pt``) and write ``checkpoint.pt`` and ``log.json`` when there is a work folder.

    Raises:
        TrainingDiverged: a non-finite validation loss.
    """
    step, log = state.step, state.log
    entry = {"step": step, "lr": opt.optimizer.param_groups[0]["lr"], **{k: v / state.n_acc for k, v in state.acc.items()}}
    log["train"].append(entry)
    state.acc, state.n_acc = {}, 0
    if val is not None:
        v = _validate(module, val, config.val_batch_size, seed)
        log["val"].append({"step": step, **v})
        if not math.isfinite(v["loss"]):
            where = f"{state.last_good[0]} (step {state.last_good[1]})" if state.last_good else "none"
            raise TrainingDiverged(f"validation loss became {v['loss']} at step {step}; last good checkpoint: {where}")
        if step >= config.select_after * total and v["loss"] < state.best_val:
            state.best_val, state.best_step = v["loss"], step
            state.best_state = {k: t.detach().clone() for k, t in module.state_dict().items()}
            if work is not None:
                _atomic_save(state.best_state, work / "best.pt")
        bar.set_postfix(loss=f"{entry['loss']:.4g}", val=f"{v['loss']:.4g}")
    log["wall_s"] = state.wall_before + time.perf_counter() - t0
    if work is not None:
        ckpt_path = work / "checkpoint.pt"
        _atomic_save(
            {
                "model": module.state_dict(),
                "optimizer": opt.optimizer.state_dict(),
                "scaler": opt.scaler.state_dict(),
                "rng": torch.get_rng_state(),
                "step": step,
                "best_val": state.best_val,
                "best_step": state.best_step,
                "log": log,
            },
            ckpt_path,
        )
        _atomic_json(log, work / "log.json")
        state.last_good = (str(ckpt_path), step)


def fit_module(
    module: nn.Module,
    train: Mapping[str, Any],
    val: Mapping[str, Any] | None,
    *,
    budget: Budget | str | int,
    seed: int,
    config: LoopConfig = LoopConfig(),
    workdir: str | Path | None = None,
    on_step: Callable[[int, dict[str, float]], None] | None = None,
) -> TrainResult:
    """Train ``module`` in place; resume from ``workdir/checkpoint.pt`` when there is one.

    Args:
        module: A :class:`Trainable` ``nn.Module``.
        train: Name -> array (sample axis first) for training batches.
        val: Same for validation, or ``None`` (then selection keeps the last weights).
        budget: Epochs or steps (:class:`Budget` or its text form).
        seed: Seeds initial weights' use of randomness, batch order and sampling.
        config: Optimisation settings.
        workdir: Folder for ``checkpoint.pt``, ``best.pt`` and ``log.json``; ``None`` trains
            without checkpoints.
        on_step: Called as ``on_step(step, logs)`` after every optimiser step (tests,
            custom monitoring); an exception it raises stops the run like a kill.

    Returns:
        A :class:`TrainResult`.

    Raises:
        TrainingDiverged: a non-finite loss.
        CrlbenchError: a checkpoint from a different configuration in ``workdir``.
    """
    if not isinstance(module, Trainable):
        raise CrlbenchError(f"{type(module).__name__} needs training_loss and validation_loss methods")
    budget = Budget.parse(budget)
    device = resolve_device(config.device)
    if config.threads:
        torch.set_num_threads(config.threads)
    module.to(device)
    precision = used_precision(module, config.precision, device, compile=config.compile)
    train_b = Batches(train, config.batch_size, device)
    val_b = Batches(val, config.val_batch_size, device) if val is not None else None
    total = budget.total_steps(train_b.steps_per_epoch)
    val_every = config.val_every or max(1, min(train_b.steps_per_epoch, total // 10))
    params = [p for p in module.parameters() if p.requires_grad]
    opt_cls = torch.optim.AdamW if config.optimizer == "adamw" else torch.optim.Adam
    optimizer = opt_cls(params, lr=config.lr, weight_decay=config.weight_decay)
    opt = _Optimisation(params, optimizer, torch.amp.GradScaler(device.type, enabled=precision.needs_scaler))
    log: dict[str, Any] = {
        "fingerprint": _fingerprint(budget, seed, config, train_b.n, precision),
        "total_steps": total,
        "train": [],
        "val": [],
        "status": "running",
        "precision": {
            "requested": config.precision,
            "used": precision.name,
            "channels_last": precision.channels_last,
            "compiled": config.compile,
        },
    }
    state = _RunState(log=log)
    work = Path(workdir) if workdir is not None else None
    log_path = work / "log.json" if work is not None else None
    if work is not None:
        work.mkdir(parents=True, exist_ok=True)
        if (work / "checkpoint.pt").exists():
            _resume(work, module, opt, state, device)
    if state.resumed_from is None:
        torch.manual_seed(seed)

    t0 = time.perf_counter()
    bar = _progress_bar(total, state.step, config.progress)
    module.train()
    try:
        while state.step < total:
            epoch, start = divmod(state.step, train_b.steps_per_epoch)
            for batch in train_b.epoch(seed, epoch, start):
                logs = _train_step(module, batch, opt, state, config, total, log_path)
                bar.update(1)
                if on_step is not None:
                    on_step(state.step, logs)
                if state.step % val_every == 0 or state.step == total:
                    _validate_and_checkpoint(module, val_b, opt, state, config, seed=seed, total=total, work=work, t0=t0, bar=bar)
                if state.step >= total:
                    break
    finally:
        bar.close()

    if config.select == "best" and state.best_state is not None:
        module.load_state_dict(state.best_state)
    log = state.log
    best_val = state.best_val if math.isfinite(state.best_val) else None
    log["status"] = "done"
    log["best"] = {"step": state.best_step, "val_loss": best_val}
    log["wall_s"] = state.wall_before + time.perf_counter() - t0
    if log_path is not None:
        _atomic_json(log, log_path)
    return TrainResult(
        steps=state.step, best_step=state.best_step, best_val=best_val, wall_s=log["wall_s"], resumed_from=state.resumed_from, log=log
    )


def _progress_bar(total: int, initial: int, enabled: bool) -> Any:
    from tqdm.auto import tqdm  # noqa: PLC0415

    return tqdm(total=total, initial=initial, disable=not enabled, unit="step", dynamic_ncols=True, leave=False)
