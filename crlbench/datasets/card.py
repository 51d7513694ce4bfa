"""Dataset cards: a Markdown card (Hugging Face front matter) and Croissant 1.1 JSON-LD.

Both are generated from what a dataset file holds (its spec, variable table, graphs and
arrays) plus the registry's description and changelog, never typed by hand:

- ``<stem>.md``: YAML front matter as the Hugging Face Hub reads it (licence, pretty name,
  size category, ``annotations_creators: machine-generated``, source datasets, splits),
  then the variables with kinds and ranges, the causal graphs (figure and edge lists), the
  intervention policy, splits and sizes, spec hash and file checksum, the exact command that
  regenerates the file, the data licence, software versions and the changelog of the
  dataset id's versions (``crlbench.registry.CHANGELOG``);
- ``<stem>.croissant.json``: Croissant 1.1 metadata (MLCommons; ``mlcroissant`` reads it):
  the HDF5 file as a ``FileObject`` with its sha256, and the variables, splits and graph
  edges as record sets with inline data;
- ``<stem>.graphs.png``: the temporal (t-1 -> t) and instantaneous graphs.

:func:`crlbench.datasets.build.generate` and :func:`crlbench.datasets.importers.import_release`
write a card beside every file they make; ``crlbench card FILE.h5`` writes one for any
complete file. An imported file's card names the release, its input files with their
sha256 and the ``crlbench import`` command instead of ``crlbench generate``.
"""

from __future__ import annotations

import json
import math
import shlex
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from crlbench.datasets import storage
from crlbench.datasets.spec import DatasetSpec
from crlbench.errors import CrlbenchError
from crlbench.simulators.base import CausalGraph, Variable

__all__ = [
    "DEFAULT_LICENSE",
    "LICENSES",
    "CardFiles",
    "card_paths",
    "regenerate_command",
    "import_command",
    "draw_graph",
    "render_card",
    "croissant",
    "write_card",
]

#: The licence of generated data (an SPDX id as the Hugging Face Hub spells it).
DEFAULT_LICENSE = "cc-by-4.0"
#: Hub licence id -> (name, SPDX URL) for the licences a card may name.
LICENSES = {
    "cc-by-4.0": ("Creative Commons Attribution 4.0", "https://spdx.org/licenses/CC-BY-4.0.html"),
    "cc0-1.0": ("Creative Commons Zero 1.0", "https://spdx.org/licenses/CC0-1.0.html"),
    "cc-by-sa-4.0": ("Creative Commons Attribution-ShareAlike 4.0", "https://spdx.org/licenses/CC-BY-SA-4.0.html"),
    "mit": ("MIT", "https://spdx.org/licenses/MIT.html"),
}
#: The Croissant 1.1 JSON-LD context (as the specification publishes it).
_CONTEXT: dict[str, Any] = {
    "@language": "en",
    "@vocab": "https://schema.org/",
    "citeAs": "cr:citeAs",
    "column": "cr:column",
    "conformsTo": "dct:conformsTo",
    "cr": "http://mlcommons.org/croissant/",
    "rai": "http://mlcommons.org/croissant/RAI/",
    "data": {"@id": "cr:data", "@type": "@json"},
    "dataType": {"@id": "cr:dataType", "@type": "@vocab"},
    "dct": "http://purl.org/dc/terms/",
    "equivalentProperty": "cr:equivalentProperty",
    "examples": {"@id": "cr:examples", "@type": "@json"},
    "extract": "cr:extract",
    "field": "cr:field",
    "fileProperty": "cr:fileProperty",
    "fileObject": "cr:fileObject",
    "fileSet": "cr:fileSet",
    "format": "cr:format",
    "includes": "cr:includes",
    "isLiveDataset": "cr:isLiveDataset",
    "jsonPath": "cr:jsonPath",
    "key": "cr:key",
    "md5": "cr:md5",
    "parentField": "cr:parentField",
    "path": "cr:path",
    "recordSet": "cr:recordSet",
    "references": "cr:references",
    "regex": "cr:regex",
    "repeated": "cr:repeated",
    "replace": "cr:replace",
    "samplingRate": "cr:samplingRate",
    "sc": "https://schema.org/",
    "separator": "cr:separator",
    "source": "cr:source",
    "subField": "cr:subField",
    "transform": "cr:transform",
}
_CROISSANT_1_1 = "http://mlcommons.org/croissant/1.1"
#: Hugging Face size buckets: (upper bound, label).
_SIZE_CATEGORIES = [
    (10**3, "n<1K"),
    (10**4, "1K<n<10K"),
    (10**5, "10K<n<100K"),
    (10**6, "100K<n<1M"),
    (10**7, "1M<n<10M"),
    (10**8, "10M<n<100M"),
    (10**9, "100M<n<1B"),
]
_SPLIT_MEANING = {
    "sequence": "one rollout; the size is its length in steps",
    "pairs": "(pre, post) intervention pairs sharing exogenous noise",
    "triplets": "(first, second, mix) states; the mix is rendered anew",
    "states": "i.i.d. single states (metric probes)",
}


