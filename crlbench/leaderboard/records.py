"""Result records: one JSON file per (method, track, tier, seed) run, validated on load.

A record carries its provenance: method and version, track and tier, protocol hash,
dataset id and hash, seed, every metric with its per-variable breakdown, how latents were
assigned to variables, deviations from the protocol, hardware (CPU model, GPU name), wall
time, parameter count, crlbench version and commit, the versions of the packages that shape
the numbers (``software``) and the numeric precision. ``docs/leaderboard.md`` lists every
field. ``software`` and ``precision`` came later than the first records: a record without
them still reads (schema version 1), and :meth:`ResultRecord.create` always fills them.

Official records (``ResultRecord.create(official=True)``, ``crlbench sweep --official``)
are refused unless crlbench runs from a clean git checkout, so an official number always
names the exact code that made it.

Validation is strict (unknown fields are refused, so a typo is not silently dropped) and
every error is a :class:`RecordError` whose message names the field, and the file when the
record came from one. Whether a dataset hash is the one a track's protocol fixes is decided
by an optional hook ``expected_hash(track, tier) -> str | None`` (``None``: not checked).

Example:
    >>> rec = ResultRecord.from_dict(json.loads(text), expected_hash=my_protocol_hashes)
    >>> rec.save("results/toy-son-pairs-v1/smoke/beta-vae-seed0.json")
    >>> records = load_records("results")  # every *.json below, validated
"""

from __future__ import annotations

import json
import math
import os
import platform
import re
import subprocess
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from crlbench.errors import CrlbenchError

__all__ = [
    "SCHEMA_VERSION",
    "TIERS",
    "DRY_RUN_TIER",
    "ASSIGNMENTS",
    "RecordError",
    "ExpectedHash",
    "ResultRecord",
    "validate_record",
    "load_record",
    "load_records",
    "provenance",
    "SOFTWARE",
    "clean_commit",
    "run_precision",
    "run_stages",
    "record_path",
    "record_location",
    "safe_name",
]

#: The schema this crlbench writes and reads.
SCHEMA_VERSION = 1
#: The tiers, smallest first (what each is for: docs/leaderboard.md, "Tiers").
TIERS = ("smoke", "cpu", "paper")
#: Tier of paper-tier dry runs (:mod:`crlbench.leaderboard.dry_run`): readable records that no
#: protocol, table or submission accepts.
DRY_RUN_TIER = "paper-dry-run"
#: How latents were mapped to causal variables: by the method itself, by matching on
#: held-out data after training, or not at all (metrics that need none).
ASSIGNMENTS = ("learned", "post-hoc", "none")

#: ``expected_hash(track, tier)``: the dataset hash a track's protocol fixes (graph -> hash
#: where it covers several graphs), or ``None``.
ExpectedHash = Callable[[str, str], str | Mapping[int, str] | None]

_HEX64 = re.compile(r"[0-9a-f]{64}")

#: Distributions whose versions shape a run's numbers (kernels, RNG streams, probes, data
#: files, renderers); a record lists each, ``null`` when it is not installed.
SOFTWARE = ("torch", "numpy", "scipy", "scikit-learn", "h5py", "mujoco", "bpy")
#: Precision of a run whose config names none (the training loop's default).
DEFAULT_PRECISION = "fp32"


class RecordError(CrlbenchError):
    """A result record that is malformed; the message names the field (and the file)."""


