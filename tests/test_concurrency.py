"""Concurrent use of one output: one writer at a time, no corrupt or half-read file.

* two generations of one dataset file: the second stops with exit 2 naming the first (or,
  with ``--wait``, waits and accepts the first one's file after checking it);
* an existing "complete" file is checked (spec, split sizes, checksums) before it is
  accepted, and a writer marks complete only a file it built from its own spec;
* two sweeps on one results folder share the runs (each trained once), while the
  leaderboard is built from the same folder again and again.

The other processes are real processes started with :mod:`subprocess`.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

import h5py
import numpy as np
import pytest

from crlbench.cli import main
from crlbench.datasets import storage
from crlbench.datasets.build import generate, output_path
from crlbench.datasets.verify import verify
from crlbench.errors import CrlbenchError, DataFileError, OutputExistsError
from crlbench.leaderboard.protocols import expected_dataset_hash, protocol
from crlbench.leaderboard.records import load_records
from crlbench.leaderboard.report import build_site
from crlbench.leaderboard.runner import ensure_dataset, record_file, run_dir, sweep
from crlbench.locks import LockedError, exclusive, lock_path
from crlbench.registry import DATASETS
from tests.helpers import tiny_spec
from tests.leaderboard.user_method import FITS_FILE, PCA

ROOT = Path(__file__).resolve().parents[1]


class SlowPCA(PCA):
    """:class:`PCA` that takes half a second to fit, so that two sweeps overlap."""

    name = "slow-pca"

    def fit(self, train, val, budget, seed: int, workdir=None) -> None:
        time.sleep(0.5)
        super().fit(train, val, budget, seed, workdir=workdir)


def crlbench(*argv: str) -> subprocess.Popen:
    return python("import sys; from crlbench.cli import main; sys.exit(main(sys.argv[1:]))", *argv)


def wait_for_holder(target: Path, pid: int, timeout: float = 60) -> None:
    """Until process ``pid`` holds the lock of ``target`` (its lock file names it)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        p = lock_path(target)
        if p.exists() and f'"pid": {pid},' in p.read_text():
            return
        time.sleep(0.02)
    raise AssertionError(f"process {pid} never took the lock of {target}")


def test_lock_names_its_holder_and_is_released(tmp_path):
    target = tmp_path / "out.h5"
    with exclusive(target):
        with pytest.raises(LockedError, match=rf"{target} is being written by process {os.getpid()} on "):
            with exclusive(target):
                pass
    with exclusive(target):  # released on leaving the block
        pass


def test_two_generations_of_one_file(tmp_path, capsys):
    """The reported case: two `generate` of one output started together."""
    argv = ["generate", "toy-son-tris-v1", "--split", "train=40000", "--out", str(tmp_path / "conc"), "--no-progress"]
    smoke = DATASETS["toy-son-tris-v1"].spec(size="smoke")
    spec = replace(smoke, splits={**smoke.splits, "train": 40000})
    path = output_path(tmp_path / "conc", spec)
    first = crlbench(*argv)
    wait_for_holder(path, first.pid)

    assert main(argv) == 2  # the second writer stops at once and names the first
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert f"is being written by process {first.pid}" in err and "run the command again" in err

    assert main([*argv, "--wait"]) == 0  # or waits for it, then accepts its (checked) file
    out, err = capsys.readouterr()
    assert f"waiting for process {first.pid}" in err and str(path) in out

    assert first.wait(120) == 0, first.stderr.read()
    clean = generate(spec, tmp_path / "clean", progress=False)
    with h5py.File(path) as f, h5py.File(clean) as g:
        assert f.attrs["manifest"] == g.attrs["manifest"], "the file differs from a clean run's"
    assert verify(path).ok
    assert not list((tmp_path / "conc").glob("*.tmp")) and not list((tmp_path / "conc").glob("*.parts"))


def test_complete_file_is_checked_before_it_is_accepted(tmp_path, capsys):
    spec = tiny_spec("toy-son-pairs-v1")
    path = generate(spec, tmp_path, progress=False)
    with h5py.File(path, "r+") as f:  # still marked complete, but not what its manifest says
        f["train/latents"][0, 0, 0] += 1.0
        assert f.attrs["complete"]
    before = path.read_bytes()
    with pytest.raises(OutputExistsError, match=r"fails 1 check\(s\) \(train/latents: sha256 differs"):
        generate(spec, tmp_path, progress=False)
    assert path.read_bytes() == before, "a refused file must be left as it is"

    with h5py.File(path, "r+") as f:  # a split cut short
        short = f["val/latents"][:1]
        del f["val/latents"]
        f["val/latents"] = short
    with pytest.raises(OutputExistsError, match=r"val/latents: 1 rows, the spec says"):
        generate(spec, tmp_path, progress=False)
    generate(spec, tmp_path, overwrite=True, progress=False)
    assert verify(path, regenerate=True).ok


