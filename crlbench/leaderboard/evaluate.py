"""Evaluator(track): scores predictions with the metrics the track defines (OGB style).

A method is scored from a *predictions* mapping (an ``.npz`` file for ``crlbench evaluate
--predictions``), which :func:`crlbench.baselines.predict.predict` builds from any method
following the contract.
The metrics are always computed here, never taken from the submitter.

Predictions (N_probe = size of ``test_indep``, N_test of ``test``, N_trip of
``test_triplets``; M latents; K causal variables):

===========================  ======================  =====================================
key                          shape                   when
===========================  ======================  =====================================
``probe_latents``            (N_probe, M) float      always: the encodings of ``test_indep``
``assignment``               (M, K+1) float          optional: latent -> variable (column 0 =
                                                     none); without it one is matched on the
                                                     probe set and the table marks it
``graph``                    (M, M) or (K, K)        pairs tracks, optional: learned graph over
                                                     latents or assignment groups (SHD)
``test_inferred_targets``    (N_test,) int           pairs tracks, optional: 0 = none, i =
                                                     learned variable i of the test pairs
``triplet_decoded``          (N_trip, *obs)          sequence tracks, optional: decoded third
                                                     observations of ``test_triplets``
===========================  ======================  =====================================

Probes and regressors are fitted on one half of the probe set and scored on the other
(:mod:`crlbench.metrics`); the protocol fixes the probe and the DCI regressor.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np

from crlbench.datasets.loaders import Dataset
from crlbench.errors import CrlbenchError
from crlbench.leaderboard.protocols import Protocol

__all__ = ["PredictionsError", "Evaluation", "Evaluator", "PREDICTION_KEYS"]

#: Image triplets a record keeps as examples for the leaderboard page, at most this many
#: pixels a side (every n-th pixel): a record stays about 100 kB.
TRIPLET_EXAMPLES = 2
EXAMPLE_SIDE = 32


class PredictionsError(CrlbenchError):
    """A predictions mapping of the wrong keys, shapes or values."""


#: key -> (modes it applies to, required)
PREDICTION_KEYS: dict[str, tuple[tuple[str, ...], bool]] = {
    "probe_latents": (("pairs", "sequences"), True),
    "assignment": (("pairs", "sequences"), False),
    "graph": (("pairs",), False),
    "test_inferred_targets": (("pairs",), False),
    "triplet_decoded": (("sequences",), False),
}


@dataclass
class Evaluation:
    """What the evaluator computed: scalar metrics, per-variable breakdowns, artifacts."""

    metrics: dict[str, float]
    per_variable: dict[str, dict[str, float]]
    assignment: str  # "learned" or "post-hoc"
    artifacts: dict[str, Any] = field(default_factory=dict)


class Evaluator:
    """Scores predictions for one track and tier; checks their format first.

    Args:
        protocol: The track's protocol (probe, DCI regressor, metrics).
        dataset: The track's dataset (its hash must be the protocol's).
        causal_encoder_dir: Where the frozen per-dataset causal encoder of image tracks is
            cached (default: next to the dataset file).
    """

    def __init__(self, protocol: Protocol, dataset: Dataset, *, causal_encoder_dir: str | Path | None = None) -> None:
        if dataset.spec.hash != protocol.dataset_hash:
            raise CrlbenchError(
                f"dataset {dataset.path} has spec hash {dataset.spec.hash[:12]}, but track {protocol.track} "
                f"({protocol.tier}) uses {protocol.dataset_hash[:12]}; regenerate it with the protocol's settings"
            )
        self.protocol, self.data = protocol, dataset
        self.k = len(dataset.variables)
        self.encoder_dir = Path(causal_encoder_dir) if causal_encoder_dir else dataset.path.parent

    # --- format ------------------------------------------------------------------------
    def _sizes(self) -> dict[str, int]:
        return {s: len(self.data[s]) for s in ("test_indep", "test", "test_triplets") if s in self.data.splits}

    def expected_format(self) -> str:
        """The predictions this track accepts, with this dataset's sizes."""
        n = self._sizes()
        obs = self.data["test_indep"].observations.shape[1:]
        shapes = {
            "probe_latents": f"({n['test_indep']}, M) float",
            "assignment": f"(M, {self.k + 1}) float",
            "graph": f"(M, M) or ({self.k}, {self.k})",
            "test_inferred_targets": f"({n.get('test', 'N_test')},) int",
            "triplet_decoded": f"({n.get('test_triplets', 'N_trip')}, {', '.join(map(str, obs))})",
        }
        lines = [f"predictions for track {self.protocol.track} ({self.protocol.tier}):"]
        for key, (modes, required) in PREDICTION_KEYS.items():
            if self.protocol.mode in modes:
                lines.append(f"  {key:<22} {shapes[key]:<28} {'required' if required else 'optional'}")
        return "\n".join(lines)

    def _fail(self, key: str, problem: str) -> PredictionsError:
        return PredictionsError(f"predictions[{key!r}]: {problem}\n{self.expected_format()}")

    def validate(self, predictions: Mapping[str, Any]) -> dict[str, np.ndarray]:
        """Check keys, shapes and values; return the arrays (raises naming the key)."""
        mode = self.protocol.mode
        out: dict[str, np.ndarray] = {}
        for key in predictions:
            if key not in PREDICTION_KEYS or mode not in PREDICTION_KEYS[key][0]:
                raise self._fail(key, "is not a prediction of this track")
        for key, (modes, required) in PREDICTION_KEYS.items():
            if mode in modes and required and key not in predictions:
                raise self._fail(key, "is missing")
        n = self._sizes()
        for key, value in predictions.items():
            a = np.asarray(value)
            if a.dtype.kind not in "biuf":
                raise self._fail(key, f"must be numeric, got dtype {a.dtype}")
            if a.dtype.kind == "f" and not np.isfinite(a).all():
                raise self._fail(key, "contains NaN or inf")
            out[key] = a
        z = out["probe_latents"]
        if z.ndim != 2 or len(z) != n["test_indep"]:
            raise self._fail("probe_latents", f"has shape {z.shape}")
        m = z.shape[1]
        checks: dict[str, Callable[[np.ndarray], bool]] = {
            "assignment": lambda a: a.shape == (m, self.k + 1) and (a >= 0).all(),
            "graph": lambda a: a.shape in ((m, m), (self.k, self.k)),
            "test_inferred_targets": lambda a: a.shape == (n.get("test", -1),) and a.dtype.kind in "iu" and (a >= 0).all(),
            "triplet_decoded": lambda a: a.shape == (n.get("test_triplets", -1), *self.data["test_triplets"].observations.shape[2:]),
        }
        for key, ok in checks.items():
            if key in out and not ok(out[key]):
                raise self._fail(key, f"has shape {out[key].shape} and dtype {out[key].dtype}")
        return out

    # --- scoring -----------------------------------------------------------------------
    def evaluate(self, predictions: Mapping[str, Any], *, seed: int = 0) -> Evaluation:
        """Every metric of the track, computed from validated predictions."""
        from crlbench.metrics import evaluate_latents

        p = self.validate(predictions)
        names = [v.name for v in self.data.variables]
        true_graph = self.data.graph.instantaneous if self.protocol.mode == "pairs" else None
        learned = p.get("graph")
        res = evaluate_latents(
            self.data["test_indep"].latents,
            p["probe_latents"],
            variables=self.data.variables,
            assignment=p.get("assignment"),
            probe=self.protocol.probe,
            dci_regressor=self.protocol.dci_regressor,
            seed=seed,
            match_groups=True,  # learned groups carry the method's own labels
        )
        metrics = {k: float(res[k]) for k in res if np.ndim(res[k]) == 0 and not isinstance(res[k], (bool, np.bool_))}
        per_variable = {
            key: dict(zip(names, map(float, res[f"{key}_per_variable"])))
            for key in ("r2_diag", "r2_sep", "spearman_diag", "spearman_sep")
        }
        artifacts: dict[str, Any] = {
            "r2_matrix": np.asarray(res["r2"]).tolist(),
            "r2_matrix_rows": ["(none)", *names],
            "variables": names,
        }
        if true_graph is not None and learned is not None:
            graph_metrics, aligned = self._graph_metrics(true_graph, learned, np.asarray(res["assignment"]), res["group_matching"])
            metrics.update(graph_metrics)
            artifacts["graph_true"] = true_graph.astype(int).tolist()
            artifacts["graph_learned"] = aligned.astype(int).tolist()
        if "test_inferred_targets" in p:
            from crlbench.metrics import intervention_accuracy_score

            metrics["intervention_accuracy"] = intervention_accuracy_score(self.data["test"].targets, p["test_inferred_targets"])
        if "triplet_decoded" in p:
            t_metrics, t_per_var = self._triplets(p["triplet_decoded"])
            metrics.update(t_metrics)
            per_variable["triplet_error"] = dict(zip(names, t_per_var))
            if p["triplet_decoded"].dtype == np.uint8:  # images: a few examples for the page
                artifacts.update(self._triplet_examples(p["triplet_decoded"]))
        kind = "post-hoc" if res.get("assignment_matched", "assignment" not in p) else "learned"
        return Evaluation(metrics, per_variable, kind, artifacts)

    def _graph_metrics(
        self, true: np.ndarray, learned: np.ndarray, assignment: np.ndarray, groups: np.ndarray
    ) -> tuple[dict[str, float], np.ndarray]:
        """SHD and edge precision / recall after mapping learned nodes to true variables,
        and the learned edges in the true variables' order, (K, K) bool.

        Args:
            assignment: (M, K+1) in the true labelling (groups already matched).
            groups: (K,) the method's group of each true variable.
        """
        from crlbench.metrics import edge_precision_score, edge_recall_score, shd_error
        from crlbench.metrics.graph import apply_matching, binarize

        if learned.shape == (self.k, self.k):
            matching = np.asarray(groups)  # graph over the method's groups
        else:  # graph over latents: the latent assigned to each true variable
            groups = np.argmax(assignment, axis=1)
            matching = np.array([int(np.flatnonzero(groups == k + 1)[0]) if (groups == k + 1).any() else -1 for k in range(self.k)])
            if (matching < 0).any():
                # a true variable with no latent: its edges are all missed
                free = [m for m in range(len(groups)) if m not in set(matching)]
                matching[matching < 0] = free[: int((matching < 0).sum())]
        kw = {"matching": matching, "threshold": 0.5}
        scores = {
            "shd": float(shd_error(true, learned, **kw)),
            "edge_precision": float(edge_precision_score(true, learned, **kw)),
            "edge_recall": float(edge_recall_score(true, learned, **kw)),
        }
        return scores, binarize(apply_matching(learned, matching, self.k), threshold=0.5)

    def causal_predictor(self) -> Callable[[np.ndarray], np.ndarray]:
        """Observations (N, *obs) -> predicted factors (N, D), frozen per dataset version.

        Vector data: least squares from observations to latents on the probe set (exact for
        linear mixing). Images: the supervised causal encoder of :mod:`crlbench.metrics`,
        trained once on the probe set and cached with the dataset hash.
        """
        probe = self.data["test_indep"]
        obs = np.asarray(probe.observations)
        if obs.dtype != np.uint8:
            x = np.c_[obs.reshape(len(obs), -1), np.ones(len(obs))]
            w, *_ = np.linalg.lstsq(x, probe.latents, rcond=None)
            return lambda o: np.c_[np.asarray(o).reshape(len(o), -1), np.ones(len(o))] @ w
        from crlbench.metrics import load_or_train_causal_encoder

        path = self.encoder_dir / f"{self.data.spec.dataset_id}-{self.data.spec.hash[:12]}.causal_encoder.pt"
        enc = load_or_train_causal_encoder(
            path, dataset_hash=self.data.spec.hash, data=lambda: (obs, probe.latents), variables=self.data.variables
        )
        return enc.predict

    def _triplet_examples(self, decoded: np.ndarray, n: int = TRIPLET_EXAMPLES) -> dict[str, Any]:
        """The first ``n`` image triplets beside their decoded third: (n, 4, h, w, 3) uint8,
        subsampled to at most :data:`EXAMPLE_SIDE` pixels a side."""
        shown = np.asarray(self.data["test_triplets"].observations[:n])
        step = -(-shown.shape[-2] // EXAMPLE_SIDE)  # ceil
        return {
            "triplet_examples": np.concatenate([shown, decoded[:n, None]], axis=1)[..., ::step, ::step, :],
            "triplet_examples_panels": ["first", "second", "true third", "decoded"],
        }

    def _triplets(self, decoded: np.ndarray) -> tuple[dict[str, float], list[float]]:
        from crlbench.metrics import kinds, triplet_scores

        trip = self.data["test_triplets"]
        predict_factors = self.causal_predictor()
        truth = trip.latents[:, 2]
        scores = triplet_scores(
            truth,
            predict_factors(decoded),
            predict_factors(np.asarray(trip.observations[:, 2])),
            variables=self.data.variables,
        )
        per_var = kinds.aggregate(scores.normalized, self.data.variables, "per_variable")
        return (
            {"triplet_error": scores.mean_normalized, "triplet_floor_error": float(scores.floor_normalized.mean())},
            [float(v) for v in np.atleast_1d(per_var)],
        )

