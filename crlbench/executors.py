"""Executors: run idempotent units of work on a pool of stateful workers.

Both dataset generation (a unit = one rendered shard) and benchmark sweeps (a unit = one
method x seed run) go through :class:`Executor`. Each worker calls ``setup(arg)`` once (a
renderer, a dataset handle) and then ``work(state, task)`` for many tasks. Units must be
idempotent (the caller skips finished ones and commits each atomically), so retrying a unit
or re-running the whole job never duplicates output.

Implementations, by name in :data:`EXECUTORS`:

* ``local`` (default): this process for one worker, else spawned processes;
* ``ray``: Ray actors, on a local instance or a cluster (``address``); needs
  ``pip install "crlbench[ray]"``.
"""

from __future__ import annotations

import abc
import multiprocessing as mp
import os
import traceback
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, replace
from typing import Any, Generic, TypeVar

from crlbench.errors import CrlbenchError

__all__ = ["Outcome", "Executor", "LocalExecutor", "RayExecutor", "EXECUTORS", "make_executor", "worker_threads"]

S = TypeVar("S")
T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class Outcome(Generic[R]):
    """Result of one unit: ``error`` is the last traceback when every attempt failed."""

    index: int
    result: R | None = None
    error: str | None = None
    attempts: int = 1


def _attempt(state: Any, work: Callable, task: Any, retries: int) -> tuple[Any, str | None, int]:
    error = None
    for attempt in range(1, retries + 2):
        try:
            return work(state, task), None, attempt
        except Exception:  # noqa: BLE001 - the unit failed; it is idempotent, so try again
            error = traceback.format_exc()
    return None, error, retries + 1


class Executor(abc.ABC):
    """Maps ``work`` over tasks on workers set up once each; yields outcomes as they finish."""

    @abc.abstractmethod
    def map_unordered(
        self,
        setup: Callable[[Any], S],
        setup_arg: Any,
        work: Callable[[S, T], R],
        tasks: Sequence[T],
        *,
        retries: int = 1,
    ) -> Iterator[Outcome[R]]:
        """Run every task; a task that raises is retried ``retries`` times, then reported.

        ``setup`` and ``work`` must be module-level functions (they are pickled).
        """


#: Set in every worker: the CPU threads it may use, its share of the machine's cores. Code
#: with its own thread pool (Cycles) reads it through :func:`worker_threads`, so that N
#: workers on N cores do not each start N threads.
THREADS_ENV = "CRLBENCH_WORKER_THREADS"


def worker_threads() -> int | None:
    """The CPU threads this worker may use; ``None`` outside a worker (use every core)."""
    value = os.environ.get(THREADS_ENV)
    return int(value) if value else None


def _set_worker_threads(n: int) -> None:
    os.environ[THREADS_ENV] = str(n)


# --- local processes --------------------------------------------------------------------

_STATE: dict[str, Any] = {}


def _local_run(setup: Callable, arg: Any, work: Callable, index: int, task: Any, retries: int) -> Outcome:
    # Set up on the first task rather than in a pool initializer: an initializer error
    # breaks the pool and hides its message, a task error reaches the parent intact.
    if "state" not in _STATE:
        _STATE["state"] = setup(arg)
    result, error, attempts = _attempt(_STATE["state"], work, task, retries)
    return Outcome(index, result, error, attempts)


