"""Attacks on the sandbox, one per threat: each must fail inside and leave the host untouched."""

import os
import platform
import socket
import threading
import time
import uuid
from pathlib import Path

import pytest

from atropos_envs.sandbox import SandboxLimits, get_sandbox

PY = ["/usr/bin/python3", "-I", "main.py"]


@pytest.fixture(scope="module")
def sandbox():
    return get_sandbox("bubblewrap")


def run(sandbox, code, **kwargs):
    return sandbox.run(PY, files={"main.py": code}, **kwargs)


def test_runs_as_unprivileged_user_in_its_own_namespaces(sandbox):
    result = run(sandbox, "import os; print(os.getuid(), os.getgid(), os.getpid(), os.getcwd())")
    assert result.status == "ok", result.stderr
    uid, gid, pid, cwd = result.stdout.split()
    assert (uid, gid, cwd) == ("65534", "65534", "/work") and int(pid) < 10


def test_cannot_read_host_files_or_hidden_tests(sandbox, tmp_path):
    secret = tmp_path / "hidden_tests.py"
    secret.write_text("assert candidate(1) == 2  # hidden")
    secret.chmod(0o600)
    code = f"""
import os
here = {str(Path(__file__).resolve())!r}
for path in [{str(secret)!r}, "/root", "/etc/shadow", "/etc/passwd", here, "/home"]:
    try:
        print(path, "READ", (os.listdir(path) if os.path.isdir(path) else open(path).read())[:20])
    except OSError as exc:
        print(path, "DENIED", type(exc).__name__)
"""
    result = run(sandbox, code)
    assert result.status == "ok", result.stderr
    assert "READ" not in result.stdout, result.stdout


def test_cannot_write_outside_its_work_dir_and_nothing_persists(sandbox, tmp_path):
    marker = f"escape-{uuid.uuid4().hex}"
    code = f"""
import os
for path in ["/usr/{marker}", "/{marker}", "/tmp/{marker}", {str(tmp_path / marker)!r}]:
    try:
        open(path, "w").write("x"); print(path, "WROTE")
    except OSError as exc:
        print(path, "DENIED", type(exc).__name__)
open("left_behind.txt", "w").write("x")
"""
    result = run(sandbox, code)
    assert result.status == "ok", result.stderr
    assert (
        not (tmp_path / marker).exists()
        and not Path(f"/tmp/{marker}").exists()
        and not Path(f"/usr/{marker}").exists()
    )
    assert "/tmp/" in result.stdout  # the sandbox's own /tmp is private: writing there is harmless
    again = run(sandbox, "import os; print(os.path.exists('left_behind.txt'))")
    assert again.stdout.strip() == "False"


def test_no_network_not_even_loopback_or_vsock(sandbox):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    accepted = []
    threading.Thread(target=lambda: accepted.append(server.accept()), daemon=True).start()
    port = server.getsockname()[1]
    code = f"""
import socket
for family, target in [(socket.AF_INET, ("127.0.0.1", {port})), (40, None),
                       (socket.AF_INET6, ("::1", {port})),
                       (socket.AF_NETLINK, None), (socket.AF_PACKET, None)]:
    try:
        s = socket.socket(family, socket.SOCK_STREAM if family != socket.AF_NETLINK else socket.SOCK_RAW)
        if target: s.connect(target)
        print(family, "CONNECTED")
    except OSError as exc:
        print(family, "DENIED", exc.errno)
try:
    socket.getaddrinfo("pypi.org", 443); print("DNS RESOLVED")
except OSError:
    print("DNS DENIED")
"""
    result = run(sandbox, code)
    time.sleep(0.2)
    server.close()
    assert result.status == "ok", result.stderr
    assert "CONNECTED" not in result.stdout and "RESOLVED" not in result.stdout, result.stdout
    assert "40 DENIED 1" in result.stdout  # AF_VSOCK: refused by seccomp (EPERM)
    assert not accepted


def test_cannot_see_or_signal_host_processes(sandbox):
    host_pid = os.getpid()
    code = f"""
import os, signal
pids = [p for p in os.listdir("/proc") if p.isdigit()]
print("PIDS", len(pids))
try:
    os.kill({host_pid}, signal.SIGKILL); print("KILLED")
except OSError as exc:
    print("DENIED", type(exc).__name__)
"""
    result = run(sandbox, code)
    assert result.status == "ok", result.stderr
    assert "KILLED" not in result.stdout
    assert int(result.stdout.split("PIDS ")[1].split()[0]) <= 3


def test_fork_bomb_is_contained(sandbox):
    code = "import os\nwhile True:\n    try: os.fork()\n    except OSError: pass\n"
    started = time.monotonic()
    result = run(sandbox, code, limits=SandboxLimits(wall_time_s=3, max_processes=16))
    assert result.status in ("timeout", "crash", "memory")
    assert time.monotonic() - started < 15
    assert run(sandbox, "print('still fine')").stdout.strip() == "still fine"


