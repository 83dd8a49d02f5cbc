"""rewards.if_prose: the prose-shape and English-word tests behind the IF response gate."""

import pytest

from atropos_envs.envs.if_topics import english_words
from rewards.if_prose import is_english_word, not_prose, not_words, pattern_variety, real_word_share
from rewards.if_response import non_response, tokens

WORDS = english_words()

HONEST = (
    "My ideal weekend starts on Saturday with a slow breakfast and strong coffee on the balcony. "
    "Then I walk to the park with friends and we play frisbee until lunch. In the afternoon I read "
    "a good book in the quiet garden, and on Sunday I cook a long dinner for my family."
)
TELEGRAPHIC = (
    "Journals, articles and interviews provide insights. Forums and social media yield firsthand "
    "accounts. Surveys and case studies offer quantitative and qualitative data for the thesis."
)


@pytest.mark.parametrize(
    "word",
    ["walked", "stories", "babies", "running", "stopped", "colour", "neighbour", "wavelength", "isn", "has"],
)
def test_inflections_british_spellings_and_compounds_are_words(word):
    assert is_english_word(word, WORDS)


@pytest.mark.parametrize("word", ["qwv", "zxp", "blorf", "votobi", "nolimi", "xx", "zzzzzzzzzzzzzzzzzzzzzz"])
def test_syllable_gibberish_is_not_a_word(word):
    assert not is_english_word(word, WORDS)


def test_a_huge_token_is_judged_without_compound_search():
    assert not is_english_word("ab" * 20_000, WORDS)  # no quadratic split of 40,000 letters


@pytest.mark.parametrize("text", [HONEST, TELEGRAPHIC, HONEST.upper(), HONEST.lower()])
def test_honest_prose_reads_as_prose(text):
    words = tokens(text)
    assert not_prose(words, "en") is None
    assert not_words(words, words=WORDS, min_share=0.7) is None


@pytest.mark.parametrize(
    "text,why",
    [
        (
            # the red team's salad: topic nouns joined by "and the" (two thirds function words)
            "The weekend and the coffee and the friends and the walk and the relax and the breakfast. "
            "The coffee and the friends and the walk and the relax and the breakfast and the movie.",
            "function words (a word salad",
        ),
        (
            # adjectives lower the share; the joiners are still "the" and "and"
            "The slow weekend and the hot coffee and the good friends and the long walk and the warm "
            "relax and the big breakfast and the old movie and the new park",
            "a template repeated: 'and the'",
        ),
        (
            # no pair repeated, still only "the" and "and" between the nouns
            "the weekend and coffee the friends and walks the park and movies the music and games "
            "the beach and books the dinner and lunch the garden and sleep",
            "2 distinct function words",
        ),
        (
            # varied joiners, one fixed template: FCCFFCC... repeats with period four
            "The lazy weekend with a hot coffee in the long walk of our good friends to the warm park "
            "on a slow breakfast for the old movie with a big garden in the new book of our calm music "
            "to the bright morning on a quiet evening",
            "a template repeated",
        ),
        ("the sea " * 30, "a template repeated"),
    ],
)
def test_salads_and_templates_are_not_prose(text, why):
    assert why in (not_prose(tokens(text), "en") or "")


def test_german_salads_are_not_german_prose():
    salad = (
        "Der Leuchtturm und der Wärter und die Lampe und der Sturm und die Schiffe und die Felsen. "
        "Der Wärter und die Lampe und der Sturm und die Schiffe und die Felsen und die Nacht."
    )
    english_nouns = salad.replace("Leuchtturm", "lighthouse").replace("Wärter", "keeper")
    german = (
        "Jeden Abend stieg der alte Wärter die Treppe des Leuchtturms hinauf und zündete die Lampe an. "
        "Draußen tobte der Sturm über dem Meer, und die Wellen schlugen gegen die Felsen. In dieser "
        "Nacht sah er ein kleines Boot im Nebel und drehte das Licht zum Schiff."
    )
    assert not_prose(tokens(salad), "de") and not_prose(tokens(english_nouns), "de")
    assert not_prose(tokens(german), "de") is None


def test_gibberish_is_not_english_words_but_other_scripts_are_not_judged():
    gibberish = "roman qwv zxp blorf grint vosk plem trab kunt yirr bekoti"
    assert "not English words" in not_words(tokens(gibberish), words=WORDS, min_share=0.4)
    russian = "Это перевод текста на русский язык для проверки и он не английский совсем вовсе"
    assert not_words(tokens(russian), words=WORDS, min_share=0.4) is None
    assert not_words(tokens("qwv zxp blorf"), words=WORDS, min_share=0.4) is None  # under 8 words: no test
    assert (
        real_word_share(tokens("the cat and the 한국 dog"), WORDS)[1] == 2
    )  # function words, other scripts left out


def test_pattern_variety_is_low_for_a_period_and_high_for_prose():
    period = [True, False, False, True] * 20
    assert pattern_variety(period) < 0.4
    assert pattern_variety([t in {"the", "a", "and", "of", "on", "in", "i"} for t in tokens(HONEST)]) > 0.6


def test_the_gate_names_the_prose_problem():
    salad = "The weekend and the coffee and the friends and the walk and the relax and the breakfast. " * 2
    why = non_response(
        salad, request="Describe your ideal weekend.", prompt="Describe your ideal weekend.", language="en"
    )
    assert why and "not prose in 'en'" in why
    gib = "weekend " + " ".join(["qwv zxp blorf grint vosk plem"] * 2) + " trab kunt"
    why = non_response(
        gib,
        request="Describe your ideal weekend.",
        prompt="Describe your ideal weekend.",
        min_real_share=0.4,
        word_list=WORDS,
        topic_in_copies=True,
    )
    assert why and "not English words" in why


def test_one_sentence_salads_are_refused_and_one_sentence_answers_pass():
    salad = "The weekend and the coffee and the friends and the walk and the relax and the breakfast."
    assert "word salad" in not_prose(tokens(salad), "en")
    salad = "TPe market and the stalls and the vendors and the fruit and the morning and the crowd."
    assert "a template repeated: 'and the'" in not_prose(tokens(salad), "en")
    for honest in (
        "Sunlight scatters off air molecules and blue light scatters most so the sky looks blue.",
        "Saturday means a slow breakfast, a long walk in the park and a movie with friends.",
        "The history of the empire is one of the great stories of the ancient world.",
    ):
        assert not_prose(tokens(honest), "en") is None, honest
