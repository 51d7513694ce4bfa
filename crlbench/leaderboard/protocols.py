"""Protocols: one per benchmark track and tier, fixing everything a comparison depends on.

A track is a dataset id (scene x mode, e.g. ``toy-son-pairs-v1``). Its protocol fixes the
data (spec and hash), the training seeds, the budget, batch size and latent size, the
evaluation probes and the baselines' tier settings. Two tiers share one code path:
``smoke`` (CPU, minutes, smoke-size data, 2 seeds) and ``paper`` (one GPU, the original
papers' scale and budgets, 5 seeds). Every record on a leaderboard row carries the protocol
hash it ran under.

The hash covers what a comparison depends on, not what a table shows: the metrics of a
track come from :data:`crlbench.metrics.METRICS` and its baselines from
:data:`crlbench.baselines.METHODS`, so adding either keeps every protocol and record.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any, Mapping

from crlbench.datasets.spec import DatasetSpec
from crlbench.errors import CrlbenchError
from crlbench.registry import dataset_entry, suggest

__all__ = ["Protocol", "PROTOCOLS", "TIERS", "protocol", "tracks", "expected_dataset_hash"]

TIERS = ("smoke", "paper")


@dataclass(frozen=True)
class Protocol:
    """Everything a run on a track and tier must share.

    Args:
        track: Dataset id of the track.
        tier: ``smoke`` or ``paper``.
        size: Dataset size preset; ``dataset_params`` scene parameters; ``dataset_seed`` the
            data's seed (the same data for every training seed).
        seeds: Training seeds 0..k-1.
        budget: Training budget (``"90ep"``, ``"5000steps"``).
        batch_size: Training batch size; ``latent_dim``: latents per method (None: the
            number of causal dimensions).
        probe: R² / Spearman probe (``mlp`` faithful, ``kernel``/``linear`` fast);
            ``dci_regressor``: ``gbt`` (faithful) or ``gbt_fast``.
        device: ``cpu`` or ``cuda``.
        resolution: Image side of the track's data (None: the dataset id's default).
        baseline_params: Hyperparameters of the official baselines at this tier, by method
            name (network width, latent size); a user's method chooses its own.
    """

    track: str
    tier: str
    size: str
    seeds: tuple[int, ...]
    budget: str
    batch_size: int
    dataset_params: Mapping[str, Any] = field(default_factory=dict)
    dataset_seed: int = 0
    latent_dim: int | None = None
    probe: str = "mlp"
    dci_regressor: str = "gbt"
    device: str = "cpu"
    resolution: int | None = None
    baseline_params: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def dataset_spec(self) -> DatasetSpec:
        """The spec of the track's data at this tier."""
        entry = dataset_entry(self.track)
        return entry.spec(size=self.size, seed=self.dataset_seed, params=self.dataset_params, resolution=self.resolution)

    @property
    def dataset_hash(self) -> str:
        return self.dataset_spec().hash

    @property
    def mode(self) -> str:
        return dataset_entry(self.track).mode

    @property
    def metrics(self) -> tuple[str, ...]:
        """The record keys this track's table shows (from :data:`crlbench.metrics.METRICS`)."""
        from crlbench.metrics.suite import metric_names

        return metric_names(self.mode)

    @property
    def methods(self) -> tuple[str, ...]:
        """The official baselines of the track (from :data:`crlbench.baselines.METHODS`)."""
        from crlbench.baselines.methods import official_methods

        return official_methods(self.mode)

    def to_dict(self) -> dict[str, Any]:
        """Every field and the dataset hash, as JSON-native values (what :attr:`hash` covers)."""
        d = asdict(self)
        d["dataset_params"] = dict(self.dataset_params)
        d["baseline_params"] = {m: dict(p) for m, p in self.baseline_params.items()}
        d["dataset_hash"] = self.dataset_hash
        return d

    @property
    def hash(self) -> str:
        """sha256 of the canonical JSON of :meth:`to_dict`."""
        return hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _track(track: str, *, smoke: Mapping[str, Any], paper: Mapping[str, Any], **common: Any) -> dict[tuple[str, str], Protocol]:
    tiers = {
        "smoke": {"size": "smoke", "seeds": (0, 1), "device": "cpu", "probe": "kernel", "dci_regressor": "gbt_fast"},
        "paper": {"size": "paper", "seeds": (0, 1, 2, 3, 4), "device": "cuda", "probe": "mlp", "dci_regressor": "gbt"},
    }
    return {
        (track, tier): Protocol(track=track, tier=tier, **{**tiers[tier], **common, **over})
        for tier, over in (("smoke", smoke), ("paper", paper))
    }


