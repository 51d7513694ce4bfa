"""The scene contract: causal variables, graphs, mechanisms, interventions, rendering.

A scene is a structural causal model over K causal variables (D dimensions in all) plus a
renderer. Latent sampling is kept apart from rendering, so that pairs and triplets are
exact: :meth:`Scene.render` is a pure function of the states. Every random draw takes an
explicit :class:`numpy.random.Generator`; the dataset builder spawns them from one
:class:`numpy.random.SeedSequence` (structure, noise, interventions, rendering).

Shapes: ``N`` samples, ``K`` causal variables, ``D`` latent dimensions (a variable may span
several, e.g. a 3-D position), ``E`` exogenous noise dimensions.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, TypeVar

import numpy as np

# Re-exported: the causal vocabulary lives in crlbench.core (shared with datasets, metrics).
from crlbench.core import CausalGraph, Kind, Variable, descendants, topological_order

__all__ = [
    "Kind",
    "Variable",
    "CausalGraph",
    "Observation",
    "Scene",
    "Renderer",
    "SCENES",
    "register_scene",
    "topological_order",
    "descendants",
]


@dataclass(frozen=True)
class Observation:
    """What the renderer produces for one state.

    ``kind="image"``: uint8 ``(H, W, 3)``; ``kind="vector"``: float64 ``(D_obs,)``.
    """

    kind: Literal["image", "vector"]
    shape: tuple[int, ...]

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(np.uint8 if self.kind == "image" else np.float64)

    def at(self, resolution: int | None) -> Observation:
        """This observation at ``resolution`` pixels (images; vectors are unchanged)."""
        if self.kind == "vector" or resolution is None:
            return self
        return Observation("image", (resolution, resolution, self.shape[-1]))

    @property
    def dataset_name(self) -> str:
        """HDF5 dataset name: ``images`` or ``observations``."""
        return "images" if self.kind == "image" else "observations"


class Renderer(abc.ABC):
    """A worker-local renderer, built once and reused across frames.

    Heavy renderers (MuJoCo, Blender) hold their context here; :meth:`close` frees it.
    """

    @abc.abstractmethod
    def __call__(self, latents: np.ndarray, seeds: np.ndarray) -> np.ndarray:
        """Render states.

        Args:
            latents: (N, D) float64 states.
            seeds: (N,) uint64 per-frame render seeds (for stochastic renderers such as
                path tracers; deterministic renderers ignore them).

        Returns:
            (N, *observation.shape) array of ``observation.dtype``.
        """

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release resources (GL context, Blender scene)."""

    def __enter__(self) -> Renderer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Scene(abc.ABC):
    """A structural causal model over typed causal variables, with a renderer.

    Subclasses set ``name``, ``version``, ``description`` and ``default_params``, register
    with :func:`register_scene` (the registry reads all four from the class), build
    their structure in ``__init__`` from ``params`` and a structure generator, and
    implement the mechanisms below. Construction must be deterministic given
    ``(params, rng)`` so that worker processes can rebuild the same scene from the spec.

    Mechanism methods are vectorised over N and must not touch global random state.
    """

    name: ClassVar[str]
    version: ClassVar[int] = 1
    description: ClassVar[str] = ""
    default_params: ClassVar[Mapping[str, Any]] = {}

    def __init__(self, params: Mapping[str, Any], rng: np.random.Generator) -> None:
        unknown = set(params) - set(self.default_params)
        if unknown:
            raise ValueError(f"scene {self.name!r}: unknown parameter(s) {sorted(unknown)}; known: {sorted(self.default_params)}")
        self.params: dict[str, Any] = {**self.default_params, **params}

    # --- declaration -------------------------------------------------------------------
    @property
    @abc.abstractmethod
    def variables(self) -> tuple[Variable, ...]:
        """The K causal variables, in latent order."""

    @property
    @abc.abstractmethod
    def graph(self) -> CausalGraph:
        """Temporal and instantaneous graphs over the K variables."""

    @property
    @abc.abstractmethod
    def observation(self) -> Observation:
        """What :meth:`renderer` produces per state at the default resolution.

        Images at another resolution: ``observation.at(resolution)``.
        """

    def prepare_workers(self) -> None:  # noqa: B027 - optional hook
        """Called once in the parent before render workers start (e.g. pick a GL backend
        and export it in the environment, so that spawned workers do not probe again)."""

    @property
    def noise_dim(self) -> int:
        """E, the number of exogenous noise dimensions (default: one per latent dim)."""
        return self.latent_dim

    def structure(self) -> dict[str, np.ndarray]:
        """Scene-specific arrays stored under ``/structure`` (weights, mixing, ...)."""
        return {}

    def versions(self) -> dict[str, str]:
        """Versions of the libraries that make the observations (e.g. ``{"mujoco": ...}``).

        Recorded in every file, since renderers are not bit-stable across versions.
        """
        return {}

    # --- derived -----------------------------------------------------------------------
    @property
    def latent_dim(self) -> int:
        """D, the total number of latent dimensions."""
        return sum(v.size for v in self.variables)

    @property
    def dim_to_var(self) -> np.ndarray:
        """(D,) int index of the causal variable each latent dimension belongs to."""
        return np.repeat(np.arange(len(self.variables)), [v.size for v in self.variables])

    def expand(self, per_var: np.ndarray) -> np.ndarray:
        """Broadcast (N, K) per-variable values to (N, D) per-dimension values."""
        return np.asarray(per_var)[..., self.dim_to_var]

    # --- instantaneous SCM (pairs, observational samples) --------------------------------
    @abc.abstractmethod
    def sample_noise(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """(N, E) exogenous noise of the instantaneous SCM."""

    @abc.abstractmethod
    def sample_intervention(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """(N, D) values an intervened variable takes (the intervention distribution)."""

    @abc.abstractmethod
    def solve(self, noise: np.ndarray, targets: np.ndarray, values: np.ndarray) -> np.ndarray:
        """Evaluate the instantaneous SCM in topological order under ``do(targets)``.

        Args:
            noise: (N, E) exogenous noise.
            targets: (N, K) bool/uint8, 1 where the variable is intervened.
            values: (N, D) values the intervened variables take (ignored elsewhere).

        Returns:
            (N, D) latents. Counterfactuals: the same ``noise`` with other targets.
        """

    # --- temporal SCM (TRIS sequences) ---------------------------------------------------
    @abc.abstractmethod
    def initial_state(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """(N, D) states at t = 0."""

    @abc.abstractmethod
    def transition(self, prev: np.ndarray, targets: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """One time step under interventions.

        Args:
            prev: (N, D) states at t-1.
            targets: (N, K) bool/uint8 intervention targets at t.
            rng: draws the exogenous noise and the intervened values.

        Returns:
            ``(next, noise)``: (N, D) states at t and the (N, E) noise used.
        """

    # --- independent factors (probe sets, triplets) --------------------------------------
    @abc.abstractmethod
    def sample_independent(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """(N, D) states whose causal variables are drawn independently over their support.

        Used for the ``*_indep`` probe sets of sequence datasets and for triplets, so that
        probes see no correlation between causal variables.
        """

    # --- rendering -----------------------------------------------------------------------
    @abc.abstractmethod
    def renderer(self, resolution: int | None, render: Mapping[str, Any] | None = None) -> Renderer:
        """A renderer for this scene.

        Args:
            resolution: Image side in pixels (``None`` for vectors).
            render: The spec's render settings (engine, samples, ...); ``None`` for the
                scene's defaults. Scenes without such settings ignore it.
        """


#: Scene name -> its class, filled by :func:`register_scene` when a scene module is imported.
SCENES: dict[str, type[Scene]] = {}


SceneT = TypeVar("SceneT", bound=type[Scene])


def register_scene(cls: SceneT) -> SceneT:
    """Class decorator: register a :class:`Scene` under its ``name``.

    Name, version and description are read from the class, so they are written once.
    """
    name = getattr(cls, "name", "")
    if not name or not cls.description:
        raise ValueError(f"{cls.__qualname__}: a registered scene sets `name` and `description`")
    if SCENES.get(name, cls) is not cls:
        raise ValueError(f"scene {name!r} is already registered by {SCENES[name].__qualname__}")
    SCENES[name] = cls
    return cls
