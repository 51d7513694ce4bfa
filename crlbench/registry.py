"""Versioned string ids with did-you-mean errors: scenes and datasets.

Two tables: scenes (``toy-son`` -> its class; each scene module registers its class with
:func:`crlbench.simulators.base.register_scene`, which reads name, version and description
from the class) and datasets (``toy-son-pairs-v1`` -> a scene, a mode and default sizes,
below). A scene-level id such as ``toy-son-v1`` names the group of its three mode datasets.
Scene modules are light: MuJoCo, Blender and torch are imported only when rendering or
training.
"""

from __future__ import annotations

import difflib
import hashlib
import importlib
import importlib.util
import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crlbench.datasets.spec import MODES, DatasetSpec, Mode
from crlbench.errors import CrlbenchError, UnknownIdError
from crlbench.simulators import causal3dident, causal_circuit, toy_son  # noqa: F401 - registers the scenes
from crlbench.simulators.base import SCENES
from crlbench.simulators.blender import DEFAULT_RENDER

__all__ = [
    "DatasetEntry",
    "SCENES",
    "DATASETS",
    "GROUPS",
    "load_entry_point",
    "scene_class",
    "dataset_entry",
    "resolve_ids",
    "suggest",
    "CHANGELOG",
]

#: Mode -> the token used in dataset ids (``-tris-`` as in CITRIS' TRIS setting).
MODE_TOKENS = {"sequences": "tris", "pairs": "pairs", "triplets": "triplets"}


def load_entry_point(entry_point: str) -> Any:
    """Import ``"package.module:attr"`` (or ``"path/to/file.py:attr"``) and return the attribute."""
    module, _, attr = entry_point.rpartition(":") if entry_point.count(":") > 1 else entry_point.partition(":")
    if not attr or not module:
        raise CrlbenchError(f"entry point {entry_point!r} must look like 'package.module:Name' or 'path/to/file.py:Name'")
    try:
        obj: Any = _import_file(module) if module.endswith(".py") else importlib.import_module(module)
    except ModuleNotFoundError as e:
        raise CrlbenchError(f"cannot import {module!r} for {entry_point!r}: {e}") from e
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise CrlbenchError(f"{module!r} has no attribute {attr!r} (from {entry_point!r})")
        obj = getattr(obj, part)
    return obj


def _import_file(path: str) -> Any:
    """A module from a ``.py`` file outside any package (a user's method in one file).

    It is registered in ``sys.modules`` under a name derived from the file's absolute path,
    so loading the same file twice gives the same module, and its classes pickle.
    """
    file = Path(path).resolve()
    if not file.is_file():
        raise CrlbenchError(f"no such file {path!r} (a method file is named 'path/to/file.py:ClassName')")
    name = f"crlbench_user_{file.stem}_{hashlib.sha256(str(file).encode()).hexdigest()[:8]}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, file)
    if spec is None or spec.loader is None:
        raise CrlbenchError(f"cannot import {path!r} as a Python module (a method file is named 'path/to/file.py:ClassName')")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


def suggest(name: str, known: list[str], what: str, hint: str = "Run `crlbench ls` to list them.") -> UnknownIdError:
    """An :class:`UnknownIdError` for ``name`` with the closest known names."""
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
    mean = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    return UnknownIdError(f"unknown {what} {name!r}.{mean} {hint}")


@dataclass(frozen=True)
class DatasetEntry:
    """A registered dataset id: a scene in one mode with default sizes and settings.

    Args:
        sizes: Preset name (``smoke``, ``cpu``, ``paper``) -> split sizes.
        params: Scene parameters that differ from the scene's defaults.
    """

    id: str
    scene: str
    mode: Mode
    description: str
    sizes: Mapping[str, Mapping[str, int]]
    params: Mapping[str, Any] = field(default_factory=dict)
    resolution: int | None = None
    policy: str = "bernoulli"
    policy_params: Mapping[str, Any] = field(default_factory=dict)
    render: Mapping[str, Any] = field(default_factory=dict)

    def spec(
        self,
        *,
        size: str = "smoke",
        seed: int = 0,
        params: Mapping[str, Any] | None = None,
        resolution: int | None = None,
        render: Mapping[str, Any] | None = None,
    ) -> DatasetSpec:
        """The :class:`DatasetSpec` for a size preset, seed and parameter overrides."""
        if size not in self.sizes:
            raise CrlbenchError(f"unknown size {size!r} for {self.id}; use one of {sorted(self.sizes)}")
        cls = scene_class(self.scene)
        given = {**self.params, **(params or {})}
        for key in given:
            if key not in cls.default_params:
                raise suggest(key, sorted(cls.default_params), f"parameter of scene {self.scene}", f"Known: {sorted(cls.default_params)}.")
        # Defaults are written into the spec, so its hash pins every parameter's value.
        merged = json.loads(json.dumps({**cls.default_params, **given}))  # JSON-native values
        return DatasetSpec(
            dataset_id=self.id,
            scene=self.scene,
            scene_version=cls.version,
            mode=self.mode,
            splits=dict(self.sizes[size]),
            params=merged,
            resolution=self.resolution if resolution is None else resolution,
            policy=self.policy,
            policy_params=dict(self.policy_params),
            seed=seed,
            render={**self.render, **(render or {})},
        )


