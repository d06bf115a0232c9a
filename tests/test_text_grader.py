"""The `text` grader itself: tokenising, negation, spec validation, results, spans and hostile input."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

import graders
from graders import text
from graders.base import MAX_ANSWER_CHARS, Context, SpecError
from graders.structured import status_for
from graders.text import analysis, phrases, rules

RULES = text.default_rules()
LANG = RULES.lang

# A small rubric written for these tests, independent of the shipped exercises.
SPEC = {
    "concepts": {
        "wants-it": {"use": ["interest"]},
        "timeline": {"use": ["next-steps"]},
    },
    "checks": [
        {"id": "interest", "require": "wants-it", "weight": 2, "pass": "You want it.", "fail": "Say you want it.",
         "lesson": "saying-you-want-the-job"},
        {"id": "next-steps", "require": "timeline", "weight": 1, "pass": "You ask.", "fail": "Ask what is next."},
        {"id": "no-presumption", "forbid": "presumption", "weight": 2, "pass": "Fine.", "fail": "Presumes."},
        {"id": "tone", "tone": ["pressure", "demands", "sarcasm", "rudeness"], "pass": "Polite.", "fail": "Tone:"},
        {"id": "length", "words": {"min": 8, "max": 60}},
        {"id": "asks", "questions": 1},
    ],
}
COMPILED = graders.compile_spec("text", SPEC)
GOOD = "I'm really keen on this role and the team. What are the next steps in your process?"


def grade(answer, spec=COMPILED):
    """Grade through the public engine, as the site and CLI do."""
    return graders.grade("text", spec, answer, Context())


def check(result, check_id):
    """Return one check of a result by id."""
    return next(c for c in result.checks if c.id == check_id)


def span_texts(result, check_id):
    """The answer words each span of a check points at."""
    return [result.answer_text[a:b] for a, b in check(result, check_id).spans]


# ---- analysis: words, sentences, negation --------------------------------------------------------------------

def test_contractions_expand_but_keep_the_written_span():
    """"I'm" becomes "i am", both words pointing at the characters of "I'm"."""
    a = analysis.analyse("I'm sure they don't mind; it's the team's call.", LANG)
    assert a.words[:4] == ("i", "am", "sure", "they")
    assert a.words[4:6] == ("do", "not") and a.starts[4] == a.starts[5]
    assert "it" in a.words and "is" in a.words and "team" in a.words and "team's" not in a.words
    assert a.text[a.starts[0]: a.ends[0]] == "I'm"


def test_apostrophe_free_contractions():
    """Answers typed without apostrophes (dont, im, cant) read the same as with them."""
    assert analysis.analyse("im sure i dont know and cant say", LANG).words == (
        "i", "am", "sure", "i", "do", "not", "know", "and", "can", "not", "say")



def test_contractions_without_apostrophes_are_read_from_the_next_word():
    """"its a gap", "your right" and "Ill start" are contractions; "its users", "your role" and "ill" are not."""
    words = analysis.analyse("Your right, its a gap. Ill start tonight.", LANG).words
    assert words == ("you", "are", "right", "it", "is", "a", "gap", "i", "will", "start", "tonight")
    words = analysis.analyse("I was ill last week. Its users like your role. Ill health.", LANG).words
    assert words == ("i", "was", "ill", "last", "week", "its", "users", "like", "your", "role", "ill", "health")

def test_sentences_skip_abbreviations_and_initials():
    """"Ms. Lee" and "J. Smith" do not end sentences; a question mark makes a question."""
    a = analysis.analyse("Dear Ms. Lee, thanks. I met J. Smith today! What are the next steps?", LANG)
    assert [s.question for s in a.sentences] == [False, False, True]
    assert a.text[a.sentences[1].start: a.sentences[1].end] == "I met J. Smith today!"


def test_hard_wrapped_lines_stay_one_sentence_but_short_lines_end_one():
    """Prose wrapped at 70 columns is one sentence; a greeting or sign-off line is its own."""
    a = analysis.analyse("Dear Tom,\nI am writing to say that I am not really\ninterested in the job after all.\n"
                        "Best,\nMaya", LANG)
    assert len(a.sentences) == 4
    assert a.words[a.sentences[1].first: a.sentences[1].stop][-4:] == ("in", "the", "job", "after", "all")[-4:]


def test_indirect_questions_count_as_questions():
    """"Could you tell me ..." asks something even without a question mark."""
    a = analysis.analyse("Could you tell me about the timeline. I look forward to it.", LANG)
    assert [s.question for s in a.sentences] == [True, False]


@pytest.mark.parametrize(("sentence", "question"), [
    ("May I also ask already now about the salary band.", True),
    ("Could you just tell me when you will decide.", True),
    ("And can I just ask about the next stage.", True),
    ("May I say that I enjoyed it.", False),
    ("Could you please really honestly tell me.", False),  # more than two words inside: no longer the opener
])
def test_an_opener_may_have_a_word_or_two_set_inside_it(sentence, question):
    """A lead-in or modifier inside an indirect-question opener ("may I also ask") still opens a question."""
    assert analysis.analyse(sentence, LANG).sentences[0].question is question


@pytest.mark.parametrize(("sentence", "question", "asks"), [
    ("I'm serious about this role, but I'd like to know if anything about me gives you pause.", False, True),
    ("After that, I'd love to know the next steps.", False, True),
    ("I enjoyed today so may I ask when you will decide.", True, False),
    ("I'd like to know the team, and I enjoyed today.", False, True),  # a request at the start, as before
    ("I liked the team and the work, which I would like to know more about.", False, False),  # no clause opens it
])
def test_a_later_clause_can_open_like_a_question(sentence, question, asks):
    """An opener after a comma, "but" or "so" asks as much as one at the start of the sentence."""
    first = analysis.analyse(sentence, LANG).sentences[0]
    assert (first.question, first.request) == (question, asks)


@pytest.mark.parametrize(("sentence", "negated"), [
    ("I'm not really interested in the role.", True),
    ("I have no real interest in it.", True),
    ("I am never keen on that.", True),
    ("I'm not that excited about it.", True),
    ("I'm not sure about the salary, but I'm very interested in the role.", False),
    ("I couldn't be more excited about it.", False),
    ("I can't wait to join. I'm interested!", False),
    ("Not only am I interested, I am ready.", False),
    ("It's not far. I'm interested in it.", False),
    ("Honestly, I'm uninterested in the role now.", True),  # a negating prefix negates as "not" does
])
def test_negation_scope(sentence, negated):
    """A negator governs a concept in its clause, within a few words; idioms and clause breaks stop it."""
    hits = text.probe(RULES, RULES.lexicons["interest"], sentence)
    interested = [h for h in hits if "interest" in sentence[h.span[0]: h.span[1]].lower()
                  or "excited" in sentence[h.span[0]: h.span[1]].lower() or "keen" in sentence[h.span[0]: h.span[1]]]
    assert interested, sentence
    assert all((h.negator is not None) == negated for h in interested), sentence


@pytest.mark.parametrize(("word", "read"), [
    ("unconvinced", ("not", "convinced")),
    ("unfamiliar", ("not", "familiar")),
    ("unless", ("unless",)),  # the rest is no adjective or participle
    ("unit", ("unit",)),  # too short a stem
    ("uncovered", ("uncovered",)),  # kept: the prefix reverses an action
])
def test_a_negating_prefix_reads_as_not_and_the_stem(word, read):
    """"unconvinced" is read "not convinced", so the stem's rules and negation both apply; other un- words stay."""
    assert LANG.expand(word) == read


