"""Scores of a pairs run directory with crlbench's metrics (the numbers of docs/results.md).

A reporting aid for the pairs baselines, not the leaderboard evaluator: it reads a run's
saved outputs (never the method's own claims) and computes, on the test pairs,

- causal disentanglement: DCI of the learned variables of the pre-intervention observation
  against the true causal variables (as ILCM reports it; gradient-boosted trees);
- SHD of the learned graph after matching learned to true variables (Hungarian matching on
  :func:`crlbench.metrics.dependence_matrix` of the test latents), reversed edge = 1;
- intervention accuracy of the inferred targets (best relabelling, "none" fixed).

``python -m crlbench.baselines.scoring RUN_DIR...`` prints one JSON line per run and writes
``scores.json`` into each.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from crlbench.baselines.run import load_run

__all__ = ["score_pairs_run"]


def score_pairs_run(run_dir: str | Path, *, regressor: str = "gbt", write: bool = True) -> dict[str, Any]:
    """Causal DCI, SHD and intervention accuracy of a finished pairs run.

    Args:
        run_dir: A run directory written by :func:`crlbench.baselines.train`.
        regressor: DCI regressor (``"gbt"`` as ILCM, ``"gbt_fast"`` for quick looks).
        write: Also write ``scores.json`` into the run directory.
    """
    from crlbench.datasets import load
    from crlbench.metrics import (
        dci_score,
        dependence_matrix,
        edge_precision_score,
        edge_recall_score,
        intervention_accuracy_score,
        match_variables,
        shd_error,
    )

    run = load_run(run_dir)
    ds = load(run["config"]["dataset"]["path"])
    test = ds["test"]
    truth = test.latents[:, 0]
    z = run["test"]["latents"]
    dci = dci_score(truth, z, variables=ds.variables, regressor=regressor)
    scores: dict[str, Any] = {
        "method": run["config"]["method"],
        "seed": run["config"]["seed"],
        "dataset_seed": ds.spec.seed,
        "n_vars": len(ds.variables),
        "true_edges": int(ds.graph.instantaneous.sum()),
        "causal_disentanglement": dci.disentanglement,
        "causal_completeness": dci.completeness,
        "informativeness_error": dci.informativeness_error,
        "fit_s": run["result"].get("fit_s"),
        "steps": run["result"].get("steps"),
    }
    if "inferred_targets" in run["test"]:
        scores["intervention_accuracy"] = intervention_accuracy_score(test.targets, run["test"]["inferred_targets"])
    graph = run["model"].get("graph")
    if graph is not None:
        g = np.asarray(graph)
        if g.shape[0] == len(ds.variables) == z.shape[1]:
            matching = match_variables(dependence_matrix(truth, z, variables=ds.variables).T)
            true = ds.graph.instantaneous
            scores["shd"] = shd_error(true, g, matching=matching)
            scores["edge_precision"] = edge_precision_score(true, g, matching=matching)
            scores["edge_recall"] = edge_recall_score(true, g, matching=matching)
            scores["graph_method"] = run["model"].get("graph_method")
            scores["graph_threshold"] = run["model"].get("graph_threshold")
    if write:
        (Path(run_dir) / "scores.json").write_text(json.dumps(scores, indent=1))
    return scores


if __name__ == "__main__":  # pragma: no cover - reporting entry point
    for arg in sys.argv[1:]:
        print(json.dumps(score_pairs_run(arg)), flush=True)