class LocalExecutor(Executor):
    """This process (``workers=1``) or ``workers`` spawned processes on this machine.

    Spawned, not forked: GL contexts and Blender must never be inherited by a child.
    A worker process that dies (killed, out of memory) stops the run with a message; the
    units committed so far are kept, so running the job again resumes.
    """

    def __init__(self, workers: int = 1) -> None:
        if workers < 1:
            raise CrlbenchError(f"workers must be >= 1, got {workers}")
        self.workers = workers

    def map_unordered(self, setup, setup_arg, work, tasks, *, retries=1):
        """See ``Executor.map_unordered``."""
        if not tasks:
            return
        if self.workers == 1:
            state = setup(setup_arg)
            try:
                for i, task in enumerate(tasks):
                    result, error, attempts = _attempt(state, work, task, retries)
                    yield Outcome(i, result, error, attempts)
            finally:
                if hasattr(state, "close"):
                    state.close()
            return
        ctx = mp.get_context("spawn")
        share = max(1, (os.cpu_count() or 1) // self.workers)
        with ProcessPoolExecutor(self.workers, mp_context=ctx, initializer=_set_worker_threads, initargs=(share,)) as pool:
            pending = {pool.submit(_local_run, setup, setup_arg, work, i, t, retries) for i, t in enumerate(tasks)}
            try:
                while pending:
                    done, pending = wait(pending, return_when=FIRST_COMPLETED)
                    for fut in done:
                        yield fut.result()
            except BrokenProcessPool:
                raise CrlbenchError(
                    "a worker process died (killed or out of memory); the finished units are kept: run the same command again to resume"
                ) from None
            finally:
                for fut in pending:
                    fut.cancel()


# --- Ray --------------------------------------------------------------------------------


class RayExecutor(Executor):
    """Ray actors, one per worker, each set up once (on a cluster: shared storage needed).

    An actor that dies mid-unit (killed, out of memory) is replaced by a fresh one and the
    unit run again, up to ``retries`` times; the other units carry on meanwhile.

    Args:
        workers: Number of actors.
        address: Ray cluster address (``ray://host:10001`` or ``auto``); ``None`` starts a
            local Ray instance for this process.
        num_gpus: GPUs requested per actor (sweeps ask for 1 on the paper tier).
    """

    def __init__(self, workers: int = 1, address: str | None = None, num_gpus: float = 0) -> None:
        try:
            import ray  # noqa: PLC0415
        except ImportError:
            raise CrlbenchError('the Ray executor needs Ray: pip install "crlbench[ray]"') from None
        if workers < 1:
            raise CrlbenchError(f"workers must be >= 1, got {workers}")
        self.ray, self.workers, self.num_gpus = ray, workers, num_gpus
        if not ray.is_initialized():
            kwargs = {"address": address} if address else {"num_cpus": workers, "include_dashboard": False}
            ray.init(log_to_driver=False, configure_logging=False, **kwargs)

    def map_unordered(self, setup, setup_arg, work, tasks, *, retries=1):
        """See ``Executor.map_unordered``."""
        if not tasks:
            return
        ray = self.ray
        actor_cls = ray.remote(num_cpus=1, num_gpus=self.num_gpus, max_restarts=0)(_RayWorker)
        actors = [actor_cls.remote(setup, setup_arg) for _ in range(min(self.workers, len(tasks)))]
        queue = list(enumerate(tasks))
        deaths: dict[int, int] = {}
        running: dict[Any, tuple[int, Any, Any]] = {}

        def submit(actor: Any) -> None:
            i, task = queue.pop(0)
            running[actor.run.remote(work, i, task, retries)] = (i, task, actor)

        for actor in actors:
            submit(actor)
        try:
            while running:
                ready, _ = ray.wait(list(running), num_returns=1)
                i, task, actor = running.pop(ready[0])
                try:
                    outcome = ray.get(ready[0])
                except ray.exceptions.RayActorError:
                    # The worker died mid-unit (killed, out of memory, a crash in native code).
                    # Nothing of the unit was committed, so it runs again, a bounded number of
                    # times; a dead actor is never given another unit: a fresh one takes over.
                    actors.remove(actor)
                    ray.kill(actor)
                    deaths[i] = deaths.get(i, 0) + 1
                    if deaths[i] > retries:
                        yield Outcome(i, None, f"worker died {deaths[i]} times running this unit", deaths[i])
                    else:
                        queue.insert(0, (i, task))
                    if queue:
                        actor = actor_cls.remote(setup, setup_arg)
                        actors.append(actor)
                else:
                    yield replace(outcome, attempts=outcome.attempts + deaths.get(i, 0))
                if queue:
                    submit(actor)
        finally:
            for actor in actors:
                ray.kill(actor)


class _RayWorker:
    def __init__(self, setup: Callable, arg: Any) -> None:
        # An error in setup is raised by run, so that it reaches the caller with its message
        # (as from LocalExecutor) instead of passing for a worker that died.
        self.state, self.error = None, None
        _set_worker_threads(1)  # each actor reserves one CPU (num_cpus=1)
        try:
            self.state = setup(arg)
        except Exception as e:  # noqa: BLE001 - kept and raised by run, in the caller
            self.error = e

    def run(self, work: Callable, index: int, task: Any, retries: int) -> Outcome:
        if self.error is not None:
            raise self.error
        result, error, attempts = _attempt(self.state, work, task, retries)
        return Outcome(index, result, error, attempts)


EXECUTORS: dict[str, type[Executor]] = {"local": LocalExecutor, "ray": RayExecutor}


def make_executor(name: str = "local", **kwargs: Any) -> Executor:
    """The executor registered as ``name`` (``local`` or ``ray``)."""
    if name not in EXECUTORS:
        raise CrlbenchError(f"unknown executor {name!r}; use one of {sorted(EXECUTORS)}")
    return EXECUTORS[name](**kwargs)
