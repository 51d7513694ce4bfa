"""Generation is resumable, never leaves a file that passes for complete, refuses foreign files."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import replace

import h5py
import numpy as np
import pytest

from crlbench.datasets import build, load
from crlbench.datasets.build import generate, output_path, stream
from crlbench.datasets.verify import verify
from crlbench.errors import CrlbenchError, DataFileError
from tests.helpers import tiny_spec


def test_streams_are_keyed_by_name():
    a = stream(3, "train", "noise").random(4)
    np.testing.assert_array_equal(a, stream(3, "train", "noise").random(4))
    assert not np.array_equal(a, stream(3, "train", "targets").random(4))
    assert not np.array_equal(a, stream(4, "train", "noise").random(4))


def test_resume_after_failure_renders_only_missing_shards(tmp_path, monkeypatch):
    spec = tiny_spec("toy-son-pairs-v1")
    clean = generate(spec, tmp_path / "clean", progress=False)

    calls = {"n": 0}
    real = build._save_atomic

    def dying(path, array):  # the process "dies" after writing 3 shards
        if calls["n"] == 3:
            raise KeyboardInterrupt
        calls["n"] += 1
        real(path, array)

    monkeypatch.setattr(build, "_save_atomic", dying)
    out = tmp_path / "resumed"
    with pytest.raises(KeyboardInterrupt):
        generate(spec, out, shard_frames=2, progress=False)
    path = output_path(out, spec)
    assert not path.exists(), "an interrupted run must not leave a file under the final name"
    parts = sorted(p.name for p in (out / (path.name + ".parts")).glob("*.npy"))
    assert len(parts) == 3

    written = []
    monkeypatch.setattr(build, "_save_atomic", lambda p, a: (written.append(p.name), real(p, a)))
    generate(spec, out, shard_frames=2, progress=False)
    assert not set(written) & set(parts), "completed shards must not be rendered again"
    assert not (out / (path.name + ".parts")).exists()
    with h5py.File(clean) as f, h5py.File(path) as g:
        assert f.attrs["manifest"] == g.attrs["manifest"]


def test_resume_after_sigkill(tmp_path):
    """A real SIGKILL mid-generation, then the same command again."""
    spec = tiny_spec("toy-son-tris-v1")
    spec = replace(spec, splits={"train": 60_000})
    code = (
        "import sys; from crlbench.datasets.spec import DatasetSpec; from crlbench.datasets.build import generate;"
        f"generate(DatasetSpec.from_json(sys.argv[1]), {str(tmp_path)!r}, shard_frames=200, progress=False)"
    )
    proc = subprocess.Popen([sys.executable, "-c", code, spec.to_json()])
    parts = output_path(tmp_path, spec).with_name(output_path(tmp_path, spec).name + ".parts")
    deadline = time.time() + 60
    while time.time() < deadline and len(list(parts.glob("*.npy"))) < 5:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not output_path(tmp_path, spec).exists()
    generate(spec, tmp_path, shard_frames=200, progress=False)
    assert verify(output_path(tmp_path, spec), regenerate=True).ok


def test_existing_file_of_other_spec_is_refused(tmp_path):
    spec = tiny_spec("toy-son-triplets-v1")
    path = generate(spec, tmp_path, progress=False)
    assert generate(spec, tmp_path, progress=False) == path  # same spec: nothing to do
    other = replace(spec, seed=7)
    with pytest.raises(CrlbenchError, match="--overwrite"):
        generate(other, tmp_path, progress=False)
    generate(other, tmp_path, overwrite=True, progress=False)
    assert load(path).spec.seed == 7


def test_partial_run_of_other_spec_is_refused(tmp_path, monkeypatch):
    spec = tiny_spec("toy-son-pairs-v1")
    monkeypatch.setattr(build, "_save_atomic", lambda p, a: (_ for _ in ()).throw(KeyboardInterrupt))
    with pytest.raises(KeyboardInterrupt):
        generate(spec, tmp_path, progress=False)
    monkeypatch.undo()
    with pytest.raises(CrlbenchError, match="partial generation of a different spec"):
        generate(replace(spec, seed=1), tmp_path, progress=False)


@pytest.fixture
def good_file(tmp_path):
    return generate(tiny_spec("toy-son-pairs-v1"), tmp_path / "good", progress=False)


def test_truncated_file_is_refused(good_file, tmp_path):
    bad = tmp_path / "truncated.h5"
    data = good_file.read_bytes()
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataFileError, match="truncated"):
        load(bad)
    with pytest.raises(DataFileError):
        verify(bad)


def test_incomplete_and_foreign_files_are_refused(good_file, tmp_path):
    incomplete = tmp_path / "incomplete.h5"
    shutil.copy(good_file, incomplete)
    with h5py.File(incomplete, "r+") as f:
        f.attrs["complete"] = False
    with pytest.raises(DataFileError, match="incomplete"):
        load(incomplete)
    foreign = tmp_path / "foreign.h5"
    with h5py.File(foreign, "w") as f:
        f["x"] = np.zeros(3)
    with pytest.raises(DataFileError, match="not a crlbench dataset"):
        verify(foreign)


def test_verify_names_the_tampered_array(good_file):
    assert verify(good_file, regenerate=True).ok
    with h5py.File(good_file, "r+") as f:
        f["train/latents"][0, 0, 0] += 1.0
    report = verify(good_file)
    assert [c.key for c in report.failures] == ["train/latents"]
    regen = verify(good_file, regenerate=True)
    assert "train/latents" in {c.key for c in regen.failures}
