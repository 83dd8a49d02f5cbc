"""What every sandbox backend takes and returns, and the I/O loop they share."""

from __future__ import annotations

import os
import selectors
import signal
import subprocess
import time
from dataclasses import dataclass, field

STATUSES = ("ok", "crash", "timeout", "memory", "output_limit")


class SandboxUnavailable(RuntimeError):
    """No isolating backend can run here; the message names how to get one."""


class LimitsUnenforced(SandboxUnavailable):
    """The backend runs, but a documented limit could not hold; the message names the fix
    and the opt-in (allow_unenforced) that runs anyway and records it in each result."""


@dataclass(frozen=True)
class SandboxLimits:
    """Safe defaults for one run of untrusted code."""

    wall_time_s: float = 10.0
    cpu_time_s: int = 10
    memory_mb: int = 512
    output_bytes: int = 64 * 1024  # per stream; more and the run is stopped
    max_processes: int = 32
    disk_mb: int = 64  # size of the writable work dir (a tmpfs)
    tmp_mb: int = 8  # size of /tmp and of /dev/shm, each (tmpfs); nothing else is writable
    file_size_mb: int = 32
    open_files: int = 256

    def __post_init__(self) -> None:
        # a tmpfs of size 0 has no limit at all, and a 0 rlimit means nothing can run
        for name, value in vars(self).items():
            if not value > 0:
                raise ValueError(f"SandboxLimits.{name} must be positive, got {value!r}")


@dataclass
class RunResult:
    status: str  # one of STATUSES
    exit_code: int | None
    stdout: str
    stderr: str
    wall_s: float
    detail: str = ""
    files: dict[str, bytes] = field(default_factory=dict)
    # names of SandboxLimits fields (or "isolation") that did not hold for this run; only a
    # sandbox built with allow_unenforced=True runs when this would not be empty
    unenforced: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.status == "ok"


class Sandbox:
    name = "abstract"

    def run(
        self,
        command: list[str],
        files: dict[str, str | bytes] | None = None,
        stdin: str | bytes = b"",
        limits: SandboxLimits | None = None,
    ) -> RunResult:
        """Run command in a fresh work dir holding files; nothing survives the call."""
        raise NotImplementedError


def communicate_bounded(
    process: subprocess.Popen, stdin: bytes, limits: SandboxLimits
) -> tuple[bytes, bytes, bool, bool, float]:
    """Feed stdin, collect at most output_bytes per stream, stop at the wall-time limit.

    Returns (stdout, stderr, timed_out, output_exceeded, wall seconds). On a limit the whole
    process group is killed; callers also clean up their cgroup."""
    started = time.monotonic()
    deadline = started + limits.wall_time_s
    sel = selectors.DefaultSelector()
    buffers = {process.stdout: bytearray(), process.stderr: bytearray()}
    for stream in buffers:
        os.set_blocking(stream.fileno(), False)
        sel.register(stream, selectors.EVENT_READ)
    pending = memoryview(stdin)
    if pending:
        os.set_blocking(process.stdin.fileno(), False)
        sel.register(process.stdin, selectors.EVENT_WRITE)
    else:
        process.stdin.close()
    timed_out = exceeded = False
    while sel.get_map():
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            timed_out = True
            break
        for key, _ in sel.select(min(remaining, 0.5)):
            if key.fileobj is process.stdin:
                try:
                    written = os.write(process.stdin.fileno(), pending[:65536])
                except BrokenPipeError:
                    written = len(pending)
                pending = pending[written:]
                if not pending:
                    sel.unregister(process.stdin)
                    process.stdin.close()
                continue
            chunk = os.read(key.fileobj.fileno(), 65536)
            if not chunk:
                sel.unregister(key.fileobj)
                continue
            buffer = buffers[key.fileobj]
            buffer += chunk
            if len(buffer) > limits.output_bytes:
                exceeded = True
        if exceeded:
            break
    if timed_out or exceeded:
        kill_group(process)
    try:
        process.wait(max(0.1, deadline - time.monotonic()) if not (timed_out or exceeded) else 5)
    except subprocess.TimeoutExpired:
        timed_out = True
        kill_group(process)
        process.wait(5)
    sel.close()
    for stream in (process.stdin, process.stdout, process.stderr):
        if not stream.closed:
            stream.close()
    out, err = (bytes(buffers[s][: limits.output_bytes]) for s in (process.stdout, process.stderr))
    return out, err, timed_out, exceeded, time.monotonic() - started


def kill_group(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def decode(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")


def encode(data: str | bytes) -> bytes:
    """Model text as bytes for a run's files and stdin. A lone surrogate (text that is not
    valid Unicode) becomes "?" instead of an error, so any text can be run and judged."""
    return data.encode("utf-8", errors="replace") if isinstance(data, str) else data
