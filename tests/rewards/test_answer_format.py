import pytest

from rewards.answer_format import extract_answer, find_braced, split_think
from rewards.composite import weighted_sum


@pytest.mark.parametrize(
    "text,ok,reason_part",
    [
        ("<think>reason</think> \\boxed{1}", True, "ok"),
        ("  \n<think>reason</think>\nanswer", True, "ok"),
        ("no tags at all", False, "does not start with <think>"),
        ("answer first <think>x</think> 1", False, "does not start with <think>"),
        ("<think>never closed", False, "missing </think>"),
        ("<think>a</think><think>b</think> 1", False, "one think block"),
        ("<think>a</think> 1 </think>", False, "one think block"),
        ("<think>   </think> 1", False, "empty <think>"),
        ("<think>a</think>   ", False, "nothing after"),
    ],
)
def test_split_think(text, ok, reason_part):
    split = split_think(text)
    assert split.ok is ok
    assert reason_part in split.reason


def test_find_braced_handles_nesting_and_escapes():
    assert find_braced("\\boxed{\\frac{1}{2}} and \\boxed{ {a} }", "\\boxed") == (
        ["\\frac{1}{2}", " {a} "],
        "",
    )
    assert find_braced("\\boxed{\\{1,2\\}}", "\\boxed") == (["\\{1,2\\}"], "")
    assert find_braced("\\boxed {7}", "\\boxed") == (["7"], "")
    assert find_braced("\\boxed{\\frac{1}{2}", "\\boxed")[1] == "unbalanced braces after \\boxed"
    assert find_braced("\\boxed 7", "\\boxed") == ([], "\\boxed without braces")


def test_find_braced_is_linear_on_deep_nesting():
    text = "\\boxed{" + "{" * 100_000 + "}" * 100_001
    contents, problem = find_braced(text, "\\boxed")
    assert problem == "" and len(contents[0]) == 200_000


@pytest.mark.parametrize(
    "part,fmt,answer,reason_part",
    [
        (" \\boxed{42}", "boxed", "42", "ok"),
        (" so \\boxed{\\frac{1}{2}}.", "boxed", "\\frac{1}{2}", "ok"),
        (" \\boxed{1} or \\boxed{2}", "boxed", None, "2 \\boxed{} answers"),
        (" 42", "boxed", None, "no \\boxed{}"),
        (" \\boxed{}", "boxed", None, "empty"),
        (" <answer> 7 </answer>", "answer_tag", "7", "ok"),
        (" <answer>7", "answer_tag", None, "expected one <answer>"),
        (' {"answer": 3.5}', "json", "3.5", "ok"),
        (' ```json\n{"answer": "x"}\n```', "json", "x", "ok"),
        (' {"answer": [1]}', "json", None, "string or a number"),
        (" [1, 2]", "json", None, 'no "answer"'),
        (" not json", "json", None, "not a JSON object"),
        # red team F6: two answers in one object (json keeps the last) are refused
        (' {"answer": 6, "answer": 5}', "json", None, "repeats the key 'answer'"),
        (' {"answer": 5, "note": {"a": 1, "a": 2}}', "json", None, "repeats the key 'a'"),
        # red team F7: a stray closing brace after the box
        (" \\boxed{5}}", "boxed", None, "unbalanced braces"),
        (" {\\boxed{5}", "boxed", None, "unbalanced braces"),
        (" \\boxed{\\{1, 2\\}} and a set \\{3\\}", "boxed", "\\{1, 2\\}", "ok"),
    ],
)
def test_extract_answer(part, fmt, answer, reason_part):
    got, reason = extract_answer(part, fmt)
    assert got == answer
    assert reason_part in reason


def test_extract_answer_rejects_unknown_format():
    with pytest.raises(ValueError, match="unknown answer format"):
        extract_answer("x", "yaml")


def test_weighted_sum():
    assert weighted_sum({"a": 1.0, "b": 0.0}, {"a": 0.25, "b": 0.75}) == 0.25
    with pytest.raises(KeyError, match="no reward component"):
        weighted_sum({"a": 1.0}, {"b": 1.0})
