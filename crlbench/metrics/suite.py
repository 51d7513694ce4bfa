"""The metric table and the suite: every published metric is one entry of :data:`METRICS`.

An entry names a record key, the function that computes it from a :class:`Scoring` (the
arrays of one evaluation and the fits its metrics share, each fitted once), the inputs it
needs, whether higher is better and the track modes whose table shows it. The leaderboard's
Evaluator, the protocols (which metrics a track shows), the table's column order and arrows,
and the shared invariance and bad-input tests all read this table; every number is also
available from the single-purpose functions.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from crlbench.core import Variable
from crlbench.errors import CrlbenchError
from crlbench.metrics import kinds
from crlbench.metrics._checks import as_adjacency, as_assignment, as_latents, as_truth, check_lengths
from crlbench.metrics.correlation import mcc_score, spearman_matrix
from crlbench.metrics.dci import DCIResult, dci_score
from crlbench.metrics.graph import apply_matching, binarize, edge_precision_score, edge_recall_score, shd_error
from crlbench.metrics.interventions import as_labels, intervention_accuracy_score
from crlbench.metrics.probes import Probe, ProbeOutput, fit_probe_predictions
from crlbench.metrics.r2 import diag_score, r2_matrix, sep_error
from crlbench.metrics.triplet import TripletScores, triplet_scores

__all__ = ["Metric", "METRICS", "Scoring", "metric", "metric_names", "probe_matrices", "evaluate_latents"]


def probe_matrices(
    y_true: np.ndarray,
    latents: np.ndarray,
    *,
    variables: Sequence[Variable] | None = None,
    assignment: np.ndarray | None = None,
    probe: str | Probe = "mlp",
    split: float = 0.5,
    seed: int = 0,
    match_groups: bool = False,
) -> dict[str, Any]:
    """CITRIS R² and Spearman matrices with diag / sep, from one set of probes.

    Args:
        y_true: (N, D) true factors of an i.i.d. probe set.
        latents: (N, M) learned latents of the same samples.
        variables: The K variables spanning D; default: D continuous scalars.
        assignment: (M, K+1) latent-to-group map, or ``None`` to match one.
        probe: ``"mlp"`` (faithful), ``"kernel"`` or ``"linear"`` (fast), or a Probe.
        split: Fraction of samples used to fit the probes.
        seed: Seeds the split and the probes.
        match_groups: The assignment's groups carry the method's own labels (e.g. ILCM,
            whose intervention targets are inferred): relabel groups 1..K by Hungarian
            matching on the R² matrix before taking diag / sep. Methods whose groups follow
            the true labels (CITRIS, trained with observed targets) leave it False.

    Returns:
        ``r2`` and ``spearman`` (K+1, K) matrices, ``r2_diag``, ``r2_sep``,
        ``spearman_diag``, ``spearman_sep`` (floats) and their ``*_per_variable`` (K,)
        arrays, ``assignment`` (M, K+1) in the true labelling, ``assignment_matched``
        (bool) and ``group_matching`` (K,): the group of each true variable.
    """
    variables = kinds.default_variables(np.shape(y_true)[-1]) if variables is None else variables
    out: ProbeOutput = fit_probe_predictions(
        y_true,
        latents,
        variables=variables,
        assignment=assignment,
        probe=probe,
        split=split,
        seed=seed,
    )
    k = len(variables)
    mats = {name: fn(out.y_true, out.predictions, variables=variables) for name, fn in (("r2", r2_matrix), ("spearman", spearman_matrix))}
    groups = np.arange(k)
    if match_groups and not out.matched:
        from crlbench.metrics.matching import match_variables  # noqa: PLC0415

        groups = match_variables(mats["r2"][1:].T)  # (K,) group per true variable
    order = np.r_[0, groups + 1]
    assignment = np.asarray(out.assignment)[:, order]
    result: dict[str, Any] = {"assignment": assignment, "assignment_matched": out.matched, "group_matching": groups}
    for name, m in mats.items():
        m = m[order]
        result[name] = m
        result[f"{name}_diag"] = diag_score(m)
        result[f"{name}_sep"] = sep_error(m)
        result[f"{name}_diag_per_variable"] = diag_score(m, multioutput="raw_values")
        result[f"{name}_sep_per_variable"] = sep_error(m, multioutput="raw_values")
    return result


class Scoring:
    """The arrays of one evaluation and the fits its metrics share (each made once, on use).

    Args:
        y_true: (N, D) true factors of an i.i.d. probe set.
        latents: (N, M) learned latents of the same samples.
        variables: The K variables spanning D; default: D continuous scalars.
        assignment: (M, K+1) latent-to-group map, or ``None`` to match one.
        probe: Probe for the R² / Spearman matrices (``"mlp"`` is the faithful default).
        dci_regressor: ``"gbt"`` (faithful default) or ``"gbt_fast"``.
        seed: Seeds every split and fit.
        n_jobs: Parallel DCI regressors.
        match_groups: Relabel the assignment's groups by matching (see :func:`probe_matrices`).
        true_graph: (K, K) true DAG; ``learned_graph``: (K, K) over the method's groups or
            (M, M) over latents. Graph metrics need both.
        graph_matching: (K,) learned node per true variable; default: the matched group of
            each variable for (K, K) graphs, the latent assigned to it for (M, M) graphs.
        graph_threshold, reversal_cost: See :func:`crlbench.metrics.graph.shd_error`.
        targets_true, targets_pred: (N_test,) intervention labels (0 = none) or one-hot.
        triplet_true: (N_trip, D) true third states; ``triplet_pred``: factors predicted from
            the method's decoded third observations; ``triplet_pred_true_image``: from the
            true third observations (the floor). Triplet metrics need all three.

    Raises:
        CrlbenchError: naming the first bad argument, before any probe is fitted.
    """

    def __init__(
        self,
        y_true: np.ndarray,
        latents: np.ndarray,
        *,
        variables: Sequence[Variable] | None = None,
        assignment: np.ndarray | None = None,
        probe: str | Probe = "mlp",
        dci_regressor: str = "gbt",
        seed: int = 0,
        n_jobs: int = 1,
        match_groups: bool = False,
        true_graph: np.ndarray | None = None,
        learned_graph: np.ndarray | None = None,
        graph_matching: np.ndarray | None = None,
        graph_threshold: float = 0.5,
        reversal_cost: int = 1,
        targets_true: np.ndarray | None = None,
        targets_pred: np.ndarray | None = None,
        triplet_true: np.ndarray | None = None,
        triplet_pred: np.ndarray | None = None,
        triplet_pred_true_image: np.ndarray | None = None,
    ) -> None:
        self.latents = as_latents(latents)
        self.variables = tuple(kinds.default_variables(np.shape(y_true)[-1]) if variables is None else variables)
        self.y_true = as_truth(y_true, self.variables)
        check_lengths(y_true=self.y_true, latents=self.latents)
        k = len(self.variables)
        self.assignment = None if assignment is None else as_assignment(assignment, self.latents.shape[1], k)
        self.probe, self.dci_regressor, self.seed, self.n_jobs = probe, dci_regressor, seed, n_jobs
        self.match_groups = match_groups
        if (true_graph is None) != (learned_graph is None):
            raise CrlbenchError("true_graph and learned_graph go together: pass both for graph metrics, or neither")
        self.true_graph = None if true_graph is None else as_adjacency(true_graph, "true_graph", k, dag=True)
        self.learned_graph = None if learned_graph is None else as_adjacency(learned_graph, "learned_graph")
        self._graph_matching = graph_matching
        self.graph_threshold, self.reversal_cost = graph_threshold, reversal_cost
        if (targets_true is None) != (targets_pred is None):
            raise CrlbenchError("targets_true and targets_pred go together: pass both, or neither")
        self.targets_true = self.targets_pred = None
        if targets_true is not None and targets_pred is not None:
            self.targets_true, self.targets_pred = as_labels(targets_true, "targets_true"), as_labels(targets_pred, "targets_pred")
            check_lengths(targets_true=self.targets_true, targets_pred=self.targets_pred)
        triplets = {"triplet_true": triplet_true, "triplet_pred": triplet_pred, "triplet_pred_true_image": triplet_pred_true_image}
        if any(t is None for t in triplets.values()) and not all(t is None for t in triplets.values()):
            raise CrlbenchError("triplet_true, triplet_pred and triplet_pred_true_image go together: pass all three, or none")
        self.triplet_true = self.triplet_pred = self.triplet_pred_true_image = None
        if triplet_true is not None:
            d = self.y_true.shape[1]
            checked = {"triplet_true": as_truth(triplet_true, self.variables, "triplet_true")}
            for name in ("triplet_pred", "triplet_pred_true_image"):  # predicted factors, (N_trip, D)
                checked[name] = as_latents(triplets[name], name, f"(N_trip, D={d})")
                if checked[name].shape[1] != d:
                    raise CrlbenchError(f"{name} must be (N_trip, D={d}), got shape {checked[name].shape}")
            check_lengths(**checked)
            self.triplet_true, self.triplet_pred, self.triplet_pred_true_image = checked.values()

    def given(self, needs: Sequence[str]) -> bool:
        """Whether every named input was passed."""
        return all(getattr(self, name) is not None for name in needs)

    # --- shared fits ---------------------------------------------------------------------
    @cached_property
    def probes(self) -> dict[str, Any]:
        """:func:`probe_matrices` of the latents."""
        return probe_matrices(
            self.y_true,
            self.latents,
            variables=self.variables,
            assignment=self.assignment,
            probe=self.probe,
            seed=self.seed,
            match_groups=self.match_groups,
        )

    @cached_property
    def dci(self) -> DCIResult:
        """:func:`crlbench.metrics.dci_score` of the latents."""
        return dci_score(
            self.y_true,
            self.latents,
            variables=self.variables,
            regressor=self.dci_regressor,
            seed=self.seed,
            n_jobs=self.n_jobs,
        )

    def mcc(self, method: str) -> np.ndarray:
        """(D,) matched absolute correlations, ``method`` ``"pearson"`` or ``"spearman"``."""
        cache = self.__dict__.setdefault("_mcc", {})
        if method not in cache:
            cache[method] = mcc_score(self.y_true, self.latents, method=method, seed=self.seed, multioutput="raw_values")
        return cache[method]

    @cached_property
    def graph_matching(self) -> np.ndarray:
        """(K,) the learned node matched to each true variable."""
        if self._graph_matching is not None:
            return np.asarray(self._graph_matching)
        k = len(self.variables)
        if self.learned_graph is not None and self.learned_graph.shape != (k, k):
            # a graph over latents: the latent the assignment gives each true variable
            groups = np.argmax(np.asarray(self.probes["assignment"]), axis=1)
            matching = np.array([int(np.flatnonzero(groups == j + 1)[0]) if (groups == j + 1).any() else -1 for j in range(k)])
            if (matching < 0).any():  # a true variable with no latent: its edges are all missed
                free = [m for m in range(len(groups)) if m not in set(matching)]
                matching[matching < 0] = free[: int((matching < 0).sum())]
            return matching
        return np.asarray(self.probes["group_matching"])  # graph over the method's groups

    @cached_property
    def aligned_graph(self) -> np.ndarray:
        """(K, K) bool learned edges in the true variables' order."""
        assert self.learned_graph is not None
        return binarize(apply_matching(self.learned_graph, self.graph_matching, len(self.variables)), threshold=self.graph_threshold)

    def _intervention_accuracy(self) -> float:
        assert self.targets_true is not None and self.targets_pred is not None
        return intervention_accuracy_score(self.targets_true, self.targets_pred)

    def _graph(self, fn: Callable[..., float], **kw: Any) -> float:
        return float(fn(self.true_graph, self.learned_graph, matching=self.graph_matching, threshold=self.graph_threshold, **kw))

    @cached_property
    def triplets(self) -> TripletScores:
        """:func:`crlbench.metrics.triplet_scores` of the triplet inputs."""
        assert self.triplet_true is not None and self.triplet_pred is not None and self.triplet_pred_true_image is not None
        return triplet_scores(self.triplet_true, self.triplet_pred, self.triplet_pred_true_image, variables=self.variables)

    # --- the table -------------------------------------------------------------------------
    def metrics(self) -> dict[str, float]:
        """Every metric of :data:`METRICS` whose inputs were given, in table order."""
        return {m.name: float(m.compute(self)) for m in METRICS if self.given(m.needs)}

    def per_variable(self) -> dict[str, np.ndarray]:
        """(K,) per-variable values of every given metric that has them."""
        return {m.name: np.asarray(m.per_variable(self), dtype=float) for m in METRICS if m.per_variable and self.given(m.needs)}


