"""Sweeps: a run that raises is reported by name with its error, the others finish and keep
their records, and sweeping again runs only the failed unit.

The method is a user's, named by entry point (:mod:`tests.leaderboard.user_method`, a PCA
encoder that trains in milliseconds); the track is the toy pairs track at the smoke tier
with a third seed, a protocol of our own (records of it still validate: its data is the
track's). Failures are planted as a file in one run's directory.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from crlbench.cli import main
from crlbench.executors import make_executor
from crlbench.leaderboard.protocols import Protocol, expected_dataset_hash, protocol
from crlbench.leaderboard.records import load_record
from crlbench.leaderboard.runner import run_dir, sweep
from tests.leaderboard.user_method import FAIL_FILE, FITS_FILE

METHOD = "tests.leaderboard.user_method:PCA"
PROTOCOL = replace(protocol("toy-son-pairs-v1", "smoke"), seeds=(0, 1, 2))


def plant_failure(results: Path, proto: Protocol, seed: int) -> Path:
    d = run_dir(proto, METHOD, seed, results)
    d.mkdir(parents=True, exist_ok=True)
    (d / FAIL_FILE).write_text(f"planted failure in seed {seed}")
    return d / FAIL_FILE


def fits(results: Path, proto: Protocol) -> dict[int, int]:
    """Calls of ``fit`` per seed so far."""
    out = {}
    for s in proto.seeds:
        log = run_dir(proto, METHOD, s, results) / FITS_FILE
        out[s] = len(log.read_text().splitlines()) if log.exists() else 0
    return out


@pytest.mark.parametrize("name", ["local", "ray"])
def test_failed_run_is_reported_and_only_it_reruns(name, tmp_path, request):
    if name == "ray":
        request.getfixturevalue("ray_local")
    executor = make_executor(name, workers=1)  # one actor: parallel units are tests/test_executors.py's
    results, data = tmp_path / "results", tmp_path / "data"
    fail = plant_failure(results, PROTOCOL, 1)

    report = sweep(PROTOCOL, [METHOD], results, executor=executor, root=data)
    assert list(report.failed) == [f"{METHOD} seed 1"]
    assert report.failed[f"{METHOD} seed 1"].endswith("PlantedFailure: planted failure in seed 1")
    assert sorted(load_record(p).seed for p in report.records) == [0, 2]
    for p in report.records:
        rec = load_record(p, expected_hash=expected_dataset_hash)
        assert (rec.method, rec.protocol_hash) == (METHOD, PROTOCOL.hash)  # our protocol, not the registered one
    assert not list(results.rglob("*seed1.json"))
    assert fits(results, PROTOCOL) == {0: 1, 1: 2, 2: 1}  # the failed run was retried once
    before = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in report.records}

    fail.unlink()  # the cause is fixed
    again = sweep(PROTOCOL, [METHOD], results, executor=executor, root=data)
    assert again.failed == {}
    assert sorted(load_record(p).seed for p in again.records) == [0, 1, 2]
    assert fits(results, PROTOCOL) == {0: 1, 1: 3, 2: 1}, "only the failed run may be trained again"
    assert {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in before} == before, "finished records were rewritten"
    assert all(load_record(p, expected_hash=expected_dataset_hash).protocol_hash == PROTOCOL.hash for p in again.records)


def test_cli_sweep_names_the_failed_run(tmp_path, capsys):
    results, data = tmp_path / "results", tmp_path / "data"
    proto = protocol("toy-son-pairs-v1", "smoke")
    plant_failure(results, proto, 0)
    argv = ["sweep", "--protocol", proto.track, "--methods", METHOD, "--results", str(results), "--data", str(data)]
    assert main(argv) == 1
    out = capsys.readouterr().out
    assert "1 runs finished, 1 failed" in out
    failed = [line.strip() for line in out.splitlines() if "FAILED" in line]
    assert len(failed) == 1
    assert failed[0].startswith(f"FAILED {METHOD} seed 0: ") and failed[0].endswith("planted failure in seed 0")


def test_a_record_of_another_protocol_is_named_not_kept_or_overwritten(tmp_path):
    results, data = tmp_path / "results", tmp_path / "data"
    first = sweep(PROTOCOL, [METHOD], results, root=data)
    before = {p: p.read_bytes() for p in first.records}
    changed = replace(PROTOCOL, budget="7steps")  # same data, another protocol hash
    report = sweep(changed, [METHOD], results, root=data)
    assert report.records == []
    assert sorted(report.failed) == [f"{METHOD} seed {s}" for s in PROTOCOL.seeds]
    assert all("record of another protocol" in e and "move it out" in e for e in report.failed.values())
    assert {p: p.read_bytes() for p in before} == before
    assert fits(results, PROTOCOL) == {0: 1, 1: 1, 2: 1}
