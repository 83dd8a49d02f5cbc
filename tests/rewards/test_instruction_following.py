"""A passing and a failing response for every instruction id, edge cases included, with
verdicts as the reference IFEval implementation gives them."""

import random
import re

import pytest

from rewards import instruction_following as R
from rewards.if_response import content_stems, copied_mask, non_response
from rewards.instruction_following import CHECKS, IFEVAL_IDS, check, check_all

ENGLISH = "The quick brown fox jumps over the lazy dog near the river bank today."

# (instruction id, kwargs, response that follows it, response that does not)
TABLE = [
    (
        "keywords:existence",
        {"keywords": ["river", "Lantern"]},
        "A LANTERN by the river.",
        "A lantern by the sea.",
    ),
    ("keywords:frequency", {"keyword": "cat", "frequency": 2, "relation": "at least"}, "cat, Cat", "one cat"),
    ("keywords:frequency", {"keyword": "cat", "frequency": 2, "relation": "less than"}, "one cat", "cat cat"),
    (
        "keywords:frequency",
        {"keyword": "cat", "frequency": 1, "relation": "at least"},
        "concatenate",
        "dog",
    ),  # substring counts
    (
        "keywords:forbidden_words",
        {"forbidden_words": ["cat"]},
        "concatenate a dog",
        "the Cat sat",
    ),  # whole words only
    ("keywords:letter_frequency", {"letter": "Z", "let_frequency": 2, "let_relation": "at least"}, "zZ", "z"),
    (
        "keywords:letter_frequency",
        {"letter": "z", "let_frequency": 2, "let_relation": "less than"},
        "z",
        "Zz",
    ),
    (
        "language:response_language",
        {"language": "fr"},
        "Bonjour à tous, je suis très heureux de vous voir aujourd'hui.",
        ENGLISH,
    ),
    (
        "length_constraints:number_sentences",
        {"num_sentences": 3, "relation": "less than"},
        "Dr. Smith came. He left.",
        "One. Two. Three.",
    ),
    (
        "length_constraints:number_sentences",
        {"num_sentences": 3, "relation": "at least"},
        "It rained! Did it? Yes, at 5 p.m. today.",
        "Mr. Smith met Dr. Jones.",
    ),  # noqa: E501
    (
        "length_constraints:number_paragraphs",
        {"num_paragraphs": 2},
        "First.\n***\nSecond.",
        "First.\n***\n***\nSecond.",
    ),  # empty middle fails
    (
        "length_constraints:number_paragraphs",
        {"num_paragraphs": 2},
        "***\nFirst.\n***\nSecond.\n***",
        "Only one.",
    ),  # empty ends allowed
    (
        "length_constraints:number_words",
        {"num_words": 4, "relation": "less than"},
        "three little words",
        "it's four words",
    ),  # \w+ splits it's
    (
        "length_constraints:number_words",
        {"num_words": 4, "relation": "at least"},
        "one two three four",
        "one-two three",
    ),
    (
        "length_constraints:nth_paragraph_first_word",
        {"num_paragraphs": 2, "nth_paragraph": 2, "first_word": "river"},
        'Intro here.\n\n"River, wide and deep.',
        "Intro here.\n\nThe river.",
    ),
    (
        "length_constraints:nth_paragraph_first_word",
        {"num_paragraphs": 2, "nth_paragraph": 2, "first_word": "river"},
        "A\n\nriver flows",
        "A\n\nriver flows\n\nextra",
    ),  # paragraph count must match too
    (
        "detectable_content:number_placeholders",
        {"num_placeholders": 2},
        "Dear [name], at [address]",
        "Dear [name",
    ),
    (
        "detectable_content:postscript",
        {"postscript_marker": "P.S."},
        "Body.\np.s. see you",
        "Body. PS see you",
    ),
    (
        "detectable_content:postscript",
        {"postscript_marker": "P.P.S"},
        "Body.\nP. P. S more",
        "Body.\nP.S. more",
    ),
    (
        "detectable_format:number_bullet_lists",
        {"num_bullets": 2},
        "* one\n- two",
        "* one\n** bold line\n- two\n- three",
    ),
    ("detectable_format:constrained_response", {}, "Well. My answer is maybe.", "My answer is: yes"),
    (
        "detectable_format:number_highlighted_sections",
        {"num_highlights": 2},
        "*one* and **two**",
        "* * and *one*",
    ),
    (
        "detectable_format:multiple_sections",
        {"section_spliter": "Section", "num_sections": 2},
        "Section 1\na\nSection 2\nb",
        "Section 1\na",
    ),
    ("detectable_format:json_format", {}, '```json\n{"a": 1}\n```', "{'a': 1}"),
    ("detectable_format:title", {}, "<<My Title>>\ntext", "<< >> and <<\n>>"),
    ("combination:two_responses", {}, "First answer.******Second answer.", "Same.******Same."),
    ("combination:two_responses", {}, "******A******B", "A******\n******B"),
    (
        "combination:repeat_prompt",
        {"prompt_to_repeat": "Write a poem."},
        "  write a POEM. Roses are red.",
        "Sure! Write a poem.",
    ),
    (
        "startend:end_checker",
        {"end_phrase": "Any other questions?"},
        'Done. any other questions?"',
        "Any other questions? Bye.",
    ),
    (
        "change_case:capital_word_frequency",
        {"capital_frequency": 2, "capital_relation": "at least"},
        "THIS is GREAT",
        "This is GREAT",
    ),
    (
        "change_case:capital_word_frequency",
        {"capital_frequency": 2, "capital_relation": "less than"},
        "ONE word",
        "A B C",
    ),
    ("change_case:english_capital", {}, ENGLISH.upper(), ENGLISH),
    ("change_case:english_lowercase", {}, ENGLISH.lower(), ENGLISH),
    ("punctuation:no_comma", {}, "No commas here.", "One, two."),
    ("startend:quotation", {}, '  "Wrapped."  ', '"'),
    ("atropos:nth_word_language", {"n": 2, "language": "ru"}, "hello мир good день", "hello world good день"),
    ("atropos:word_at_position", {"position": 2, "word": "river"}, "The River flows", "The sea"),
    ("atropos:character_at_position", {"position": 1, "character": "W"}, "  Well then", "well then"),
    ("atropos:nested_bullets", {"min_depth": 2}, "- a\n  - b\n- c", "- a\n- b"),
    ("atropos:json_depth", {"min_depth": 2}, '{"a": {"b": 1}}', '{"a": [1, 2]}'),
]


