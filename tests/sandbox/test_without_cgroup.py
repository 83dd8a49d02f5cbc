"""The sandbox where no cgroup can be made (a non-root user, no delegated cgroup), simulated
by switching cgroups off: it refuses by default; with allow_unenforced it runs, every limit
but the total memory still holds, and each result says which limit did not."""

import time
import uuid
from pathlib import Path

import pytest

from atropos_envs.sandbox import LimitsUnenforced, SandboxLimits, get_sandbox
from atropos_envs.sandbox.bwrap import ALLOW_UNENFORCED, NO_CGROUP, BubblewrapSandbox
from tests.sandbox.test_attacks import FILL, FORKS, PY, _processes_with, filled

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def unenforced():
    return BubblewrapSandbox(use_cgroups=False, allow_unenforced=True)


def run(sandbox, code, **kwargs):
    return sandbox.run(PY, files={"main.py": code}, **kwargs)


def test_refuses_by_default_with_one_line_naming_the_fix(monkeypatch):
    monkeypatch.delenv(ALLOW_UNENFORCED, raising=False)
    with pytest.raises(LimitsUnenforced) as refused:
        BubblewrapSandbox(use_cgroups=False)
    message = str(refused.value)
    assert "\n" not in message and "memory limit" in message and f"{ALLOW_UNENFORCED}=1" in message
    monkeypatch.setenv(NO_CGROUP, "1")
    with pytest.raises(LimitsUnenforced, match=f"{NO_CGROUP}=1"):
        BubblewrapSandbox()
    with pytest.raises(LimitsUnenforced):  # and get_sandbox does not fall back to something weaker
        get_sandbox.__wrapped__("auto", allow_unsafe=False)


def test_the_cli_stops_with_one_line(tmp_path):
    from tests.trainers.test_cli import cli

    result = cli(
        "sample",
        "--env",
        "Code",
        "--server",
        "http://127.0.0.1:9",
        "--out",
        str(tmp_path / "o.jsonl"),
        env={NO_CGROUP: "1"},
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert f"cgroups are switched off ({NO_CGROUP}=1)" in result.stderr


def test_opting_in_records_the_unenforced_limit_in_every_result(unenforced):
    result = run(unenforced, "print('hi')")
    assert result.status == "ok" and result.stdout == "hi\n"
    assert result.unenforced == ("memory_mb",) and "memory limited per process only" in result.detail


def test_process_limit_holds_without_a_cgroup(unenforced):
    result = run(unenforced, FORKS, limits=SandboxLimits(max_processes=16))
    assert result.status == "ok", result.stderr
    made = int(result.stdout.split("forks ")[1])
    assert "refused 11" in result.stdout and made < 16, result.stdout  # EAGAIN; init and python count too


def test_disk_holds_without_a_cgroup(unenforced):
    result = run(unenforced, FILL, limits=SandboxLimits(disk_mb=16, tmp_mb=4, memory_mb=256))
    written = filled(result)
    assert written["/"] == written["/dev"] == 0 and written["/dev/shm"] <= 4 and written["/tmp"] <= 4, written
    assert written["/work"] <= 16


def test_one_process_cannot_pass_the_memory_limit(unenforced):
    code = "blocks = []\nwhile True: blocks.append(bytearray(16 * 1024 * 1024))"
    result = run(unenforced, code, limits=SandboxLimits(memory_mb=128))
    assert result.status == "crash" and "MemoryError" in result.stderr, (result.status, result.stderr[-300:])


def test_no_process_is_left_behind_without_a_cgroup(unenforced):
    marker = f"daemon-{uuid.uuid4().hex}"
    code = f"""
import os, subprocess
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.execv("/usr/bin/sleep", ["sleep", "300", "{marker}"])
    os._exit(0)
subprocess.Popen(["/usr/bin/sleep", "301", "{marker}"], start_new_session=True)
print("spawned")
"""
    result = run(unenforced, code)
    assert result.status == "ok", result.stderr
    time.sleep(0.3)
    assert _processes_with(marker) == []


def test_the_unsafe_opt_in_still_gets_bubblewrap(monkeypatch):
    monkeypatch.setenv(NO_CGROUP, "1")
    sandbox = get_sandbox.__wrapped__("auto", allow_unsafe=True)
    assert sandbox.name == "bubblewrap" and sandbox.run(["/usr/bin/true"]).unenforced == ("memory_mb",)
