import json
from typing import Literal

import gymnasium as gym
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import atropos_envs  # noqa: F401
from atropos_envs.tools import Tool
from rewards.tool_calls import match_calls, parse_tool_calls


def make(**kwargs):
    return gym.make("atropos_envs/ToolUse-v0", **kwargs).unwrapped


def tc(name, **args):
    return f"<tool_call>{json.dumps({'name': name, 'arguments': args})}</tool_call>"


def first(env, kind):
    return next(str(i) for i in range(200) if env.get_task(i)["kind"] == kind)


def test_schema_comes_from_the_signature_and_docstring():
    def book(city: str, nights: int, room: Literal["single", "double"] = "single", state: dict | None = None) -> str:
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


def test_a_whole_episode_with_parallel_calls():
    env = make()
    tid = first(env, "parallel")
    task = env.get_task(tid)
    a, b = (g["capital_of"]["country"][0] for g in task["ground_truth"])
    obs, _ = env.reset(options={"task_id": tid})
    assert "<tools>" in obs[0]["content"] and '"name": "capital_of"' in obs[0]["content"]
    obs, reward, terminated, truncated, info = env.step("<think>both at once</think>" + tc("capital_of", country=a) + tc("capital_of", country=b))
    assert (reward, terminated, truncated) == (0.0, False, False)
    assert [m["role"] for m in obs[-2:]] == ["tool", "tool"] and "<tool_response>" in obs[-1]["content"]
    _, reward, terminated, _, info = env.step(f"<answer>{task['answer'][0]} and {task['answer'][1]}</answer>")
    assert terminated and reward == 1.0, info


def test_invalid_calls_are_reported_and_recovery_counts():
    env = make()
    tid = first(env, "single")
    task = env.get_task(tid)
    env.reset(options={"task_id": tid})
    obs, *_ = env.step(tc("capital_of", country=7) + "<tool_call>{not json}</tool_call>")
    assert "invalid arguments" in obs[-1]["content"] or "invalid arguments" in obs[-2]["content"]
    env.step(tc("capital_of", country=task["question"].split(" of ")[1].rstrip("?")))
    _, reward, terminated, _, info = env.step(f"<answer>{task['answer'][0]}</answer>")
    c = info["components"]
    assert terminated and c["task_completion"] == 1.0 and c["tool_call_accuracy"] == pytest.approx(1 / 3)
    assert c["error_recovery"] == pytest.approx(0.5)  # the bad-argument call was fixed; the unparseable one has no tool
    assert 0 < reward < 1


def test_turn_limit_truncates():
    env = make(max_turns=2)
    env.reset(options={"task_id": "0"})
    env.step(tc("calculator", expression="1+1"))
    _, reward, terminated, truncated, info = env.step(tc("calculator", expression="2+2"))
    assert truncated and not terminated and info["components"]["task_completion"] == 0.0


def test_no_calls_and_a_wrong_answer_score_low():
    env = make()
    env.reset(options={"task_id": first(env, "single")})
    _, reward, terminated, _, info = env.step("<answer>I don't know</answer>")
    assert terminated and reward == 0.0 and info["reason"].startswith("answer wrong")


def test_user_tools_and_weights():
    def shout(text: str) -> str:
        """Upper-case a text."""
        return text.upper()

    env = make(tools=[shout], tasks=[{"question": "Shout hi", "ground_truth": [{"shout": {"text": ["hi"]}}], "answer": ["HI"]}],
               weights={"task_completion": 1.0})  # fmt: skip
    env.reset(options={"task_id": "0"})
    obs, *_ = env.step(tc("shout", text="hi"))
    assert '"content": "HI"' in obs[-1]["content"]
    assert env.step("<answer>HI</answer>")[1] == 1.0
    with pytest.raises(ValueError, match="unknown reward components"):
        make(weights={"speed": 1.0})


BFCL = {
    "id": "parallel_multiple_0",
    "question": [[{"role": "user", "content": "Weather in Paris in celsius, and in Boston?"}]],
    "function": [{"name": "get_weather", "description": "Weather for a city",
                  "parameters": {"type": "dict", "properties": {"city": {"type": "string"},
                                 "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                                 "days": {"type": "float"}}, "required": ["city"]}}],
    "ground_truth": [{"get_weather": {"city": ["Paris", "Paris, France"], "unit": ["celsius"], "days": ["", 1.0]}},
                     {"get_weather": {"city": ["Boston"], "unit": ["", "fahrenheit"], "days": [""]}}],
}  # fmt: skip


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
    _, _, _, _, info = env.step(tc("get_weather", city="Paris", unit="kelvin") + tc("get_weather", city="Boston"))
    assert info["components"]["task_completion"] == 0.0


def test_parse_and_match_helpers():
    calls, errors = parse_tool_calls('<think><tool_call>{"name":"x"}</tool_call></think><tool_call>{"name": "f", "arguments": "{\\"a\\": 1}"}</tool_call><tool_call>[]</tool_call><tool_call>')
    assert calls == [{"name": "f", "arguments": {"a": 1}}] and len(errors) == 2
    assert match_calls([{"name": "f", "arguments": {"a": 1}}], [{"f": {"a": [1.0]}}])[0]  # an int for a float
    assert not match_calls([{"name": "f", "arguments": {"a": True}}], [{"f": {"a": [1]}}])[0]  # bool is not int
    assert not match_calls([{"name": "f", "arguments": {}}], [{"f": {"a": [1]}}])[0]


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.text(max_size=120) | st.builds(lambda n, a: tc(n, **a), st.sampled_from(["calculator", "capital_of", "nope"]),
                                                   st.dictionaries(st.sampled_from(["expression", "country", "x"]),
                                                                   st.integers() | st.text(max_size=20), max_size=2)),
                min_size=1, max_size=4), st.integers(0, 30))  # fmt: skip
def test_any_sequence_of_turns_scores_in_range(turns, task_id):
    env = make(max_turns=4)
    env.reset(options={"task_id": str(task_id)})
    for turn in turns:
        _, reward, terminated, truncated, info = env.step(turn)
        assert info["reason"]
        if terminated or truncated:
            assert 0.0 <= reward <= 1.0
            break
