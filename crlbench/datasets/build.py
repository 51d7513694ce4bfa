"""Spec -> HDF5: sample latents, render in resumable shards, assemble one file.

Generation has two phases.

1. *Latents* (parent process, cheap): for every split, the scene's mechanisms produce the
   latents, targets, noise and masks from random streams keyed by ``(seed, split, purpose)``.
   Nothing here depends on the number of workers or the shard size.
2. *Observations* (worker processes, expensive): the frames to render are cut into shards;
   each worker (an :mod:`crlbench.executors` worker: a local process or a Ray actor) builds
   the scene and one renderer, renders its shards and writes each one atomically to
   ``<out>.parts/``. A shard on disk is never redone, so killing generation
   and running the same command again resumes where it stopped.

The file is then assembled under a temporary name, its manifest written, ``complete`` set
last, and only then renamed to ``<dataset_id>.h5``: a file under its final name is always
complete.

One writer per output: the whole of :func:`generate` holds the output's lock
(:mod:`crlbench.locks`), so a second generation of the same file waits or stops with the
holder's name instead of writing into the first one's shards and temporary file. An
existing file is accepted as done only after its checks pass (stored spec, split sizes,
sha256 of every array against its manifest).
"""

from __future__ import annotations

import os
import shutil
import sys
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from crlbench.datasets import storage
from crlbench.datasets.card import write_card
from crlbench.datasets.spec import DatasetSpec
from crlbench.errors import CrlbenchError, DataFileError, OutputExistsError
from crlbench.executors import Executor, LocalExecutor
from crlbench.locks import exclusive, output_folder
from crlbench.registry import scene_class
from crlbench.simulators.base import Renderer, Scene
from crlbench.simulators.policies import sample_targets

__all__ = ["stream", "make_scene", "sample_split", "SplitLatents", "generate", "output_path"]

#: Frames per shard: the unit of parallel work and of resumption.
SHARD_FRAMES = {"image": 512, "vector": 1 << 15}


def stream(seed: int, *names: str) -> np.random.Generator:
    """An independent generator for ``(seed, *names)``, e.g. ``stream(0, "train", "noise")``.

    Keys are names (hashed with crc32), not positions, so adding a split or a purpose never
    changes the streams of the others.
    """
    key = tuple(zlib.crc32(n.encode()) for n in names)
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=key)))


def make_scene(spec: DatasetSpec) -> Scene:
    """Build the spec's scene from its structure stream (the same in every process)."""
    cls = scene_class(spec.scene)
    if cls.version != spec.scene_version:
        raise CrlbenchError(
            f"spec wants {spec.scene} v{spec.scene_version} but this crlbench has v{cls.version}; "
            "install the crlbench release that made the dataset, or regenerate it"
        )
    return cls(spec.params, stream(spec.seed, "structure"))


@dataclass
class SplitLatents:
    """Phase-1 output of one split.

    Args:
        arrays: Stored arrays (latents, targets, noise, mask) by name.
        frames: (F, D) states to render, in storage order.
        prefix: Leading shape of the observation array, e.g. ``(N, 2)`` for pairs.
    """

    arrays: dict[str, np.ndarray]
    frames: np.ndarray
    prefix: tuple[int, ...]


def _sequence(scene: Scene, spec: DatasetSpec, split: str, n: int) -> SplitLatents:
    k, d, e = len(scene.variables), scene.latent_dim, scene.noise_dim
    targets = sample_targets(spec.policy, stream(spec.seed, split, "targets"), n, k, spec.policy_params)
    if n:
        targets[0] = 0  # the first frame is the initial state, not an intervention
    latents, noise = np.zeros((n, d)), np.zeros((n, e))
    rng = stream(spec.seed, split, "noise")
    if n:
        latents[0] = scene.initial_state(stream(spec.seed, split, "initial"), 1)[0]
    for t in range(1, n):
        nxt, eps = scene.transition(latents[t - 1 : t], targets[t : t + 1], rng)
        latents[t], noise[t] = nxt[0], eps[0]
    return SplitLatents({"latents": latents, "targets": targets, "noise": noise}, latents, (n,))


def _pairs(scene: Scene, spec: DatasetSpec, split: str, n: int) -> SplitLatents:
    k = len(scene.variables)
    noise = scene.sample_noise(stream(spec.seed, split, "noise"), n)
    targets = sample_targets(spec.policy, stream(spec.seed, split, "targets"), n, k, spec.policy_params)
    values = scene.sample_intervention(stream(spec.seed, split, "values"), n)
    pre = scene.solve(noise, np.zeros_like(targets), values)
    post = scene.solve(noise, targets, values)  # counterfactual: same noise, do(targets)
    latents = np.stack([pre, post], axis=1)
    return SplitLatents({"latents": latents, "targets": targets, "noise": noise}, latents.reshape(2 * n, -1), (n, 2))


