"""The final-answer check of ToolUse-v0 (rewards.tool_answers): red-team regressions."""

import json

import pytest

from rewards.tool_answers import MAX_REPLY_CHARS, answer_correct, extract_answer

Q = "What is the account balance of our customer Thuwex Morpexlis?"
OTHERS = ["Pexthu Arifenpex", "C-43210", "Selgrafen valve"]


def ok(body, expected=(5902.2,), question=Q):
    return answer_correct(f"<answer>{body}</answer>", list(expected), question=question, others=OTHERS)[0]


def test_extraction_is_a_linear_scan_of_the_last_closed_block():
    assert extract_answer("<answer>a</answer> x <answer>b</answer>") == "b"
    assert extract_answer("<answer>a<answer>b</answer>") == "b"
    assert extract_answer("<answer>" * 100_000) is None  # repeated unclosed tags (was quadratic)
    assert extract_answer("<answer>" * 100_000 + "5</answer>") == "5"


def test_an_over_long_final_reply_is_not_read():
    reply = "<answer>" * (MAX_REPLY_CHARS // 8 + 1)
    assert answer_correct(reply, [1]) == (
        False,
        f"final reply longer than {MAX_REPLY_CHARS} characters",
    )
    padded = "x" * MAX_REPLY_CHARS + "<answer>5902.2</answer>"
    assert not answer_correct(padded, [5902.2])[0]


@pytest.mark.parametrize(
    "body",
    [
        "The balance is 5902.2",
        "The account balance of Thuwex Morpexlis is 5902.2",
        "Thuwex Morpexlis has 5902.2",
        "Their balance is 5902.2",
        "The balance is $5,902.20.",
        "It is 5902.2",
        "Balance: 5902.2",
    ],
)
def test_right_values_stated_in_a_sentence_pass(body):
    assert ok(body)


def test_sentences_with_several_values_and_numbers_from_the_question():
    q2 = "What are the account balances of our customers Pexthu Arifenpex and Selthu Quiselgra?"
    both = "Pexthu Arifenpex has 5535.11 and Selthu Quiselgra has 3455.79"
    assert answer_correct(f"<answer>{both}</answer>", [5535.11, 3455.79], question=q2, others=OTHERS)[0]
    assert ok("123 * 456 = 56088", [56088], "What is 123 * 456?")
    assert ok("5 km is 5000 m", [5000], "Convert 5 km to metres.")
    assert ok("The capital of France is Paris", ["Paris"], "What is the capital of France?")


@pytest.mark.parametrize(
    "body",
    [
        "5902.2 or 100",
        "5902.2 (not 100)",
        "between 5900 and 5910",
        "5900-5910",
        "5902.2, 5903",
        "maybe 5902.2",
        "The balance is 5902.2 and Pexthu Arifenpex has 7",
        "Pexthu Arifenpex has 5902.2",  # a customer the question does not ask about
        "C-43210 has 5902.2",
        "[5902.2, 7]",
        '{"balance": 5902.2, "x": 7}',
        "The balance is 5902",
        "I do not know",
    ],
)
def test_hedges_candidates_and_extra_values_are_refused(body):
    assert not ok(body)


def test_text_answers_refuse_other_names():
    assert not ok("Paris, Tokyo, Lima", ["Tokyo"], "Which city?")
    assert not ok("It is Paris, not Tokyo", ["Paris"], "Which city?")
    assert not ok("Tokyo Paris", ["Paris"], "Which city?")
    assert not ok(json.dumps(["Paris", "Tokyo"]), ["Paris"], "Which city?")
