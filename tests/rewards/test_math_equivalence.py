import time

import pytest

from rewards.math_equivalence import is_plain_number, math_equal, normalize

EQUIVALENT = [
    ("\\frac{1}{2}", "0.5"),
    ("\\tfrac12", "0.5"),
    ("\\dfrac{1}{2}", "\\frac12"),
    ("1/2", "\\frac{1}{2}"),
    ("0.50", "\\frac{2}{4}"),
    ("50\\%", "\\frac{1}{2}"),
    ("9\\%", "9"),
    ("9", "9\\%"),
    ("12", "12.0"),
    ("1,000", "1000"),
    ("-\\frac{1}{3}", "-1/3"),
    ("\\frac{-1}{3}", "-\\frac{1}{3}"),
    ("x = 3", "3"),
    ("$42$", "42"),
    ("\\(42\\)", "42"),
    ("42.", "42"),
    ("\\left(\\frac{1}{2}\\right)", "0.5"),
    ("2\\sqrt{2}", "\\sqrt{8}"),
    ("\\frac{\\sqrt{3}}{2}", "\\frac{1}{2}\\sqrt{3}"),
    ("(x+1)^2", "x^2+2x+1"),
    ("2^{10}", "1024"),
    ("10^{10}", "10000000000"),
    ("\\text{yes}", "Yes"),
    ("90^\\circ", "90"),
    ("(1, 2)", "(1,2)"),
    ("\\{1,2,3\\}", "\\{3,1,2\\}"),
    ("\\pi", "\\pi"),
    ("2\\pi", "\\pi \\cdot 2"),
    ("1e3", "1000"),
    ("\\frac{2340000034576019}{250000000000000000000000000000000}", "9.360000138304076e-18"),
    ("1.7574418454559584 \\times 10^{-22}", "1.7574418454559584e-22"),
    ("\\frac{6}{4}", "\\frac{3}{2}"),
    ("3 \\cdot 4", "12"),
    # spellings models write
    ("\\sqrt2", "\\sqrt{2}"),
    ("2\\sqrt2", "\\sqrt{8}"),
    ("\\sqrt 2", "\\frac{2}{\\sqrt{2}}"),
    ("1{,}000", "1000"),
    ("1,000,000", "10^6"),
    ("+\\infty", "\\infty"),
    ("∞", "\\infty"),
    ("-\\infty", "-\\infty"),
    ("5 cm", "5"),
    ("12 apples", "12"),
    ("5\\text{ cm}", "5"),
    ("3.5 m/s", "\\frac{7}{2}"),
    ("−4", "-4"),
    # exact values, wherever sympy's simplification gives up
    ("\\sqrt{5+2\\sqrt{6}}", "\\sqrt{2}+\\sqrt{3}"),
    ("\\binom{50}{25}", "126410606437752"),
    ("2^{40}", "1099511627776"),
    ("\\sqrt{2}", "1.41421356237310"),
    ("3+4i", "(1+2i)^2 + 6 - 0i"),
    # functions: equal on negatives too
    ("\\sqrt{x^2}", "|x|"),
    ("\\frac{x^2-1}{x-1}", "x+1"),
    ("\\ln(e^{x})", "x"),
    ("\\frac{x^2-4}{x-2}", "x+2"),
    # intervals, sets, lists
    ("[1,2)", "[1, 2)"),
    ("(-\\infty, 3]", "(-\\infty,3]"),
    ("(0,1) \\cup (2,3)", "(2,3)\\cup(0,1)"),
    ("3, 1, 2", "\\{1,2,3\\}"),
    ("x=2, x=3", "3, 2"),
]