@dataclass(frozen=True)
class ResultRecord:
    """One evaluated run. Field meanings and units: ``docs/leaderboard.md``.

    The dict fields are plain dicts (JSON-shaped); treat them as read-only.
    """

    schema_version: int
    method: str
    method_version: str
    track: str
    tier: str
    protocol_hash: str
    dataset_id: str
    dataset_hash: str
    seed: int
    metrics: dict[str, float]
    per_variable: dict[str, dict[str, float]]
    assignment: str
    deviations: list[str]
    hardware: dict[str, Any]
    wall_time_s: float
    n_parameters: int
    crlbench_version: str
    commit: str
    created: str
    artifacts: dict[str, Any] = field(default_factory=dict)
    software: dict[str, str | None] = field(default_factory=dict)
    precision: str = ""
    graph: int | None = None
    stages: dict[str, str] = field(default_factory=dict)

    # --- construction ------------------------------------------------------------------
    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, expected_hash: ExpectedHash | None = None) -> ResultRecord:
        """Validate a JSON-shaped dict (see :func:`validate_record`) and build the record."""
        return cls(**validate_record(data, expected_hash=expected_hash))

    @classmethod
    def create(cls, *, official: bool = False, **values: Any) -> ResultRecord:
        """A new record: :func:`provenance` fills schema, version, commit, time, hardware,
        software versions and precision (``fp32`` unless given).

        Values given explicitly win; ``artifacts`` numpy arrays become nested lists.

        Args:
            official: An official record: refused (:class:`RecordError`) unless the commit
                is clean (see :func:`clean_commit`).
        """
        data = {"schema_version": SCHEMA_VERSION, "deviations": [], "per_variable": {}, "precision": DEFAULT_PRECISION, **values}
        missing = {"crlbench_version", "commit", "created", "hardware", "software"} - set(values)
        if missing:
            data.update(provenance(sorted(missing)))
        if official:
            clean_commit(data["commit"])
        if "artifacts" in data:
            data["artifacts"] = {k: _tolist(v) for k, v in data["artifacts"].items()}
        return cls.from_dict(data)

    # --- output ------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """A JSON-shaped dict (deep copy); empty optional fields are left out, so a record
        read from an older file is written back unchanged."""
        d = asdict(self)
        for name in _OPTIONAL:
            if d[name] is None or d[name] in ({}, ""):  # graph 0 is a value, not empty
                del d[name]
        return d

    def to_json(self) -> str:
        """Canonical JSON text: two-space indent, keys in schema order, trailing newline.

        Each artifact takes one compact line: indented, an image kept as nested lists would
        take a line per number (a 32 px triplet example: 1 MB instead of 90 kB).
        """
        d = self.to_dict()
        artifacts = d.pop("artifacts", None)
        d = {k: d[k] for k in _FIELD_ORDER if k in d}  # provenance before the (long) artifacts
        text = json.dumps(d, indent=2, allow_nan=False)
        if artifacts is None:
            return text + "\n"
        lines = [f"    {json.dumps(k)}: {json.dumps(v, separators=(',', ':'), allow_nan=False)}" for k, v in artifacts.items()]
        return text[: -len("\n}")] + ',\n  "artifacts": {\n' + ",\n".join(lines) + "\n  }\n}\n"

    def save(self, path: str | Path) -> Path:
        """Write :meth:`to_json` to ``path`` (parents created, atomic rename)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(self.to_json(), encoding="utf-8")
        os.replace(tmp, path)
        return path


# --- validation ---------------------------------------------------------------------------
def _fail(name: str, problem: str) -> RecordError:
    return RecordError(f"{name}: {problem}")


def _type(x: Any) -> str:
    return "null" if x is None else type(x).__name__


def _str(data: Mapping[str, Any], name: str) -> str:
    v = data[name]
    if not isinstance(v, str):
        raise _fail(name, f"expected a string, got {_type(v)} {v!r}")
    if not v.strip():
        raise _fail(name, "must not be empty")
    return v


def _int(v: Any, name: str, minimum: int = 0) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        raise _fail(name, f"expected an integer, got {_type(v)} {v!r}")
    if v < minimum:
        raise _fail(name, f"must be >= {minimum}, got {v}")
    return v


