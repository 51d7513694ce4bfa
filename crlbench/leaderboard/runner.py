"""Run a protocol: train a method, predict through the contract, score, write the record.

One unit of work is one (method, seed) run of a track at a tier, on each of its graphs
when the protocol covers several (:meth:`Protocol.on_graph`). Units are idempotent: a
run whose record exists is not redone, and a killed run resumes from its checkpoint. A
sweep maps the units of a protocol over an :mod:`crlbench.executors` executor (local
processes or Ray actors, one GPU each on the paper tier).

Layout of a results folder::

    RESULTS/<track>/<tier>/<method>-seed<S>.json         the result records
    RESULTS/<track>/<tier>/<method>-graph<G>-seed<S>.json  (tracks with several graphs)
    RESULTS-runs/<track>/<tier>/<method>-seed<S>/        run directories (config, checkpoints,
                                                         log, predictions.npz), kept apart so
                                                         that RESULTS holds records only
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from crlbench.errors import CrlbenchError, DataFileError, OutputExistsError
from crlbench.leaderboard.protocols import Protocol
from crlbench.locks import exclusive

__all__ = [
    "check_methods",
    "dataset_path",
    "ensure_dataset",
    "record_file",
    "run_dir",
    "run_one",
    "score_predictions",
    "record_from_predictions",
    "sweep",
    "SweepReport",
]


def dataset_path(protocol: Protocol, root: str | Path | None = None) -> Path:
    """Where the track's data lives: ``<root>/<tier>/<track>.h5`` (root: ``$CRLBENCH_DATA``);
    a track running another dataset id has its own folder, ``<root>/<tier>/<track>/``, and
    each graph of a track with several graphs one below it, ``.../graph<G>/<dataset id>.h5``."""
    from crlbench.datasets.loaders import data_root

    folder = Path(root or data_root()) / protocol.tier
    if protocol.dataset_id != protocol.track:
        folder = folder / protocol.track
    if protocol.graph is not None:
        folder = folder / f"graph{protocol.graph}"
    return folder / f"{protocol.dataset_id}.h5"


def ensure_dataset(
    protocol: Protocol,
    root: str | Path | None = None,
    *,
    workers: int = 1,
    progress: bool = False,
    generate: bool = True,
) -> Path:
    """The track's data file, generated first if it is not there yet (as dataset libraries
    download on first use); a partial run resumes, a running one is waited for.

    Args:
        progress: Say where the data goes and show a progress bar while generating.
        generate: ``False``: refuse instead of generating a missing file.

    Raises:
        DataFileError: the file is missing and ``generate`` is False, or a file that is not
            the track's data (another spec, truncated, failing its checks) is in the way.
    """
    from crlbench.datasets import build

    path = dataset_path(protocol, root)
    if not path.exists():
        if not generate:
            raise DataFileError(
                f"{path}: the {protocol.tier} data of {protocol.track} is not generated yet; "
                "drop --no-generate to generate it (deterministic, once)"
            )
        if progress:
            graph = "" if protocol.graph is None else f" (graph {protocol.graph})"
            print(
                f"{protocol.track}{graph}: generating the {protocol.tier} data into {path} (once; --no-generate to refuse)", file=sys.stderr
            )
    try:
        return build.generate(protocol.dataset_spec(), path.parent, workers=workers, progress=progress, wait=True)
    except OutputExistsError as e:
        raise DataFileError(
            f"{path} {e.reason}; delete it (it is generated again on the next run), or pass --data with another folder"
        ) from None


def record_file(protocol: Protocol, method: str, seed: int, results: str | Path) -> Path:
    """``<results>/<track>/<tier>/<method>[-graph<G>]-seed<S>.json``: where a run's record lives."""
    from crlbench.leaderboard.records import record_location

    return record_location(results, protocol.track, protocol.tier, method, seed, protocol.graph)


def run_dir(protocol: Protocol, method: str, seed: int, results: str | Path) -> Path:
    """``<results>-runs/<track>/<tier>/<method>-seed<S>/``: the run's training outputs."""
    runs = Path(results).with_name(Path(results).name + "-runs")
    return record_file(protocol, method, seed, runs).with_suffix("")


def _device(protocol: Protocol, device: str | None) -> tuple[str, list[str]]:
    import torch

    want = device or protocol.device
    if want == "cuda" and not torch.cuda.is_available():
        return "cpu", [f"ran on cpu: the {protocol.tier} tier asks for cuda, which is not available"]
    return want, [] if want == protocol.device else [f"ran on {want} instead of {protocol.device}"]


def _n_parameters(model: Any) -> int:
    module = getattr(model, "module", None)
    return int(sum(p.numel() for p in module.parameters())) if module is not None else 0


def _protocol_method(protocol: Protocol, method: str, device: str | None = None) -> tuple[type, Any, str, list[str]]:
    """(class, unfitted instance, device, deviations) of ``method`` with the protocol's batch
    size and, for an official baseline, its ``baseline_params`` (a user's method keeps its own)."""
    from crlbench.baselines.methods import method_class
    from crlbench.baselines.run import make_method

    cls = method_class(method)
    dev, deviations = _device(protocol, device)
    model = make_method(cls, params=protocol.baseline_params.get(method), loop={"batch_size": protocol.batch_size}, device=dev)
    return cls, model, dev, deviations