@dataclass(frozen=True)
class CardFiles:
    """The files of one card: Markdown, Croissant JSON-LD, graph figure."""

    markdown: Path
    croissant: Path
    figure: Path


def card_paths(h5: str | Path) -> CardFiles:
    """``<stem>.md``, ``<stem>.croissant.json`` and ``<stem>.graphs.png`` beside ``h5``."""
    h5 = Path(h5)
    stem = h5.with_suffix("")
    return CardFiles(Path(f"{stem}.md"), Path(f"{stem}.croissant.json"), Path(f"{stem}.graphs.png"))


# --- what the file holds -----------------------------------------------------------------
@dataclass(frozen=True)
class _Info:
    path: Path
    spec: DatasetSpec
    variables: tuple[Variable, ...]
    graph: CausalGraph
    arrays: dict[str, dict[str, tuple[tuple[int, ...], str]]]  # split -> name -> (shape, dtype)
    versions: dict[str, str]
    crlbench_version: str
    sha256: str
    size: int
    source: dict[str, Any] | None  # an imported file's origin


def _read(path: Path) -> _Info:
    from crlbench.datasets.importers import SOURCE_ATTR, sha256_file  # noqa: PLC0415 - the importers write cards too

    with storage.open_file(path) as f:
        spec = storage.read_spec(f)
        arrays: dict[str, dict[str, tuple[tuple[int, ...], str]]] = {}
        for key, ds in storage.iter_arrays(f):
            split, name = key.split("/", 1)
            arrays.setdefault(split, {})[name] = (tuple(ds.shape), str(ds.dtype))
        info = dict(
            spec=spec,
            variables=storage.read_variables(f),
            graph=storage.read_graph(f),
            arrays={s: arrays[s] for s in spec.splits if s in arrays},
            versions=json.loads(str(f.attrs.get("versions", "{}"))),
            crlbench_version=str(f.attrs.get("crlbench_version", "unknown")),
            source=json.loads(str(f.attrs[SOURCE_ATTR])) if SOURCE_ATTR in f.attrs else None,
        )
    return _Info(path=path, sha256=sha256_file(path), size=path.stat().st_size, **info)


# --- the regenerate command ----------------------------------------------------------------
def _preset(spec: DatasetSpec) -> tuple[str, dict[str, int]]:
    """The registry's size preset nearest to the spec's splits, and the overrides left."""
    from crlbench.registry import dataset_entry  # noqa: PLC0415

    sizes = dataset_entry(spec.dataset_id).sizes
    best = min(sizes, key=lambda k: sum(sizes[k].get(s) != n for s, n in spec.splits.items()) + len(set(sizes[k]) - set(spec.splits)))
    return best, {s: n for s, n in spec.splits.items() if sizes[best].get(s) != n}


