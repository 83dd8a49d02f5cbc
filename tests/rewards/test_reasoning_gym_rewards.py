"""rewards.reasoning_gym: generator configs, and scoring that survives noisy generators in the
bounded worker."""

import pytest

from atropos_envs.bounded import BoundedPool
from rewards import reasoning_gym as rg


def noisy_score(name, config, item, answer):
    """A generator that prints while scoring."""
    with rg._quiet():
        print("progress....\x00\x00\x00\x00\x00\x00\xff\xff garbage", flush=True)
    return rg.score_entry(name, config, item, answer)["score"]


def test_printing_in_the_worker_does_not_corrupt_its_replies():
    pool = BoundedPool(size=1)
    try:
        config = rg.resolve_config("chain_sum", None, None, 0)
        item = rg.entry("chain_sum", config, 4)
        assert pool.call(noisy_score, "chain_sum", config, item, item["answer"], timeout=60) == 1.0
        assert pool.call(noisy_score, "chain_sum", config, item, "seven", timeout=60) == 0.0
    finally:
        pool.close()


def test_configs_resolve_with_levels_and_overrides():
    base = rg.resolve_config("chain_sum", None, None, 7)
    assert base == {"seed": 7, "size": rg.DEFAULT_SIZE}
    leveled = rg.resolve_config("chain_sum", {"max_terms": 3}, 4, 7)
    assert leveled["max_terms"] == 3 and leveled["max_digits"] > 1
    with pytest.raises(ValueError, match="no curriculum"):
        rg.resolve_config(next(n for n in rg.dataset_names() if n not in rg.curriculum_names()), None, 1, 0)
    with pytest.raises(ValueError, match="unknown reasoning-gym dataset 'composite'"):
        rg.resolve_config("composite", None, None, 0)


def _items(name, count=20):
    config = rg.resolve_config(name, None, None, 0)
    return config, [rg.entry(name, config, index) for index in range(count)]


@pytest.mark.parametrize(
    "text", ["nan", "NaN", "-inf", "nanj", "nan+nanj", "0+nani", "nan i", "Infinity", "∞"]
)
def test_non_finite_answers_are_recognised(text):
    assert rg.states_non_finite(text)


@pytest.mark.parametrize(
    "text", ["banana", "Nancy", "infinite", "information", "Nanjing", "42", "-13.0 + 9.0i"]
)
def test_words_that_merely_contain_nan_or_inf_are_not(text):
    assert not rg.states_non_finite(text)


def test_complex_arithmetic_does_not_pay_nan():
    """Its scorer pays min(1, exp(-|a - b|)), which is 1.0 for NaN (red team: 100/100 tasks)."""
    config, items = _items("complex_arithmetic")
    for item in items:
        assert rg.score_entry("complex_arithmetic", config, item, item["answer"])["score"] == 1.0
        for answer in ("nan", "nan+nanj", "0+nani"):
            verdict = rg.score_entry("complex_arithmetic", config, item, answer)
            assert verdict["score"] == 0.0 and "NaN" in verdict["refused"], (item["answer"], answer, verdict)


def _shifted(values, delta):
    return str([f"{float(v) + delta:.2f}" for v in values])


def test_number_sorting_needs_the_question_s_own_numbers():
    """Its scorer accepts each value within 1 of the given one (red team: +0.9 on 100/100)."""
    config, items = _items("number_sorting")
    for item in items:
        want = eval(item["answer"])  # the generator's own repr of a list of strings
        assert rg.score_entry("number_sorting", config, item, item["answer"])["score"] == 1.0
        assert rg.score_entry("number_sorting", config, item, str([float(v) for v in want]))["score"] == 1.0
        assert rg.score_entry("number_sorting", config, item, _shifted(want, 0.9))["score"] == 0.0


def test_decimal_arithmetic_refuses_near_misses():
    """Its scorer accepts anything within 10^-places: 0.001 off passed on 57/60 tasks."""
    from decimal import Decimal

    config, items = _items("decimal_arithmetic")
    for item in items:
        right = Decimal(item["answer"])
        assert rg.score_entry("decimal_arithmetic", config, item, item["answer"])["score"] == 1.0
        assert rg.score_entry("decimal_arithmetic", config, item, f"{right:f}0")["score"] == 1.0
        for delta in ("0.001", "-0.001", "0.0001"):
            near = str(right + Decimal(delta))
            assert rg.score_entry("decimal_arithmetic", config, item, near)["score"] == 0.0, (right, near)


def test_number_format_needs_the_candidate_itself():
    config, items = _items("number_format")
    for item in items:
        value = float(item["metadata"]["solution"])
        assert rg.score_entry("number_format", config, item, item["answer"])["score"] == 1.0
        assert rg.score_entry("number_format", config, item, repr(value + 0.009))["score"] == 0.0


@pytest.mark.parametrize(
    ("answer", "reference"),
    [
        ("YARPSOTUA or autospray", "yarpsotua"),
        ("A→C→C→C 7", "A → C → C → C"),
        ("7 KNIGHT", "knight"),
        ("1  2  x", "1 2"),
    ],
)
def test_a_reference_plus_more_is_caught_whatever_its_case_and_spacing(answer, reference):
    assert rg.adds_to_reference(answer, reference)


@pytest.mark.parametrize(
    ("answer", "reference"), [("A → C → C", "A→C→C"), ("Knight", "knight"), ("[1, 2]", "1, 2")]
)
def test_the_reference_in_another_case_or_spacing_is_not_more(answer, reference):
    assert not rg.adds_to_reference(answer, reference)
