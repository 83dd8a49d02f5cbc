"""Attacks on the sandbox, one per threat: each must fail inside and leave the host untouched."""

import os
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
for path in [{str(secret)!r}, "/root", "/etc/shadow", "/etc/passwd", {str(Path(__file__).resolve())!r}, "/home"]:
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
    assert not (tmp_path / marker).exists() and not Path(f"/tmp/{marker}").exists() and not Path(f"/usr/{marker}").exists()
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
for family, target in [(socket.AF_INET, ("127.0.0.1", {port})), (40, None), (socket.AF_INET6, ("::1", {port})),
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
    result = run(sandbox, "blocks = []\nwhile True: blocks.append(bytearray(16 * 1024 * 1024))",
                 limits=SandboxLimits(memory_mb=128))  # fmt: skip
    assert result.status == "memory", (result.status, result.detail, result.stderr[-300:])


def test_disk_exhaustion_is_stopped(sandbox):
    code = """
import os
try:
    with open("big", "wb") as f:
        for _ in range(400): f.write(b"x" * 1024 * 1024)
    print("WROTE 400MB")
except OSError as exc:
    print("STOPPED", exc.errno)
"""
    result = run(sandbox, code, limits=SandboxLimits(disk_mb=32, memory_mb=256))
    assert "WROTE" not in result.stdout
    assert result.status in ("ok", "crash", "memory")  # ENOSPC/EFBIG, or SIGXFSZ


def test_infinite_loop_times_out(sandbox):
    result = run(sandbox, "while True: pass", limits=SandboxLimits(wall_time_s=1.0))
    assert result.status == "timeout" and result.wall_s < 5


def test_output_flood_is_cut(sandbox):
    result = run(sandbox, "import sys\nwhile True: sys.stdout.write('spam' * 1000)", limits=SandboxLimits(output_bytes=10_000))
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


def test_host_environment_does_not_leak(sandbox, monkeypatch):
    monkeypatch.setenv("ATROPOS_TEST_SECRET_KEY", "sk-should-not-leak")
    result = run(sandbox, "import os; print(sorted(os.environ))")
    assert "ATROPOS_TEST_SECRET_KEY" not in result.stdout and "sk-should" not in result.stdout


def test_file_names_cannot_escape_the_work_dir(sandbox):
    with pytest.raises(ValueError, match="relative to the work dir"):
        sandbox.run(["/usr/bin/true"], files={"../x": "y"})
