import asyncio
import json
import subprocess
import sys
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import gymnasium as gym
import pytest

import atropos_envs  # noqa: F401  (registers the envs)
from atropos_envs import Score, TextEnv
from trainers.client import RequestRejected, RolloutClient, SamplingParams
from trainers.rejection_sampling import (
    SamplingJob,
    distinct,
    pass_at_k,
    run_job,
    select,
    summarize,
    task_stats,
    written_line,
)
from trainers.rollout import Rollout, Turn, run_episode, sample_seed

ROOT = Path(__file__).resolve().parents[2]


def rollout(i, text, reward=1.0, finish="stop"):
    return Rollout(
        "t",
        i,
        [{"role": "user", "content": "q"}, {"role": "assistant", "content": text}],
        reward,
        {},
        "r",
        True,
        False,
        [Turn([1], [2, 3], [-0.1, -0.2], finish)],
    )


def test_pass_at_k_matches_hand_computed_values():
    assert pass_at_k(8, 0, 1) == 0.0
    assert pass_at_k(8, 8, 1) == 1.0
    assert pass_at_k(8, 2, 1) == pytest.approx(0.25)
    assert pass_at_k(4, 1, 2) == pytest.approx(1 - 3 / 6)  # 1 - C(3,2)/C(4,2)
    assert pass_at_k(8, 7, 2) == 1.0


def test_distinct_drops_exact_and_near_duplicates():
    base = "<think>seven plus five makes twelve so the answer is twelve</think> \\boxed{12}"
    rollouts = [
        rollout(0, base),
        rollout(1, "  " + base.upper()),  # exact duplicate up to case and spacing
        rollout(2, base.replace("makes", "gives")),  # near duplicate
        rollout(3, "<think>7 + 5 = 12</think> \\boxed{12}"),
        rollout(4, "<think>count up from seven five times</think> \\boxed{12}"),
    ]
    assert [r.sample_index for r in distinct(rollouts, 5, 0.9)] == [0, 3, 4]
    assert [r.sample_index for r in distinct(rollouts, 2, 0.9)] == [0, 3]


def test_select_keeps_verified_untruncated_samples_only():
    job = SamplingJob(env_id="x", keep_per_task=3, threshold=1.0)
    rollouts = [rollout(0, "a b c d", 0.2), rollout(1, "e f g h", 1.0, "length"), rollout(2, "i j k l", 1.0)]
    assert [r.sample_index for r in select(rollouts, job)] == [2]
    job.keep_per_task = 0  # evaluate keeps everything
    assert len(select(rollouts, job)) == 3


def test_sample_seed_is_stable_and_distinct():
    assert sample_seed(0, "1", 0) == sample_seed(0, "1", 0)
    seeds = {sample_seed(0, str(t), i) for t in range(50) for i in range(8)}
    assert len(seeds) == 400 and all(0 <= s < 2**31 for s in seeds)


def test_summary_counts():
    job = SamplingJob(env_id="x", samples_per_task=2)
    entries = [
        {"records": 1, "rewards": [1.0, 0.0], "passed": 1, "hit_token_limit": 0, "completion_tokens": 10},
        {"records": 0, "rewards": [0.0, 0.0], "passed": 0, "hit_token_limit": 1, "completion_tokens": 20},
    ]
    s = summarize(entries, job, 1.0)
    assert (s["tasks"], s["samples"], s["kept"], s["acceptance_rate"], s["mean_reward"]) == (
        2,
        4,
        1,
        0.25,
        0.25,
    )
    assert s["pass@1"] == pytest.approx(0.25) and s["pass@2"] == pytest.approx(0.5)


def test_keep_0_counts_the_verified_samples_apart_from_every_sample_it_wrote():
    job = SamplingJob(env_id="x", samples_per_task=4, keep_per_task=0)
    done = [rollout(0, "a", 1.0), rollout(1, "b", 1.0, "length"), rollout(2, "c", 0.0), rollout(3, "d", 0.5)]
    stats = task_stats(done, job.threshold)
    assert (stats["passed"], stats["verified"]) == (2, 1)  # the reply cut at the token limit is no keeper
    older = {**task_stats(done, job.threshold), "records": 4}
    del older["verified"]  # progress written before "verified" was counted: "passed" stands in
    s = summarize([{**stats, "records": len(select(done, job))}, older], job, 1.0)
    assert (s["samples"], s["kept"], s["verified"], s["acceptance_rate"]) == (8, 8, 3, 3 / 8)
    assert written_line(s, job, Path("o.jsonl")) == "wrote 8 samples (3 verified) to o.jsonl"
    job.keep_per_task = 2
    s = summarize([{**stats, "records": len(select(done, job))}], job, 1.0)
    assert (s["kept"], s["verified"], s["acceptance_rate"]) == (1, 1, 1 / 4)
    assert written_line(s, job, Path("o.jsonl")) == "wrote 1 verified samples to o.jsonl"