def _float(v: Any, name: str) -> float:
    """A finite number (ints accepted, booleans refused)."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise _fail(name, f"expected a number, got {_type(v)} {v!r}")
    if not math.isfinite(v):
        raise _fail(name, f"must be finite, got {v}")
    return float(v)


def _choice(data: Mapping[str, Any], name: str, allowed: tuple[str, ...]) -> str:
    v = data[name]
    if v not in allowed:
        raise _fail(name, f"must be one of {', '.join(allowed)}; got {v!r}")
    return v


def _hash(data: Mapping[str, Any], name: str) -> str:
    v = _str(data, name)
    if not _HEX64.fullmatch(v):
        raise _fail(name, f"expected a sha256 hex digest (64 lowercase hex characters), got {v!r}")
    return v


def _metric_dict(v: Any, name: str) -> dict[str, float]:
    if not isinstance(v, Mapping):
        raise _fail(name, f"expected an object of metric name -> number, got {_type(v)}")
    out = {}
    for k, x in v.items():
        if not isinstance(k, str) or not k:
            raise _fail(name, f"keys must be non-empty strings, got {k!r}")
        out[k] = _float(x, f"{name}.{k}")
    return out


def _nested(v: Any, name: str) -> tuple[list[int], bool]:
    """Shape of a rectangular nested list of numbers, and whether all are integers."""
    if not isinstance(v, list):
        _float(v, name)
        return [], float(v).is_integer()
    if not v:
        return [0], True
    shapes, ints = zip(*(_nested(x, f"{name}[{i}]") for i, x in enumerate(v)))
    if any(s != shapes[0] for s in shapes):
        raise _fail(name, "nested lists must be rectangular (all rows the same shape)")
    return [len(v), *shapes[0]], all(ints)


def _flat(v: Any) -> Any:
    for x in v:
        if isinstance(x, list):
            yield from _flat(x)
        else:
            yield x


def _artifact(v: Any, name: str) -> Any:
    """Labels (a list of strings) or a rectangular nested list of finite numbers."""
    if isinstance(v, list) and v and all(isinstance(x, str) for x in v):
        return v
    if not isinstance(v, list):
        raise _fail(name, f"expected a list of labels or a nested list of numbers, got {_type(v)}")
    shape, ints = _nested(v, name)
    base = name.rsplit(".", 1)[-1]
    if base in ("r2_matrix", "graph_true", "graph_learned") and len(shape) != 2:
        raise _fail(name, f"expected a 2-d matrix, got shape {tuple(shape)}")
    if base.startswith("graph_") and shape[0] != shape[1]:
        raise _fail(name, f"expected a square (K, K) adjacency, got shape {tuple(shape)}")
    if base == "triplet_examples":
        if len(shape) not in (4, 5) or (len(shape) == 5 and shape[-1] != 3):
            raise _fail(name, f"expected (N, P, H, W) or (N, P, H, W, 3) images, got shape {tuple(shape)}")
        if not ints or any(not 0 <= x <= 255 for x in _flat(v)):
            raise _fail(name, "images must be uint8 values (integers in 0..255)")
    return v


#: Field name -> validator of ``data`` (returns the normalized value).
_CHECKS: dict[str, Callable[[Mapping[str, Any]], Any]] = {
    "schema_version": lambda d: _int(d["schema_version"], "schema_version", 1),
    "method": lambda d: _str(d, "method"),
    "method_version": lambda d: _str(d, "method_version"),
    "track": lambda d: _str(d, "track"),
    "tier": lambda d: DRY_RUN_TIER if d["tier"] == DRY_RUN_TIER else _choice(d, "tier", TIERS),  # dry runs: read, never tabled
    "protocol_hash": lambda d: _hash(d, "protocol_hash"),
    "dataset_id": lambda d: _str(d, "dataset_id"),
    "dataset_hash": lambda d: _hash(d, "dataset_hash"),
    "graph": lambda d: None if d["graph"] is None else _int(d["graph"], "graph"),
    "seed": lambda d: _int(d["seed"], "seed"),
    "metrics": lambda d: _metric_dict(d["metrics"], "metrics"),
    "per_variable": lambda d: _per_variable(d["per_variable"]),
    "assignment": lambda d: _choice(d, "assignment", ASSIGNMENTS),
    "deviations": lambda d: _deviations(d["deviations"]),
    "hardware": lambda d: _hardware(d["hardware"]),
    "wall_time_s": lambda d: _nonnegative(d["wall_time_s"], "wall_time_s"),
    "n_parameters": lambda d: _int(d["n_parameters"], "n_parameters"),
    "crlbench_version": lambda d: _str(d, "crlbench_version"),
    "commit": lambda d: _str(d, "commit"),
    "created": lambda d: _created(d["created"]),
    "artifacts": lambda d: _artifacts(d["artifacts"]),
    "software": lambda d: _software(d["software"]),
    "precision": lambda d: _str(d, "precision"),
    "stages": lambda d: _stages(d["stages"]),
}
#: Fields an older record may lack: name -> the empty value it reads as.
_OPTIONAL: dict[str, Callable[[], Any]] = {"artifacts": dict, "software": dict, "precision": str, "graph": lambda: None, "stages": dict}
#: Order of the fields in a record file.
_FIELD_ORDER = (*(n for n in _CHECKS if n != "artifacts"), "artifacts")


def _stages(v: Any) -> dict[str, str]:
    if not isinstance(v, Mapping):
        raise _fail("stages", f"expected an object of stage name -> key (64 hex digits), got {_type(v)}")
    for k, x in v.items():
        if not isinstance(x, str) or not _HEX64.fullmatch(x):
            raise _fail(f"stages.{k}", f"expected a stage key of 64 hex digits, got {x!r}")
    return dict(v)


def _software(v: Any) -> dict[str, str | None]:
    if not isinstance(v, Mapping):
        raise _fail("software", f"expected an object of package -> version (null: not installed), got {_type(v)}")
    for k, x in v.items():
        if x is not None and (not isinstance(x, str) or not x):
            raise _fail(f"software.{k}", f"expected a version string or null, got {_type(x)} {x!r}")
    return dict(v)


def _per_variable(v: Any) -> dict[str, dict[str, float]]:
    if not isinstance(v, Mapping):
        raise _fail("per_variable", f"expected an object of metric -> (variable -> number), got {_type(v)}")
    return {k: _metric_dict(x, f"per_variable.{k}") for k, x in v.items()}


def _deviations(v: Any) -> list[str]:
    if not isinstance(v, list):
        raise _fail("deviations", f"expected a list of strings (empty when none), got {_type(v)}")
    for i, x in enumerate(v):
        if not isinstance(x, str) or not x.strip():
            raise _fail(f"deviations[{i}]", f"expected a non-empty string, got {x!r}")
    return list(v)


def _hardware(v: Any) -> dict[str, Any]:
    if not isinstance(v, Mapping):
        raise _fail("hardware", f"expected an object with device, cpu_count, gpu; got {_type(v)}")
    for key in ("device", "cpu_count", "gpu"):
        if key not in v:
            raise _fail(f"hardware.{key}", "missing field")
    if not isinstance(v["device"], str) or not v["device"]:
        raise _fail("hardware.device", f"expected a non-empty string (cpu, cuda, ...), got {v['device']!r}")
    _int(v["cpu_count"], "hardware.cpu_count", 1)
    if v["gpu"] is not None and not isinstance(v["gpu"], str):
        raise _fail("hardware.gpu", f"expected a GPU name or null, got {_type(v['gpu'])}")
    for k, x in v.items():
        if not isinstance(x, (str, int, float, type(None))):
            raise _fail(f"hardware.{k}", f"expected a string, number or null, got {_type(x)}")
    return dict(v)


def _nonnegative(v: Any, name: str) -> float:
    x = _float(v, name)
    if x < 0:
        raise _fail(name, f"must be >= 0, got {x}")
    return x


def _created(v: Any) -> str:
    if not isinstance(v, str):
        raise _fail("created", f"expected an ISO 8601 date-time string, got {_type(v)}")
    try:
        datetime.fromisoformat(v)
    except ValueError:
        raise _fail("created", f"expected an ISO 8601 date-time such as 2026-01-31T12:00:00+00:00, got {v!r}") from None
    return v


def _artifacts(v: Any) -> dict[str, Any]:
    if not isinstance(v, Mapping):
        raise _fail("artifacts", f"expected an object of name -> nested list, got {_type(v)}")
    return {k: _artifact(x, f"artifacts.{k}") for k, x in v.items()}


def validate_record(data: Mapping[str, Any], *, expected_hash: ExpectedHash | None = None) -> dict[str, Any]:
    """Check a JSON-shaped record and return its normalized fields (numbers as floats).

    Args:
        data: The decoded JSON object.
        expected_hash: ``(track, tier) -> dataset hash | None``; a record whose
            ``dataset_hash`` differs from a non-``None`` answer is refused.

    Raises:
        RecordError: naming the first bad field: missing, unknown, wrong type, NaN or
            infinite metric, bad tier or assignment, unknown schema version, wrong hash.
    """
    if not isinstance(data, Mapping):
        raise RecordError(f"a record must be a JSON object, got {_type(data)}")
    if "schema_version" in data:
        version = _CHECKS["schema_version"](data)
        if version != SCHEMA_VERSION:
            raise _fail("schema_version", f"unknown schema version {version}; this crlbench reads version {SCHEMA_VERSION}")
    names = [f.name for f in fields(ResultRecord)]
    unknown = sorted(set(data) - set(names))
    if unknown:
        raise _fail(unknown[0], f"unknown field (record fields: {', '.join(names)})")
    out: dict[str, Any] = {}
    for name in names:
        if name not in data:
            if name in _OPTIONAL:
                out[name] = _OPTIONAL[name]()
                continue
            raise _fail(name, "missing field")
        out[name] = _CHECKS[name](data)
    if not out["metrics"]:
        raise _fail("metrics", "at least one metric is required")
    if expected_hash is not None:
        want = expected_hash(out["track"], out["tier"])
        if isinstance(want, Mapping):  # one hash per graph: the record's graph must be one of them
            want = want.get(out["graph"], f"the hash of one of graphs {sorted(want)} (record's graph: {out['graph']})")
        if want is not None and want != out["dataset_hash"]:
            raise _fail(
                "dataset_hash",
                f"expected {want} for track {out['track']} tier {out['tier']}, got {out['dataset_hash']}",
            )
    return out


# --- files ---------------------------------------------------------------------------------
def load_record(path: str | Path, *, expected_hash: ExpectedHash | None = None) -> ResultRecord:
    """Read and validate one record file; errors start with the file's path."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"), parse_constant=_json_constant)
        return ResultRecord.from_dict(data, expected_hash=expected_hash)
    except RecordError as e:
        raise RecordError(f"{path}: {e}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise RecordError(f"{path}: not a readable JSON record ({e})") from None


def _json_constant(name: str) -> float:
    # Python's json reads NaN / Infinity; keep them so the field check names the metric.
    return float(name.replace("Infinity", "inf"))


def load_records(directory: str | Path, *, expected_hash: ExpectedHash | None = None) -> list[ResultRecord]:
    """Every ``*.json`` below ``directory`` (recursive, sorted by path), each validated.

    Raises:
        RecordError: a missing directory, no record at all, or the first bad file.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise RecordError(f"{directory}: no such results directory")
    paths = sorted(p for p in directory.rglob("*.json") if p.is_file())
    if not paths:
        raise RecordError(f"{directory}: no result records (*.json) found")
    return [load_record(p, expected_hash=expected_hash) for p in paths]


def safe_name(s: str) -> str:
    """``s`` reduced to ``[A-Za-z0-9._-]``: any method name gives a safe file name."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", s).strip("._") or "_"