@pytest.mark.parametrize("iid,kwargs,follows,breaks", TABLE)
def test_verdicts(iid, kwargs, follows, breaks):
    assert check(iid, follows, kwargs), f"{iid} should accept {follows!r}"
    assert not check(iid, breaks, kwargs), f"{iid} should reject {breaks!r}"


def test_every_instruction_id_is_in_the_table():
    assert {row[0] for row in TABLE} == set(CHECKS)
    assert len(IFEVAL_IDS) == 25


def test_empty_response_never_follows():
    assert check_all(
        ["punctuation:no_comma", "keywords:forbidden_words"], [{}, {"forbidden_words": ["x"]}], "  "
    ) == {"strict": [False, False], "loose": [False, False]}


def test_loose_reading_drops_first_and_last_lines_and_asterisks():
    text = "Sure, here it is:\nno commas in this part\nHope that helps, friend!"
    assert not check("punctuation:no_comma", text, {})
    assert check("punctuation:no_comma", text, {}, loose=True)
    assert check("detectable_format:title", "**<<Title>>**", {}, loose=True)
    assert not check("startend:quotation", '*"quoted"*', {}) and check(
        "startend:quotation", '*"quoted"*', {}, loose=True
    )


def test_bad_relation_is_an_error():
    with pytest.raises(ValueError, match="relation must be one of"):
        check("length_constraints:number_words", "a b", {"num_words": 1, "relation": "at most"})


def test_undetectable_language_counts_as_followed():
    assert check("language:response_language", "12345", {"language": "fr"})


# The reference's regular expressions, against which the linear-time versions are fuzzed.
def _ref_bullets(v):
    return len(re.findall(r"^\s*\*[^\*].*$", v, flags=re.MULTILINE)) + len(
        re.findall(r"^\s*-.*$", v, flags=re.MULTILINE)
    )


def _ref_postscript(v, marker):
    pattern = r"\s*p\.\s?p\.\s?s.*$" if marker == "P.P.S" else r"\s*p\.\s?s\..*$"
    return bool(re.findall(pattern, v.lower(), flags=re.MULTILINE))


def test_linear_versions_agree_with_the_reference_regexes():
    rng = random.Random(7)
    pieces = ["*", "-", " ", "\n", "\t", "a", "**", "<<", ">>", "<", ">", "p.", "s.", "P.S.", "[", "]"]
    for _ in range(20_000):
        t = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 25)))
        for n in range(4):
            assert R.number_bullet_lists(t, n) == (_ref_bullets(t) == n), repr(t)
            assert R.number_placeholders(t, n) == (len(re.findall(r"\[.*?\]", t)) >= n), repr(t)
        assert R.title(t) == any(x.lstrip("<").rstrip(">").strip() for x in re.findall(r"<<[^\n]+>>", t)), (
            repr(t)
        )
        for marker in ("P.S.", "P.P.S"):
            assert R.postscript(t, marker) == _ref_postscript(t, marker), repr(t)


