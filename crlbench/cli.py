"""The ``crlbench`` command line (`crlbench --help` lists the subcommands).

Every subcommand is a pair (arguments, action) in :data:`COMMANDS`. Bad input raises
:class:`~crlbench.errors.CrlbenchError`, printed as one line with exit code 2.
"""

from __future__ import annotations

import argparse
import errno
import json
import math
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from crlbench.errors import CrlbenchError

__all__ = ["main", "COMMANDS"]


class _Parser(argparse.ArgumentParser):
    """Usage errors as one line naming the argument and where to read more (exit 2)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def _int_at_least(low: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be an integer >= {low}, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be an integer >= {low}, got {text!r}")
        return value

    parse.__name__ = f"integer >= {low}"
    return parse


def _non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number >= 0, got {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {text!r}")
    return value


def _path(text: str) -> Path:
    if not text.strip():  # Path("") is the current folder: never what an empty value meant
        raise argparse.ArgumentTypeError("must not be empty; name a file or folder")
    return Path(text)


_positive = _int_at_least(1)
_non_negative = _int_at_least(0)


def _folder(flag: str, path: Path, *, create: bool = True) -> Path:
    """Create the output folder of ``flag`` or say why not (before any work is done);
    ``create=False`` only checks that it can be created when the first output is written."""
    if path.exists() and not path.is_dir():
        raise CrlbenchError(f"{flag} {path}: is a file, not a folder; name a folder (it is created if missing)")
    if not create:
        parent = next(p for p in [path, *path.absolute().parents] if p.exists())
        if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
            raise CrlbenchError(f"{flag} {path}: cannot create the folder under {parent}; choose a writable location")
        return path
    from crlbench.locks import output_folder

    return output_folder(path, flag)


def _key_value(text: str) -> tuple[str, Any]:
    """``KEY=VALUE`` with VALUE parsed as JSON when it parses (numbers, booleans, lists)."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