def record_path(record: ResultRecord, root: str | Path) -> Path:
    """The conventional location ``root/<track>/<tier>/<method>-seed<seed>.json``."""
    return record_location(root, record.track, record.tier, record.method, record.seed, record.graph)


def record_location(root: str | Path, track: str, tier: str, method: str, seed: int, graph: int | None = None) -> Path:
    """:func:`record_path` before the record exists (names made safe by :func:`safe_name`);
    on a track with several graphs ``<method>-graph<G>-seed<S>.json``."""
    run = f"{safe_name(method)}-seed{seed}" if graph is None else f"{safe_name(method)}-graph{graph}-seed{seed}"
    return Path(root) / safe_name(track) / tier / f"{run}.json"


# --- provenance -------------------------------------------------------------------------------
def provenance(keys: Iterable[str] = ("crlbench_version", "commit", "created", "hardware", "software")) -> dict[str, Any]:
    """``crlbench_version``, ``commit``, ``created`` (UTC now), ``hardware`` and ``software``
    (versions of :data:`SOFTWARE`) of this process.

    Only ``keys`` are computed (probing the hardware imports torch).
    """
    from crlbench import __version__  # noqa: PLC0415

    make = {
        "crlbench_version": lambda: __version__,
        "commit": _commit,
        "created": lambda: datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "hardware": _hardware_info,
        "software": _software_versions,
    }
    return {k: make[k]() for k in keys}


