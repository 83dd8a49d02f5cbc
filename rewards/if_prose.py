"""Does a text read as prose? Cheap shape tests for the InstructionFollowing response gate.

``rewards.if_response`` asks whether a reply responds to a request; this module answers
the narrower question whether its words read as prose in a language rather than as a
word salad, a template repeated or gibberish. Each test is one linear pass over the tokens:

- function words (English: "the", "of", "is", "you", ...): prose has 10 % to 60 % of them
  (a word list has next to none; "The X and the Y and the Z" has two thirds; the ceiling
  applies from 12 words) and, from 20 words on, uses ``MIN_DISTINCT_FUNCTION`` distinct
  ones (a salad joins its nouns with "the" and "and" alone);
- no template (from 12 words): no word pair makes more than ``MAX_TOP_BIGRAM`` of the
  pairs once seen 4 times (a repeated "and the" is a third of a salad's pairs, at most
  5 % of the honest replies measured; "of the" 3 times in one sentence is prose), and,
  from 20 words, the sequence of function (F) and content (C) words is not periodic:
  ``pattern_variety``, the entropy of its 6-grams over the most that many 6-grams could
  have, is at least ``MIN_PATTERN_VARIETY`` (prose mixes "CCFCFF", "FFCCFC", ...; "The
  big X with a warm Y in the Z" repeats four 6-grams);
- real words (English only): a share of the ASCII content words (function words are
  words anyway) are in an English word list the caller passes (the env reads
  reasoning-gym's, 151,000 words of 3-10 letters, ``reasoning_gym/data/words3to10.txt``:
  ``atropos_envs.envs.if_topics.english_words``) or are common short words, after
  stripping simple inflections (-s, -es, -ies, -ed, -ing, -ly, -er, -est, British -our,
  -ise) or as a compound of two listed words. Gibberish syllables ("qwv zxp blorf grint")
  are not words. Words in other scripts, digits and single letters are not counted (a
  reply that must put a Korean word every fourth word, or all caps, still passes), and a
  reply mostly in another script (a translation) is not judged.

Measured (benchmarks/results/if_gate_ifbench.md, 2026-11-30): 20 hand-written honest
answers to generated tasks have 7+ distinct function words, a top pair under 5 %, a
variety of 0.67+ and 88 %+ real content words; the red team's salads 2 distinct words,
two thirds function words, a top pair of 12-33 % and a variety of 0.29-0.49. IFBench's
260 English prose answers judged by these tests as if they answered generated tasks:
10 refused (answers bent by odd constraints: "only prime-length words", alliteration,
dense maths), none of them refused by the 10 % floor alone.

Residual gameability, honestly: these tests judge the shape of the text, not its
grammar or meaning. A salad written to prose statistics (real words, varied function
words, nouns paired with adjectives and random verbs in sentences of varied length: "The
kitten sleeps under a quiet lamp while our coffee walks into the old park") passes them;
so does a template diluted with enough varied text (the red team's constraint-formatting
generator with random-verb sentences reached reward >= 0.5 on 38 of 200 generated tasks);
so does any real text on another subject (the topic test in ``if_response`` refuses
that). A quarter of made-up words among real ones passes the word test.
"""

from __future__ import annotations

import math
from collections import Counter

#: Frequent function words per language: prose has many (English ~40 %), word salads few.
FUNCTION_WORDS = {
    lang: frozenset(words.split())
    for lang, words in {
        "en": (
            "the a an and or of to in on is are was were it that this for with as be by at from you i we "
            "they he she not but your my our their can will have has his her its if so"
        ),
        "de": (
            "der die das und ist ein eine einen nicht zu mit den dem des im in es sie er wir ich auf für "
            "von sich auch am wie aber oder sind war"
        ),
        "fr": (
            "le la les et est un une des de du en il elle nous je pas que qui pour dans sur au avec ce se "
            "sont mais ou plus"
        ),
        "es": "el la los las y es un una de del en que no por con para se lo su al son pero o más muy",
        "it": "il la le lo gli e è un una di del della in che non per con si al sono ma o più da",
        "pt": "o a os as e é um uma de do da em que não por com para se no na são mas ou mais",
    }.items()
}
MIN_FUNCTION_SHARE, MAX_FUNCTION_SHARE = 0.10, 0.60
#: The shape tests below need this many words (a title or a one-line answer has no shape);
#: the function-word ceiling and the repeated pair apply from SHORT_SHAPE_MIN_WORDS.
SHAPE_MIN_WORDS, SHORT_SHAPE_MIN_WORDS = 20, 12
#: Distinct function words a reply of SHAPE_MIN_WORDS words uses (honest replies: 5+).
MIN_DISTINCT_FUNCTION = 3
#: The most frequent word pair may make at most this share of the pairs (once seen 4 times).
MAX_TOP_BIGRAM, TOP_BIGRAM_MIN_COUNT = 0.12, 4
#: Variety of the function/content 6-grams (pattern_variety): honest replies to generated
#: tasks 0.67+, IFBench's prose answers 0.55+ but for 5 of 260, templates 0.29-0.49.
PATTERN_N, MIN_PATTERN_VARIETY = 6, 0.55
#: English words a reply needs among its ASCII content words: open requests, task files.
MIN_REAL_SHARE, MIN_REAL_SHARE_FILES = 0.7, 0.4
#: Words of one or two letters English uses (and the pieces contractions leave).
_SHORT_WORDS = frozenset(
    """a i am an as at be by do go he if in is it me my no of oh ok on or so to up us we hi ex
    s t m re ve ll d tv uk us eu ai id pc vs eg ie pm mr ms dr st ft km kg cm mm lb oz
    has had his its was isn aren wasn weren don doesn didn hasn haven hadn won wouldn shouldn couldn
    can ain""".split()
)
_INFLECTIONS = (
    ("ies", "y"),
    ("ied", "y"),
    ("ing", ""),
    ("ing", "e"),
    ("es", ""),
    ("ed", ""),
    ("ed", "e"),
    ("s", ""),
    ("ly", ""),
    ("er", ""),
    ("est", ""),
    ("our", "or"),
    ("ise", "ize"),
    ("ised", "ized"),
    ("ising", "izing"),
    ("isation", "ization"),
)
#: Longer tokens are not looked up as compounds (keeps the test linear in the reply).
_MAX_COMPOUND = 20