# ---- one reply never ends a job: the real rollout client against a server replaying canned replies


def _call(name, arguments):
    return "<tool_call>" + json.dumps({"name": name, "arguments": arguments}) + "</tool_call>"


def _nested(depth):
    value = "1"
    for _ in range(depth):
        value = {"a": value}
    return value


WORST = {  # sample index -> its first reply; later turns give up with an answer
    0: _call("calculator", {"expression": "*".join(["999999**64"] * 13)}),  # a 4,992-digit integer
    1: _call("calculator", {"expression": _nested(900)}),  # arguments nested 900 deep
    2: "".join(_call("python", {"code": "import time\ntime.sleep(0.5)"}) for _ in range(32)),
    3: " ".join(f"lorem{i % 97} ipsum" for i in range(90_000))[:1_000_000],  # a 1 MB reply
    4: "<answer>I do not know.</answer>",
}
GIVE_UP = "<answer>I could not finish.</answer>"


class CannedServer:
    """An OpenAI-compatible /v1/chat/completions that replays canned replies, chosen by the
    request's seed (the rollout loop derives it from task id, sample index and turn)."""

    def __init__(self, replies_by_seed, default):
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _send(self, payload):
                data = json.dumps(payload).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                self._send({"data": [{"id": "canned"}]})

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                text = outer.replies_by_seed.get(body.get("seed"), outer.default)
                if text is None:  # what vLLM answers when the conversation outgrew the context window
                    data = b'{"error": {"message": "maximum context length is 2048 tokens"}}'
                    self.send_response(400)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                    return
                tokens = list(range(min(len(text) // 4 + 1, 512)))
                self._send(
                    {
                        "prompt_token_ids": [1, 2, 3],
                        "choices": [
                            {
                                "index": 0,
                                "message": {"role": "assistant", "content": text},
                                "finish_reason": "stop",
                                "token_ids": tokens,
                                "logprobs": {"content": [{"logprob": -0.5} for _ in tokens]},
                            }
                        ],
                    }
                )

        self.replies_by_seed, self.default = replies_by_seed, default
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def _replies(task_ids, base_seed, first_turns):
    return {sample_seed(base_seed, t, i): text for t in task_ids for i, text in first_turns.items()}


def _evaluate(job, env, url, out):
    async def main():
        async with RolloutClient([url], model=None, give_up_after_s=10) as client:
            return await run_job(job, env, client, out, overwrite=True)

    return asyncio.run(main())


def test_a_job_survives_the_worst_replies(tmp_path):
    env = gym.make("atropos_envs/ToolUse-v0", max_turns=3).unwrapped
    job = SamplingJob(
        env_id="atropos_envs/ToolUse-v0",
        num_tasks=2,
        samples_per_task=len(WORST),
        keep_per_task=0,
        tasks_in_flight=2,
        sampling=SamplingParams(max_tokens=64),
    )
    server = CannedServer(_replies(env.task_ids(2), job.seed, WORST), GIVE_UP)
    try:
        summary = _evaluate(job, env, server.url, tmp_path / "eval.jsonl")
    finally:
        server.close()
    records = [json.loads(line)["metadata"] for line in (tmp_path / "eval.jsonl").read_text().splitlines()]
    assert summary["tasks"] == 2 and summary["samples"] == len(records) == 2 * len(WORST)
    paid = [(r["sample_index"], r["reward"], r["reason"][:80]) for r in records if r["reward"] >= 0.5]
    assert not paid, paid
    counted = Counter(r["outcome"] for r in records)
    assert summary["outcomes"] == {o: counted[o] for o in ("ok", "invalid", "timeout", "truncated", "error")}
    for r in records:  # an env failure is a zero with outcome error and a one-line reason, never silent
        assert (r["outcome"] == "error") == r["reason"].startswith("the env failed on this reply")
        assert "\n" not in r["reason"] and (r["outcome"] != "error" or r["reward"] == 0.0)
    assert set(summary["error_examples"]) == {r["reason"] for r in records if r["outcome"] == "error"}


class FlakyEnv(TextEnv):
    """Scores "ok" 1; raises from score on "boom"; leaves an uncopyable object in its state on "copy"."""

    def generate_task(self, rng):
        return {"n": rng.randint(0, 9)}

    def prompt(self, task):
        return [{"role": "user", "content": f"say ok ({task['n']})"}]

    def respond(self, task, messages, state):
        if messages[-1]["content"] == "copy":
            state["lock"] = threading.Lock()  # deepcopy of the trajectory raises TypeError
        return None

    def score(self, trajectory):
        if trajectory.last_completion == "boom":
            raise ZeroDivisionError("scorer bug\nwith a second line")
        ok = trajectory.last_completion == "ok"
        reason, outcome = ("said ok", "ok") if ok else ("did not", "invalid")
        return Score(float(ok), {"ok": float(ok)}, reason, outcome=outcome)


def test_env_exceptions_score_zero_with_outcome_error_and_the_job_goes_on(tmp_path):
    env = FlakyEnv()
    job = SamplingJob(env_id="flaky", num_tasks=3, samples_per_task=4, keep_per_task=2, threshold=1.0)
    replies = {0: "boom", 1: "copy", 2: "ok", 3: "nope"}
    server = CannedServer(_replies(env.task_ids(3), job.seed, replies), "ok")
    try:
        summary = _evaluate(job, env, server.url, tmp_path / "sft.jsonl")
    finally:
        server.close()
    assert summary["outcomes"] == {"ok": 3, "invalid": 3, "timeout": 0, "truncated": 0, "error": 6}
    assert (summary["kept"], summary["passed"], summary["mean_reward"]) == (3, 3, 0.25)
    assert sorted(summary["error_examples"]) == [
        "the env failed on this reply: TypeError: cannot pickle '_thread.lock' object",
        "the env failed on this reply: ZeroDivisionError: scorer bug",
    ]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"samples_per_task": 0}, "samples_per_task must be a positive integer, got 0"),
        ({"num_tasks": -1}, "num_tasks must be a positive integer"),
        ({"keep_per_task": -1}, "keep_per_task must be an integer >= 0"),
        ({"threshold": 0.0}, r"threshold must be in \(0.0, 1.0\]"),
        ({"threshold": 1.5}, r"threshold must be in \(0.0, 1.0\]"),
        ({"threshold": float("nan")}, "threshold must be a finite number"),
        ({"near_duplicate": 0}, r"near_duplicate must be in \(0, 1\]"),
        ({"tasks_in_flight": 0}, "tasks_in_flight must be a positive integer"),
        ({"sampling": SamplingParams(top_p=0)}, r"top_p must be in \(0, 1\]"),
        ({"sampling": SamplingParams(max_tokens=0)}, "sampling.max_tokens must be a positive integer"),
    ],
)
def test_sampling_job_validate_names_the_bad_field(fields, message):
    with pytest.raises(ValueError, match=message):
        SamplingJob(env_id="x", **fields).validate((0.0, 1.0))
    SamplingJob(env_id="x").validate((0.0, 1.0))  # the defaults are valid


