"""Protocols: one per benchmark track and tier, fixing everything a comparison depends on.

A track is a dataset id (scene x mode, e.g. ``toy-son-pairs-v1``). Its protocol fixes the
data (spec and hash), the training seeds, the budget, batch size and latent size, the
evaluation probes and the baselines' tier settings. Three tiers share one code path:
``smoke`` (CPU, minutes, smoke-size data, 2 seeds: an end-to-end check), ``cpu`` (2 CPU
cores, an afternoon for every baseline of every track, faithful probes, 3 seeds: the
reference results a new method is compared with without a GPU) and ``paper`` (one GPU, the
original papers' scale and budgets, 5 seeds). Every record on a leaderboard row carries the
protocol hash it ran under; records of different tiers are never compared.

A protocol may cover several graphs (``graphs``: the data seeds, one dataset each; every
method and seed runs on every graph), so that structure metrics average over graphs rather
than depend on one drawn DAG. A track may also run a registered dataset at other scene
parameters under its own id (``dataset``: the toy scaling track at n = 10).

The hash covers what a comparison depends on, not what a table shows: the metrics of a
track come from :data:`crlbench.metrics.METRICS` and its baselines from
:data:`crlbench.baselines.METHODS`, so adding either keeps every protocol and record.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from crlbench.datasets.spec import DatasetSpec
from crlbench.errors import CrlbenchError
from crlbench.leaderboard.records import TIERS
from crlbench.registry import dataset_entry, suggest

__all__ = ["Protocol", "PROTOCOLS", "TIERS", "protocol", "tracks", "expected_dataset_hash"]


@dataclass(frozen=True)
class Protocol:
    """Everything a run on a track and tier must share.

    Args:
        track: Id of the track (the dataset id unless ``dataset`` names another).
        tier: One of :data:`TIERS`.
        size: Dataset size preset; ``dataset_params`` scene parameters; ``dataset_seed`` the
            data's seed (the same data for every training seed; with ``graphs``, the graph
            this protocol object stands for, see :meth:`on_graph`).
        seeds: Training seeds 0..k-1.
        budget: Training budget (``"90ep"``, ``"5000steps"``).
        stage_budget: Budget of the shared pretrained stages (the autoencoder CITRIS-NF's
            flow trains on, the encodings the pairs methods train on on images), trained
            once per dataset; None: ``budget``.
        batch_size: Training batch size; ``latent_dim``: latents per method (None: the
            number of causal dimensions).
        probe: R² / Spearman probe (``mlp`` faithful, ``kernel``/``linear`` fast);
            ``dci_regressor``: ``gbt`` (faithful) or ``gbt_fast``.
        device: ``cpu`` or ``cuda``.
        resolution: Image side of the track's data (None: the dataset id's default).
        baseline_params: Hyperparameters of the official baselines at this tier, by method
            name (network width, latent size); a user's method chooses its own.
        graphs: Data seeds of the graphs the protocol covers (empty: one, ``dataset_seed``).
        dataset: Registered dataset id the track runs (None: the track id itself).
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
    graphs: tuple[int, ...] = ()
    dataset: str | None = None
    stage_budget: str | None = None

    @property
    def dataset_id(self) -> str:
        """The registered dataset the track runs."""
        return self.dataset or self.track

    def dataset_spec(self) -> DatasetSpec:
        """The spec of the track's data at this tier (of graph ``dataset_seed``)."""
        entry = dataset_entry(self.dataset_id)
        return entry.spec(size=self.size, seed=self.dataset_seed, params=self.dataset_params, resolution=self.resolution)

    @property
    def dataset_hash(self) -> str:
        """The hash of the track's dataset spec."""
        return self.dataset_spec().hash

    @property
    def graph(self) -> int | None:
        """The graph a run of this protocol object is on (None: the track has one graph)."""
        return self.dataset_seed if self.graphs else None

    def on_graph(self, graph: int) -> Protocol:
        """The same protocol (same hash) standing for one of its graphs."""
        if graph not in self.graphs:
            raise CrlbenchError(f"{self.track} ({self.tier}) has no graph {graph}; its graphs: {list(self.graphs)}")
        return replace(self, dataset_seed=graph)

    def per_graph(self) -> list[Protocol]:
        """One protocol object per graph (``[self]`` on a single-graph track)."""
        return [self.on_graph(g) for g in self.graphs] if self.graphs else [self]

    @property
    def graph_hashes(self) -> dict[int, str]:
        """Graph -> the dataset hash of its data (empty on a single-graph track)."""
        return {g: self.on_graph(g).dataset_hash for g in self.graphs}

    @property
    def mode(self) -> str:
        """The dataset's mode: ``sequences``, ``pairs`` or ``triplets``."""
        return dataset_entry(self.dataset_id).mode

    @property
    def metrics(self) -> tuple[str, ...]:
        """The record keys this track's table shows (from :data:`crlbench.metrics.METRICS`)."""
        from crlbench.metrics.suite import metric_names  # noqa: PLC0415

        return metric_names(self.mode)

    @property
    def methods(self) -> tuple[str, ...]:
        """The official baselines of the track (from :data:`crlbench.baselines.METHODS`)."""
        from crlbench.baselines.methods import official_methods  # noqa: PLC0415

        return official_methods(self.mode)

    def to_dict(self) -> dict[str, Any]:
        """Every field and the dataset hash (one per graph), as JSON-native values (what
        :attr:`hash` covers). ``graphs``, ``dataset`` and ``stage_budget`` enter only when
        set, so that the hashes of protocols without them do not depend on them."""
        d = asdict(self)
        d["dataset_params"] = dict(self.dataset_params)
        d["baseline_params"] = {m: dict(p) for m, p in self.baseline_params.items()}
        for name in ("graphs", "dataset", "stage_budget"):
            if not d[name]:
                del d[name]
        if self.graphs:  # every graph object of the protocol has the same hash
            del d["dataset_seed"]
            d["graphs"] = list(self.graphs)
            d["dataset_hashes"] = {str(g): h for g, h in self.graph_hashes.items()}
        else:
            d["dataset_hash"] = self.dataset_hash
        return d

    @property
    def hash(self) -> str:
        """sha256 of the canonical JSON of :meth:`to_dict`."""
        return hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":")).encode()).hexdigest()