def clean_commit(commit: str | None = None) -> str:
    """``commit`` (default: this checkout's) when it names clean code, else raise.

    Raises:
        RecordError: local changes (``+dirty``) or no git checkout (``unknown``).
    """
    commit = _commit() if commit is None else commit
    if commit.endswith("+dirty"):
        raise RecordError(
            f"official records need a clean checkout: commit {commit[:12]} has local changes; "
            "commit them (or run from a clean clone) and run again"
        )
    if commit == "unknown":
        raise RecordError("official records need crlbench run from a git checkout (the commit is unknown)")
    return commit


def run_stages(run_config: Mapping[str, Any] | str | Path) -> dict[str, str]:
    """The shared stages a run used (``config.json`` ``stages``): name -> stage key."""
    if not isinstance(run_config, Mapping):
        path = Path(run_config)
        path = path / "config.json" if path.is_dir() else path
        run_config = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    return {name: s["key"] for name, s in (run_config.get("stages") or {}).items()}


def run_precision(run_config: Mapping[str, Any] | str | Path) -> str:
    """The numeric precision a run's ``config.json`` names (``fp32`` when it names none).

    Args:
        run_config: The parsed config, its file, or the run directory holding it. The first
            ``precision`` key found, shallowest first, is the run's: ``{"used": ...}`` (what
            the loop resolved) or a name; ``auto`` (resolved at run time) is passed over.
    """
    if not isinstance(run_config, Mapping):
        path = Path(run_config)
        path = path / "config.json" if path.is_dir() else path
        run_config = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    level: list[Any] = [run_config]
    while level:
        for d in level:
            value = d.get("precision")
            value = value.get("used") if isinstance(value, Mapping) else value
            if isinstance(value, str) and value and value != "auto":
                return value
        level = [v for d in level for v in d.values() if isinstance(v, Mapping)]
    return DEFAULT_PRECISION


