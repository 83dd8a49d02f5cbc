from rewards.code_output import extract_code, outputs_match


def test_extract_code_takes_the_last_block_after_reasoning():
    assert extract_code("<think>```python\nbad\n```</think>```py\ngood\n```") == "good\n"
    assert extract_code("```python\none\n```\ntext\n```python3\ntwo\n```") == "two\n"
    assert extract_code("```\nplain fence\n```") == "plain fence\n"


def test_extract_code_refuses_missing_or_unclosed_blocks():
    assert extract_code("no code") is None
    assert extract_code("```python\nprint(1)\n") is None
    assert extract_code("<think>```python\nprint(1)\n```</think> no code after") is None


def test_outputs_match_compares_tokens():
    assert outputs_match("1 2\n3\n", "1 2 3")
    assert outputs_match("  a\tb\r\n", "a b")
    assert not outputs_match("1 2", "1 2 3")
    assert not outputs_match("", "0")
    assert not outputs_match("3.0", "3")


def test_decimal_tokens_match_within_tolerance_and_integers_stay_exact():
    assert outputs_match("0.3333333333333333\n", "0.3333333333")  # absolute 1e-6
    assert outputs_match("1.0000009e20 2", "1e20 2")  # relative 1e-6
    assert outputs_match("2", "2.0") and outputs_match("-0.5000004", "-.5")
    assert not outputs_match("0.333", "0.3333333333")
    assert not outputs_match("6.0", "6") and not outputs_match("7", "6")
    assert not outputs_match("nan", "0.5") and not outputs_match("inf", "1e308")
    assert not outputs_match("1_0.5", "10.5") and not outputs_match("0.5 0.5", "0.5")
