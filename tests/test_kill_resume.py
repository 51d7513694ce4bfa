"""Killed at any stage, then run again: the same files as an uninterrupted run.

* Generation of the CausalCircuit scene (all three modes, one file each, real MuJoCo
  rendering at 16 px) is SIGKILLed while it renders the *second* file: alternately in the
  middle of rendering a shard and in the middle of writing one (half a temporary shard file
  on disk). After every kill exactly one more shard is on disk (nothing is redone or lost);
  the final files equal a clean run's, array by array (images included), and no temporary
  file is left.
* Training (``crlbench train``, a real baseline) is SIGKILLed after checkpoints, then run
  again: the final checkpoint, the selected weights and the test latents equal an
  uninterrupted run's.

By default generation is killed twice and training once; ten and three kills are ``slow``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import h5py
import numpy as np
import pytest

from crlbench.datasets.build import generate, output_path
from crlbench.datasets.verify import verify
from crlbench.registry import GROUPS
from tests.helpers import tiny_spec

ROOT = Path(__file__).resolve().parents[1]
SHARD = 4  # frames per shard: the second file has 11 shards

#: Generates the specs (JSON list) into a folder; with a dataset id, the process kills itself
#: in the second new shard of that dataset: ``render`` during rendering, ``write`` mid-write.
GENERATE = """
import json, os, signal, sys
from crlbench.datasets import build
from crlbench.datasets.spec import DatasetSpec

specs, out, victim, where = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
done = 0
render_shard, save_atomic = build._render_shard, build._save_atomic

def dying_render(render, task):
    frames, seeds, path = task
    if victim in path and done == 1 and where == "render":
        render(frames[: len(frames) // 2], seeds[: len(seeds) // 2])  # half the shard rendered
        os.kill(os.getpid(), signal.SIGKILL)
    return render_shard(render, task)

def dying_save(path, array):
    global done
    if victim in str(path):
        if done == 1 and where == "write":
            path.with_name(path.name + ".tmp").write_bytes(array.tobytes()[: array.nbytes // 2])
            os.kill(os.getpid(), signal.SIGKILL)
        done += 1
    save_atomic(path, array)

build._render_shard, build._save_atomic = dying_render, dying_save
for spec in specs:
    build.generate(DatasetSpec.from_json(spec), out, shard_frames=SHARD_FRAMES, progress=False)
""".replace("SHARD_FRAMES", str(SHARD))


def _run(code: str, *argv: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-c", code, *argv], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("kills", [2, pytest.param(10, marks=pytest.mark.slow)])
def test_causal_circuit_generation_killed_while_rendering_its_second_file(tmp_path, kills):
    specs = [replace(tiny_spec(did), resolution=16) for did in GROUPS["causal-circuit-v1"]]
    victim = specs[1].dataset_id
    parts = output_path(tmp_path / "killed", specs[1]).with_name(f"{victim}.h5.parts")
    payload = json.dumps([s.to_json() for s in specs])
    for k in range(kills):
        where = ("render", "write")[k % 2]
        proc = _run(GENERATE, payload, str(tmp_path / "killed"), victim, where)
        assert proc.returncode == -signal.SIGKILL, proc.stderr
        assert output_path(tmp_path / "killed", specs[0]).exists(), "the first file was finished before"
        assert not output_path(tmp_path / "killed", specs[1]).exists()
        assert len(list(parts.glob("*.npy"))) == k + 1, "each run adds exactly one shard: none redone, none lost"
        assert len(list(parts.glob("*.tmp"))) == (where == "write")
    n_shards = sum(-(-n * {"pairs": 2, "states": 1}[specs[1].split_kind(s)] // SHARD) for s, n in specs[1].splits.items())
    assert n_shards > kills

    proc = _run(GENERATE, payload, str(tmp_path / "killed"), "", "")
    assert proc.returncode == 0, proc.stderr
    for spec in specs:
        clean = generate(spec, tmp_path / "clean", shard_frames=SHARD, progress=False)
        killed = output_path(tmp_path / "killed", spec)
        with h5py.File(killed) as f, h5py.File(clean) as g:
            assert json.loads(f.attrs["manifest"]) == json.loads(g.attrs["manifest"]), spec.dataset_id
            assert f.attrs["complete"]
        assert verify(killed).ok
    left = [p.name for p in (tmp_path / "killed").iterdir() if p.name.endswith((".parts", ".tmp"))]
    assert not left, f"shard folders or temporary files left: {left}"


TRAIN = [
    "train",
    "--method",
    "beta-vae",
    "--budget",
    "48steps",
    "--loop",
    "val_every=8",
    "--loop",
    "batch_size=16",
    "--threads",
    "1",
    "--device",
    "cpu",
    "--no-progress",
    "--seed",
    "3",
]


def _train(data: Path, out: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    code = "import sys; from crlbench.cli import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.Popen(
        [sys.executable, "-c", code, *TRAIN, "--dataset", str(data), "--out", str(out)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _checkpoint_step(out: Path) -> int:
    log = out / "log.json"
    try:
        return max((e["step"] for e in json.loads(log.read_text()).get("val", [])), default=0)
    except (OSError, ValueError):
        return 0


@pytest.mark.parametrize("kills", [1, pytest.param(3, marks=pytest.mark.slow)])
def test_training_killed_and_resumed_ends_with_the_same_checkpoint(tmp_path, kills):
    torch = pytest.importorskip("torch")
    from crlbench.cli import main

    data = generate(
        replace(tiny_spec("toy-son-pairs-v1"), splits={"train": 64, "val": 16, "test": 16, "test_indep": 16}),
        tmp_path / "data",
        progress=False,
    )
    killed = tmp_path / "killed"
    for after in (8, 24, 40)[:kills]:  # kill once a checkpoint past this step is on disk
        proc = _train(data, killed)
        deadline = time.time() + 120
        while _checkpoint_step(killed) < after and proc.poll() is None and time.time() < deadline:
            time.sleep(0.01)
        assert proc.poll() is None, f"the run ended before it could be killed: {proc.communicate()}"
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert not (killed / "result.json").exists()
    proc = _train(data, killed)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err

    clean = tmp_path / "clean"
    assert main([*TRAIN, "--dataset", str(data), "--out", str(clean)]) == 0

    log = json.loads((killed / "log.json").read_text())
    assert len(log["resumed_at"]) == kills and log["resumed_at"][0] >= 8
    for name in ("checkpoint.pt", "best.pt"):
        a = torch.load(killed / name, weights_only=False)
        b = torch.load(clean / name, weights_only=False)
        state_a, state_b = (a["model"], b["model"]) if "model" in a else (a, b)
        assert state_a.keys() == state_b.keys()
        for key in state_a:
            assert torch.equal(state_a[key], state_b[key]), f"{name}: {key} differs from the uninterrupted run"
    for name in ("predictions.npz",):
        with np.load(killed / name) as x, np.load(clean / name) as y:
            for key in x.files:
                np.testing.assert_array_equal(x[key], y[key])