# ---- the response gate (rewards/if_response.py) -----------------------------------------

PROMPT = "Describe a busy market in the morning. Do not use any commas."
SYSTEM = "You are a helpful assistant. Follow every instruction in the request exactly."


def test_copied_mask_marks_runs_of_three():
    reply = ["a", "busy", "market", "at", "dawn"]
    assert copied_mask(reply, [PROMPT.lower().split()]) == [True, True, True, False, False]
    assert copied_mask(["busy", "market"], [["busy", "market"]]) == [False, False]  # shorter than a run


def test_content_stems_skip_stop_and_instruction_words():
    assert content_stems(PROMPT) == {"busy", "marke", "morni", "descr"}


@pytest.mark.parametrize(
    "text,strict,expected",
    [
        ("", True, "empty reply"),
        ("...", False, "not an answer: no words"),
        (PROMPT, True, "not an answer: 0 words of its own"),
        (PROMPT, False, "echoes the request"),
        (SYSTEM, False, "echoes the request"),
        ("Stalls open early and sellers shout prices.", True, "off topic"),
        ("Stalls open early and sellers shout prices at the market.", True, None),
        ("Crowded.", False, None),
        ("Do not use any commas", False, None),  # a short copy is not a whole-prompt echo
    ],
)
def test_non_response(text, strict, expected):
    rules = (
        {"min_new_words": 5, "topical": True}
        if strict
        else {"min_new_words": 0, "topical": False, "whole_echo_only": True}
    )
    why = non_response(text, request=PROMPT.split(".")[0], prompt=PROMPT, system=SYSTEM, **rules)
    if expected is None:
        assert why is None
    else:
        assert why is not None and why.startswith(expected), why


def test_required_copies_and_offered_answers():
    prompt = "Say hello. Finish with the exact phrase 'Thanks for reading.' and nothing after it."
    text = "Hello there dear reader from all of us here. Thanks for reading."
    assert (
        non_response(text, request="Say hello.", prompt=prompt, required_copies=["Thanks for reading."])
        is None
    )
    options = ("My answer is yes.", "My answer is no.")
    assert non_response("My answer is no.", request="q", prompt="q", min_new_words=0, one_of=options) is None
    assert "none of the offered" in non_response(
        "Maybe.", request="q", prompt="q", min_new_words=0, one_of=options
    )
    assert "2 of the offered" in non_response(
        " ".join(options), request="q", prompt="q", min_new_words=0, one_of=options
    )


def test_gate_wants_length_prose_and_topic_words_from_the_answer():
    rules = {
        "min_words": 20,
        "language": "en",
        "answer_words": ["light", "scatter", "atmosphere"],
        "min_topic": 3,
        "min_answer_topic": 1,
        "spread": True,
    }
    request = "Explain why the sky looks blue."
    honest = (
        "Sunlight is made of many colours and when it passes through the atmosphere the air molecules "
        "scatter the short blue waves far more than the red ones so blue light reaches our eyes from the "
        "whole sky and it looks blue to us all day"
    )
    assert non_response(honest, request=request, prompt=request, **rules) is None
    cases = {
        "sky blue looks because of red green paint": "too short",
        "sky blue looks marble violet tundra copper glacier river stone paper cloud table window chair "
        "lamp clock door floor wall roof": "not prose in 'en'",
        "the sky is blue and it looks blue and the sky is a sky that looks blue to me and you and the sky "
        "looks so blue": "beyond the request's own",
        (
            "light and air scatter the sky so blue "
            + "the report covers the numbers for the team next week " * 4
        ): "thirds",
        "the light of a clear sky is nice " * 20: "repetitive",
    }
    for text, why in cases.items():
        assert why in (non_response(text, request=request, prompt=request, **rules) or ""), text


def test_gate_in_another_language_reads_its_function_words():
    rules = {"language": "de", "topic_words": ["himmel", "blau", "licht"], "min_topic": 2}
    request = "Explain why the sky looks blue."
    assert (
        non_response(
            "Der Himmel ist blau, weil das Licht der Sonne in der Luft gestreut wird.",
            request=request,
            prompt=request,
            **rules,
        )
        is None
    )
    assert "off topic" in non_response(
        "Das Wetter ist heute sehr kalt und grau im Norden und ich bleibe hier.",
        request=request,
        prompt=request,
        **rules,
    )
    assert "not prose" in non_response(
        "Himmel blau Licht Sonne Luft Wolke Regen Wind Baum Haus", request=request, prompt=request, **rules
    )
