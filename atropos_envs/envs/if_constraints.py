"""A seeded generator of instruction-following constraints: each constraint is an
instruction id, its keyword arguments and the sentence that asks for it.

Ids and keyword arguments are IFEval's, so generated tasks and IFEval task files are
scored by the same checks. Combinations that cannot all be satisfied are rejected, both
by kind (e.g. "all lowercase" with "all capitals") and by value (e.g. "use the letter q
fewer than 2 times" with a required keyword that contains two q's).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from rewards.instruction_following import CONSTRAINED_RESPONSES, SCRIPTS

Constraint = tuple[str, dict[str, Any], str]  # (instruction id, kwargs, instruction sentence)

WORDS = [
    "river",
    "lantern",
    "orbit",
    "garden",
    "signal",
    "harbor",
    "velvet",
    "compass",
    "meadow",
    "puzzle",
    "thunder",
    "ribbon",
    "canyon",
    "ember",
    "falcon",
    "glacier",
]
ENDINGS = ["Is there anything else I can help with?", "That is all for today.", "Thanks for reading."]
LANGUAGE_NAMES = {"es": "Spanish", "fr": "French", "de": "German", "it": "Italian", "pt": "Portuguese"}
SCRIPT_NAMES = {
    "ru": "Russian (Cyrillic script)",
    "el": "Greek (Greek script)",
    "ar": "Arabic (Arabic script)",
    "hi": "Hindi (Devanagari script)",
    "ko": "Korean (Hangul)",
    "he": "Hebrew (Hebrew script)",
}

BASE_PROMPTS = [
    "Write a short note to a neighbour about a lost cat.",
    "Describe your ideal weekend.",
    "Explain why the sky looks blue.",
    "Write a product description for a reusable water bottle.",
    "Give advice to someone starting to learn the guitar.",
    "Write a short story about a lighthouse keeper.",
    "Summarise the benefits of regular exercise.",
    "Write a letter inviting a friend to a picnic.",
    "Explain how a bicycle stays upright.",
    "Describe a busy market in the morning.",
    "Write a review of an imaginary restaurant.",
    "Explain what a computer's memory is for.",
    "Write a poem about the sea.",
    "Plan a one-day trip to a mountain village.",
    "Describe the rules of a simple card game.",
    "Write an announcement for a community book club.",
]


def _ordinal(n: int) -> str:
    return f"{n}{'tsnrhtdd'[(n // 10 % 10 != 1) * (n % 10 < 4) * n % 10 :: 4]}"


def _relation(rng: random.Random) -> str:
    return rng.choice(["less than", "at least"])


def _make(rng: random.Random, base_prompt: str) -> dict[str, Callable[[], tuple[dict[str, Any], str]]]:
    """For each instruction id, a function drawing its kwargs and its sentence."""

    def count(name: str, lo: int, hi: int, text: str, relation: bool = True):
        def draw():
            n = rng.randint(lo, hi)
            if not relation:
                return {name: n}, text.format(n=n)
            rel = _relation(rng)
            rel_key = {"let_frequency": "let_relation", "capital_frequency": "capital_relation"}.get(
                name, "relation"
            )
            return {name: n, rel_key: rel}, text.format(n=n, rel=rel)

        return draw

    def keyword_frequency():
        word, n, rel = rng.choice(WORDS), rng.randint(1, 3), _relation(rng)
        return {"keyword": word, "frequency": n, "relation": rel}, f"Use the word '{word}' {rel} {n} times."

    def letter_frequency():
        letter, n, rel = rng.choice("abcdefghijklmnopqrstuvwxyz"), rng.randint(1, 10), _relation(rng)
        return {
            "letter": letter,
            "let_frequency": n,
            "let_relation": rel,
        }, f"Use the letter '{letter}' {rel} {n} times."

    def nth_paragraph():
        total = rng.randint(2, 4)
        nth, word = rng.randint(1, total), rng.choice(WORDS)
        return {"num_paragraphs": total, "nth_paragraph": nth, "first_word": word}, (
            f"Write exactly {total} paragraphs separated by blank lines; "
            f"paragraph {nth} must start with the word '{word}'."
        )

    def two_words(key: str, text: str):
        def draw():
            chosen = sorted(rng.sample(WORDS, 2))
            return {key: chosen}, text.format(a=chosen[0], b=chosen[1])

        return draw

    def choice(key: str, options: list[str], text: str):
        def draw():
            value = rng.choice(options)
            return {key: value}, text.format(v=value)

        return draw

    def fixed(text: str):
        def draw():
            return {}, text

        return draw

    def response_language():
        code = rng.choice(sorted(LANGUAGE_NAMES))
        return {"language": code}, f"Write your whole answer in {LANGUAGE_NAMES[code]}."

    def multiple_sections():
        splitter, n = rng.choice(["Section", "SECTION"]), rng.randint(2, 4)
        return {"section_spliter": splitter, "num_sections": n}, (
            f"Split your answer into {n} sections, each starting with '{splitter} X' where X is its number."
        )

    def repeat_prompt():
        return {"prompt_to_repeat": base_prompt}, (
            "First repeat the request above word for word (not this sentence), then answer it."
        )

    def nth_word_language():
        n, language = rng.randint(3, 5), rng.choice(sorted(SCRIPTS))
        return {"n": n, "language": language}, (
            f"Write every {_ordinal(n)} word in {SCRIPT_NAMES[language]} and all other words in English."
        )

    def word_at_position():
        position, word = rng.randint(1, 5), rng.choice(WORDS)
        return {
            "position": position,
            "word": word,
        }, f"Word number {position} of your answer must be '{word}'."

    def character_at_position():
        position, character = rng.randint(1, 3), rng.choice("ABCDEFGHIJKLMNOPRSTW")
        return {"position": position, "character": character}, (
            f"Character number {position} of your answer must be '{character}'."
        )

    options = ", ".join(CONSTRAINED_RESPONSES)
    return {
        "keywords:existence": two_words("keywords", "Include the words '{a}' and '{b}'."),
        "keywords:frequency": keyword_frequency,
        "keywords:forbidden_words": two_words("forbidden_words", "Do not use the words '{a}' or '{b}'."),
        "keywords:letter_frequency": letter_frequency,
        "language:response_language": response_language,
        "length_constraints:number_sentences": count("num_sentences", 2, 10, "Write {rel} {n} sentences."),
        "length_constraints:number_paragraphs": count(
            "num_paragraphs",
            2,
            4,
            "Write exactly {n} paragraphs, separated by the markdown divider ***.",
            relation=False,
        ),
        "length_constraints:number_words": count("num_words", 20, 200, "Answer with {rel} {n} words."),
        "length_constraints:nth_paragraph_first_word": nth_paragraph,
        "detectable_content:number_placeholders": count(
            "num_placeholders",
            1,
            3,
            "Include at least {n} placeholders in square brackets, such as [name].",
            relation=False,
        ),
        "detectable_content:postscript": choice(
            "postscript_marker", ["P.S.", "P.P.S"], "End with a postscript starting with {v}"
        ),
        "detectable_format:number_bullet_lists": count(
            "num_bullets",
            2,
            5,
            "Use exactly {n} markdown bullet points (lines starting with '* ').",
            relation=False,
        ),
        "detectable_format:constrained_response": fixed(f"Answer with one of these options only: {options}"),
        "detectable_format:number_highlighted_sections": count(
            "num_highlights",
            1,
            3,
            "Highlight at least {n} parts with markdown, like *this part*.",
            relation=False,
        ),
        "detectable_format:multiple_sections": multiple_sections,
        "detectable_format:json_format": fixed("Format your whole answer as JSON."),
        "detectable_format:title": fixed(
            "Give your answer a title wrapped in double angle brackets, like <<my title>>."
        ),
        "combination:two_responses": fixed("Give two different answers separated by six asterisks: ******"),
        "combination:repeat_prompt": repeat_prompt,
        "startend:end_checker": choice(
            "end_phrase", ENDINGS, "Finish with the exact phrase '{v}' and nothing after it."
        ),
        "change_case:capital_word_frequency": count(
            "capital_frequency", 1, 10, "Use words in ALL CAPITALS {rel} {n} times."
        ),
        "change_case:english_capital": fixed("Write your whole answer in English, in capital letters only."),
        "change_case:english_lowercase": fixed(
            "Write your whole answer in English, in lowercase letters only."
        ),
        "punctuation:no_comma": fixed("Do not use any commas."),
        "startend:quotation": fixed("Wrap your whole answer in double quotation marks."),
        "atropos:nth_word_language": nth_word_language,
        "atropos:word_at_position": word_at_position,
        "atropos:character_at_position": character_at_position,
        "atropos:nested_bullets": count(
            "min_depth",
            2,
            3,
            "Include a markdown bullet list nested at least {n} levels deep (indent sub-items).",
            relation=False,
        ),
        "atropos:json_depth": count(
            "min_depth",
            2,
            3,
            "Answer with a JSON object whose objects nest at least {n} levels deep.",
            relation=False,
        ),
    }


_WHOLE_TEXT = {
    "detectable_format:constrained_response",
    "detectable_format:json_format",
    "atropos:json_depth",
    "combination:two_responses",
    "combination:repeat_prompt",
    "startend:quotation",
}
_CASE = {"change_case:english_capital", "change_case:english_lowercase", "change_case:capital_word_frequency"}
_LANGUAGE = {"language:response_language", "atropos:nth_word_language"}
_PARAGRAPHS = {"length_constraints:number_paragraphs", "length_constraints:nth_paragraph_first_word"}
_POSITION = {"atropos:word_at_position", "atropos:character_at_position"}
_WORDING = {
    "keywords:existence",
    "keywords:frequency",
    "startend:end_checker",
    "keywords:forbidden_words",
    "detectable_format:multiple_sections",
    "atropos:word_at_position",
}
_LAYOUT = {
    "detectable_format:title",
    "detectable_format:multiple_sections",
    "detectable_format:number_bullet_lists",
    "atropos:nested_bullets",
}
_CONFLICT_GROUPS = [
    _WHOLE_TEXT,
    _CASE,
    _LANGUAGE | _CASE | _WORDING,
    _PARAGRAPHS,
    _POSITION | _WHOLE_TEXT | _LAYOUT,
    {"detectable_format:multiple_sections", "detectable_format:number_highlighted_sections"},
    {"detectable_format:number_bullet_lists", "atropos:nested_bullets"},
    {"startend:quotation", "detectable_format:title"},
    {"punctuation:no_comma"} | _WHOLE_TEXT - {"startend:quotation"},
]


def conflicts(a: str, b: str) -> bool:
    """Whether two instruction kinds cannot be asked together (symmetric; a kind conflicts with itself)."""
    return a == b or any(a in group and b in group for group in _CONFLICT_GROUPS)


def _required_text(constraints: list[Constraint]) -> str:
    """Words the response is forced to contain, for value-level contradiction checks."""
    parts = []
    for iid, kw, _ in constraints:
        if iid == "keywords:existence":
            parts += kw["keywords"]
        elif iid == "keywords:frequency" and kw["relation"] == "at least":
            parts += [kw["keyword"]] * kw["frequency"]
        elif iid == "length_constraints:nth_paragraph_first_word":
            parts.append(kw["first_word"])
        elif iid == "startend:end_checker":
            parts.append(kw["end_phrase"])
        elif iid == "atropos:word_at_position":
            parts.append(kw["word"])
        elif iid == "detectable_content:postscript":
            parts.append(kw["postscript_marker"])
    return " ".join(parts).lower()


def contradictory(constraints: list[Constraint]) -> bool:
    required = _required_text(constraints)
    for iid, kw, _ in constraints:
        if iid == "keywords:letter_frequency" and kw["let_relation"] == "less than":
            if required.count(kw["letter"]) >= kw["let_frequency"]:
                return True
        if iid == "keywords:forbidden_words" and any(w in required.split() for w in kw["forbidden_words"]):
            return True
        if (
            iid == "keywords:frequency"
            and kw["relation"] == "less than"
            and required.count(kw["keyword"]) >= kw["frequency"]
        ):
            return True
        if (
            iid == "length_constraints:number_words"
            and kw["relation"] == "less than"
            and kw["num_words"] < 15 * len(constraints)
        ):
            return True  # too short to fit the other requirements
    return False


def generate_constraints(
    rng: random.Random, base_prompt: str, k: int, allowed: list[str]
) -> list[Constraint]:
    """k mutually satisfiable constraints drawn from the allowed instruction ids."""
    makers = _make(rng, base_prompt)
    for _ in range(100):
        chosen: list[Constraint] = []
        for iid in rng.sample(allowed, len(allowed)):
            if len(chosen) == k:
                break
            if any(conflicts(iid, other) for other, _, _ in chosen):
                continue
            kwargs, sentence = makers[iid]()
            chosen.append((iid, kwargs, sentence))
        if len(chosen) == k and not contradictory(chosen):
            return chosen
    raise ValueError(f"could not draw {k} compatible constraints from {len(allowed)} kinds")
