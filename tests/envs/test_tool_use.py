import json
from typing import Literal

import gymnasium as gym
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import atropos_envs  # noqa: F401
from atropos_envs.tools import Tool


def make(**kwargs):
    return gym.make("atropos_envs/ToolUse-v0", **kwargs).unwrapped


def tc(tool, **args):
    return f"<tool_call>{json.dumps({'name': tool, 'arguments': args})}</tool_call>"


def first(env, kind):
    return next(str(i) for i in range(200) if env.get_task(i)["kind"] == kind)


def test_schema_comes_from_the_signature_and_docstring():
    def book(
        city: str, nights: int, room: Literal["single", "double"] = "single", state: dict | None = None
    ) -> str:
        """Book a hotel room.

        Args:
            city: where to stay
            nights: how many nights
        """
        return f"{city}:{nights}:{room}"

    tool = Tool.from_function(book)
    assert tool.description == "Book a hotel room."
    assert tool.parameters["required"] == ["city", "nights"]
    assert tool.parameters["properties"]["room"] == {"enum": ["single", "double"]}
    assert tool.parameters["properties"]["nights"] == {"type": "integer", "description": "how many nights"}
    assert "state" not in tool.parameters["properties"] and tool.wants_state
    assert tool.call({"city": "Oslo", "nights": "2"}, {})[0] is False  # strict: a string is not an integer
    assert tool.call({"city": "Oslo", "nights": 2, "pets": True}, {})[0] is False
    assert tool.call({"city": "Oslo", "nights": 2}, {}) == (True, "Oslo:2:single")


def play(env, task_id, turns):
    """Play turns (the last one repeats) until the episode ends; (reward, info)."""
    env.reset(options={"task_id": task_id})
    for i in range(env.max_turns):
        _, reward, terminated, truncated, info = env.step(turns[min(i, len(turns) - 1)])
        if terminated or truncated:
            return reward, info
    raise AssertionError("the episode never ended")


def test_a_whole_episode_with_parallel_calls():
    env = make()
    tid = first(env, "parallel")
    task = env.get_task(tid)
    a, b = (g["find_customer"]["name"][0] for g in task["ground_truth"])
    obs, _ = env.reset(options={"task_id": tid})
    assert "<tools>" in obs[0]["content"] and '"name": "find_customer"' in obs[0]["content"]
    obs, reward, terminated, truncated, info = env.step(
        "<think>both at once</think>" + tc("find_customer", name=a) + tc("find_customer", name=b)
    )
    assert (reward, terminated, truncated) == (0.0, False, False)
    assert [m["role"] for m in obs[-2:]] == ["tool", "tool"] and "<tool_response>" in obs[-1]["content"]
    if "find_customer" in task["world"]["faults"]:  # the env failed the first call on purpose: retry it
        assert "try" in obs[-2]["content"] and "retry" not in obs[-1]["content"]
        obs, *_ = env.step(tc("find_customer", name=a))
    balances = [
        json.loads(m["content"].split("\n")[1])["content"]["balance"]
        for m in obs
        if m["role"] == "tool" and '"balance"' in m["content"]
    ]
    assert sorted(balances) == sorted(task["answer"])
    _, reward, terminated, _, info = env.step(f"<answer>{task['answer'][0]} and {task['answer'][1]}</answer>")
    assert terminated and reward == 1.0 and info["outcome"] == "ok", info


def test_the_answers_come_only_from_the_tools():
    """A policy that knows every fact in the world, and the hidden answer, but never calls a tool."""
    env = make()
    for i in range(200):
        task = env.get_task(i)
        reward, info = play(env, str(i), [f"<answer>{json.dumps(task['answer'])}</answer>"])
        assert info["components"]["task_completion"] == 0.0 and reward == 0.0, (i, info)
    questions = [env.get_task(i)["question"] for i in range(200)]
    assert len(set(questions)) > 190  # invented names: no two tasks alike


