"""Envs served over the network: ``RemoteEnv`` (a gymnasium env) and ``RemoteEnvPool`` (drivers).

``RemoteEnv(url)`` talks to an ``atropos-envs env-server`` (or any OpenEnv server whose
action is text) and is a ``TextEnv`` like any other, so ``check_text_env``, the probes and
the drivers work on it. ``RemoteEnvPool(urls)`` spreads a driver's episodes over several
servers of one env, least loaded first: an episode whose server dies (or stops answering) is
replayed on another (reset to its task, the same assistant turns, then the turn in hand), with
backoff on the dead one, so a run loses nothing and writes what an in-process run writes.

A request that times out closes its connection: a late reply can never be read as the next
one's. Against our servers every request carries a ``request_id`` that its reply must echo.
"""

from __future__ import annotations

import copy
import inspect
import itertools
import json
import math
import threading
import time
import types
from typing import Any

import gymnasium as gym
import httpx
from websockets.exceptions import WebSocketException
from websockets.sync.client import connect

from atropos_envs.core import Score, TextEnv, Trajectory, step_action
from atropos_envs.spaces import AssistantText, Conversation

Message = dict[str, str]

#: websockets >= 17 warns unless a connection made outside a ``with`` block says so.
DIRECT = {"legacy": True} if "legacy" in inspect.signature(connect).parameters else {}
DEFAULT_TIMEOUT_S = 330.0  # the server's default step limit (300 s) and a margin
MAX_REPLY_BYTES = 64 * 2**20  # a reply over this closes the connection (a server cannot flood the driver)
MAX_TRIES_PER_REQUEST = 3  # connections one request may fail on before its episode is dropped


class EnvServerError(RuntimeError):
    """The server answered with an error reply (``code`` is OpenEnv's error code)."""

    def __init__(self, code: str, message: str, data: dict[str, Any] | None = None):
        super().__init__(f"{message} ({code})")
        self.code, self.data = code, data or {}


class EnvServerUnavailable(ConnectionError):
    """No env server answered for longer than the pool's give-up time."""


def ws_url(url: str) -> str:
    url = url.rstrip("/")
    for http, ws in (("http://", "ws://"), ("https://", "wss://")):
        if url.startswith(http):
            url = ws + url[len(http) :]
    if not url.startswith(("ws://", "wss://")):
        raise ValueError(f"an env server URL starts with http(s):// or ws(s)://, got {url!r}")
    return url if url.endswith("/ws") else url + "/ws"


def http_url(url: str) -> str:
    url = url.rstrip("/").removesuffix("/ws")
    for ws, http in (("ws://", "http://"), ("wss://", "https://")):
        if url.startswith(ws):
            url = http + url[len(ws) :]
    return url


def _headers(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}


def get_json(url: str, path: str, token: str | None = None, timeout_s: float = 10.0, **params: Any) -> Any:
    response = httpx.get(http_url(url) + path, headers=_headers(token), params=params, timeout=timeout_s)
    if response.status_code == 401:
        raise ValueError(f"{http_url(url)} refused the token: pass the server's --token")
    response.raise_for_status()
    return response.json()


def server_info(url: str, token: str | None = None) -> dict[str, Any] | None:
    """Our /info (env id, settings, reward range...), or None from another OpenEnv server."""
    try:
        info = get_json(url, "/info", token)
    except httpx.HTTPStatusError:
        return None
    return info if isinstance(info, dict) and info.get("server") == "atropos-envs" else None


