"""Shared encoding stages: an image autoencoder trained once per (dataset, settings), cached.

The reference pipelines put a pretrained stage between the images and the causal model:
CITRIS-NF trains its flow on the encodings of a pretrained autoencoder, and ILCM's
CausalCircuit workflow first reduces the images to 8 dimensions with a weakly supervised
VAE, then trains ILCM and its baselines on those encodings. The stage does not depend on
the causal model's seed, so crlbench trains it once per dataset version and settings and
every run, seed and method that declares it reuses it.

A stage is named by a :class:`StageSpec` (its kind from :data:`STAGE_KINDS` and its
settings). Its **key** is the sha256 of the canonical JSON of kind, settings and the
dataset's spec hash; the trained weights are saved under the dataset's folder as
``<dataset id>-<spec hash[:12]>.<kind>-<key[:12]>.stage.pt`` (with their own sha256, as the
causal encoder of the triplet metric is), and a run that used a stage writes its key and
weights' sha256 into its ``config.json`` (``stages``), from which records carry it.

Kinds (:data:`STAGE_KINDS`):

- ``"citris-ae"``: CITRIS-NF's deterministic autoencoder on single frames
  (:class:`crlbench.baselines.citris_nf.Autoencoder`: the shared conv encoder / decoder,
  Gaussian noise of std ``latent_noise`` on the encodings while training);
- ``"reduce-dim"``: a weakly supervised VAE on the pairs (ILCM's noise VAE without
  cross-variable inputs, :class:`crlbench.baselines.ilcm.ILCMModule` with ``cross=False``;
  8 latents and 32 conv channels as the reference's ``causalcircuit_reduce_dim`` model);
  the encoding of an image is its posterior mean.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from crlbench.baselines.contract import Budget
from crlbench.baselines.loop import LoopConfig, TrainResult, fit_module, resolve_device, used_precision
from crlbench.baselines.precision import resolve_precision
from crlbench.datasets.torch_adapter import from_tensor, to_tensor
from crlbench.errors import CrlbenchError
from crlbench.locks import exclusive

__all__ = [
    "STAGE_KINDS",
    "StageKind",
    "StageSpec",
    "EncodingStage",
    "train_stage",
    "load_or_train_stage",
    "stage_path",
    "stage_spec",
    "state_sha256",
]

#: Bumped when a stage's training changes, so old cached stages are not reused.
STAGE_VERSION = 1


@dataclass(frozen=True)
class StageKind:
    """How a kind of stage is built and read.

    Attributes:
        build: ``build(obs_shape, settings) -> nn.Module`` (a :class:`~crlbench.baselines.loop.Trainable`
            on ``{"pair": (B, 2, ...)}`` batches).
        encoder: ``encoder(module) -> nn.Module`` mapping images ``(B, 3, H, W)`` to ``(B, M)``.
        decoder: ``decoder(module) -> nn.Module`` mapping ``(B, M)`` to images in [-1, 1].
        description: One line for docs and errors.
        defaults: Default settings.
        loop: Default loop settings (a run's batch size, device, threads, precision and
            compile replace these, see :func:`stage_spec`).
    """

    build: Callable[[tuple[int, ...], Mapping[str, Any]], nn.Module]
    encoder: Callable[[nn.Module], nn.Module]
    decoder: Callable[[nn.Module], nn.Module]
    description: str
    defaults: Mapping[str, Any] = field(default_factory=dict)
    loop: LoopConfig = field(default_factory=LoopConfig)


class _PosteriorMean(nn.Module):
    """The mean half ``(B, M)`` of a Gaussian encoder's ``(B, 2M)`` output."""

    def __init__(self, encoder: nn.Module) -> None:
        super().__init__()
        self.encoder = encoder

    def forward(self, x: Tensor) -> Tensor:
        return self.encoder(x).chunk(2, dim=-1)[0]


def _citris_ae(obs_shape: tuple[int, ...], s: Mapping[str, Any]) -> nn.Module:
    from crlbench.baselines.citris_nf import Autoencoder  # noqa: PLC0415

    return Autoencoder(obs_shape, int(s["n_latents"]), channels=int(s["channels"]), latent_noise=float(s["latent_noise"]))


