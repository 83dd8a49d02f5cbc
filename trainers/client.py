"""The rollout client: async chat completions from one or more vLLM servers.

Many requests stay in flight; each goes to the server with the fewest in flight; transient
failures (connection refused, timeouts, 5xx, 429) are retried with backoff on any server,
and only when no server has answered for ``give_up_after_s`` does a request fail, with one
line saying which servers and why. Completions carry the text, the generated token ids
and their sampling logprobs (vLLM's ``return_token_ids`` extension), which the trainers use.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass
from typing import Any

import httpx

from trainers.config import setting


class ServerUnavailable(RuntimeError):
    """No server answered within the retry budget."""


class RequestRejected(RuntimeError):
    """The server refused the request itself (4xx): retrying will not help."""


@dataclass
class SamplingParams:
    max_tokens: int = setting(256, "token budget per sample")
    temperature: float = setting(0.8, "sampling temperature")
    top_p: float = setting(1.0, "nucleus sampling: smallest token set with this probability mass")
    stop: list[str] = setting([], "strings that end a reply", cli=False)

    def as_dict(self) -> dict[str, Any]:
        return {
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
            "top_p": self.top_p,
            "stop": self.stop,
        }


@dataclass
class Completion:
    text: str
    finish_reason: str
    token_ids: list[int]
    logprobs: list[float]
    prompt_token_ids: list[int]
    stop_reason: str | int | None = None  # the stop string or token id that ended it (vLLM)

    @property
    def truncated(self) -> bool:
        return self.finish_reason == "length"


@dataclass
class _Server:
    url: str
    in_flight: int = 0
    down_until: float = 0.0


def chat_body(
    model: str | None,
    messages: list[dict[str, str]],
    sampling: SamplingParams,
    n: int = 1,
    seed: int | None = None,
    assistant_prefix: str = "",
) -> dict[str, Any]:
    """The /v1/chat/completions request the rollout client sends: sampling logprobs and
    token ids on; with assistant_prefix the reply is forced to continue that text."""
    body: dict[str, Any] = {
        "model": model,
        "messages": messages,
        "n": n,
        **sampling.as_dict(),
        "logprobs": True,
        "top_logprobs": 0,
        "return_token_ids": True,
    }
    if seed is not None:
        body["seed"] = seed
    if assistant_prefix:
        body["messages"] = [*messages, {"role": "assistant", "content": assistant_prefix}]
        body.update(add_generation_prompt=False, continue_final_message=True)
    return body


class RolloutClient:
    def __init__(
        self,
        urls: list[str],
        model: str | None = None,
        max_in_flight: int = 64,
        request_timeout_s: float = 600.0,
        give_up_after_s: float = 120.0,
    ):
        if not urls:
            raise ValueError("at least one server URL is needed")
        self.servers = [_Server(u.rstrip("/").removesuffix("/v1")) for u in urls]
        self.model = model
        self.give_up_after_s = give_up_after_s
        self._slots = asyncio.Semaphore(max_in_flight)
        self._http = httpx.AsyncClient(
            timeout=httpx.Timeout(request_timeout_s, connect=10.0),
            limits=httpx.Limits(max_connections=max_in_flight + 8, max_keepalive_connections=max_in_flight),
        )

    async def __aenter__(self) -> RolloutClient:
        if self.model is None:
            self.model = await self.served_model()
        return self

    async def __aexit__(self, *exc_info) -> None:
        await self._http.aclose()

    async def served_model(self) -> str:
        data = await self._request("GET", "/v1/models", None)
        return data["data"][0]["id"]

    def _pick(self) -> _Server:
        now = time.monotonic()
        up = [s for s in self.servers if s.down_until <= now] or self.servers
        return min(up, key=lambda s: (s.in_flight, s.down_until))

    async def _request(self, method: str, path: str, body: dict | None) -> dict:
        started, attempt, last_error = time.monotonic(), 0, ""
        while True:
            server = self._pick()
            server.in_flight += 1
            try:
                response = await self._http.request(method, server.url + path, json=body)
                if response.status_code < 400:
                    return response.json()
                if response.status_code in (429,) or response.status_code >= 500:
                    last_error = f"HTTP {response.status_code} from {server.url}"
                else:
                    raise RequestRejected(
                        f"{server.url} rejected the request: HTTP {response.status_code} "
                        f"{response.text[:300]}"
                    )
            except httpx.TransportError as exc:
                last_error = f"{type(exc).__name__} talking to {server.url}"
                server.down_until = time.monotonic() + min(10.0, 0.5 * 2**attempt)
            finally:
                server.in_flight -= 1
            attempt += 1
            if time.monotonic() - started > self.give_up_after_s:
                urls = ", ".join(s.url for s in self.servers)
                raise ServerUnavailable(
                    f"no vLLM server answered for {self.give_up_after_s:.0f} s ({urls}); last error: "
                    f"{last_error}"
                )
            await asyncio.sleep(min(8.0, 0.25 * 2**attempt) * (0.5 + random.random()))

    async def chat(
        self,
        messages: list[dict[str, str]],
        sampling: SamplingParams,
        n: int = 1,
        seed: int | None = None,
        assistant_prefix: str = "",
        extra_body: dict[str, Any] | None = None,
    ) -> list[Completion]:
        """n completions of the conversation; with assistant_prefix the reply is forced to
        start with it (the returned text excludes the prefix). ``extra_body``: more request fields."""
        body = {**chat_body(self.model, messages, sampling, n, seed, assistant_prefix), **(extra_body or {})}
        async with self._slots:
            data = await self._request("POST", "/v1/chat/completions", body)
        prompt_ids = data.get("prompt_token_ids") or []
        completions = []
        for choice in sorted(data["choices"], key=lambda c: c["index"]):
            logprob_items = (choice.get("logprobs") or {}).get("content") or []
            completions.append(
                Completion(
                    text=choice["message"].get("content") or "",
                    finish_reason=choice.get("finish_reason") or "unknown",
                    token_ids=list(choice.get("token_ids") or []),
                    logprobs=[item["logprob"] for item in logprob_items],
                    prompt_token_ids=list(prompt_ids),
                    stop_reason=choice.get("stop_reason"),
                )
            )
        return completions

    # ---- token-level continuation (think budgets, trainers/think.py) ---------------------------
    async def continue_tokens(
        self, prompt_ids: list[int], sampling: SamplingParams, seed: int | None = None
    ) -> Completion:
        """One completion of exactly these prompt tokens (/v1/completions with a token-id prompt):
        a continuation of a reply whose tokens are already known, with no re-tokenization."""
        body: dict[str, Any] = {
            "model": self.model,
            "prompt": prompt_ids,
            **sampling.as_dict(),
            "logprobs": 0,
            "return_token_ids": True,
        }
        if seed is not None:
            body["seed"] = seed
        async with self._slots:
            data = await self._request("POST", "/v1/completions", body)
        choice = data["choices"][0]
        return Completion(
            text=choice.get("text") or "",
            finish_reason=choice.get("finish_reason") or "unknown",
            token_ids=list(choice.get("token_ids") or []),
            logprobs=[float(x) for x in (choice.get("logprobs") or {}).get("token_logprobs") or []],
            prompt_token_ids=list(choice.get("prompt_token_ids") or prompt_ids),
            stop_reason=choice.get("stop_reason"),
        )

    async def tokenize(self, text: str) -> list[int]:
        """The served model's token ids of ``text`` (no special tokens added)."""
        body = {"model": self.model, "prompt": text, "add_special_tokens": False}
        async with self._slots:
            data = await self._request("POST", "/tokenize", body)
        return list(data["tokens"])