def _image_baselines(mode: str, channels: int, latent_dim: int, max_options: int | None) -> dict[str, dict[str, Any]]:
    """The official baselines' settings on an image track, each method taking the ones its
    registry entry names: conv width, latent size (sequence methods; pairs methods have one
    latent per variable) and how many intervention options ILCM-style methods decode per
    pair (None: all K+1)."""
    from crlbench.baselines.methods import METHODS, official_methods

    tier = {"channels": channels, "n_latents": latent_dim, "max_options": max_options}
    return {m: {k: tier[k] for k in METHODS[m].tier_params} for m in official_methods(mode)}


def _image_track(track: str, *, smoke_budget: str, smoke_batch: int, paper_budget: str, paper_batch: int) -> dict[tuple[str, str], Protocol]:
    """An image track. Smoke: 32x32 frames, c_hid 32, 16 latents, 2 of the K+1 options
    decoded: minutes per run on one CPU core, an end-to-end check rather than a result.
    Paper: 64x64 (CITRIS' and ILCM's training size), c_hid 64, 32 latents, every option."""
    mode = dataset_entry(track).mode
    return _track(
        track,
        smoke={"budget": smoke_budget, "batch_size": smoke_batch, "resolution": 32,
               "latent_dim": None if mode == "pairs" else 16,
               "baseline_params": _image_baselines(mode, 32, 16, 2)},
        paper={"budget": paper_budget, "batch_size": paper_batch, "resolution": 64,
               "latent_dim": None if mode == "pairs" else 32,
               "baseline_params": _image_baselines(mode, 64, 32, None)},
    )


#: (track, tier) -> protocol. Budgets: paper tiers follow the papers (ILCM's toy experiments:
#: 90 epochs, batch 64; CITRIS: 200 epochs, batch 512); ILCM's image budget is not
#: published: crlbench fixes 100 epochs at batch 64. Smoke tiers are sized to run on 2 CPU cores in
#: minutes and are not comparable with the paper tier.
PROTOCOLS: dict[tuple[str, str], Protocol] = {
    **_track(
        "toy-son-pairs-v1",
        dataset_params={"n_vars": 4},
        smoke={"budget": "8000steps", "batch_size": 64},
        paper={"budget": "90ep", "batch_size": 64},
    ),
    **_track(
        "toy-son-tris-v1",
        dataset_params={"n_vars": 4},
        smoke={"budget": "5000steps", "batch_size": 128},
        paper={"budget": "200ep", "batch_size": 512},
    ),
    **_image_track("causal-circuit-tris-v1", smoke_budget="300steps", smoke_batch=64, paper_budget="200ep", paper_batch=512),
    **_image_track("causal3dident-tris-v2", smoke_budget="300steps", smoke_batch=64, paper_budget="200ep", paper_batch=512),
    **_image_track("causal-circuit-pairs-v1", smoke_budget="300steps", smoke_batch=32, paper_budget="100ep", paper_batch=64),
    **_image_track("causal3dident-pairs-v2", smoke_budget="300steps", smoke_batch=32, paper_budget="100ep", paper_batch=64),
}


def tracks() -> list[str]:
    """Every track with a protocol."""
    return sorted({t for t, _ in PROTOCOLS})


def expected_dataset_hash(track: str, tier: str) -> str | None:
    """The dataset hash a record of ``track`` at ``tier`` must carry (``None``: no protocol).

    The hook :func:`crlbench.leaderboard.records.load_records` takes as ``expected_hash``.
    """
    p = PROTOCOLS.get((track, tier))
    return p.dataset_hash if p else None


def protocol(track: str, tier: str = "smoke") -> Protocol:
    """The protocol of ``track`` at ``tier`` (did-you-mean on unknown tracks)."""
    if tier not in TIERS:
        raise CrlbenchError(f"unknown tier {tier!r}; use one of {TIERS}")
    if (track, tier) not in PROTOCOLS:
        raise suggest(track, tracks(), "track", f"Tracks: {', '.join(tracks())}.")
    return PROTOCOLS[(track, tier)]
