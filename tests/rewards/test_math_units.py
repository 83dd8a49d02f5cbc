import pytest

from rewards.math_equivalence import math_equal
from rewards.math_units import asks_percent, parse_unit, question_units

ROPE = "How long is the rope in meters?"
SALE = "A store discounts a \\$50 item by 20\\%. What is the sale price in dollars?"


@pytest.mark.parametrize(
    "answer", ["12 cm", "12 mm", "12 km", "12 feet", "12 inches", "12 m^2", "12 m/s", "12\\,\\mathrm{cm}"]
)
def test_a_unit_that_contradicts_the_question_is_wrong(answer):
    equal, reason = math_equal(answer, "12", ROPE)
    assert not equal and "the question asks for m" in reason


@pytest.mark.parametrize(
    "answer", ["12", "12 m", "12 meters", "12 metres", "12\\text{ m}", "12.0 m", "12^{}"]
)
def test_the_question_unit_or_none_is_right(answer):
    assert math_equal(answer, "12", ROPE)[0]


@pytest.mark.parametrize(
    "answer,expected",
    [
        ("40", True),
        ("\\$40", True),
        ("40 dollars", True),
        ("40 cents", False),
        ("40\\%", False),
        ("40 percent", False),
    ],
)
def test_dollars_are_not_cents_or_percent(answer, expected):
    assert math_equal(answer, "40", SALE)[0] is expected


@pytest.mark.parametrize(
    "answer,question,expected",
    [
        ("60 km/h", "A car goes 120 km in 2 hours. What is its speed in km/h?", True),
        ("60 kph", "A car goes 120 km in 2 hours. What is its speed in km/h?", True),
        ("60 km per hour", "A car goes 120 km in 2 hours. What is its speed in km/h?", True),
        ("60 km", "A car goes 120 km in 2 hours. What is its speed in km/h?", False),
        ("60 km/h", "A car goes 120 km in 2 hours. What is its speed?", True),  # no unit asked: bases
        ("60 kg", "A car goes 120 km in 2 hours. What is its speed?", False),
        ("2 dollars", "Apples cost 50 cents each. How much do 4 apples cost?", True),  # money is money
        ("12 m^2", "A room is 3 m by 4 m. What is its area?", True),
        ("12 square meters", "A room is 3 m by 4 m. What is its area in square meters?", True),
        ("12 seconds", "A room is 3 m by 4 m. What is its area?", False),
        ("12 cm^2", "A room is 3 m by 4 m. What is its area in square meters?", False),
        ("12 cm^2", "What is its area in cm²?", True),
        ("12 hours", "It takes 3 days. How many hours per day?", True),
        ("12 hours/day", "It takes 3 days. How many hours per day?", True),
        ("12 days", "It takes 3 days. How many hours per day?", False),
        ("12 cm", "What is its area in cm²?", False),
        ("12 square units", "A rectangle is 3 by 4. What is its area?", True),
        ("12 cm", "What is 7 + 5?", True),  # neither the question nor the reference names a unit
        ("12 apples", "How many apples does Tom have?", True),  # nouns: the question decides
        ("12 oranges", "How many apples does Tom have?", False),
        ("30^\\circ", "A 5 m ladder leans on a wall. What angle does it make?", True),
        ("30^\\circ", "How far is it in meters?", False),
        ("9\\%", "What percent of 200 is 18?", True),
        ("9 hours", "What percent of 200 is 18?", False),
    ],
)
def test_the_question_decides_the_unit(answer, question, expected):
    reference = answer.split()[0].split("^")[0]
    assert math_equal(answer, reference, question)[0] is expected, math_equal(answer, reference, question)


def test_the_reference_unit_counts_like_an_asked_unit():
    assert math_equal("5 m", "5\\text{ m}")[0]
    assert not math_equal("5 cm", "5\\text{ m}")[0]
    assert math_equal("5", "5\\text{ m}")[0]


def test_parse_unit_and_question_units():
    assert parse_unit("square feet") == (("ft", 2),)
    assert parse_unit("m/s") == parse_unit("meters per second") == (("m", 1), ("s", -1))
    assert parse_unit("mph") == parse_unit("mi/h")
    assert parse_unit("units") == ()
    assert parse_unit("apples") is None and parse_unit("dozen") is None
    asked, mentioned = question_units(SALE)
    assert asked == {(("dollar", 1),)} and (("percent", 1),) in mentioned
    assert question_units("Find m such that m + 2 = 24 in a week.") == (set(), set())


@pytest.mark.parametrize(
    "question,expected",
    [
        ("What percent of 200 is 18?", True),
        ("Find the percent increase from 20 to 25.", True),
        ("Give the answer as a percentage.", True),
        ("By how many per cent did it rise?", True),
        ("What is 20% of 40?", False),
        ("A \\$50 item is 20\\% off. What is the sale price?", False),
    ],
)
def test_a_question_about_percent_is_not_one_that_gives_a_percentage(question, expected):
    assert asks_percent(question) is expected
    assert math_equal("8\\%", "8", question)[0] is expected  # "8%" is 8 only in percent units