#: Each tier's defaults (a track's settings override them).
_TIER_DEFAULTS: dict[str, dict[str, Any]] = {
    "smoke": {"size": "smoke", "seeds": (0, 1), "device": "cpu", "probe": "kernel", "dci_regressor": "gbt_fast"},
    "cpu": {"size": "cpu", "seeds": (0, 1, 2), "device": "cpu", "probe": "mlp", "dci_regressor": "gbt"},
    "paper": {"size": "paper", "seeds": (0, 1, 2, 3, 4), "device": "cuda", "probe": "mlp", "dci_regressor": "gbt"},
}


def _track(track: str, tiers: Mapping[str, Mapping[str, Any] | None], **common: Any) -> dict[tuple[str, str], Protocol]:
    """The protocols of one track: tier -> its settings (None: the track has no such tier)."""
    return {
        (track, tier): Protocol(track=track, tier=tier, **{**_TIER_DEFAULTS[tier], **common, **over})
        for tier, over in tiers.items()
        if over is not None
    }


def _image_baselines(mode: str, channels: int, latent_dim: int, max_options: int | None) -> dict[str, dict[str, Any]]:
    """The official baselines' settings on an image track, each method taking the ones its
    registry entry names: conv width, latent size (sequence methods; pairs methods have one
    latent per variable) and how many intervention options ILCM-style methods decode per
    pair (None: all K+1)."""
    from crlbench.baselines.methods import METHODS, official_methods  # noqa: PLC0415

    tier = {"channels": channels, "n_latents": latent_dim, "max_options": max_options}
    return {m: {k: tier[k] for k in METHODS[m].tier_params} for m in official_methods(mode)}


def _image_track(track: str, *, budgets: Mapping[str, tuple[str, int, str | None]]) -> dict[tuple[str, str], Protocol]:
    """An image track; ``budgets``: tier -> (budget, batch size, stage budget or None).

    Smoke: 32x32 frames, c_hid 32, 16 latents, 2 of the K+1 options decoded: minutes per run
    on one CPU core, an end-to-end check rather than a result. CPU: :data:`CPU_RESOLUTION`
    frames, c_hid 32, 16 latents, every option (the pairs methods train on the shared
    stage's 8-dimensional encodings, where decoding all K+1 options is cheap), cpu-size data
    (docs/leaderboard.md, "Tiers", says how it was sized). Paper: 64x64 (CITRIS' and ILCM's
    training size), c_hid 64, 32 latents, every option.
    """
    mode = dataset_entry(track).mode
    shape = {"smoke": (32, 32, 16, 2), "cpu": (CPU_RESOLUTION[mode], 32, 16, None), "paper": (64, 64, 32, None)}
    return _track(
        track,
        {
            tier: {
                "budget": budget,
                "batch_size": batch,
                "stage_budget": stage_budget,
                "resolution": shape[tier][0],
                "latent_dim": None if mode == "pairs" else shape[tier][2],
                "baseline_params": _image_baselines(mode, *shape[tier][1:]),
            }
            for tier, (budget, batch, stage_budget) in budgets.items()
        },
    )