def test_provoked_faults_and_stale_ids_reward_recovery():
    env = make()
    tid = next(
        str(i)
        for i in range(300)
        if env.get_task(i)["world"]["faults"] == {"find_customer": "rate_limit"}
        and env.get_task(i)["kind"] == "single"
    )
    task = env.get_task(tid)
    name = task["ground_truth"][0]["find_customer"]["name"][0]
    env.reset(options={"task_id": tid})
    obs, *_ = env.step(tc("find_customer", name=name))
    assert "429 rate limited" in obs[-1]["content"]
    obs, *_ = env.step(tc("find_customer", name=name))
    assert '"balance"' in obs[-1]["content"]
    _, reward, _, _, info = env.step(f"<answer>{task['answer'][0]}</answer>")
    assert reward == 1.0 and info["components"]["error_recovery"] == 1.0
    env.reset(options={"task_id": tid})  # gives up after the fault
    env.step(tc("find_customer", name=name))
    _, reward, _, _, info = env.step(f"<answer>{task['answer'][0]}</answer>")
    assert info["components"]["task_completion"] == 0.0 and reward <= 0.4
    stale = next(env.get_task(i) for i in range(300) if "(old id" in env.get_task(i)["question"])
    old_id = stale["question"].split("(old id ")[1].split(")")[0]
    env.reset(options={"task_id": stale["id"]})
    obs, *_ = env.step(tc("list_orders", customer_id=old_id))
    assert "look the customer up by name" in obs[-1]["content"]


def test_invalid_calls_are_reported_and_recovery_counts():
    env = make(preset="v0")
    tid = next(
        str(i)
        for i in range(300)
        if env.get_task(i)["kind"] == "single" and not env.get_task(i)["world"]["faults"]
    )
    task = env.get_task(tid)
    env.reset(options={"task_id": tid})
    obs, *_ = env.step(tc("find_customer", name=7) + "<tool_call>{not json}</tool_call>")
    assert "invalid arguments" in obs[-1]["content"] or "invalid arguments" in obs[-2]["content"]
    env.step(tc("find_customer", name=task["ground_truth"][0]["find_customer"]["name"][0]))
    _, reward, terminated, _, info = env.step(f"<answer>{task['answer'][0]}</answer>")
    c = info["components"]
    assert terminated and c["task_completion"] == 1.0 and c["tool_call_accuracy"] == pytest.approx(1 / 3)
    assert c["error_recovery"] == pytest.approx(
        0.5
    )  # the bad-argument call was fixed; the unparseable one has no tool
    assert 0.5 < reward < 1
    atropos = make()
    _, info = play(atropos, tid, [tc("find_customer", name=7), *env.reference_answer(task)])
    c = info["components"]
    assert c["tool_call_accuracy"] == pytest.approx(0.8) and c["error_recovery"] == pytest.approx(0.3)
    assert info["reward"] == pytest.approx(0.35 + 0.25 * 0.8 + 0.15 * 0.5 + 0.15 * 0.3 + 0.1)  # 2 calls for 1


def test_turn_limit_truncates():
    env = make(max_turns=2)
    env.reset(options={"task_id": "0"})
    env.step(tc("calculator", expression="1+1"))
    _, _, terminated, truncated, info = env.step(tc("calculator", expression="2+2"))
    assert truncated and not terminated and info["components"]["task_completion"] == 0.0
    assert info["outcome"] == "truncated"


def test_no_calls_and_a_wrong_answer_score_zero_with_a_reason():
    env = make()
    reward, info = play(env, first(env, "single"), ["<answer>I don't know</answer>"])
    assert reward == 0.0 and info["reason"].startswith("no successful tool call")
    reward, info = play(env, first(env, "single"), ["I don't know"])
    assert reward == 0.0 and info["outcome"] == "invalid"


def test_user_tools_and_weights():
    def shout(text: str) -> str:
        """Upper-case a text."""
        return text.upper()

    env = make(
        tools=[shout],
        tasks=[{"question": "Shout hi", "ground_truth": [{"shout": {"text": ["hi"]}}], "answer": ["HI"]}],
        weights={"task_completion": 1.0},
    )
    env.reset(options={"task_id": "0"})
    obs, *_ = env.step(tc("shout", text="hi"))
    assert '"content": "HI"' in obs[-1]["content"]
    assert env.step("<answer>HI</answer>")[1] == 1.0


@pytest.mark.parametrize(
    "settings,message",
    [
        ({"weights": {"speed": 1.0}}, "unknown reward components"),
        ({"weights": {"task_completion": -1.0, "efficiency": 2.0}}, ">= 0"),
        ({"weights": {"task_completion": 0.0}}, "sum to more than 0"),
        ({"weights": {"task_completion": float("nan")}}, ">= 0"),
        ({"weights": "v1"}, "preset name"),
        ({"preset": "hermes"}, "preset must be one of"),
        ({"incomplete_cap": 0.6}, "incomplete_cap"),
        ({"step_time_s": 0}, "step_time_s"),
    ],
)
def test_bad_settings_are_refused(settings, message):
    with pytest.raises(ValueError, match=message):
        make(**settings)


