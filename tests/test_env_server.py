"""The env server (atropos_envs/server.py) against the official OpenEnv client, its limits, and
RemoteEnv / RemoteEnvPool (atropos_envs/remote.py). Servers run on free loopback ports."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import gymnasium as gym
import httpx
import pytest
import uvicorn
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

import atropos_envs
from atropos_envs.checker import check_text_env
from atropos_envs.envs.answer_format import FormatEnv
from atropos_envs.remote import DIRECT, EnvServerError, RemoteEnv, RemoteEnvPool
from atropos_envs.server import EnvServer, ServerSettings, check_bind, uvicorn_config

RIGHT = "<think>{q}</think>\n\\boxed{{{a}}}"


class RunningServer:
    """An EnvServer on uvicorn in a thread, on a free loopback port."""

    def __init__(self, server: EnvServer):
        self.server = server
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.uvicorn = uvicorn.Server(
            uvicorn_config(server, "127.0.0.1", self.port, timeout_graceful_shutdown=2)
        )
        self.thread = threading.Thread(target=self.uvicorn.run, kwargs={"sockets": [sock]}, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.uvicorn.started:
            assert time.monotonic() < deadline, "the env server did not start"
            time.sleep(0.02)

    def stop(self) -> None:
        self.uvicorn.should_exit = True
        self.thread.join(timeout=30)


@pytest.fixture
def serve():
    running: list[RunningServer] = []

    def start(env: str = "Format", settings: ServerSettings | None = None, **kwargs) -> RunningServer:
        instance = kwargs.pop("instance", None)
        server = RunningServer(
            EnvServer(env, kwargs, settings or ServerSettings(max_sessions=8), env=instance)
        )
        running.append(server)
        return server

    yield start
    for server in running:
        server.stop()


def ws(server: RunningServer, **kwargs):
    return connect(f"ws://127.0.0.1:{server.port}/ws", **DIRECT, **kwargs)


def ask(conn, message: dict | str) -> dict:
    conn.send(message if isinstance(message, str) else json.dumps(message))
    return json.loads(conn.recv(timeout=30))


def right_answer(task: dict) -> str:
    return RIGHT.format(q=task["question"], a=task["answer"])


# ---- the official OpenEnv client --------------------------------------------------------------
def test_openenv_generic_client_drives_reset_step_state_close(serve):
    from openenv.core import GenericEnvClient

    server = serve()
    local = gym.make("atropos_envs/Format-v0").unwrapped
    task = local.get_task("3")
    with GenericEnvClient(base_url=server.url).sync() as client:
        result = client.reset(task_id="3", episode_id="ep-1")
        assert result.done is False and result.reward is None
        assert result.observation["messages"] == local.prompt(task)
        assert result.observation["task_id"] == "3"

        state = client.state()
        assert state == {
            "episode_id": "ep-1",
            "step_count": 0,
            "task_id": "3",
            "done": False,
            "env_id": "atropos_envs/Format-v0",
        }

        result = client.step({"text": right_answer(task)})
        assert result.done is True and result.reward == 1.0
        assert result.observation["components"] == {"format": 1.0, "correct": 1.0}
        assert result.observation["outcome"] == "ok" and result.observation["reason"]
        assert client.state()["step_count"] == 1

        with pytest.raises(RuntimeError, match="EXECUTION_ERROR"):  # the episode is over
            client.step({"text": "again"})
        result = client.reset(seed=0)  # the same connection, a new episode
        expected, _ = local.reset(seed=0)
        assert result.observation["messages"] == expected
    assert server.server.active == 0  # close freed the session


def test_health_metadata_schema_info_tasks(serve):
    server = serve()
    assert httpx.get(server.url + "/health").json() == {"status": "healthy"}
    metadata = httpx.get(server.url + "/metadata").json()
    assert metadata["name"] == "atropos_envs/Format-v0" and metadata["description"]
    schema = httpx.get(server.url + "/schema").json()
    assert schema["action"]["required"] == ["text"]
    assert "messages" in schema["observation"]["properties"] and "step_count" in schema["state"]["properties"]
    info = httpx.get(server.url + "/info").json()
    assert info["reward_range"] == [0.0, 1.0] and info["max_sessions"] == 8
    assert httpx.get(server.url + "/tasks", params={"start": 5, "limit": 3}).json() == {
        "task_ids": ["5", "6", "7"]
    }
    assert httpx.get(server.url + "/tasks").status_code == 400  # a generator has no end


# ---- limits ----------------------------------------------------------------------------------
def test_capacity_reached_at_once_and_freed_when_a_session_closes(serve):
    server = serve(settings=ServerSettings(max_sessions=2))
    first, second = ws(server), ws(server)
    for conn in (first, second):
        assert ask(conn, {"type": "reset", "data": {"seed": 1}})["type"] == "observation"
    with ws(server) as third:
        reply = json.loads(third.recv(timeout=10))  # sent without waiting for a message
        assert reply["type"] == "error" and reply["data"]["code"] == "CAPACITY_REACHED"
        assert reply["data"]["max_sessions"] == 2
        with pytest.raises(ConnectionClosed):
            third.recv(timeout=10)
    first.send(json.dumps({"type": "close"}))
    first.close()
    deadline = time.monotonic() + 10
    while server.server.active > 1:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    with ws(server) as fourth:
        assert ask(fourth, {"type": "reset", "data": {}})["type"] == "observation"
    second.close()


def test_malformed_messages_get_their_codes_and_the_session_goes_on(serve):
    server = serve()
    with ws(server) as conn:
        assert ask(conn, "{not json")["data"]["code"] == "INVALID_JSON"
        assert ask(conn, "[1, 2]")["data"]["code"] == "VALIDATION_ERROR"
        assert ask(conn, {"type": "dance"})["data"]["code"] == "UNKNOWN_TYPE"
        assert (
            ask(conn, {"type": "step", "data": {"text": "x"}})["data"]["code"] == "EXECUTION_ERROR"
        )  # no reset
        assert ask(conn, {"type": "reset", "data": {"seed": -1}})["data"]["code"] == "VALIDATION_ERROR"
        assert ask(conn, {"type": "reset", "data": {"colour": 1}})["data"]["code"] == "VALIDATION_ERROR"
        assert ask(conn, {"type": "reset", "data": {"task_id": "x"}})["data"]["code"] == "VALIDATION_ERROR"
        assert ask(conn, {"type": "reset", "extra": 1})["data"]["code"] == "VALIDATION_ERROR"
        reply = ask(conn, {"type": "reset", "data": {"task_id": "2"}, "request_id": "r-7"})
        assert reply["type"] == "observation" and reply["request_id"] == "r-7"
        reply = ask(conn, {"type": "step", "data": {"answer": "x"}, "request_id": 8})
        assert reply["data"]["code"] == "VALIDATION_ERROR" and reply["request_id"] == 8
        assert reply["data"]["errors"]
        reply = ask(conn, {"type": "step", "data": {"text": "\ud800 <think>"}, "request_id": 9})
        assert reply["type"] == "observation" and reply["data"]["done"] and reply["request_id"] == 9
        assert reply["data"]["metadata"]["outcome"] == "invalid"


def test_oversized_messages_are_refused_and_the_server_keeps_serving(serve):
    server = serve(settings=ServerSettings(max_sessions=4, max_message_bytes=4096))
    with ws(server) as conn:
        ask(conn, {"type": "reset", "data": {"task_id": "1"}})
        reply = ask(conn, {"type": "step", "data": {"text": "a" * 6000}})
        assert (
            reply["data"]["code"] == "VALIDATION_ERROR"
            and "over the limit of 4096" in reply["data"]["message"]
        )
        reply = ask(conn, {"type": "step", "data": {"text": "a" * 100}})  # the session goes on
        assert reply["type"] == "observation" and reply["data"]["done"]
    with ws(server) as conn:  # past twice the limit the transport closes the socket: 1009
        conn.send(json.dumps({"type": "step", "data": {"text": "a" * 20_000}}))
        with pytest.raises(ConnectionClosed) as closed:
            conn.recv(timeout=10)
        assert closed.value.rcvd.code == 1009
    assert httpx.get(server.url + "/health").json() == {"status": "healthy"}
    with ws(server) as conn:
        assert ask(conn, {"type": "reset", "data": {}})["type"] == "observation"


class SlowFormat(FormatEnv):
    """Format-v0 whose scoring takes 1.5 s: a stand-in for a slow sandbox run."""

    def score(self, trajectory):
        time.sleep(1.5)
        return super().score(trajectory)


def test_a_slow_step_blocks_no_other_session_and_a_step_over_its_limit_ends_the_episode(serve):
    settings = ServerSettings(max_sessions=4, step_timeout_s=0.5)
    server = serve("SlowFormat", settings, instance=SlowFormat())
    with ws(server) as slow, ws(server) as other:
        ask(slow, {"type": "reset", "data": {"task_id": "1"}})
        ask(other, {"type": "reset", "data": {"task_id": "2"}})
        slow.send(json.dumps({"type": "step", "data": {"text": "x"}, "request_id": 1}))
        started = time.monotonic()
        assert ask(other, {"type": "state"})["data"]["task_id"] == "2"  # answered while the step runs
        assert time.monotonic() - started < 0.5
        reply = json.loads(slow.recv(timeout=10))
        assert reply["request_id"] == 1 and reply["data"]["code"] == "EXECUTION_ERROR"
        assert reply["data"]["episode_over"] is True and "longer than 0.5 s" in reply["data"]["message"]
        assert ask(slow, {"type": "state"})["data"]["done"] is True
        assert ask(slow, {"type": "step", "data": {"text": "x"}})["data"]["code"] == "EXECUTION_ERROR"


def test_idle_sessions_are_reaped(serve):
    server = serve(settings=ServerSettings(max_sessions=4, idle_timeout_s=0.3))
    with ws(server) as conn:
        reply = json.loads(conn.recv(timeout=10))
        assert reply["data"]["code"] == "SESSION_ERROR" and "idle" in reply["data"]["message"]
        with pytest.raises(ConnectionClosed):
            conn.recv(timeout=10)
    assert server.server.active == 0


# ---- binding and tokens ------------------------------------------------------------------------
def test_a_non_loopback_bind_without_a_token_refuses_to_start():
    with pytest.raises(ValueError, match="not a loopback address, without a token"):
        check_bind("0.0.0.0", None)
    check_bind("127.0.0.1", None)
    check_bind("::1", None)
    check_bind("0.0.0.0", "a-long-enough-token")
    done = subprocess.run(
        [sys.executable, "-m", "trainers.cli", "env-server", "--env", "Format", "--host", "0.0.0.0"],
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "COLUMNS": "300"},
        cwd=Path(__file__).resolve().parents[1],
    )
    assert done.returncode == 2
    assert "not a loopback address, without a token" in done.stderr


def test_a_token_is_required_when_set(serve):
    token = "s3cret-token-0123456789"
    server = serve(settings=ServerSettings(max_sessions=4, token=token))
    assert httpx.get(server.url + "/info").status_code == 401
    with pytest.raises(InvalidStatus, match="403"):  # the handshake is refused
        ws(server)
    with pytest.raises(ValueError, match="refused the token"):
        RemoteEnv(server.url)
    env = RemoteEnv(server.url, token=token)
    obs, info = env.reset(options={"task_id": "4"})
    assert info["task_id"] == "4" and obs[-1]["role"] == "user"
    env.close()


# ---- RemoteEnv and RemoteEnvPool ---------------------------------------------------------------
def test_remote_env_passes_the_contract_checker(serve):
    server = serve()
    env = RemoteEnv(server.url)
    check_text_env(env)
    local = gym.make("atropos_envs/Format-v0").unwrapped
    for seed in (0, 1):
        assert env.reset(seed=seed)[0] == local.reset(seed=seed)[0]
    task = local.get_task("9")
    env.reset(options={"task_id": "9"})
    assert env.step(right_answer(task)) == local.start("9").step(right_answer(task))
    env.close()


def test_pool_replays_an_episode_whose_server_died_and_gives_the_in_process_result(serve):
    first, second = serve(), serve()
    pool = RemoteEnvPool([first.url, second.url], give_up_after_s=20)
    assert pool.env_id == "atropos_envs/Format-v0" and pool.task_ids(2, 10) == ["10", "11"]
    local = gym.make("atropos_envs/Format-v0").unwrapped
    episodes = [pool.start("5"), pool.start("6")]
    assert sorted(pool.load().values()) == [1, 1]  # least loaded first
    victim = episodes[0]._url
    [s for s in (first, second) if s.url == victim][0].stop()
    for episode in episodes:
        task = local.get_task(episode.task["id"])
        assert episode.step(right_answer(task)) == local.start(task["id"]).step(right_answer(task))
    assert pool.replays == 1 and sum(pool.load().values()) == 0


def test_pool_refuses_servers_of_different_envs(serve):
    with pytest.raises(ValueError, match="different envs"):
        RemoteEnvPool([serve().url, serve("JsonSchema").url])
    with pytest.raises(ValueError, match="cannot reach the env server"):
        RemoteEnvPool(["http://127.0.0.1:9"])


def test_many_concurrent_sessions_are_not_mixed_up(serve):
    server = serve(settings=ServerSettings(max_sessions=64))
    local = gym.make("atropos_envs/Format-v0").unwrapped

    async def episode(task_id: str):
        from websockets.asyncio.client import connect as aconnect

        async with aconnect(f"ws://127.0.0.1:{server.port}/ws") as conn:
            await conn.send(
                json.dumps({"type": "reset", "data": {"task_id": task_id}, "request_id": task_id})
            )
            json.loads(await conn.recv())
            await conn.send(
                json.dumps({"type": "step", "data": {"text": right_answer(local.get_task(task_id))}})
            )
            return json.loads(await conn.recv())["data"]

    async def main():
        return await asyncio.gather(*(episode(str(i)) for i in range(48)))

    for i, data in enumerate(asyncio.run(main())):
        assert data["metadata"]["task_id"] == str(i) and data["reward"] == 1.0


def test_env_arguments_reach_the_served_env(serve):
    server = serve(difficulty=3)
    assert httpx.get(server.url + "/info").json()["env_kwargs"] == {"difficulty": 3}
    local = gym.make("atropos_envs/Format-v0", difficulty=3).unwrapped
    assert RemoteEnv(server.url).get_task("1")["messages"] == local.prompt(local.get_task("1"))
    assert atropos_envs  # registered


def test_a_pool_gives_up_when_no_server_answers(serve):
    server = serve()
    pool = RemoteEnvPool([server.url], give_up_after_s=1.0)
    server.stop()
    with pytest.raises(ConnectionError, match="no env server answered"):
        pool.start("1")
    with pytest.raises(EnvServerError):
        raise EnvServerError("X", "y")


def test_drivers_check_the_env_servers_before_starting_anything(serve):
    from typer.testing import CliRunner

    from trainers.cli import app

    server = serve()
    runner = CliRunner()
    wrong = runner.invoke(
        app, ["sample", "--env", "Code", "--env-server", server.url], env={"COLUMNS": "300"}
    )
    assert wrong.exit_code == 2 and "serve atropos_envs/Format-v0, not atropos_envs/Code-v0" in wrong.output
    settings = ["evaluate", "--env", "Format", "--env-arg", "difficulty=2", "--env-server", server.url]
    refused = runner.invoke(app, settings, env={"COLUMNS": "300"})
    assert (
        refused.exit_code == 2 and "pass --env-arg and --tasks to `atropos-envs env-server`" in refused.output
    )
    train = ["train", "grpo", "--env", "Code", "--env-server", server.url]
    assert "not atropos_envs/Code-v0" in runner.invoke(app, train, env={"COLUMNS": "300"}).output


def test_remote_env_drives_an_openenv_server_whose_action_is_text():
    """The other direction: RemoteEnv against a server built with OpenEnv's own create_app."""
    from openenv.core.env_server import Action, Environment, Observation, State, create_app

    class Say(Action):
        message: str

    class Heard(Observation):
        prompt: str = ""

    class Reverse(Environment):
        """Reverse the word: reward 1 for the reversed word."""

        SUPPORTS_CONCURRENT_SESSIONS = True

        def __init__(self):
            super().__init__()
            self._state = State(step_count=0)

        def reset(self, seed=None, episode_id=None, **kwargs):
            self._state = State(episode_id=episode_id, step_count=0)
            return Heard(prompt="reverse: stressed")

        def step(self, action, timeout_s=None, **kwargs):
            self._state.step_count += 1
            return Heard(prompt="", done=True, reward=float(action.message == "desserts"))

        @property
        def state(self):
            return self._state

    app = create_app(Reverse, Say, Heard, env_name="reverse", max_concurrent_envs=4)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        while not server.started:
            time.sleep(0.02)
        env = RemoteEnv(f"http://127.0.0.1:{port}")
        assert not env.ours and env.action_field == "message"
        obs, _ = env.reset(seed=3)
        assert "reverse: stressed" in obs[-1]["content"]
        _, reward, terminated, truncated, info = env.step("desserts")
        assert (reward, terminated, truncated, info["outcome"]) == (1.0, True, False, "ok")
        env.reset()
        assert env.step("stressed")[1] == 0.0
        env.close()
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def test_a_pool_goes_to_another_server_when_one_is_full(serve):
    full, spare = serve(settings=ServerSettings(max_sessions=2)), serve()
    pool = RemoteEnvPool([full.url, spare.url], give_up_after_s=20)
    holders = [ws(full), ws(full)]
    for conn in holders:
        ask(conn, {"type": "reset", "data": {}})
    episode = pool.start("1")  # least loaded by the pool's count is `full`: refused, then `spare`
    assert episode._url == spare.url
    episode.close()
    for conn in holders:
        conn.close()


