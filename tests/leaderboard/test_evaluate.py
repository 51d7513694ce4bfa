"""The evaluator: format checks (OGB style) and known answers with an oracle method."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from crlbench.datasets import load
from crlbench.datasets.build import generate
from crlbench.leaderboard.evaluate import Evaluator, PredictionsError
from crlbench.leaderboard.predictions import predict
from crlbench.leaderboard.protocols import protocol


class Oracle:
    """Knows the mixing: encodes to the true latents, decodes exactly, reads the graph."""

    def __init__(self, data):
        self.data = data
        self.r = data.structure["mixing"]
        self.k = len(data.variables)

    def fit(self, train, val, budget, seed):
        pass

    def encode(self, x):
        return np.asarray(x) @ self.r  # R^T x, row-wise

    def decode(self, z):
        return np.asarray(z) @ self.r.T

    def assignment(self):
        return np.c_[np.zeros((self.k, 1)), np.eye(self.k)]

    def graph(self):
        return self.data.graph.instantaneous.astype(float)

    def infer_targets(self, x, x_tilde):
        d = np.abs(self.encode(x_tilde) - self.encode(x))
        # the intervened variable changes; with no intervention nothing does
        return np.where(d.max(axis=1) > 1e-9, self._first_changed(d), 0)

    def _first_changed(self, d):
        # the earliest variable in topological order that changed is the target
        from crlbench.core import topological_order

        order = topological_order(self.data.graph.instantaneous)
        rank = np.array([order.index(j) for j in range(self.k)])
        changed = d > 1e-9
        return np.argmin(np.where(changed, rank, self.k), axis=1) + 1


@pytest.fixture(scope="module")
def tracks(tmp_path_factory):
    out = {}
    for track in ("toy-son-pairs-v1", "toy-son-tris-v1"):
        proto = protocol(track, "smoke")
        spec = proto.dataset_spec()
        spec = replace(spec, splits={s: min(n, 1000) for s, n in spec.splits.items()})
        proto = replace(proto, size="smoke")  # same protocol, smaller data for the test
        data = load(generate(spec, tmp_path_factory.mktemp(track), progress=False))
        out[track] = (proto, data)
    return out


def evaluator(proto, data):
    ev = Evaluator.__new__(Evaluator)  # skip the hash check: the test data is smaller
    ev.protocol, ev.data, ev.k, ev.encoder_dir = proto, data, len(data.variables), data.path.parent
    return ev


def test_oracle_on_pairs_gets_the_known_answers(tracks):
    proto, data = tracks["toy-son-pairs-v1"]
    ev = evaluator(proto, data)
    res = ev.evaluate(predict(Oracle(data), data))
    m = res.metrics
    assert res.assignment == "learned"
    assert m["r2_diag"] > 0.99 and m["r2_sep"] < 0.3
    assert m["mcc_pearson"] == pytest.approx(1.0)
    assert m["shd"] == 0
    assert data.graph.instantaneous.any(), "the test needs a graph with edges"
    assert m["edge_precision"] == 1.0 and m["edge_recall"] == 1.0
    assert res.artifacts["graph_learned"] == res.artifacts["graph_true"]  # drawn beside the truth
    assert m["intervention_accuracy"] == pytest.approx(1.0)
    assert m["dci_disentanglement"] > 0.9


def test_oracle_on_sequences_has_zero_triplet_error(tracks):
    proto, data = tracks["toy-son-tris-v1"]
    res = evaluator(proto, data).evaluate(predict(Oracle(data), data))
    assert res.metrics["triplet_error"] == pytest.approx(0.0, abs=1e-9)
    assert res.metrics["triplet_floor_error"] == pytest.approx(0.0, abs=1e-9)
    assert res.metrics["r2_sep"] < 0.05  # independent probe set: nothing to predict across
    assert set(res.per_variable["triplet_error"]) == {v.name for v in data.variables}


def test_image_triplets_decoded_exactly_score_the_floor_and_keep_examples(tmp_path):
    proto = protocol("causal-circuit-tris-v1", "smoke")
    spec = replace(proto.dataset_spec(), splits={"train": 20, "val": 10, "test": 10, "test_indep": 64, "test_triplets": 8})
    data = load(generate(spec, tmp_path, progress=False))
    trip = data["test_triplets"].observations
    k = len(data.variables)
    preds = {
        "probe_latents": data["test_indep"].latents,
        "assignment": np.c_[np.zeros((k, 1)), np.eye(k)],
        "triplet_decoded": np.asarray(trip[:, 2]),  # a perfect decoder: the true third image
    }
    res = evaluator(proto, data).evaluate(preds)
    assert res.metrics["triplet_error"] == pytest.approx(res.metrics["triplet_floor_error"], abs=1e-12)
    examples = np.asarray(res.artifacts["triplet_examples"])
    assert examples.shape == (2, 4, 32, 32, 3) and examples.dtype == np.uint8
    assert res.artifacts["triplet_examples_panels"] == ["first", "second", "true third", "decoded"]
    np.testing.assert_array_equal(examples[:, :3], trip[:2])
    np.testing.assert_array_equal(examples[:, 3], trip[:2, 2])


def test_triplet_examples_of_large_images_are_subsampled_to_32_px():
    from types import SimpleNamespace

    ev = Evaluator.__new__(Evaluator)
    trip = np.random.default_rng(0).integers(0, 256, (5, 3, 64, 64, 3), dtype=np.uint8)
    ev.data = {"test_triplets": SimpleNamespace(observations=trip)}
    ex = ev._triplet_examples(trip[:, 2])["triplet_examples"]
    assert ex.shape == (2, 4, 32, 32, 3)
    np.testing.assert_array_equal(ex[:, :3], trip[:2, :, ::2, ::2])


def test_a_rotation_without_assignment_is_matched_post_hoc(tracks):
    proto, data = tracks["toy-son-tris-v1"]
    z = data["test_indep"].latents
    theta = np.pi / 4
    rot = np.eye(z.shape[1])
    rot[:2, :2] = [[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]]
    res = evaluator(proto, data).evaluate({"probe_latents": z @ rot})
    assert res.assignment == "post-hoc"
    assert res.metrics["mcc_pearson"] < 0.95


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda p: p.pop("probe_latents"), "'probe_latents'\\]: is missing"),
        (lambda p: p.update(probe_latents=p["probe_latents"][:-1]), "'probe_latents'\\]: has shape"),
        (lambda p: p.update(assignment=np.ones((3, 2))), "'assignment'\\]: has shape"),
        (lambda p: p.update(triplet_decoded=np.zeros(3)), "'triplet_decoded'\\]: is not a prediction of this track"),
        (lambda p: p["probe_latents"].__setitem__((0, 0), np.nan), "NaN"),
        (lambda p: p.update(test_inferred_targets=np.zeros(5, int)), "'test_inferred_targets'\\]: has shape"),
    ],
)
def test_bad_predictions_name_the_key_and_print_the_format(tracks, change, message):
    proto, data = tracks["toy-son-pairs-v1"]
    preds = predict(Oracle(data), data)
    change(preds)
    with pytest.raises(PredictionsError, match=message) as e:
        evaluator(proto, data).validate(preds)
    assert "probe_latents          (" in str(e.value) and "required" in str(e.value)


def test_evaluator_refuses_data_of_another_spec(tracks):
    proto, data = tracks["toy-son-pairs-v1"]
    with pytest.raises(ValueError, match="regenerate it with the protocol's settings"):
        Evaluator(proto, data)
