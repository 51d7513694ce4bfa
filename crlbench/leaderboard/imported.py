"""A track's protocol applied to data imported from an original release.

``crlbench import`` turns the files released with CITRIS and ILCM into crlbench files
(:mod:`crlbench.datasets.importers`). :func:`protocol_for` gives such a file the protocol
of the track of its scene and mode (seeds, budget, batch size, latent size, probes,
metrics, the baselines' settings), with the data pinned to the imported file's spec, so the
same :class:`~crlbench.leaderboard.evaluate.Evaluator` scores it. Its hash differs from the
track's (the data differ), so results on imported data never share a row with results on
regenerated data.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from crlbench.datasets.spec import DatasetSpec
from crlbench.errors import CrlbenchError
from crlbench.leaderboard.protocols import PROTOCOLS, Protocol, protocol
from crlbench.registry import dataset_entry

__all__ = ["ImportedProtocol", "protocol_for"]


@dataclass(frozen=True)
class ImportedProtocol(Protocol):
    """A track's protocol whose data is an imported file (``spec_json``: its spec)."""

    spec_json: str = ""

    def dataset_spec(self) -> DatasetSpec:
        """The imported file's spec."""
        return DatasetSpec.from_json(self.spec_json)


def protocol_for(dataset: Any, tier: str = "paper") -> ImportedProtocol:
    """The protocol for an imported dataset at ``tier``.

    Args:
        dataset: A loaded imported :class:`~crlbench.datasets.Dataset`.
        tier: ``smoke`` or ``paper``: whose budget, seeds and probes apply.

    Raises:
        CrlbenchError: a generated (not imported) dataset, or no track of its scene and mode.
    """
    spec: DatasetSpec = dataset.spec
    if spec.policy != "imported":
        raise CrlbenchError(f"{spec.dataset_id} was generated, not imported: score it with protocol(track, tier)")
    tracks = sorted(
        (
            t
            for (t, r), p in PROTOCOLS.items()
            if r == tier and p.dataset_id == t and dataset_entry(t).scene == spec.scene and dataset_entry(t).mode == spec.mode
        ),
        key=lambda t: int(t.rsplit("-v", 1)[1]),
    )
    if not tracks:
        raise CrlbenchError(f"no {tier} track of scene {spec.scene} in mode {spec.mode}; see `crlbench tracks`")
    base = protocol(tracks[-1], tier)
    kept = {f.name: getattr(base, f.name) for f in fields(Protocol)}
    return ImportedProtocol(**{**kept, "resolution": spec.resolution}, spec_json=spec.to_json())
