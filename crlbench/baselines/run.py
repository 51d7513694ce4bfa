"""Train a method on a dataset into a run directory (the Python API behind ``crlbench train``).

Run directory layout (docs/training.md)::

    RUN_DIR/
      config.json      method, parameters, loop, budget, seed, device, precision, dataset
                       id / path / hash, shared stages used (kind, key, weights sha256),
                       library versions
      checkpoint.pt    latest resumable state (model, optimiser, RNG, log)
      best.pt          weights with the lowest validation loss (the selected model)
      log.json         training and validation losses per interval, status, wall time
      model.json       capabilities, assignment (M, K+1), graph (K, K), graph weights and
                       threshold, parameter count
      result.json      written last: steps, best step, validation loss, wall time

Calling :func:`train` again on the same folder resumes from ``checkpoint.pt``. What the
fitted method predicts for scoring is made by the leaderboard layer
(:func:`crlbench.leaderboard.predictions.predict`; ``crlbench train`` writes it as
``predictions.npz`` beside these files).
"""

from __future__ import annotations

import inspect
import json
import os
import platform
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from crlbench.baselines.contract import Budget, capabilities
from crlbench.baselines.methods import method_class
from crlbench.errors import CrlbenchError
from crlbench.locks import exclusive

__all__ = ["train", "make_method", "load_run", "RUN_FILES"]

RUN_FILES = ("config.json", "checkpoint.pt", "best.pt", "log.json", "model.json", "result.json")


def _write_json(obj: Any, path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(obj, indent=1, default=lambda o: o.tolist() if isinstance(o, np.ndarray) else str(o)))
    os.replace(tmp, path)


def _versions() -> dict[str, str]:
    import torch

    from crlbench import __version__

    return {"crlbench": __version__, "torch": torch.__version__, "numpy": np.__version__, "python": platform.python_version()}


def _precision(model: Any) -> dict[str, str] | None:
    """What the run's conv networks compute in: ``{"requested", "used"}`` (``None`` for a
    method outside the shared loop). Vector networks, losses and priors are float32."""
    from crlbench.baselines.loop import resolve_device
    from crlbench.baselines.precision import resolve_precision

    loop = getattr(model, "loop", None)
    if loop is None:
        return None
    return {"requested": loop.precision, "used": resolve_precision(loop.precision, resolve_device(loop.device)).name}


def shared_stages(model: Any, ds: Any, budget: Budget | str | int | None, progress: bool = False) -> dict[str, Any]:
    """The shared stages ``model`` declares on ``ds``, loaded from the dataset's folder or
    trained there once (:func:`crlbench.baselines.autoencoder.load_or_train_stage`)."""
    declare = getattr(model, "shared_stages", None)
    if declare is None:
        return {}
    from crlbench.baselines.autoencoder import load_or_train_stage

    b = Budget.parse(budget if budget is not None else model.default_budget)
    specs = declare(ds["train"], b)
    return {
        name: load_or_train_stage(
            spec,
            dataset_id=ds.spec.dataset_id,
            dataset_hash=ds.spec.hash,
            folder=ds.path.parent,
            data=lambda: (model.stage_arrays(ds["train"]), model.stage_arrays(ds["val"])),
            progress=progress,
        )
        for name, spec in specs.items()
    }


def make_method(
    method: str | type,
    *,
    params: Mapping[str, Any] | None = None,
    loop: Mapping[str, Any] | None = None,
    device: str = "auto",
    graph_method: str | None = None,
    threads: int | None = None,
) -> Any:
    """An unfitted instance of a method (name, entry point or class).

    Loop settings, device and graph option reach baselines built on the shared loop (their
    constructor takes ``loop``); other classes get only ``params``.
    """
    cls = method_class(method) if isinstance(method, str) else method
    kwargs: dict[str, Any] = dict(params or {})
    if "loop" in inspect.signature(cls).parameters:
        kwargs.update(loop=dict(loop or {}), device=device)
        if threads:
            kwargs["loop"]["threads"] = threads
        if graph_method is not None:
            kwargs["graph_method"] = graph_method
    return cls(**kwargs)


