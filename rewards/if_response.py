"""Does a reply respond to the request at all? The gate in front of instruction checks.

IFEval's checks judge form, not content: "Do not use commas" and "Answer with less than
100 words" hold for ".", for the prompt echoed back, or for any filler. A reply earns
constraint credit only when it

- is not empty;
- has words of its own: at least ``min_new_words`` distinct words that appear neither in
  the request nor in the system prompt (fewer is an echo or no answer), and at most half
  of its words copied from the prompts in runs of three or more;
- is about the request: its own words (those not copied in runs, so an echo with an
  unrelated tail fails) share ``min_topic`` distinct content words (by their first five
  letters) with the request and the topic vocabulary the caller gives, at least
  ``min_answer_topic`` of them from the answer vocabulary (words the request itself does
  not use), spread over the reply (two thirds of a reply of 30 words or more have one),
  unless the task makes that unfair (one of a few fixed phrases); and names no more
  distinct words of the other requests' topics (``other_topics``) than of its own topic
  (or ``MAX_OTHER_TOPIC`` when that is more): one reply stuffed with every topic's words,
  written to pass any request, does not;
- is not one text repeated (a tenth of a long reply's words are distinct), has a
  plausible length (``min_words``) and reads as prose in the expected language
  (``rewards.if_prose.not_prose``: 10-60 % of its words that language's function words,
  several distinct ones, no word pair or function/content pattern repeated as a template),
  and, where asked (``min_real_share``), is made of English words, not gibberish
  (``rewards.if_prose.not_words``).

What it cannot tell without a model judge: fluent prose in the right language that
names enough topic words in every third while saying nothing true or useful about the
request (filler with topic words sprinkled through it) passes, and so does a salad of
real words written to prose statistics (varied function words, adjectives, random verbs:
see ``rewards.if_prose`` for the measured residual).

Text that the constraints themselves require to be copied (the request for
``combination:repeat_prompt``, the fixed options, an end phrase, keywords, a postscript
marker) is removed before these tests. Pure and linear in the reply's length.
"""

from __future__ import annotations

import re

from rewards.if_prose import not_prose, not_words

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
#: A reply of REPEAT_MIN_WORDS words or more needs this share of distinct words (junk x20 has ~5 %).
REPEAT_MIN_WORDS, MIN_DISTINCT_SHARE = 50, 0.1
#: A reply this long needs a topic word in two of its thirds.
SPREAD_MIN_WORDS = 30
#: Distinct words of other requests' topics a reply may always name (more only with as
#: many of its own topic's).
MAX_OTHER_TOPIC = 4
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
    return {
        t[:5]
        for t in tokens(text)
        if len(t) >= 3 and not t.isdigit() and t not in STOPWORDS and t not in INSTRUCTION_WORDS
    }


def non_response(
    text: str,
    *,
    request: str,
    prompt: str,
    system: str = "",
    required_copies: list[str] = (),
    min_new_words: int = 5,
    topical: bool = True,
    one_of: tuple[str, ...] = (),
    whole_echo_only: bool = False,
    min_words: int = 0,
    topic_words: list[str] = (),
    min_topic: int = 1,
    answer_words: list[str] = (),
    min_answer_topic: int = 0,
    spread: bool = False,
    language: str | None = None,
    topic_in_copies: bool = False,
    min_real_share: float = 0.0,
    word_list: frozenset[str] = frozenset(),
    other_scripts: bool = True,
    other_topics: list[str] = (),
) -> str | None:
    """Why the reply does not respond to the request, or None when it does.

    request: the task itself (for the topic); prompt: the whole user message (what an
    echo copies); system: the system prompt; required_copies: phrases the constraints
    make the reply contain; min_new_words: distinct words of its own it needs; topical:
    whether it must share a content word with the request; one_of: when the request
    offers fixed answers, the reply must give exactly one of them; whole_echo_only: count
    as an echo only a reply that copies (nearly) the whole prompt, for requests that may ask
    to edit or repeat text they quote; min_words: the fewest words (beside required copies)
    a plausible answer has; topic_words, answer_words: more words of the topic (the latter
    words an answer uses that the request does not); min_topic, min_answer_topic: how many
    distinct ones it needs; spread: two thirds of a long reply need one; language: whose
    function words prose must have and shape it must show (None: no test; rewards.if_prose);
    topic_in_copies: topic words copied from the prompt count too (task files, whose answers
    may quote the request); min_real_share: the share of its ASCII content words that must
    be English words, those of ``word_list`` (lowercase; 0: no test); other_scripts:
    whether a reply mostly in another script is let through (a translation) rather than
    refused; other_topics: words of the other requests' topics (a reply naming more of them
    than of its own is a mix written to pass every request)."""
    if not text.strip():
        return "empty reply"
    given = sum(option.lower() in text.lower() for option in one_of)
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
    if len(rest) >= REPEAT_MIN_WORDS and len(set(rest)) < MIN_DISTINCT_SHARE * len(rest):
        return f"repetitive: {len(set(rest))} distinct words in {len(rest)}"
    if len(rest) < min_words:
        return f"too short for the request: {len(rest)} words (needs {min_words})"
    why = not_prose(rest, language) if language else None
    if not why and min_real_share:
        why = not_words(rest, words=word_list, min_share=min_real_share, other_scripts=other_scripts)
    if why:
        return why
    if topical:
        words = rest if topic_in_copies else own
        return _off_topic(
            words,
            request=request,
            topic_words=topic_words,
            min_topic=min_topic,
            answer_words=answer_words,
            min_answer_topic=min_answer_topic,
            spread=spread,
            other_topics=other_topics,
        )
    return None


def _off_topic(
    own: list[str],
    *,
    request: str,
    topic_words: list[str],
    min_topic: int,
    answer_words: list[str],
    min_answer_topic: int,
    spread: bool,
    other_topics: list[str] = (),
) -> str | None:
    """Why the reply's own words are not about the topic, or None."""
    answer = {w.lower()[:5] for w in answer_words} - content_stems(request)
    stems = content_stems(request) | {w.lower()[:5] for w in topic_words} | answer
    if not stems:
        return None
    hits = [t[:5] if len(t) >= 3 and t[:5] in stems else None for t in own]
    found = {h for h in hits if h}
    if len(found) < min(min_topic, len(stems)):
        return (
            f"off topic: its own words share {len(found)} distinct content words with the request's "
            f"topic (needs {min_topic})"
        )
    if len(found & answer) < min_answer_topic:
        return (
            f"off topic: {len(found & answer)} topic words beyond the request's own "
            f"(needs {min_answer_topic}; repeating the request's words is not an answer)"
        )
    other = {w.lower()[:5] for w in other_topics} - stems
    elsewhere = {t[:5] for t in own if len(t) >= 3 and t[:5] in other}
    if len(elsewhere) > max(MAX_OTHER_TOPIC, len(found)):
        return (
            f"off topic: {len(elsewhere)} words of other requests' topics and {len(found)} of its own "
            "(a mix of topics written to pass any request)"
        )
    if spread and len(own) >= SPREAD_MIN_WORDS:
        third = len(own) // 3
        empty = [n for n in range(3) if not any(hits[n * third : (n + 1) * third if n < 2 else None])]
        if len(empty) > 1:  # one third may be a greeting or a sign-off
            where = " and ".join(("first", "middle", "last")[n] for n in empty)
            return f"off topic: no topic word in its {where} thirds"
    return None
