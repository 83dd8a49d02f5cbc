"""Running one episode of an env against the rollout server.

The loop is the gymnasium one (observation -> completion -> ``step`` -> ...), on an
independent ``Episode`` so that many run concurrently. Scoring may block (a bounded
worker), so ``step`` runs in a thread and never stalls the event loop.

One reply never ends a job: an exception the env raises on a reply (in ``step``, ``score``
or copying the conversation) ends that episode with reward 0, outcome ``error`` and the
exception's one-line reason; a server refusing a later turn (the conversation outgrew the
context window) ends it as ``truncated``, scored on the turns so far.

With a thinking budget (``trainers.think``) each reply's reasoning is cut at the budget and
its answer generated as a continuation: a reply is then two ``Turn``s (reasoning, answer), the
first marked ``think_part`` (and ``think_forced`` when ``</think>`` was inserted).
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass, field
from typing import Any

from atropos_envs.core import Episode, TextEnv
from atropos_envs.remote import EnvServerUnavailable, RemoteEnvPool, RemoteEpisode
from trainers.client import Completion, RequestRejected, RolloutClient, SamplingParams
from trainers.think import ThinkBudget, budgeted_reply


@dataclass
class Turn:
    """One model turn: the prompt it saw (token ids), what it generated, with logprobs."""

    prompt_token_ids: list[int]
    token_ids: list[int]
    logprobs: list[float]
    finish_reason: str
    reward: float = 0.0  # what env.step returned for this turn (the episode score on the last)
    think_part: bool = False  # the reasoning of a budgeted reply; its answer is the next turn
    think_forced: bool = False  # that reasoning was cut at the budget and </think> inserted
    think_tokens: int = 0  # tokens of reasoning in this turn (counted under a thinking budget)


@dataclass
class Rollout:
    task_id: str
    sample_index: int
    messages: list[dict[str, str]]
    reward: float
    components: dict[str, float]
    reason: str
    terminated: bool
    truncated: bool
    turns: list[Turn] = field(default_factory=list)
    outcome: str = "ok"  # how the episode ended: one of atropos_envs.core.OUTCOMES

    @property
    def completion_tokens(self) -> int:
        return sum(len(t.token_ids) for t in self.turns)

    @property
    def hit_token_limit(self) -> bool:
        """A reply (an answer, under a thinking budget) was cut by its token limit."""
        return any(t.finish_reason == "length" and not t.think_part for t in self.turns)

    @property
    def think_forced(self) -> bool:
        """A reply's reasoning ran past the thinking budget (</think> was inserted)."""
        return any(t.think_forced for t in self.turns)

    @property
    def think_tokens(self) -> int:
        """Tokens of reasoning of the budgeted replies (0 without a budget)."""
        return sum(t.think_tokens for t in self.turns)

    def record(self, env_id: str, **metadata: Any) -> dict[str, Any]:
        """The episode as a ``messages`` record (what SFT outputs, sample files and a run's
        rollouts write), its score in ``metadata`` followed by the caller's fields."""
        return {
            "messages": self.messages,
            "metadata": {
                "env": env_id,
                "task_id": self.task_id,
                "sample_index": self.sample_index,
                "reward": self.reward,
                "components": self.components,
                "reason": self.reason,
                "outcome": self.outcome,
                "completion_tokens": self.completion_tokens,
                **metadata,
            },
        }

    @property
    def longest_reply(self) -> int:
        """Generated tokens of the longest reply (a budgeted one's reasoning and answer together)."""
        lengths, running = [], 0
        for turn in self.turns:
            running += len(turn.token_ids)
            if not turn.think_part:
                lengths.append(running)
                running = 0
        return max([*lengths, running])


def sample_seed(base_seed: int, task_id: str, sample_index: int) -> int:
    """A per-sample sampling seed that does not depend on scheduling or concurrency."""
    digest = hashlib.blake2b(f"{base_seed}:{task_id}:{sample_index}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") >> 33  # fits a signed 32-bit int, as servers expect


async def run_episode(
    env: TextEnv | RemoteEnvPool,
    task_id: str,
    *,
    sample_index: int,
    client: RolloutClient,
    sampling: SamplingParams,
    base_seed: int | None = 0,
    assistant_prefix: str = "",
    think_budget: ThinkBudget | None = None,
) -> Rollout:
    remote = isinstance(env, RemoteEnvPool)  # episodes on env servers: opening one is network I/O
    episode = await asyncio.to_thread(env.start, task_id) if remote else env.start(task_id)
    try:
        return await _play(
            episode,
            task_id,
            sample_index=sample_index,
            client=client,
            sampling=sampling,
            base_seed=base_seed,
            assistant_prefix=assistant_prefix,
            think_budget=think_budget,
        )
    finally:
        if remote:
            await asyncio.to_thread(episode.close)