def test_memory_exhaustion_is_stopped(sandbox):
    result = run(
        sandbox,
        "blocks = []\nwhile True: blocks.append(bytearray(16 * 1024 * 1024))",
        limits=SandboxLimits(memory_mb=128),
    )
    assert result.status == "memory", (result.status, result.detail, result.stderr[-300:])


FILL = """
import os
def fill(directory):
    written = 0
    try:
        for i in range(400):  # 1 MB files: under the file-size rlimit, so only the mount's size stops them
            with open(f"{directory}/fill{i}", "wb") as f:
                f.write(b"x" * 1024 * 1024)
            written += 1
    except OSError as exc:
        return f"{written} {exc.errno}"
    return f"{written} none"
for directory in ["/", "/tmp", "/dev", "/dev/shm", "/work", "/usr", "/proc"]:
    print(directory, fill(directory))
"""


def filled(result) -> dict[str, int]:
    """Megabytes each directory took before the write failed."""
    return {line.split()[0]: int(line.split()[1]) for line in result.stdout.splitlines()}


def test_disk_is_bounded_everywhere_it_can_be_written(sandbox):
    # each mount is a tmpfs of its own size; the root and /dev are read-only, so nothing else takes data
    result = run(sandbox, FILL, limits=SandboxLimits(disk_mb=16, tmp_mb=4, memory_mb=512))
    assert result.status == "ok", (result.stderr, result.detail)
    written = filled(result)
    assert written["/"] == written["/dev"] == written["/usr"] == written["/proc"] == 0, written
    assert written["/tmp"] <= 4 and written["/dev/shm"] <= 4 and written["/work"] <= 16, written
    assert written["/work"] >= 10  # the work dir is usable up to its size


def test_one_file_is_bounded_by_the_file_size_limit(sandbox):
    code = """
try:
    with open("big", "wb") as f:
        for _ in range(400): f.write(b"x" * 1024 * 1024)
    print("WROTE 400MB")
except OSError as exc:
    import os; print("STOPPED", exc.errno, os.path.getsize("big") // (1024 * 1024))
"""
    result = run(sandbox, code, limits=SandboxLimits(disk_mb=64, file_size_mb=8, memory_mb=256))
    assert "WROTE" not in result.stdout
    assert result.stdout.split() == ["STOPPED", "27", "8"], result.stdout  # EFBIG at exactly 8 MB


def test_infinite_loop_times_out(sandbox):
    result = run(sandbox, "while True: pass", limits=SandboxLimits(wall_time_s=1.0))
    assert result.status == "timeout" and result.wall_s < 5


def test_output_flood_is_cut(sandbox):
    result = run(
        sandbox,
        "import sys\nwhile True: sys.stdout.write('spam' * 1000)",
        limits=SandboxLimits(output_bytes=10_000),
    )
    assert result.status == "output_limit" and len(result.stdout) == 10_000