def _kept_record(path: Path, protocol: Protocol) -> None:
    """Check that the record at ``path`` is a valid record of ``protocol``: a run is never
    retrained over a record, nor is a record of another protocol kept as this one's.

    Raises:
        CrlbenchError: a broken record, another dataset version, or another protocol hash.
    """
    from crlbench.leaderboard.protocols import expected_dataset_hash
    from crlbench.leaderboard.records import load_record

    rec = load_record(path, expected_hash=expected_dataset_hash)
    if rec.protocol_hash != protocol.hash:
        raise CrlbenchError(
            f"{path} is a record of another protocol of {protocol.track} ({protocol.tier}): hash "
            f"{rec.protocol_hash[:12]}, the protocol's is now {protocol.hash[:12]}; move it out of "
            f"the results folder to rerun the run under the current protocol"
        )


def run_one(
    method: str,
    protocol: Protocol,
    seed: int,
    results: str | Path,
    *,
    root: str | Path | None = None,
    device: str | None = None,
    progress: bool = False,
    official: bool = False,
    generate: bool = True,
) -> Path:
    """Train ``method`` (a registered name or ``"pkg.mod:Class"``) on the track, score it
    and write its record; returns the record's path (existing records are kept). On a track
    with several graphs, ``protocol`` is one graph's object (:meth:`Protocol.on_graph`).

    Seeds are the protocol's, or below :data:`~crlbench.leaderboard.submit.MIN_SEEDS` (a
    submission's minimum on tiers with fewer protocol seeds). ``official``: the record is
    refused unless the crlbench checkout is clean. ``generate``: generate missing data
    (:func:`ensure_dataset`).
    """
    from crlbench.baselines.run import train
    from crlbench.datasets import load
    from crlbench.leaderboard.evaluate import Evaluator
    from crlbench.leaderboard.predictions import predict
    from crlbench.leaderboard.records import run_precision, run_stages
    from crlbench.leaderboard.submit import submission_seeds

    if seed not in submission_seeds(protocol):
        raise CrlbenchError(f"seed {seed} is not a seed of {protocol.track} ({protocol.tier}): use {list(submission_seeds(protocol))}")
    results = Path(results)
    rec_path = record_file(protocol, method, seed, results)
    # One writer per run: a second sweep or evaluate of the same run waits, then keeps the
    # record the first one wrote (units are idempotent).
    with exclusive(rec_path, wait=True, on_wait=lambda holder: print(f"{rec_path}: waiting for {holder}", file=sys.stderr)):
        if rec_path.exists():
            _kept_record(rec_path, protocol)
            return rec_path
        data = load(ensure_dataset(protocol, root, progress=progress, generate=generate))
        cls, model, dev, deviations = _protocol_method(protocol, method, device)
        out = run_dir(protocol, method, seed, results)
        start = time.perf_counter()
        train(model, data, seed, out, budget=protocol.budget, stage_budget=protocol.stage_budget, device=dev, progress=progress)
        preds = predict(model, data)
        np.savez_compressed(out / "predictions.npz", **preds)
        evaluation = Evaluator(protocol, data).evaluate(preds, seed=seed)
        record = _record(
            evaluation,
            protocol,
            seed,
            method,
            method_version=str(getattr(cls, "version", "1")),
            deviations=deviations,
            wall_time_s=time.perf_counter() - start,
            n_parameters=_n_parameters(model),
            precision=run_precision(out),
            stages=run_stages(out),
            official=official,
        )
        return record.save(rec_path)


def _record(evaluation: Any, protocol: Protocol, seed: int, method: str, **fields: Any) -> Any:
    from crlbench.leaderboard.records import ResultRecord

    return ResultRecord.create(
        method=method,
        track=protocol.track,
        tier=protocol.tier,
        protocol_hash=protocol.hash,
        dataset_id=protocol.dataset_id,
        dataset_hash=protocol.dataset_hash,
        graph=protocol.graph,
        seed=seed,
        metrics=evaluation.metrics,
        per_variable=evaluation.per_variable,
        assignment=evaluation.assignment,
        artifacts=evaluation.artifacts,
        **fields,
    )


def record_from_predictions(evaluation: Any, protocol: Protocol, seed: int, method: str, results: str | Path) -> Path:
    """The record of a scored predictions file; marked, since crlbench did not train it."""
    record = _record(
        evaluation,
        protocol,
        seed,
        method,
        method_version="unknown",
        deviations=["scored from a predictions file: training was not run by crlbench"],
        wall_time_s=0.0,
        n_parameters=0,
    )
    path = record_file(protocol, method, seed, results)
    with exclusive(path, wait=True):
        if path.exists():  # never replace a record silently: it may be another method's
            raise CrlbenchError(f"{path} exists (a record of {method}, seed {seed}); choose another --name, or delete it first")
        return record.save(path)