@pytest.mark.parametrize(("text_", "words"), [
    ("Tableau's new to me.", ("tableau", "is", "new", "to", "me")),
    ("The rota's not perfect.", ("the", "rota", "is", "not", "perfect")),
    ("The team's rota works.", ("the", "team", "rota", "works")),  # a possessive stays one
])
def test_s_before_a_word_no_possessive_takes_is_is(text_, words):
    """After a noun, 's before "new", "not", "a" ... means "is"; before a noun it is the possessive."""
    assert analysis.analyse(text_, LANG).words == words


def test_phrase_syntax_alternatives_optional_wildcard_exact():
    """{a|b} alternatives, [a] optional words, * any word, =word exact, inflections for the rest."""
    patterns = phrases.compile_phrase("{thank you|thanks} for [the] * time", LANG)
    assert len(patterns) == 4  # two ways to thank, with or without "the"
    exact = phrases.compile_phrase("=started", LANG)[0][0]
    inflected = phrases.compile_phrase("started", LANG)[0][0]
    assert exact == frozenset({"started"}) and {"start", "starts", "starting"} <= inflected


@pytest.mark.parametrize(("phrase", "message"), [
    ("{a|b", "unbalanced"),
    ("* time", "must not start with *"),
    ("{a||b}", "empty alternative"),
    ("[maybe]", "can match nothing"),
    ("{a|b|c|d} {a|b c} {a|b c} {a|b c} {a|b c} {a|b c} {a|b c} {a|b c} {a|b c} {a|b c}", "variants"),
])
def test_bad_phrases_are_refused(phrase, message):
    """Malformed phrases raise PhraseError with a message an author can act on."""
    with pytest.raises(phrases.PhraseError, match=message):
        phrases.compile_phrase(phrase, LANG)


@pytest.mark.parametrize(("phrase", "message"), [
    ("@done it", "must not start with a word class"),
    ("i {@done|made} it", "cannot be an alternative"),
    ("i @donne it", r"not a word class \(known: @done"),
])
def test_bad_word_class_phrases_are_refused(phrase, message):
    """A word class first, inside braces, or unknown is refused with a reason."""
    with pytest.raises(phrases.PhraseError, match=message):
        phrases.compile_phrase(phrase, LANG)


@pytest.mark.parametrize(("phrase", "sentence", "found"), [
    ("i @done", "I moved from MATLAB to Python last year.", True),  # the class right after the first word
    ("i @done", "I thought about Python last year.", False),  # a verb of thinking names nothing done
    ("i ~ {have|had} ~ @done", "I've really pushed Excel hard.", True),  # after a gap
    ("i ~ {have|had} ~ @done", "I have never used it.", False),  # "never" is no modifier: the gap stops there
    ("my ...3 @done it", "My MSc coursework involved it.", True),
    ("i @done", "I need it.", False),  # not a past form
])
def test_a_word_class_matches_by_the_words_form(phrase, sentence, found):
    """@done holds verbs by their past form, whatever the verb, in any slot but the first."""
    index = phrases.PhraseIndex.build([(0, p) for p in phrases.compile_phrase(phrase, LANG)], LANG.modifiers)
    assert bool(index.find(analysis.analyse(sentence, LANG))) == found


