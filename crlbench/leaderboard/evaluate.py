"""Evaluator(track): scores predictions with the metrics the track defines (OGB style).

A method is scored from a *predictions* mapping (an ``.npz`` file for ``crlbench evaluate
--predictions``), which :func:`crlbench.leaderboard.predictions.predict` builds from any
method following the contract. The metrics are always computed here (from
:data:`crlbench.metrics.METRICS`), never taken from the submitter; nothing else computes a
published number.

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

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np

from crlbench.datasets.loaders import Dataset, Pairs
from crlbench.datasets.loaders import Sequence as SequenceSplit
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
            "assignment": lambda a: bool(a.shape == (m, self.k + 1) and (a >= 0).all()),
            "graph": lambda a: a.shape in ((m, m), (self.k, self.k)),
            "test_inferred_targets": lambda a: bool(a.shape == (n.get("test", -1),) and a.dtype.kind in "iu" and (a >= 0).all()),
            "triplet_decoded": lambda a: a.shape == (n.get("test_triplets", -1), *self.data["test_triplets"].observations.shape[2:]),
        }
        for key, ok in checks.items():
            if key in out and not ok(out[key]):
                raise self._fail(key, f"has shape {out[key].shape} and dtype {out[key].dtype}")
        top = max(m, self.k)  # label i = learned variable i (a latent or an assignment group)
        if "test_inferred_targets" in out and out["test_inferred_targets"].max(initial=0) > top:
            raise self._fail("test_inferred_targets", f"labels must be in 0..{top} (0 = none), found {out['test_inferred_targets'].max()}")
        return out

    # --- scoring -----------------------------------------------------------------------
    def evaluate(self, predictions: Mapping[str, Any], *, seed: int = 0) -> Evaluation:
        """Every metric of :data:`crlbench.metrics.METRICS` the predictions allow."""
        from crlbench.metrics import Scoring  # noqa: PLC0415

        p = self.validate(predictions)
        names = [v.name for v in self.data.variables]
        pairs = self.protocol.mode == "pairs"
        inputs: dict[str, Any] = {}
        if pairs and "graph" in p:
            inputs.update(true_graph=self.data.graph.instantaneous, learned_graph=p["graph"])
        if "test_inferred_targets" in p:
            inputs.update(targets_true=cast(Pairs | SequenceSplit, self.data["test"]).targets, targets_pred=p["test_inferred_targets"])
        if "triplet_decoded" in p:
            trip = self.data["test_triplets"]
            predict_factors = self.causal_predictor()
            inputs.update(
                triplet_true=trip.latents[:, 2],
                triplet_pred=predict_factors(p["triplet_decoded"]),
                triplet_pred_true_image=predict_factors(np.asarray(trip.observations[:, 2])),
            )
        scoring = Scoring(
            self.data["test_indep"].latents,
            p["probe_latents"],
            variables=self.data.variables,
            assignment=p.get("assignment"),
            probe=self.protocol.probe,
            dci_regressor=self.protocol.dci_regressor,
            seed=seed,
            match_groups=True,  # learned groups carry the method's own labels
            **inputs,
        )
        metrics = scoring.metrics()
        per_variable = {key: dict(zip(names, map(float, v))) for key, v in scoring.per_variable().items()}
        artifacts: dict[str, Any] = {
            "r2_matrix": np.asarray(scoring.probes["r2"]).tolist(),
            "r2_matrix_rows": ["(none)", *names],
            "variables": names,
        }
        if scoring.learned_graph is not None:
            artifacts["graph_true"] = self.data.graph.instantaneous.astype(int).tolist()
            artifacts["graph_learned"] = scoring.aligned_graph.astype(int).tolist()
        if "triplet_decoded" in p and p["triplet_decoded"].dtype == np.uint8:  # images: a few examples for the page
            artifacts.update(self._triplet_examples(p["triplet_decoded"]))
        kind = "post-hoc" if scoring.probes["assignment_matched"] else "learned"
        return Evaluation(metrics, per_variable, kind, artifacts)

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
        from crlbench.metrics import load_or_train_causal_encoder  # noqa: PLC0415

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