def test_cli_reports_a_bad_job_setting_in_one_line(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "trainers.cli",
            "evaluate",
            "--env",
            "Format",
            "--n",
            "0",
            "--server",
            "http://127.0.0.1:9",
            "--out",
            str(tmp_path / "e.jsonl"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2 and "samples_per_task must be a positive integer, got 0" in result.stderr


def test_a_server_refusing_a_later_turn_ends_the_episode_as_truncated():
    env = gym.make("atropos_envs/ToolUse-v0").unwrapped
    seed = sample_seed(0, "0", 0)
    server = CannedServer({seed: _call("capital_of", {"country": "France"}), seed + 1: None}, GIVE_UP)

    async def episode(task_id):
        async with RolloutClient([server.url], model=None, give_up_after_s=10) as client:
            return await run_episode(env, task_id, sample_index=0, client=client, sampling=SamplingParams())

    try:
        rollout = asyncio.run(episode("0"))
        with pytest.raises(RequestRejected):  # the task's own prompt refused: a configuration problem
            server.replies_by_seed[seed] = None
            asyncio.run(episode("0"))
    finally:
        server.close()
    assert (rollout.outcome, rollout.truncated, len(rollout.turns)) == ("truncated", True, 1)
    assert "the server refused the next turn" in rollout.reason and rollout.reward < 0.5
