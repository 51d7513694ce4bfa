from __future__ import annotations

import numpy as np
import torch

from crlbench.baselines.graphs import EDGE_THRESHOLD, dag_from_weights, intervention_graph, solution_graph

from .conftest import linear_pairs


def test_dag_from_weights_breaks_cycles_at_weakest_edge():
    w = np.array([[0, 0.9, 0], [0, 0, 0.8], [0.3, 0, 0]])  # 0 -> 1 -> 2 -> 0 (weak)
    assert dag_from_weights(w).tolist() == [[0, 1, 0], [0, 0, 1], [0, 0, 0]]
    assert dag_from_weights(w, threshold=0.85).sum() == 1
    assert EDGE_THRESHOLD == 0.1


def test_solution_graph_reads_parents_not_ancestors():
    # Linear SCM z = W^T z + e (0 -> 1 -> 2 and 0 -> 2): solution z = (I - W^T)^-1 e.
    w = np.array([[0, 1.0, -0.7], [0, 0, 1.2], [0, 0, 0]])
    a = torch.tensor(np.linalg.inv(np.eye(3) - w.T), dtype=torch.float64)
    e = torch.randn(500, 3, dtype=torch.float64)
    strength = solution_graph(lambda n: n @ a.T, e)
    assert dag_from_weights(strength).tolist() == (w != 0).astype(int).tolist()
    # A chain without the shortcut: the ancestor 0 of 2 is not a parent.
    w2 = np.array([[0, 1.0, 0], [0, 0, 1.0], [0, 0, 0]])
    a2 = torch.tensor(np.linalg.inv(np.eye(3) - w2.T), dtype=torch.float64)
    assert dag_from_weights(solution_graph(lambda n: n @ a2.T, e)).tolist() == w2.astype(int).tolist()


def test_intervention_graph_on_true_triples():
    p = linear_pairs(2000, 4, 0)  # chain 0 -> 1 -> 2 -> 3
    labels = np.where(p.targets.any(1), p.targets.argmax(1) + 1, 0)
    g = dag_from_weights(intervention_graph(p.latents[:, 0], p.latents[:, 1], labels))
    assert g.tolist() == np.eye(4, k=1, dtype=int).tolist()