DATASETS: dict[str, DatasetEntry] = {}
GROUPS: dict[str, list[str]] = {}


def register_datasets(
    scene: str,
    version: int,
    descriptions: Mapping[str, str],
    sizes: Mapping[str, Mapping[str, Mapping[str, int]]],
    **common: Any,
) -> None:
    """Register ``{scene}-{mode}-v{version}`` for each mode and the group ``{scene}-v{version}``.

    Args:
        descriptions: Mode -> one-line description.
        sizes: Mode -> preset -> split sizes.
        common: Further :class:`DatasetEntry` fields; ``policy`` may be a mode -> name map.
    """
    if scene not in SCENES:
        raise ValueError(f"datasets of {scene!r}: no scene of that name is registered")
    group = f"{scene}-v{version}"
    GROUPS[group] = []
    for mode in MODES:
        did = f"{scene}-{MODE_TOKENS[mode]}-v{version}"
        fields = {k: (v[mode] if isinstance(v, dict) and mode in v else v) for k, v in common.items()}
        DATASETS[did] = DatasetEntry(did, scene, mode, descriptions[mode], sizes[mode], **fields)
        GROUPS[group].append(did)


def scene_class(name: str) -> Any:
    """The scene class registered as ``name``."""
    if name not in SCENES:
        raise suggest(name, sorted(SCENES), "scene")
    return SCENES[name]


def dataset_entry(dataset_id: str) -> DatasetEntry:
    """The :class:`DatasetEntry` for a dataset id, or a did-you-mean error."""
    if dataset_id in GROUPS:
        raise UnknownIdError(
            f"{dataset_id!r} is a scene id, not a dataset id; a dataset id names one of its modes: {', '.join(GROUPS[dataset_id])}"
        )
    if dataset_id not in DATASETS:
        raise suggest(dataset_id, sorted([*DATASETS, *GROUPS]), "dataset id")
    return DATASETS[dataset_id]


def resolve_ids(name: str) -> list[str]:
    """A dataset id or a scene-level group id -> the dataset ids it names."""
    if name in GROUPS:
        return list(GROUPS[name])
    return [dataset_entry(name).id]


# --- the registered scenes and datasets ------------------------------------------------

register_datasets(
    "toy-son",
    1,
    {
        "sequences": "toy linear SCM, TRIS sequences with lag-1 parents and Bernoulli targets",
        "pairs": "toy linear SCM, pre/post-intervention pairs sharing exogenous noise (ILCM)",
        "triplets": "toy linear SCM, triplets: two states and a mask-mixed third",
    },
    {
        "sequences": {
            "smoke": {"train": 5000, "val": 1000, "test": 1000, "test_indep": 2000, "test_triplets": 1000},
            "cpu": {"train": 20_000, "val": 2000, "test": 2000, "test_indep": 5000, "test_triplets": 2000},
            "paper": {"train": 100_000, "val": 10_000, "test": 10_000, "test_indep": 100_000, "test_triplets": 10_000},
        },
        "pairs": {
            "smoke": {"train": 5000, "val": 1000, "test": 1000, "test_indep": 5000},
            "cpu": {"train": 20_000, "val": 2000, "test": 2000, "test_indep": 5000},
            "paper": {"train": 100_000, "val": 10_000, "test": 10_000, "test_indep": 100_000},
        },
        "triplets": {
            "smoke": {"train": 5000, "val": 1000, "test": 1000},
            "paper": {"train": 100_000, "val": 10_000, "test": 10_000},
        },
    },
    policy={"sequences": "bernoulli", "pairs": "single", "triplets": "bernoulli"},
)

