"""DatasetSpec: everything that determines a dataset, as canonical JSON with a sha256.

The same spec gives bit-identical latents, targets, noise and vector observations, and
images equal within the renderer's tolerance. A changed generator bumps the scene version,
which is part of the spec, so old hashes never silently name new data.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from crlbench.errors import CrlbenchError

__all__ = ["Mode", "MODES", "SPLIT_KINDS", "DatasetSpec", "FORMAT_VERSION"]

Mode = Literal["sequences", "pairs", "triplets"]
MODES: tuple[Mode, ...] = ("sequences", "pairs", "triplets")

#: What one sample of each split holds, per mode. ``sequence``: one long rollout whose
#: length is the split size; ``pairs``: (pre, post) with shared noise; ``triplets``:
#: (a, b, mix); ``states``: i.i.d. single states (metric probes).
SPLIT_KINDS: dict[str, dict[str, str]] = {
    "sequences": {
        "train": "sequence",
        "val": "sequence",
        "test": "sequence",
        "test_indep": "states",
        "test_triplets": "triplets",
    },
    "pairs": {"train": "pairs", "val": "pairs", "test": "pairs", "test_indep": "states"},
    "triplets": {"train": "triplets", "val": "triplets", "test": "triplets"},
}

#: Version of the HDF5 layout and of the builder's stream layout.
FORMAT_VERSION = 1


@dataclass(frozen=True)
class DatasetSpec:
    """A complete, hashable description of one dataset.

    Args:
        dataset_id: Registered id this spec was made from, e.g. ``"toy-son-pairs-v1"``.
        scene: Registered scene name; ``scene_version`` its generator version.
        mode: ``"sequences"`` (TRIS), ``"pairs"`` or ``"triplets"``.
        splits: Split name -> size (sequence length for sequence splits).
        params: Scene parameters (merged with the scene's defaults by the scene).
        resolution: Image side in pixels; ``None`` for vector scenes.
        policy, policy_params: Intervention policy (see :mod:`crlbench.simulators.policies`).
        seed: Root of every random stream.
        render: Renderer settings that change pixels (engine, samples, ...).
    """

    dataset_id: str
    scene: str
    scene_version: int
    mode: Mode
    splits: Mapping[str, int]
    params: Mapping[str, Any] = field(default_factory=dict)
    resolution: int | None = None
    policy: str = "bernoulli"
    policy_params: Mapping[str, Any] = field(default_factory=dict)
    seed: int = 0
    render: Mapping[str, Any] = field(default_factory=dict)
    format_version: int = FORMAT_VERSION

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise CrlbenchError(f"mode must be one of {MODES}, got {self.mode!r}")
        allowed = SPLIT_KINDS[self.mode]
        for name, n in self.splits.items():
            if name not in allowed:
                raise CrlbenchError(f"split {name!r} does not exist in mode {self.mode!r}; use {sorted(allowed)}")
            if not isinstance(n, int) or n < 0:
                raise CrlbenchError(f"split size {name}={n!r} must be a non-negative integer")
        if not isinstance(self.seed, int) or self.seed < 0:
            raise CrlbenchError(f"seed must be a non-negative integer, got {self.seed!r}")
        if self.resolution is not None and (not isinstance(self.resolution, int) or self.resolution < 8):
            raise CrlbenchError(f"resolution must be an integer >= 8 pixels, got {self.resolution!r}")

    def split_kind(self, split: str) -> str:
        """``sequence``, ``pairs``, ``triplets`` or ``states`` for a split of this spec."""
        return SPLIT_KINDS[self.mode][split]

    def to_dict(self) -> dict[str, Any]:
        """The spec as plain JSON types."""
        d = asdict(self)
        for key in ("splits", "params", "policy_params", "render"):
            d[key] = dict(d[key])
        return d

    def to_json(self) -> str:
        """Canonical JSON: sorted keys, no whitespace; the input of :attr:`hash`."""
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))

    @property
    def hash(self) -> str:
        """sha256 hex digest of :meth:`to_json`."""
        return hashlib.sha256(self.to_json().encode()).hexdigest()

    @classmethod
    def from_json(cls, text: str) -> DatasetSpec:
        """Read a spec written by ``to_json``."""
        d = json.loads(text)
        return cls(**d)
