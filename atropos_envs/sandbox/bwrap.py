"""The default backend on Linux machines without a container daemon: bubblewrap.

Layers, outermost first:
- a cgroup per run: memory and process-count limits, and every process killed at the end;
- rlimits (CPU seconds, file size, open files) and, when we are root, a switch to an
  unprivileged uid (65534) before anything of the program runs;
- bubblewrap: new user, pid, net, ipc, uts and mount namespaces; only /usr is visible
  (read-only, where the world-readable system interpreter lives), /proc of the new pid
  namespace, a minimal /dev, and a size-limited tmpfs as the work dir; the sandbox dies
  with its parent;
- seccomp: no sockets but AF_UNIX (this also stops AF_VSOCK, which network namespaces do
  not isolate), no ptrace, mounts, namespaces, io_uring, bpf, keyrings.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import tempfile
from pathlib import Path

from atropos_envs.sandbox import seccomp
from atropos_envs.sandbox.base import RunResult, Sandbox, SandboxLimits, SandboxUnavailable, communicate_bounded, decode
from atropos_envs.sandbox.cgroups import CgroupRun

UNPRIVILEGED_UID = 65534
WORK_DIR = "/work"


def _probe() -> str:
    """Why bubblewrap cannot run here ("" when it can)."""
    if shutil.which("bwrap") is None:
        return "bubblewrap is not installed (apt-get install bubblewrap)"
    try:
        seccomp.filter_bpf()
    except seccomp.SeccompUnavailable as exc:
        return str(exc)
    try:
        result = subprocess.run(["bwrap", "--unshare-all", "--ro-bind", "/usr", "/usr", "--symlink", "usr/bin", "/bin",
                                 "--symlink", "usr/lib", "/lib", "--symlink", "usr/lib64", "/lib64", "--", "/usr/bin/true"],
                                capture_output=True, timeout=20, preexec_fn=None)  # fmt: skip
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"bubblewrap did not run: {exc}"
    if result.returncode != 0:
        return f"bubblewrap cannot create namespaces here: {decode(result.stderr).strip()[:200]}"
    return ""


class BubblewrapSandbox(Sandbox):
    name = "bubblewrap"

    def __init__(self, interpreter: str = "/usr/bin/python3"):
        problem = _probe()
        if problem:
            raise SandboxUnavailable(problem)
        self.interpreter = interpreter

    def _bwrap_args(self, limits: SandboxLimits, file_fds: dict[str, int], seccomp_fd: int) -> list[str]:
        args = [
            "bwrap", "--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL",
            "--ro-bind", "/usr", "/usr", "--symlink", "usr/bin", "/bin", "--symlink", "usr/lib", "/lib",
            "--symlink", "usr/lib64", "/lib64", "--symlink", "usr/sbin", "/sbin",
            "--proc", "/proc", "--dev", "/dev",
            "--size", str(limits.disk_mb * 1024 * 1024), "--tmpfs", WORK_DIR,
            "--size", str(8 * 1024 * 1024), "--tmpfs", "/tmp",
            "--chdir", WORK_DIR, "--clearenv",
            "--setenv", "PATH", "/usr/bin", "--setenv", "HOME", WORK_DIR, "--setenv", "LANG", "C.UTF-8",
            "--seccomp", str(seccomp_fd),
        ]  # fmt: skip
        for name, fd in file_fds.items():
            parent = os.path.dirname(name)
            if parent:
                args += ["--dir", f"{WORK_DIR}/{parent}"]
            args += ["--file", str(fd), f"{WORK_DIR}/{name}"]
        return args

    def run(self, command, files=None, stdin=b"", limits=None) -> RunResult:
        limits = limits or SandboxLimits()
        stdin = stdin.encode() if isinstance(stdin, str) else stdin
        cgroup = CgroupRun.create(limits.memory_mb * 1024 * 1024, limits.max_processes)
        fds: list[int] = []
        try:
            file_fds = {}
            for name, content in (files or {}).items():
                if name.startswith("/") or ".." in Path(name).parts:
                    raise ValueError(f"sandbox file names are relative to the work dir: {name!r}")
                data = content.encode() if isinstance(content, str) else content
                with tempfile.TemporaryFile() as tmp:  # an fd that outlives the unlinked file
                    tmp.write(data)
                    tmp.flush()
                    fd = os.dup(tmp.fileno())
                os.lseek(fd, 0, os.SEEK_SET)
                fds.append(fd)
                file_fds[name] = fd
            seccomp_fd = seccomp.filter_fd()
            fds.append(seccomp_fd)
            argv = self._bwrap_args(limits, file_fds, seccomp_fd) + ["--", *command]
            if os.geteuid() == 0:
                argv = ["setpriv", f"--reuid={UNPRIVILEGED_UID}", f"--regid={UNPRIVILEGED_UID}", "--clear-groups", "--", *argv]
            # A shell enters the cgroup and sets rlimits before exec: nothing of the program
            # runs outside its limits, and no preexec_fn runs in a threaded parent.
            enter = "".join(f"echo $$ > {shlex.quote(str(p))} && " for p in (cgroup.procs_files if cgroup else []))
            rlimits = (f"ulimit -t {limits.cpu_time_s} && ulimit -f {limits.file_size_mb * 1024} && "
                       f"ulimit -n {limits.open_files} && ")  # fmt: skip
            if cgroup is None:  # no cgroup: the address-space rlimit is the memory bound
                rlimits += f"ulimit -v {limits.memory_mb * 1024 + 256 * 1024} && "
            shell = ["/bin/sh", "-c", enter + rlimits + 'exec "$@"', "sandbox", *argv]
            process = subprocess.Popen(shell, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                       pass_fds=fds, start_new_session=True, env={"PATH": "/usr/bin:/bin"})  # fmt: skip
            for fd in fds:
                os.close(fd)
            fds = []
            out, err, timed_out, exceeded, wall = communicate_bounded(process, stdin, limits)
            oom = cgroup is not None and cgroup.oom_killed()
        finally:
            for fd in fds:
                os.close(fd)
            if cgroup is not None:
                cgroup.destroy()
        code = process.returncode
        if timed_out:
            status, detail = "timeout", f"stopped after {limits.wall_time_s:g} s"
        elif exceeded:
            status, detail = "output_limit", f"output passed {limits.output_bytes} bytes"
        elif oom:
            status, detail = "memory", f"passed the {limits.memory_mb} MB memory limit"
        elif code in (152, -24) or (code == 137 and not oom and wall >= limits.cpu_time_s):
            status, detail = "timeout", f"passed the {limits.cpu_time_s} s CPU limit"
        elif code == 0:
            status, detail = "ok", ""
        else:
            status, detail = "crash", f"exit code {code}"
        return RunResult(status, code, decode(out), decode(err), wall, detail)