def _triplets(scene: Scene, spec: DatasetSpec, split: str, n: int) -> SplitLatents:
    k = len(scene.variables)
    if k < 2:
        raise CrlbenchError("triplets need at least 2 causal variables (the mask is neither all 0 nor all 1)")
    ab = scene.sample_independent(stream(spec.seed, split, "states"), 2 * n)
    a, b = ab[:n], ab[n:]
    rng = stream(spec.seed, split, "mask")
    mask = rng.random((n, k)) < 0.5
    bad = mask.all(axis=1) | ~mask.any(axis=1)
    while bad.any():  # resample rows until neither all 0 nor all 1 (CITRIS)
        mask[bad] = rng.random((int(bad.sum()), k)) < 0.5
        bad = mask.all(axis=1) | ~mask.any(axis=1)
    c = np.where(scene.expand(mask), b, a)  # mask 1: take the variable from the 2nd state
    latents = np.stack([a, b, c], axis=1)
    return SplitLatents({"latents": latents, "mask": mask.astype(np.uint8)}, latents.reshape(3 * n, -1), (n, 3))


def _states(scene: Scene, spec: DatasetSpec, split: str, n: int) -> SplitLatents:
    # Probe sets: pairs datasets use observational samples of the SCM (as ILCM's probe set);
    # sequence datasets use independent factors (as CITRIS' *_indep sets).
    if spec.mode == "pairs":
        noise = scene.sample_noise(stream(spec.seed, split, "noise"), n)
        k = len(scene.variables)
        latents = scene.solve(noise, np.zeros((n, k), np.uint8), np.zeros((n, scene.latent_dim)))
        return SplitLatents({"latents": latents, "noise": noise}, latents, (n,))
    latents = scene.sample_independent(stream(spec.seed, split, "states"), n)
    return SplitLatents({"latents": latents}, latents, (n,))


_SAMPLERS: dict[str, Callable[[Scene, DatasetSpec, str, int], SplitLatents]] = {
    "sequence": _sequence,
    "pairs": _pairs,
    "triplets": _triplets,
    "states": _states,
}


def sample_split(scene: Scene, spec: DatasetSpec, split: str) -> SplitLatents:
    """Phase 1 for one split: latents, targets, noise and masks, bit-identical per spec."""
    sl = _SAMPLERS[spec.split_kind(split)](scene, spec, split, spec.splits[split])
    sl.arrays["latents"] = sl.arrays["latents"].astype(np.float64)
    return sl


def render_seeds(spec: DatasetSpec, split: str, n_frames: int) -> np.ndarray:
    """(F,) uint64 per-frame render seeds of a split."""
    return stream(spec.seed, split, "render").integers(0, 2**63, size=n_frames, dtype=np.uint64)


# --- phase 2: sharded rendering ---------------------------------------------------------


def _setup_renderer(spec_json: str) -> Renderer:
    """Worker setup: the scene and one renderer, reused for every shard of the worker."""
    spec = DatasetSpec.from_json(spec_json)
    return make_scene(spec).renderer(spec.resolution, spec.render or None)


def _render_shard(render: Renderer, task: tuple[np.ndarray, np.ndarray, str]) -> int:
    frames, seeds, path = task
    _save_atomic(Path(path), render(frames, seeds))
    return len(frames)


def _save_atomic(path: Path, array: np.ndarray) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as fh:
        np.save(fh, array)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)  # a shard file either exists whole or not at all


def output_path(out_dir: str | Path, spec: DatasetSpec) -> Path:
    """``<out_dir>/<dataset_id>.h5``."""
    return Path(out_dir) / f"{spec.dataset_id}.h5"


def _check_existing(path: Path, parts: Path, spec: DatasetSpec, overwrite: bool) -> bool:
    """True when ``path`` already holds this spec, complete and intact; refuse or clear others.

    ``overwrite`` replaces a finished file (even of the same spec) and discards a partial
    run of another spec; a partial run of the same spec is always resumed.
    """
    if path.exists() and not overwrite:
        from crlbench.datasets.verify import integrity_checks  # noqa: PLC0415

        try:
            with storage.open_file(path) as f:
                if str(f.attrs["spec"]) != spec.to_json():
                    raise OutputExistsError(
                        path, f"holds another spec ({storage.read_spec(f).dataset_id}, spec {str(f.attrs['spec_hash'])[:12]})"
                    )
                bad = [c for c in integrity_checks(f, spec) if c.status != "ok"]
        except OutputExistsError:
            raise
        except DataFileError as e:
            detail = str(e).split("; ")[0].removeprefix(f"{path}: ").removeprefix(f"{path} ")
            raise OutputExistsError(path, f"is not a usable crlbench file ({detail})") from None
        if bad:
            shown = "; ".join(f"{c.key}: {c.detail or c.status}" for c in bad[:3])
            raise OutputExistsError(path, f"fails {len(bad)} check(s) ({shown})")
        return True
    path.unlink(missing_ok=True)
    spec_file = parts / "spec.json"
    if spec_file.exists() and spec_file.read_text() != spec.to_json():
        if not overwrite:
            raise CrlbenchError(
                f"{parts} holds a partial generation of a different spec; pass --overwrite to discard it, or choose another --out"
            )
        shutil.rmtree(parts)
    return False


