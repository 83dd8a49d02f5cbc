import json
import time

import gymnasium as gym
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from atropos_envs import TaskFileError
from atropos_envs.checker import check_text_env


def make(**kwargs):
    return gym.make("atropos_envs/Format-v0", **kwargs).unwrapped


def answer(env, task_id, text):
    env.reset(options={"task_id": task_id})
    return env.step(text)


def test_passes_the_contract_and_check_env():
    check_text_env(make())
    check_text_env(make(answer_format="mixed", difficulty=3))


def test_correct_equivalent_and_wrong_answers():
    env = make(
        tasks=[{"id": "half", "question": "What is 1/2?", "answer": "\\frac{1}{2}"}], answer_format="boxed"
    )
    _, reward, terminated, truncated, info = answer(env, "half", "<think>one half</think> \\boxed{0.5}")
    assert (reward, terminated, truncated) == (1.0, True, False)
    assert info["components"] == {"format": 1.0, "correct": 1.0}
    assert "correct" in info["reason"]
    _, reward, *_, info = answer(env, "half", "<think>hmm</think> \\boxed{\\tfrac13}")
    assert reward == pytest.approx(0.2) and info["components"]["correct"] == 0.0
    _, reward, *_, info = answer(env, "half", "\\boxed{0.5}")
    assert reward == 0.0 and "does not start with <think>" in info["reason"]


@pytest.mark.parametrize(
    "fmt,text",
    [
        ("boxed", "<think>t</think>\\boxed{7}"),
        ("answer_tag", "<think>t</think><answer>7</answer>"),
        ("json", '<think>t</think>{"answer": 7}'),
    ],
)
def test_each_answer_format(fmt, text):
    env = make(tasks=[{"question": "3+4?", "answer": "7", "answer_format": fmt}])
    assert answer(env, "0", text)[1] == 1.0


def test_format_weight_is_configurable():
    env = make(tasks=[{"question": "q", "answer": "7"}], format_weight=0.0)
    assert answer(env, "0", "<think>t</think>\\boxed{8}")[1] == 0.0


def test_generator_is_deterministic_and_ids_select_tasks():
    a, b = make(difficulty=2), make(difficulty=2)
    assert [a.get_task(i) for i in range(20)] == [b.get_task(i) for i in range(20)]
    obs1, info1 = a.reset(seed=7)
    obs2, info2 = b.reset(seed=7)
    assert obs1 == obs2 and info1 == info2
    assert a.reset(options={"task_id": "3"})[0][-1]["content"] == a.get_task("3")["question"]


def test_generated_answers_are_right():
    env = make(difficulty=3)
    for i in range(50):
        task = env.get_task(i)
        assert answer(env, str(i), f"<think>x</think> \\boxed{{{task['answer']}}}")[1] == 1.0, task


def test_loads_common_math_dataset_shapes(tmp_path):
    records = [
        {"question": "2+2?", "answer": 4},
        {"problem": "Half of 1?", "solution": "We get $\\boxed{\\frac{1}{2}}$."},
        {"question": "Tom has 3 apples and buys 2.", "answer": "He has 3+2=5.\n#### 5"},
        {"key": "k1", "prompt": "1+1?", "answer": "2"},
    ]
    path = tmp_path / "tasks.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n")
    env = make(tasks=str(path))
    assert env.task_ids() == ["0", "1", "2", "k1"]
    assert [env.get_task(i)["answer"] for i in env.task_ids()] == ["4", "\\frac{1}{2}", "5", "2"]
    parquet = tmp_path / "tasks.parquet"
    import datasets

    datasets.Dataset.from_list([{"id": "p1", "question": "1+2?", "answer": "3"}]).to_parquet(str(parquet))
    assert make(tasks=str(parquet)).get_task("p1")["answer"] == "3"
    as_json = tmp_path / "tasks.json"
    as_json.write_text(json.dumps([{"id": "j", "question": "q", "answer": "1"}]))
    assert make(tasks=str(as_json)).task_ids() == ["j"]