def _reduce_dim(obs_shape: tuple[int, ...], s: Mapping[str, Any]) -> nn.Module:
    from crlbench.baselines.ilcm import ILCMModule  # noqa: PLC0415

    return ILCMModule(obs_shape, int(s["n_latents"]), cross=False, channels=int(s["channels"]))


#: The kinds of shared stage: name -> :class:`StageKind`.
STAGE_KINDS: dict[str, StageKind] = {
    "citris-ae": StageKind(
        _citris_ae,
        lambda m: m.get_submodule("encoder"),
        lambda m: m.get_submodule("decoder"),
        "CITRIS-NF's autoencoder on single frames",
        defaults={"n_latents": 32, "channels": 64, "latent_noise": 0.05},
        loop=LoopConfig(batch_size=256, lr=5e-4, optimizer="adam", schedule="cosine_warmup", warmup=0.05),
    ),
    "reduce-dim": StageKind(
        _reduce_dim,
        lambda m: _PosteriorMean(m.get_submodule("encoder")),
        lambda m: m.get_submodule("decoder"),
        "weakly supervised VAE on pairs (ILCM's reduce-dim step)",
        defaults={"n_latents": 8, "channels": 32},
        loop=LoopConfig(batch_size=32, lr=1e-4, optimizer="adam", schedule="cosine", grad_clip=100.0),
    ),
}