def test_presets_and_weights_by_name():
    assert make().config.resolved_weights == {
        "task_completion": 0.35,
        "tool_call_accuracy": 0.25,
        "efficiency": 0.15,
        "error_recovery": 0.15,
        "goal_alignment": 0.10,
    }
    assert make(weights="v0").config.resolved_weights["task_completion"] == 0.5
    assert make(preset="v0").config.resolved_weights["goal_alignment"] == 0.15


@pytest.mark.parametrize("preset", ["atropos", "v0"])
def test_no_probe_reaches_the_bar_and_the_reference_scores_full_marks(preset):
    """200 generated tasks; the python tasks (each call is a sandbox run) only every fifth, for time."""
    env = make(preset=preset)
    python_seen = 0
    for i in range(200):
        task = env.get_task(i)
        if task["kind"] == "python":
            python_seen += 1
            if python_seen % 5:
                continue
        reward, info = play(env, str(i), env.reference_answer(task))
        assert reward == 1.0, (i, info)
        for name, turns in env.probes(task).items():
            reward, info = play(env, str(i), turns)
            assert reward < 0.5, (i, name, info)


def test_hostile_replies_never_end_the_job():
    env = make()
    _, info = play(
        env,
        "0",
        [
            tc("calculator", expression="(999999**64)*(999999**64)*(999999**64)*(999999**64)*9"),
            "<answer>1</answer>",
        ],
    )
    assert info["outcome"] == "ok" and info["components"]["tool_call_accuracy"] < 1
    for depth in (500, 990):
        deep = "[" * depth + "]" * depth
        _, info = play(
            env,
            "0",
            [
                '<tool_call>{"name": "calculator", "arguments": {"expression": ' + deep + "}}</tool_call>",
                "<answer>1</answer>",
            ],
        )
        assert info["reward"] < 0.5
    obs, _ = env.reset(options={"task_id": "0"})
    obs, *_ = env.step(tc("python", code="print('x' * 10**6)") + tc("read_file", path="sales.csv"))
    assert all(len(m["content"]) < 10_000 for m in obs)


def test_a_slow_step_ends_in_a_timeout():
    env = make(step_time_s=1.5)
    env.reset(options={"task_id": "0"})
    _, reward, terminated, _, info = env.step(tc("python", code="import time; time.sleep(30)") * 32)
    assert terminated and info["outcome"] == "timeout" and reward < 0.5 and "time budget" in info["reason"]


@pytest.mark.parametrize(
    "record,field",
    [
        ({"question": [["x"]], "ground_truth": [], "answer": ["a"]}, "question"),
        ({"question": "q", "ground_truth": [], "answer": "Paris"}, "answer"),
        ({"question": "q", "ground_truth": "capital_of", "answer": ["Paris"]}, "ground_truth"),
        (
            {"question": "q", "ground_truth": [{"a": {"x": [1]}, "b": {}}], "answer": ["Paris"]},
            "ground_truth",
        ),
        ({"question": "q", "ground_truth": [{"a": {"x": 1}}], "answer": ["Paris"]}, "ground_truth"),
        ({"question": "q", "ground_truth": [], "answer": [True]}, "answer"),
        (
            {"question": "q", "ground_truth": [], "answer": ["a"], "world": {"customers": "x"}},
            "world.customers",
        ),
        ({"question": "q", "ground_truth": [], "function": [{"name": "f"}]}, "function"),
    ],
)
def test_bad_task_records_name_the_field(tmp_path, record, field):
    path = tmp_path / "tasks.jsonl"
    path.write_text(json.dumps(record) + "\n")
    with pytest.raises(ValueError, match=f"field '{field}' must be"):
        make(tasks=str(path)).get_task(0)


BFCL = {
    "id": "parallel_multiple_0",
    "question": [[{"role": "user", "content": "Weather in Paris in celsius, and in Boston?"}]],
    "function": [
        {
            "name": "get_weather",
            "description": "Weather for a city",
            "parameters": {
                "type": "dict",
                "properties": {
                    "city": {"type": "string"},
                    "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                    "days": {"type": "float"},
                },
                "required": ["city"],
            },
        }
    ],
    "ground_truth": [
        {"get_weather": {"city": ["Paris", "Paris, France"], "unit": ["celsius"], "days": ["", 1.0]}},
        {"get_weather": {"city": ["Boston"], "unit": ["", "fahrenheit"], "days": [""]}},
    ],
}