@pytest.mark.parametrize(
    "content,message",
    [
        ('{"question": "q"}\n', "line 1: needs an 'answer'"),
        ('{"answer": "1"}\n', "line 1: needs a 'question'"),
        ('{"question": "q", "answer": "1"}\nnot json\n', "line 2: not valid JSON"),
        ("", "no tasks"),
        (
            '{"id": 1, "question": "q", "answer": "1"}\n{"id": 1, "question": "q", "answer": "2"}\n',
            "duplicate task id",
        ),
    ],
)
def test_bad_task_files_get_clear_errors(tmp_path, content, message):
    path = tmp_path / "bad.jsonl"
    path.write_text(content)
    with pytest.raises(TaskFileError, match=message):
        make(tasks=str(path))


def test_missing_task_file_and_unknown_task_id(tmp_path):
    with pytest.raises(TaskFileError, match="does not exist"):
        make(tasks=str(tmp_path / "nope.jsonl"))
    with pytest.raises(KeyError, match="no task with id"):
        make(tasks=[{"question": "q", "answer": "1"}]).reset(options={"task_id": "missing"})


def test_step_before_reset_and_after_the_end_are_api_errors():
    env = make()
    with pytest.raises(gym.error.ResetNeeded):
        env.step("x")
    env.reset(seed=1)
    env.step("x")
    with pytest.raises(gym.error.ResetNeeded):
        env.step("x")


def test_equivalence_blow_up_is_cut_off_by_the_time_bound():
    env = make(tasks=[{"question": "q", "answer": "x^2"}], score_timeout_s=1.0)
    started = time.monotonic()
    # a deeply nested but guard-passing expression that makes sympy.simplify slow
    hard = "\\sin(" * 8 + "x" + ")" * 8 + "^{99}"
    _, reward, *_, info = answer(env, "0", f"<think>t</think>\\boxed{{{hard}}}")
    assert reward <= 0.2 and info["reason"]
    assert time.monotonic() - started < 10


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.text(max_size=400)
    | st.from_regex(r"(<think>)?[\\{}a-z0-9 ^]{0,80}(</think>)?( ?\\boxed\{[0-9{}^\\a-z/]{0,40}\}?)?")
)
def test_garbage_scores_in_range_with_a_reason(text):
    env = make(tasks=[{"question": "q", "answer": "12"}])
    _, reward, terminated, _, info = answer(env, "0", text)
    assert 0.0 <= reward <= 1.0 and terminated and info["reason"]


FORMATS = ("boxed", "answer_tag", "json")


def _score(env, task, text):
    from atropos_envs.core import Trajectory

    return env.score(
        Trajectory(
            task, [{"role": "user", "content": task["question"]}, {"role": "assistant", "content": text}], {}
        )
    )


@pytest.mark.parametrize("difficulty", [1, 2, 3])
def test_no_probe_passes_and_the_reference_scores_full_marks(difficulty):
    worst: dict[str, float] = {}
    for fmt in FORMATS:
        env = make(difficulty=difficulty, answer_format=fmt)
        for i in range(200):
            task = env.get_task(i)
            reference = _score(env, task, env.reference_answer(task)[0])
            assert reference.reward == 1.0 and reference.outcome == "ok", (task, reference)
            for name, turns in env.probes(task).items():
                score = _score(env, task, turns[0])
                assert score.reward < 0.5, (name, task, score)
                worst[name] = max(worst.get(name, 0.0), score.reward)
    assert worst and max(worst.values()) <= 0.2


def test_probes_are_refused_by_the_equivalence_itself_not_only_by_the_plain_number_rule():
    # without the written-out-number rule only the echoed arithmetic (really equal) may pass
    for difficulty in (1, 2, 3):
        env = make(difficulty=difficulty, plain_numeric_answers=False)
        for i in range(6):
            task = env.get_task(i)
            for name, turns in env.probes(task).items():
                if name != "question_math_echo":
                    assert _score(env, task, turns[0]).reward < 0.5, (name, task)


def test_probes_on_symbolic_file_answers():
    tasks = [
        {"question": "Expand (x+1)^2.", "answer": "x^2+2x+1"},
        {"question": "Domain?", "answer": "(0, \\infty)"},
        {"question": "Root?", "answer": "\\sqrt{2}"},
        {"question": "Roots?", "answer": "\\{-1, 1\\}"},
    ]
    for fmt in FORMATS:
        env = make(tasks=[dict(t, answer_format=fmt) for t in tasks])
        for task_id in env.task_ids():
            task = env.get_task(task_id)
            assert _score(env, task, env.reference_answer(task)[0]).reward == 1.0
            for name, turns in env.probes(task).items():
                assert _score(env, task, turns[0]).reward < 0.5, (name, task)