def import_command(source: dict[str, Any], spec: DatasetSpec, out: str = "DIR") -> str:
    """The ``crlbench import`` command that made an imported file (FOLDER: the release's)."""
    args = ["crlbench", "import", str(source.get("format", "FORMAT")), "FOLDER", "--out", out]
    res = source.get("resolution") or {}
    if res.get("stored") is not None and res.get("stored") != res.get("release"):
        args += ["--resolution", str(res["stored"])]
    for key, value in sorted((source.get("options") or {}).items()):
        if value is True:
            args.append(f"--{key}")
        elif isinstance(value, str) and value.startswith("inferred"):
            continue  # the importer found it from the data: the command finds it again
        elif value not in (None, False, ""):
            args += [f"--{key}", ",".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)]
    return " ".join(shlex.quote(a) for a in args)


def _description(info: _Info) -> str:
    from crlbench.registry import DATASETS  # noqa: PLC0415

    if info.spec.dataset_id in DATASETS:
        return DATASETS[info.spec.dataset_id].description
    if info.source:
        return f"{info.source.get('description') or info.source.get('format')}, imported into crlbench's layout"
    return f"{info.spec.scene} {info.spec.mode} dataset"


def regenerate_command(spec: DatasetSpec, out: str = "DIR") -> tuple[str, bool]:
    """The ``crlbench generate`` command whose spec is ``spec``, and whether it is exact.

    Scene parameters that differ from the registry's become ``--param KEY=JSON``, other
    split sizes ``--split NAME=N``. The policy and render settings have no options: a spec
    that changes them is not reproducible from the command line (``False``; use the Python
    API with the spec JSON of the card).
    """
    from crlbench.registry import dataset_entry  # noqa: PLC0415

    entry = dataset_entry(spec.dataset_id)
    size, splits = _preset(spec)
    args = ["crlbench", "generate", spec.dataset_id, "--out", out, "--size", size, "--seed", str(spec.seed)]
    base = entry.spec(size=size, seed=spec.seed)
    if spec.resolution != base.resolution:
        args += ["--resolution", str(spec.resolution)]
    for key, value in sorted(spec.params.items()):
        if base.params.get(key) != value:
            args += ["--param", f"{key}={json.dumps(value, separators=(',', ':'))}"]
    for name, n in sorted(splits.items()):
        args += ["--split", f"{name}={n}"]
    made = replace(base, params=spec.params, resolution=spec.resolution, splits=spec.splits)
    return " ".join(shlex.quote(a) for a in args), made.hash == spec.hash


# --- figure -------------------------------------------------------------------------------
def _short(text: str, n: int = 8) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def draw_graph(ax: Any, true: np.ndarray, learned: np.ndarray | None, names: Sequence[str], title: str) -> None:
    """A graph on a circle. Without ``learned``: the edges of ``true`` in dark grey. With it:
    true edges found green, spurious red, missed dashed grey; a learned edge's width and
    opacity = its value in [0, 1] (e.g. the fraction of seeds that found it)."""
    k = len(true)
    theta = np.pi / 2 - 2 * np.pi * np.arange(k) / k
    pos = np.stack([np.cos(theta), np.sin(theta)], 1)
    ax.set_xlim(-1.45, 1.45)
    ax.set_ylim(-1.45, 1.45)
    ax.set_aspect("equal")
    ax.set_axis_off()
    ax.set_title(title, fontsize=10)

    def arrow(i: int, j: int, **kw: Any) -> None:
        ax.annotate(
            "", xy=pos[j], xytext=pos[i], arrowprops=dict(arrowstyle="-|>", shrinkA=11, shrinkB=11, connectionstyle="arc3,rad=0.12", **kw)
        )

    for i, j in zip(*np.nonzero(true)):
        if i == j:
            continue
        if learned is None:
            arrow(i, j, color="0.25", lw=1.5)
        elif learned[i, j] == 0:
            arrow(i, j, color="0.6", lw=1.0, ls="--")
    if learned is not None:
        for i, j in zip(*np.nonzero(learned)):
            f = float(min(max(learned[i, j], 0.0), 1.0))
            arrow(i, j, color="tab:green" if true[i, j] else "tab:red", lw=0.8 + 1.7 * f, alpha=0.35 + 0.65 * f)
    for (x, y), name in zip(pos, names):
        ax.text(x, y, _short(str(name)), ha="center", va="center", fontsize=8, bbox=dict(boxstyle="circle", fc="white", ec="0.3"))