def test_bfcl_records_are_scored_like_the_ast_checker(tmp_path):
    path = tmp_path / "bfcl.jsonl"
    path.write_text(json.dumps(BFCL) + "\n")
    env = make(tasks=str(path))
    obs, _ = env.reset(options={"task_id": "parallel_multiple_0"})
    assert '"type": "object"' in obs[0]["content"] and '"type": "number"' in obs[0]["content"]
    good = tc("get_weather", city="Boston") + tc("get_weather", city="paris, france", unit="celsius", days=1)
    _, reward, terminated, _, info = env.step(good)
    assert terminated and info["components"]["task_completion"] == 1.0 and reward == 1.0
    env.reset(options={"task_id": "parallel_multiple_0"})
    _, _, _, _, info = env.step(
        tc("get_weather", city="Paris", unit="kelvin") + tc("get_weather", city="Boston")
    )
    assert info["components"]["task_completion"] == 0.0


def test_real_bfcl_shapes_load_and_score(tmp_path):
    """A parameter named ``type`` and a dict-valued argument, as in BFCL's own records."""
    record = {
        "id": "simple_9",
        "question": [[{"role": "user", "content": "Find Italian places in NYC, rated 4+"}]],
        "function": {
            "name": "find",
            "description": "d",
            "parameters": {
                "type": "dict",
                "properties": {
                    "type": {"type": "string", "description": "cuisine"},
                    "filters": {
                        "type": "dict",
                        "properties": {"city": {"type": "string"}, "rating": {"type": "float"}},
                    },
                    "open": {"type": "boolean"},
                },
                "required": ["type", "filters"],
            },
        },
        "ground_truth": [
            {
                "find": {
                    "type": ["Italian"],
                    "filters": [{"city": ["New York", "NYC"], "rating": [4.0]}],
                    "open": ["", False],
                }
            }
        ],
    }
    path = tmp_path / "bfcl.jsonl"
    path.write_text(json.dumps(record) + "\n")
    env = make(tasks=str(path))
    assert play(env, "simple_9", env.reference_answer(env.get_task("simple_9")))[0] == 1.0
    assert (
        play(env, "simple_9", [tc("find", type="italian", filters={"city": "new york", "rating": 4})])[0]
        == 1.0
    )
    assert (
        play(env, "simple_9", [tc("find", type="Italian", filters={"city": "NYC", "rating": 4.0}, open=0)])[0]
        < 0.5
    )
    for name, turns in env.probes(env.get_task("simple_9")).items():
        assert play(env, "simple_9", turns)[0] < 0.5, name


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.text(max_size=120)
        | st.builds(
            lambda n, a: tc(n, **a),
            st.sampled_from(["calculator", "capital_of", "nope"]),
            st.dictionaries(
                st.sampled_from(["expression", "country", "x"]),
                st.integers() | st.text(max_size=20),
                max_size=2,
            ),
        ),
        min_size=1,
        max_size=4,
    ),
    st.integers(0, 30),
)
def test_any_sequence_of_turns_scores_in_range(turns, task_id):
    env = make(max_turns=4)
    env.reset(options={"task_id": str(task_id)})
    for turn in turns:
        _, reward, terminated, truncated, info = env.step(turn)
        assert info["reason"]
        if terminated or truncated:
            assert 0.0 <= reward <= 1.0
            break


# ---- red-team regressions -----------------------------------------------------------------------
def _single(env):
    tid = next(
        str(i)
        for i in range(300)
        if env.get_task(i)["kind"] == "single" and not env.get_task(i)["world"]["faults"]
    )
    task = env.get_task(tid)
    return (
        tid,
        task,
        task["ground_truth"][0]["find_customer"]["name"][0],
        task["answer"][0],
    )


@pytest.mark.parametrize("preset", ["atropos", "v0"])
def test_junk_calls_earn_nothing_and_an_honest_answer_beats_any_incomplete_reply(preset):
    env = make(preset=preset)
    tid, _, name, value = _single(env)
    junk = tc("calculator", expression="0")
    for final in ("I refuse.", "<answer>?</answer>", f"<answer>{value}</answer>"):
        reward, info = play(env, tid, [junk, final])
        assert reward == 0.0 and not any(info["components"].values()), (final, info)
    reward, info = play(env, tid, [junk, "I refuse."])
    assert info["outcome"] == "invalid"
    typos = [tc("find_customer", name=name + "x"), tc("find_customer", name=name + ".")]
    honest, info = play(
        env,
        tid,
        [
            *typos,
            tc("find_customer", name=name),
            f"<answer>The balance is {value}</answer>",
        ],
    )
    assert info["components"]["task_completion"] == 1.0
    best_incomplete = max(
        play(env, tid, turns)[0]
        for turns in (
            [tc("find_customer", name=name), "no answer"],
            [tc("find_customer", name=name), "<answer>?</answer>"],
            [tc("find_customer", name=name), f"<answer>{value} or 1</answer>"],
        )
    )
    assert honest > env.config.incomplete_cap >= best_incomplete


