"""Result records: round trip, and rejection of every kind of bad record with a message
naming the field (and the file)."""

from __future__ import annotations

import json
import math

import pytest

from crlbench.errors import CrlbenchError
from crlbench.leaderboard.records import (
    RecordError,
    ResultRecord,
    load_record,
    load_records,
    record_path,
    validate_record,
)
from tests.leaderboard.synthetic import record_dict, rich_record, sha

REQUIRED = [k for k in record_dict() if k != "artifacts"]


def test_round_trip(tmp_path):
    rec = rich_record("citris-vae", "toy-son-triplets-v1", "smoke", 1, image=4)
    path = rec.save(tmp_path / "a" / "rec.json")
    back = load_record(path)
    assert back == rec
    assert back.to_json() == rec.to_json() == path.read_text()
    assert list(json.loads(path.read_text())) == [*REQUIRED, "artifacts"]  # schema order
    assert json.loads(path.read_text()) == rec.to_dict()
    # one line per artifact, however large: images stay small on disk
    lines = path.read_text().splitlines()
    assert [line.split(":")[0].strip() for line in lines if line.startswith('    "')][-len(rec.artifacts):] == [f'"{k}"' for k in rec.artifacts]
    assert len(lines) < 100


def test_minimal_record_has_no_artifacts_key():
    rec = ResultRecord.from_dict(record_dict())
    assert rec.artifacts == {} and "artifacts" not in rec.to_dict()
    assert rec.metrics == {"r2_diag": 0.8, "r2_sep": 0.1, "mcc": 0.7}


def test_integers_become_floats_booleans_do_not():
    rec = ResultRecord.from_dict(record_dict(metrics={"shd": 3}, wall_time_s=0))
    assert isinstance(rec.metrics["shd"], float) and rec.wall_time_s == 0.0
    with pytest.raises(RecordError, match=r"^metrics\.shd: expected a number, got bool"):
        validate_record(record_dict(metrics={"shd": True}))


def test_create_fills_provenance():
    rec = ResultRecord.create(**{k: v for k, v in record_dict().items() if k not in ("schema_version", "commit", "created")})
    assert rec.schema_version == 1 and rec.commit and rec.created[:2] == "20"


@pytest.mark.parametrize("name", REQUIRED)
def test_missing_field(name):
    d = record_dict()
    del d[name]
    with pytest.raises(RecordError, match=rf"^{name}: missing field"):
        ResultRecord.from_dict(d)


@pytest.mark.parametrize(
    "name, value, message",
    [
        ("seed", "0", "seed: expected an integer, got str '0'"),
        ("seed", True, "seed: expected an integer, got bool"),
        ("seed", -1, "seed: must be >= 0, got -1"),
        ("method", 3, "method: expected a string, got int 3"),
        ("method", " ", "method: must not be empty"),
        ("metrics", [0.5], "metrics: expected an object"),
        ("metrics", {}, "metrics: at least one metric is required"),
        ("metrics", {"mcc": "high"}, "metrics.mcc: expected a number, got str 'high'"),
        ("metrics", {"mcc": None}, "metrics.mcc: expected a number, got null"),
        ("per_variable", {"r2_diag": {"a": "x"}}, "per_variable.r2_diag.a: expected a number"),
        ("per_variable", {"r2_diag": [1.0]}, "per_variable.r2_diag: expected an object"),
        ("n_parameters", 1.5, "n_parameters: expected an integer, got float 1.5"),
        ("wall_time_s", -2.0, "wall_time_s: must be >= 0"),
        ("wall_time_s", "1s", "wall_time_s: expected a number, got str"),
        ("tier", "full", "tier: must be one of smoke, paper; got 'full'"),
        ("assignment", "oracle", "assignment: must be one of learned, post-hoc, none"),
        ("schema_version", 2, "schema_version: unknown schema version 2; this crlbench reads version 1"),
        ("schema_version", "1", "schema_version: expected an integer"),
        ("dataset_hash", "abc", "dataset_hash: expected a sha256 hex digest"),
        ("protocol_hash", "A" * 64, "protocol_hash: expected a sha256 hex digest"),
        ("deviations", "none", "deviations: expected a list of strings"),
        ("deviations", ["", "x"], "deviations[0]: expected a non-empty string"),
        ("hardware", {"device": "cpu", "cpu_count": 2}, "hardware.gpu: missing field"),
        ("hardware", {"device": "cpu", "cpu_count": 0, "gpu": None}, "hardware.cpu_count: must be >= 1"),
        ("hardware", {"device": "cuda", "cpu_count": 2, "gpu": 1}, "hardware.gpu: expected a GPU name or null"),
        ("created", "yesterday", "created: expected an ISO 8601 date-time"),
        ("created", 1700000000, "created: expected an ISO 8601 date-time string, got int"),
        ("artifacts", {"r2_matrix": [[1.0, 2.0], [3.0]]}, "artifacts.r2_matrix: nested lists must be rectangular"),
        ("artifacts", {"r2_matrix": [1.0, 2.0]}, "artifacts.r2_matrix: expected a 2-d matrix"),
        ("artifacts", {"graph_true": [[0, 1, 0], [0, 0, 1]]}, "artifacts.graph_true: expected a square"),
        ("artifacts", {"r2_matrix": [[1.0, math.nan]]}, r"artifacts.r2_matrix[0][1]: must be finite"),
        ("artifacts", {"triplet_examples": [[[[256]]]]}, "artifacts.triplet_examples: images must be uint8"),
        ("artifacts", {"triplet_examples": [[[0]]]}, "artifacts.triplet_examples: expected (N, P, H, W)"),
        ("artifacts", {"x": "text"}, "artifacts.x: expected a list of labels or a nested list"),
    ],
)
def test_bad_value_names_the_field(name, value, message):
    with pytest.raises(RecordError) as e:
        ResultRecord.from_dict(record_dict(**{name: value}))
    assert str(e.value).startswith(message)
    assert isinstance(e.value, CrlbenchError)