def score_predictions(path: str | Path, protocol: Protocol, *, root: str | Path | None = None, seed: int = 0, generate: bool = True):
    """Score a predictions ``.npz`` file (format: :mod:`crlbench.leaderboard.evaluate`)."""
    from crlbench.datasets import load
    from crlbench.leaderboard.evaluate import Evaluator

    path = Path(path)
    if not path.exists():
        raise CrlbenchError(f"{path}: no such predictions file")
    try:
        with np.load(path) as z:
            preds = {k: z[k] for k in z.files}
    except (OSError, ValueError) as e:
        raise CrlbenchError(f"{path}: not a readable .npz file ({e})") from None
    data = load(ensure_dataset(protocol, root, progress=True, generate=generate))
    return Evaluator(protocol, data).evaluate(preds, seed=seed)


# --- sweeps -----------------------------------------------------------------------------


@dataclass
class SweepReport:
    """Records written, and the runs that failed with their error's last line."""

    records: list[Path] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)


def _setup_sweep(arg: tuple[Protocol, str, str | None]) -> tuple:
    import torch
    from threadpoolctl import threadpool_limits

    # One core per unit, units run side by side: torch's and numpy's BLAS threads alike.
    torch.set_num_threads(1)
    threadpool_limits(1)
    return arg


def _finished(protocol: Protocol, method: str, seed: int, results: str | Path) -> bool:
    """A valid record of this protocol exists (a stale or broken one is left to
    :func:`run_one` to report)."""
    path = record_file(protocol, method, seed, results)
    if not path.exists():
        return False
    try:
        _kept_record(path, protocol)
    except CrlbenchError:
        return False
    return True


def _run_unit(setup: tuple, unit: tuple[str, int, int | None]) -> str:
    protocol, results, root, official = setup  # the sweep's protocol itself, not the registered one
    method, seed, graph = unit
    on = protocol if graph is None else protocol.on_graph(graph)
    return str(run_one(method, on, seed, results, root=root, official=official))


def check_methods(methods: Sequence[str]) -> None:
    """Every method resolves (a did-you-mean error otherwise), before any run starts."""
    from crlbench.baselines.methods import method_class

    if not methods or not all(isinstance(m, str) and m.strip() for m in methods):
        raise CrlbenchError(f"method names must be non-empty, got {list(methods)!r}")
    for m in methods:
        method_class(m)
    repeated = sorted({m for m in methods if list(methods).count(m) > 1})
    if repeated:
        raise CrlbenchError(f"{', '.join(repeated)}: named twice; name each method once")


def sweep(
    protocol: Protocol,
    methods: Sequence[str],
    results: str | Path,
    *,
    executor: Any = None,
    root: str | Path | None = None,
    official: bool = False,
    generate: bool = True,
    progress: bool = False,
) -> SweepReport:
    """Every (method, seed) of ``protocol`` (on every graph); finished runs are skipped,
    failures reported, progress printed when ``progress`` (runs done of all, elapsed time).

    Before any worker starts, the data is generated, the shared stages the pending methods
    declare are trained (with every thread of this process, while no worker runs) and, for
    sequence tracks, the frozen causal encoder that scores triplets is fitted, each once. ``official``:
    refused at once unless the crlbench checkout is clean (and again for each record).
    ``generate`` and ``progress``: as :func:`ensure_dataset`'s.
    """
    from crlbench.baselines.run import shared_stages
    from crlbench.datasets import load
    from crlbench.executors import LocalExecutor
    from crlbench.leaderboard.evaluate import Evaluator
    from crlbench.leaderboard.records import clean_commit

    check_methods(methods)
    if official:
        clean_commit()
    report = SweepReport()
    units = []
    for on in protocol.per_graph():
        path = ensure_dataset(on, root, progress=progress, generate=generate)
        todo = [(m, s, on.graph) for m in methods for s in protocol.seeds]
        for m, s, g in todo:
            if _finished(on, m, s, results):
                report.records.append(record_file(on, m, s, results))
            else:
                units.append((m, s, g))
        pending = sorted({m for m, _, g in units if g == on.graph})
        if pending:
            data = load(path)
            if on.mode == "sequences":
                Evaluator(on, data).causal_predictor()
            for m in pending:
                shared_stages(_protocol_method(on, m)[1], data, on.stage_budget or on.budget, progress)
    if not units:
        return report
    executor = executor or LocalExecutor(1)
    setup_arg = (protocol, str(results), str(root) if root else None, official)
    total, start = len(report.records) + len(units), time.perf_counter()
    for outcome in executor.map_unordered(_setup_sweep, setup_arg, _run_unit, units):
        method, seed, graph = units[outcome.index]
        name = f"{method} seed {seed}" if graph is None else f"{method} graph {graph} seed {seed}"
        if outcome.error is None:
            report.records.append(Path(outcome.result))
        else:
            report.failed[name] = outcome.error.strip().splitlines()[-1]
        if progress:
            done = len(report.records) + len(report.failed)
            print(
                f"{protocol.track} ({protocol.tier}): {done}/{total} runs, {name} "
                f"{'failed' if outcome.error else 'done'}, {time.perf_counter() - start:.0f} s",
                file=sys.stderr,
            )
    return report