def _draw_temporal(ax: Any, adj: np.ndarray, names: Sequence[str]) -> None:
    """Parents at t-1 (left column) -> children at t (right column)."""
    k = len(adj)
    y = np.linspace(1, -1, k) if k > 1 else np.zeros(1)
    ax.set_xlim(-1.5, 1.5)
    ax.set_ylim(-1.35, 1.35)
    ax.set_axis_off()
    ax.set_title("temporal graph (t-1 -> t)", fontsize=10)
    for i, j in zip(*np.nonzero(adj)):
        ax.annotate(
            "", xy=(0.8, y[j]), xytext=(-0.8, y[i]), arrowprops=dict(arrowstyle="-|>", shrinkA=12, shrinkB=12, color="0.25", lw=1.2)
        )
    for x, label in ((-0.8, "t-1"), (0.8, "t")):
        ax.text(x, 1.3, label, ha="center", fontsize=9)
        for yy, name in zip(y, names):
            ax.text(x, yy, _short(str(name)), ha="center", va="center", fontsize=8, bbox=dict(boxstyle="round", fc="white", ec="0.3"))


def _write_figure(info: _Info, path: Path) -> None:
    from matplotlib.figure import Figure  # noqa: PLC0415 - no pyplot: no global state

    names = [v.name for v in info.variables]
    panels = [g for g, adj in (("temporal", info.graph.temporal), ("instantaneous", info.graph.instantaneous)) if adj.any()]
    panels = panels or ["instantaneous"]
    fig = Figure(figsize=(3.2 * len(panels), 3.2))
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, name in zip(axes, panels):
        if name == "temporal":
            _draw_temporal(ax, info.graph.temporal, names)
        else:
            draw_graph(ax, info.graph.instantaneous, None, names, "instantaneous graph (at t)")
    tmp = path.with_name(path.name + ".tmp")
    fig.savefig(tmp, format="png", dpi=90)
    tmp.replace(path)


# --- the card -----------------------------------------------------------------------------
def _size_category(n: int) -> str:
    return next((label for bound, label in _SIZE_CATEGORIES if n < bound), "n>1B")


def _range(v: Variable) -> str:
    if v.kind == "categorical":
        return f"{v.n_categories} categories"
    if v.kind == "angle":
        return "[0, 2π) radians, circular"
    return f"[{v.low:g}, {v.high:g}]"


def _edges(adj: np.ndarray, names: Sequence[str]) -> list[tuple[str, str]]:
    return [(names[i], names[j]) for i, j in zip(*np.nonzero(adj))]


def _policy_text(spec: DatasetSpec) -> str:
    from crlbench.simulators.policies import POLICIES  # noqa: PLC0415

    if spec.policy == "imported":
        return "`imported`: the targets are the release's own"
    doc = (POLICIES[spec.policy].__doc__ or "").strip().splitlines() if spec.policy in POLICIES else []
    params = ", ".join(f"{k}={v!r}" for k, v in sorted(spec.policy_params.items())) or "defaults"
    text = doc[0].replace("``", "`").rstrip(".") if doc else "see crlbench.simulators.policies"
    return f"`{spec.policy}` ({params}): {text}"


def _observation(info: _Info) -> str:
    for split in info.arrays.values():
        for name, (shape, dtype) in split.items():
            if name == "images":
                return f"RGB images {shape[-3]}x{shape[-2]} ({dtype})"
            if name == "observations":
                return f"vectors of {shape[-1]} dimensions ({dtype})"
    return "none"