def test_outcomes():
    env = make(tasks=[{"question": "q", "answer": "12"}])
    assert answer(env, "0", "no think")[4]["outcome"] == "invalid"
    assert answer(env, "0", "<think>t</think> 12")[4]["outcome"] == "invalid"
    assert answer(env, "0", "<think>t</think> \\boxed{}")[4]["outcome"] == "invalid"
    assert answer(env, "0", "<think>t</think> \\boxed{13}")[4]["outcome"] == "ok"
    assert answer(env, "0", "<think>t</think> \\boxed{12}")[4]["outcome"] == "ok"
    slow = make(tasks=[{"question": "q", "answer": "x^2"}], score_timeout_s=0.5)
    _, reward, *_, info = answer(
        slow, "0", "<think>t</think>\\boxed{" + "\\sin(" * 8 + "x" + ")" * 8 + "^{99}}"
    )
    assert info["outcome"] in ("timeout", "ok") and reward <= 0.2
    if info["outcome"] == "timeout":
        assert "longer than" in info["reason"]


def test_numeric_references_need_a_written_out_number():
    env = make(tasks=[{"question": "What is 16 + 9?", "answer": "25"}])
    _, reward, *_, info = answer(env, "0", "<think>t</think> \\boxed{16 + 9}")
    assert reward == pytest.approx(0.2) and "not an expression" in info["reason"]
    assert answer(env, "0", "<think>t</think> \\boxed{25 cm}")[1] == 1.0


def test_the_question_decides_trailing_nouns_and_percent_units():
    env = make(
        tasks=[
            {"question": "Ann has 16 apples and gets 9 more. How many apples?", "answer": "25"},
            {"question": "What percent of 200 is 18?", "answer": "9"},
            {"question": "What is 18 divided by 200?", "answer": "0.09"},
        ]
    )
    assert answer(env, "0", "<think>t</think> \\boxed{25 apples}")[1] == 1.0
    for word in ("trillion", "dozens", "maybe", "factorial"):
        assert answer(env, "0", f"<think>t</think> \\boxed{{25 {word}}}")[1] < 0.5
    assert answer(env, "1", "<think>t</think> \\boxed{9\\%}")[1] == 1.0
    assert answer(env, "2", "<think>t</think> \\boxed{9\\%}")[1] == 1.0
    assert answer(env, "2", "<think>t</think> \\boxed{0.09\\%}")[1] < 0.5
    assert (
        answer(
            make(tasks=[{"question": "q", "answer": "25"}], plain_numeric_answers=False),
            "0",
            "<think>t</think> \\boxed{16 + 9}",
        )[1]
        == 1.0
    )


@pytest.mark.parametrize("weight", [0.5, 0.8, -0.1])
def test_format_share_must_stay_below_the_pass_bar(weight):
    with pytest.raises(ValueError, match="below the pass bar"):
        make(format_weight=weight)


# ---- red team round 3 (math_report.md) --------------------------------------------------------


def test_step_functions_and_near_misses_are_not_paid_on_symbolic_task_files():
    env = make(
        tasks=[
            {"id": "sq", "question": "Expand (x-1)(x+1).", "answer": "x^2-1"},
            {"id": "pow", "question": "What is 2^40?", "answer": "2^{40}"},
        ]
    )
    for wrong in (
        "x^2-1 + \\lceil 10^{4}x\\rceil-\\lfloor 10^{4}x\\rfloor-1",
        "(x^2-1)(\\lceil x\\rceil-\\lfloor x\\rfloor)",
        "x^2-1+\\lfloor\\frac{1}{x^2+1}\\rfloor",
        "1.0000000001x^2-1",
    ):
        _, reward, *_, info = answer(env, "sq", f"<think>t</think> \\boxed{{{wrong}}}")
        assert reward < 0.5 and info["outcome"] == "ok", info["reason"]
    _, reward, *_, info = answer(env, "pow", "<think>t</think> \\boxed{2^{40.0000000001}}")
    assert reward < 0.5 and "within" not in info["reason"]
    assert answer(env, "pow", "<think>t</think> \\boxed{1099511627776.0}")[1] == 1.0
    assert answer(env, "sq", "<think>t</think> \\boxed{(x-1)(x+1)}")[1] == 1.0


