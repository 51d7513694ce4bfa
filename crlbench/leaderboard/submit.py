"""Submissions: a method's records on a track, with the metadata a leaderboard entry needs.

A submission is one folder::

    SUBMISSION/submission.json                          metadata (below)
    SUBMISSION/records/<track>/<tier>/<method>-seed<S>.json   one record per seed

``submission.json`` holds, as OGB asks of its entries: the method's name on the board
(``name``; ``method`` is the name its records carry, e.g. an entry point) and version, a
link to its code and (optional) its paper, its parameter count, and whether it used data
beyond the track's (``external_data``); plus the crlbench version that checked it and the
tracks and seeds it covers.

A submission is complete, as WILDS asks of its entries, when every (track, tier) it covers
has a record for every seed of the protocol and at least :data:`MIN_SEEDS` seeds. Tiers
with fewer protocol seeds (smoke: 2) take seeds 0..MIN_SEEDS-1 (:func:`submission_seeds`;
``crlbench evaluate`` trains them). Every record must have run the track's protocol on its
data (protocol and dataset hashes). Metrics are never the submitter's: the records are the
ones ``crlbench evaluate`` wrote, and :func:`load_submission` checks them again when the
leaderboard is built.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from crlbench.errors import CrlbenchError
from crlbench.leaderboard.protocols import Protocol, expected_dataset_hash, protocol
from crlbench.leaderboard.records import ResultRecord, load_records, record_path

__all__ = [
    "MIN_SEEDS",
    "META_FILE",
    "RECORDS_DIR",
    "SubmissionError",
    "SubmissionMeta",
    "Submission",
    "submission_seeds",
    "check_complete",
    "make_submission",
    "load_submission",
    "merge",
]

#: The fewest seeds a leaderboard entry may have.
MIN_SEEDS = 3
META_FILE = "submission.json"
RECORDS_DIR = "records"
_URL_SCHEMES = ("https://", "http://")


class SubmissionError(CrlbenchError):
    """A submission that is incomplete or malformed; the message says what to run or fix."""


@dataclass(frozen=True)
class SubmissionMeta:
    """What a leaderboard entry says about its method.

    Args:
        method: The method as its records name it (``crlbench evaluate --method``).
        version: The method's version (package version, tag or commit).
        code: Link to the code that produced the records (http or https).
        paper: Link to the paper, or ``None``.
        n_parameters: Trainable parameters.
        external_data: Whether the method used data beyond the track's training split
            (pretrained weights included).
        name: The method's name on the board (default: ``method``).
    """

    method: str
    version: str
    code: str
    paper: str | None
    n_parameters: int
    external_data: bool
    name: str = ""

    def __post_init__(self) -> None:
        if not self.name:
            object.__setattr__(self, "name", self.method)
        for name in ("method", "name", "version", "code"):
            if not isinstance(getattr(self, name), str) or not getattr(self, name).strip():
                raise SubmissionError(f"{name}: must be a non-empty string")
        for name in ("code", "paper"):
            url = getattr(self, name)
            if url is not None and (not isinstance(url, str) or not url.startswith(_URL_SCHEMES) or any(c.isspace() for c in url)):
                raise SubmissionError(f"{name}: expected an http(s) link such as https://github.com/me/my-method, got {url!r}")
        if isinstance(self.n_parameters, bool) or not isinstance(self.n_parameters, int) or self.n_parameters < 0:
            raise SubmissionError(f"n_parameters: expected an integer >= 0, got {self.n_parameters!r}")
        if not isinstance(self.external_data, bool):
            raise SubmissionError(f"external_data: expected true or false, got {self.external_data!r}")

    def to_dict(self) -> dict[str, Any]:
        """The metadata as plain JSON types."""
        return asdict(self)


@dataclass(frozen=True)
class Submission:
    """A checked submission: its metadata and its records."""

    path: Path
    meta: SubmissionMeta
    records: tuple[ResultRecord, ...]


def submission_seeds(p: Protocol) -> tuple[int, ...]:
    """The seeds a submission must have on ``p``: the protocol's, and at least 0..MIN_SEEDS-1."""
    return tuple(sorted({*p.seeds, *range(MIN_SEEDS)}))