class Connection:
    """One WebSocket session with an env server; ``request`` returns the reply's data."""

    def __init__(
        self,
        url: str,
        *,
        token: str | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        request_ids: bool = True,
    ):
        self.url, self.timeout_s, self.request_ids = url, timeout_s, request_ids
        self._ids = itertools.count(1)
        try:
            self._ws = connect(
                ws_url(url),
                additional_headers=_headers(token),
                open_timeout=min(timeout_s, 30.0),
                max_size=MAX_REPLY_BYTES,
                ping_interval=20.0,
                ping_timeout=60.0,
                **DIRECT,
            )
        except (OSError, WebSocketException, TimeoutError) as exc:
            raise ConnectionError(f"cannot connect to {ws_url(url)}: {exc}") from exc

    def request(self, kind: str, data: dict[str, Any] | None = None) -> dict[str, Any]:
        message: dict[str, Any] = {"type": kind}
        if data is not None or kind in ("reset", "step"):
            message["data"] = data or {}
        request_id = next(self._ids) if self.request_ids else None
        if request_id is not None:
            message["request_id"] = request_id
        try:
            self._ws.send(json.dumps(message))
            raw = self._ws.recv(timeout=self.timeout_s)
        except TimeoutError as exc:
            self.close()  # never read a late reply as the next one's
            raise ConnectionError(f"{self.url} did not answer {kind} within {self.timeout_s:g} s") from exc
        except (OSError, WebSocketException) as exc:
            self.close()
            raise ConnectionError(f"lost the connection to {self.url}: {exc}") from exc
        try:
            reply = json.loads(raw)
        except (ValueError, RecursionError):
            reply = None
        if not isinstance(reply, dict) or not isinstance(reply.get("data") or {}, dict):
            self.close()  # a server that breaks the protocol is treated as a lost connection
            raise ConnectionError(
                f"{self.url} sent a reply that is not a protocol message: {str(raw)[:120]!r}"
            )
        code = (reply.get("data") or {}).get("code") if reply.get("type") == "error" else None
        if code in ("CAPACITY_REACHED", "SESSION_ERROR"):  # sent unasked: the session is gone
            self.close()
            raise ConnectionError(f"{self.url}: {(reply.get('data') or {}).get('message')} ({code})")
        if request_id is not None and reply.get("request_id") != request_id:
            self.close()
            raise ConnectionError(f"{self.url} answered request {reply.get('request_id')}, not {request_id}")
        if reply.get("type") == "error":
            data = reply.get("data") or {}
            raise EnvServerError(str(data.get("code", "UNKNOWN")), str(data.get("message", "")), data)
        return reply.get("data") or {}

    def close(self) -> None:
        try:
            self._ws.send(json.dumps({"type": "close"}))
        except Exception:
            pass  # best effort: the server reaps the session anyway
        try:
            self._ws.close()
        except Exception:
            pass


TASK_IDS_PAGE = 10_000  # the server's most task ids in one /tasks reply


def paged_task_ids(fetch, limit: int | None, start: int) -> list[str]:
    """Task ids from ``start`` (at most ``limit``; None: to the end of a task file), fetched a page
    of ``TASK_IDS_PAGE`` at a time: ``fetch(start=, limit=)`` returns one /tasks reply."""
    ids: list[str] = []
    while limit is None or len(ids) < limit:
        size = TASK_IDS_PAGE if limit is None else min(TASK_IDS_PAGE, limit - len(ids))
        params = {"start": start + len(ids)} | ({"limit": size} if limit is not None else {})
        page = [str(i) for i in fetch(**params)["task_ids"]]
        ids += page
        if len(page) < size:
            break
    return ids


def _messages(observation: dict[str, Any]) -> list[Message]:
    """The conversation: ours carry ``messages``; another server's observation becomes one user turn."""
    messages = observation.get("messages") if isinstance(observation, dict) else None
    if isinstance(messages, list):
        if not all(
            isinstance(m, dict) and isinstance(m.get("role"), str) and isinstance(m.get("content"), str)
            for m in messages
        ):
            raise ConnectionError("the env server sent messages that are not {role, content} strings")
        return messages
    return [{"role": "user", "content": json.dumps(observation, ensure_ascii=False, sort_keys=True)}]


def _step_result(data: dict[str, Any]) -> tuple[list[Message], float, bool, bool, dict[str, Any]]:
    """gymnasium's 5-tuple from an observation reply (info as the in-process env gives it)."""
    observation = data.get("observation") or {}
    meta = dict(data.get("metadata") or {})
    done = bool(data.get("done"))
    truncated = bool(meta.pop("truncated", observation.get("truncated", False)))
    terminated = bool(meta.pop("terminated", done and not truncated))
    meta.pop("episode_id", None)
    reward = data.get("reward") or 0.0
    if isinstance(reward, bool) or not isinstance(reward, (int, float)) or not math.isfinite(reward):
        raise ConnectionError(f"the env server sent a reward that is not a finite number: {reward!r}")
    reward = float(reward)
    if not meta:  # another OpenEnv server: no info of ours
        meta = {"reward": reward, "components": {}, "reason": "", "outcome": "ok" if done else "continues"}
    return _messages(observation), reward, terminated, truncated, meta


def _score(info: dict[str, Any]) -> Score:
    outcome = info.get("outcome", "ok")
    return Score(
        float(info.get("reward", 0.0)),
        dict(info.get("components") or {}),
        str(info.get("reason", "")),
        outcome if outcome != "continues" else "truncated",
    )