# --- causal-circuit (MuJoCo) -------------------------------------------------------------
register_datasets(
    "causal-circuit",
    1,
    {
        "sequences": "CausalCircuit, TRIS sequences: arm random walk, lights relax to their mechanisms",
        "pairs": "CausalCircuit, pre/post-intervention image pairs sharing exogenous noise (ILCM)",
        "triplets": "CausalCircuit, triplets: two states and a mask-mixed third, rendered anew",
    },
    {
        "sequences": {
            "smoke": {"train": 500, "val": 100, "test": 100, "test_indep": 200, "test_triplets": 100},
            "cpu": {"train": 10_000, "val": 1000, "test": 1000, "test_indep": 2000, "test_triplets": 1000},
            "paper": {"train": 100_000, "val": 10_000, "test": 10_000, "test_indep": 10_000, "test_triplets": 10_000},
        },
        "pairs": {
            "smoke": {"train": 400, "val": 100, "test": 100, "test_indep": 200},
            "cpu": {"train": 5000, "val": 500, "test": 500, "test_indep": 2000},
            "paper": {"train": 100_000, "val": 10_000, "test": 10_000, "test_indep": 10_000},
        },
        "triplets": {
            "smoke": {"train": 200, "val": 50, "test": 50},
            "paper": {"train": 100_000, "val": 10_000, "test": 10_000},
        },
    },
    resolution=64,
    policy={"sequences": "bernoulli", "pairs": "single", "triplets": "bernoulli"},
)
# --- end causal-circuit ------------------------------------------------------------------

# --- causal3dident (Blender) -------------------------------------------------------------
register_datasets(
    "causal3dident",
    2,
    {
        "sequences": "Temporal Causal3DIdent (teapot), TRIS sequences with Bernoulli(1/6) targets (CITRIS)",
        "pairs": "Causal3DIdent (teapot), instantaneous SCM: image pairs sharing exogenous noise",
        "triplets": "Causal3DIdent (teapot), triplets: two states and a mask-mixed third, rendered anew",
    },
    {
        # smoke: ~2k frames, about a minute with 2 workers at the default render settings;
        # cpu: ~16k frames (sequences), ~13k (pairs), a few minutes each.
        # paper: CITRIS' 250k-frame training sequence; the other splits are crlbench's sizes.
        "sequences": {
            "smoke": {"train": 1000, "val": 200, "test": 200, "test_indep": 400, "test_triplets": 100},
            "cpu": {"train": 10_000, "val": 1000, "test": 1000, "test_indep": 2000, "test_triplets": 1000},
            "paper": {"train": 250_000, "val": 25_000, "test": 25_000, "test_indep": 25_000, "test_triplets": 10_000},
        },
        "pairs": {
            "smoke": {"train": 500, "val": 100, "test": 100, "test_indep": 400},
            "cpu": {"train": 5000, "val": 500, "test": 500, "test_indep": 2000},
            "paper": {"train": 100_000, "val": 10_000, "test": 10_000, "test_indep": 25_000},
        },
        "triplets": {
            "smoke": {"train": 400, "val": 100, "test": 100},
            "paper": {"train": 100_000, "val": 10_000, "test": 10_000},
        },
    },
    resolution=64,
    # Pairs need instantaneous effects (else a counterfactual changes only its target).
    params={"sequences": {}, "pairs": {"instantaneous": True}, "triplets": {}},
    policy={"sequences": "bernoulli", "pairs": "single", "triplets": "bernoulli"},
    # p = 1/6: the released generator's rate for the teapot (a third of steps untouched).
    policy_params={"sequences": {"p": 1 / 6}, "pairs": {}, "triplets": {}},
    # Cycles, 8 samples, OIDN balanced; blender.REFERENCE_RENDER (128 samples, denoised)
    # is the original's settings.
    render=dict(DEFAULT_RENDER),
)
# --- end causal3dident -------------------------------------------------------------------

# --- changelog ---------------------------------------------------------------------------
#: Scene -> every version of its dataset ids (``<scene>-<mode>-v<N>``), oldest first:
#: ``(version, date, what changed)``. A change to the data bumps the version and adds a
#: row here; dataset cards (``crlbench card``) print the scene's rows.
CHANGELOG: dict[str, tuple[tuple[int, str, str], ...]] = {
    "toy-son": ((1, "2026-11-23", "first release: linear Gaussian SCM on a random DAG, SO(n) mixing; tris, pairs, triplets"),),
    "causal-circuit": ((1, "2026-11-23", "first release: MuJoCo robot arm and three lights, 64 px; tris, pairs, triplets"),),
    "causal3dident": (
        (1, "2026-11-23", "first release: Blender Cycles teapot scene, 64 px, 4 samples; tris, pairs, triplets"),
        (
            2,
            "2026-12-02",
            "the original's look: its camera, lights, rubber material, teapot size and pose, "
            "spotlight; 8 samples, denoised; v1 withdrawn (its images do not match the original's)",
        ),
    ),
}
