"""The metric suite on saved arrays: R² / Spearman matrices, MCC, DCI and SHD in one call.

This is what the leaderboard's evaluator calls for a method's latents on a dataset's
i.i.d. probe set; every number is also available from the single-purpose functions.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from crlbench.core import Variable
from crlbench.metrics import kinds
from crlbench.metrics._checks import as_adjacency, as_latents, as_truth, check_lengths
from crlbench.metrics.correlation import mcc_score, spearman_matrix
from crlbench.metrics.dci import dci_score
from crlbench.metrics.graph import edge_precision_score, edge_recall_score, shd_error
from crlbench.metrics.probes import Probe, ProbeOutput, fit_probe_predictions
from crlbench.metrics.r2 import diag_score, r2_matrix, sep_error

__all__ = ["probe_matrices", "evaluate_latents"]


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
        y_true, latents, variables=variables, assignment=assignment, probe=probe,
        split=split, seed=seed,
    )
    k = len(variables)
    mats = {name: fn(out.y_true, out.predictions, variables=variables) for name, fn in (("r2", r2_matrix), ("spearman", spearman_matrix))}
    groups = np.arange(k)
    if match_groups and not out.matched:
        from crlbench.metrics.matching import match_variables

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


def evaluate_latents(
    y_true: np.ndarray,
    latents: np.ndarray,
    *,
    variables: Sequence[Variable] | None = None,
    assignment: np.ndarray | None = None,
    probe: str | Probe = "mlp",
    dci_regressor: str = "gbt",
    true_graph: np.ndarray | None = None,
    learned_graph: np.ndarray | None = None,
    graph_matching: np.ndarray | None = None,
    graph_threshold: float = 0.5,
    reversal_cost: int = 1,
    seed: int = 0,
    n_jobs: int = 1,
    match_groups: bool = False,
) -> dict[str, Any]:
    """The canonical suite: R² / Spearman matrices, MCC (Pearson, Spearman), DCI, SHD.

    Args:
        y_true: (N, D) true factors of an i.i.d. probe set.
        latents: (N, M) learned latents of the same samples.
        variables: The K variables spanning D; default: D continuous scalars.
        assignment: (M, K+1) latent-to-group map, or ``None`` to match one.
        probe: Probe for the R² / Spearman matrices (``"mlp"`` is the faithful default).
        dci_regressor: ``"gbt"`` (faithful default) or ``"gbt_fast"``.
        true_graph, learned_graph: (K, K) adjacencies; SHD and edge precision / recall are
            computed when both are given (the true one must be a DAG).
        graph_matching: (K,) learned variable per true variable; default identity (group
            k of the assignment is learned variable k).
        graph_threshold, reversal_cost: See :func:`crlbench.metrics.graph.shd_error`.
        seed: Seeds every split and fit.
        n_jobs: Parallel DCI regressors.
        match_groups: Relabel the assignment's groups by matching (see
            :func:`probe_matrices`).

    Returns:
        A flat dict: the :func:`probe_matrices` entries, ``mcc_pearson``,
        ``mcc_spearman`` (+ ``*_per_dim``), ``dci_disentanglement``,
        ``dci_completeness``, ``dci_informativeness_error``, ``dci_importances``, and
        ``shd``, ``edge_precision``, ``edge_recall`` when graphs are given.
    """
    latents = as_latents(latents)
    variables = kinds.default_variables(np.shape(y_true)[-1]) if variables is None else variables
    y = as_truth(y_true, variables)
    check_lengths(y_true=y, latents=latents)
    if true_graph is not None:  # checked before the probes are fitted, so a mistake fails fast
        as_adjacency(true_graph, "true_graph", len(variables), dag=True)
    if learned_graph is not None:
        as_adjacency(learned_graph, "learned_graph")
    result = probe_matrices(
        y, latents, variables=variables, assignment=assignment, probe=probe, seed=seed,
        match_groups=match_groups,
    )
    for method in ("pearson", "spearman"):
        per_dim = mcc_score(y, latents, method=method, seed=seed, multioutput="raw_values")
        result[f"mcc_{method}"] = float(np.mean(per_dim))
        result[f"mcc_{method}_per_dim"] = per_dim
    dci = dci_score(
        y, latents, variables=variables, regressor=dci_regressor, seed=seed, n_jobs=n_jobs
    )
    result.update(
        dci_disentanglement=dci.disentanglement,
        dci_completeness=dci.completeness,
        dci_informativeness_error=dci.informativeness_error,
        dci_importances=dci.importances,
    )
    if true_graph is not None and learned_graph is not None:
        kw = {"matching": graph_matching, "threshold": graph_threshold}
        result["shd"] = shd_error(true_graph, learned_graph, reversal_cost=reversal_cost, **kw)
        result["edge_precision"] = edge_precision_score(true_graph, learned_graph, **kw)
        result["edge_recall"] = edge_recall_score(true_graph, learned_graph, **kw)
    return result
