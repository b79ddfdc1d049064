"""Where a sweep's runs execute, behind one small seam.

An :class:`Executor` is a context manager with :meth:`Executor.map_unordered`: call a top-level
function on every task and yield the results as they finish, in any order. Results do not
depend on the executor: every run is a pure function of its task, and the sweep orders them
afterwards. Three implementations:

* :class:`SerialExecutor`: one after the other in this process (debugging, tiny sweeps);
* :class:`ProcessExecutor`: local worker processes (the default, one per core), started with
  ``spawn`` and, inside a ``with`` block, kept from one call to the next (a search that maps
  round after round, ``coinfer goodput``, starts them once); if a worker process dies (killed,
  out of memory), the unfinished tasks are retried in a fresh pool, then one at a time, so that
  only the run that kills its process fails;
* :class:`DaskExecutor`: a Dask ``distributed`` cluster, an existing one by scheduler address or
  a ``LocalCluster`` started here (the ``cluster`` extra). Workers must see the sweep's output
  directory (a shared file system) and have coinfer installed.

An exception a task raises is turned into a result by ``on_error`` (the sweep records the run as
failed and goes on).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import sys
from abc import ABC, abstractmethod
from collections.abc import Callable, Generator, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from types import TracebackType
from typing import Any, Self, TypeVar

from coinfer.emulator.errors import InputError

T = TypeVar("T")
R = TypeVar("R")

#: Shared-pool rounds tried when a worker process dies, before running the rest one by one.
SHARED_ROUNDS = 2


def die_with_parent(parent_pid: int) -> None:
    """In a worker process: ask the kernel to kill this process when its parent dies (Linux's
    ``PR_SET_PDEATHSIG``), so that a sweep killed with SIGKILL leaves no worker running its
    runs behind; if the parent is already gone, exit now. Elsewhere nothing is done (the run
    locks of :mod:`~coinfer.emulator.sweeps.worker` still keep a restarted sweep off them)."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes
    import signal

    libc = ctypes.CDLL(None, use_errno=True)
    pr_set_pdeathsig = 1
    libc.prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent_pid:  # the parent died before the request took effect
        os._exit(1)


def default_workers() -> int:
    """The number of cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


class Executor(ABC):
    """Runs a function over tasks, yielding results as they finish."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:  # noqa: B027 - optional hook, a no-op by default
        """Release the workers (nothing to do for most executors)."""

    @property
    @abstractmethod
    def description(self) -> str:
        """What runs the tasks, for messages (``"2 local processes"``)."""

    @property
    def parallelism(self) -> int | None:
        """How many tasks run at once (None: not known until the executor is entered)."""
        return 1

    @abstractmethod
    def map_unordered(
        self,
        fn: Callable[[T], R],
        tasks: Sequence[T],
        on_error: Callable[[T, BaseException], R],
    ) -> Iterator[R]:
        """``fn(task)`` for every task, as they finish; a task that raises gives ``on_error``."""


class SerialExecutor(Executor):
    """Every task in this process, in order."""

    @property
    def description(self) -> str:
        return "this process (serial)"

    def map_unordered(
        self,
        fn: Callable[[T], R],
        tasks: Sequence[T],
        on_error: Callable[[T, BaseException], R],
    ) -> Iterator[R]:
        for task in tasks:
            try:
                result = fn(task)
            except Exception as err:
                result = on_error(task, err)
            yield result


class ProcessExecutor(Executor):
    """Tasks on ``workers`` local processes (``spawn`` start method); inside a ``with`` block
    the processes are kept from one :meth:`map_unordered` to the next."""

    def __init__(self, workers: int | None = None) -> None:
        if workers is not None and workers < 1:
            raise InputError(
                f"got {workers}, expected a positive integer",
                argument="workers",
                value=workers,
                expected="a positive integer",
            )
        self.workers = default_workers() if workers is None else workers
        self._keep_pool = False  #: inside a ``with`` block: keep the pool between calls
        self._pool: ProcessPoolExecutor | None = None

    @property
    def description(self) -> str:
        plural = "es" if self.workers != 1 else ""
        return f"{self.workers} local process{plural}"

    @property
    def parallelism(self) -> int:
        return self.workers

    def __enter__(self) -> Self:
        self._keep_pool = True
        return self

    def close(self) -> None:
        """Shut the kept pool down (its processes exit)."""
        self._keep_pool = False
        self._drop_pool()

    def map_unordered(
        self,
        fn: Callable[[T], R],
        tasks: Sequence[T],
        on_error: Callable[[T, BaseException], R],
    ) -> Iterator[R]:
        remaining = list(tasks)
        for _ in range(SHARED_ROUNDS):
            if not remaining:
                return
            remaining = yield from self._shared_round(fn, remaining, on_error)
        for task in remaining:  # a process died twice: isolate, so only its killer fails
            for lost in (yield from self._round(fn, [task], on_error, self._new_pool(1))):
                yield on_error(lost, BrokenProcessPool("the worker process running it died"))

    def _new_pool(self, workers: int) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            max_workers=workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=die_with_parent,
            initargs=(os.getpid(),),
        )

    def _shared_round(
        self,
        fn: Callable[[T], R],
        tasks: list[T],
        on_error: Callable[[T, BaseException], R],
    ) -> Generator[R, None, list[T]]:
        """Run ``tasks`` on the pool of ``workers`` processes. Inside a ``with`` block the pool
        is kept for the next call (its processes have imported what the tasks need: a search
        that maps round after round pays for starting them once); a pool whose process died
        is replaced."""
        if not self._keep_pool:
            fresh = self._new_pool(min(self.workers, len(tasks)))
            return (yield from self._round(fn, tasks, on_error, fresh))
        if self._pool is None:
            self._pool = self._new_pool(self.workers)
        pool = self._pool
        finished = False
        try:
            lost = yield from self._round(fn, tasks, on_error, pool, shut=False)
            finished = not lost
        finally:
            if not finished:  # broken, or abandoned with tasks in flight
                self._drop_pool()
        return lost

    def _drop_pool(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)

    @staticmethod
    def _round(
        fn: Callable[[T], R],
        tasks: list[T],
        on_error: Callable[[T, BaseException], R],
        pool: ProcessPoolExecutor,
        *,
        shut: bool = True,
    ) -> Generator[R, None, list[T]]:
        """Run ``tasks`` on ``pool`` (shut down after, with ``shut``); return the tasks lost
        to a dead worker process."""
        lost: list[T] = []
        try:
            futures: dict[Future[R], T] = {pool.submit(fn, task): task for task in tasks}
            for future in as_completed(futures):
                task = futures.pop(future)
                try:
                    result = future.result()
                except BrokenProcessPool:
                    lost.append(task)
                    continue
                except Exception as err:
                    result = on_error(task, err)
                yield result
        finally:
            if shut:
                pool.shutdown(wait=True, cancel_futures=True)
        return lost


