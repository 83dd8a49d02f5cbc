"""Collecting each step's batch: a background thread that runs episodes against the servers.

``tasks_per_step`` tasks from the data position on, ``group_size`` episodes each. The thread
may run ahead of training by at most ``max_staleness`` weight versions (0: generate, then
train; 1: the next batch is sampled while this one trains); every sample records the version
that sampled it. Groups whose rewards are all equal are kept, dropped, or dropped and refilled
from the next tasks (``uniform_groups``). A server that restarted and lost the pushed weights
gets them again and the batch is sampled again with the same seeds.
"""

from __future__ import annotations

import asyncio
import queue
import threading
import time

import httpx

from trainers.batch import Batch, TokenMismatch, TokenSample, token_sample
from trainers.client import RequestRejected, RolloutClient, SamplingParams, ServerUnavailable
from trainers.config import TrainConfig
from trainers.rollout import run_episode
from trainers.rollout_log import rollout_record
from trainers.think import think_budget


def retrying(call, *args, timeout_s: float, urls: list[str]):
    """Weight pushes wait for a server that is restarting, up to ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return call(*args)
        except httpx.TransportError as exc:
            if time.monotonic() > deadline:
                raise ServerUnavailable(
                    f"no vLLM server answered for {timeout_s:.0f} s while pushing weights "
                    f"({', '.join(urls)}): {type(exc).__name__}"
                ) from None
            time.sleep(2.0)


def task_ids(env, count: int, position: int) -> list[str]:
    """``count`` task ids from ``position``; finite task files are cycled (epochs)."""
    ids = env.task_ids(count, position)
    if len(ids) < count:
        every = env.task_ids(None)
        if not every:
            raise ValueError("the env has no tasks to train on")
        ids = [every[(position + i) % len(every)] for i in range(count)]
    return ids


class Rollouts:
    """The producer thread and the weight version it may not run ahead of."""

    def __init__(
        self,
        *,
        env,
        urls: list[str],
        config: TrainConfig,
        sync,
        end_of_turn: int | None,
        step: int,
        position: int,
    ):
        self.env, self.urls, self.config, self.sync, self.end_of_turn = env, urls, config, sync, end_of_turn
        self.trained, self.position = step, position  # updates done; data position of the next batch
        self.changed = threading.Condition()
        self.batches: queue.Queue = queue.Queue()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._produce, daemon=True, name="rollouts")

    def __enter__(self) -> Rollouts:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.thread.join(timeout=5)

    def next(self) -> Batch:
        batch = self.batches.get()
        if isinstance(batch, BaseException):
            raise batch
        return batch

    def advance(self, publish) -> float:
        """Push the new weights and count the version, as one step for the producer."""
        with self.changed:
            seconds = retrying(publish, timeout_s=self.config.server_timeout_s, urls=self.urls)
            self.trained += 1
            self.changed.notify_all()
        return seconds

    def _produce(self) -> None:
        step, position = self.trained, self.position
        try:
            while step < self.config.steps and not self.stop.is_set():
                with self.changed:
                    while step - self.trained > self.config.max_staleness and not self.stop.is_set():
                        self.changed.wait(0.5)
                    version, served = self.trained, self.sync.served
                if self.stop.is_set():
                    return
                batch = self._collect_repairing(version, served, position)
                position = batch.next_position
                self.batches.put(batch)
                step += 1
        except BaseException as exc:  # handed to the training thread, which re-raises it
            self.batches.put(exc)

    def _collect_repairing(self, version: int, served: str, position: int, attempts: int = 3) -> Batch:
        for attempt in range(1, attempts + 1):
            retrying(self.sync.ensure, timeout_s=self.config.server_timeout_s, urls=self.urls)
            try:
                return asyncio.run(self._collect(version, served, position))
            except RequestRejected:  # the adapter is unknown: the server restarted
                if attempt == attempts:
                    raise

    async def _collect(self, version: int, served: str, position: int) -> Batch:
        c = self.config
        started, first = time.monotonic(), position
        sampling = SamplingParams(max_tokens=c.max_tokens, temperature=c.temperature)
        budget = think_budget(c.think_budget, c.answer_budget, c.max_tokens)
        samples: list[TokenSample] = []
        trained: list[bool] = []
        dropped = lost = groups_kept = 0
        records: list[dict] = []
        async with RolloutClient(self.urls, model=served, give_up_after_s=c.server_timeout_s) as client:
            while groups_kept < c.tasks_per_step:
                ids = task_ids(self.env, c.tasks_per_step - groups_kept, position)
                episodes = [
                    run_episode(
                        self.env,
                        task_id,
                        sample_index=i,
                        client=client,
                        sampling=sampling,
                        base_seed=c.seed + position + n,
                        assistant_prefix=c.assistant_prefix,
                        think_budget=budget,
                    )
                    for n, task_id in enumerate(ids)
                    for i in range(c.group_size)
                ]
                rollouts = await asyncio.gather(*episodes)
                for n in range(len(ids)):
                    group = []
                    for rollout in rollouts[n * c.group_size : (n + 1) * c.group_size]:
                        try:
                            group.append(token_sample(rollout, str(position + n), version, self.end_of_turn))
                        except TokenMismatch:
                            lost += 1
                    uniform = len({s.reward for s in group}) <= 1
                    keep = not uniform or c.uniform_groups == "keep"
                    dropped += int(uniform and not keep)
                    groups_kept += int(keep or c.uniform_groups != "refill")
                    samples += group
                    trained += [keep] * len(group)
                    if len(records) < c.rollouts_per_step:  # shown by atropos-envs view (whole groups first)
                        records += [
                            rollout_record(r, env_id=c.env_id, kept=keep, version=version)
                            for r in rollouts[n * c.group_size : (n + 1) * c.group_size]
                        ][: c.rollouts_per_step - len(records)]
                position += len(ids)
                if c.uniform_groups != "refill" or position - first >= 4 * c.tasks_per_step:
                    break  # refill gives up after 4 batches' worth of tasks
        return Batch(version, position, samples, trained, dropped, lost, time.monotonic() - started, records)