def test_a_word_class_names_no_words_for_the_speller():
    """A class slot is matched by its test: it adds no word to the vocabulary the speller corrects towards."""
    index = phrases.PhraseIndex.build([(0, p) for p in phrases.compile_phrase("i ~ @done", LANG)], LANG.modifiers)
    assert index.vocabulary() == {"i"}


@pytest.mark.parametrize(("pattern", "usable"), [
    (r"(a+)+b", True),  # catastrophic on a backtracking engine, linear on RE2
    (r"(?:\w+\s?)*$", True),
    (r"\bwhen can i start\b", True),
    (r"[ \t]*\n[ \t\n]*(?-i:[A-Z])", True),
    (r"\bstart(?= date)", False),  # look-ahead
    (r"(?<!not )interested", False),  # look-behind
    (r"\b(\w+) \1\b", False),  # back-reference
])
def test_rule_regexes_run_on_re2(pattern, usable):
    """Rule regexes compile on RE2; what RE2 cannot run is refused with its key, never run on a slower engine."""
    try:
        compiled, message = rules.compile_regex(pattern), ""
    except ValueError as exc:
        compiled, message = None, str(exc)
    assert (compiled is not None) == usable
    if not usable:
        error = _spec_error({"concepts": {"x": {"regex": [pattern]}}, "checks": [{"id": "c", "require": "x"}]})
        assert error == f"spec.concepts.x.regex[0]: {message}"
        assert "cannot be used" in message and "RE2" in message


def test_nested_repeat_on_a_hostile_answer_stays_linear():
    """(a+)+b against 'aaaa...c' backtracks for ages on Python's re; on RE2 it costs what a plain search does."""
    nested, plain = rules.compile_regex(r"(a+)+b"), rules.compile_regex(r"a+b")
    hostile = "a" * 4000 + "c"

    def best_of(rx) -> float:
        """The fastest of five searches, in seconds."""
        times = []
        for _ in range(5):
            t0 = time.perf_counter()
            assert rx.search(hostile) is None
            times.append(time.perf_counter() - t0)
        return min(times)

    # Python's re takes minutes on this input; allowing 50x the plain pattern still catches any backtracking.
    assert best_of(nested) < 50 * best_of(plain) + 0.001


# ---- spec validation ---------------------------------------------------------------------------------------

def _spec_error(spec) -> str:
    """Compile a spec that must fail and return the error text."""
    with pytest.raises(SpecError) as info:
        graders.compile_spec("text", spec)
    return str(info.value)


def test_spec_errors_are_collected_with_key_paths():
    """Every problem is reported at once, each with its key path."""
    error = _spec_error({
        "concepts": {"x": {"phrases": ["ok"], "regex": ["(unclosed"], "scope": "everywhere", "colour": 1}},
        "checks": [
            {"id": "a", "require": "nope"},
            {"id": "b", "tone": ["grumpiness"]},
            {"id": "c", "words": {"min": 50, "max": 10}},
            {"id": "c", "forbid": "x", "wieght": 2},
            {"id": "e", "require": "x", "forbid": "x"},
            {"id": "f"},
        ],
    })
    for expected in ["spec.concepts.x.regex[0]: regular expression does not compile",
                     "spec.concepts.x.scope: must be one of",
                     "spec.concepts.x.colour: unknown key",
                     "spec.checks[0].require: unknown concept 'nope'",
                     "spec.checks[1].tone: unknown tone category 'grumpiness'",
                     "spec.checks[2].words: min (50) is more than max (10)",
                     "spec.checks[3].wieght: unknown key",
                     "duplicate id 'c'",
                     "spec.checks[4]: needs exactly one of",
                     "spec.checks[5]: needs exactly one of"]:
        assert expected in error


def test_spec_rejects_look_arounds_and_use_cycles():
    """A regex RE2 cannot run and concepts that use each other are refused at load."""
    error = _spec_error({"concepts": {"a": {"use": ["b"]}, "b": {"use": ["a"], "regex": ["(?<!not )keen"]}},
                         "checks": [{"id": "x", "require": "a"}]})
    assert "spec.concepts.b.regex[0]: regular expression cannot be used" in error
    assert "cycle" in error


def test_spec_refuses_turning_off_the_guard_and_empty_concepts():
    """The real-sentences guard is not optional; a concept needs something to match."""
    error = _spec_error({"concepts": {"empty": {"scope": "any"}},
                         "checks": [{"id": "g", "sentences": False}, {"id": "r", "require": "empty"}]})
    assert "cannot be turned off" in error
    assert "spec.concepts.empty: needs at least one of" in error


def test_a_broken_regex_is_not_also_reported_as_missing():
    """A concept whose only regex does not compile gets that one error, not "needs at least one of..." too."""
    error = _spec_error({"concepts": {"odd": {"regex": ["[unclosed"]}}, "checks": [{"id": "r", "require": "odd"}]})
    assert "spec.concepts.odd.regex[0]: regular expression does not compile" in error
    assert "needs at least one of" not in error


def test_guard_is_added_when_a_spec_leaves_it_out():
    """Every text spec ends up with the real-sentences check."""
    assert [c.id for c in COMPILED.checks][-1] == text.GUARD_ID
    assert [c.id for c in grade(GOOD).checks] == ["interest", "next-steps", "no-presumption", "tone", "length",
                                                  "asks", "real-sentences"]


# ---- results -----------------------------------------------------------------------------------------------

