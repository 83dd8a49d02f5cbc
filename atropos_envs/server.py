"""Serve one environment over OpenEnv's wire protocol (``atropos-envs env-server``).

Any registered env (plugins too) becomes a network service that OpenEnv clients
(``openenv.core.GenericEnvClient``, TRL, verifiers) and our ``RemoteEnv`` drive:

- ``GET /health`` -> ``{"status": "healthy"}``; ``GET /metadata`` (OpenEnv's fields);
  ``GET /schema`` (action, observation and state JSON schemas);
- ``GET /info`` and ``GET /tasks?start=&limit=`` (ours: env id, settings, reward range,
  sessions; the task ids in order), used by ``RemoteEnvPool``;
- WebSocket ``/ws``, one session per connection, one episode at a time in it. Client messages
  ``{"type": "reset", "data": {"seed", "episode_id", "task_id"}}``, ``{"type": "step", "data":
  {"text": ...}}``, ``{"type": "state"}``, ``{"type": "close"}`` and ours, ``{"type": "score"}``
  (end the episode now, scored on its turns so far, ``truncated``). Replies ``{"type":
  "observation", "data": {"observation", "reward", "done", "metadata"}}``, ``{"type": "state",
  "data": ...}`` or ``{"type": "error", "data": {"message", "code"}}`` with OpenEnv's codes. A
  message may carry a ``request_id`` (string or integer); its reply carries the same one.

Bounded by design: at most ``max_sessions`` sessions (then CAPACITY_REACHED at once, never a
queue); a session idle for ``idle_timeout_s`` is closed; a message over ``max_message_bytes``
is refused (VALIDATION_ERROR; over twice that the transport closes the socket, 1009); env work
runs in a thread pool, off the event loop, and a step over ``step_timeout_s`` ends its episode
with an EXECUTION_ERROR. The server binds 127.0.0.1 unless given a bearer token.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import ipaddress
import json
import os
import socket
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
from gymnasium.utils import seeding
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from atropos_envs.core import Episode, TextEnv
from atropos_envs.registry import resolve_env_id
from atropos_envs.remote import TASK_IDS_PAGE

MAX_TASK_IDS = TASK_IDS_PAGE  # one /tasks page
PROTOCOL = "openenv-ws/1"  # OpenEnv's WebSocket protocol, plus request ids, /info, /tasks and "score"
SERVER_NAME = "atropos-envs"


def default_max_sessions() -> int:
    """Sessions mostly wait on generation, so many per core; never 1 (OpenEnv's default)."""
    return max(16, 32 * (os.cpu_count() or 1))


@dataclass
class ServerSettings:
    max_sessions: int = field(default_factory=default_max_sessions)
    idle_timeout_s: float = 600.0  # a session silent this long is closed
    step_timeout_s: float = 300.0  # a reset/step/score over this ends the episode with an error
    max_message_bytes: int = 4 * 2**20
    token: str | None = None  # bearer token; required on any non-loopback address
    workers: int = 0  # threads for env work; 0: min(max_sessions, 64)

    def validate(self) -> None:
        if not isinstance(self.max_sessions, int) or self.max_sessions < 2:
            raise ValueError(f"max_sessions must be an integer >= 2, got {self.max_sessions!r}")
        for name in ("idle_timeout_s", "step_timeout_s"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)!r}")
        if self.max_message_bytes < 1024:
            raise ValueError(f"max_message_bytes must be >= 1024, got {self.max_message_bytes}")
        if self.token is not None and len(self.token) < 16:
            raise ValueError("the token must have at least 16 characters (e.g. `openssl rand -hex 24`)")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_bind(host: str, token: str | None) -> None:
    """Refuse to serve on a non-loopback address without a bearer token."""
    if not is_loopback(host) and not token:
        raise ValueError(
            f"refusing to serve on {host}, which is not a loopback address, without a token: pass "
            "--token (or ATROPOS_ENV_TOKEN) and give clients the same token, or bind 127.0.0.1"
        )


# ---- the schemas published at /schema (and used to validate step data) ------------------------
class TextAction(BaseModel):
    """The assistant's reply."""

    model_config = ConfigDict(extra="forbid")
    text: str = Field(description="the assistant's text")
    metadata: dict[str, Any] = Field(default_factory=dict)


class ResetData(BaseModel):
    model_config = ConfigDict(extra="forbid")
    seed: int | None = Field(default=None, ge=0)
    episode_id: str | None = Field(default=None, max_length=255)
    task_id: str | int | None = None


class TextObservation(BaseModel):
    """The conversation so far (OpenAI-style messages) and, at the end, the score."""

    messages: list[dict[str, str]]
    task_id: str
    turn: int
    components: dict[str, float] = Field(default_factory=dict)
    reason: str = ""
    outcome: str = Field(default="continues", description="continues, or one of atropos_envs.core.OUTCOMES")
    terminated: bool = False
    truncated: bool = False