# ---- a gymnasium env ----------------------------------------------------------------------------
class RemoteEnv(TextEnv):
    """A ``TextEnv`` whose episodes run on an env server (``atropos-envs env-server`` or any
    OpenEnv server with a text action). ``reset(seed=..., options={"task_id": ...})`` and
    ``step(text)`` behave as the served env's do."""

    def __init__(
        self,
        url: str,
        *,
        token: str | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        render_mode: str | None = None,
    ):
        gym.Env.__init__(self)
        self.url, self.token, self.timeout_s = url, token, timeout_s
        self.render_mode = render_mode
        self.config = None
        try:
            self.info = server_info(url, token)
        except httpx.HTTPError as exc:
            raise ConnectionError(f"cannot reach the env server {url} ({exc}): is it running?") from None
        self.ours = self.info is not None
        if self.ours:
            self.env_id = self.info["env_id"]
            self.reward_range = tuple(self.info["reward_range"])
            self.max_turns = int(self.info["max_turns"])
            self.action_field = "text"
        else:
            self.env_id = get_json(url, "/metadata", token).get("name", url)
            self.reward_range = (-math.inf, math.inf)
            self.max_turns = 1_000_000
            self.action_field = _text_field(get_json(url, "/schema", token).get("action") or {})
        self.observation_space = Conversation()
        self.action_space = AssistantText()
        self._conn: Connection | None = None
        self._messages: list[Message] = []
        self._tasks: dict[str, dict[str, Any]] = {}

    def _connect(self) -> Connection:
        return Connection(self.url, token=self.token, timeout_s=self.timeout_s, request_ids=self.ours)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        gym.Env.reset(self, seed=seed)
        data: dict[str, Any] = {}
        if seed is not None:
            data["seed"] = seed
        if options and "task_id" in options:
            data["task_id"] = str(options["task_id"])
        if self._conn is None:
            self._conn = self._connect()
        try:
            reply = self._conn.request("reset", data)
        except ConnectionError:
            self._conn = None
            raise
        self._messages = _messages(reply.get("observation") or {})
        task_id = (reply.get("metadata") or {}).get("task_id") or (reply.get("observation") or {}).get(
            "task_id"
        )
        return copy.deepcopy(self._messages), {"task_id": task_id}

    def step(self, action: str):
        if self._conn is None:
            raise gym.error.ResetNeeded("call reset() before step()")
        action = step_action(action, done=False)
        try:
            reply = self._conn.request("step", {self.action_field: action})
        except EnvServerError as exc:
            if "episode is over" in str(exc) or "send reset" in str(exc):
                raise gym.error.ResetNeeded(str(exc)) from None
            raise
        except ConnectionError:
            self._conn = None
            raise
        messages, reward, terminated, truncated, info = _step_result(reply)
        self._messages = messages
        return copy.deepcopy(messages), reward, terminated, truncated, info

    def render(self) -> str | None:
        if self.render_mode != "ansi" or not self._messages:
            return None
        return "\n\n".join(f"[{m['role']}]\n{m['content']}" for m in self._messages)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    # ---- what TextEnv's drivers and checkers use ----
    def task_ids(self, limit: int | None = None, start: int = 0) -> list[str]:
        self._require_ours("task ids")
        return paged_task_ids(
            lambda **params: get_json(self.url, "/tasks", self.token, **params), limit, start
        )

    def get_task(self, task_id: str | int) -> dict[str, Any]:
        """The task as a client sees it: its id and its prompt (hidden fields stay on the server)."""
        task_id = str(task_id)
        if task_id not in self._tasks:
            conn = self._connect()
            try:
                reply = conn.request("reset", {"task_id": task_id})
            finally:
                conn.close()
            self._tasks[task_id] = {"id": task_id, "messages": _messages(reply.get("observation") or {})}
        return copy.deepcopy(self._tasks[task_id])

    def prompt(self, task: dict[str, Any]) -> list[Message]:
        return copy.deepcopy(task["messages"])

    def start(self, task_id: str | int):
        return _Snapshot(self.get_task(task_id))

    def score(self, trajectory: Trajectory) -> Score:
        """The server's score of a trajectory: its assistant turns replayed, then scored as is."""
        self._require_ours("score")
        conn = self._connect()
        try:
            conn.request("reset", {"task_id": str(trajectory.task["id"])})
            for text in trajectory.completions:
                data = conn.request("step", {"text": text})
                if data.get("done"):
                    return _score(data.get("metadata") or {})
            return _score(conn.request("score").get("metadata") or {})
        finally:
            conn.close()

    def _require_ours(self, what: str) -> None:
        if not self.ours:
            raise NotImplementedError(f"{self.url} is not an atropos-envs env server: it has no {what}")


