"""The default backend on Linux machines without a container daemon: bubblewrap.

Layers, outermost first:
- a cgroup per run: the memory limit for all processes together (tmpfs pages included),
  a process limit, and every process killed at the end;
- when we are root, a switch to an unprivileged uid (65534) before bubblewrap starts;
- bubblewrap: new user, pid, net, ipc, uts and mount namespaces and no further user
  namespaces; a read-only root and /dev, only /usr of the host (read-only), /proc of the
  new pid namespace with kernel-identifying files masked, and three size-limited tmpfs
  mounts as the only writable places (the work dir, /tmp, /dev/shm); the sandbox dies
  with its parent, and everything in its pid namespace dies with it;
- rlimits, set by prlimit inside, just before the program: CPU seconds, file size and open
  files per process, and the process count (RLIMIT_NPROC), which inside counts only this
  run's user namespace;
- seccomp: no sockets but AF_UNIX (this also stops AF_VSOCK, which network namespaces do
  not isolate), no ptrace, mounts, namespaces (clone3 is refused, clone with CLONE_NEW*
  flags too), io_uring, bpf, keyrings.

Without a cgroup (no root and no delegated cgroup, or ATROPOS_SANDBOX_NO_CGROUP=1) the
memory limit holds per process only (RLIMIT_AS), so the sandbox refuses to start unless
built with allow_unenforced=True (or ATROPOS_SANDBOX_ALLOW_UNENFORCED=1); each result of
such a run lists ``memory_mb`` in ``unenforced``.
"""

from __future__ import annotations

import functools
import os
import shlex
import shutil
import stat
import subprocess
import tempfile
from pathlib import Path

from atropos_envs.sandbox import seccomp
from atropos_envs.sandbox.base import (
    LimitsUnenforced,
    RunResult,
    Sandbox,
    SandboxLimits,
    SandboxUnavailable,
    communicate_bounded,
    decode,
    encode,
)
from atropos_envs.sandbox.cgroups import CgroupRun, CgroupUnavailable

UNPRIVILEGED_UID = 65534
WORK_DIR = "/work"
NO_CGROUP = "ATROPOS_SANDBOX_NO_CGROUP"
ALLOW_UNENFORCED = "ATROPOS_SANDBOX_ALLOW_UNENFORCED"
# host facts a program has no business reading (kernel build, boot line, symbols, memory maps)
MASKED_PROC = (
    "cmdline",
    "version",
    "kallsyms",
    "kcore",
    "keys",
    "key-users",
    "modules",
    "config.gz",
    "iomem",
    "ioports",
    "slabinfo",
    "vmallocinfo",
    "timer_list",
    "sched_debug",
    "latency_stats",
    "kpagecount",
    "kpageflags",
    "kpagecgroup",
    "pagetypeinfo",
    "mtrr",
    "sysrq-trigger",
)
_NAMESPACES = ["--unshare-all", "--unshare-user", "--disable-userns"]
_USR = [
    "--ro-bind",
    "/usr",
    "/usr",
    "--symlink",
    "usr/bin",
    "/bin",
    "--symlink",
    "usr/lib",
    "/lib",
    "--symlink",
    "usr/lib64",
    "/lib64",
    "--symlink",
    "usr/sbin",
    "/sbin",
]