class TextState(BaseModel):
    episode_id: str | None = None
    step_count: int = 0
    task_id: str | None = None
    done: bool = False
    env_id: str = ""


class ProtocolError(Exception):
    def __init__(self, code: str, message: str, **extra: Any):
        super().__init__(message)
        self.code, self.extra = code, extra


# ---- one connection ------------------------------------------------------------------------
class Session:
    """One client's episodes, one at a time; the RNG follows gymnasium's reset(seed) rules."""

    def __init__(self, env: TextEnv, env_id: str):
        self.env, self.env_id = env, env_id
        self.rng = None
        self.episode: Episode | None = None
        self.episode_id: str | None = None

    def reset(self, data: ResetData) -> dict[str, Any]:
        if data.seed is not None or self.rng is None:
            self.rng, _ = seeding.np_random(data.seed)
        task_id = data.task_id if data.task_id is not None else self.env.tasks.sample_id(self.rng)
        self.episode = self.env.start(str(task_id))
        self.episode_id = data.episode_id or uuid.uuid4().hex
        info = {"task_id": self.episode.task["id"], "turn": 0, "components": {}, "reason": "episode starts"}
        return self._payload(None, False, False, {**info, "outcome": "continues"})

    def step(self, action: TextAction) -> dict[str, Any]:
        episode = self._current()
        _, reward, terminated, truncated, info = episode.step(action.text)
        return self._payload(reward, terminated, truncated, info)

    def score_now(self) -> dict[str, Any]:
        episode = self._current()
        score = self.env.score(episode.trajectory)
        episode.done, episode.score = True, score
        outcome = "truncated" if score.outcome == "ok" else score.outcome
        info = {"task_id": episode.task["id"], "turn": episode.turns, **score.as_info(), "outcome": outcome}
        return self._payload(score.reward, False, True, info)

    def state(self) -> dict[str, Any]:
        episode = self.episode
        return TextState(
            episode_id=self.episode_id,
            step_count=episode.turns if episode else 0,
            task_id=episode.task["id"] if episode else None,
            done=bool(episode and episode.done),
            env_id=self.env_id,
        ).model_dump()

    def end(self) -> None:
        """The episode is over (a step ran out of time): later steps are refused until reset."""
        if self.episode is not None:
            self.episode.done = True

    def _current(self) -> Episode:
        if self.episode is None:
            raise ProtocolError("EXECUTION_ERROR", "no episode: send reset first")
        if self.episode.done:
            raise ProtocolError("EXECUTION_ERROR", "the episode is over: send reset to start another")
        return self.episode

    def _payload(self, reward, terminated: bool, truncated: bool, info: dict[str, Any]) -> dict[str, Any]:
        episode = self.episode
        assert episode is not None
        meta = {**info, "episode_id": self.episode_id, "terminated": terminated, "truncated": truncated}
        observation = {
            "messages": episode.observation,
            "task_id": info["task_id"],
            "turn": info["turn"],
            "components": info.get("components", {}),
            "reason": info.get("reason", ""),
            "outcome": info.get("outcome", "continues"),
            "terminated": terminated,
            "truncated": truncated,
        }
        done = terminated or truncated
        return {"observation": observation, "reward": reward, "done": done, "metadata": meta}


def _error(code: str, message: str, request_id: Any = None, **extra: Any) -> dict[str, Any]:
    reply: dict[str, Any] = {"type": "error", "data": {"message": message, "code": code, **extra}}
    if request_id is not None:
        reply["request_id"] = request_id
    return reply