def test_good_answer_passes_with_explained_checks_and_spans():
    """A good answer passes, every check has a message, and spans point at the words that earned it."""
    result = grade(GOOD)
    assert result.passed and result.status == "correct" and result.score == 1.0
    assert all(c.message for c in result.checks)
    assert span_texts(result, "interest") == ["keen"]
    assert span_texts(result, "next-steps") == ["next steps", "process"]
    assert check(result, "interest").lesson == "saying-you-want-the-job"
    assert result.grader_version == graders.REGISTRY.get("text").version
    assert graders.version("text") == f"text/{result.grader_version}"


def test_negated_interest_is_reported_as_a_negative_signal():
    """"not interested" fails the interest check, and the span covers the negator too."""
    result = grade("I'm not really interested in this role, to be honest. What are the next steps?")
    interest = check(result, "interest")
    assert not interest.passed and not result.passed
    assert span_texts(result, "interest") == ["not really interested in this"]
    assert "negated" in interest.message


def test_presumption_fails_with_its_span():
    """"When can I start?" is caught and highlighted."""
    result = grade("I'm very keen on the role. When can I start, and what are the next steps?")
    assert not check(result, "no-presumption").passed
    assert span_texts(result, "no-presumption") == ["When can I start"]
    assert result.status == "partial"


def test_a_point_resting_only_on_condemned_words_is_counted_without_praise():
    """"So, when can I start?" is a question, but the asks check must not praise the words no-presumption flags."""
    result = grade("I'm very keen on the role, honestly. So, when can I start?")
    asks = check(result, "asks")
    assert asks.passed and not check(result, "no-presumption").passed
    assert asks.message == "Counted, though the words it rests on are flagged in another point."
    # With a second, innocent question the praise stands.
    result = grade("I'm very keen on the role. So, when can I start? And what are the next steps?")
    assert check(result, "asks").message != "Counted, though the words it rests on are flagged in another point."


def test_tone_lists_each_rule_that_fired():
    """Each tone rule that fires adds its own explanation and span."""
    result = grade("I'm keen on the role. I have other offers so decide quickly. What are the next steps?")
    tone = check(result, "tone")
    assert not tone.passed
    assert span_texts(result, "tone") == ["other offers", "other offers so decide quickly", "decide quickly"]
    assert "ultimatum" in tone.message and "hurry" in tone.message and "leverage" in tone.message


def test_local_regex_runs_over_the_word_stream():
    """A concept regex sees lower-cased words with contractions expanded, and maps back to the text."""
    spec = graders.compile_spec("text", {"concepts": {"c": {"regex": [r"\bi am keen\b"]}},
                                         "checks": [{"id": "c", "require": "c"}]})
    result = grade("Honestly, I'm KEEN on it and ready to go.", spec)
    assert check(result, "c").passed
    assert span_texts(result, "c") == ["I'm KEEN"]


def test_words_check_counts_and_highlights_the_overflow():
    """Too long: the words past the limit are highlighted; too short: the count is given."""
    long = GOOD + " " + " ".join(f"I would add detail number {n} here about the project." for n in range(8))
    result = grade(long)
    length = check(result, "length")
    assert not length.passed and "aim for 8 to 60" in length.message
    (start, end), = length.spans
    overflow = result.answer_text[start:end]
    assert result.answer_text[end:] == "."  # the span runs to the last word
    assert len(analysis.WORD_RE.findall(overflow)) == len(analysis.WORD_RE.findall(long)) - 60
    short = grade("Keen. Next steps?")
    assert "has 3 words" in check(short, "length").message


def test_keyword_list_scores_zero_and_says_why():
    """A list of the right words earns nothing: what it would have passed says "not credited", what it failed
    on its own merits keeps its own reason."""
    result = grade("keen interested excited team next steps timeline process decision hear back")
    assert result.score == 0.0 and result.status == "incorrect" and not result.passed
    guard = check(result, text.GUARD_ID)
    assert not guard.passed and "list of words" in guard.message
    assert not any(c.passed for c in result.checks)
    assert check(result, "interest").message.startswith(text.NOT_CREDITED)
    assert check(result, "asks").message.endswith("Found 0 question(s); the task asks for at least 1.")


def test_repeated_sentence_spam_earns_nothing():
    """The same good sentence pasted several times fails the guard."""
    result = grade(" ".join([GOOD] * 4))
    assert result.score == 0.0
    assert "appears 4 times" in check(result, text.GUARD_ID).message


def test_phrase_list_with_little_else_earns_nothing():
    """One sentence made of rubric phrases with almost no other words is a keyword list in disguise."""
    result = grade("I'm interested, keen, excited, eager, enthusiastic; next steps, timeline, process, decision?")
    assert result.score == 0.0
    assert "list of words" in check(result, text.GUARD_ID).message


def test_synonym_stuffing_in_one_sentence_earns_nothing():
    """Grammatical but stuffed: one concept said five ways in one sentence fails the guard, with spans."""
    result = grade("I am interested in the role, keen on the team, excited about the work, eager to learn and "
                   "enthusiastic about the timeline. What are the next steps?")
    assert result.score == 0.0
    guard = check(result, text.GUARD_ID)
    assert "says the same thing 5 times" in guard.message
    assert [result.answer_text[a:b] for a, b in guard.spans][:3] == ["interested in the", "keen", "excited"]


