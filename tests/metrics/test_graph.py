"""SHD and edge precision / recall: known answers and a causal-learn cross-check."""

from __future__ import annotations

import numpy as np
import pytest
from causallearn.graph.Edge import Edge
from causallearn.graph.Endpoint import Endpoint
from causallearn.graph.GeneralGraph import GeneralGraph
from causallearn.graph.GraphNode import GraphNode
from causallearn.graph.SHD import SHD

from crlbench.metrics import edge_precision_score, edge_recall_score, match_variables, shd_error

CHAIN = np.array([[0, 1, 0], [0, 0, 1], [0, 0, 0]])  # 0 -> 1 -> 2


def _causallearn_graph(a: np.ndarray) -> GeneralGraph:
    nodes = [GraphNode(f"X{i}") for i in range(len(a))]
    g = GeneralGraph(nodes)
    for i, j in zip(*np.nonzero(a)):
        g.add_edge(Edge(nodes[i], nodes[j], Endpoint.TAIL, Endpoint.ARROW))
    return g


def _random_dag(rng, k, p=0.4):
    a = np.triu(rng.random((k, k)) < p, k=1).astype(int)
    perm = rng.permutation(k)
    return a[np.ix_(perm, perm)]


def test_identical_is_zero():
    assert shd_error(CHAIN, CHAIN) == 0


def test_reversed_edge_costs_one_or_two():
    rev = CHAIN.copy()
    rev[0, 1], rev[1, 0] = 0, 1
    assert shd_error(CHAIN, rev) == 1
    assert shd_error(CHAIN, rev, reversal_cost=2) == 2


def test_missing_and_extra_edges_cost_one():
    missing = CHAIN.copy()
    missing[1, 2] = 0
    extra = CHAIN.copy()
    extra[0, 2] = 1
    for cost in (1, 2):
        assert shd_error(CHAIN, missing, reversal_cost=cost) == 1
        assert shd_error(CHAIN, extra, reversal_cost=cost) == 1


def test_matching_aligns_learned_variables():
    perm = np.array([2, 0, 1])  # learned variable perm[i] is true variable i
    learned = np.zeros((3, 3), dtype=int)
    learned[np.ix_(perm, perm)] = CHAIN
    assert shd_error(CHAIN, learned) > 0
    assert shd_error(CHAIN, learned, matching=perm) == 0
    # matching recovered from a similarity matrix
    sim = np.eye(3)[perm] + 0.01  # sim[i, perm[i]] = 1
    np.testing.assert_array_equal(match_variables(sim), perm)


def test_weighted_learned_graph_with_threshold():
    w = np.array([[0.0, 0.9, 0.2], [0.1, 0.0, 0.7], [0.0, 0.05, 0.0]])
    assert shd_error(CHAIN, w) == 0
    assert shd_error(CHAIN, w, threshold=0.15) == 1  # the 0.2 edge 0 -> 2 now counts
    assert shd_error(CHAIN, -w) == 0  # negative weights are edges too


@pytest.mark.parametrize("seed", range(5))
def test_matches_causal_learn_shd(seed):
    rng = np.random.default_rng(seed)
    t, l_ = _random_dag(rng, 6), _random_dag(rng, 6)
    expected = SHD(_causallearn_graph(t), _causallearn_graph(l_)).get_shd()
    assert shd_error(t, l_) == expected


def test_cdt_double_for_anticausal_formula():
    rng = np.random.default_rng(3)
    for _ in range(5):
        t, l_ = _random_dag(rng, 5), _random_dag(rng, 5)
        assert shd_error(t, l_, reversal_cost=2) == np.abs(t - l_).sum()  # cdt's definition


def test_temporal_graph_with_self_edges():
    t = np.eye(3, dtype=int) + CHAIN
    l_ = CHAIN.copy()
    assert shd_error(t, l_, dag=False) == 3  # three missing self-edges
    with pytest.raises(ValueError, match="cycle"):
        shd_error(t, l_)


def test_cyclic_true_graph_raises():
    cyc = np.array([[0, 1], [1, 0]])
    with pytest.raises(ValueError, match=r"true.*cycle"):
        shd_error(cyc, np.zeros((2, 2)))


def test_precision_recall():
    learned = np.array([[0, 1, 1], [0, 0, 0], [0, 1, 0]])  # 0->1 right, 0->2 extra, 2->1 reversed
    assert edge_precision_score(CHAIN, learned) == pytest.approx(1 / 3)
    assert edge_recall_score(CHAIN, learned) == pytest.approx(1 / 2)
    assert edge_precision_score(CHAIN, np.zeros((3, 3))) == 0.0
    assert edge_precision_score(CHAIN, np.zeros((3, 3)), zero_division=1.0) == 1.0
    assert edge_recall_score(CHAIN, CHAIN) == 1.0


def test_bad_matching_raises():
    with pytest.raises(ValueError, match="matching"):
        shd_error(CHAIN, CHAIN, matching=np.array([0, 0, 1]))
    with pytest.raises(ValueError, match=r"learned must be \(K=3, K=3\)"):
        shd_error(CHAIN, np.zeros((4, 4)))