#: What makes the numbers: local changes here (untracked files included) make a commit dirty;
#: changes elsewhere (results, docs) do not, so rerunning the official records stays clean.
CODE_PATHS = ("crlbench", "pyproject.toml", "constraints.txt")


def _commit(root: Path | None = None) -> str:
    """The git commit of the crlbench checkout at ``root`` (default: this one), ``+dirty``
    with local changes to :data:`CODE_PATHS`, or ``unknown``."""
    root = root or Path(__file__).resolve().parents[2]
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10)
        if sha.returncode != 0:
            return "unknown"
        dirty = subprocess.run(["git", "status", "--porcelain", "--", *CODE_PATHS], cwd=root, capture_output=True, text=True, timeout=10)
        return sha.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def _software_versions() -> dict[str, str | None]:
    from crlbench.datasets.storage import versions_of  # noqa: PLC0415

    found = versions_of(*SOFTWARE)
    return {"python": platform.python_version(), **{name: found.get(name) for name in SOFTWARE}}


def _cpu_model() -> str:
    """The CPU's marketing name (Linux ``/proc/cpuinfo``, else what ``platform`` knows)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def _hardware_info() -> dict[str, Any]:
    gpu = None
    device = "cpu"
    try:  # torch is a core dependency, but a record must not fail for want of it
        import torch  # noqa: PLC0415

        if torch.cuda.is_available():
            device, gpu = "cuda", torch.cuda.get_device_name(0)
    except ImportError:
        pass
    return {"device": device, "cpu_count": os.cpu_count() or 1, "cpu_model": _cpu_model(), "gpu": gpu, "platform": platform.platform()}


def _tolist(v: Any) -> Any:
    return v.tolist() if hasattr(v, "tolist") else v