def test_a_question_in_real_words_may_name_its_alternatives_clause_by_clause():
    """Asking about the next stage, a decision and when, clause by clause, is a question, not synonym-stuffing; the
    same alternatives as bare nouns with a question mark still are."""
    asked = grade("I am keen on this role. How do you think I compare with what you need? And what will happen "
                  "after this interview, will there be another stage or a decision, and when?")
    assert check(asked, text.GUARD_ID).passed
    listed = grade("I am keen on this role. How do I compare? Next steps, timeline, hearing back, decision date, "
                   "process?")
    assert not check(listed, text.GUARD_ID).passed and listed.score == 0.0


def test_synonyms_side_by_side_earn_nothing():
    """Bare synonyms strung together inside a sentence ("interested keen excited") fail the guard, with spans."""
    result = grade("I am interested keen excited about the role. What are the next steps?")
    assert result.score == 0.0
    guard = check(result, text.GUARD_ID)
    assert "3 ways of saying the same thing side by side" in guard.message
    assert [result.answer_text[a:b] for a, b in guard.spans] == ["interested", "keen", "excited"]


def test_two_phrases_side_by_side_are_fine():
    """Two rubric words together happen in real speech ("the process timeline"); only a longer run is a list."""
    result = grade("I'm really keen on this role. Could you tell me about the process timeline?")
    assert check(result, text.GUARD_ID).passed and result.passed


def test_saying_it_twice_is_fine():
    """Real answers repeat a concept now and then; twice in a sentence is not stuffing."""
    result = grade("I'm really excited and keen to join the team. What are the next steps?")
    assert result.passed


def test_unpunctuated_run_fails_the_guard():
    """Thirty words with no full stop or question mark is not written as sentences."""
    answer = ("i am really keen on this role and the team and i would like to know the next steps in your "
              "process and when i could expect to hear back from you about it all")
    result = grade(answer)
    assert result.score == 0.0
    assert "no full stop or question mark" in check(result, text.GUARD_ID).message


def test_all_caps_is_shouting():
    """An answer in capitals fails the tone check as shouting, with the words highlighted."""
    result = grade("I AM REALLY KEEN ON THIS ROLE. WHAT ARE THE NEXT STEPS?")
    assert not check(result, "tone").passed
    assert "KEEN" in span_texts(result, "tone")


def test_unicode_is_normalised_and_spans_index_the_normalised_text():
    """Curly apostrophes and full-width letters grade like ASCII; spans index Result.answer_text."""
    curly = grade("I\u2019m not really interested in it, sorry. What are the next steps?")
    assert span_texts(curly, "interest") == ["not really interested in"]
    wide = grade("I\u2019m keen on the role. \uff37\uff48\uff45\uff4e can I start? What are the next steps?")
    assert wide.answer_text.count("When can I start") == 1
    assert span_texts(wide, "no-presumption") == ["When can I start"]


def test_result_round_trips_through_dict():
    """A stored result rebuilds to an equal one."""
    result = grade(GOOD)
    assert graders.Result.from_dict(result.to_dict()) == result


def test_same_answer_same_result():
    """Grading is deterministic."""
    assert grade(GOOD) == grade(GOOD)


# ---- invalid answers ----------------------------------------------------------------------------------------

@pytest.mark.parametrize(("answer", "message"), [
    ("", "empty"),
    ("   \n\t ", "empty"),
    (None, "empty"),
    (["I am keen"], "must be text"),
    ({"answer": "hi"}, "must be text"),
    (42, "must be text"),
    ("x" * (MAX_ANSWER_CHARS + 1), "longer than 5,000"),
    ("\ufdfa" * 300, "longer than 5,000"),  # one character that NFKC expands to 18
])
def test_malformed_answers_are_invalid_not_errors(answer, message):
    """Wrong shape, empty or oversized answers come back `invalid` with a clear message."""
    result = grade(answer)
    assert result.status == "invalid" and not result.counts_as_attempt
    assert message in result.message


# ---- present / answer_key -----------------------------------------------------------------------------------

def test_present_shows_only_length_limits():
    """The learner view holds nothing of the rubric."""
    assert graders.present("text", COMPILED, seed=3) == {"kind": "text", "min_words": 8, "max_words": 60}


def test_answer_key_lists_checks_with_their_phrases():
    """The instructor preview shows each check with the concepts and phrases behind it."""
    key = graders.answer_key("text", COMPILED)
    by_id = {c["id"]: c for c in key["checks"]}
    assert "interested in" in by_id["interest"]["concepts"]["wants-it"]["use"]["interest"]["phrases"]
    assert by_id["tone"]["tone"]["pressure"] == ["other-offers", "hurry", "deadline", "leverage", "sit-in", "chasing",
                                                 "answer-by", "on-the-spot"]
    assert by_id["length"]["min_words"] == 8
    assert by_id["asks"] == {"id": "asks", "kind": "questions", "weight": 1.0, "required": True, "lesson": None,
                             "pass": "You ask the interviewer something.",
                             "fail": "Ask the interviewer at least one question.", "min_questions": 1}


def test_unused_local_concept_is_reported():
    """A concept no check uses is almost always a typo in a check, so it is reported."""
    error = _spec_error({"concepts": {"team-word": {"phrases": ["the team"]}},
                         "checks": [{"id": "x", "require": "interest"}]})
    assert "spec.concepts.team-word: not used by any check" in error


# ---- hostile input --------------------------------------------------------------------------------------------

