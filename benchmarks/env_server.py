"""One env server under 256 concurrent sessions vs the same env in-process.

    python -m benchmarks.env_server [--sessions 256] [--format-episodes 512] [--code-episodes 256]

For Format-v0 and Code-v0: an ``atropos-envs env-server`` process on a loopback port, and 256
WebSocket sessions (one coroutine each, in this process) playing a bounded number of episodes
in all, one at a time per session: reset to a task, step with the env's honest reference
answer. Reported: episodes/s and p50/p99 step latency (step sent -> reply read). In-process
baseline: the same episodes through ``env.start``/``Episode.step`` in threads
(``asyncio.to_thread``, 256 in flight), as the drivers run them. Every reply is checked:
its request id, its task, the reply text inside the conversation and the full reward, so a
lost or mixed-up episode fails the run. Results are appended to results/env_server.md with the CPU.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import gymnasium as gym
import httpx
from websockets.asyncio.client import connect

import atropos_envs  # noqa: F401 - registers the envs
from atropos_envs.tasks import GeneratedTasks
from trainers.machine import cpu_summary

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).resolve().parent / "results" / "env_server.md"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _work(env, episodes: int) -> list[tuple[str, str]]:
    """(task id, reference answer) for each episode, over the env's tasks with answers."""
    pool = []
    for task_id in env.task_ids(256 if isinstance(env.tasks, GeneratedTasks) else None):
        answer = env.reference_answer(env.get_task(task_id))
        if answer:
            pool.append((task_id, answer[0]))
        if len(pool) == 64:
            break
    return [pool[i % len(pool)] for i in range(episodes)]


async def _remote(port: int, work: list[tuple[str, str]], sessions: int) -> tuple[float, list[float]]:
    queue: asyncio.Queue = asyncio.Queue()
    for index, item in enumerate(work):
        queue.put_nowait((index, *item))
    latencies: list[float] = []
    done = set()

    async def session() -> None:
        async with connect(f"ws://127.0.0.1:{port}/ws", max_size=None) as conn:
            while not queue.empty():
                index, task_id, answer = queue.get_nowait()
                await conn.send(
                    json.dumps({"type": "reset", "data": {"task_id": task_id}, "request_id": index})
                )
                reply = json.loads(await conn.recv())
                assert reply.get("request_id") == index and reply["type"] == "observation", reply
                started = time.perf_counter()
                await conn.send(
                    json.dumps({"type": "step", "data": {"text": answer}, "request_id": -index - 1})
                )
                reply = json.loads(await conn.recv())
                latencies.append(time.perf_counter() - started)
                data = reply["data"]
                assert reply["request_id"] == -index - 1 and data["metadata"]["task_id"] == task_id, reply
                assert data["observation"]["messages"][-1]["content"] == answer, f"episode {index} mixed up"
                assert data["done"] and data["reward"] == 1.0, (
                    f"episode {index}: {data['metadata']['reason']}"
                )
                done.add(index)

    started = time.perf_counter()
    await asyncio.gather(*(session() for _ in range(sessions)))
    wall = time.perf_counter() - started
    assert done == set(range(len(work))), f"{len(work) - len(done)} episodes lost"
    return wall, latencies


async def _in_process(env, work: list[tuple[str, str]], sessions: int) -> tuple[float, list[float]]:
    slots = asyncio.Semaphore(sessions)
    latencies: list[float] = []

    async def one(task_id: str, answer: str) -> None:
        async with slots:
            episode = env.start(task_id)
            started = time.perf_counter()
            _, reward, terminated, _, info = await asyncio.to_thread(episode.step, answer)
            latencies.append(time.perf_counter() - started)
            assert terminated and reward == 1.0 and info["task_id"] == task_id, info["reason"]

    started = time.perf_counter()
    await asyncio.gather(*(one(*item) for item in work))
    return time.perf_counter() - started, latencies


def _serve(env: str, sessions: int) -> tuple[subprocess.Popen, int]:
    port = _free_port()
    cmd = [sys.executable, "-m", "trainers.cli", "env-server", "--env", env, "--port", str(port)]
    cmd += ["--max-sessions", str(sessions)]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                return proc, port
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline or proc.poll() is not None:
            proc.kill()
            raise SystemExit(f"the env server for {env} did not start")
        time.sleep(0.2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=256)
    parser.add_argument("--format-episodes", type=int, default=512)
    parser.add_argument("--code-episodes", type=int, default=256)
    args = parser.parse_args()
    rows = []
    for name, episodes in (("Format", args.format_episodes), ("Code", args.code_episodes)):
        env = gym.make(f"atropos_envs/{name}-v0").unwrapped
        work = _work(env, episodes)
        proc, port = _serve(name, args.sessions)
        try:
            remote = asyncio.run(_remote(port, work, args.sessions))
        finally:
            proc.terminate()
            proc.wait(timeout=30)
        local = asyncio.run(_in_process(env, work, args.sessions))
        for where, (wall, lat) in (("env server", remote), ("in-process", local)):
            row = (
                name,
                where,
                episodes,
                len(work) / wall,
                statistics.median(lat) * 1e3,
                _percentile(lat, 0.99) * 1e3,
            )
            rows.append(row)
            print(
                f"{name}-v0 {where:<11} {episodes} episodes: {row[3]:.1f} episodes/s, "
                f"step p50 {row[4]:.1f} ms, p99 {row[5]:.1f} ms"
            )
    load = os.getloadavg()[0]
    if not RESULTS.exists():
        RESULTS.write_text(
            "# Env server under concurrent sessions (`python -m benchmarks.env_server`)\n\n"
            "| date | machine | env | where | sessions | episodes | episodes/s | step p50 ms | step p99 ms |"
            " load avg |\n|---|---|---|---|---|---|---|---|---|---|\n"
        )
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M")
    machine = f"{cpu_summary()}; {os.cpu_count()} cores"
    with RESULTS.open("a") as f:
        for name, where, episodes, rate, p50, p99 in rows:
            f.write(
                f"| {stamp} | {machine} | {name}-v0 | {where} | {args.sessions} | {episodes} | {rate:.1f} | "
                f"{p50:.1f} | {p99:.1f} | {load:.1f} |\n"
            )
    print(f"appended to {RESULTS}")


if __name__ == "__main__":
    main()