def _processes_with(marker: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker.encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                pass
    return found


def test_no_process_is_left_behind(sandbox):
    marker = f"daemon-{uuid.uuid4().hex}"
    code = f"""
import os, subprocess, sys
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.execv("/usr/bin/sleep", ["sleep", "300", "{marker}"])
    os._exit(0)
subprocess.Popen(["/usr/bin/sleep", "301", "{marker}"], start_new_session=True)
print("spawned")
"""
    result = run(sandbox, code)
    assert result.status == "ok", result.stderr
    time.sleep(0.3)
    assert _processes_with(marker) == []


def test_dangerous_syscalls_are_refused(sandbox):
    code = """
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
print("ptrace", libc.ptrace(16, 1, 0, 0), ctypes.get_errno())
print("unshare", libc.unshare(0x10000000), ctypes.get_errno())
print("mount", libc.mount(b"none", b"/work", b"tmpfs", 0, None), ctypes.get_errno())
"""
    result = run(sandbox, code)
    assert result.status == "ok", result.stderr
    assert result.stdout.split("\n")[:3] == ["ptrace -1 1", "unshare -1 1", "mount -1 1"], result.stdout


NAMESPACES = """
import ctypes, os, platform, subprocess, threading
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
CLONE = {"x86_64": 56, "aarch64": 220}[platform.machine()]
SIGCHLD, NEWUSER, NEWNET, NEWPID, NEWNS = 17, 0x10000000, 0x40000000, 0x20000000, 0x20000
def report(name, result):
    if result == 0:  # we are a child in a new namespace: the attack worked
        os._exit(0)
    print(name, "CREATED" if result > 0 else f"refused {ctypes.get_errno()}", flush=True)
FLAGS = [("user", NEWUSER), ("net", NEWNET), ("user+net", NEWUSER | NEWNET), ("pid+ns", NEWPID | NEWNS)]
for name, flags in FLAGS:
    report(f"clone-{name}", libc.syscall(CLONE, ctypes.c_ulong(flags | SIGCHLD), 0, 0, 0, 0))
    args = (ctypes.c_uint64 * 11)(flags, 0, 0, 0, SIGCHLD)  # struct clone_args: flags, ..., exit_signal
    report(f"clone3-{name}", libc.syscall(435, ctypes.byref(args), ctypes.c_size_t(88)))
    report(f"unshare-{name}", libc.unshare(flags))
if platform.machine() == "x86_64":  # the x32 ABI's numbers (bit 30 set) escape a filter for x86_64 only
    child = os.fork()
    if child == 0:
        report("x32-clone-user", libc.syscall(0x40000000 | 56, ctypes.c_ulong(NEWUSER | SIGCHLD), 0, 0, 0, 0))
        os._exit(0)
    print("x32", os.waitpid(child, 0)[1])
report("setns", libc.setns(os.open("/proc/self/ns/net", os.O_RDONLY), 0))
# ordinary threads and processes still work (libc falls back from clone3 to clone)
done = []
thread = threading.Thread(target=lambda: done.append(1)); thread.start(); thread.join()
child = os.fork()
if child == 0:
    os._exit(7)
code = subprocess.run(["/usr/bin/true"]).returncode
print("thread", done, "subprocess", code, "fork", os.waitstatus_to_exitcode(os.waitpid(child, 0)[1]))
"""


def test_namespace_creation_is_refused_by_every_call(sandbox):
    result = run(sandbox, NAMESPACES)
    assert result.status == "ok", result.stderr
    lines = result.stdout.splitlines()
    assert "CREATED" not in result.stdout, result.stdout
    for name in ("user", "net", "user+net", "pid+ns"):
        assert f"clone-{name} refused 1" in lines and f"unshare-{name} refused 1" in lines, result.stdout
        assert f"clone3-{name} refused 38" in lines, result.stdout  # ENOSYS
    assert "setns refused 1" in lines
    assert platform.machine() != "x86_64" or "x32 31" in lines, result.stdout  # killed by SIGSYS
    assert "thread [1] subprocess 0 fork 7" in lines, result.stdout


def test_host_kernel_facts_are_masked(sandbox):
    code = """
for name in ["cmdline", "version", "kallsyms", "modules", "keys", "iomem", "slabinfo"]:
    try:
        with open(f"/proc/{name}") as f:
            print(name, "READ", repr(f.read(200)))
    except OSError as exc:
        print(name, "DENIED", exc.errno)
"""
    result = run(sandbox, code)
    assert result.status == "ok", result.stderr
    assert "READ" not in result.stdout, result.stdout
    for name in ("cmdline", "version"):
        assert Path(f"/proc/{name}").read_text().strip()[:40] not in result.stdout


def test_host_environment_does_not_leak(sandbox, monkeypatch):
    monkeypatch.setenv("ATROPOS_TEST_SECRET_KEY", "sk-should-not-leak")
    result = run(sandbox, "import os; print(sorted(os.environ))")
    assert "ATROPOS_TEST_SECRET_KEY" not in result.stdout and "sk-should" not in result.stdout
    # bubblewrap (pid 1 inside) keeps the environment it was started with: not the host's cwd
    result = run(sandbox, "print(open('/proc/1/environ', 'rb').read())")
    assert result.status == "ok" and os.getcwd().encode() not in result.stdout.encode(), result.stdout


def test_file_names_cannot_escape_the_work_dir(sandbox):
    with pytest.raises(ValueError, match="relative to the work dir"):
        sandbox.run(["/usr/bin/true"], files={"../x": "y"})


FORKS = """
import os, time
made = 0
for _ in range(100):
    try:
        if os.fork() == 0:
            time.sleep(2); os._exit(0)
        made += 1
    except OSError as exc:
        print("refused", exc.errno)
        break
print("forks", made)
"""


def test_process_limit_holds(sandbox):
    result = run(sandbox, FORKS, limits=SandboxLimits(max_processes=16))
    assert result.status == "ok", result.stderr
    assert "refused 11" in result.stdout and int(result.stdout.split("forks ")[1]) < 16, result.stdout


@pytest.mark.parametrize("name", ["disk_mb", "tmp_mb", "max_processes", "memory_mb"])
def test_a_zero_limit_is_refused_not_unlimited(name):
    with pytest.raises(ValueError, match=f"SandboxLimits.{name} must be positive"):
        SandboxLimits(**{name: 0})


def test_cpu_time_limit_stops_a_busy_loop(sandbox):
    result = run(sandbox, "while True: pass", limits=SandboxLimits(cpu_time_s=1, wall_time_s=20))
    assert (result.status, result.detail) == ("timeout", "passed the 1 s CPU limit"), (
        result.status,
        result.detail,
    )


def test_text_that_is_not_valid_unicode_runs_instead_of_raising(sandbox):
    result = run(sandbox, "# \ud800\nprint(input())\n", stdin="\udcff\n")
    assert result.status == "ok" and result.stdout.strip() == "?", result.stderr
