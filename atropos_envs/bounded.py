"""Run a pure function with a hard wall-clock limit, in a worker process that is killed
and replaced when it overruns.

Scoring code (sympy, regexes supplied by users) can take unbounded time on adversarial
model output; threads cannot be interrupted, so the work goes to a child process.
This is a time bound for trusted code, not a sandbox: untrusted *programs* go to
``atropos_envs.sandbox``.
"""

from __future__ import annotations

import atexit
import importlib
import os
import pickle
import select
import struct
import subprocess
import sys
import threading
from collections.abc import Callable
from typing import Any

_HEADER = struct.Struct("!Q")
#: A new worker's start (interpreter, then importing the scoring function's module: sympy,
#: jsonschema...) is not the reply's time: it gets this much, apart from the call's timeout.
STARTUP_TIMEOUT_S = 120.0


class BoundedTimeout(TimeoutError):
    pass


def write_frame(stream, payload: Any) -> None:
    data = pickle.dumps(payload)
    stream.write(_HEADER.pack(len(data)) + data)
    stream.flush()


def read_frame(stream) -> Any:
    header = stream.read(_HEADER.size)
    if len(header) < _HEADER.size:
        raise EOFError("worker closed its pipe")
    (size,) = _HEADER.unpack(header)
    return pickle.loads(stream.read(size))


def serve(stdin, stdout) -> None:
    """The worker's loop: read (function, args), write (ok, result or error text)."""
    while True:
        try:
            fn, args = read_frame(stdin)
        except EOFError:
            return
        try:
            reply = (True, fn(*args))
        except Exception as exc:  # reported to the caller, who decides
            reply = (False, f"{type(exc).__name__}: {exc}")
        write_frame(stdout, reply)


def _preload(module: str) -> None:
    """Run in the worker: import a scoring function's module before the timed call, and run
    its ``warm_up()`` if it has one (for modules that import their heavy parts lazily)."""
    warm_up = getattr(importlib.import_module(module), "warm_up", None)
    if callable(warm_up):
        warm_up()


class _Worker:
    """A ``python -m atropos_envs.bounded`` child (a fresh interpreter: nothing of the
    parent's ``__main__`` is re-run, unlike multiprocessing's spawn)."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "atropos_envs.bounded"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "PYTHONWARNINGS": "ignore"},
        )
        self.loaded: set[str] = set()

    def _exchange(self, fn: Callable, args: tuple, timeout: float) -> Any:
        write_frame(self.process.stdin, (fn, args))
        ready, _, _ = select.select([self.process.stdout], [], [], timeout)
        if not ready:
            self.kill()
            raise BoundedTimeout(f"took longer than {timeout:g} s")
        ok, value = read_frame(self.process.stdout)
        if not ok:
            raise RuntimeError(value)
        return value

    def call(self, fn: Callable, args: tuple, timeout: float) -> Any:
        module = getattr(fn, "__module__", None)
        if module and module not in self.loaded:  # a cold start is not charged to the reply
            try:
                self._exchange(_preload, (module,), STARTUP_TIMEOUT_S)
            except BoundedTimeout:
                raise RuntimeError(f"scoring worker did not start within {STARTUP_TIMEOUT_S:g} s") from None
            self.loaded.add(module)
        return self._exchange(fn, args, timeout)

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(5)
        for stream in (self.process.stdin, self.process.stdout):
            stream.close()

    @property
    def alive(self) -> bool:
        return self.process.poll() is None


class BoundedPool:
    """A few reusable workers; ``call`` blocks the calling thread only, so several threads
    (e.g. an asyncio driver's executor) score in parallel."""

    def __init__(self, size: int = 2):
        self.size = size
        self._idle: list[_Worker] = []
        self._lock = threading.Lock()
        self._slots = threading.Semaphore(size)

    def call(self, fn: Callable, *args: Any, timeout: float = 5.0) -> Any:
        with self._slots:
            with self._lock:
                worker = self._idle.pop() if self._idle else None
            if worker is None or not worker.alive:
                worker = _Worker()
            try:
                return worker.call(fn, args, timeout)
            except BoundedTimeout:  # a TimeoutError, hence an OSError: let it through first
                raise
            except (
                EOFError,
                OSError,
                pickle.UnpicklingError,
            ) as exc:  # the worker died (e.g. killed for memory)
                worker.kill()
                raise RuntimeError(f"scoring worker died: {type(exc).__name__}") from None
            finally:
                if worker.alive:
                    with self._lock:
                        self._idle.append(worker)

    def close(self) -> None:
        with self._lock:
            workers, self._idle = self._idle, []
        for worker in workers:
            worker.kill()


_shared: BoundedPool | None = None
_shared_lock = threading.Lock()


def shared_pool() -> BoundedPool:
    """The process-wide pool that envs score with (started lazily, closed at exit)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = BoundedPool(size=max(2, min(8, os.cpu_count() or 2)))
            atexit.register(_shared.close)
        return _shared


if __name__ == "__main__":
    # Replies go through a private copy of the pipe; whatever scoring code prints (Python or C,
    # e.g. a task generator's debug output) goes where stderr goes, never into a reply frame.
    replies = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    serve(sys.stdin.buffer, replies)