class _Snapshot:
    """What ``RemoteEnv.start`` returns: a fresh episode's trajectory (the prompt only)."""

    def __init__(self, task: dict[str, Any]):
        self.task, self.messages = task, task["messages"]

    @property
    def observation(self) -> list[Message]:
        return copy.deepcopy(self.messages)

    @property
    def trajectory(self) -> Trajectory:
        return Trajectory(copy.deepcopy(self.task), copy.deepcopy(self.messages))


def _text_field(schema: dict[str, Any]) -> str:
    """The action's text field in another server's action schema: ``text``, else its only string."""
    properties = schema.get("properties") or {}
    if "text" in properties:
        return "text"
    strings = [name for name, spec in properties.items() if spec.get("type") == "string"]
    required = [name for name in schema.get("required") or [] if name in strings]
    if len(required) == 1 or len(strings) == 1:
        return (required or strings)[0]
    raise ValueError(f"the server's action has no single text field (fields: {sorted(properties)})")


# ---- several servers for a driver ---------------------------------------------------------------
class RemoteEnvPool:
    """Env servers of one env (same id and settings) shared by a driver's episodes.

    ``start(task_id)`` opens an episode on the least loaded server that is up (blocking: drivers
    call it in a thread); a server that fails is skipped for a backoff (0.5 s doubling to 30 s)
    and its episodes are replayed elsewhere. When no server answers for ``give_up_after_s``,
    ``EnvServerUnavailable`` stops the job."""

    def __init__(
        self,
        urls: list[str],
        *,
        token: str | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        give_up_after_s: float = 120.0,
    ):
        if not urls:
            raise ValueError("no env server: pass --env-server URL (started by `atropos-envs env-server`)")
        self.urls, self.token, self.timeout_s = list(dict.fromkeys(urls)), token, timeout_s
        self.give_up_after_s = give_up_after_s
        infos = {url: self._info(url) for url in self.urls}
        first = infos[self.urls[0]]
        for url, info in infos.items():
            if (info["env_id"], info["env_kwargs"]) != (first["env_id"], first["env_kwargs"]):
                raise ValueError(
                    f"the env servers serve different envs: {self.urls[0]} {first['env_id']} "
                    f"{first['env_kwargs']}, {url} {info['env_id']} {info['env_kwargs']}"
                )
        self.env_id, self.env_kwargs = first["env_id"], first["env_kwargs"]
        self.reward_range = tuple(first["reward_range"])
        self.max_turns = int(first["max_turns"])
        self.spec = types.SimpleNamespace(id=self.env_id)  # what drivers and the TRL adapter name it by
        self._lock = threading.Lock()
        self._active = dict.fromkeys(self.urls, 0)
        self._down_until = dict.fromkeys(self.urls, 0.0)
        self._failures = dict.fromkeys(self.urls, 0)
        self.replays = 0  # episodes moved to another server (for reports and tests)

    def _info(self, url: str) -> dict[str, Any]:
        try:
            info = server_info(url, self.token)
        except httpx.HTTPError as exc:
            raise ValueError(
                f"cannot reach the env server {url} ({exc}): start it with `atropos-envs env-server`"
            ) from None
        if info is None:
            raise ValueError(f"{url} is not an atropos-envs env server (its /info is missing)")
        return info

    def task_ids(self, limit: int | None = None, start: int = 0) -> list[str]:
        return paged_task_ids(self._tasks_page, limit, start)

    def _tasks_page(self, **params: Any) -> dict[str, Any]:
        url = self._acquire()
        try:
            return get_json(url, "/tasks", self.token, **params)
        except httpx.HTTPStatusError as exc:
            raise ValueError(f"{url}/tasks: {exc.response.text[:300]}") from None
        except httpx.HTTPError:
            self._failed(url)
            return self._tasks_page(**params)
        finally:
            self._release(url)

    def start(self, task_id: str | int) -> RemoteEpisode:
        episode = RemoteEpisode(self, str(task_id))
        episode.connect()
        return episode

    def load(self) -> dict[str, int]:
        with self._lock:
            return dict(self._active)

    def _acquire(self, avoid: str | None = None) -> str:
        deadline = time.monotonic() + self.give_up_after_s
        while True:
            with self._lock:
                now = time.monotonic()
                up = [u for u in self.urls if self._down_until[u] <= now]
                if avoid in up and len(up) > 1:
                    up.remove(avoid)
                if up:
                    url = min(up, key=lambda u: (self._active[u], self.urls.index(u)))
                    self._active[url] += 1
                    return url
                wait = min(self._down_until.values()) - now
            if now + wait > deadline:
                raise EnvServerUnavailable(
                    f"no env server answered for {self.give_up_after_s:g} s ({', '.join(self.urls)})"
                )
            time.sleep(max(wait, 0.05))

    def _release(self, url: str) -> None:
        with self._lock:
            self._active[url] -= 1

    def _failed(self, url: str) -> None:
        with self._lock:
            self._failures[url] += 1
            backoff = min(30.0, 0.5 * 2 ** (self._failures[url] - 1))
            self._down_until[url] = time.monotonic() + backoff

    def _succeeded(self, url: str) -> None:
        with self._lock:
            self._failures[url] = 0