#: Image side of the cpu tier's image tracks, by mode. Pairs train at 32 px: their shared
#: reduce-dim stage costs 3.3-4.4 CPU-seconds per step of 32 pairs at 64 px in bf16 (1.1-1.2
#: at 32 px), so its 2400 steps at 64 px (2.2-2.9 hours per dataset, on which every pairs run
#: waits) would not fit the tier's limits (docs/leaderboard.md, "Tiers").
CPU_RESOLUTION = {"sequences": 64, "pairs": 32}
#: (budget, batch size, stage budget) of the cpu tier's image tracks. TRIS: batch in windows
#: of two frames; CITRIS-NF's autoencoder trains for the run's budget. Pairs: the shared
#: reduce-dim stage trains 2400 steps on the images (ILCM's DCI on CausalCircuit, one seed:
#: 0.81 on a 2400-step stage, 0.45 on a 600-step one, whose encodings the methods fail to
#: disentangle), then each method 8000 steps on its 8-dimensional encodings (seconds per
#: thousand steps), as long as on the toy tracks, so that ILCM's phases each train for
#: hundreds of steps.
CPU_TRIS = ("800steps", 32, None)
CPU_PAIRS = ("8000steps", 32, "2400steps")
#: Graphs (data seeds) of the toy tracks' cpu and paper tiers, as ILCM's three data seeds:
#: at n = 5 they have 5-7 (pairs) and 7-10 (TRIS, cross-variable) edges; the smoke tier keeps
#: one graph (n = 4, data seed 0): it checks the pipeline, not the methods.
TOY_GRAPHS = (0, 1, 2)

#: (track, tier) -> protocol. Budgets: paper tiers follow the papers (ILCM's toy experiments:
#: 90 epochs, batch 64; CITRIS: 200 epochs, batch 512); ILCM's image budget is not
#: published: crlbench fixes 100 epochs at batch 64. Smoke tiers are sized to run on 2 CPU
#: cores in minutes, cpu tiers to run every baseline of every track in an afternoon on 2 CPU
#: cores (docs/leaderboard.md, "Tiers"); no tier is comparable with another.
PROTOCOLS: dict[tuple[str, str], Protocol] = {
    **_track(
        "toy-son-pairs-v1",
        {
            "smoke": {"budget": "8000steps", "batch_size": 64, "dataset_params": {"n_vars": 4}},
            "cpu": {"budget": "8000steps", "batch_size": 64, "dataset_params": {"n_vars": 5}, "graphs": TOY_GRAPHS},
            "paper": {"budget": "90ep", "batch_size": 64, "dataset_params": {"n_vars": 5}, "graphs": TOY_GRAPHS},
        },
    ),
    **_track(
        "toy-son-tris-v1",
        {
            "smoke": {"budget": "5000steps", "batch_size": 128, "dataset_params": {"n_vars": 4}},
            "cpu": {"budget": "5000steps", "batch_size": 128, "dataset_params": {"n_vars": 5}, "graphs": TOY_GRAPHS},
            "paper": {"budget": "200ep", "batch_size": 512, "dataset_params": {"n_vars": 5}, "graphs": TOY_GRAPHS},
        },
    ),
    # ILCM's scaling experiment: the pairs track at n = 10 (18-26 edges on these graphs).
    **_track(
        "toy-son-pairs-n10-v1",
        {
            "cpu": {"budget": "8000steps", "batch_size": 64, "graphs": TOY_GRAPHS},
            "paper": {"budget": "90ep", "batch_size": 64, "graphs": TOY_GRAPHS},
        },
        dataset="toy-son-pairs-v1",
        dataset_params={"n_vars": 10},
    ),
    **_image_track("causal-circuit-tris-v1", budgets={"smoke": ("300steps", 64, None), "cpu": CPU_TRIS, "paper": ("200ep", 512, None)}),
    **_image_track("causal3dident-tris-v2", budgets={"smoke": ("300steps", 64, None), "cpu": CPU_TRIS, "paper": ("200ep", 512, None)}),
    **_image_track("causal-circuit-pairs-v1", budgets={"smoke": ("300steps", 32, None), "cpu": CPU_PAIRS, "paper": ("100ep", 64, None)}),
    **_image_track("causal3dident-pairs-v2", budgets={"smoke": ("300steps", 32, None), "cpu": CPU_PAIRS, "paper": ("100ep", 64, None)}),
}


def tracks(tier: str | None = None) -> list[str]:
    """Every track with a protocol (at ``tier``, when given)."""
    return sorted({t for t, r in PROTOCOLS if tier is None or r == tier})


def expected_dataset_hash(track: str, tier: str) -> str | dict[int, str] | None:
    """The dataset hash a record of ``track`` at ``tier`` must carry: graph -> hash on a
    track with several graphs, ``None`` when there is no such protocol.

    The hook :func:`crlbench.leaderboard.records.load_records` takes as ``expected_hash``.
    """
    p = PROTOCOLS.get((track, tier))
    if p is None:
        return None
    return p.graph_hashes or p.dataset_hash


def protocol(track: str, tier: str = "smoke") -> Protocol:
    """The protocol of ``track`` at ``tier`` (did-you-mean on unknown tracks)."""
    if tier not in TIERS:
        raise CrlbenchError(f"unknown tier {tier!r}; use one of {TIERS}")
    if (track, tier) not in PROTOCOLS:
        if track in tracks():
            have = [t for t in TIERS if (track, t) in PROTOCOLS]
            raise CrlbenchError(f"{track} has no {tier} tier; its tiers: {', '.join(have)} (pass --tier)")
        raise suggest(track, tracks(), "track", f"Tracks: {', '.join(tracks())}.")
    return PROTOCOLS[(track, tier)]
