"""Env servers in the drivers, end to end: `sample --env Code --env-server URL1 --env-server URL2`
against the real vLLM server writes the records an in-process run writes, and an env server
killed mid-run (SIGKILL) loses nothing: its episodes are replayed on the other one."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import gymnasium as gym
import httpx
import pytest

import atropos_envs  # noqa: F401 - registers the envs
from atropos_envs.remote import RemoteEnvPool
from trainers.client import RolloutClient, SamplingParams
from trainers.rejection_sampling import SamplingJob, run_job

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
TASKS, N, MAX_TOKENS = 3, 2, 48  # 6 episodes a run: small, and every sample is kept (--keep 0)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def env_servers(tmp_path):
    """Two `atropos-envs env-server --env Code` processes on loopback ports."""
    procs, urls = [], []
    for i in range(2):
        port = _free_port()
        log = open(tmp_path / f"env-server-{i}.log", "w")  # noqa: SIM115 - closed below
        cmd = [sys.executable, "-m", "trainers.cli", "env-server", "--env", "Code", "--port", str(port)]
        procs.append((subprocess.Popen(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT), log))
        urls.append(f"http://127.0.0.1:{port}")
    deadline = time.monotonic() + 90
    for url in urls:
        while True:
            try:
                if httpx.get(url + "/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, f"env server {url} did not start: see {tmp_path}"
            time.sleep(0.2)
    yield urls, [p for p, _ in procs]
    for proc, log in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
        log.close()


def _job() -> SamplingJob:
    return SamplingJob(
        env_id="atropos_envs/Code-v0",
        num_tasks=TASKS,
        samples_per_task=N,
        keep_per_task=0,
        sampling=SamplingParams(max_tokens=MAX_TOKENS),
        model="external",
    )


def _records(path: Path) -> list[dict]:
    records = [json.loads(line) for line in path.read_text().splitlines()]
    return sorted(records, key=lambda r: (r["metadata"]["task_id"], r["metadata"]["sample_index"]))


def _same_as_in_process(records: list[dict], expected: list[dict], env) -> None:
    """The records an in-process run writes: the same samples; where vLLM produced the same text
    (its sampling is seeded, but batch composition can tip a near-tie token on CPU), the very same
    record; and everywhere, the verdict the in-process env gives when the reply is replayed."""
    key = [(r["metadata"]["task_id"], r["metadata"]["sample_index"]) for r in records]
    assert key == [(r["metadata"]["task_id"], r["metadata"]["sample_index"]) for r in expected]
    same_text = [got == want for got, want in zip(records, expected) if got["messages"] == want["messages"]]
    assert same_text and all(same_text), "a record with the in-process text must be the in-process record"
    for record in records:
        episode = env.start(record["metadata"]["task_id"])
        info = {}
        for message in record["messages"][len(episode.messages) :]:
            if message["role"] == "assistant":
                _, _, _, _, info = episode.step(message["content"])
        assert episode.messages == record["messages"]
        verdict = {k: record["metadata"][k] for k in ("reward", "components", "reason", "outcome")}
        assert verdict == {k: info[k] for k in verdict}


def _run(job: SamplingJob, env, url: str, out: Path) -> dict:
    async def go():
        async with RolloutClient([url], model=None) as client:
            return await run_job(job, env, client, out)

    return asyncio.run(go())


def test_sample_on_two_env_servers_writes_the_in_process_records_and_survives_a_kill(
    vllm_server, env_servers, tmp_path
):
    urls, procs = env_servers
    local = tmp_path / "local.jsonl"
    summary = _run(_job(), gym.make("atropos_envs/Code-v0").unwrapped, vllm_server.url, local)
    assert summary["samples"] == TASKS * N
    expected = _records(local)

    remote = tmp_path / "remote.jsonl"
    cmd = [sys.executable, "-m", "trainers.cli", "sample", "--env", "Code", "--out", str(remote)]
    cmd += ["--num-tasks", str(TASKS), "--n", str(N), "--keep", "0", "--max-tokens", str(MAX_TOKENS)]
    cmd += ["--server", vllm_server.url, "--env-server", urls[0], "--env-server", urls[1]]
    done = subprocess.run(
        cmd, cwd=ROOT, capture_output=True, text=True, timeout=300, env=os.environ | {"COLUMNS": "200"}
    )
    assert done.returncode == 0, done.stderr[-2000:]
    env = gym.make("atropos_envs/Code-v0").unwrapped
    _same_as_in_process(_records(remote), expected, env)
    served = [httpx.get(url + "/info").json()["sessions_served"] for url in urls]
    assert min(served) > 0, f"both servers take episodes (least loaded first): {served}"

    # one env server SIGKILLed while episodes are open on it: they are replayed on the other
    pool = RemoteEnvPool(urls, give_up_after_s=60)
    killed = tmp_path / "killed.jsonl"

    async def kill_when_busy():
        while pool.load()[urls[0]] == 0:
            await asyncio.sleep(0.01)
        await asyncio.sleep(1.0)  # its episodes are open (reset done) and wait on generation
        procs[0].kill()

    async def go():
        killer = asyncio.ensure_future(kill_when_busy())
        async with RolloutClient([vllm_server.url], model=None) as client:
            summary = await run_job(_job(), pool, client, killed)
        await killer
        return summary

    summary = asyncio.run(go())
    assert procs[0].wait(timeout=10) == -signal.SIGKILL
    assert summary["samples"] == TASKS * N and pool.replays > 0
    _same_as_in_process(_records(killed), expected, env)
