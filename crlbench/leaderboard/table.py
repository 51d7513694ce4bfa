"""Aggregation of result records into the leaderboard table (pandas), Markdown and CSV.

One row per (track, tier, method): the mean and sample standard deviation (``ddof=1``) over
seeds of every metric, the number of seeds, and the marks (docs/design.md, docs/leaderboard.md).
Records of different tiers never share a row. On a track whose protocol covers several
graphs, the row's mean and std are over every (graph, seed) run of the method, so the spread
counts both the graph drawn and the seed; :func:`aggregate_graphs` gives one row per graph.
Marks:

- ``post_hoc``: some seed's latents were assigned to variables after training (matching on
  held-out data), not by the method itself;
- ``other_tier``: the row's tier is not the track's main tier (by default the largest tier,
  in :data:`~crlbench.leaderboard.records.TIERS` order, with a record of the track);
- ``deviated``: some seed's record lists deviations from the protocol (``deviations`` holds
  them, unique, joined with ``"; "``);
- ``other_protocol``: the row's protocol hash differs from the one most rows of its track
  and tier ran (a stale record, or a changed protocol);
- ``submitted``: the row's origin is a submission (``crlbench submit``): its authors ran
  and scored it with crlbench; official rows are the maintainers' runs. Submitted rows carry
  their submission's links (``code``, ``paper``) and ``external_data`` flag.

The standard deviation of a single seed is undefined: it is NaN (printed ``n/a``, an empty
CSV cell), never 0, so one lucky seed does not look like a perfectly stable method. A metric
missing from some seeds is averaged over the seeds that report it. Seeds of one row must
share the protocol hash and, per graph, the dataset hash, and no (graph, seed) may appear
twice.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TypeVar, cast

import numpy as np
import pandas as pd

from crlbench.errors import CrlbenchError
from crlbench.leaderboard.records import DRY_RUN_TIER, TIERS, ResultRecord
from crlbench.metrics import suite
from crlbench.metrics.suite import METRICS

__all__ = [
    "MARKS",
    "ORIGINS",
    "METRIC_ORDER",
    "MainTier",
    "aggregate",
    "aggregate_graphs",
    "metric_names",
    "lower_is_better",
    "marks",
    "format_mean_std",
    "to_markdown",
    "to_csv",
]

#: Flag column -> (mark, legend). Marks are plain characters so Markdown, CSV readers and
#: terminals all show them.
MARKS: dict[str, tuple[str, str]] = {
    "post_hoc": ("†", "post-hoc assignment of latents to variables (matched after training)"),
    "other_tier": ("‡", "tier differs from the track's main tier"),
    "deviated": ("*", "deviates from the protocol (see the deviations)"),
    "other_protocol": ("§", "protocol hash differs from the other rows of this track and tier"),
    "submitted": ("◇", "submitted: run and scored with crlbench by the method's authors, not by the maintainers"),
}
#: A row's origin: the maintainers' official runs, or a submission.
ORIGINS = ("official", "submitted")

#: Display order of the published metrics (:data:`crlbench.metrics.METRICS`); others follow
#: alphabetically.
METRIC_ORDER = suite.metric_names()

#: The main tier of a track: a track -> tier mapping or function (``None``: default rule).
MainTier = Mapping[str, str] | Callable[[str], str | None] | None

_KEYS = ["track", "tier", "method"]

T = TypeVar("T")


def lower_is_better(metric: str) -> bool:
    """As :data:`crlbench.metrics.METRICS` says; other names: ``*_error`` and ``*_sep`` are
    errors, everything else a score."""
    known = {m.name: not m.higher_is_better for m in METRICS}
    return known.get(metric, metric.endswith("_error") or metric.endswith("_sep"))


def metric_names(df: pd.DataFrame) -> list[str]:
    """Metrics with a ``<name>_mean`` column in ``df``, in display order."""
    names = [c[: -len("_mean")] for c in df.columns if c.endswith("_mean") and c != "wall_time_s_mean"]
    known = [m for m in METRIC_ORDER if m in names]
    return known + sorted(set(names) - set(known))


def _main_tiers(records: list[ResultRecord], main_tier: MainTier) -> dict[str, str]:
    tracks = sorted({r.track for r in records})
    out = {}
    for t in tracks:
        given = main_tier.get(t) if isinstance(main_tier, Mapping) else main_tier(t) if main_tier else None
        have = {r.tier for r in records if r.track == t}
        out[t] = given or max(have, key=TIERS.index)
    return out


def _unique(values: Iterable[T]) -> list[T]:
    return list(dict.fromkeys(values))


def aggregate(
    records: Iterable[ResultRecord],
    *,
    main_tier: MainTier = None,
    submitted: Mapping[str, Mapping[str, object]] | None = None,
) -> pd.DataFrame:
    """The leaderboard table: one row per (track, tier, method), mean and std over seeds.

    Args:
        records: Validated result records (any order).
        main_tier: Track -> main tier (mapping or function); tracks it does not name get
            their largest tier with a record (paper, else cpu, else smoke).
        submitted: Method -> its submission's metadata (``code``, ``paper``,
            ``external_data``, ``n_parameters``); those rows' origin is ``submitted``,
            every other row's ``official``.

    Returns:
        Columns ``track, tier, main_tier, method, method_version, dataset_id, n_seeds,
        seeds, n_graphs, assignment`` (``n_graphs``: 0 for a single-graph track), then ``<metric>_mean``
        and ``<metric>_std`` for every metric
        (display order, NaN where a row lacks it), ``wall_time_s_mean``, ``n_parameters``,
        ``protocol_hash``, ``origin, code, paper, external_data``, the flags ``post_hoc,
        other_tier, deviated, other_protocol, submitted`` and ``deviations``. Rows are sorted by track, main tier first, then method.

    Raises:
        CrlbenchError: no records, a (graph, seed) twice in one row, or one row's seeds on
            different protocol hashes or, on one graph, different dataset hashes.
    """
    return _aggregate(records, main_tier, submitted, by_graph=False)


def aggregate_graphs(records: Iterable[ResultRecord], *, main_tier: MainTier = None) -> pd.DataFrame:
    """One row per (track, tier, method, graph) of the tracks with several graphs: the
    per-graph breakdown of :func:`aggregate`'s rows (its columns plus ``graph``; empty
    when no record names a graph)."""
    records = [r for r in records if r.graph is not None]
    return _aggregate(records, main_tier, None, by_graph=True) if records else pd.DataFrame()


def _aggregate(
    records: Iterable[ResultRecord], main_tier: MainTier, submitted: Mapping[str, Mapping[str, object]] | None, *, by_graph: bool
) -> pd.DataFrame:
    records = list(records)
    if not records:
        raise CrlbenchError("no result records to aggregate")
    dry = [r for r in records if r.tier == DRY_RUN_TIER]
    if dry:
        raise CrlbenchError(
            f"{dry[0].track} {dry[0].method} seed {dry[0].seed}: a record of a paper-tier dry run (tier {DRY_RUN_TIER}), "
            "a check of the code path and never a leaderboard row; keep dry runs in a results folder of their own"
        )
    mains = _main_tiers(records, main_tier)
    groups: dict[tuple, list[ResultRecord]] = {}
    for r in records:
        groups.setdefault((r.track, r.tier, r.method, *((r.graph,) if by_graph else ())), []).append(r)
    metrics = {m for r in records for m in r.metrics}
    known = [m for m in METRIC_ORDER if m in metrics]
    metric_list = known + sorted(metrics - set(known))

    rows = []
    for (track, tier, method, *graph), rs in groups.items():
        rs = sorted(rs, key=lambda r: (r.seed, -1 if r.graph is None else r.graph))
        where = f"track {track} tier {tier} method {method!r}" + (f" graph {graph[0]}" if graph else "")
        runs = Counter((r.graph, r.seed) for r in rs)
        dup = [run for run, n in runs.items() if n > 1]
        if dup:
            g, s = dup[0]
            on = "" if g is None else f" on graph {g}"
            raise CrlbenchError(f"{where}: seed {s}{on} has {runs[dup[0]]} records; keep one per seed")
        if len(_unique(r.protocol_hash for r in rs)) > 1:
            values = _unique(r.protocol_hash for r in rs)
            raise CrlbenchError(
                f"{where}: seeds ran on different protocol_hash values ({', '.join(v[:12] for v in values)}); "
                "every seed of a row must run the same protocol on the same data"
            )
        for g in _unique(r.graph for r in rs):
            values = _unique(r.dataset_hash for r in rs if r.graph == g)
            if len(values) > 1:
                on = "" if g is None else f" on graph {g}"
                raise CrlbenchError(
                    f"{where}: seeds{on} ran on different dataset_hash values ({', '.join(v[:12] for v in values)}); "
                    "every seed of a row must run the same protocol on the same data"
                )
        seeds = _unique(r.seed for r in rs)
        graphs = sorted({r.graph for r in rs if r.graph is not None})
        row: dict[str, object] = {
            "track": track,
            "tier": tier,
            "main_tier": mains[track],
            "method": method,
            **({"graph": graph[0]} if by_graph else {}),
            "method_version": ", ".join(_unique(r.method_version for r in rs)),
            "dataset_id": ", ".join(_unique(r.dataset_id for r in rs)),
            "n_seeds": len(seeds),
            "seeds": ",".join(map(str, seeds)),
            "n_graphs": len(graphs),
            "assignment": ", ".join(_unique(r.assignment for r in rs)),
        }
        for m in metric_list:
            scores = np.array([r.metrics[m] for r in rs if m in r.metrics], dtype=np.float64)
            row[f"{m}_mean"] = float(scores.mean()) if len(scores) else math.nan
            row[f"{m}_std"] = float(scores.std(ddof=1)) if len(scores) > 1 else math.nan
        devs = _unique(d for r in rs for d in r.deviations)
        meta = (submitted or {}).get(method)
        row.update(
            wall_time_s_mean=float(np.mean([r.wall_time_s for r in rs])),
            n_parameters=max(r.n_parameters for r in rs) or (int(cast(int, meta.get("n_parameters") or 0)) if meta else 0),
            protocol_hash=rs[0].protocol_hash,
            origin="submitted" if meta else "official",
            code=(meta.get("code") or "") if meta else "",
            paper=(meta.get("paper") or "") if meta else "",
            external_data=bool(meta.get("external_data")) if meta else False,
            post_hoc=any(r.assignment == "post-hoc" for r in rs),
            other_tier=tier != mains[track],
            deviated=bool(devs),
            other_protocol=False,
            submitted=meta is not None,
            deviations="; ".join(devs),
        )
        rows.append(row)

    df = pd.DataFrame(rows)
    for (_, _), idx in df.groupby(["track", "tier"]).groups.items():
        counts = Counter(df.loc[idx, "protocol_hash"])
        if len(counts) > 1:
            top = max(counts.values())
            majority = min(h for h, n in counts.items() if n == top)  # ties: a fixed choice
            df.loc[idx, "other_protocol"] = df.loc[idx, "protocol_hash"] != majority
    keys = ["track", "other_tier", "tier", "method", *(["graph"] if by_graph else [])]
    df = df.sort_values(keys, kind="stable").reset_index(drop=True)
    return df


def marks(row: Mapping[str, object] | pd.Series) -> str:
    """The marks of one table row, e.g. ``"†*"`` (empty when the row is clean)."""
    return "".join(mark for flag, (mark, _) in MARKS.items() if bool(row.get(flag, False)))


def _fmt(x: float, digits: int) -> str:
    if isinstance(x, float) and math.isnan(x):
        return "n/a"
    return f"{x:.{digits if abs(x) < 1000 else 0}f}"


def format_mean_std(mean: float, std: float, digits: int = 3) -> str:
    """``"0.850 ± 0.071"``; ``"0.850 ± n/a"`` for one seed; ``""`` when the mean is missing."""
    if isinstance(mean, float) and math.isnan(mean):
        return ""
    return f"{_fmt(mean, digits)} ± {_fmt(std, digits)}"


def _md_escape(text: str) -> str:
    """Escape what Markdown would read as markup (tables, raw HTML, emphasis, links)."""
    for ch in "\\`*[]<>|":
        text = text.replace(ch, "\\" + ch)
    return text.replace("\n", " ")


def _md_rows(t: pd.DataFrame, ms: list[str], digits: int, used: set[str], *, graph: bool = False) -> list[str]:
    head = ["Method", "Tier", *(["Graph"] if graph else []), "Seeds", *(f"{m} {'↓' if lower_is_better(m) else '↑'}" for m in ms), "Marks"]
    out = [
        "| " + " | ".join(head) + " |",
        "|" + "|".join(["---", "---", *(["--:"] if graph else []), "--:", *(["--:"] * len(ms)), "---"]) + "|",
    ]
    for _, row in t.iterrows():
        mk = marks(row)
        used.update(f for f, (m, _) in MARKS.items() if m in mk)
        seeds = str(row["n_seeds"]) if graph or not row.get("n_graphs") else f"{row['n_seeds']} x {row['n_graphs']} graphs"
        cells = [
            _md_escape(str(row["method"])),
            str(row["tier"]),
            *([str(row["graph"])] if graph else []),
            seeds,
            *(format_mean_std(row[f"{m}_mean"], row[f"{m}_std"], digits) for m in ms),
            _md_escape(mk),
        ]
        out.append("| " + " | ".join(cells) + " |")
    return out


def to_markdown(df: pd.DataFrame, *, digits: int = 3, graphs: pd.DataFrame | None = None) -> str:
    """One Markdown table per track (metrics it lacks left out) and the legend of marks.

    Cells read ``mean ± std``; arrows say whether higher (↑) or lower (↓) is better.
    User-provided names are escaped so that no renderer reads them as markup. ``graphs``
    (:func:`aggregate_graphs`): each track with several graphs also gets its per-graph table.
    """
    out = []
    used: set[str] = set()
    for track, t in df.groupby("track", sort=False):
        ms = [m for m in metric_names(t) if t[f"{m}_mean"].notna().any()]
        out.append(f"### {_md_escape(str(track))} (main tier: {t['main_tier'].iloc[0]})\n")
        out += _md_rows(t, ms, digits, used)
        per_graph = graphs[graphs["track"] == track] if graphs is not None and len(graphs) else None
        if per_graph is not None and len(per_graph):
            out += ["", "Per graph (mean ± std over the seeds on that graph):", ""]
            out += _md_rows(per_graph, [m for m in ms if f"{m}_mean" in per_graph], digits, used, graph=True)
        out.append("")
    legend = [f"{_md_escape(MARKS[f][0])} {MARKS[f][1]}" for f in MARKS if f in used]
    over = "seeds" if graphs is None or not len(graphs) else "seeds (on tracks with several graphs: over every graph x seed run)"
    out.append(f"Mean ± sample std over {over} (n/a: one seed)." + (" Marks: " + "; ".join(legend) + "." if legend else ""))
    return "\n".join(out) + "\n"


def to_csv(df: pd.DataFrame, path: str | Path) -> Path:
    """Write the table as CSV (full precision, NaN as an empty cell); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(path, index=False)
    return path