def _evaluate_hint(p: Protocol, method: str, seeds: Iterable[int]) -> str:
    flags = " ".join(f"--seed {s}" for s in seeds)
    graph = "" if p.graph is None else f"--graph {p.graph} "
    return f"crlbench evaluate --track {p.track} --tier {p.tier} {graph}--method {method} {flags}"


def check_complete(records: Iterable[ResultRecord], method: str) -> dict[tuple[str, str], list[int]]:
    """Check that ``records`` (of one method) make complete entries; returns (track, tier) -> seeds.

    Raises:
        SubmissionError: no records, another method's record, an unknown track or tier, a
            record of another protocol or data, a seed twice, or missing seeds (the message
            gives the command that makes them).
    """
    groups: dict[tuple[str, str], list[ResultRecord]] = {}
    for r in records:
        if r.method != method:
            raise SubmissionError(f"a record of method {r.method!r} in the submission of {method!r}; keep one method per submission")
        groups.setdefault((r.track, r.tier), []).append(r)
    if not groups:
        raise SubmissionError(f"no records of method {method!r}; score it first: crlbench evaluate --track TRACK --method ...")
    out = {}
    for (track, tier), rs in sorted(groups.items()):
        p = protocol(track, tier)
        where = f"{method} on {track} ({tier})"
        graphs = {g.graph: g for g in p.per_graph()}  # {None: p} on a single-graph track
        for r in rs:
            g = graphs.get(r.graph, p)
            if r.protocol_hash != p.hash or r.graph not in graphs or r.dataset_hash != g.dataset_hash:
                raise SubmissionError(
                    f"{where}, seed {r.seed}: the record ran protocol {r.protocol_hash[:12]} on data {r.dataset_hash[:12]}, "
                    f"the track's protocol is {p.hash[:12]} on {g.dataset_hash[:12]}; score it again with this crlbench"
                )
        for graph, g in graphs.items():  # every graph needs every seed
            on = where if graph is None else f"{where}, graph {graph}"
            seeds = sorted(r.seed for r in rs if r.graph == graph)
            if len(set(seeds)) != len(seeds):
                raise SubmissionError(f"{on}: a seed has two records ({seeds}); keep one per seed")
            want = submission_seeds(p)
            missing = [s for s in want if s not in seeds]
            if missing:
                raise SubmissionError(
                    f"{on}: seeds {missing} are missing; an entry needs every protocol seed and at least "
                    f"{MIN_SEEDS} ({list(want)}): {_evaluate_hint(g, method, missing)}"
                )
        out[(track, tier)] = sorted({r.seed for r in rs})
    return out


def _parameters(records: Iterable[ResultRecord], given: int | None) -> int:
    """The parameter count: crlbench's own count of the records, else the one given."""
    counted = {r.n_parameters for r in records if r.n_parameters > 0}
    if len(counted) > 1:
        raise SubmissionError(f"the records count different parameters ({sorted(counted)}); every seed must train the same model")
    if counted:
        (n,) = counted
        if given is not None and given != n:
            raise SubmissionError(f"--parameters {given}: the records count {n} trainable parameters; drop the option or fix the count")
        return n
    if given is None:
        raise SubmissionError("the records do not count the method's parameters (no torch `module`); give --parameters N")
    return given