def _check_splits(spec: DatasetSpec) -> None:
    empty = [name for name, n in spec.splits.items() if n < 1]
    if empty:
        raise CrlbenchError(
            f"split {empty[0]}={spec.splits[empty[0]]}: every split needs at least 1 sample; "
            f"pass --split {empty[0]}=N with N >= 1, or leave the split at its preset size"
        )


def generate(
    spec: DatasetSpec,
    out_dir: str | Path,
    *,
    workers: int = 1,
    executor: Executor | None = None,
    overwrite: bool = False,
    progress: bool = True,
    shard_frames: int | None = None,
    wait: bool = False,
) -> Path:
    """Generate the dataset of ``spec`` into ``out_dir``; resume a killed run.

    Args:
        workers: Local render processes (ignored when ``executor`` is given).
        executor: Where shards are rendered (default: :class:`LocalExecutor` of ``workers``).
        overwrite: Replace an existing file, even a complete one of this spec.
        shard_frames: Frames per shard (default :data:`SHARD_FRAMES`); does not change the
            output, only the unit of parallel work and of resumption.
        wait: When another process is generating the same file, wait for it (then check
            and accept its file) instead of raising :class:`~crlbench.locks.LockedError`.

    Returns:
        Path of the complete file (``<out_dir>/<dataset_id>.h5``).

    Raises:
        OutputExistsError: a file that is not this spec's, or fails its checks, is in the way.
        LockedError: another process is generating the same file (and ``wait`` is False).
    """
    _check_splits(spec)
    path = output_path(output_folder(out_dir), spec)
    with exclusive(path, wait=wait, on_wait=lambda holder: print(f"{path}: waiting for {holder}", file=sys.stderr)):
        return _generate_locked(spec, path, executor or LocalExecutor(workers), overwrite, progress, shard_frames)


def _generate_locked(spec: DatasetSpec, path: Path, executor: Executor, overwrite: bool, progress: bool, shard_frames: int | None) -> Path:
    parts = path.with_name(path.name + ".parts")
    if _check_existing(path, parts, spec, overwrite):
        return path
    scene = make_scene(spec)
    latents = {split: sample_split(scene, spec, split) for split in spec.splits}

    parts.mkdir(parents=True, exist_ok=True)
    (parts / "spec.json").write_text(spec.to_json())
    size = shard_frames or SHARD_FRAMES[scene.observation.kind]
    tasks: list[tuple[np.ndarray, np.ndarray, str]] = []
    shard_files: dict[str, list[Path]] = {}
    for split, sl in latents.items():
        n = len(sl.frames)
        seeds = render_seeds(spec, split, n)
        shard_files[split] = []
        for i, start in enumerate(range(0, n, size)):
            p = parts / f"{split}-{i:05d}.npy"
            shard_files[split].append(p)
            if not p.exists():
                tasks.append((sl.frames[start : start + size], seeds[start : start + size], str(p)))
    if tasks:
        scene.prepare_workers()
    _run(tasks, spec, executor, progress)

    tmp = path.with_name(path.name + ".tmp")  # ours alone: the lock is held
    obs = scene.observation.at(spec.resolution)
    versions = {**storage.versions_of("numpy", "h5py"), **scene.versions()}
    with storage.Writer(tmp, spec, scene.variables, scene.graph, scene.structure(), versions) as w:
        for split, sl in latents.items():
            for name, a in sl.arrays.items():
                w.array(f"{split}/{name}", a)
            shape = (*sl.prefix, *obs.shape)
            per = int(np.prod(sl.prefix[1:], dtype=int))  # frames per stored row
            w.stream(f"{split}/{obs.dataset_name}", shape, obs.dtype, _rows(shard_files[split], per, obs.shape))
        w.finish()
    os.replace(tmp, path)
    shutil.rmtree(parts)
    write_card(path)
    return path


def _rows(files: list[Path], per: int, shape: tuple[int, ...]) -> Iterator[np.ndarray]:
    """Stored rows from shard files of frames; rows never straddle two yields."""
    carry: np.ndarray | None = None
    for p in files:
        block = np.load(p)
        if carry is not None and len(carry):
            block = np.concatenate([carry, block])
        cut = len(block) // per * per
        carry = block[cut:]
        yield block[:cut].reshape(-1, per, *shape) if per > 1 else block[:cut]
    if carry is not None and len(carry):
        raise RuntimeError("shards ended in the middle of a stored row")


def _run(tasks: list, spec: DatasetSpec, executor: Executor, progress: bool) -> None:
    from tqdm.auto import tqdm  # noqa: PLC0415

    failed = []
    with tqdm(total=sum(len(t[0]) for t in tasks), unit="frame", desc=spec.dataset_id, disable=not progress) as bar:
        for outcome in executor.map_unordered(_setup_renderer, spec.to_json(), _render_shard, tasks):
            if outcome.error is None:
                bar.update(outcome.result)
            else:
                failed.append(outcome)
    if failed:
        names = ", ".join(Path(tasks[o.index][2]).stem for o in failed[:5])
        error = failed[0].error
        assert error is not None  # only failed outcomes are kept
        last = error.strip().splitlines()[-1]
        raise CrlbenchError(
            f"{len(failed)} shard(s) failed ({names}): {last}; the other shards are kept: fix the cause and run the same command again"
        )
