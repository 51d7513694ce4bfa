"""Result records: round trip, and rejection of every kind of bad record with a message
naming the field (and the file)."""

from __future__ import annotations

import json
import math

import numpy as np
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
    assert [line.split(":")[0].strip() for line in lines if line.startswith('    "')][-len(rec.artifacts) :] == [
        f'"{k}"' for k in rec.artifacts
    ]
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
        ("tier", "full", "tier: must be one of smoke, cpu, paper; got 'full'"),
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


# --- provenance ------------------------------------------------------------------------------
def test_create_records_full_provenance():
    import torch

    from crlbench.leaderboard.records import SOFTWARE

    rec = ResultRecord.create(**{k: v for k, v in record_dict().items() if k not in ("schema_version", "commit", "created", "hardware")})
    assert set(rec.software) == {"python", *SOFTWARE}
    assert rec.software["torch"] == torch.__version__ and rec.software["numpy"] == np.__version__
    assert all(rec.software[k] for k in ("scipy", "scikit-learn", "h5py", "mujoco"))  # core dependencies
    assert rec.precision == "fp32"  # a run config without a precision ran in fp32
    assert rec.hardware["cpu_model"] and rec.hardware["cpu_count"] >= 1
    back = json.loads(rec.to_json())
    assert back["software"] == rec.software and back["precision"] == "fp32"
    assert list(back)[-2:] == ["software", "precision"]
    assert ResultRecord.create(**{**record_dict(), "precision": "bf16"}).precision == "bf16"


def test_official_record_needs_a_clean_commit(monkeypatch):
    import crlbench.leaderboard.records as records

    values = {k: v for k, v in record_dict().items() if k not in ("schema_version", "commit")}
    monkeypatch.setattr(records, "_commit", lambda: "a" * 40 + "+dirty")
    with pytest.raises(RecordError, match=r"official records need a clean checkout: commit aaaaaaaaaaaa has local changes"):
        ResultRecord.create(official=True, **values)
    assert ResultRecord.create(**values).commit.endswith("+dirty")  # unofficial records say so, and are kept
    monkeypatch.setattr(records, "_commit", lambda: "unknown")
    with pytest.raises(RecordError, match="from a git checkout"):
        ResultRecord.create(official=True, **values)
    monkeypatch.setattr(records, "_commit", lambda: "b" * 40)
    assert ResultRecord.create(official=True, **values).commit == "b" * 40
    with pytest.raises(RecordError, match="has local changes"):
        records.clean_commit("c" * 40 + "+dirty")


def test_records_without_the_later_fields_still_read_and_round_trip(tmp_path):
    rec = ResultRecord.from_dict(record_dict())
    assert rec.software == {} and rec.precision == ""
    assert "software" not in rec.to_dict() and "precision" not in rec.to_dict()
    with pytest.raises(RecordError, match=r"^software\.torch: expected a version string or null, got int 2"):
        ResultRecord.from_dict(record_dict(software={"torch": 2}))
    with pytest.raises(RecordError, match=r"^precision: must not be empty"):
        ResultRecord.from_dict(record_dict(precision=""))
    assert ResultRecord.from_dict(record_dict(software={"bpy": None})).software == {"bpy": None}


def test_shipped_official_records_validate_unchanged():
    from pathlib import Path

    from crlbench.leaderboard.protocols import expected_dataset_hash

    official = Path(__file__).parents[2] / "results" / "smoke"
    paths = sorted(official.glob("*/smoke/*.json"))
    records = load_records(official, expected_hash=expected_dataset_hash)
    assert len(records) == len(paths) > 0
    for path, rec in zip(paths, records):
        assert rec.to_json() == path.read_text(), path  # nothing added to an older record


def test_run_precision_is_read_from_the_run_config(tmp_path):
    from crlbench.leaderboard.records import run_precision

    assert run_precision({"method": "x", "method_config": {"loop": {"lr": 0.1}}}) == "fp32"
    assert run_precision({"method_config": {"loop": {"precision": "bf16"}}}) == "bf16"
    assert run_precision({"precision": "fp16", "method_config": {"loop": {"precision": "bf16"}}}) == "fp16"
    # the shared loop's run config: what was asked for and what the machine resolved it to
    loop_run = {"precision": {"requested": "auto", "used": "bf16"}, "method_config": {"loop": {"precision": "auto"}}}
    assert run_precision(loop_run) == "bf16"
    assert run_precision({"precision": None, "method_config": {"loop": {"precision": "auto"}}}) == "fp32"
    (tmp_path / "config.json").write_text(json.dumps({"method_config": {"loop": {"precision": "bf16"}}}))
    assert run_precision(tmp_path) == run_precision(tmp_path / "config.json") == "bf16"
    assert run_precision(tmp_path / "missing") == "fp32"


def test_commit_is_dirty_for_code_changes_only(tmp_path):
    import subprocess

    from crlbench.leaderboard.records import _commit

    def git(*args):
        subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=tmp_path, check=True, capture_output=True)

    assert _commit(tmp_path) == "unknown"  # not a checkout
    git("init", "-q")
    (tmp_path / "crlbench").mkdir()
    (tmp_path / "crlbench" / "a.py").write_text("x = 1\n")
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "r.json").write_text("{}\n")
    git("add", ".")
    git("commit", "-q", "-m", "first")
    sha = _commit(tmp_path)
    assert len(sha) == 40 and "+" not in sha
    (tmp_path / "results" / "r.json").unlink()  # rerunning the official records
    (tmp_path / "notes.md").write_text("draft")
    assert _commit(tmp_path) == sha
    (tmp_path / "crlbench" / "b.py").write_text("y = 2\n")  # new code counts too
    assert _commit(tmp_path) == sha + "+dirty"
    (tmp_path / "crlbench" / "b.py").unlink()
    (tmp_path / "crlbench" / "a.py").write_text("x = 2\n")
    assert _commit(tmp_path) == sha + "+dirty"