def make_submission(
    results: str | Path,
    out: str | Path,
    *,
    method: str,
    code: str,
    external_data: bool,
    version: str | None = None,
    paper: str | None = None,
    n_parameters: int | None = None,
    tracks: Iterable[str] | None = None,
    name: str | None = None,
) -> Submission:
    """Collect ``method``'s records under ``results`` into a new submission folder ``out``.

    Args:
        results: A results folder (e.g. where ``crlbench evaluate`` wrote the records);
            other methods' records are ignored.
        out: The submission folder; must not exist or be empty (nothing is overwritten).
        tracks: Only these tracks (default: every track with records of ``method``).
        version: The method's version (default: the records' ``method_version``).
        n_parameters: Default: crlbench's count in the records.
        name: The name on the board (default: ``method``).

    Raises:
        SubmissionError: see :func:`check_complete`, and a non-empty ``out``, a version
            that differs from the records', bad links.
    """
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise SubmissionError(f"{out}: exists and is not an empty folder; choose a new --out folder (nothing is overwritten)")
    want = set(tracks) if tracks else None
    records = [
        r for r in load_records(results, expected_hash=expected_dataset_hash) if r.method == method and (want is None or r.track in want)
    ]
    if want:
        missing = sorted(want - {r.track for r in records})
        if missing:
            raise SubmissionError(f"no records of {method!r} on {', '.join(missing)} under {results}")
    check_complete(records, method)
    versions = sorted({r.method_version for r in records})
    if version is None:
        if len(versions) > 1:
            raise SubmissionError(f"the records carry versions {versions}; rerun them with one version, or name it with --version")
        version = versions[0]
    elif versions != [version] and versions != ["unknown"]:
        raise SubmissionError(f"--version {version!r}: the records were made by version(s) {versions}")
    meta = SubmissionMeta(method, version, code, paper, _parameters(records, n_parameters), external_data, name or method)
    tmp = out.with_name(out.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    for r in records:
        r.save(record_path(r, tmp / RECORDS_DIR))
    doc = {
        **meta.to_dict(),
        "crlbench_version": _version(),
        "entries": [{"track": t, "tier": tier, "seeds": seeds} for (t, tier), seeds in check_complete(records, method).items()],
    }
    (tmp / META_FILE).write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    if out.exists():
        out.rmdir()  # empty, checked above
    os.replace(tmp, out)
    return Submission(out, meta, tuple(records))


def _version() -> str:
    from crlbench import __version__  # noqa: PLC0415

    return __version__


def _meta(data: Any, path: Path) -> SubmissionMeta:
    if not isinstance(data, Mapping):
        raise SubmissionError(f"{path}: expected a JSON object")
    fields = ("method", "version", "code", "paper", "n_parameters", "external_data")
    missing = [k for k in fields if k not in data]
    if missing:
        raise SubmissionError(f"{path}: {missing[0]}: missing field (fields: {', '.join(fields)}, name)")
    try:
        return SubmissionMeta(**{k: data[k] for k in fields}, name=data.get("name") or "")
    except SubmissionError as e:
        raise SubmissionError(f"{path}: {e}") from None


def load_submission(path: str | Path) -> Submission:
    """Read and check a submission folder (metadata, records, completeness).

    Raises:
        SubmissionError: a missing or malformed ``submission.json``, a bad record (named),
            an incomplete entry, or records whose method is not the metadata's.
    """
    path = Path(path)
    meta_file = path / META_FILE
    if not meta_file.is_file():
        raise SubmissionError(f"{path}: not a submission (no {META_FILE}); make one with `crlbench submit`")
    try:
        data = json.loads(meta_file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise SubmissionError(f"{meta_file}: not readable JSON ({e})") from None
    meta = _meta(data, meta_file)
    records = load_records(path / RECORDS_DIR, expected_hash=expected_dataset_hash)
    try:
        check_complete(records, meta.method)
    except SubmissionError as e:
        raise SubmissionError(f"{path}: {e}") from None
    return Submission(path, meta, tuple(records))


def merge(official: Iterable[ResultRecord], submissions: Iterable[Submission]) -> tuple[list[ResultRecord], dict[str, dict[str, Any]]]:
    """The official records plus every submission's (renamed to the submission's ``name``),
    and name -> metadata of the submitted ones (``aggregate(..., submitted=...)``).

    Raises:
        SubmissionError: a submitted method has the name of an official one or of another
            submission (rows are keyed by name: one would hide the other).
    """
    records = list(official)
    taken = {r.method: "the official results" for r in records}
    submitted: dict[str, dict[str, Any]] = {}
    for sub in submissions:
        name = sub.meta.name
        if name in taken:
            raise SubmissionError(f"{sub.path}: method {name!r} is already in {taken[name]}; submit it under another name")
        taken[name] = str(sub.path)
        submitted[name] = sub.meta.to_dict()
        records.extend(replace(r, method=name) for r in sub.records)
    return records, submitted