@dataclass(frozen=True)
class StageSpec:
    """A stage to train: its kind, its settings, and the loop and budget it trains with.

    Attributes:
        kind: A key of :data:`STAGE_KINDS`.
        settings: The kind's hyperparameters (``n_latents``, ``channels``...).
        budget: Training length (:class:`~crlbench.baselines.contract.Budget` text).
        loop: Loop settings (device, threads and progress do not change the weights and
            are left out of the key).
        seed: Training seed (shared stages use 0: they are the same for every run's seed).
    """

    kind: str
    settings: Mapping[str, Any]
    budget: str
    loop: LoopConfig = field(default_factory=LoopConfig)
    seed: int = 0

    def __post_init__(self) -> None:
        if self.kind not in STAGE_KINDS:
            raise CrlbenchError(f"unknown stage kind {self.kind!r}; known: {', '.join(STAGE_KINDS)}")

    def identity(self, dataset_hash: str, precision: str) -> dict[str, Any]:
        """What the weights depend on (the key's JSON)."""
        loop = asdict(self.loop)
        for k in ("device", "threads", "progress", "compile"):
            loop.pop(k)
        loop["precision"] = precision  # the precision used: "auto" differs between machines
        return {
            "stage_version": STAGE_VERSION,
            "kind": self.kind,
            "settings": dict(self.settings),
            "budget": str(Budget.parse(self.budget)),
            "loop": loop,
            "seed": self.seed,
            "dataset_hash": dataset_hash,
        }

    def key(self, dataset_hash: str, precision: str) -> str:
        """sha256 of :meth:`identity` as canonical JSON."""
        text = json.dumps(self.identity(dataset_hash, precision), sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256(text.encode()).hexdigest()


def stage_spec(kind: str, *, budget: Budget | str, run_loop: LoopConfig, settings: Mapping[str, Any] | None = None) -> StageSpec:
    """The shared stage ``kind`` for a run with loop ``run_loop``: the kind's default settings
    and loop, with the run's batch size (a track's protocol fixes it for every method, so
    the methods of a track share the stage), device, threads, precision and compile.

    Raises:
        CrlbenchError: an unknown kind or setting.
    """
    if kind not in STAGE_KINDS:
        raise CrlbenchError(f"unknown stage kind {kind!r}; known: {', '.join(STAGE_KINDS)}")
    k = STAGE_KINDS[kind]
    unknown = set(settings or {}) - set(k.defaults)
    if unknown:
        raise CrlbenchError(f"stage {kind}: unknown settings {sorted(unknown)}; known: {sorted(k.defaults)}")
    loop = replace(
        k.loop,
        batch_size=run_loop.batch_size,
        device=run_loop.device,
        threads=run_loop.threads,
        precision=run_loop.precision,
        compile=run_loop.compile,
        progress=run_loop.progress,
    )
    return StageSpec(kind, {**k.defaults, **(settings or {})}, str(Budget.parse(budget)), loop)


def state_sha256(module: nn.Module) -> str:
    """sha256 over a module's state-dict tensors in key order (layout independent)."""
    h = hashlib.sha256()
    for key, value in module.state_dict().items():
        h.update(key.encode())
        h.update(value.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


class EncodingStage:
    """A trained stage: images ``(N, H, W, 3)`` uint8 <-> encodings ``(N, M)``.

    Attributes:
        spec: What was trained.
        key: The stage's key (sha256 of spec and dataset hash).
        module: The trained network (eval mode, frozen).
        encoder: ``(B, 3, H, W)`` -> ``(B, M)``.
        decoder: ``(B, M)`` -> ``(B, 3, H, W)`` in [-1, 1].
        weights_sha256: sha256 of the trained weights.
        path: Where it is cached (``None``: not cached).
        result: The training result when it was trained in this process.
    """

    def __init__(
        self, spec: StageSpec, key: str, module: nn.Module, *, path: Path | None = None, result: TrainResult | None = None
    ) -> None:
        kind = STAGE_KINDS[spec.kind]
        self.spec, self.key, self.module, self.path, self.result = spec, key, module.eval(), path, result
        for p in module.parameters():
            p.requires_grad_(False)
        self.encoder, self.decoder = kind.encoder(module), kind.decoder(module)
        self.weights_sha256 = state_sha256(module)

    @property
    def device(self) -> torch.device:
        return next(self.module.parameters()).device

    def provenance(self) -> dict[str, Any]:
        """What a run records of the stage it used."""
        return {
            "kind": self.spec.kind,
            "key": self.key,
            "weights_sha256": self.weights_sha256,
            "path": str(self.path) if self.path else None,
        }

    @torch.no_grad()
    def encode(self, images: Any, *, batch: int = 512) -> np.ndarray:
        """``(N, H, W, 3)`` uint8 (array or lazy HDF5) -> ``(N, M)`` float32 encodings."""
        out = []
        for s in range(0, len(images), batch):
            x = to_tensor(np.asarray(images[s : s + batch]), (-1.0, 1.0)).to(self.device)
            out.append(self.encoder(x).float().cpu().numpy())
        return np.concatenate(out).astype(np.float32)

    def encode_pairs(self, pairs: Any, *, batch: int = 256) -> np.ndarray:
        """``(N, 2, H, W, 3)`` uint8 -> ``(N, 2, M)`` float32."""
        out = []
        for s in range(0, len(pairs), batch):
            p = np.asarray(pairs[s : s + batch])
            out.append(self.encode(p.reshape(-1, *p.shape[2:]), batch=2 * batch).reshape(len(p), 2, -1))
        return np.concatenate(out)

    @torch.no_grad()
    def decode(self, z: np.ndarray, *, batch: int = 512) -> np.ndarray:
        """``(N, M)`` encodings -> ``(N, H, W, 3)`` uint8 images."""
        z = np.asarray(z, dtype=np.float32)
        return np.concatenate(
            [from_tensor(self.decoder(torch.as_tensor(z[s : s + batch], device=self.device))) for s in range(0, len(z), batch)]
        )


def _image_shape(pair: Any) -> tuple[int, ...]:
    shape = tuple(pair.shape[2:])
    if getattr(pair, "dtype", None) != np.uint8 or len(shape) != 3 or shape[-1] != 3:
        raise CrlbenchError(
            f"an encoding stage trains on uint8 image pairs (N, 2, H, W, 3); got {tuple(pair.shape)} {getattr(pair, 'dtype', '')}"
        )
    return (3, shape[0], shape[1])


def train_stage(
    spec: StageSpec,
    train: Mapping[str, Any],
    val: Mapping[str, Any] | None,
    *,
    key: str = "",
    workdir: str | Path | None = None,
    progress: bool | None = None,
) -> EncodingStage:
    """Train a stage on ``{"pair": (N, 2, H, W, 3)}`` arrays (both images of every pair or
    window); ``workdir`` makes it resumable. Nothing is cached: see :func:`load_or_train_stage`."""
    obs_shape = _image_shape(train["pair"])
    loop = spec.loop if progress is None else replace(spec.loop, progress=progress)
    with torch.random.fork_rng(devices=[]):  # the stage's init depends on its own seed only
        torch.manual_seed(spec.seed)
        module = STAGE_KINDS[spec.kind].build(obs_shape, spec.settings)
        result = fit_module(
            module,
            {"pair": train["pair"]},
            {"pair": val["pair"]} if val is not None else None,
            budget=spec.budget,
            seed=spec.seed,
            config=loop,
            workdir=workdir,
        )
    return EncodingStage(spec, key, module, result=result)


def stage_path(folder: str | Path, dataset_id: str, dataset_hash: str, kind: str, key: str) -> Path:
    """``<folder>/<dataset id>-<hash[:12]>.<kind>-<key[:12]>.stage.pt``."""
    return Path(folder) / f"{dataset_id}-{dataset_hash[:12]}.{kind}-{key[:12]}.stage.pt"


def load_or_train_stage(
    spec: StageSpec,
    *,
    dataset_id: str,
    dataset_hash: str,
    folder: str | Path,
    data: Callable[[], tuple[Mapping[str, Any], Mapping[str, Any] | None]],
    progress: bool | None = None,
) -> EncodingStage:
    """The cached stage of ``spec`` for this dataset version, trained and saved on first use.

    Args:
        spec: The stage.
        dataset_id: Dataset id (names the file).
        dataset_hash: The dataset's spec hash (part of the key).
        folder: Cache folder (the dataset's folder under the data root).
        data: ``() -> (train, val)`` arrays ``{"pair": ...}``, called only to train.
        progress: Progress bar while training.

    Returns:
        The stage, with ``path`` set.

    Raises:
        CrlbenchError: a cached file whose key does not match its name (corrupt or edited).

    Processes asking for the same stage at once: one trains it (holding a lock beside the
    file, :mod:`crlbench.locks`), the others wait and load it.
    """
    device = resolve_device(spec.loop.device)
    precision = resolve_precision(spec.loop.precision, device).name  # stages are conv networks
    key = spec.key(dataset_hash, precision)
    path = stage_path(folder, dataset_id, dataset_hash, spec.kind, key)

    def load() -> EncodingStage:
        rec = torch.load(path, map_location=device, weights_only=False)
        if rec.get("key") != key:
            raise CrlbenchError(f"{path} holds stage {str(rec.get('key'))[:12]}, not {key[:12]}; delete it to retrain")
        module = STAGE_KINDS[spec.kind].build(tuple(rec["obs_shape"]), spec.settings)
        module.load_state_dict(rec["state_dict"])
        used_precision(module, spec.loop.precision, device)
        return EncodingStage(spec, key, module.to(device), path=path)

    if path.exists():
        return load()
    path.parent.mkdir(parents=True, exist_ok=True)
    # Sweep workers starting side by side: one trains, the others wait for it and load.
    with exclusive(path, wait=True):
        if path.exists():
            return load()
        return _train_and_save(spec, key, path, dataset_hash, precision, data, progress)


def _train_and_save(
    spec: StageSpec,
    key: str,
    path: Path,
    dataset_hash: str,
    precision: str,
    data: Callable[[], tuple[Mapping[str, Any], Mapping[str, Any] | None]],
    progress: bool | None,
) -> EncodingStage:
    train, val = data()
    work = path.with_name(path.name[: -len(".pt")] + ".work")  # resumable if killed
    stage = train_stage(spec, train, val, key=key, workdir=work, progress=progress)
    rec = {
        "key": key,
        "identity": spec.identity(dataset_hash, precision),
        "obs_shape": _image_shape(train["pair"]),
        "state_dict": {k: v.cpu() for k, v in stage.module.state_dict().items()},
        "weights_sha256": stage.weights_sha256,
    }
    buf = io.BytesIO()
    torch.save(rec, buf)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(buf.getvalue())
    tmp.replace(path)
    stage.path = path
    return stage
