"""Executors: the same output whichever executor and however many workers; failing units are
retried a bounded number of times and reported; a worker killed mid-shard loses nothing
committed, and running the job again finishes only what is missing.

Ray runs for real on a local instance of 2 CPUs (the ``ray_local`` fixture, once per
module). Faults are planted by :class:`Faulty`, an executor that runs each unit through
:func:`_faulty_work` on the executor it wraps: the units, workers and renderers are the
real ones.
"""

from __future__ import annotations

import importlib.util
import inspect
import json
import os
import signal
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest

from crlbench.cli import main
from crlbench.datasets import storage
from crlbench.datasets.build import generate, make_scene, output_path
from crlbench.datasets.verify import verify
from crlbench.errors import CrlbenchError
from crlbench.executors import Executor, LocalExecutor, make_executor, worker_threads
from tests.helpers import tiny_spec

#: The project's image tolerance: mean |diff| per frame, in grey levels (``crlbench verify``).
TOLERANCE = inspect.signature(verify).parameters["tolerance"].default

#: Executors by test id; ``ray-2`` needs the ``ray_local`` fixture.
EXECUTORS = {"local-1": ("local", 1), "local-2": ("local", 2), "ray-2": ("ray", 2)}


def executor(name: str, request: pytest.FixtureRequest) -> Executor:
    kind, workers = EXECUTORS[name]
    if kind == "ray":
        request.getfixturevalue("ray_local")
    return make_executor(kind, workers=workers)


# --- the same dataset from every executor -----------------------------------------------


def _contents(path: Path) -> tuple[dict[str, str], dict[str, np.ndarray]]:
    with h5py.File(path) as f:
        return json.loads(str(f.attrs["manifest"])), {k: ds[()] for k, ds in storage.iter_arrays(f)}


@pytest.mark.parametrize("dataset_id", ["toy-son-pairs-v1", "causal-circuit-pairs-v1"])
def test_same_dataset_from_every_executor(dataset_id, tmp_path, request):
    spec = tiny_spec(dataset_id)
    obs = make_scene(spec).observation.at(spec.resolution)
    names = [n for n in EXECUTORS if EXECUTORS[n][0] != "ray" or importlib.util.find_spec("ray")]
    paths = {name: generate(spec, tmp_path / name, executor=executor(name, request), shard_frames=4, progress=False) for name in names}
    manifest, arrays = _contents(paths["local-1"])
    assert any(k.endswith(obs.dataset_name) for k in arrays)
    for name in names[1:]:
        other_manifest, other = _contents(paths[name])
        assert sorted(other) == sorted(arrays) and sorted(other_manifest) == sorted(manifest)
        for key, a in arrays.items():
            if obs.kind == "image" and key.endswith("/" + obs.dataset_name):
                assert other[key].shape == a.shape and other[key].dtype == a.dtype
                diff = np.abs(other[key].astype(float) - a.astype(float)).reshape(-1, *obs.shape)
                assert diff.reshape(len(diff), -1).mean(axis=1).max() <= TOLERANCE, f"{name}: {key}"
            else:  # latents, targets, noise, masks, vector observations: bit for bit
                np.testing.assert_array_equal(other[key], a, err_msg=f"{name}: {key}")
                assert other_manifest[key] == manifest[key], f"{name}: manifest of {key}"


# --- failing units: retried, then reported ----------------------------------------------


def _setup_offset(arg: int) -> int:
    return arg


def _flaky(offset: int, task: tuple[int, int, str]) -> int:
    """Unit ``i`` fails on its first ``fails`` attempts (attempts are counted in files)."""
    i, fails, folder = task
    (Path(folder) / f"attempt-{i}-{uuid.uuid4().hex}").touch()
    attempt = len(list(Path(folder).glob(f"attempt-{i}-*")))
    if attempt <= fails:
        raise ValueError(f"unit {i} failed on attempt {attempt}")
    return offset + i


@pytest.mark.parametrize("name", list(EXECUTORS))
def test_failing_unit_is_retried_then_reported(name, tmp_path, request):
    retries = 2
    fails = {1: 99, 3: 1}  # unit 1 always fails, unit 3 once
    tasks = [(i, fails.get(i, 0), str(tmp_path)) for i in range(5)]
    outcomes = {o.index: o for o in executor(name, request).map_unordered(_setup_offset, 100, _flaky, tasks, retries=retries)}
    assert sorted(outcomes) == list(range(5))
    bad = outcomes[1]
    assert bad.result is None and bad.attempts == retries + 1
    assert "Traceback" in bad.error and "_flaky" in bad.error
    assert bad.error.strip().splitlines()[-1] == f"ValueError: unit 1 failed on attempt {retries + 1}"
    for i in (0, 2, 3, 4):
        assert outcomes[i].error is None and outcomes[i].result == 100 + i
        assert outcomes[i].attempts == (2 if i == 3 else 1)
    attempts = {i: len(list(tmp_path.glob(f"attempt-{i}-*"))) for i in range(5)}
    assert attempts == {0: 1, 1: retries + 1, 2: 1, 3: 2, 4: 1}