def _probe() -> str:
    """Why bubblewrap cannot run here ("" when it can)."""
    for tool, package in (("bwrap", "bubblewrap"), ("prlimit", "util-linux"), ("setpriv", "util-linux")):
        if shutil.which(tool) is None:
            return f"{package} is not installed (apt-get install {package})"
    try:
        seccomp.filter_bpf()
    except seccomp.SeccompUnavailable as exc:
        return str(exc)
    try:
        result = subprocess.run(
            ["bwrap", *_NAMESPACES, *_USR, "--", "/usr/bin/true"], capture_output=True, timeout=20
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"bubblewrap did not run: {exc}"
    if result.returncode != 0:
        return f"bubblewrap cannot create namespaces here: {decode(result.stderr).strip()[:200]}"
    return ""


def _refusal(problem: str) -> str:
    return (
        f"{problem}: the sandbox's memory limit would hold per process only, not in total; run as root "
        "or in a delegated cgroup (systemd-run --user --scope -p Delegate=yes ...), or set "
        f"{ALLOW_UNENFORCED}=1 (allow_unenforced=True) to run anyway with this recorded in each result"
    )


@functools.cache
def _masks() -> list[str]:
    """Binds over the files of MASKED_PROC that others may read (the rest are root's alone,
    and the sandbox's root is not the host's)."""
    masks = []
    for name in MASKED_PROC:
        try:
            if os.stat(f"/proc/{name}").st_mode & (stat.S_IROTH | stat.S_IWOTH):
                masks += ["--ro-bind", "/dev/null", f"/proc/{name}"]
        except OSError:
            pass
    return masks


class BubblewrapSandbox(Sandbox):
    name = "bubblewrap"

    def __init__(
        self,
        interpreter: str = "/usr/bin/python3",
        *,
        allow_unenforced: bool | None = None,
        use_cgroups: bool | None = None,
    ):
        problem = _probe()
        if problem:
            raise SandboxUnavailable(problem)
        self.interpreter = interpreter
        self.allow_unenforced = (
            os.environ.get(ALLOW_UNENFORCED) == "1" if allow_unenforced is None else allow_unenforced
        )
        self.use_cgroups = os.environ.get(NO_CGROUP) != "1" if use_cgroups is None else use_cgroups
        if self.use_cgroups:
            try:
                CgroupRun.create(64 * 1024 * 1024, 8).destroy()
                self.cgroup_problem = ""
            except CgroupUnavailable as exc:
                self.cgroup_problem = str(exc)
        else:
            self.cgroup_problem = f"cgroups are switched off ({NO_CGROUP}=1)"
        if self.cgroup_problem and not self.allow_unenforced:
            raise LimitsUnenforced(_refusal(self.cgroup_problem))

    def _bwrap_args(self, limits: SandboxLimits, file_fds: dict[str, int], seccomp_fd: int) -> list[str]:
        mb = 1024 * 1024
        args = [
            "bwrap",
            *_NAMESPACES,
            "--die-with-parent",
            "--new-session",
            "--cap-drop",
            "ALL",
            *_USR,
            "--proc",
            "/proc",
            *_masks(),
            "--dev",
            "/dev",
            "--size",
            str(limits.tmp_mb * mb),
            "--tmpfs",
            "/dev/shm",
            "--remount-ro",
            "/dev",
            "--size",
            str(limits.disk_mb * mb),
            "--tmpfs",
            WORK_DIR,
            "--size",
            str(limits.tmp_mb * mb),
            "--tmpfs",
            "/tmp",
        ]
        for name, fd in file_fds.items():
            parent = os.path.dirname(name)
            if parent:
                args += ["--dir", f"{WORK_DIR}/{parent}"]
            args += ["--file", str(fd), f"{WORK_DIR}/{name}"]
        return args + [
            "--remount-ro",
            "/",
            "--chdir",
            WORK_DIR,
            "--clearenv",
            "--setenv",
            "PATH",
            "/usr/bin",
            "--setenv",
            "HOME",
            WORK_DIR,
            "--setenv",
            "LANG",
            "C.UTF-8",
            "--seccomp",
            str(seccomp_fd),
        ]

    def _argv(
        self, command: list[str], limits: SandboxLimits, cgroup: CgroupRun | None, bwrap: list[str]
    ) -> list[str]:
        """A shell enters the cgroup, then bubblewrap; inside it, prlimit sets the rlimits, the
        process count among them, which counts only this run's user namespace there. Nothing
        of the program runs outside its limits, and no preexec_fn runs in a threaded parent."""
        mb = 1024 * 1024
        rlimits = [
            f"--cpu={limits.cpu_time_s}",
            f"--fsize={limits.file_size_mb * mb}",
            f"--nofile={limits.open_files}",
            f"--nproc={limits.max_processes}",
        ]
        if cgroup is None:  # no cgroup: the address-space rlimit is the (per-process) memory bound
            rlimits.append(f"--as={(limits.memory_mb + 256) * mb}")
        argv = [*bwrap, "--", "/usr/bin/prlimit", *rlimits, "--", *command]
        if os.geteuid() == 0:
            argv = [
                "setpriv",
                f"--reuid={UNPRIVILEGED_UID}",
                f"--regid={UNPRIVILEGED_UID}",
                "--clear-groups",
                "--",
                *argv,
            ]
        enter = "".join(
            f"echo $$ > {shlex.quote(str(p))} && " for p in (cgroup.procs_files if cgroup else [])
        )
        return ["/bin/sh", "-c", enter + 'exec "$@"', "sandbox", *argv]

    def _cgroup(self, limits: SandboxLimits) -> CgroupRun | None:
        if not self.use_cgroups:
            return None
        try:
            return CgroupRun.create(limits.memory_mb * 1024 * 1024, limits.max_processes)
        except CgroupUnavailable as exc:
            if not self.allow_unenforced:
                raise LimitsUnenforced(_refusal(str(exc))) from None
            return None

    def run(self, command, files=None, stdin=b"", limits=None) -> RunResult:
        limits = limits or SandboxLimits()
        stdin = encode(stdin)
        for name in files or {}:
            if name.startswith("/") or ".." in Path(name).parts:
                raise ValueError(f"sandbox file names are relative to the work dir: {name!r}")
        cgroup = self._cgroup(limits)
        fds: list[int] = []
        try:
            file_fds = {}
            for name, content in (files or {}).items():
                data = encode(content)
                with tempfile.TemporaryFile() as tmp:  # an fd that outlives the unlinked file
                    tmp.write(data)
                    tmp.flush()
                    fd = os.dup(tmp.fileno())
                os.lseek(fd, 0, os.SEEK_SET)
                fds.append(fd)
                file_fds[name] = fd
            seccomp_fd = seccomp.filter_fd()
            fds.append(seccomp_fd)
            argv = self._argv(command, limits, cgroup, self._bwrap_args(limits, file_fds, seccomp_fd))
            pipe = subprocess.PIPE
            process = subprocess.Popen(
                argv,
                stdin=pipe,
                stdout=pipe,
                stderr=pipe,
                pass_fds=fds,
                start_new_session=True,
                env={"PATH": "/usr/bin:/bin"},
                cwd="/",  # the shell exports PWD, which bubblewrap's /proc/1/environ shows inside
            )
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
        unenforced = () if cgroup is not None else ("memory_mb",)
        if unenforced:
            detail = f"{detail}; memory limited per process only (no cgroup)".lstrip("; ")
        return RunResult(status, code, decode(out), decode(err), wall, detail, unenforced=unenforced)