# ---- the server ----------------------------------------------------------------------------
class EnvServer:
    """The ASGI app (``self.app``) serving one env; ``serve()`` runs it on uvicorn."""

    def __init__(
        self,
        env_name: str,
        env_kwargs: dict[str, Any] | None = None,
        settings: ServerSettings | None = None,
        *,
        env: TextEnv | None = None,
    ):
        """Serve the registered env ``env_name`` built with ``env_kwargs``, or ``env`` as given."""
        self.settings = settings or ServerSettings()
        self.settings.validate()
        self.env_kwargs = dict(env_kwargs or {})
        if env is not None:
            self.env_id, self.env = env_name, env
        else:
            self.env_id = resolve_env_id(env_name)
            try:
                self.env = gym.make(self.env_id, **self.env_kwargs).unwrapped
            except TypeError as exc:
                raise ValueError(f"bad setting for {self.env_id}: {exc}") from None
        workers = self.settings.workers or min(self.settings.max_sessions, 64)
        self.executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="env-work")
        self.active = 0
        self.served = 0
        self.app = Starlette(
            routes=[
                Route("/health", self.health),
                Route("/metadata", self.metadata),
                Route("/schema", self.schema),
                Route("/info", self.info),
                Route("/tasks", self.tasks),
                WebSocketRoute("/ws", self.websocket),
            ],
            lifespan=self._lifespan,
        )

    @contextlib.asynccontextmanager
    async def _lifespan(self, app):
        try:
            yield
        finally:
            self.executor.shutdown(wait=False, cancel_futures=True)

    # ---- HTTP ----
    def _authorized(self, headers) -> bool:
        if not self.settings.token:
            return True
        scheme, _, given = headers.get("authorization", "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(
            given.strip().encode(), self.settings.token.encode()
        )

    async def health(self, request: Request) -> JSONResponse:
        return JSONResponse({"status": "healthy"})

    def _refused(self) -> JSONResponse:
        return JSONResponse({"detail": "missing or wrong bearer token"}, status_code=401)

    async def metadata(self, request: Request) -> JSONResponse:
        if not self._authorized(request.headers):
            return self._refused()
        doc = (type(self.env).__doc__ or self.env_id).strip()
        return JSONResponse(
            {
                "name": self.env_id,
                "description": doc.splitlines()[0],
                "readme_content": None,
                "version": None,
                "author": None,
                "documentation_url": None,
            }
        )

    async def schema(self, request: Request) -> JSONResponse:
        if not self._authorized(request.headers):
            return self._refused()
        return JSONResponse(
            {
                "action": TextAction.model_json_schema(),
                "observation": TextObservation.model_json_schema(),
                "state": TextState.model_json_schema(),
            }
        )

    async def info(self, request: Request) -> JSONResponse:
        if not self._authorized(request.headers):
            return self._refused()
        return JSONResponse(
            {
                "server": SERVER_NAME,
                "protocol": PROTOCOL,
                "env_id": self.env_id,
                "env_kwargs": self.env_kwargs,
                "reward_range": list(self.env.reward_range),
                "max_turns": self.env.max_turns,
                "active_sessions": self.active,
                "max_sessions": self.settings.max_sessions,
                "sessions_served": self.served,
                "step_timeout_s": self.settings.step_timeout_s,
                "max_message_bytes": self.settings.max_message_bytes,
            }
        )

    async def tasks(self, request: Request) -> JSONResponse:
        if not self._authorized(request.headers):
            return self._refused()
        try:
            start = int(request.query_params.get("start", "0"))
            limit_text = request.query_params.get("limit")
            limit = int(limit_text) if limit_text not in (None, "") else None
            if start < 0 or (limit is not None and limit < 0):
                raise ValueError("start and limit must be >= 0")
            if limit is not None and limit > MAX_TASK_IDS:
                raise ValueError(f"limit must be at most {MAX_TASK_IDS} (page with start)")
            # limit None: a task file's ids from start (a generator refuses: it has no end),
            # one page at most; a client pages on with start
            ids = (await asyncio.to_thread(self.env.task_ids, limit, start))[:MAX_TASK_IDS]
        except ValueError as exc:
            return JSONResponse({"detail": str(exc)}, status_code=400)
        return JSONResponse({"task_ids": ids})

    # ---- WebSocket ----
    async def websocket(self, websocket: WebSocket) -> None:
        if not self._authorized(websocket.headers):
            await websocket.close(code=1008)  # before accept: the handshake is refused (403)
            return
        await websocket.accept()
        if self.active >= self.settings.max_sessions:
            message = f"the server is at capacity ({self.active} of {self.settings.max_sessions} sessions)"
            extra = {"active_sessions": self.active, "max_sessions": self.settings.max_sessions}
            with contextlib.suppress(WebSocketDisconnect, RuntimeError):
                await websocket.send_text(json.dumps(_error("CAPACITY_REACHED", message, **extra)))
                await websocket.close(code=1013)  # try again later
            return
        self.active += 1
        self.served += 1
        session = Session(self.env, self.env_id)
        try:
            await self._serve_session(websocket, session)
        except WebSocketDisconnect:
            pass  # the client went away
        finally:
            self.active -= 1
            await _close_quietly(websocket)

    async def _serve_session(self, websocket: WebSocket, session: Session) -> None:
        while True:
            try:
                message = await asyncio.wait_for(websocket.receive(), self.settings.idle_timeout_s)
            except asyncio.TimeoutError:
                idle = f"idle for {self.settings.idle_timeout_s:g} s: the session is closed"
                await websocket.send_text(json.dumps(_error("SESSION_ERROR", idle)))
                return
            if message["type"] == "websocket.disconnect":
                return
            raw = message.get("text")
            if raw is None:
                raw = (message.get("bytes") or b"").decode("utf-8", errors="replace")
            reply = await self._handle(session, raw)
            if reply is None:  # close
                return
            await websocket.send_text(json.dumps(reply, default=str))

    async def _handle(self, session: Session, raw: str) -> dict[str, Any] | None:
        request_id = None
        limit = self.settings.max_message_bytes
        try:
            size = len(raw.encode("utf-8", errors="surrogatepass"))
            if size > limit:
                raise ProtocolError(
                    "VALIDATION_ERROR", f"message of {size} bytes is over the limit of {limit}"
                )
            try:
                message = json.loads(raw)
            except (ValueError, RecursionError) as exc:  # nesting past Python's recursion limit too
                raise ProtocolError("INVALID_JSON", f"Invalid JSON: {str(exc)[:200]}") from None
            if not isinstance(message, dict):
                raise ProtocolError("VALIDATION_ERROR", "a message is a JSON object with a 'type'")
            request_id = message.get("request_id")
            if request_id is not None and not _valid_request_id(request_id):
                request_id = None
                raise ProtocolError("VALIDATION_ERROR", "request_id must be a string (<= 255) or an integer")
            kind = message.get("type", "")
            extra = sorted(set(message) - {"type", "data", "request_id"})
            if kind not in ("reset", "step", "state", "close", "score"):
                raise ProtocolError("UNKNOWN_TYPE", f"Unknown message type: {kind}")
            if extra:
                raise ProtocolError("VALIDATION_ERROR", f"unknown fields {extra}; a message has type, data")
            if kind == "close":
                return None
            reply = await self._dispatch(session, kind, message.get("data"))
        except ProtocolError as exc:
            reply = _error(exc.code, str(exc), **exc.extra)
        if request_id is not None:
            reply["request_id"] = request_id
        return reply

    async def _dispatch(self, session: Session, kind: str, data: Any) -> dict[str, Any]:
        if kind == "state":
            return {"type": "state", "data": session.state()}
        try:
            if kind == "reset":
                work, arg = session.reset, ResetData.model_validate(data if data is not None else {})
            elif kind == "step":
                if not isinstance(data, dict):
                    raise ProtocolError("VALIDATION_ERROR", "step data must be an object: {'text': ...}")
                work, arg = session.step, TextAction.model_validate(data)
            else:
                work, arg = session.score_now, None
        except ValidationError as exc:
            errors = json.loads(exc.json(include_url=False, include_input=False))
            raise ProtocolError("VALIDATION_ERROR", "Invalid message", errors=errors) from None
        loop = asyncio.get_running_loop()
        call = (lambda: work(arg)) if arg is not None else work
        try:
            payload = await asyncio.wait_for(
                loop.run_in_executor(self.executor, call), self.settings.step_timeout_s
            )
        except asyncio.TimeoutError:
            session.end()
            raise ProtocolError(
                "EXECUTION_ERROR",
                f"{kind} took longer than {self.settings.step_timeout_s:g} s: the episode is over",
                episode_over=True,
            ) from None
        except ProtocolError:
            raise
        except KeyError as exc:
            if kind == "reset":  # an unknown task id
                raise ProtocolError("VALIDATION_ERROR", str(exc.args[0] if exc.args else exc)) from None
            raise ProtocolError("EXECUTION_ERROR", f"KeyError: {exc}") from None
        except Exception as exc:
            first = (str(exc).strip().splitlines() or [""])[0][:300]
            raise ProtocolError("EXECUTION_ERROR", f"{type(exc).__name__}: {first}") from None
        return {"type": "observation", "data": payload}