def _yaml(value: Any) -> str:
    """A YAML scalar: JSON quoting is valid YAML and never misreads a value."""
    return json.dumps(value, ensure_ascii=False)


def render_card(info: _Info, *, license: str = DEFAULT_LICENSE, figure: str | None = None) -> str:
    """The Markdown card (front matter + body) of a dataset file's :class:`_Info`."""
    from crlbench.registry import CHANGELOG  # noqa: PLC0415

    spec = info.spec
    names = [v.name for v in info.variables]
    total = sum(spec.splits.values())
    lic_name, lic_url = LICENSES[license]
    meshes = spec.params.get("meshes") or {}
    user_meshes = {k: v for k, v in meshes.items() if isinstance(v, str) and "#sha256=" in v}
    front = [
        "---",
        f"pretty_name: {_yaml(f'{spec.dataset_id} (crlbench)')}",
        f"license: {license}",
        "annotations_creators:\n- machine-generated",
        "language_creators:\n- machine-generated",
        "source_datasets:\n- " + (_yaml(str(info.source.get("format"))) if info.source else "original"),
        f"size_categories:\n- {_size_category(total)}",
        "task_categories:\n- other",
        "tags:\n- causal-representation-learning\n- crlbench\n- synthetic\n" + f"- {_yaml(spec.scene)}\n- {_yaml(spec.mode)}",
        "configs:\n- config_name: default\n  data_files:\n" + f"  - split: train\n    path: {_yaml(info.path.name)}",
        "dataset_info:\n  splits:\n" + "\n".join(f"  - name: {s}\n    num_examples: {n}" for s, n in spec.splits.items()),
        f"  dataset_size: {info.size}",
        "---",
    ]
    out = [
        "\n".join(front),
        f"# {spec.dataset_id}",
        "",
        f"{_description(info)}. {'Imported' if info.source else 'Generated'} by crlbench {info.crlbench_version}; "
        "every split of the HDF5 file is listed under Splits (the `configs` entry names the file, "
        "which holds them all).",
        "",
        "| | |",
        "|---|---|",
        f"| scene | `{spec.scene}` v{spec.scene_version} |",
        f"| mode | {spec.mode} |",
        f"| observations | {_observation(info)} |",
        f"| causal variables | {len(info.variables)} ({sum(v.size for v in info.variables)} dimensions) |",
        f"| seed | {spec.seed} |",
        f"| file | `{info.path.name}`, {info.size:,} bytes |",
        f"| file sha256 | `{info.sha256}` |",
        f"| spec hash | `{spec.hash}` |",
        "",
        "## Variables",
        "",
        "| variable | kind | range | dimensions |",
        "|---|---|---|---|",
        *(f"| {v.name} | {v.kind} | {_range(v)} | {', '.join(v.dim_names)} |" for v in info.variables),
        "",
        "## Causal graphs",
        "",
    ]
    if figure:
        out += [f"![causal graphs of {spec.dataset_id}]({figure})", ""]
    for label, adj in (
        ("Temporal (parent at t-1 -> child at t)", info.graph.temporal),
        ("Instantaneous (parent -> child at t)", info.graph.instantaneous),
    ):
        edges = _edges(adj, names)
        out.append(f"- {label}: " + (", ".join(f"{a} -> {b}" for a, b in edges) if edges else "none"))
    out += [
        "",
        "## Intervention policy",
        "",
        f"Targets are drawn by the policy {_policy_text(spec)}. Intervened variables are resampled "
        "from the scene's intervention distribution; in pairs, descendants are recomputed with the "
        "same exogenous noise.",
        "",
        "## Splits",
        "",
        "| split | size | what one example is | arrays |",
        "|---|--:|---|---|",
    ]
    for split, n in spec.splits.items():
        arrays = "; ".join(f"{k} {shape} {dtype}" for k, (shape, dtype) in info.arrays.get(split, {}).items())
        out.append(f"| {split} | {n} | {_SPLIT_MEANING[spec.split_kind(split)]} | {arrays} |")
    out += ["", "## Regenerate", ""] + (_import_section(info) if info.source else _generate_section(spec))
    out += [
        "",
        "Spec (canonical JSON, its sha256 is the spec hash):",
        "",
        "```json",
        spec.to_json(),
        "```",
        "",
        "## Licence",
        "",
        f"The data is released under {lic_name} ([{license}]({lic_url})); crlbench, which generates it, is MIT-licensed.",
    ]
    if info.source:
        out.append("It is converted from a published release: the release's own licence and terms apply to it.")
    if user_meshes:
        out.append(
            "It contains renders of user-supplied meshes ("
            + ", ".join(f"`{k}`" for k in sorted(user_meshes))
            + "), pinned by sha256: their own licences apply too."
        )
    out += [
        "",
        "## Software",
        "",
        "| package | version |",
        "|---|---|",
        f"| crlbench | {info.crlbench_version} |",
        *(f"| {k} | {v} |" for k, v in sorted(info.versions.items())),
        "",
        f"## Changelog of `{spec.scene}` datasets",
        "",
        "| version | date | change |",
        "|---|---|---|",
    ]
    out += [f"| v{v} | {date} | {text} |" for v, date, text in CHANGELOG.get(spec.scene, ())]
    return "\n".join(out) + "\n"