async def _play(
    episode: Episode | RemoteEpisode,
    task_id: str,
    *,
    sample_index: int,
    client: RolloutClient,
    sampling: SamplingParams,
    base_seed: int | None,
    assistant_prefix: str,
    think_budget: ThinkBudget | None,
) -> Rollout:
    observation = episode.observation
    turns: list[Turn] = []
    info: dict[str, Any] = {}
    terminated = truncated = False
    replies = 0
    while not (terminated or truncated):
        seed = None if base_seed is None else sample_seed(base_seed, task_id, sample_index) + replies
        prefix = assistant_prefix if not replies else ""
        try:
            new_turns, text = await _reply(
                client, observation, sampling, think_budget, seed=seed, prefix=prefix
            )
        except RequestRejected as exc:
            if not replies:
                raise  # the task's own prompt is refused: a configuration problem, not a reply
            info = await asyncio.to_thread(_score_cut_short, episode, exc)
            truncated = True
            break
        turns += new_turns
        replies += 1
        try:
            observation, reward, terminated, truncated, info = await asyncio.to_thread(
                episode.step, prefix + text
            )
        except EnvServerUnavailable:
            raise  # no env server answers: the job stops (nothing is scored as a failure)
        except Exception as exc:  # the env failed on this reply: it scores 0, the job goes on
            info = {"reward": 0.0, "components": {}, "reason": env_error_reason(exc), "outcome": "error"}
            terminated, reward = True, 0.0
        turns[-1].reward = float(reward)
    return Rollout(
        task_id=task_id,
        sample_index=sample_index,
        messages=_messages(episode),
        reward=float(info["reward"]),
        components=dict(info["components"]),
        reason=str(info["reason"]),
        terminated=terminated,
        truncated=truncated,
        turns=turns,
        outcome=str(info.get("outcome", "ok")),
    )


async def _reply(
    client: RolloutClient,
    messages: list[dict[str, str]],
    sampling: SamplingParams,
    budget: ThinkBudget | None,
    *,
    seed: int | None,
    prefix: str,
) -> tuple[list[Turn], str]:
    """One assistant reply: its turns (two under a thinking budget) and its text."""
    if budget is None:
        (completion,) = await client.chat(messages, sampling, n=1, seed=seed, assistant_prefix=prefix)
        return [_turn(completion)], completion.text
    reply = await budgeted_reply(client, messages, sampling, budget, seed=seed, prefix=prefix)
    turns = [_turn(part) for part in reply.parts]
    turns[0].think_part = len(turns) == 2 or reply.forced
    turns[0].think_forced, turns[0].think_tokens = reply.forced, reply.think_tokens or 0
    return turns, reply.text


def env_error_reason(exc: BaseException) -> str:
    """One line: the env failed on this reply, with the exception's type and first line."""
    text = str(exc).strip().splitlines()
    detail = f": {text[0][:300]}" if text else ""
    return f"the env failed on this reply: {type(exc).__name__}{detail}"


def _score_cut_short(episode: Episode | RemoteEpisode, exc: RequestRejected) -> dict[str, Any]:
    """The info of an episode the server would not continue, scored on its turns so far."""
    why = f"the server refused the next turn ({str(exc)[:200]})"
    try:
        score = (
            episode.score_now()
            if isinstance(episode, RemoteEpisode)
            else episode.env.score(episode.trajectory)
        )
    except EnvServerUnavailable:
        raise
    except Exception as error:
        return {"reward": 0.0, "components": {}, "reason": env_error_reason(error), "outcome": "error"}
    return {
        "reward": score.reward,
        "components": dict(score.components),
        "reason": f"{score.reason}; {why}",
        "outcome": "truncated" if score.outcome == "ok" else score.outcome,
    }


def _messages(episode: Episode) -> list[dict[str, str]]:
    """The conversation, copied one message at a time (its values are strings): a deep copy of
    everything could be what failed."""
    return [dict(m) for m in episode.messages]


def _turn(completion: Completion) -> Turn:
    return Turn(
        completion.prompt_token_ids, completion.token_ids, completion.logprobs, completion.finish_reason
    )
