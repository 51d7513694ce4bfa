"""Graph metrics after matching: SHD and edge precision / recall.

Adjacencies are (K, K) with ``A[i, j] != 0`` meaning ``i -> j``. A learned graph may be
weighted (edge probabilities, ENCO-style, or weights): an edge is present where
``|A[i, j]| > threshold`` (default 0.5, right for probabilities and 0/1 graphs; pass a
smaller threshold for raw weights).

Learned variables are first aligned to true ones with ``matching`` (``matching[i]`` = the
learned variable matched to true variable i, e.g. from
:func:`crlbench.metrics.matching.match_variables`); neither causal-learn nor cdt does this.
Learned variables that no true variable is matched to are dropped with their edges.

SHD counts, per unordered pair of nodes (and per self-loop), the edits that turn the
learned graph into the true one: a missing or extra edge costs 1; a reversed edge costs
``reversal_cost``: 1 by default (as causal-learn's ``SHD``), 2 as cdt's default
``double_for_anticausal=True``. With ``reversal_cost=1`` a pair that differs at all costs
1; with 2 it costs the number of differing entries of ``(A[i, j], A[j, i])``.
"""

from __future__ import annotations

import numpy as np

from crlbench.errors import CrlbenchError
from crlbench.metrics._checks import as_adjacency

__all__ = ["binarize", "apply_matching", "shd_error", "edge_precision_score", "edge_recall_score"]


def binarize(adjacency: np.ndarray, *, threshold: float = 0.5) -> np.ndarray:
    """(K, K) bool edges ``|A| > threshold``."""
    return np.abs(as_adjacency(adjacency, "adjacency")) > threshold


def apply_matching(learned: np.ndarray, matching: np.ndarray | None, n: int) -> np.ndarray:
    """The learned (L, L) adjacency re-indexed to the K true variables.

    Args:
        learned: (L, L) learned adjacency.
        matching: (K,) learned index per true variable; ``None`` = identity (needs L = K).
        n: K.
    """
    if matching is None:
        if learned.shape[0] != n:
            raise CrlbenchError(
                f"learned must be (K={n}, K={n}) like true, got {learned.shape}; pass matching=(K,) to align a graph over other variables"
            )
        return learned
    m = np.asarray(matching)
    if m.shape != (n,) or m.dtype.kind not in "iu":
        raise CrlbenchError(f"matching must be (K={n},) integer learned indices, got {m.shape} {m.dtype}")
    if (m < 0).any() or (m >= learned.shape[0]).any() or len(set(m.tolist())) != n:
        raise CrlbenchError(f"matching must hold {n} distinct learned indices in [0, {learned.shape[0]}), got {m}")
    return learned[np.ix_(m, m)]


def _prepare(true, learned, matching, threshold, dag):
    t = as_adjacency(true, "true", dag=dag) != 0
    raw = as_adjacency(learned, "learned")
    lrn = np.abs(apply_matching(raw, matching, t.shape[0])) > threshold
    return t, lrn


def shd_error(
    true: np.ndarray,
    learned: np.ndarray,
    *,
    matching: np.ndarray | None = None,
    threshold: float = 0.5,
    reversal_cost: int = 1,
    dag: bool = True,
) -> int:
    """Structural Hamming distance between a true and a learned graph.

    Args:
        true: (K, K) true adjacency.
        learned: (L, L) learned adjacency, binary or weighted.
        matching: (K,) learned index per true variable; default identity.
        threshold: Edge where ``|learned| > threshold``.
        reversal_cost: Cost of a reversed edge, 1 or 2.
        dag: Require the true graph to be acyclic (an instantaneous graph); pass False
            for temporal graphs with self-edges. A learned graph is scored as it is, cycles
            included (a thresholded ENCO graph may have some).

    Returns:
        The number of edits (0 = identical graphs).
    """
    if reversal_cost not in (1, 2):
        raise CrlbenchError(f"reversal_cost must be 1 or 2, got {reversal_cost!r}")
    t, lrn = _prepare(true, learned, matching, threshold, dag)
    diff = t != lrn
    pair = diff | diff.T  # symmetric: does pair {i, j} differ at all?
    upper = np.triu(np.ones_like(t), k=1)
    if reversal_cost == 1:
        return int((pair & upper).sum() + np.diag(diff).sum())
    return int(diff.sum())  # the entries (i, j) and (j, i) count separately


def _counts(true, learned, matching, threshold, dag):
    t, lrn = _prepare(true, learned, matching, threshold, dag)
    return int((t & lrn).sum()), int(lrn.sum()), int(t.sum())


def edge_precision_score(
    true: np.ndarray,
    learned: np.ndarray,
    *,
    matching: np.ndarray | None = None,
    threshold: float = 0.5,
    dag: bool = False,
    zero_division: float = 0.0,
) -> float:
    """Fraction of learned directed edges that are true edges (a reversed edge is wrong).

    Args: as :func:`shd_error`; ``zero_division`` is returned when no edge was learned.
    """
    hit, n_learned, _ = _counts(true, learned, matching, threshold, dag)
    return hit / n_learned if n_learned else float(zero_division)


def edge_recall_score(
    true: np.ndarray,
    learned: np.ndarray,
    *,
    matching: np.ndarray | None = None,
    threshold: float = 0.5,
    dag: bool = False,
    zero_division: float = 0.0,
) -> float:
    """Fraction of true directed edges that were learned with the right direction.

    Args: as :func:`shd_error`; ``zero_division`` is returned when the true graph is empty.
    """
    hit, _, n_true = _counts(true, learned, matching, threshold, dag)
    return hit / n_true if n_true else float(zero_division)
