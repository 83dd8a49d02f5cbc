"""Does a reply respond to the request at all? The gate in front of instruction checks.

IFEval's checks judge form, not content: "Do not use commas" and "Answer with less than
100 words" hold for ".", for the prompt echoed back, or for any filler. A reply earns
constraint credit only when it

- is not empty;
- has words of its own: at least ``min_new_words`` distinct words that appear neither in
  the request nor in the system prompt (fewer is an echo or no answer), and at most half
  of its words copied from the prompts in runs of three or more;
- is about the request: its own words (those not copied in runs, so an echo with an
  unrelated tail fails) share a content word (by its first five letters) with the
  request, unless the task makes that unfair (an answer in another language, one of a
  few fixed phrases).

Text that the constraints themselves require to be copied (the request for
``combination:repeat_prompt``, the fixed options, an end phrase, keywords, a postscript
marker) is removed before these tests. Pure and linear in the reply's length.
"""

from __future__ import annotations

import re

_TOKEN = re.compile(r"[^\W_]+")
_STOPWORDS_TEXT = """
a an the and or but if of to in on at by for with from as is are was were be been being it its this that
these those i you he she we they me my your our their his her them us do does did done not no yes so
than then there here what which who whom whose why how when where all any each every some such only own
same too very can will just should would could may might must shall about above after again against
before below between into through during out over under up down off once more most other few nor also
get got has have had one two three four five six seven eight nine ten first second third
"""
_INSTRUCTION_TEXT = """
write answer response respond reply words word sentences sentence paragraphs paragraph letter letters
use using used include including make sure whole entire less least exactly times capital capitals
lowercase uppercase english format formatted highlight highlighted markdown section sections bullet
bullets points point title wrapped double angle brackets quotation marks comma commas end finish phrase
postscript starting start json placeholders square give separated asterisks divider following options
option character characters number script language nothing after repeat request above before then
like such part parts item items list nested deep levels level indent sub long short keep
total haiku poem poems story stories note essay review description summary song rap limerick blog post
email speech tweet riddle joke article advice announcement plan rules ideal imaginary
"""
STOPWORDS = frozenset(_STOPWORDS_TEXT.split())
#: Words that describe the constraints rather than the topic.
INSTRUCTION_WORDS = frozenset(_INSTRUCTION_TEXT.split())
NGRAM = 3
#: An echo copies at least this many tokens (a picked option or a quoted name copies fewer).
ECHO_MIN_TOKENS = 8


def kwarg_strings(kwargs_list: list[dict]) -> list[str]:
    """Every string among instructions' keyword arguments (keywords, end phrases, markers,
    a prompt to repeat): text the constraints may make a reply copy."""
    found: list[str] = []
    for kwargs in kwargs_list:
        for value in (kwargs or {}).values():
            items = value if isinstance(value, list) else [value]
            found += [v for v in items if isinstance(v, str)]
    return found


def tokens(text: str) -> list[str]:
    return [t.lower() for t in _TOKEN.findall(text)]


def _remove_required_copies(text: str, copies: list[str]) -> str:
    """The reply without the phrases the constraints make it copy (whole words, any case;
    single letters and the like are left alone)."""
    for phrase in sorted({c.strip() for c in copies if len(c.strip()) >= 3}, key=len, reverse=True):
        text = re.sub(r"(?<!\w)" + re.escape(phrase) + r"(?!\w)", " ", text, flags=re.IGNORECASE)
    return text


def copied_mask(reply: list[str], sources: list[list[str]], n: int = NGRAM) -> list[bool]:
    """For each reply token, whether it lies in a run of n tokens that also occurs in a source."""
    grams = {tuple(src[i : i + n]) for src in sources for i in range(len(src) - n + 1)}
    covered = [False] * len(reply)
    for i in range(len(reply) - n + 1):
        if tuple(reply[i : i + n]) in grams:
            covered[i : i + n] = [True] * n
    return covered


def content_stems(text: str) -> set[str]:
    """First five letters of the words that carry the topic (not stop or instruction words)."""
    return {t[:5] for t in tokens(text) if len(t) >= 3 and not t.isdigit() and t not in STOPWORDS
            and t not in INSTRUCTION_WORDS}  # fmt: skip


def non_response(text: str, *, request: str, prompt: str, system: str = "", required_copies: list[str] = (),
                 min_new_words: int = 5, topical: bool = True,
                 one_of: tuple[str, ...] = (), whole_echo_only: bool = False) -> str | None:  # fmt: skip
    """Why the reply does not respond to the request, or None when it does.

    request: the task itself (for the topic); prompt: the whole user message (what an
    echo copies); system: the system prompt; required_copies: phrases the constraints
    make the reply contain; min_new_words: distinct words of its own it needs; topical:
    whether it must share a content word with the request; one_of: when the request
    offers fixed answers, the reply must give exactly one of them; whole_echo_only: count
    as an echo only a reply that copies (nearly) the whole prompt, for requests that may ask
    to edit or repeat text they quote."""
    if not text.strip():
        return "empty reply"
    given = sum(option in text for option in one_of)
    if one_of and given != 1:
        return "not an answer: " + (
            "none of the offered answers" if not given else f"{given} of the offered answers at once"
        )
    if not tokens(text):
        return "not an answer: no words"
    copies = list(required_copies)
    rest = tokens(_remove_required_copies(text, copies))
    prompt_tokens, system_tokens = tokens(_remove_required_copies(prompt, copies)), tokens(system)
    copied = copied_mask(rest, [prompt_tokens, system_tokens])
    own = [t for t, c in zip(rest, copied) if not c]  # the words not copied in runs
    seen = set(prompt_tokens) | set(system_tokens)
    new = {t for t in own if t not in seen}
    if len(new) < min_new_words:
        return f"not an answer: {len(new)} words of its own beside the request's (needs {min_new_words})"
    if sum(copied) >= ECHO_MIN_TOKENS and sum(copied) > len(rest) / 2:
        whole = max(sum(copied_mask(src, [rest])) / len(src) for src in (prompt_tokens, system_tokens) if src)
        if not whole_echo_only or whole >= 0.9:
            return f"echoes the request: {sum(copied) / len(rest):.0%} of its words copied from it"
    stems = content_stems(request)
    if topical and stems and not any(t[:5] in stems for t in own if len(t) >= 3):
        return "off topic: its own words share no content word with the request"
    return None