ADVERSARIAL = [
    "a" * 5000,
    "very " * 1000,
    "?" * 5000,
    "(" * 2500 + ")" * 2500,
    "a'" * 2500,
    "I'm not " * 625,
    "When can I start? " * 277,
    ".,;:!?" * 833,
    "Dear\n" * 1000,
    "regards,\n" + " " * 4980 + "\nX",
    "\u00e9" * 5000,
    "interested " * 454,
    ("x" * 99 + " ") * 50,
]


@pytest.mark.parametrize("answer", ADVERSARIAL, ids=[f"adv{i}" for i in range(len(ADVERSARIAL))])
def test_adversarial_inputs_grade_to_a_sensible_failure(answer):
    """Long hostile inputs finish and fail (none of them is a good close); timing lives in bench/."""
    answer = answer[:MAX_ANSWER_CHARS]
    result = grade(answer)
    assert result.status in ("incorrect", "partial", "invalid")
    assert not result.passed
    for c in result.checks:
        for start, end in c.spans:
            assert 0 <= start < end <= len(result.answer_text)


def test_adversarial_specific_verdicts():
    """The verdicts on the hostile inputs are the right ones, not just any failure."""
    assert check(grade("very " * 1000), text.GUARD_ID).passed is False
    assert check(grade("?" * 5000), text.GUARD_ID).message.endswith("There are no words in the answer.")
    spam = grade(("When can I start? " * 277)[:MAX_ANSWER_CHARS])
    assert spam.score == 0.0
    presumption = grade("I'm keen on the team. When can I start? What are the next steps? " * 3)
    assert not check(presumption, text.GUARD_ID).passed


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=MAX_ANSWER_CHARS))
def test_any_text_grades_without_raising(answer):
    """Whatever the text, grading returns a result with a score in [0, 1], the same every time."""
    first = grade(answer)
    assert 0.0 <= first.score <= 1.0
    # An invalid answer says why and carries no checks; any other status is the one its score implies.
    if first.status == "invalid":
        assert first.message and not first.checks and first.score == 0.0
    else:
        assert first.status == status_for(first.score)
    assert grade(answer) == first
    for c in first.checks:
        for start, end in c.spans:
            assert 0 <= start < end <= len(first.answer_text)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from(["I'm", "not", "keen", "on", "the", "team", "When", "can", "I", "start", "?",
                                 ".", ",", "next", "steps", "process", "\n", "really", "interested", "in",
                                 "don't", "want", "hire", "me", "crazy", "Dear", "Ms.", "Lee"]),
                max_size=300))
def test_word_salad_from_rubric_words_never_raises(words):
    """Sequences built from the rubric's own words (the likeliest edge cases) grade cleanly."""
    answer = " ".join(words)
    result = grade(answer)
    assert 0.0 <= result.score <= 1.0
    if result.status != "invalid":
        assert result.answer_text == answer


# ---- what the rules see: invisible characters, look-alikes, typos ----------------------------------------------

INVISIBLE = ["\u200b", "\u200c", "\u200d", "\u00ad", "\u2060", "\u034f", "\ufeff", "\u202e"]


@pytest.mark.parametrize("char", INVISIBLE, ids=[f"U+{ord(c):04X}" for c in INVISIBLE])
def test_invisible_characters_inside_a_negation_do_not_lift_it(char):
    """A format character inside "not" still reads as "not"; the highlight covers what the learner typed."""
    answer = f"I'm n{char}ot really interested, sorry. What are the next steps?"
    result = grade(answer)
    assert not check(result, "interest").passed
    assert span_texts(result, "interest") == [f"n{char}ot really interested"]


def test_look_alike_letters_are_read_as_latin():
    """A Cyrillic "о" in "not" or "start" is read as the Latin letter, and the span shows the original."""
    negated = grade("I'm n\u043et really interested. What are the next steps?")
    assert not check(negated, "interest").passed
    presumed = grade("I'm keen on the role. When can I st\u0430rt? What are the next steps?")
    assert span_texts(presumed, "no-presumption") == ["When can I st\u0430rt"]


def test_rules_view_maps_spans_back():
    """Spans found in the view map to the same words of the original text."""
    text_in = "a\u200bb c\u200d\u200dd"
    view, back = analysis.rules_view(text_in)
    assert view == "ab cd"
    assert text_in[slice(*analysis.map_span((3, 5), back))] == "c\u200d\u200dd"
    assert analysis.rules_view("plain") == ("plain", None)


@pytest.mark.parametrize(("answer", "passes"), [
    ("I'm really intersted in this role. What are the next steps in the proccess?", True),
    ("I'm really keen on this oppertunity. Whta are the next steps?", True),
    # Real words are never "corrected", even one letter from a rules word.
    ("I'm really keen on the team. What are the neat stops?", False),
    # A name written with a capital is left alone.
    ("I'm keen on the role, Ruth. Can you tell me about Steeps?", False),
])
def test_typos_are_read_against_the_rules_vocabulary(answer, passes):
    """Misspellings of rules words count; real words, names and short words are left as written."""
    assert grade(answer).passed is passes


def test_speller_leaves_ties_and_short_words_alone():
    """A word two rules words are equally close to stays as written; so does a word under five letters."""
    speller = analysis.Speller.build({"steps", "stops", "keen", "interested"}, LANG)
    assert speller.correct("intrested") == "interested"
    assert speller.correct("stxps") is None  # one edit from both
    assert speller.correct("kean") is None  # too short
    assert speller.correct("interesting") is None  # a real word