def test_a_unit_must_be_the_one_the_question_asks_for():
    env = make(
        tasks=[
            {"id": "rope", "question": "How long is the rope in meters?", "answer": "12"},
            {
                "id": "sale",
                "question": "A \\$50 item is 20\\% off. What is the sale price in dollars?",
                "answer": "40",
            },
        ]
    )
    for unit in ("cm", "mm", "km", "feet", "inches", "m^2", "m/s"):
        _, reward, *_, info = answer(env, "rope", f"<think>t</think> \\boxed{{12 {unit}}}")
        assert reward < 0.5 and "the question asks for m" in info["reason"], unit
    assert answer(env, "rope", "<think>t</think> \\boxed{12 meters}")[1] == 1.0
    assert answer(env, "rope", "<think>t</think> \\boxed{12\\,\\text{m}}")[1] == 1.0
    for wrong in ("40 cents", "40\\%"):
        assert answer(env, "sale", f"<think>t</think> \\boxed{{{wrong}}}")[1] < 0.5
    assert answer(env, "sale", "<think>t</think> \\boxed{\\$40}")[1] == 1.0


@pytest.mark.parametrize(
    "fmt,text",
    [
        ("answer_tag", "<think>t</think> <answer>\\boxed{25}</answer>"),
        ("answer_tag", "<think>t</think> <answer>**25**</answer>"),
        ("json", '<think>t</think> {"answer": "\\\\boxed{25}"}'),
        ("boxed", "<think>t</think> \\boxed{\\bf 25}"),
        ("boxed", "<think>t</think> \\boxed{\\underline{25}}"),
        ("boxed", "<think>t</think> \\boxed{\\{25\\}}"),
    ],
)
def test_one_wrapper_around_the_whole_answer_is_right(fmt, text):
    env = make(tasks=[{"question": "What is 16 + 9?", "answer": "25", "answer_format": fmt}])
    _, reward, *_, info = answer(env, "0", text)
    assert reward == 1.0, info["reason"]


@pytest.mark.parametrize(
    "fmt,text",
    [
        ("answer_tag", "<think>t</think> <answer>\\boxed{25} \\boxed{26}</answer>"),
        ("answer_tag", "<think>t</think> <answer>**25** or **26**</answer>"),
        ("json", '<think>t</think> {"answer": "\\\\boxed{26}"}'),
    ],
)
def test_a_wrapper_hides_no_second_answer(fmt, text):
    env = make(tasks=[{"question": "What is 16 + 9?", "answer": "25", "answer_format": fmt}])
    assert answer(env, "0", text)[1] < 0.5


def test_fractions_with_units_percent_words_and_mixed_numbers():
    env = make(
        tasks=[
            {"id": "area", "question": "Find the area.", "answer": "\\frac{3}{2}"},
            {"id": "pct", "question": "What percent of 50 is 10?", "answer": "20"},
            {"id": "cm", "question": "How long is the pencil in cm?", "answer": "\\frac{1}{2}"},
        ]
    )
    for right in ("\\frac{3}{2}\\text{ square units}", "1\\frac{1}{2}", "1 1/2"):
        assert answer(env, "area", f"<think>t</think> \\boxed{{{right}}}")[1] == 1.0, right
    for right in ("20 percent", "20\\text{ percent}", "20\\%"):
        assert answer(env, "pct", f"<think>t</think> \\boxed{{{right}}}")[1] == 1.0, right
    assert answer(env, "cm", "<think>t</think> \\boxed{\\frac{1}{2}\\,\\text{cm}}")[1] == 1.0
    assert answer(env, "cm", "<think>t</think> \\boxed{\\frac{1}{2}\\,\\text{m}}")[1] < 0.5


def test_unit_step_and_percent_probes_are_refused():
    env = make(
        tasks=[
            {"id": "rope", "question": "How long is the rope in meters?", "answer": "12"},
            {"id": "pct", "question": "What is 20% of 40?", "answer": "8"},
            {"id": "sq", "question": "Expand (x-1)(x+1).", "answer": "x^2-1"},
        ]
    )
    names = set()
    for task_id in env.task_ids():
        task = env.get_task(task_id)
        for name, turns in env.probes(task).items():
            names.add(name)
            assert _score(env, task, turns[0]).reward < 0.5, (name, task)
    assert {"unit_not_asked", "percent_not_asked", "step_function_padding"} <= names