def _setup_fails(arg: str) -> None:
    raise ValueError(arg)


@pytest.mark.parametrize("name", list(EXECUTORS))
def test_setup_error_reaches_the_caller(name, tmp_path, request):
    tasks = [(i, 0, str(tmp_path)) for i in range(3)]
    with pytest.raises(ValueError, match="no renderer here"):
        list(executor(name, request).map_unordered(_setup_fails, "no renderer here", _flaky, tasks))
    assert not list(tmp_path.glob("attempt-*")), "no unit may run without its worker's setup"


def _setup_threads(arg: None) -> int | None:
    return worker_threads()


def _threads(setup_threads: int | None, task: int) -> tuple[int | None, int | None]:
    return setup_threads, worker_threads()


@pytest.mark.parametrize("name", list(EXECUTORS))
def test_workers_know_their_share_of_the_cores(name, request):
    """N workers on C cores get C // N threads each (Ray: its 1 reserved CPU), so renderers
    with their own thread pools do not oversubscribe the machine; in-process: every core."""
    want = {"local-1": None, "local-2": max(1, (os.cpu_count() or 1) // 2), "ray-2": 1}[name]
    outcomes = list(executor(name, request).map_unordered(_setup_threads, None, _threads, range(4)))
    assert [o.result for o in outcomes] == [(want, want)] * 4


# --- faults planted in the shards of a generation ---------------------------------------


@dataclass(frozen=True)
class Fault:
    """What a unit does on the shard ``stem`` (e.g. ``train-00001``) before its real work.

    ``kind``: ``raise`` (while ``<log>/raise`` exists), ``die`` (SIGKILL its own worker on
    the first attempt) or ``hang`` (write its pid to ``<log>/pid-*`` and wait to be killed
    from outside, on every attempt); ``none`` only logs. Every committed shard is logged as
    ``<log>/committed-<stem>-*``.
    """

    log: str
    kind: str = "none"
    stem: str = ""


def _faulty_work(state: Any, job: tuple) -> Any:
    work, task, fault = job
    stem, log = Path(task[2]).stem, Path(fault.log)
    if stem == fault.stem:
        Path(task[2] + ".tmp").write_bytes(b"half a shard")  # what a kill mid-write leaves
        if fault.kind == "raise" and (log / "raise").exists():
            raise RuntimeError(f"planted failure in {stem}")
        if fault.kind == "die" and not (log / "died").exists():
            (log / "died").touch()
            os.kill(os.getpid(), signal.SIGKILL)
        if fault.kind == "hang":
            (log / f"pid-{uuid.uuid4().hex}").write_text(str(os.getpid()))
            time.sleep(120)
    result = work(state, task)
    (log / f"committed-{stem}-{uuid.uuid4().hex}").touch()
    return result


class Faulty(Executor):
    """Runs each unit of ``inner`` through :func:`_faulty_work` with ``fault``."""

    def __init__(self, inner: Executor, fault: Fault) -> None:
        self.inner, self.fault = inner, fault

    def map_unordered(self, setup, setup_arg, work, tasks, *, retries=1):
        jobs = [(work, task, self.fault) for task in tasks]
        return self.inner.map_unordered(setup, setup_arg, _faulty_work, jobs, retries=retries)


def _committed(log: Path) -> list[str]:
    return sorted(p.name.rsplit("-", 1)[0].removeprefix("committed-") for p in log.glob("committed-*"))


def _shards(spec, size: int) -> list[str]:
    """Every shard stem of ``spec`` at ``size`` frames per shard."""
    per = {"sequence": 1, "states": 1, "pairs": 2, "triplets": 3}
    return sorted(f"{split}-{i:05d}" for split, n in spec.splits.items() for i in range(-(-n * per[spec.split_kind(split)] // size)))


SPEC = "toy-son-pairs-v1"  # 11 shards of 4 frames at the tiny size
SHARD = "train-00001"


@pytest.mark.parametrize("name", ["local-1", "ray-2"])
def test_failed_shard_is_named_and_only_it_reruns(name, tmp_path, request):
    spec, log = tiny_spec(SPEC), tmp_path / "log"
    log.mkdir()
    (log / "raise").touch()
    fault = Fault(str(log), "raise", SHARD)
    with pytest.raises(CrlbenchError, match=f"1 shard\\(s\\) failed \\({SHARD}\\): RuntimeError: planted failure in {SHARD}"):
        generate(spec, tmp_path, executor=Faulty(executor(name, request), fault), shard_frames=4, progress=False)
    assert _committed(log) == sorted(set(_shards(spec, 4)) - {SHARD})
    (log / "raise").unlink()  # the cause is fixed
    path = generate(spec, tmp_path, executor=Faulty(executor(name, request), fault), shard_frames=4, progress=False)
    assert _committed(log) == _shards(spec, 4), "only the failed shard may be rendered again"
    assert verify(path, regenerate=True).ok


def test_ray_worker_killing_itself_mid_shard_is_rerun(tmp_path, ray_local):
    """The actor dies (SIGKILL) in the middle of a shard; the shard runs again on a fresh one."""
    spec, log = tiny_spec(SPEC), tmp_path / "log"
    log.mkdir()
    ex = Faulty(make_executor("ray", workers=2), Fault(str(log), "die", SHARD))
    path = generate(spec, tmp_path, executor=ex, shard_frames=4, progress=False)
    assert (log / "died").exists(), "the fault was not planted"
    assert _committed(log) == _shards(spec, 4), "every shard committed exactly once"
    assert verify(path, regenerate=True).ok


def test_local_worker_killed_mid_shard_then_rerun(tmp_path):
    """A local worker process that dies stops the run; running it again resumes."""
    spec, log = tiny_spec(SPEC), tmp_path / "log"
    log.mkdir()
    fault = Fault(str(log), "die", SHARD)
    with pytest.raises(CrlbenchError, match="worker process died"):
        generate(spec, tmp_path, executor=Faulty(LocalExecutor(2), fault), shard_frames=4, progress=False)
    assert not output_path(tmp_path, spec).exists()
    before = _committed(log)
    assert SHARD not in before
    path = generate(spec, tmp_path, executor=Faulty(LocalExecutor(2), fault), shard_frames=4, progress=False)
    assert _committed(log) == _shards(spec, 4), "no shard committed twice"
    assert verify(path, regenerate=True).ok


def _kill_hanging(log: Path, n: int, stop: threading.Event) -> None:
    """SIGKILL the first ``n`` workers that report hanging in ``log``, from outside them."""
    killed: set[str] = set()
    while len(killed) < n and not stop.is_set():
        for p in log.glob("pid-*"):
            if p.name not in killed and p.read_text():
                os.kill(int(p.read_text()), signal.SIGKILL)
                killed.add(p.name)
        time.sleep(0.05)


def test_ray_worker_killed_externally_then_rerun(tmp_path, ray_local):
    """The actor rendering one shard is SIGKILLed from outside on each of its attempts: the
    shard is reported, the others are rendered and kept (one actor: they run on a fresh one
    after the kills), and running again renders only that shard."""
    spec, log = tiny_spec(SPEC), tmp_path / "log"
    log.mkdir()
    stop = threading.Event()
    killer = threading.Thread(target=_kill_hanging, args=(log, 2, stop), daemon=True)
    killer.start()
    try:
        ex = Faulty(make_executor("ray", workers=1), Fault(str(log), "hang", SHARD))
        with pytest.raises(CrlbenchError, match=f"1 shard\\(s\\) failed \\({SHARD}\\): worker died 2 times"):
            generate(spec, tmp_path, executor=ex, shard_frames=4, progress=False)
    finally:
        stop.set()
        killer.join()
    assert len(list(log.glob("pid-*"))) == 2  # one attempt and one retry, both killed
    assert _committed(log) == sorted(set(_shards(spec, 4)) - {SHARD})
    ex = Faulty(make_executor("ray", workers=2), Fault(str(log)))
    path = generate(spec, tmp_path, executor=ex, shard_frames=4, progress=False)
    assert _committed(log) == _shards(spec, 4), "only the missing shard may be rendered again"
    assert verify(path, regenerate=True).ok


def test_cli_generate_on_ray_matches_local(tmp_path, ray_local, capsys):
    argv = ["generate", "toy-son-pairs-v1", "--n-vars", "3", "--no-progress"]
    assert main([*argv, "--out", str(tmp_path / "local")]) == 0
    assert main([*argv, "--out", str(tmp_path / "ray"), "--executor", "ray", "--workers", "2"]) == 0
    capsys.readouterr()
    (local,), (ray,) = (tmp_path / "local").glob("*.h5"), (tmp_path / "ray").glob("*.h5")
    with h5py.File(local) as f, h5py.File(ray) as g:
        assert f.attrs["manifest"] == g.attrs["manifest"]
    assert main(["generate", "toy-son-pairs-v1", "--executor", "dask"]) == 2
    assert "unknown executor 'dask'" in capsys.readouterr().err