def _check_device(device: str) -> None:
    import torch

    if device == "auto":
        return
    try:
        torch.device(device)
    except (RuntimeError, TypeError):
        raise CrlbenchError(f"device {device!r}: use auto, cpu, cuda or cuda:N") from None


def _generate_missing(dataset_id: str, root: str | Path | None, progress: bool) -> None:
    """Generate a registered dataset id missing from ``root``, saying where (deterministic,
    so this is what ``crlbench generate ID --out ROOT`` would make)."""
    import sys

    from crlbench.datasets.build import generate, output_path
    from crlbench.datasets.loaders import data_root
    from crlbench.registry import DATASETS

    if dataset_id not in DATASETS or Path(dataset_id).exists():
        return  # a path, or an unknown id that load() reports with its suggestions
    spec = DATASETS[dataset_id].spec(size="smoke", seed=0)
    folder = Path(root or data_root())
    if output_path(folder, spec).exists():
        return
    print(f"{dataset_id} is not generated yet: generating it into {folder} (once; --no-generate to refuse)", file=sys.stderr)
    generate(spec, folder, progress=progress, wait=True)


def train(
    method: str | Any,
    dataset: str | Path | Any,
    seed: int = 0,
    out_dir: str | Path = "runs/run",
    *,
    budget: Budget | str | int | None = None,
    stage_budget: Budget | str | int | None = None,
    device: str = "auto",
    params: Mapping[str, Any] | None = None,
    loop: Mapping[str, Any] | None = None,
    graph_method: str | None = None,
    progress: bool = True,
    threads: int | None = None,
    root: str | Path | None = None,
    generate: bool = True,
) -> Path:
    """Train ``method`` on ``dataset`` with ``seed`` and write the run directory.

    Args:
        method: A registered name (``"ilcm"``), an entry point (``"pkg.mod:Class"``), a
            class or an instance following the method contract.
        dataset: A dataset id, a ``.h5`` path or a loaded :class:`~crlbench.datasets.Dataset`.
        seed: Training seed.
        out_dir: The run directory (created; an existing one of the same config resumes).
        budget: Epochs or steps (``"90ep"``, ``"20000steps"``); default: the method's.
        stage_budget: Budget of the shared stages the method declares (trained once per
            dataset and budget, then loaded); default: ``budget``.
        device: ``"auto"``, ``"cpu"``, ``"cuda"``.
        params: Method hyperparameters.
        loop: Overrides of the method's loop settings (``lr``, ``batch_size``...).
        graph_method: The method's graph option (ILCM: ``"ilcm-h"``, ``"solution"`` or ``"interventions"``).
        progress: Show a progress bar.
        threads: ``torch.set_num_threads`` for the run.
        root: Folder where dataset ids are looked up (default ``$CRLBENCH_DATA``).
        generate: A dataset id not generated yet under ``root`` is generated first (smoke
            size, seed 0: what ``crlbench generate ID`` makes); ``False`` refuses instead.

    Returns:
        The run directory.

    Raises:
        CrlbenchError: unknown method or dataset, a dataset of a mode the method cannot
            train on, bad parameters, a diverged run.
    """
    from crlbench.datasets import Dataset, load

    if threads is not None and (not isinstance(threads, int) or threads < 1):
        raise CrlbenchError(f"threads must be an integer >= 1 (torch CPU threads), got {threads!r}")
    _check_device(device)
    if generate and isinstance(dataset, str):
        _generate_missing(dataset, root, progress)
    ds = dataset if isinstance(dataset, Dataset) else load(dataset, root=root)
    cls = method_class(method) if isinstance(method, str) else (method if isinstance(method, type) else type(method))
    name = getattr(cls, "name", cls.__name__)
    modes = getattr(cls, "modes", None)
    if modes is not None and ds.spec.mode not in modes:
        examples = {
            "pairs": "toy-son-pairs-v1: observation pairs before and after one intervention",
            "sequences": "toy-son-tris-v1: sequences with intervention targets per step",
        }
        raise CrlbenchError(
            f"{name} trains on {' or '.join(modes)} datasets (e.g. {examples.get(modes[0], modes[0])}); "
            f"{ds.spec.dataset_id} is a {ds.spec.mode} dataset"
        )
    for split in ("train", "val", "test"):
        if split not in ds.splits:
            raise CrlbenchError(f"{name} needs the splits train, val and test; {ds.spec.dataset_id} lacks {split!r}")
    if isinstance(method, (str, type)):
        model = make_method(cls, params=params, loop=loop, device=device, graph_method=graph_method, threads=threads)
    else:
        model = method
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    # One writer per run folder: a second `train` of the same folder stops, naming the first.
    with exclusive(out):
        config = {
            "method": name,
            "entry_point": f"{cls.__module__}:{cls.__qualname__}",
            "method_config": model.config() if hasattr(model, "config") else {"params": dict(params or {})},
            "budget": str(Budget.parse(budget)) if budget is not None else str(getattr(cls, "default_budget", "")),
            "stage_budget": str(Budget.parse(stage_budget)) if stage_budget is not None else None,
            "seed": seed,
            "device": device,
            "dataset": {"id": ds.spec.dataset_id, "path": str(ds.path), "spec_hash": ds.spec.hash, "params": dict(ds.spec.params)},
            "versions": _versions(),
            "host": platform.node(),
            "precision": _precision(model),
        }
        old = out / "config.json"
        if old.exists():
            prev = json.loads(old.read_text())
            keep = ("method", "method_config", "budget", "stage_budget", "seed", "dataset")
            if any(prev.get(k) != json.loads(json.dumps(config[k], default=str)) for k in keep):
                raise CrlbenchError(f"{out} holds a run of another configuration; use a new --out folder or delete it")
        _write_json(config, old)
        stages = shared_stages(model, ds, stage_budget if stage_budget is not None else budget, progress)
        if stages:
            config["stages"] = {name: stage.provenance() for name, stage in stages.items()}
            _write_json(config, old)

        t0 = time.perf_counter()
        fit_kwargs: dict[str, Any] = {}
        fit_sig = inspect.signature(model.fit).parameters
        if "workdir" in fit_sig:
            fit_kwargs["workdir"] = out
        if "progress" in fit_sig:
            fit_kwargs["progress"] = progress
        if stages:
            fit_kwargs["stages"] = stages
        result = model.fit(ds["train"], ds["val"], Budget.parse(budget) if budget is not None else None, seed, **fit_kwargs)
        fit_s = time.perf_counter() - t0

        caps = capabilities(model)
        info: dict[str, Any] = {"capabilities": caps}
        if "assignment" in caps:
            info["assignment"] = np.asarray(model.assignment())
        if "graph" in caps:
            info["graph"] = np.asarray(model.graph())
            if hasattr(model, "graph_weights"):
                info["graph_weights"] = np.asarray(model.graph_weights())
                info["graph_method"] = getattr(model, "graph_method", None)
                info["graph_threshold"] = getattr(model, "graph_threshold", None)
        module = getattr(model, "module", None)
        if module is not None:
            info["n_params"] = int(sum(p.numel() for p in module.parameters()))
        _write_json(info, out / "model.json")
        summary = {"status": "done", "fit_s": fit_s, "total_s": time.perf_counter() - t0}
        if result is not None and hasattr(result, "steps"):
            summary.update(steps=result.steps, best_step=result.best_step, best_val=result.best_val, train_wall_s=result.wall_s)
        _write_json(summary, out / "result.json")
        return out


def load_run(run_dir: str | Path) -> dict[str, Any]:
    """A finished run's ``config``, ``result`` and ``model`` (dicts)."""
    d = Path(run_dir)
    if not (d / "result.json").exists():
        raise CrlbenchError(f"{d} is not a finished run (no result.json); train it first")
    return {k: json.loads((d / f"{k}.json").read_text()) for k in ("config", "result", "model")}