def _user_env(tmp_path):
    records = [
        {
            "id": "u1",
            "question": "Convert 5 km to metres.",
            "answer": [5000],
            "ground_truth": [{"convert_units": {"value": [5], "from_unit": ["km"], "to_unit": ["m"]}}],
        },
        {
            "id": "u2",
            "question": "What is 123 * 456?",
            "answer": [56088],
            "ground_truth": [{"calculator": {"expression": ["123*456"]}}],
        },
    ]
    path = tmp_path / "user.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return make(tasks=str(path))


def test_user_tasks_need_the_calls_with_their_arguments(tmp_path):
    env = _user_env(tmp_path)
    convert = tc("convert_units", value=5, from_unit="km", to_unit="m")
    assert play(env, "u1", [convert, "<answer>5 km is 5000 m</answer>"])[0] == 1.0
    as_float = tc("convert_units", value=5.0, from_unit="km", to_unit="m")
    assert play(env, "u1", [as_float, "<answer>5000</answer>"])[0] == 1.0
    assert (
        play(
            env,
            "u2",
            [
                tc("calculator", expression="123 * 456"),
                "<answer>123 * 456 = 56088</answer>",
            ],
        )[0]
        == 1.0
    )
    for tid, call in [
        ("u2", tc("calculator", expression="0")),
        ("u1", tc("calculator", expression="1+1")),
        ("u1", tc("convert_units", value=5, from_unit="km", to_unit="ft")),
        ("u1", tc("python", code="raise SystemExit(1)")),
    ]:
        reward, info = play(env, tid, [call, f"<answer>{env.get_task(tid)['answer'][0]}</answer>"])
        assert reward == 0.0 and info["components"]["task_completion"] == 0.0, (
            tid,
            call,
            info,
        )


def test_a_failed_python_run_is_a_failed_call():
    env = make()
    tid = next(
        str(i)
        for i in range(300)
        if env.get_task(i)["kind"] == "python" and not env.get_task(i)["world"]["faults"]
    )
    env.reset(options={"task_id": tid})
    for code in (
        "raise SystemExit(1)",
        "import sys\nwhile True: sys.stdout.write('x' * 65536)",
    ):
        obs, *_ = env.step(tc("python", code=code))
        assert '"error"' in obs[-1]["content"] and "python failed" in obs[-1]["content"]
    _, reward, *_, info = env.step(f"<answer>{env.get_task(tid)['answer'][0]}</answer>")
    assert reward == 0.0 and "0/2 valid calls" in info["reason"]


@pytest.mark.parametrize("path", [".", "", "./x", "a/../b", "/etc/passwd", "a//b", "main.py", "x" * 101])
def test_workspace_paths_are_validated(path):
    env = make()
    env.reset(options={"task_id": first(env, "python")})
    obs, *_ = env.step(
        tc("write_file", path=path, content="1") + tc("python", code="print(open('sales.csv').read(6))")
    )
    assert "path must be a relative file name" in obs[-2]["content"]
    assert "region" in obs[-1]["content"] and '"error"' not in obs[-1]["content"]


def test_the_reason_is_never_shown_to_the_model():
    env = make()
    tid, _, name, value = _single(env)
    env.reset(options={"task_id": tid})
    shown = []
    for turn in [
        tc("find_customer", name=name + "x"),
        tc("find_customer", name=name),
        "<answer>1</answer>",
    ]:
        obs, _, terminated, _, info = env.step(turn)
        shown += [m["content"] for m in obs if m["role"] != "assistant"]
    assert terminated and str(value) in info["reason"] or "does not state" in info["reason"]
    assert not any(info["reason"] in text or "does not state" in text for text in shown)


def test_an_over_long_final_reply_is_invalid_and_cheap():
    env = make()
    tid, _, name, _ = _single(env)
    reward, info = play(env, tid, [tc("find_customer", name=name), "<answer>" * 40_000])
    assert reward == 0.0 and info["outcome"] == "invalid" and "longer than" in info["reason"]