def test_a_tie_goes_to_the_word_that_differs_only_by_a_doubled_letter():
    """"realy" is one edit from "really" and from "ready": the doubled letter is the likelier slip."""
    speller = analysis.Speller.build({"really", "ready", "relay", "process", "proceeds"}, LANG)
    assert speller.correct("realy") == "really"
    assert speller.correct("proccess") == "process"
    assert speller.correct("reaby") == "ready"  # one nearest word: no tie to break
    speller = analysis.Speller.build({"ready", "relay"}, LANG)
    assert speller.correct("realy") is None  # a tie with no doubled-letter reading stays as written


# ---- gaps, narration, label lines --------------------------------------------------------------------------

def _index(*written):
    """A phrase index over the given phrases, each its own key."""
    return phrases.PhraseIndex.build([(n, p) for n, ph in enumerate(written)
                                      for p in phrases.compile_phrase(ph, LANG)], LANG.modifiers)


@pytest.mark.parametrize(("sentence", "found"), [
    ("I really do want this job.", True),
    ("I would love, honestly, this job.", False),  # a gap does not cross a comma
    ("I want to go home. The job is fine.", False),  # nor a sentence
    ("I want it, and I want it badly, more than any job.", False),
])
def test_gap_matches_words_in_between_within_one_clause(sentence, found):
    """'i ... want ... job' finds the words apart, inside one clause of one sentence."""
    hits = _index("i ... want ... job").find(analysis.analyse(sentence, LANG))
    assert bool(hits) is found


def test_negator_inside_a_gap_negates_the_match():
    """'I do not really want this job' matches the gapped phrase, negated from inside the gap."""
    a = analysis.analyse("I do not really want this job.", LANG)
    (_, first, stop, skipped), = _index("i ... want ... job").find(a)
    assert a.words[analysis.gap_negator(a, skipped, LANG)] == "not"
    # A negator written into the phrase itself is not one the gap skipped.
    a = analysis.analyse("I have not really used Tableau.", LANG)
    (_, first, stop, skipped), = _index("have not ~ used tableau").find(a)
    assert analysis.gap_negator(a, skipped, LANG) is None


@pytest.mark.parametrize("phrase", ["... want", "want ...", "i ... ... want", "* want"])
def test_gap_placement_is_checked(phrase):
    """A gap cannot start or end a phrase, nor come twice in a row."""
    with pytest.raises(phrases.PhraseError):
        phrases.compile_phrase(phrase, LANG)


@pytest.mark.parametrize(("answer", "narrated"), [
    ("I would start by thanking Ruth and telling her that I want the role. Then I'd ask her about timing.", [0, 1]),
    ("Here I would say something about how keen I am. Basically what the lesson says.", [0, 1]),
    ("I would love this job. I'll follow up next week. Could you tell me the next steps?", []),
    ("I'd say I'm a strong fit for the team. What are the next steps?", []),
    # The email described as a document: the account goes on in "It should ..." without an "I".
    ("The email should start with a greeting. It should mention the scheduling system. Regards, Liang.", [0, 1]),
])
def test_narration_is_told_apart_from_speech(answer, narrated):
    """Sentences that describe the answer ("then I'd ask her...") are found; spoken ones are not."""
    assert analysis.narrated(analysis.analyse(answer, LANG), LANG) == narrated


def test_an_account_of_the_advice_earns_nothing():
    """Describing the close instead of giving it fails the guard, with the sentence quoted."""
    result = grade("I would tell her that I'm keen on the role. Then I would ask her about the next steps and "
                   "when she will decide.")
    guard = check(result, text.GUARD_ID)
    assert not guard.passed and "describes what you would say" in guard.message
    assert result.score == 0.0


def test_label_value_lines_earn_nothing():
    """'Interest: high. Next steps: what are they?' is a form filled in, not speech."""
    result = grade("Interest: I am very keen on the role. Next steps: what are they? Timeline: when?")
    assert not check(result, text.GUARD_ID).passed
    assert "label and a value" in check(result, text.GUARD_ID).message


def test_numbered_points_made_in_whole_sentences_are_not_a_form():
    """"One: ... Two: ..." counts the points of whole sentences; the same numbers before keywords stay a form."""
    spoken = ("I'd like to ask you two things. One: compared with the other people you have interviewed, how do you "
              "see me? Two: what are the next steps, and when will I hear from you? I ask because I want this role.")
    assert check(grade(spoken), text.GUARD_ID).passed
    listed = "One: interest, keen. Two: concerns, doubts? Three: next steps, timeline?"
    assert not check(grade(listed), text.GUARD_ID).passed


def test_one_label_line_is_fine():
    """A single 'Subject:' line or one aside with a colon does not make an answer a form."""
    assert grade("One thing: I'm really keen on this role. What are the next steps in your process?").passed


def test_an_and_chain_of_every_point_earns_nothing():
    """One sentence joining the rubric's points with and...and...and is the keyword list again."""
    result = grade("I want the role and I am keen and I want the next steps and the timeline and the process, ok?")
    assert not check(result, text.GUARD_ID).passed