def _generate_section(spec: DatasetSpec) -> list[str]:
    command, exact = regenerate_command(spec)
    out = [
        "```bash",
        command,
        f"crlbench verify DIR/{spec.dataset_id}.h5 --regenerate",
        "```",
        "",
        "The same spec and seed give bit-identical latents, targets, noise and vector observations; "
        "rendered images match within a tolerance (renderers are not bit-stable across machines), "
        "so the file checksum above is this copy's and `crlbench verify` is the check of canonicity.",
    ]
    if not exact:
        out += [
            "",
            "This spec changes settings that have no command-line option; regenerate it from Python:",
            "",
            "```python",
            "from crlbench.datasets.build import generate",
            "from crlbench.datasets.spec import DatasetSpec",
            f"generate(DatasetSpec.from_json({spec.to_json()!r}), 'DIR')",
            "```",
        ]
    return out


def _import_section(info: _Info) -> list[str]:
    src = info.source or {}
    files = sorted((src.get("files") or {}).items())
    return [
        f"Imported from the release `{src.get('format')}` (FOLDER holds its files, checked by sha256):",
        "",
        "```bash",
        import_command(src, info.spec),
        f"crlbench verify DIR/{info.spec.dataset_id}.h5 --regenerate",
        "```",
        "",
        "| release file | sha256 |",
        "|---|---|",
        *(f"| {name} | `{digest}` |" for name, digest in files),
    ]