# ---- round 3 red team -----------------------------------------------------------------------
def test_the_python_step_needs_a_python_run_not_any_compute_call():
    env = make()
    tasks = [(str(i), env.get_task(i)) for i in range(200) if env.get_task(i)["kind"] == "python"]
    faulty = next(tid for tid, t in tasks if t["world"]["faults"].get("python"))
    for tid, task in [tasks[0], (faulty, env.get_task(faulty))]:
        answer = f"<answer>{json.dumps(task['answer'])}</answer>"
        reward, info = play(env, tid, [tc("calculator", expression="1+1"), answer])
        assert reward < 0.5 and "needed calls not made successfully: python" in info["reason"], info
        assert play(env, tid, env.reference_answer(task))[0] == 1.0
    # the provoked python fault must be met and retried: one python call that the env failed is not a run
    task = env.get_task(faulty)
    once = tc("python", code=task["plan"][0][0]["arguments"]["code"])
    reward, info = play(env, faulty, [once, f"<answer>{json.dumps(task['answer'])}</answer>"])
    assert reward == 0.0 and "no successful tool call" in info["reason"]


def test_a_call_left_unclosed_at_the_end_of_a_turn_runs():
    env = make()
    tid = first(env, "single")
    task = env.get_task(tid)
    call = tc("find_customer", name=task["plan"][0][0]["arguments"]["name"]).removesuffix("</tool_call>")
    reward, info = play(env, tid, [call, f"<answer>{json.dumps(task['answer'])}</answer>"])
    assert reward == 1.0, info["reason"]


def test_answer_blocks_that_disagree_are_invalid():
    env = make()
    tid = first(env, "single")
    task = env.get_task(tid)
    value = task["answer"][0]
    turns = env.reference_answer(task)[:-1]
    reward, info = play(env, tid, [*turns, f"<answer>[{value + 1}]</answer><answer>[{value}]</answer>"])
    assert reward == 0.0 and info["outcome"] == "invalid" and "different <answer> blocks" in info["reason"]


def test_negations_other_names_and_cents_are_refused_in_the_env():
    env = make()
    for tid in [first(env, "single"), first(env, "nested")]:
        task = env.get_task(tid)
        turns = env.reference_answer(task)[:-1]
        value = task["answer"][0]
        other = next(c["name"] for c in task["world"]["customers"] if c["name"] not in task["question"])
        for final in (
            f"<answer>not {value}</answer>",
            f"<answer>{value} is incorrect</answer>",
            f"<answer>{value} for {other.split()[0]}</answer>",
            f"<answer>{value}; O-8753</answer>",
            f"<answer>{value}; fifteen</answer>",
            f"<answer>[{round(value + 0.01, 2)}]</answer>",
        ):
            reward, info = play(env, tid, [*turns, final])
            assert reward < 0.5, (final, info["reason"])
        assert play(env, tid, [*turns, f"<answer>{value}</answer>"])[0] == 1.0


def test_text_answers_in_user_files_refuse_alternatives(tmp_path):
    path = tmp_path / "text.jsonl"
    record = {
        "id": "t",
        "question": "What is the capital of France? Use the calculator to compute 2+2 first.",
        "ground_truth": [{"calculator": {"expression": []}}],
        "answer": ["Paris"],
    }
    path.write_text(json.dumps(record) + "\n")
    env = make(tasks=str(path))
    calc = tc("calculator", expression="2+2")
    for final in ("Paris / lyon / marseille", "paris, lyon", "PARIS / LYON", "not Paris"):
        assert play(env, "t", [calc, f"<answer>{final}</answer>"])[0] < 0.5, final
    assert play(env, "t", [calc, "<answer>The capital of France is Paris.</answer>"])[0] == 1.0


# ---- second red team --------------------------------------------------------------------------
def test_the_python_step_needs_a_run_that_prints_the_values_it_computed():
    env = make()
    tid = next(
        str(i)
        for i in range(200)
        if env.get_task(i)["kind"] == "python" and not env.get_task(i)["world"]["faults"]
    )
    task = env.get_task(tid)
    answer = f"<answer>{json.dumps(task['answer'])}</answer>"
    read = tc("read_file", path="sales.csv")
    for code in ('print("done")', "print(1)", f"print({task['answer'][0]!r})"):
        reward, info = play(env, tid, [read + tc("python", code=code), answer])
        assert reward < 0.5 and "needed calls not made successfully: python" in info["reason"], (code, info)
    assert play(env, tid, env.reference_answer(task))[0] == 1.0
