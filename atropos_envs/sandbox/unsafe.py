"""No isolation at all: a subprocess with rlimits in a temporary directory.

Only for a user who opted in explicitly (ATROPOS_UNSAFE_SANDBOX=1) on a machine with no
isolating backend. The program can read and write everything the user can."""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

from atropos_envs.sandbox.base import (
    RunResult,
    Sandbox,
    SandboxLimits,
    communicate_bounded,
    decode,
    encode,
)

# everything but the per-process rlimits (CPU, file size, open files, address space)
UNENFORCED = ("isolation", "memory_mb", "max_processes", "disk_mb", "tmp_mb")


class UnsafeLocalSandbox(Sandbox):
    name = "unsafe-local"

    def run(self, command, files=None, stdin=b"", limits=None) -> RunResult:
        limits = limits or SandboxLimits()
        stdin = encode(stdin)
        with tempfile.TemporaryDirectory() as work:
            for name, content in (files or {}).items():
                path = Path(work) / name
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(encode(content))
            mb = 1024 * 1024
            rlimits = [
                "prlimit",
                f"--cpu={limits.cpu_time_s}",
                f"--fsize={limits.file_size_mb * mb}",
                f"--nofile={limits.open_files}",
                f"--as={(limits.memory_mb + 256) * mb}",
                "--",
            ]
            pipe = subprocess.PIPE
            process = subprocess.Popen(
                [*rlimits, *command],
                cwd=work,
                stdin=pipe,
                stdout=pipe,
                stderr=pipe,
                start_new_session=True,
                env={"PATH": os.environ.get("PATH", "/usr/bin")},
            )
            out, err, timed_out, exceeded, wall = communicate_bounded(process, stdin, limits)
        code = process.returncode
        status = "timeout" if timed_out else "output_limit" if exceeded else "ok" if code == 0 else "crash"
        return RunResult(
            status, code, decode(out), decode(err), wall, "unisolated run", unenforced=UNENFORCED
        )