def test_remote_env_names_an_unreachable_server():
    with pytest.raises(ConnectionError, match="cannot reach the env server http://127.0.0.1:9"):
        RemoteEnv("http://127.0.0.1:9")


def test_the_trl_adapter_takes_a_pool(serve):
    from trainers.trl_adapter import EnvReward, env_dataset, env_name

    server = serve()
    pool = RemoteEnvPool([server.url])
    local = gym.make("atropos_envs/Format-v0").unwrapped
    dataset = env_dataset(pool, 3, start=20)
    assert dataset["task_id"] == ["20", "21", "22"]
    assert dataset["prompt"] == [local.prompt(local.get_task(t)) for t in ("20", "21", "22")]
    assert sum(pool.load().values()) == 0  # the episodes opened for their prompts were closed
    completions = [right_answer(local.get_task("20")), "no", right_answer(local.get_task("22"))]
    reward = EnvReward(pool)
    assert reward(dataset["prompt"], completions, dataset["task_id"]) == [1.0, 0.0, 1.0]
    assert env_name(pool) == "Format-v0"


# ---- found by attack (hostile clients and hostile servers) -------------------------------------
def test_task_id_pages_are_bounded_and_the_client_pages_through_a_file(serve, tmp_path, monkeypatch):
    from atropos_envs import remote
    from atropos_envs import server as server_module

    server = serve()
    too_many = httpx.get(server.url + "/tasks", params={"limit": server_module.MAX_TASK_IDS + 1})
    assert too_many.status_code == 400 and "at most" in too_many.text  # no reply of 10^8 ids
    tasks = tmp_path / "tasks.jsonl"
    tasks.write_text(
        "".join(json.dumps({"id": f"t{i}", "question": "1+1?", "answer": "2"}) + "\n" for i in range(7))
    )
    file_server = serve(tasks=str(tasks))
    monkeypatch.setattr(remote, "TASK_IDS_PAGE", 3)  # the client asks 3 at a time
    env = RemoteEnv(file_server.url)
    assert env.task_ids() == [f"t{i}" for i in range(7)] and env.task_ids(5, 1) == [
        f"t{i}" for i in range(1, 6)
    ]
    env.close()