@dataclass(frozen=True)
class Metric:
    """One published metric.

    Args:
        name: Its record key.
        compute: :class:`Scoring` -> the value.
        needs: :class:`Scoring` inputs beyond the probe set it needs (``learned_graph``,
            ``targets_pred``, ``triplet_pred``); ``()``: the latents alone.
        higher_is_better: ``False`` for errors.
        shown_on: Track modes whose table shows it (``"pairs"``, ``"sequences"``); every
            metric whose inputs are given is computed and recorded.
        per_variable: :class:`Scoring` -> its (K,) per-variable values, where it has them.
    """

    name: str
    compute: Callable[[Scoring], float]
    needs: tuple[str, ...]
    higher_is_better: bool
    shown_on: tuple[str, ...] = ()
    per_variable: Callable[[Scoring], np.ndarray] | None = None


_BOTH = ("pairs", "sequences")

#: Every published metric, in the leaderboard's column order.
METRICS: tuple[Metric, ...] = (
    Metric("r2_diag", lambda s: s.probes["r2_diag"], (), True, _BOTH, lambda s: s.probes["r2_diag_per_variable"]),
    Metric("r2_sep", lambda s: s.probes["r2_sep"], (), False, _BOTH, lambda s: s.probes["r2_sep_per_variable"]),
    Metric(
        "spearman_diag", lambda s: s.probes["spearman_diag"], (), True, ("sequences",), lambda s: s.probes["spearman_diag_per_variable"]
    ),
    Metric("spearman_sep", lambda s: s.probes["spearman_sep"], (), False, ("sequences",), lambda s: s.probes["spearman_sep_per_variable"]),
    Metric("mcc_pearson", lambda s: np.mean(s.mcc("pearson")), (), True, _BOTH),
    Metric("mcc_spearman", lambda s: np.mean(s.mcc("spearman")), (), True),
    Metric("dci_disentanglement", lambda s: s.dci.disentanglement, (), True, _BOTH),
    Metric("dci_completeness", lambda s: s.dci.completeness, (), True, ("pairs",)),
    Metric("dci_informativeness_error", lambda s: s.dci.informativeness_error, (), False, ("pairs",)),
    Metric("shd", lambda s: s._graph(shd_error, reversal_cost=s.reversal_cost), ("learned_graph",), False, ("pairs",)),
    Metric("edge_precision", lambda s: s._graph(edge_precision_score), ("learned_graph",), True),
    Metric("edge_recall", lambda s: s._graph(edge_recall_score), ("learned_graph",), True),
    Metric("intervention_accuracy", lambda s: s._intervention_accuracy(), ("targets_pred",), True, ("pairs",)),
    Metric(
        "triplet_error",
        lambda s: s.triplets.mean_normalized,
        ("triplet_pred",),
        False,
        ("sequences",),
        lambda s: np.atleast_1d(kinds.aggregate(s.triplets.normalized, s.variables, "per_variable")),
    ),
    Metric("triplet_floor_error", lambda s: s.triplets.floor_normalized.mean(), ("triplet_pred",), False, ("sequences",)),
)


