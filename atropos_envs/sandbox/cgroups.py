"""One cgroup per sandboxed run: a memory and a process-count limit, an OOM verdict,
and a way to kill everything that was ever started inside.

Works with cgroup v1 (memory + pids controllers) and v2 (a unified tree with the memory
and pids controllers enabled for our subtree). Groups are made under the calling
process's own cgroup, which needs root or a delegated cgroup; ``create`` raises
CgroupUnavailable otherwise (the sandbox then refuses, or records the unenforced limits).
"""

from __future__ import annotations

import os
import signal
import time
import uuid
from pathlib import Path

ROOT = Path("/sys/fs/cgroup")


class CgroupUnavailable(RuntimeError):
    """Cgroups cannot be managed here; the message says why."""


def _own_path(controller: str | None) -> str | None:
    """This process's cgroup path for a v1 controller, or the v2 path (controller None)."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if controller is None and controllers == "":
            return path
        if controller is not None and controller in controllers.split(","):
            return path
    return None


class CgroupRun:
    """Limits for one run; ``procs_files`` are where the run's first process writes its pid."""

    def __init__(self, dirs: dict[str, Path], version: int):
        self.dirs, self.version = dirs, version

    @property
    def procs_files(self) -> list[Path]:
        return [d / "cgroup.procs" for d in dict.fromkeys(self.dirs.values())]

    @classmethod
    def create(cls, memory_bytes: int, max_pids: int) -> CgroupRun:
        """A fresh group with the limits; CgroupUnavailable (saying why) when cgroups cannot
        be managed here."""
        name = f"atropos-sandbox/run-{uuid.uuid4().hex[:12]}"
        v1_memory, v1_pids = ROOT / "memory", ROOT / "pids"
        made: list[Path] = []
        try:
            if v1_memory.is_dir() and v1_pids.is_dir():
                dirs = {
                    "memory": v1_memory / (_own_path("memory") or "/").lstrip("/") / name,
                    "pids": v1_pids / (_own_path("pids") or "/").lstrip("/") / name,
                }
                for d in dirs.values():
                    d.mkdir(parents=True)
                    made.append(d)
                (dirs["memory"] / "memory.limit_in_bytes").write_text(str(memory_bytes))
                swap = dirs["memory"] / "memory.memsw.limit_in_bytes"
                if swap.exists():
                    swap.write_text(str(memory_bytes))
                (dirs["pids"] / "pids.max").write_text(str(max_pids))
                return cls(dirs, 1)
            if (ROOT / "cgroup.controllers").exists():
                parent = ROOT / (_own_path(None) or "/").lstrip("/") / "atropos-sandbox"
                parent.mkdir(exist_ok=True)
                (parent / "cgroup.subtree_control").write_text("+memory +pids")
                group = parent / name.split("/", 1)[1]
                group.mkdir()
                made.append(group)
                (group / "memory.max").write_text(str(memory_bytes))
                (group / "memory.swap.max").write_text("0")
                (group / "pids.max").write_text(str(max_pids))
                return cls({"memory": group, "pids": group}, 2)
        except OSError as exc:
            for d in reversed(made):
                try:
                    d.rmdir()
                except OSError:
                    pass
            raise CgroupUnavailable(f"cannot create a cgroup ({exc.strerror}: {exc.filename})") from None
        raise CgroupUnavailable(f"no cgroup v1 memory+pids controllers or cgroup v2 tree under {ROOT}")

    def oom_killed(self) -> bool:
        memory = self.dirs["memory"]
        try:
            if self.version == 1:
                control = (memory / "memory.oom_control").read_text()
                counts = dict(line.split() for line in control.splitlines() if len(line.split()) == 2)
                return int(counts.get("oom_kill", 0)) > 0 or int((memory / "memory.failcnt").read_text()) > 0
            events = dict(line.split() for line in (memory / "memory.events").read_text().splitlines())
            return int(events.get("oom_kill", 0)) > 0
        except (OSError, ValueError):
            return False

    def pids(self) -> list[int]:
        found: set[int] = set()
        for procs in self.procs_files:
            try:
                found |= {int(p) for p in procs.read_text().split()}
            except OSError:
                pass
        return sorted(found)

    def destroy(self) -> None:
        """Kill every process left in the group, then remove it."""
        for _ in range(50):
            pids = self.pids()
            if not pids:
                break
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.01)
        for d in dict.fromkeys(self.dirs.values()):
            for _ in range(50):
                try:
                    d.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:  # busy until the last killed process is reaped
                    time.sleep(0.01)