class RemoteEpisode:
    """One episode of a pool, with ``Episode``'s ``observation``, ``messages`` and ``step``."""

    def __init__(self, pool: RemoteEnvPool, task_id: str):
        self.pool, self.task = pool, {"id": task_id}
        self.actions: list[str] = []
        self.messages: list[Message] = []
        self.done = False
        self._conn: Connection | None = None
        self._url: str | None = None

    @property
    def observation(self) -> list[Message]:
        return copy.deepcopy(self.messages)

    def connect(self) -> None:
        """Open the episode on a server (another than a failed one), replaying the turns so far."""
        avoid, moved = self._url, self._url is not None
        while True:
            url = self.pool._acquire(avoid)
            conn = None
            try:
                conn = Connection(url, token=self.pool.token, timeout_s=self.pool.timeout_s)
                data = conn.request("reset", {"task_id": self.task["id"]})
                for action in self.actions:
                    data = conn.request("step", {"text": action})
            except ConnectionError:
                self.pool._release(url)
                self.pool._failed(url)
                avoid = url
                continue
            except BaseException:
                self.pool._release(url)
                if conn is not None:
                    conn.close()
                raise
            messages = _messages(data.get("observation") or {})
            if self.messages and messages != self.messages:
                conn.close()
                self.pool._release(url)
                raise EnvServerError(
                    "REPLAY_DIVERGED", f"task {self.task['id']} replayed differently on {url}"
                )
            self._conn, self._url, self.messages = conn, url, messages
            self.pool._succeeded(url)
            if moved:
                with self.pool._lock:
                    self.pool.replays += 1
            return

    def _request(self, kind: str, data: dict[str, Any] | None = None) -> dict[str, Any]:
        """The request on this episode's server; on a lost connection the episode is replayed on
        another and the request sent again, at most ``MAX_TRIES_PER_REQUEST`` times: a request
        that every server drops (a reply that crashes them) ends the episode as an env error."""
        for _ in range(MAX_TRIES_PER_REQUEST):
            if self._conn is None:
                self.connect()
            assert self._conn is not None and self._url is not None
            try:
                return self._conn.request(kind, data)
            except ConnectionError as exc:
                last = exc
                self._conn = None
                self.pool._release(self._url)
                self.pool._failed(self._url)
        self.done = True
        raise EnvServerError(
            "EPISODE_DROPPED", f"{kind} lost its connection {MAX_TRIES_PER_REQUEST} times (last: {last})"
        )

    def step(self, action: str) -> tuple[list[Message], float, bool, bool, dict[str, Any]]:
        action = step_action(action, done=self.done)
        try:
            reply = self._request("step", {"text": action})
        except EnvServerError:
            self.close()
            raise
        self.actions.append(action)
        messages, reward, terminated, truncated, info = _step_result(reply)
        self.messages = messages
        if terminated or truncated:
            self.close()
        return copy.deepcopy(messages), reward, terminated, truncated, info

    def score_now(self) -> Score:
        """End the episode here, scored on its turns so far (outcome ``truncated`` when ok)."""
        try:
            reply = self._request("score")
        finally:
            self.close()
        return _score(reply.get("metadata") or {})

    def __del__(self) -> None:  # an episode dropped unfinished (e.g. only its prompt was read)
        try:
            self.close()
        except Exception:
            pass

    def close(self) -> None:
        self.done = True
        if self._conn is not None and self._url is not None:
            self._conn.close()
            self._conn = None
            self.pool._release(self._url)
