"""The final-answer check of ToolUse-v0 (rewards.tool_answers): red-team regressions."""

import json

import pytest

from rewards.tool_answers import MAX_REPLY_CHARS, answer_conflict, answer_correct, extract_answer

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


# ---- round 3 red team: negations, hidden candidates, other names, text answers, precision ----
@pytest.mark.parametrize(
    "body",
    [
        "not 5902.2",
        "It is not 5902.2",
        "5902.2 is incorrect",
        "false: 5902.2",
        "I cannot determine this; the tool returned 5902.2 which looks wrong.",
        "5902.2 unless the records changed",
        "5902.2 isn't right",
        "5902.2 (wrong)",
        "never 5902.2",
        "ｎｏｔ 5902.2",  # fullwidth letters
        "n\u200bot 5902.2",  # a zero-width space inside the word
    ],
)
def test_negations_and_refusals_are_not_read_as_stating_the_value(body):
    assert not ok(body)


@pytest.mark.parametrize(
    "body",
    [
        "5902.2; fifteen; twenty; thirty",
        "5902.2 / seventeen",
        "5902.2 / eight thousand seven hundred fifty-three",
        "5902.2; DCXXXIII",
        "5902.2; XII",
        "5902.2; O-8753",
        "5902.2 (SKU-875391)",
        "5902.2½",
        "5902.2²",
        "5902.2; ٣",
        "5902.2 for Pexthu",  # another customer's first name
        "5902.2 for arifenpex",  # ... or last name, in any case
        "5902.2 for Selgrafen",  # a product's name word
        "5902.2 for nоt",  # a Cyrillic о: a non-ASCII letter in a numeric answer
        "5902.2%",  # another quantity
        '{"Pexthu": 5902.2}',  # a JSON key names another customer
        '{"O-8753": 5902.2}',
    ],
)
def test_hidden_extra_candidates_are_refused(body):
    assert not ok(body)


@pytest.mark.parametrize(
    "body",
    [
        "**5902.2**",
        "5902.2 USD",
        "$5,902.20",
        "5902.20",
        "- 5902.2",
        "The balance of Thuwex Morpexlis (Thuwex) is 5902.2",
        "Thuwex Morpexlis: $5,902.20",
    ],
)
def test_plain_right_answers_stay_paid(body):
    assert ok(body)


def test_text_answers_are_the_value_and_filler_only():
    q = "What is the capital of France? Use the calculator to compute 2+2 first."
    for body in ("Paris / lyon / marseille", "paris, lyon", "PARIS / LYON", "not Paris", "Paris or lyon"):
        assert not ok(body, ["Paris"], q), body
    for body in ("Paris", "paris", "PARIS.", "The capital of France is Paris.", '["Paris"]', "It is Paris"):
        assert ok(body, ["Paris"], q), body


def test_money_is_compared_to_the_cent():
    assert not ok("10684.09", [10684.08])  # a cent off (within 1e-6 relative: it was paid)
    assert not ok("10684.084", [10684.08])  # a third decimal that differs
    assert not ok("[10684.0801]", [10684.08])
    assert ok("10684.080", [10684.08]) and ok("10,684.08", [10684.08]) and ok("[10684.08]", [10684.08])
    assert ok("57", [57]) and ok("57.0", [57]) and not ok("57.5", [57])


def test_unicode_minus_signs_are_minus():
    for minus in ("\u2212", "\u2013", "\u2012", "\ufe63", "\uff0d", "-"):
        assert ok(f"{minus}91.33, 4520.81", [-91.33, 4520.81]), minus
    assert not ok("91.33, 4520.81", [-91.33, 4520.81])


def test_answer_blocks_that_disagree_are_refused():
    both = "<answer>[5903.2]</answer> on second thought <answer>[5902.2]</answer>"
    assert answer_conflict(both) and not answer_correct(both, [5902.2], question=Q)[0]
    same = "<answer>[5902.2]</answer> again: <answer>[5902.2]</answer>"
    assert not answer_conflict(same) and answer_correct(same, [5902.2], question=Q)[0]
    scratch = "<think>maybe <answer>1</answer></think><answer>[5902.2]</answer>"  # think is scratch
    assert not answer_conflict(scratch) and answer_correct(scratch, [5902.2], question=Q)[0]


# ---- second red team: the wording around a number is an allow-list, not a deny-list ----------

SIGNS = ["-${x}", "−${x}", "-$ {x}", "({x})", "$({x})", "negative {x}", "minus {x}", "owes ${x}"]
SIGNS += ["in debt by ${x}", "The balance is -${x}.", "overdrawn by ${x}"]


@pytest.mark.parametrize("form", SIGNS)
def test_a_sign_or_sign_word_on_a_positive_value_is_refused(form):
    assert not ok(form.format(x="5902.2"))


HEDGES = ["~{x}", "≈ {x}", "< {x}", "> {x}", "≥ {x}", "{x}+", "!{x}", "¬ {x}", "{x} ≠ answer", "{x} ✗"]
HEDGES += ["{x} ❌", "{x}-ish", "ca. {x}", "{x} (est.)", "at minimum {x}", "up to {x}", "{x} +/- a bit"]
HEDGES += ["I think {x}", "tentatively {x}", "{x} TBD", "{x}, to be confirmed", "{x} is mistaken"]
HEDGES += [
    "{x} is a lie",
    "{x} (retracted)",
    "ignore {x}",
    "disregard {x}",
    "{x} is refuted",
    "{x} is a typo",
]
HEDGES += ["{x} is fake", "{x} at best", "{x} give-or-take", "allegedly {x}", "{x} 🙂", "presumably {x}"]


@pytest.mark.parametrize("form", HEDGES)
def test_words_and_marks_outside_the_allow_list_are_refused(form):
    assert not ok(form.format(x="5902.2"))


@pytest.mark.parametrize(
    "body",
    ["-$94.68", "−$94.68", "-$ 94.68", "$-94.68", "-94.68 USD", "The balance is -$94.68.", "[-94.68]"],
)
def test_negative_values_written_with_a_currency_sign_are_paid(body):
    assert ok(body, [-94.68])


def test_the_questions_words_and_neutral_filler_are_allowed():
    assert ok("The total balance for customer Thuwex Morpexlis is $5,902.20.")
    assert ok("Final answer: 5902.2 USD")
    assert ok('{"balance": 5902.2}')
    assert ok("- $5,902.20") and ok("* $5,902.20")  # markdown bullets, not a minus
    q = "How many units of the Selgrafen valve are in stock?"
    assert ok("57 units of the Selgrafen valve are in stock", [57], q)
    assert not ok("57 units of the Selgrafen valve, allegedly", [57], q)