def _spec_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--size", default="smoke", help="split-size preset: smoke (seconds) or paper (the original's scale)")
    p.add_argument("--seed", type=_non_negative, default=0, help="root seed of every random stream (default 0)")
    p.add_argument("--n-vars", type=int, help="number of causal variables (toy-son)")
    p.add_argument("--resolution", type=_positive, help="image side in pixels (image scenes)")
    p.add_argument("--param", type=_key_value, action="append", default=[], metavar="KEY=VALUE", help="scene parameter override")
    p.add_argument("--split", type=_key_value, action="append", default=[], metavar="NAME=N", help="split size override")
    p.add_argument(
        "--mesh",
        type=_key_value,
        action="append",
        default=[],
        metavar="NAME=PATH",
        help="add an OBJ mesh as a further shape (causal3dident), e.g. the original meshes",
    )


def _specs(args: argparse.Namespace) -> list:
    from crlbench.registry import dataset_entry, resolve_ids, scene_class

    params = dict(args.param)
    if args.n_vars is not None:
        params["n_vars"] = args.n_vars
    specs = []
    for name in args.ids:
        for did in resolve_ids(name):
            entry = dataset_entry(did)
            extra = {}
            if args.mesh:
                defaults = {**scene_class(entry.scene).default_params, **entry.params, **params}
                if "meshes" not in defaults:
                    raise CrlbenchError(f"--mesh: scene {entry.scene} takes no meshes")
                from crlbench.simulators.shapes import pin_mesh

                meshes = {str(k): pin_mesh(v) for k, v in args.mesh}
                extra = {"meshes": {**defaults["meshes"], **meshes}, "shapes": [*defaults["shapes"], *meshes]}
            spec = entry.spec(size=args.size, seed=args.seed, params={**params, **extra}, resolution=args.resolution)
            if args.split:
                from dataclasses import replace

                spec = replace(spec, splits={**spec.splits, **dict(args.split)})
            specs.append(spec)
    return specs


def _executor_options(p: argparse.ArgumentParser) -> None:
    """``--executor``, ``--workers``, ``--address`` of the commands that scale out (docs/scaling.md)."""
    p.add_argument("--executor", default="local", help="where the units of work run: local (processes, default) or ray")
    p.add_argument("--workers", type=int, default=1, help="units side by side: processes or Ray actors (default 1)")
    p.add_argument("--address", help="Ray cluster address (default: start a local Ray instance)")


def _make_executor(args: argparse.Namespace, gpus: float = 0):
    """The executor of :func:`_executor_options`' arguments; ``gpus`` per Ray actor."""
    from crlbench.executors import make_executor

    extra: dict[str, Any] = {"address": args.address} if args.address else {}
    if args.executor == "ray" and gpus:
        extra["num_gpus"] = gpus
    return make_executor(args.executor, workers=args.workers, **extra)


# --- ls ---------------------------------------------------------------------------------
def _ls_args(p: argparse.ArgumentParser) -> None:
    pass


def _ls(args: argparse.Namespace) -> int:
    from crlbench.registry import DATASETS, GROUPS

    width = max(map(len, [*DATASETS, *GROUPS]))
    for group, ids in GROUPS.items():
        print(f"{group:<{width}}  all modes: {', '.join(ids)}")
    for did, entry in DATASETS.items():
        print(f"{did:<{width}}  {entry.description}")
    return 0


# --- info -------------------------------------------------------------------------------
def _info_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("ids", nargs="+", metavar="ID", help="dataset id or scene group id (see `crlbench ls`)")
    _spec_options(p)


def _edges(adj: Any, names: list[str]) -> str:
    import numpy as np

    pairs = [f"{names[i]}->{names[j]}" for i, j in zip(*np.nonzero(adj))]
    return ", ".join(pairs) or "(none)"


def _info(args: argparse.Namespace) -> int:
    from crlbench.datasets.build import make_scene
    from crlbench.registry import dataset_entry

    for spec in _specs(args):
        entry = dataset_entry(spec.dataset_id)
        scene = make_scene(spec)
        names = [v.name for v in scene.variables]
        print(f"{spec.dataset_id}: {entry.description}")
        print(f"  scene {spec.scene} v{spec.scene_version}, mode {spec.mode}, policy {spec.policy} {dict(spec.policy_params) or ''}")
        print(f"  observation: {scene.observation.kind} {scene.observation.shape}")
        print("  variables:")
        for v in scene.variables:
            rng = f"{v.n_categories} categories" if v.kind == "categorical" else f"[{v.low:g}, {v.high:g}]"
            dims = f" dims {','.join(v.dims)}" if v.size > 1 else ""
            print(f"    {v.name:<10} {v.kind:<12} {rng}{dims}")
        print(f"  temporal graph:      {_edges(scene.graph.temporal, names)}")
        print(f"  instantaneous graph: {_edges(scene.graph.instantaneous, names)}")
        for size, splits in entry.sizes.items():
            print(f"  {size} splits: " + ", ".join(f"{k}={n}" for k, n in splits.items()))
        print(f"  spec hash ({args.size}, seed {spec.seed}): {spec.hash}")
    return 0


# --- generate ---------------------------------------------------------------------------
def _generate_args(p: argparse.ArgumentParser) -> None:
    from crlbench.datasets.loaders import data_root

    p.add_argument("ids", nargs="+", metavar="ID", help="dataset id or scene group id (all its modes)")
    p.add_argument("--out", type=_path, default=None, help=f"output folder (default $CRLBENCH_DATA, now {data_root()})")
    p.add_argument("--overwrite", action="store_true", help="replace an existing file of a different spec")
    p.add_argument(
        "--wait", action="store_true", help="if another process is generating the same file, wait for it (default: exit 2 naming it)"
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    _executor_options(p)
    _spec_options(p)


def _generate(args: argparse.Namespace) -> int:
    from crlbench.datasets.build import generate
    from crlbench.datasets.loaders import data_root

    out = _folder("--out", args.out) if args.out else data_root()
    specs = _specs(args)
    executor = _make_executor(args)
    for spec in specs:
        path = generate(spec, out, executor=executor, overwrite=args.overwrite, progress=not args.no_progress, wait=args.wait)
        print(f"{spec.dataset_id}: {path} (spec {spec.hash[:12]})")
    return 0


# --- verify -----------------------------------------------------------------------------
def _verify_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("files", nargs="+", type=_path, metavar="FILE")
    p.add_argument("--regenerate", action="store_true", help="also regenerate from the spec and compare")
    p.add_argument("--frames", type=_positive, default=16, help="image frames re-rendered per split (default 16)")
    p.add_argument("--tolerance", type=_non_negative_float, default=2.0, help="mean |diff| per frame in grey levels (default 2)")


def _verify(args: argparse.Namespace) -> int:
    from crlbench.datasets.verify import verify

    status = 0
    for path in args.files:
        report = verify(path, regenerate=args.regenerate, frames=args.frames, tolerance=args.tolerance)
        for c in report.failures:
            print(f"  {c.key}: {c.status} ({c.detail})")
        verdict = "OK" if report.ok else f"FAILED ({len(report.failures)} of {len(report.checks)} checks)"
        print(f"{path}: {report.dataset_id} spec {report.spec_hash[:12]}: {verdict}, {len(report.checks)} checks")
        status = status or (0 if report.ok else 1)
    return status


# --- train ------------------------------------------------------------------------------
def _train_args(p: argparse.ArgumentParser) -> None:
    from crlbench.baselines.methods import METHODS

    p.add_argument("--method", required=True, help=f"registered method ({', '.join(METHODS)}) or package.module:Class")
    p.add_argument("--dataset", required=True, help="dataset id (looked up under --root) or .h5 path")
    p.add_argument("--seed", type=_non_negative, default=0, help="training seed (default 0)")
    p.add_argument("--out", type=_path, required=True, help="run directory (an existing one of the same config resumes)")
    p.add_argument("--budget", default=None, help="training length: 90ep (epochs) or 20000steps; default: the method's")
    p.add_argument(
        "--stage-budget",
        default=None,
        help="training length of the shared stages the method uses (trained once per dataset); default: --budget",
    )
    p.add_argument("--device", default="auto", help="auto (CUDA when available), cpu or cuda")
    p.add_argument("--param", type=_key_value, action="append", default=[], metavar="KEY=VALUE", help="method hyperparameter")
    p.add_argument("--loop", type=_key_value, action="append", default=[], metavar="KEY=VALUE", help="loop setting (lr, batch_size, ...)")
    p.add_argument("--graph-method", default=None, help="graph option of the method (ilcm: ilcm-h, solution or interventions)")
    p.add_argument("--threads", type=_positive, default=None, help="torch CPU threads")
    p.add_argument(
        "--precision",
        choices=("auto", "fp32", "bf16", "fp16"),
        default="auto",
        help="conv networks' precision: auto = bf16 on CPUs with AMX and on GPUs, else fp32 (default auto)",
    )
    p.add_argument("--compile", action="store_true", help="torch.compile the conv networks (pays off on long runs)")
    p.add_argument("--root", type=_path, default=None, help="folder of generated datasets (default $CRLBENCH_DATA)")
    p.add_argument("--no-generate", action="store_true", help="fail if the dataset id is not generated yet (default: generate it)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def _train(args: argparse.Namespace) -> int:
    from crlbench.baselines.run import make_method, train
    from crlbench.datasets import load
    from crlbench.leaderboard.predictions import predict, save_predictions

    loop = {**dict(args.loop), "precision": args.precision, **({"compile": True} if args.compile else {})}
    model = make_method(
        args.method, params=dict(args.param), loop=loop, device=args.device, graph_method=args.graph_method, threads=args.threads
    )
    out = train(
        model,
        args.dataset,
        args.seed,
        _folder("--out", args.out),
        budget=args.budget,
        stage_budget=args.stage_budget,
        device=args.device,
        params=dict(args.param),
        progress=not args.no_progress,
        root=args.root,
        generate=not args.no_generate,
    )
    result = json.loads((out / "result.json").read_text())
    data = load(args.dataset, root=args.root)
    if "test_indep" in data.splits:  # what `crlbench evaluate --predictions` scores
        save_predictions(out / "predictions.npz", predict(model, data))
    print(f"{args.method} on {args.dataset} (seed {args.seed}): {out} ({result.get('steps', '?')} steps, {result['fit_s']:.0f} s)")
    return 0


# --- leaderboard ------------------------------------------------------------------------
def _leaderboard_args(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="leaderboard_command", required=True)
    b = sub.add_parser(
        "build",
        help="aggregate result records into Markdown, CSV and a static HTML page",
        description="aggregate result records (*.json, recursive) into results.md, results.csv and index.html",
    )
    b.add_argument("results", type=_path, metavar="RESULTS_DIR", help="folder of result records (searched recursively)")
    b.add_argument("--out", type=_path, required=True, metavar="SITE_DIR", help="site folder to write")
    b.add_argument(
        "--data",
        type=_path,
        default=None,
        metavar="DIR",
        help="folder of dataset files <id>.h5: sample images of every dataset the records use",
    )
    b.add_argument(
        "--dataset",
        type=_key_value,
        action="append",
        default=[],
        metavar="ID=PATH",
        help="dataset file of one id (repeatable; wins over --data)",
    )
    b.add_argument("--title", default="crlbench leaderboard", help="page title")
    b.add_argument(
        "--submitted",
        type=Path,
        action="append",
        default=[],
        metavar="SUBMISSION_DIR",
        help="a submission folder (`crlbench submit`), checked and shown beside the official rows (repeatable)",
    )


def _leaderboard(args: argparse.Namespace) -> int:
    from crlbench.leaderboard.protocols import expected_dataset_hash
    from crlbench.leaderboard.records import load_records
    from crlbench.leaderboard.report import build_site
    from crlbench.leaderboard.table import to_markdown

    if not args.results.is_dir():
        what = "is a file" if args.results.exists() else "does not exist"
        raise CrlbenchError(f"RESULTS_DIR {args.results}: {what}; name the folder of result records (e.g. results/)")
    from crlbench.leaderboard.submit import load_submission, merge

    records, submitted = merge(
        load_records(args.results, expected_hash=expected_dataset_hash), [load_submission(d) for d in args.submitted]
    )
    datasets: dict[str, Path] = {}
    if args.data is not None:
        for did in sorted({r.dataset_id for r in records}):
            if (args.data / f"{did}.h5").exists():
                datasets[did] = args.data / f"{did}.h5"
    for did, path in args.dataset:
        if not Path(str(path)).exists():
            raise CrlbenchError(f"--dataset {did}={path}: no such file")
        datasets[did] = Path(str(path))
    df = build_site(records, _folder("--out", args.out), datasets=datasets or None, title=args.title, submitted=submitted)
    print(to_markdown(df), end="")
    print(f"\nwrote {args.out / 'index.html'}, results.md, results.csv ({len(records)} records)")
    return 0


# --- tracks, evaluate, sweep, benchmark ------------------------------------------------
def _tracks_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--ids", action="store_true", help="only the track ids, one per line")
    p.add_argument("--tier", help="only the tracks with a protocol at this tier (smoke, cpu, paper)")


def _observation(p: Any) -> str:
    resolution = p.dataset_spec().resolution
    return f"{resolution}px" if resolution else "vector"


def _tracks(args: argparse.Namespace) -> int:
    from crlbench.leaderboard.protocols import PROTOCOLS, TIERS, tracks

    if args.tier is not None and args.tier not in TIERS:
        raise CrlbenchError(f"--tier {args.tier!r}: use one of {', '.join(TIERS)}")
    if args.ids:
        print("\n".join(tracks(args.tier)))
        return 0
    for (track, tier), p in sorted(PROTOCOLS.items()):
        if args.tier not in (None, tier):
            continue
        graphs = f"  graphs {','.join(map(str, p.graphs))}" if p.graphs else ""
        stages = f"  stages {p.stage_budget}" if p.stage_budget else ""
        print(
            f"{track:<28} {tier:<6} seeds {len(p.seeds)}  budget {p.budget:<10} batch {p.batch_size:<4} "
            f"{_observation(p):<6} latents {p.latent_dim or 'K'!s:<3} "
            f"{p.device:<4} probe {p.probe:<6} methods {', '.join(p.methods)}{graphs}{stages}"
        )
    return 0


def _track_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--tier", default="smoke", help="smoke (CPU, minutes), cpu (2 CPU cores, reference results) or paper (one GPU, the papers' scale)"
    )
    p.add_argument("--data", type=_path, default=None, help="dataset folder (default $CRLBENCH_DATA); generated if missing")
    p.add_argument("--no-generate", action="store_true", help="fail if the track's data is not generated yet (default: generate it)")


def _evaluate_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--track", required=True, help="track id (see `crlbench tracks`)")
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--method", help="registered method name or 'package.module:Class'")
    what.add_argument("--predictions", type=_path, help="a predictions .npz file (format: docs/leaderboard.md, 'Predictions files')")
    p.add_argument("--seed", type=_non_negative, action="append", help="training seed (repeatable; default: every seed of the protocol)")
    p.add_argument(
        "--graph", type=_non_negative, action="append", help="graph (data seed) on tracks with several (repeatable; default: every graph)"
    )
    p.add_argument("--results", type=_path, default=Path("results"), help="results folder (records, runs)")
    p.add_argument("--name", help="method name for a predictions file's record (with --record)")
    p.add_argument("--record", action="store_true", help="also write a record for a predictions file")
    _track_options(p)


def _evaluate(args: argparse.Namespace) -> int:
    from crlbench.leaderboard.protocols import protocol
    from crlbench.leaderboard.runner import run_one, score_predictions

    proto = protocol(args.track, args.tier)
    if args.graph and not proto.graphs:
        raise CrlbenchError(f"--graph: {args.track} ({args.tier}) has one graph; leave --graph out")
    graphs = [proto.on_graph(g) for g in args.graph] if args.graph else proto.per_graph()
    if (args.record or args.name is not None) and args.predictions is None:
        raise CrlbenchError("--record and --name apply to --predictions; a --method run always writes its record")
    if args.record and not (args.name or "").strip():
        raise CrlbenchError("--record needs --name: the method name the record is listed under")
    if args.name is not None and not args.record:
        raise CrlbenchError("--name names the record of --record; add --record (or drop --name)")
    if args.record:
        _folder("--results", args.results, create=False)
    generate = not args.no_generate
    if args.predictions is not None:
        seed = (args.seed or [0])[0]
        if len(graphs) > 1:
            raise CrlbenchError(f"--predictions: {args.track} ({args.tier}) has graphs {list(proto.graphs)}; name the file's with --graph")
        proto = graphs[0]
        ev = score_predictions(args.predictions, proto, root=args.data, seed=seed, generate=generate)
        print(json.dumps({"assignment": ev.assignment, "metrics": ev.metrics}, indent=1))
        if args.record:
            from crlbench.leaderboard.runner import record_from_predictions

            path = record_from_predictions(ev, proto, seed, args.name, args.results)
            print(f"wrote {path}")
        return 0
    from crlbench.leaderboard.records import load_record
    from crlbench.leaderboard.table import aggregate, to_markdown

    _folder("--results", args.results, create=False)
    paths = [
        run_one(args.method, g, s, args.results, root=args.data, progress=True, generate=generate)
        for g in graphs
        for s in (args.seed or proto.seeds)
    ]
    print(to_markdown(aggregate([load_record(p) for p in paths])), end="")
    return 0


def _sweep_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--protocol", required=True, metavar="TRACK", help="track id (see `crlbench tracks`)")
    p.add_argument("--methods", help="comma-separated methods (default: the track's baselines)")
    p.add_argument("--results", type=_path, default=Path("results"), help="results folder (records, runs)")
    p.add_argument("--official", action="store_true", help="official records: refused unless the crlbench checkout is clean")
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="with --tier paper: the paper tier's code path at dry-run scale (small splits, 10 steps), on CPU "
        "without a GPU, records under tier paper-dry-run (default --results results-dry-run)",
    )
    _track_options(p)
    _executor_options(p)


def _sweep(args: argparse.Namespace) -> int:
    from crlbench.leaderboard.protocols import protocol
    from crlbench.leaderboard.runner import check_methods, sweep

    proto = protocol(args.protocol, args.tier)
    methods = list(proto.methods) if args.methods is None else [m.strip() for m in args.methods.split(",")]
    try:
        check_methods(methods)  # all of them, before any run starts
    except CrlbenchError as e:
        raise CrlbenchError(
            f"--methods {args.methods!r}: {str(e).rstrip('.')}; give comma-separated names (e.g. {','.join(proto.methods)}), "
            "or leave it out for the track's baselines"
        ) from None
    if args.dry_run:
        from crlbench.leaderboard.dry_run import DRY_RUN_RESULTS, dry_run, dry_run_sweep

        if args.official:
            raise CrlbenchError("--official with --dry-run: a dry run's records are never official; drop one of them")
        dry_run(proto)  # refuses other tiers
        results = DRY_RUN_RESULTS if args.results == Path("results") else args.results
        _folder("--results", results, create=False)
        report = dry_run_sweep(
            proto, methods, results, root=args.data, executor=_make_executor(args, 1 if proto.device == "cuda" else 0), progress=True
        )
    else:
        _folder("--results", args.results, create=False)
        report = sweep(
            proto,
            methods,
            args.results,
            executor=_make_executor(args, 1 if proto.device == "cuda" else 0),
            root=args.data,
            generate=not args.no_generate,
            progress=True,
            official=args.official,
        )
    print(f"{len(report.records)} runs finished, {len(report.failed)} failed")
    for unit, error in report.failed.items():
        print(f"  FAILED {unit}: {error}")
    return 1 if report.failed else 0


# --- card, submit ------------------------------------------------------------------------
def _card_args(p: argparse.ArgumentParser) -> None:
    from crlbench.datasets.card import DEFAULT_LICENSE, LICENSES

    p.add_argument("files", nargs="+", type=Path, metavar="FILE", help="complete dataset file(s) (.h5)")
    p.add_argument("--license", default=DEFAULT_LICENSE, choices=sorted(LICENSES), help=f"data licence (default {DEFAULT_LICENSE})")


def _card(args: argparse.Namespace) -> int:
    from crlbench.datasets.card import write_card

    for path in args.files:
        files = write_card(path, license=args.license)
        print(f"{path}: {files.markdown}, {files.croissant}, {files.figure}")
    return 0


def _yes_no(text: str) -> bool:
    answers = {"yes": True, "no": False, "true": True, "false": False}
    if text.lower() not in answers:
        raise argparse.ArgumentTypeError(f"answer yes or no, got {text!r}")
    return answers[text.lower()]


def _submit_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("results", type=Path, nargs="?", metavar="RESULTS_DIR", help="folder of the method's records (from `crlbench evaluate`)")
    p.add_argument("--method", help="the method as its records name it (the --method given to `crlbench evaluate`)")
    p.add_argument("--out", type=Path, help="the submission folder to create (must be new or empty)")
    p.add_argument("--name", help="the method's name on the board (default: --method)")
    p.add_argument("--version", help="the method's version (default: the records')")
    p.add_argument("--code", help="link to the method's code (https://...)")
    p.add_argument("--paper", help="link to the paper (https://...)")
    p.add_argument("--parameters", type=int, help="trainable parameters (default: crlbench's count in the records)")
    p.add_argument("--external-data", type=_yes_no, metavar="yes|no", help="did the method use data beyond the track's training split?")
    p.add_argument("--track", action="append", help="only this track (repeatable; default: every track with records)")
    p.add_argument("--check", type=Path, metavar="SUBMISSION_DIR", help="check an existing submission folder instead")


def _submit(args: argparse.Namespace) -> int:
    from crlbench.leaderboard.submit import load_submission, make_submission

    if args.check is not None:
        sub = load_submission(args.check)
    else:
        needed = {
            "RESULTS_DIR": args.results,
            "--method": args.method,
            "--out": args.out,
            "--code": args.code,
            "--external-data": args.external_data,
        }
        missing = [k for k, v in needed.items() if v is None]
        if missing:
            raise CrlbenchError(f"missing {', '.join(missing)} (or use --check SUBMISSION_DIR to check a folder)")
        sub = make_submission(
            args.results,
            args.out,
            method=args.method,
            code=args.code,
            external_data=args.external_data,
            version=args.version,
            paper=args.paper,
            n_parameters=args.parameters,
            tracks=args.track,
            name=args.name,
        )
    entries = sorted({(r.track, r.tier) for r in sub.records})
    seeds = {e: sorted(r.seed for r in sub.records if (r.track, r.tier) == e) for e in entries}
    print(
        f"{sub.path}: {sub.meta.name} {sub.meta.version}, complete: "
        + "; ".join(f"{t} ({tier}) seeds {','.join(map(str, s))}" for (t, tier), s in seeds.items())
    )
    return 0


# --- render, import ---------------------------------------------------------------------
def _render_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("scene", metavar="SCENE", help="registered image scene: causal3dident or causal-circuit")
    p.add_argument(
        "--latents",
        type=Path,
        required=True,
        metavar="FILE.npy",
        help="(N, D) states, columns in the scene's dimension order (`crlbench info` lists them)",
    )
    p.add_argument("--out", type=Path, required=True, metavar="FILE", help="FILE.npy: (N, H, W, 3) uint8 images; FILE.png: a grid of them")
    p.add_argument("--resolution", type=int, default=64, help="image side in pixels (default 64)")
    p.add_argument("--param", type=_key_value, action="append", default=[], metavar="KEY=VALUE", help="scene parameter override")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out file")


def _render(args: argparse.Namespace) -> int:
    from crlbench.simulators.render import render_file

    images = render_file(args.scene, args.latents, args.out, resolution=args.resolution, params=dict(args.param), overwrite=args.overwrite)
    print(f"{args.scene}: {len(images)} frames of {images.shape[1]}x{images.shape[2]} -> {args.out}")
    return 0


def _import_args(p: argparse.ArgumentParser) -> None:
    from crlbench.datasets.importers import FORMATS
    from crlbench.datasets.loaders import data_root

    p.add_argument("format", metavar="FORMAT", help="; ".join(f"{f.name}: {f.description}" for f in FORMATS.values()))
    p.add_argument("source", type=Path, metavar="FOLDER", help="folder holding the release's .npz files")
    p.add_argument("--out", type=Path, default=None, help=f"output folder (default $CRLBENCH_DATA, now {data_root()})")
    p.add_argument("--resolution", type=int, default=None, help="image side of the output (area-averaged); default the release's")
    p.add_argument(
        "--columns",
        default=None,
        help="ilcm-causalcircuit: the release's column order, e.g. arm,red,green,blue (default: read from the data)",
    )
    p.add_argument("--instantaneous", action="store_true", help="citris-causal3dident: the iCITRIS release (instantaneous graph)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def _import(args: argparse.Namespace) -> int:
    from crlbench.datasets.importers import import_release
    from crlbench.datasets.loaders import data_root

    options = {k: v for k, v in (("columns", args.columns), ("instantaneous", args.instantaneous)) if v}
    path = import_release(
        args.format,
        args.source,
        args.out or data_root(),
        resolution=args.resolution,
        overwrite=args.overwrite,
        progress=not args.no_progress,
        **options,
    )
    print(f"{args.format}: {path}")
    return 0


COMMANDS: dict[str, tuple[str, Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], int]]] = {
    "ls": ("list registered dataset ids", _ls_args, _ls),
    "info": ("variables, graph, splits and spec hash of a dataset id", _info_args, _info),
    "generate": ("generate datasets as HDF5 (resumable)", _generate_args, _generate),
    "verify": ("check a file against its manifest (and regeneration)", _verify_args, _verify),
    "render": ("render given latent states of an image scene (.npy or a PNG grid)", _render_args, _render),
    "import": ("convert an original release (CITRIS Causal3DIdent, ILCM CausalCircuit) into a crlbench file", _import_args, _import),
    "leaderboard": ("build the leaderboard (Markdown, CSV, HTML) from result records", _leaderboard_args, _leaderboard),
    "train": ("train a method on a dataset into a run directory (resumable)", _train_args, _train),
    "tracks": ("list benchmark tracks and their protocols", _tracks_args, _tracks),
    "evaluate": ("train and score a method on a track, or score a predictions file", _evaluate_args, _evaluate),
    "sweep": ("every (method, seed) of a protocol, on local processes or Ray", _sweep_args, _sweep),
    "card": ("write the dataset card (Markdown) and Croissant metadata beside dataset files", _card_args, _card),
    "submit": ("collect a method's records and metadata into a checked submission folder", _submit_args, _submit),
}


def build_parser() -> argparse.ArgumentParser:
    from crlbench import __version__

    parser = _Parser(prog="crlbench", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"crlbench {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (help_, setup, action) in COMMANDS.items():
        p = sub.add_parser(name, help=help_, description=help_)
        setup(p)
        p.set_defaults(action=action, subparser=p)
    return parser


_OS_FIXES = {
    errno.ENOENT: "check the path",
    errno.EACCES: "choose a location you may read and write",
    errno.EROFS: "choose a writable location",
    errno.ENOTDIR: "a file stands where a folder is needed: choose another path",
    errno.EISDIR: "name a file, not a folder",
    errno.EEXIST: "a file stands where a folder is needed: choose another path",
    errno.ENOSPC: "free some disk space, then run the same command again",
}


def _os_message(args: argparse.Namespace, e: OSError) -> str:
    """One line for an OS error: the command-line argument whose path it is, and a fix."""
    where = str(e.filename or "")
    positional = {"ids": "ID", "files": "FILE"}
    if getattr(args, "leaderboard_command", None):
        positional["results"] = "RESULTS_DIR"
    arg = ""
    for dest, value in vars(args).items():
        for v in value if isinstance(value, list) else [value]:
            text = str(v).rstrip("/") if isinstance(v, (str, Path)) else ""
            if text and where and (where == text or where.startswith(text + "/") or text.startswith(where + "/")):
                arg = f"{positional.get(dest, '--' + dest.replace('_', '-'))} {v}: "
    fix = _OS_FIXES.get(e.errno or 0, "check the path and its permissions")
    return f"{arg}{where or 'a file'}: {e.strerror or e}; {fix}"


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args, extra = build_parser().parse_known_args(argv)
        if extra:  # reported by the subcommand, which names its own --help
            args.subparser.error(f"unrecognized arguments: {' '.join(extra)}")
    except SystemExit as e:  # usage errors (one line, exit 2), --help and --version (exit 0)
        return int(e.code or 0)
    try:
        return args.action(args)
    except CrlbenchError as e:
        print(f"crlbench {args.command}: error: {e}", file=sys.stderr)
        return 2
    except OSError as e:  # a path of the command line that cannot be read or written
        print(f"crlbench {args.command}: error: {_os_message(args, e)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; run the same command again to resume", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