def test_nesting_past_the_recursion_limit_is_invalid_json_and_a_lowercase_bearer_is_a_bearer(serve):
    server = serve()
    with ws(server) as conn:
        assert ask(conn, "[" * 50_000)["data"]["code"] == "INVALID_JSON"
        assert ask(conn, {"type": "reset", "data": {"task_id": "1"}})["type"] == "observation"
    token = "s3cret-token-0123456789"
    guarded = serve(settings=ServerSettings(max_sessions=4, token=token))
    assert httpx.get(guarded.url + "/info", headers={"Authorization": f"bearer {token}"}).status_code == 200


class HostileServer:
    """A WebSocket server on loopback that answers every message with ``reply(message)``."""

    def __init__(self, reply):
        from websockets.sync.server import serve as ws_serve

        def handler(conn):
            for raw in conn:
                message = json.loads(raw)
                answer = reply(message)
                if answer is None:
                    return  # drops the connection
                conn.send(answer if isinstance(answer, str) else json.dumps(answer))

        self.server = ws_serve(handler, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self.server.socket.getsockname()[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()


def _observation(message, reward=0.0, done=False):
    obs = {"messages": [{"role": "user", "content": "q"}]}
    data = {"observation": obs, "reward": reward, "done": done, "metadata": {}}
    return {"type": "observation", "data": data, "request_id": message.get("request_id")}


@pytest.mark.parametrize("reward", [float("nan"), float("inf"), "0.9", True])
def test_remote_env_refuses_a_reward_that_is_not_a_finite_number(reward):
    from atropos_envs.remote import Connection

    hostile = HostileServer(
        lambda m: _observation(m) if m["type"] == "reset" else _observation(m, reward=reward, done=True)
    )
    try:
        conn = Connection(hostile.url, timeout_s=10)
        conn.request("reset", {})
        from atropos_envs.remote import _step_result

        with pytest.raises(ConnectionError, match="not a finite number"):
            _step_result(conn.request("step", {"text": "x"}))
        conn.close()
    finally:
        hostile.close()


def test_a_malformed_reply_is_a_lost_connection_not_a_crash():
    from atropos_envs.remote import Connection

    hostile = HostileServer(lambda m: "[1, 2]" if m["type"] == "reset" else "not json")
    try:
        conn = Connection(hostile.url, timeout_s=10)
        with pytest.raises(ConnectionError, match="not a protocol message"):
            conn.request("reset", {})
    finally:
        hostile.close()


def test_a_request_every_server_drops_ends_the_episode_instead_of_replaying_forever(serve):
    settings = ServerSettings(max_sessions=8, max_message_bytes=4096)
    servers = [serve(settings=settings), serve(settings=settings)]
    pool = RemoteEnvPool([s.url for s in servers], give_up_after_s=5)
    episode = pool.start("1")
    with pytest.raises(EnvServerError, match="EPISODE_DROPPED|over the limit"):
        episode.step("x" * 20_000)  # over twice the limit: each server closes the connection
    assert episode.done