async def _close_quietly(websocket: WebSocket) -> None:
    if websocket.application_state == WebSocketState.DISCONNECTED:
        return
    try:
        await websocket.close()
    except (RuntimeError, WebSocketDisconnect):
        pass  # already closed by the client


def _valid_request_id(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, str) and len(value) <= 255)


def uvicorn_config(server: EnvServer, host: str, port: int, **kwargs: Any):
    import uvicorn

    return uvicorn.Config(
        server.app,
        host=host,
        port=port,
        ws="websockets-sansio",
        ws_max_size=2 * server.settings.max_message_bytes,  # past the app's limit: closed, 1009
        ws_ping_interval=20.0,  # keeps sockets alive through long generations
        ws_ping_timeout=60.0,
        log_level="warning",
        lifespan="on",
        **kwargs,
    )


def serve(
    env_name: str,
    env_kwargs: dict[str, Any] | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 8100,
    settings: ServerSettings | None = None,
    sock: socket.socket | None = None,
) -> None:
    """Run an env server until interrupted (uvicorn handles SIGINT/SIGTERM)."""
    import uvicorn

    settings = settings or ServerSettings()
    check_bind(host, settings.token)
    server = EnvServer(env_name, env_kwargs, settings)
    runner = uvicorn.Server(uvicorn_config(server, host, port))
    runner.run(sockets=[sock] if sock is not None else None)