def test_unknown_field():
    with pytest.raises(RecordError, match=r"^metric: unknown field \(record fields: schema_version, method"):
        ResultRecord.from_dict(record_dict(metric={"mcc": 1.0}))


def test_not_an_object():
    with pytest.raises(RecordError, match="a record must be a JSON object, got list"):
        ResultRecord.from_dict([])  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", ["NaN", "Infinity", "-Infinity"])
def test_nan_or_infinite_metric_in_a_file(tmp_path, bad):
    text = json.dumps(record_dict(metrics={"r2_diag": 0.5, "mcc": 0.1})).replace("0.1", bad)
    path = tmp_path / "run.json"
    path.write_text(text)
    with pytest.raises(RecordError) as e:
        load_record(path)
    assert str(e.value) == f"{path}: metrics.mcc: must be finite, got {float(bad.replace('Infinity', 'inf'))}"


def test_nan_per_variable():
    with pytest.raises(RecordError, match=r"^per_variable\.r2_diag\.b: must be finite, got nan"):
        ResultRecord.from_dict(record_dict(per_variable={"r2_diag": {"a": 1.0, "b": math.nan}}))


def test_expected_hash_hook():
    good = record_dict()["dataset_hash"]
    hashes = {("toy-son-pairs-v1", "smoke"): good, ("toy-son-pairs-v1", "paper"): None}
    hook = lambda track, tier: hashes.get((track, tier))  # noqa: E731
    ResultRecord.from_dict(record_dict(), expected_hash=hook)
    ResultRecord.from_dict(record_dict(tier="paper", dataset_hash=sha("other")), expected_hash=hook)  # None: unchecked
    wrong = sha("a stale dataset")
    with pytest.raises(RecordError) as e:
        ResultRecord.from_dict(record_dict(dataset_hash=wrong), expected_hash=hook)
    assert str(e.value) == f"dataset_hash: expected {good} for track toy-son-pairs-v1 tier smoke, got {wrong}"


def test_load_records_recursive_and_names_the_bad_file(tmp_path):
    for seed in range(3):
        ResultRecord.from_dict(record_dict(seed=seed)).save(tmp_path / "t" / f"s{seed}" / "r.json")
    (tmp_path / "notes.txt").write_text("not a record")
    recs = load_records(tmp_path)
    assert [r.seed for r in recs] == [0, 1, 2]
    bad = tmp_path / "t" / "zz.json"
    d = record_dict()
    del d["commit"]
    bad.write_text(json.dumps(d))
    with pytest.raises(RecordError, match=rf"^{bad}: commit: missing field$"):
        load_records(tmp_path)
    bad.write_text("{not json")
    with pytest.raises(RecordError, match=rf"^{bad}: not a readable JSON record"):
        load_records(tmp_path)


def test_load_records_empty_or_missing(tmp_path):
    with pytest.raises(RecordError, match="no result records"):
        load_records(tmp_path)
    with pytest.raises(RecordError, match="no such results directory"):
        load_records(tmp_path / "nope")


def test_record_path_is_safe_for_any_name(tmp_path):
    rec = ResultRecord.from_dict(record_dict(method="<script>alert(1)</script>/../x", seed=3))
    p = record_path(rec, tmp_path)
    assert p.parent == tmp_path / "toy-son-pairs-v1" / "smoke"
    assert p.name == "script_alert_1_script_.._x-seed3.json"
