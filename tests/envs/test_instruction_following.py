import json
import time

import gymnasium as gym
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import atropos_envs  # noqa: F401
from atropos_envs import TaskFileError
from atropos_envs.envs.if_constraints import conflicts, contradictory
from tests.envs.helpers import reply


def make(**kwargs):
    return gym.make("atropos_envs/InstructionFollowing-v0", **kwargs).unwrapped


def test_loads_ifeval_files_as_they_are(tmp_path):
    rows = [
        {"key": 1000, "prompt": "Write a haiku. Do not use commas. Include a title like <<t>>.",
         "instruction_id_list": ["punctuation:no_comma", "detectable_format:title"], "kwargs": [{}, {}]},
        # the Hugging Face copy of IFEval carries every keyword, mostly null
        {"key": 1001, "prompt": "Answer in at least 5 words.", "instruction_id_list": ["length_constraints:number_words"],
         "kwargs": [{"num_words": 5, "relation": "at least", "keyword": None, "letter": None}]},
    ]  # fmt: skip
    path = tmp_path / "ifeval.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    env = make(tasks=str(path))
    assert env.task_ids() == ["1000", "1001"]
    reward, info = reply(env, "<<Autumn>>\nleaves fall slowly down", "1000")
    assert reward == 1.0 and info["components"]["strict:punctuation:no_comma"] == 1.0
    reward, info = reply(env, "<<Autumn>>\nleaves, falling", "1000")
    assert reward == 0.5 and info["reason"] == "not followed: punctuation:no_comma"
    assert info["components"]["strict_all"] == 0.0
    assert reply(env, "one two three", "1001")[0] == 0.0


@pytest.mark.parametrize(
    "row,message",
    [
        ({"prompt": "p", "instruction_id_list": ["nope:nope"], "kwargs": [{}]}, "unknown instruction id"),
        ({"prompt": "p", "instruction_id_list": ["punctuation:no_comma"], "kwargs": []}, "one dict per instruction"),
        ({"prompt": "p", "instruction_id_list": ["length_constraints:number_words"], "kwargs": [{"num_words": 5}]},
         "missing a required argument: 'relation'"),
    ],
)
def test_bad_ifeval_rows_are_named(tmp_path, row, message):
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(row) + "\n")
    with pytest.raises(TaskFileError, match=message):
        make(tasks=str(path))


def test_reward_variants_are_selectable():
    task = {"prompt": "p", "instruction_id_list": ["punctuation:no_comma", "startend:quotation"], "kwargs": [{}, {}]}
    text = 'Here you go, friend:\n"no commas here"'
    _, info = reply(make(tasks=[task]), text)
    assert info["components"]["strict_fraction"] == 0.0 and info["components"]["loose_all"] == 1.0
    assert reply(make(tasks=[task], reward="loose_all"), text)[0] == 1.0


def test_generated_tasks_are_deterministic_and_never_contradictory():
    a, b = make(max_constraints=4), make(max_constraints=4)
    for i in range(300):
        task = a.get_task(i)
        assert task == b.get_task(i)
        ids = task["instruction_id_list"]
        assert 1 <= len(ids) <= 4
        assert not any(conflicts(x, y) for n, x in enumerate(ids) for y in ids[n + 1:]), ids
        assert all(sentence_part in task["prompt"] for sentence_part in ["."])


def test_generator_covers_every_kind_including_new_ones():
    env = make(max_constraints=3)
    seen = {iid for i in range(600) for iid in env.get_task(i)["instruction_id_list"]}
    assert {"atropos:nth_word_language", "atropos:word_at_position", "atropos:nested_bullets"} <= seen
    assert len(seen) == 30
    assert not any(i.startswith("atropos:") for n in range(200) for i in make(include_new=False).get_task(n)["instruction_id_list"])


def test_value_level_contradictions_are_rejected():
    letter = ("keywords:letter_frequency", {"letter": "r", "let_frequency": 2, "let_relation": "less than"}, "")
    keyword = ("keywords:existence", {"keywords": ["river", "orbit"]}, "")
    assert contradictory([letter, keyword])
    forbidden = ("keywords:forbidden_words", {"forbidden_words": ["river", "x"]}, "")
    assert contradictory([forbidden, keyword])


def test_a_generated_task_can_be_satisfied():
    task = {"prompt": "p", "instruction_id_list": ["atropos:nth_word_language", "detectable_content:postscript"],
            "kwargs": [{"n": 3, "language": "el"}, {"postscript_marker": "P.S."}]}  # fmt: skip
    assert reply(make(tasks=[task]), "We went καλά home now σήμερα P.S. ναι")[0] == 1.0


def test_hostile_replies_are_bounded():
    env = make(max_constraints=6, min_constraints=6)
    started = time.monotonic()
    for text in ["[" * 50_000, "\n" * 50_000, "<<" * 30_000, " " * 100_000 + "p.s."]:
        for task_id in ("0", "1"):
            reward, info = reply(env, text, task_id)
            assert 0.0 <= reward <= 1.0 and info["reason"]
    assert time.monotonic() - started < 60


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=300), st.integers(0, 50))
def test_any_reply_scores_in_range(text, task_id):
    reward, info = reply(make(max_constraints=4), text, str(task_id))
    assert 0.0 <= reward <= 1.0 and info["reason"] and "strict_all" in info["components"]