def croissant(info: _Info, *, license: str = DEFAULT_LICENSE) -> dict[str, Any]:
    """Croissant 1.1 JSON-LD of a dataset file's :class:`_Info` (see the module docstring)."""
    spec = info.spec
    names = [v.name for v in info.variables]
    did = spec.dataset_id

    def field(rs: str, name: str, dtype: str, desc: str) -> dict[str, Any]:
        return {"@type": "cr:Field", "@id": f"{rs}/{name}", "name": name, "description": desc, "dataType": dtype}

    def record_set(rs: str, desc: str, fields: list[dict[str, Any]], rows: list[dict[str, Any]], key: str) -> dict[str, Any]:
        data = [{f"{rs}/{k}": v for k, v in row.items()} for row in rows]
        return {
            "@type": "cr:RecordSet",
            "@id": rs,
            "name": rs,
            "description": desc,
            "key": {"@id": f"{rs}/{key}"},
            "field": fields,
            "data": data,
        }

    variables = record_set(
        "variables",
        "The causal variables: kind and range (continuous: [low, high]; angle: radians; categorical: n categories).",
        [
            field("variables", "name", "sc:Text", "variable name"),
            field("variables", "kind", "sc:Text", "continuous, angle or categorical"),
            field("variables", "low", "sc:Float", "lower end of the range"),
            field("variables", "high", "sc:Float", "upper end of the range"),
            field("variables", "n_categories", "sc:Integer", "categories (0 unless categorical)"),
            field("variables", "dims", "sc:Text", "dimension names, comma-separated"),
        ],
        [
            {
                "name": v.name,
                "kind": v.kind,
                "low": _finite(v.low),
                "high": _finite(v.high),
                "n_categories": int(v.n_categories),
                "dims": ",".join(v.dim_names),
            }
            for v in info.variables
        ],
        "name",
    )
    splits = record_set(
        "splits",
        "The splits of the HDF5 file (groups /<split>/).",
        [
            field("splits", "name", "sc:Text", "split name (HDF5 group)"),
            field("splits", "kind", "sc:Text", "sequence, pairs, triplets or states"),
            field("splits", "num_examples", "sc:Integer", "examples (sequence length for sequences)"),
        ],
        [{"name": s, "kind": spec.split_kind(s), "num_examples": int(n)} for s, n in spec.splits.items()],
        "name",
    )
    edges = [
        {"id": f"{kind}:{a}->{b}", "graph": kind, "parent": a, "child": b}
        for kind, adj in (("temporal", info.graph.temporal), ("instantaneous", info.graph.instantaneous))
        for a, b in _edges(adj, names)
    ]
    graph = record_set(
        "graph_edges",
        "Edges of the causal graphs: temporal (parent at t-1, child at t) and instantaneous (both at t).",
        [
            field("graph_edges", "id", "sc:Text", "edge id"),
            field("graph_edges", "graph", "sc:Text", "temporal or instantaneous"),
            field("graph_edges", "parent", "sc:Text", "parent variable"),
            field("graph_edges", "child", "sc:Text", "child variable"),
        ],
        edges,
        "id",
    )
    command = import_command(info.source, spec) if info.source else regenerate_command(spec)[0]
    return {
        "@context": _CONTEXT,
        "@type": "sc:Dataset",
        "name": did,
        "description": f"{_description(info)}. Spec hash {spec.hash}. Regenerate: {command}",
        "conformsTo": _CROISSANT_1_1,
        "citeAs": f"crlbench dataset {did}, spec {spec.hash}",
        "creator": {"@type": "sc:Organization", "name": "crlbench"},
        "datePublished": datetime.fromtimestamp(info.path.stat().st_mtime, timezone.utc).date().isoformat(),
        "license": LICENSES[license][1],
        "url": info.path.name,
        "version": f"{spec.scene_version}.0.0",
        "keywords": ["causal representation learning", "interventions", spec.scene, spec.mode],
        "distribution": [
            {
                "@type": "cr:FileObject",
                "@id": info.path.name,
                "name": info.path.name,
                "description": "HDF5 file: spec and manifest in the root attributes, /variables, /graph, one group per split",
                "contentSize": f"{info.size} B",
                "contentUrl": info.path.name,
                "encodingFormat": "application/x-hdf5",
                "sha256": info.sha256,
            }
        ],
        "recordSet": [variables, splits, graph] if edges else [variables, splits],
    }


def _finite(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


def write_card(h5: str | Path, *, license: str = DEFAULT_LICENSE) -> CardFiles:
    """Write the card, the Croissant file and the graph figure beside a complete file.

    Raises:
        DataFileError: the file is missing, incomplete or not a crlbench dataset.
        CrlbenchError: an unknown licence id.
    """
    if license not in LICENSES:
        raise CrlbenchError(f"unknown licence {license!r}; use one of {', '.join(LICENSES)}")
    h5 = Path(h5)
    info = _read(h5)
    files = card_paths(h5)
    _write_figure(info, files.figure)
    _write_text(files.markdown, render_card(info, license=license, figure=files.figure.name))
    _write_text(files.croissant, json.dumps(croissant(info, license=license), indent=1, ensure_ascii=False) + "\n")
    return files


def _write_text(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