NOT_EQUIVALENT = [
    ("\\frac{1}{3}", "0.33"),
    ("3", "4"),
    ("-3", "3"),
    ("\\pi", "3.14159"),
    ("(1,2)", "(2,1)"),
    ("(1,2)", "(1,2,3)"),
    ("\\{1,2\\}", "\\{1,3\\}"),
    ("x+1", "x+2"),
    ("\\sqrt{2}", "1.414"),
    ("", "1"),
    ("1", "(1,2)"),
    ("\\text{no}", "yes"),
    ("\\frac{1}{0}", "1"),
    # undefined values equal nothing (the universal answer)
    ("\\infty i - \\infty", "7"),
    ("\\infty i - \\infty", "x+1"),
    ("\\infty i - \\infty", "\\sqrt{2}"),
    ("\\infty - \\infty", "\\frac{3}{4}"),
    ("\\frac{0}{0}", "1"),
    ("\\frac{x-x}{x-x}", "x"),
    ("\\frac{x}{0}", "x"),
    ("\\text{NaN}", "1"),
    # infinities keep their sign and never equal a finite number
    ("5", "\\infty"),
    ("10^{100}", "\\infty"),
    ("\\infty", "-\\infty"),
    ("∞", "-\\infty"),
    ("-\\infty", "\\infty"),
    # integers and rationals are exact, however large
    ("1099511627552", "2^{40}"),
    ("126410606437000", "\\binom{50}{25}"),
    ("10^{-9}", "0"),
    ("0.333333333333333333", "\\frac{1}{3}"),
    ("7 + e^{-100}", "7"),
    ("\\sqrt{2} + e^{-500}", "\\sqrt{2}"),
    # functions differ on negatives
    ("|x|", "x"),
    ("\\sqrt{x^2}", "x"),
    ("x^2", "x"),
    ("y+1", "x+1"),
    # brackets matter for intervals and tuples
    ("[1,2]", "(1,2)"),
    ("(1,2]", "(1,2)"),
    ("[1,2)", "(1,2]"),
    ("(0,1) \\cup (2,3)", "(0,1) \\cup (2,4)"),
    # candidate lists and hedges
    ("3, 4, 5", "4"),
    ("\\{3, 4, 5\\}", "4"),
    ("4, 4", "4"),
    ("3 or 4", "4"),
    ("0 or 1", "0"),
    ("0 \\text{ or } 1", "0"),
    ("0 and 1", "0"),
    ("4 or more", "4"),
    ("2 pi", "2"),
    ("5x", "5"),
    ("dx", "1"),
    ("\\text{undefined}", "1"),
]


@pytest.mark.parametrize("predicted,reference", EQUIVALENT)
def test_equivalent_answers_score_correct(predicted, reference):
    equal, reason = math_equal(predicted, reference)
    assert equal, reason


@pytest.mark.parametrize("predicted,reference", NOT_EQUIVALENT)
def test_different_answers_score_wrong(predicted, reference):
    equal, reason = math_equal(predicted, reference)
    assert not equal
    assert reason


@pytest.mark.parametrize(
    "hostile",
    [
        "9^{9^{9^{9}}}",
        "2^{100000000000}",
        "10^{10^{10}}",
        "100000!",
        "\\frac{" * 60 + "1" + "}" * 60,
        "1" * 5000,
        "x^{x^{x^{x^{x^{x^{x^{x^{x^{x}}}}}}}}}",
        "}{" * 300,
        "\\sqrt{" * 30 + "2" + "}" * 30,
    ],
)
def test_adversarial_answers_are_rejected_quickly(hostile):
    started = time.monotonic()
    equal, reason = math_equal(hostile, "1")
    assert not equal and reason
    assert time.monotonic() - started < 5


def test_normalize_removes_latex_spacing_and_wrappers():
    assert normalize("$\\dfrac{1}{2}$") == "\\frac{1}{2}"
    assert normalize("\\left( 3 \\right)") == "( 3 )"
    assert normalize("\\text{cat}") == "cat"


def test_parser_state_does_not_leak_between_calls_in_a_reused_worker():
    from atropos_envs.bounded import BoundedPool

    pool = BoundedPool(size=1)
    try:
        honest = [("(x+1)^2", "x^2+2x+1", True), ("2\\sqrt{2}", "\\sqrt{8}", True), ("i^2", "-1", True)]
        before = [pool.call(math_equal, p, r, timeout=30)[0] for p, r, _ in honest]
        for poison in ("\\text{undefined}", "dx", "\\int x dx", "\\frac{d}{dx} x^2"):
            pool.call(math_equal, poison, "1", timeout=30)
            assert [pool.call(math_equal, p, r, timeout=30)[0] for p, r, _ in honest] == before == [True] * 3
    finally:
        pool.close()


def test_reasons_say_how_the_verdict_was_reached():
    assert "exact" in math_equal("1099511627552", "2^{40}")[1]
    assert "within 1e-09 relative" in math_equal("1.41421356237310", "\\sqrt{2}")[1]
    assert "undefined" in math_equal("\\infty i - \\infty", "7")[1]
    assert "infinity" in math_equal("5", "\\infty")[1]
    assert "brackets" in math_equal("[1,2]", "(1,2)")[1]
    assert "-7/3" in math_equal("|x|", "x")[1]


@pytest.mark.parametrize("text,plain", [("25", True), ("-\\frac{7}{12}", True), ("x = 3", True), ("1{,}000", True),
                                        ("0.5", True), ("5 cm", True), ("16+9", False), ("2^{3}+5", False),
                                        ("\\frac{1}{2}+\\frac{1}{3}", False), ("\\sqrt{4}", False)])
def test_is_plain_number(text, plain):
    assert is_plain_number(text) is plain