def is_english_word(token: str, words: frozenset[str]) -> bool:
    """Whether a lowercase token is an English word, an inflection of one or a compound of
    two, given a lowercase word list (``atropos_envs.envs.if_topics.english_words``)."""
    if len(token) <= 3 and token in _SHORT_WORDS:
        return True
    if len(token) < 3:
        return False
    if token in words:
        return True
    for suffix, replacement in _INFLECTIONS:
        if token.endswith(suffix) and len(token) - len(suffix) >= 3:
            base = token[: -len(suffix)]
            if base + replacement in words:
                return True
            doubled = suffix in ("ing", "ed", "er", "est") and len(base) >= 4 and base[-1] == base[-2]
            if doubled and base[:-1] in words:  # running, stopped
                return True
    if 8 <= len(token) <= _MAX_COMPOUND:  # wavelength, thunderstorm
        return any(token[:i] in words and token[i:] in words for i in range(4, len(token) - 3))
    return False


def real_word_share(tokens: list[str], words: frozenset[str]) -> tuple[float, int]:
    """The share of a reply's ASCII content words (two letters or more, not English function
    words, which are real words anyway) that are English words, and how many were counted
    (words in other scripts, digits and single letters are not)."""
    counted = [
        t for t in tokens if len(t) >= 2 and t.isascii() and t.isalpha() and t not in FUNCTION_WORDS["en"]
    ]
    if not counted:
        return 1.0, 0
    return sum(is_english_word(t, words) for t in counted) / len(counted), len(counted)


def pattern_variety(is_function: list[bool], n: int = PATTERN_N) -> float:
    """Entropy of the function/content n-grams over the most it could be for this many
    n-grams (1: every n-gram a new pattern; a template of period p: log p over log count)."""
    grams = Counter(tuple(is_function[i : i + n]) for i in range(len(is_function) - n + 1))
    total = sum(grams.values())
    most = math.log2(min(2**n, total)) if total > 1 else 0.0
    if not most:
        return 1.0
    return -sum(k / total * math.log2(k / total) for k in grams.values()) / most


def not_prose(tokens: list[str], language: str, *, shape: bool = True) -> str | None:
    """Why these (lowercase) tokens do not read as prose in ``language``, or None.

    The function-word floor applies from 8 words; only when ``shape``, the ceiling and the
    top word pair from SHORT_SHAPE_MIN_WORDS, distinct function words and pattern variety
    from SHAPE_MIN_WORDS."""
    function = FUNCTION_WORDS.get(language)
    if language == "en":  # words in other scripts (asked for every n-th word) are not English prose
        tokens = [t for t in tokens if t.isascii()]
    if function is None or len(tokens) < 8:
        return None
    is_function = [t in function for t in tokens]
    share = sum(is_function) / len(tokens)
    if share < MIN_FUNCTION_SHARE:
        return f"not prose in '{language}': {share:.0%} function words (prose has 10 %+)"
    if not shape or len(tokens) < SHORT_SHAPE_MIN_WORDS:
        return None
    if share > MAX_FUNCTION_SHARE:
        return f"not prose in '{language}': {share:.0%} function words (a word salad; prose has under 60 %)"
    (pair, count), pairs = Counter(zip(tokens, tokens[1:])).most_common(1)[0], len(tokens) - 1
    if count >= TOP_BIGRAM_MIN_COUNT and count > MAX_TOP_BIGRAM * pairs:
        return f"a template repeated: '{' '.join(pair)}' is {count / pairs:.0%} of its word pairs"
    if len(tokens) < SHAPE_MIN_WORDS:
        return None
    distinct = len({t for t, f in zip(tokens, is_function) if f})
    if distinct < MIN_DISTINCT_FUNCTION:
        return (
            f"not prose in '{language}': {distinct} distinct function words in {len(tokens)} words "
            f"(a word salad; prose uses {MIN_DISTINCT_FUNCTION}+)"
        )
    variety = pattern_variety(is_function)
    if variety < MIN_PATTERN_VARIETY:
        return (
            f"a template repeated: its pattern of function and content words has {variety:.2f} of the "
            f"variety prose has (needs {MIN_PATTERN_VARIETY})"
        )
    return None


def not_words(
    tokens: list[str], *, words: frozenset[str], min_share: float, other_scripts: bool = True
) -> str | None:
    """Why these tokens are not English words (gibberish), or None. Replies of under 8
    ASCII content words are not judged; replies mostly in another script are not judged
    when ``other_scripts`` (a translation was asked for), else refused."""
    if len(tokens) >= 8 and sum(t.isascii() for t in tokens) < len(tokens) / 2:
        if other_scripts:
            return None
        return "not English: most of its words are in another script (the request asks for none)"
    share, counted = real_word_share(tokens, words)
    if counted >= 8 and share < min_share:
        return (
            f"not English words: {share:.0%} of its content words are in the word list "
            f"(needs {min_share:.0%})"
        )
    return None