def test_writer_marks_complete_only_its_own_file(tmp_path):
    from crlbench.datasets.build import make_scene

    spec = tiny_spec("toy-son-pairs-v1")
    scene = make_scene(spec)
    path = tmp_path / "x.h5"
    w = storage.Writer(path, spec, scene.variables, scene.graph, scene.structure(), {})
    w.array("train/latents", np.zeros((6, 2, 3)))
    w.f.attrs["spec"] = replace(spec, seed=9).to_json()  # another writer's spec
    with pytest.raises(DataFileError, match="changed by another writer"):
        w.finish()
    with pytest.raises(DataFileError, match="incomplete"):
        storage.open_file(path)


#: The toy pairs track with the fast probes: a run is scored in a second, not ten.
FAST = "replace(protocol('toy-son-pairs-v1', 'smoke'), probe='linear', dci_regressor='gbt_fast')"
SWEEP = f"""
import sys
from dataclasses import replace
from crlbench.leaderboard.protocols import protocol
from crlbench.leaderboard.runner import sweep
report = sweep({FAST}, [sys.argv[1]], sys.argv[2], root=sys.argv[3])
print(f"{{len(report.records)}} runs finished, {{len(report.failed)}} failed", report.failed)
"""


def python(code: str, *argv: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(
        [sys.executable, "-c", code, *argv], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def test_two_sweeps_on_one_results_folder_while_the_leaderboard_is_built(tmp_path):
    """Sweep A (another process) and sweep B (this one) on one folder, B started while A
    trains a run; meanwhile a thread builds the leaderboard from that folder over and over."""
    proto = eval(FAST, {"replace": replace, "protocol": protocol})  # the protocol the other sweep runs
    data, results = tmp_path / "data", tmp_path / "results"
    ensure_dataset(proto, data)
    method = "tests.test_concurrency:SlowPCA"
    stop, builds, failures = threading.Event(), [], []

    def build_leaderboard() -> None:
        while not stop.is_set():
            try:
                records = load_records(results, expected_hash=expected_dataset_hash)
                build_site(records, tmp_path / "site")
                builds.append(len(records))
            except CrlbenchError as e:  # before the first record: nothing to read yet
                if "no result records" not in str(e) and "no such" not in str(e).lower():
                    failures.append(str(e))
            except Exception as e:  # noqa: BLE001 - a half-read record would land here
                failures.append(repr(e))
            time.sleep(0.05)

    builder = threading.Thread(target=build_leaderboard)
    builder.start()
    try:
        a = python(SWEEP, method, str(results), str(data))
        wait_for_holder(record_file(proto, method, proto.seeds[0], results), a.pid)
        b = sweep(proto, [method], results, root=data)
        out, err = a.communicate(timeout=300)
    finally:
        stop.set()
        builder.join()
    assert a.returncode == 0 and f"{len(proto.seeds)} runs finished, 0 failed" in out, err
    assert not b.failed and len(b.records) == len(proto.seeds)
    assert not failures, failures
    assert builds and builds[-1] <= len(proto.seeds)
    for seed in proto.seeds:
        fits = (run_dir(proto, method, seed, results) / FITS_FILE).read_text().splitlines()
        assert fits == [f"seed {seed}"], f"seed {seed} was trained {len(fits)} times"
    records = load_records(results, expected_hash=expected_dataset_hash)
    assert sorted(r.seed for r in records) == list(proto.seeds) and {r.method for r in records} == {method}
    assert not list(results.rglob("*.tmp"))


def test_second_train_of_one_run_folder_stops(tmp_path, capsys):
    good = generate(tiny_spec("toy-son-pairs-v1"), tmp_path / "d", progress=False)
    out = tmp_path / "run"
    with exclusive(out):
        code = main(["train", "--method", "tests.leaderboard.user_method:PCA", "--dataset", str(good), "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and f"{out} is being written by process {os.getpid()}" in err
    assert not (out / "config.json").exists()