class DaskExecutor(Executor):
    """Tasks on a Dask cluster: an existing scheduler, a cluster object, or a new LocalCluster.

    Give ``address`` (``tcp://host:8786``, or a ``distributed`` cluster object), or
    ``local_workers`` to start a ``LocalCluster`` of that many single-threaded workers
    (``processes=False`` runs them as threads of this process). Connects on ``__enter__``.
    """

    def __init__(
        self,
        address: Any = None,
        *,
        local_workers: int | None = None,
        processes: bool = True,
    ) -> None:
        if (address is None) == (local_workers is None):
            raise ValueError("give exactly one of address and local_workers")
        if local_workers is not None and local_workers < 1:
            raise InputError(
                f"got {local_workers}, expected a positive integer",
                argument="local_workers",
                value=local_workers,
                expected="a positive integer",
            )
        self._address = address
        self._local_workers = local_workers
        self._processes = processes
        self._cluster: Any = None
        self._client: Any = None

    @property
    def description(self) -> str:
        if self._local_workers is not None:
            kind = "processes" if self._processes else "threads"
            return f"a local Dask cluster of {self._local_workers} worker {kind}"
        where = self._address if isinstance(self._address, str) else type(self._address).__name__
        return f"the Dask cluster at {where}"

    @property
    def parallelism(self) -> int | None:
        """The local workers, or the worker threads of the cluster once connected."""
        if self._local_workers is not None:
            return self._local_workers
        if self._client is None:
            return None
        workers = self._client.scheduler_info().get("workers", {})
        return max(1, sum(int(w.get("nthreads", 1)) for w in workers.values()))

    def __enter__(self) -> Self:
        try:
            from distributed import Client, LocalCluster
        except ImportError as err:
            raise InputError(
                "Dask executor: the `distributed` package is not installed; expected the "
                "cluster extra (pip install -e '.[cluster]')"
            ) from err
        if self._local_workers is not None:
            self._cluster = LocalCluster(
                n_workers=self._local_workers,
                threads_per_worker=1,
                processes=self._processes,
                dashboard_address=None,
                silence_logs=logging.ERROR,
            )
            self._client = Client(self._cluster)
            return self
        try:
            self._client = Client(self._address, timeout="10s")
        except (OSError, TimeoutError) as err:
            raise InputError(
                f"cannot reach {self._address!r} ({err}); expected the address of a running "
                "Dask scheduler, e.g. tcp://host:8786",
                argument="address",
                value=self._address,
                expected="the address of a running Dask scheduler",
            ) from err
        return self

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None

    def map_unordered(
        self,
        fn: Callable[[T], R],
        tasks: Sequence[T],
        on_error: Callable[[T, BaseException], R],
    ) -> Iterator[R]:
        from distributed import as_completed as dask_as_completed

        if self._client is None:
            raise RuntimeError("DaskExecutor used outside its `with` block")
        futures = {self._client.submit(fn, task, pure=False): task for task in tasks}
        try:
            for future in dask_as_completed(list(futures)):
                task = futures.pop(future)
                try:
                    result = future.result()
                except Exception as err:  # a worker died more often than Dask retries
                    result = on_error(task, err)
                future.release()
                yield result
        finally:
            for future in futures:
                future.cancel()


def make_executor(
    *,
    serial: bool = False,
    workers: int | None = None,
    scheduler: str | None = None,
    dask_local: int | None = None,
) -> Executor:
    """The executor the command-line flags ask for (local processes by default)."""
    if serial:
        return SerialExecutor()
    if scheduler is not None:
        return DaskExecutor(scheduler)
    if dask_local is not None:
        return DaskExecutor(local_workers=dask_local)
    return ProcessExecutor(workers)