def metric(name: str) -> Metric:
    """The :data:`METRICS` entry of a record key."""
    for m in METRICS:
        if m.name == name:
            return m
    raise KeyError(name)


def metric_names(mode: str | None = None) -> tuple[str, ...]:
    """Record keys of :data:`METRICS` in column order; with ``mode``, those its tables show."""
    return tuple(m.name for m in METRICS if mode is None or mode in m.shown_on)


def evaluate_latents(y_true: np.ndarray, latents: np.ndarray, **options: Any) -> dict[str, Any]:
    """The canonical suite on arrays: every :data:`METRICS` entry the inputs allow.

    Args:
        y_true: (N, D) true factors of an i.i.d. probe set.
        latents: (N, M) learned latents of the same samples.
        options: Keyword arguments of :class:`Scoring` (``variables``, ``assignment``,
            ``probe``, ``dci_regressor``, graphs, targets, triplets, ``seed``, ...).

    Returns:
        A flat dict: the :func:`probe_matrices` entries, every metric the inputs allow
        (``mcc_pearson``, ``mcc_spearman``, ``dci_*``; ``shd``, ``edge_precision``,
        ``edge_recall`` when graphs are given; ...), ``mcc_*_per_dim`` and
        ``dci_importances``.
    """
    s = Scoring(y_true, latents, **options)
    result: dict[str, Any] = {**s.probes, **s.metrics()}
    result.update(mcc_pearson_per_dim=s.mcc("pearson"), mcc_spearman_per_dim=s.mcc("spearman"), dci_importances=s.dci.importances)
    return result