@pytest.mark.parametrize(("sentence", "found"), [
    ("I really do want this job.", True),
    ("I want this job.", True),
    ("I want to ask about this job.", False),  # "~" skips modifiers only
    ("I have, however, really wanted this job.", False),  # "have" is no modifier
    ("I, however, really want this job.", True),  # modifiers set off by commas are still modifiers
])
def test_modifier_gap_skips_only_modifiers(sentence, found):
    """'i ~ want this job' allows 'really do' (even between commas) in between, but no other words."""
    assert bool(_index("i ~ want this job").find(analysis.analyse(sentence, LANG))) is found


def test_a_gapped_phrase_is_keyed_on_its_rarest_word():
    """'i ~ want this job' is tried only in a sentence with a form of 'want' ('this' is a function word, and 'job'
    has more forms, since it is a verb too)."""
    index = phrases.PhraseIndex.build([(0, p) for p in phrases.compile_phrase("i ~ want this job", LANG)],
                                      LANG.modifiers, LANG.function_words)
    assert set(index.triggers) == {"want", "wants", "wanted", "wanting"} and index.gapped == 1
    assert index.find(analysis.analyse("I really want this job.", LANG))
    # Every word of the phrase is in the answer, but "want" is not in the sentence the phrase would start in.
    assert not index.find(analysis.analyse("I really like this job. Want it?", LANG))
    # With nothing literal after the gap to key on, the phrase is tried wherever its first word is.
    always = phrases.PhraseIndex.build([(0, p) for p in phrases.compile_phrase("i ~ *", LANG)], LANG.modifiers)
    assert not always.triggers and always.find(analysis.analyse("I really do.", LANG))


def test_together_groups_meet_in_one_sentence():
    """A `together` concept fires where every group is found in the same sentence, and only there."""
    spec = graders.compile_spec("text", {
        "concepts": {"leverage": {"together": [["another offer"], ["by friday", "this week"]]}},
        "checks": [{"id": "no-leverage", "forbid": "leverage"}, {"id": "length", "words": {"min": 3}}]})
    same = grade("I have another offer, so I need to know by Friday.", spec)
    assert span_texts(same, "no-leverage") == ["another offer, so I need to know by Friday"]
    apart = grade("I have another offer. I need to know by Friday.", spec)
    assert check(apart, "no-leverage").passed


def test_unless_fails_a_met_requirement():
    """`unless` fails a require check whose concept was found, when the named concept is found too."""
    spec = graders.compile_spec("text", {
        "concepts": {"plan": {"phrases": ["i will learn"]}, "theirs": {"phrases": ["your team {can|could} train me"]}},
        "checks": [{"id": "plan", "require": "plan", "unless": "theirs", "unless_fail": "The plan is theirs."},
                   {"id": "length", "words": {"min": 3}}]})
    assert check(grade("I will learn it this month.", spec), "plan").passed
    leaves_it = check(grade("I will learn it if your team could train me.", spec), "plan")
    assert not leaves_it.passed and leaves_it.message.startswith("The plan is theirs.")


def test_a_concepts_exceptions_veto_what_it_uses():
    """A local concept's `except` also vetoes the matches of the shared lexicon it `use`s."""
    spec = graders.compile_spec("text", {
        "concepts": {"presumed": {"use": ["presumption"], "except": ["within my first month"]}},
        "checks": [{"id": "no-presumption", "forbid": "presumed"}, {"id": "length", "words": {"min": 3}}]})
    assert check(grade("I will finish the course within my first month.", spec), "no-presumption").passed
    assert not check(grade("I will ask about my first month and my offer letter.", spec), "no-presumption").passed


def test_without_rules_out_the_whole_sentence():
    """A `without` phrase anywhere in a sentence stops the concept matching there, and only there."""
    spec = graders.compile_spec("text", {
        "concepts": {"view": {"together": [["you"], ["think"]], "without": ["when"], "scope": "question"}},
        "checks": [{"id": "view", "require": "view"}, {"id": "length", "words": {"min": 2}}]})
    assert check(grade("What do you think of my chances?", spec), "view").passed
    assert not check(grade("When do you think I will hear back?", spec), "view").passed
    assert check(grade("When will I hear? What do you think of me?", spec), "view").passed


def test_a_together_match_does_not_count_the_words_between_as_rubric_phrases():
    """A long `together` meeting marks where a concept is, but the stuffing share counts only real phrases."""
    result = grade("Honestly, I would be glad to hear that I could join your team one day, as I am keen on the "
                   "role. What are the next steps?")
    assert check(result, text.GUARD_ID).passed


def test_local_concept_examples_are_checked():
    """An exercise's own concept may carry examples; those that misbehave are named by key, with what was found."""
    spec = graders.compile_spec("text", {
        "concepts": {"keen": {"phrases": ["=keen"], "examples": {
            "match": ["I am keen.", "I am eager."], "ok": ["I am keen on it."], "negated": ["I am not keen."]}}},
        "checks": [{"id": "keen", "require": "keen"}]})
    issues = [str(i) for i in graders.REGISTRY.get("text").example_issues(spec)]
    assert issues == ["spec.concepts.keen.examples.match[1]: 'I am eager.' should match, but found no match",
                      "spec.concepts.keen.examples.ok[0]: 'I am keen on it.' should not match, but found \"keen\""]


def test_shipped_exercises_local_examples_all_hold():
    """Every example written into a shipped text exercise behaves as declared."""
    for path in sorted((Path(__file__).resolve().parents[1] / "exercises").glob("*.yaml")):
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        if raw["type"] == "text":
            compiled = graders.compile_spec("text", raw["spec"])
            assert graders.REGISTRY.get("text").example_issues(compiled) == [], path.name
