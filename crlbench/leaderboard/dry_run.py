"""Paper-tier dry run: the paper tier's exact code path on CPU in minutes.

A dry run of a track keeps every setting of its paper protocol (the scene parameters,
graphs, resolution, batch size, latent size, conv width, decoded options, probes, DCI
regressor, seeds, the methods and their tier settings, the loop's precision rule) and
changes only what makes the paper tier take GPU-days: the split sizes
(:data:`DRY_RUN_SPLITS`) and the budget (:data:`DRY_RUN_STEPS` optimiser steps, enough for
every phase of a phased method to run). Without a GPU it runs on CPU (the paper tier asks
for ``cuda``; every record names the fallback among its deviations); on a GPU machine it
checks the CUDA path itself in minutes. It writes its records under the tier
:data:`DRY_RUN_TIER`, which no protocol has: tables refuse them, and they go to a results
folder of their own (``results-dry-run`` by default), never beside real records.

``crlbench sweep --protocol TRACK --tier paper --dry-run`` runs one. The default tests run
it for every method of the toy tracks and of the CausalCircuit pairs track, a slow test for
the CausalCircuit TRIS track, so that a GPU run meets only the scale.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crlbench.datasets.spec import DatasetSpec
from crlbench.errors import CrlbenchError
from crlbench.leaderboard.protocols import Protocol, protocol
from crlbench.leaderboard.records import DRY_RUN_TIER

if TYPE_CHECKING:
    from crlbench.leaderboard.runner import SweepReport

__all__ = ["DRY_RUN_SPLITS", "DRY_RUN_STEPS", "DRY_RUN_TIER", "DRY_RUN_RESULTS", "DryRunProtocol", "dry_run", "dry_run_sweep"]

#: Optimiser steps of a dry run: ILCM's phase boundaries (10 / 20 / 30 / 60 of 90 epochs)
#: are all crossed by step 7 of 10, so every phase trains at least one step.
DRY_RUN_STEPS = 10
#: Split sizes of a dry run by track mode: a sequence's training split holds at least one
#: paper batch of windows (512 on TRIS tracks), every probe split enough samples for the
#: paper probes' own train / test split.
DRY_RUN_SPLITS: dict[str, dict[str, int]] = {
    "pairs": {"train": 128, "val": 64, "test": 64, "test_indep": 128},
    "sequences": {"train": 640, "val": 128, "test": 128, "test_indep": 128, "test_triplets": 32},
}
#: Default results folder of dry runs.
DRY_RUN_RESULTS = Path("results-dry-run")


@dataclass(frozen=True)
class DryRunProtocol(Protocol):
    """A paper protocol at dry-run split sizes; ``paper_hash`` is the hash of the paper
    protocol it stands for (its own :attr:`hash` differs, so that no record mixes them)."""

    splits: Mapping[str, int] = field(default_factory=dict)
    paper_hash: str = ""

    def dataset_spec(self) -> DatasetSpec:
        """The paper spec with the dry run's split sizes (every other field unchanged)."""
        return replace(super().dataset_spec(), splits=dict(self.splits))


def dry_run(track: str | Protocol, *, seeds: Sequence[int] | None = None, graphs: Sequence[int] | None = None) -> DryRunProtocol:
    """The dry run of ``track``'s paper protocol (a track id or the paper protocol).

    Args:
        seeds, graphs: A subset of the paper protocol's seeds and graphs (default: all of
            them; each runs the same code, so a quick check may take one of each).
    """
    paper = track if isinstance(track, Protocol) else protocol(track, "paper")
    if paper.tier != "paper":
        raise CrlbenchError(f"--dry-run runs the paper tier's code path; {paper.track} was given at tier {paper.tier} (pass --tier paper)")
    for name, want, have in (("seeds", seeds, paper.seeds), ("graphs", graphs, paper.graphs)):
        if want is not None and (not want or not set(want) <= set(have)):
            raise CrlbenchError(f"{paper.track}: {name} {list(want)} are not a subset of the paper protocol's {list(have)}")
    fields = {f: getattr(paper, f) for f in Protocol.__dataclass_fields__}
    fields.update(tier=DRY_RUN_TIER, budget=f"{DRY_RUN_STEPS}steps")
    if seeds is not None:
        fields["seeds"] = tuple(seeds)
    if graphs is not None:
        fields.update(graphs=tuple(graphs), dataset_seed=graphs[0])
    return DryRunProtocol(**fields, splits=DRY_RUN_SPLITS[paper.mode], paper_hash=paper.hash)


def dry_run_sweep(
    track: str | Protocol,
    methods: Sequence[str] | None = None,
    results: str | Path = DRY_RUN_RESULTS,
    *,
    root: str | Path | None = None,
    executor: Any = None,
    progress: bool = False,
    seeds: Sequence[int] | None = None,
    graphs: Sequence[int] | None = None,
) -> SweepReport:
    """Every (method, seed) of ``track``'s paper protocol, on every graph, at dry-run scale
    (:func:`crlbench.leaderboard.runner.sweep` on :func:`dry_run`'s protocol).

    Args:
        methods: Default: the track's baselines.
        results: Records go to ``<results>/<track>/paper-dry-run/``; a folder holding
            records of any real tier is refused.
        root: Data folder; the dry run's data lands in ``<root>/paper-dry-run/``.
        seeds, graphs: As :func:`dry_run`'s.

    Returns:
        The :class:`~crlbench.leaderboard.runner.SweepReport`.
    """
    from crlbench.leaderboard.records import TIERS  # noqa: PLC0415
    from crlbench.leaderboard.runner import sweep  # noqa: PLC0415

    p = dry_run(track, seeds=seeds, graphs=graphs)
    results = Path(results)
    real = sorted({d.name for d in results.glob("*/*") if d.is_dir() and d.name in TIERS})
    if real:
        raise CrlbenchError(
            f"{results} holds records of the {', '.join(real)} tier(s); a dry run writes to a folder of its own "
            f"(e.g. --results {DRY_RUN_RESULTS})"
        )
    if progress:
        import torch  # noqa: PLC0415

        on = "cuda" if p.device == "cuda" and torch.cuda.is_available() else "cpu"
        fallback = " (the paper tier asks for cuda, which is not available)" if on != p.device else ""
        print(
            f"{p.track}: paper-tier dry run on {on}{fallback}; only the split sizes and the budget "
            f"({DRY_RUN_STEPS} steps) differ from the paper protocol; records go to {results}",
            file=sys.stderr,
        )
    return sweep(p, list(methods) if methods is not None else list(p.methods), results, executor=executor, root=root, progress=progress)
