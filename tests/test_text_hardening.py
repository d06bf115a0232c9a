"""No crafted answer may freeze the text grader or change a grade with a character trick.

- Every regex in the rules, shared and authored, is fuzzed with 5,000-character answers built from its own
  literals and character classes; each grade must finish within a budget measured, in the same run, against a
  plain answer of the same length.
- Every authored fail sample of every text exercise is graded again with an invisible character inserted at
  every position of the words that decided it, and with each letter there swapped for a look-alike; none may
  pass.
"""

from __future__ import annotations

import time
from pathlib import Path
from re import _parser as sre_parse  # type: ignore[attr-defined]  # the stdlib's regex parser, to read literals

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import graders
from graders import text
from graders.base import MAX_ANSWER_CHARS, Context
from graders.structured import status_for

ROOT = Path(__file__).resolve().parent.parent
TEXT_EXERCISES = ("rewrite-aggressive-close", "thank-you-email", "address-a-concern")
INVISIBLE = ["\u200b", "\u200c", "\u200d", "\u00ad", "\u2060", "\u034f", "\ufeff", "\u202e"]
# Latin letters and a look-alike of each from another script (Cyrillic, Greek).
LOOKALIKE = {"a": "\u0430", "e": "\u0435", "o": "\u043e", "p": "\u0440", "c": "\u0441", "i": "\u0456",
             "x": "\u0445", "y": "\u0443", "s": "\u0455", "n": "\u03b7", "t": "\u03c4"}


def _exercise(ex_id: str) -> tuple[dict, object]:
    """A shipped text exercise: its raw file and its compiled spec."""
    raw = yaml.safe_load((ROOT / "exercises" / f"{ex_id}.yaml").read_text(encoding="utf-8"))
    return raw, graders.compile_spec("text", raw["spec"])


EXERCISES = {ex: _exercise(ex) for ex in TEXT_EXERCISES}


def _grade(spec, answer: str):
    """Grade as the site does."""
    return graders.grade("text", spec, answer, Context(pass_threshold=0.8))


# ---- regexes: fuzzed from their own pieces ---------------------------------------------------------------------

def _all_regexes() -> list[tuple[str, str]]:
    """(where, pattern) for every regex in the shared rules and the shipped text exercises."""
    out = []
    for name in text.RULE_FILES:
        raw = yaml.safe_load((text.RULES_DIR / name).read_text(encoding="utf-8"))
        bodies = list((raw.get("concepts") or {}).items()) if name == "concepts.yaml" else \
            [(r["id"], r) for r in raw.get("rules") or []] if name == "tone.yaml" else []
        for key, body in bodies:
            for kind in ("regex", "raw_regex"):
                out.extend((f"{name}:{key}.{kind}", p) for p in body.get(kind) or [])
    for ex, (raw, _) in EXERCISES.items():
        for key, body in (raw["spec"].get("concepts") or {}).items():
            for kind in ("regex", "raw_regex"):
                out.extend((f"{ex}:{key}.{kind}", p) for p in body.get(kind) or [])
    return out


REGEXES = _all_regexes()


def _pieces(pattern: str) -> list[str]:
    """The literal runs and one member of each character class of a pattern: the stuff a hostile input repeats."""
    pieces: list[str] = [" ", "\n", "a", "1"]
    run: list[str] = []

    def walk(items) -> None:
        """Collect literals (joined into runs) and class members from a parsed pattern."""
        for op, av in items:
            if op == sre_parse.LITERAL:
                run.append(chr(av))
                continue
            if run:
                pieces.append("".join(run))
                run.clear()
            if op == sre_parse.IN:
                for cop, cav in av:
                    if cop == sre_parse.LITERAL:
                        pieces.append(chr(cav))
                    elif cop == sre_parse.RANGE:
                        pieces.extend((chr(cav[0]), chr(cav[1])))
            elif op in (sre_parse.MAX_REPEAT, sre_parse.MIN_REPEAT):
                walk(av[2])
            elif op == sre_parse.SUBPATTERN:
                walk(av[-1])
            elif op == sre_parse.BRANCH:
                for alt in av[1]:
                    walk(alt)
        if run:
            pieces.append("".join(run))
            run.clear()

    # \p{..} classes are RE2 syntax the stdlib parser lacks; a letter stands in for them.
    walk(sre_parse.parse(pattern.replace("\\pL", "a").replace("\\pN", "1").replace("\\p{Lu}", "A")))
    return [p for p in dict.fromkeys(pieces) if p]


def _baseline_seconds(spec) -> float:
    """The slowest of three grades of a plain 5,000-character answer: the yardstick for the fuzzed ones."""
    plain = ("I really want this role and I would like to hear any doubts you have. " * 80)[:MAX_ANSWER_CHARS]
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        _grade(spec, plain)
        times.append(time.perf_counter() - t0)
    return max(times)


def _timed_grade(spec, answer: str, budget: float):
    """Grade and time an answer; one over budget is timed once more, and the faster time is returned.

    A super-linear rule is slow every time; a pause of the machine (another test's browser starting, a collection)
    is not, so the second timing tells the two apart without loosening the budget.
    """
    t0 = time.perf_counter()
    result = _grade(spec, answer)
    took = time.perf_counter() - t0
    if took >= budget:
        t0 = time.perf_counter()
        _grade(spec, answer)
        took = min(took, time.perf_counter() - t0)
    return result, took


@pytest.mark.parametrize(("where", "pattern"), REGEXES, ids=[w for w, _ in REGEXES])
def test_every_rule_regex_stays_linear_on_answers_built_from_its_own_pieces(where, pattern):
    """5,000 characters of a regex's own literals and classes, in any order, grade in about a plain grade's time."""
    assert REGEXES, "the shipped rules have regexes, so this test has something to fuzz"
    ex = where.split(":")[0]
    spec = EXERCISES[ex][1] if ex in EXERCISES else EXERCISES["thank-you-email"][1]
    budget = 20 * _baseline_seconds(spec) + 0.05
    pieces = _pieces(pattern)

    @settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(st.lists(st.sampled_from(pieces), min_size=1, max_size=60))
    def grade_fast(seq):
        """Repeat the drawn pieces to the answer limit and grade; it must finish inside the budget."""
        block = "".join(seq)
        answer = (block * (MAX_ANSWER_CHARS // max(1, len(block)) + 1))[:MAX_ANSWER_CHARS]
        result, took = _timed_grade(spec, answer, budget)
        assert took < budget, f"{where}: {took:.3f}s against a budget of {budget:.3f}s"
        # Never refused for time (a blank-only answer is refused as empty, which is fine); a graded answer's
        # status is the one its score implies.
        assert result.message != text.TOO_SLOW
        if result.status != "invalid":
            assert result.status == status_for(result.score)

    grade_fast()


def test_the_old_sign_off_attack_now_grades_in_milliseconds():
    """The audit's answer: a sign-off word, then lines of digits, repeated, ending in a letter (15 s before RE2)."""
    _, spec = EXERCISES["thank-you-email"]
    attack = (("Regards,\n" + "1 " * 40 + "\n") * 200)[: MAX_ANSWER_CHARS - 1] + "x"
    budget = 20 * _baseline_seconds(spec) + 0.05
    result, took = _timed_grade(spec, attack, budget)
    assert took < budget
    assert not result.passed


def test_a_grade_over_its_time_budget_is_invalid_not_an_error():
    """Past the budget the answer is refused as invalid with a plain message: no attempt used, no crash."""
    _, spec = EXERCISES["rewrite-aggressive-close"]
    result = graders.grade("text", spec, "I really want this role. Any doubts? What next?",
                           Context(time_budget=0.0))
    assert result.status == "invalid" and not result.counts_as_attempt
    assert result.message == text.TOO_SLOW


# ---- invisible and look-alike characters inside the deciding words ---------------------------------------------

def _fail_samples() -> list[tuple[str, str]]:
    """(exercise, answer) for every authored fail sample of every text exercise."""
    return [(ex, s) for ex, (raw, _) in EXERCISES.items() for s in raw["samples"]["fail"]]


FAIL_SAMPLES = _fail_samples()


def _deciding_spans(result) -> list[tuple[int, int]]:
    """The spans of the words that made the failed checks fail (what a trick would try to hide)."""
    return [sp for c in result.checks if not c.passed for sp in c.spans]


@pytest.mark.parametrize(("ex", "answer"), FAIL_SAMPLES, ids=[f"{ex}-{i}" for i, (ex, _) in enumerate(FAIL_SAMPLES)])
def test_no_character_trick_inside_the_deciding_words_lifts_a_fail(ex, answer):
    """Insert each invisible character at every position of the deciding words, or swap a letter for a
    look-alike: the sample still fails."""
    _, spec = EXERCISES[ex]
    first = _grade(spec, answer)
    assert not first.passed
    text_in = first.answer_text
    tried = 0
    for start, end in _deciding_spans(first):
        for pos in range(start + 1, end):
            for char in INVISIBLE:
                tricked = text_in[:pos] + char + text_in[pos:]
                assert not _grade(spec, tricked).passed, (ex, repr(tricked[max(0, pos - 20): pos + 20]))
                tried += 1
            letter = text_in[pos].lower()
            if letter in LOOKALIKE:
                swapped = text_in[:pos] + LOOKALIKE[letter] + text_in[pos + 1:]
                assert not _grade(spec, swapped).passed, (ex, repr(swapped[max(0, pos - 20): pos + 20]))
                tried += 1
    # A sample that fails only by leaving something out has no words to hide; every other one was tried.
    assert tried or not _deciding_spans(first)


FORM_EMAIL = ("Hi Tom,\n\nThanks: for your time yesterday\nWhat I liked: the new warehouse scheduling system, next "
              "spring\nWhy me: the food bank volunteer rota I ran\nInterest: very high, still want the role\n\n"
              "Kind regards,\nRyan Molloy")
TOLD_EMAIL = ("Hi Tom,\n\nIn this email I'd start by thanking you for your time, then mention the warehouse scheduling "
              "system we talked about, then remind you how my food bank rota shows I can keep people informed when "
              "plans change. After that I'd say I'm still interested in the role and finish with a sign-off.\n\n"
              "Best,\nMarcus Bell")
REAL_EMAIL = ("Hi Tom,\n\nSubject: thank you for yesterday\n\nThank you for your time yesterday afternoon. I enjoyed "
              "hearing how the new scheduling system will keep drivers informed when plans change next spring. "
              "Running the food bank rota taught me to tell people early when a plan changes. I'm still very keen on "
              "the role.\n\nKind regards,\nRyan Molloy")


@pytest.mark.parametrize(("answer", "guarded"), [(FORM_EMAIL, True), (TOLD_EMAIL, True), (REAL_EMAIL, False)])
def test_an_emails_greeting_and_sign_off_do_not_water_down_the_guard(answer, guarded):
    """A form typed line by line, or an account of the email, fails the guard although greeting and sign-off
    lines are ordinary sentences; a real email with one header line does not."""
    _, spec = EXERCISES["thank-you-email"]
    result = _grade(spec, answer)
    guard = next(c for c in result.checks if c.id == "real-sentences")
    assert guard.passed is not guarded, guard.message
    assert result.passed is not guarded


LISTED = ("Dear Tom,\n\nThank you for your time. I was listening carefully to the warehouse scheduling system, next "
          "spring rollout, drivers, depot staff, customers, plans change, communication and updates. I ran the food "
          "bank rota and I am still very interested in the role.\n\nKind regards,\nDoug Fenwick")
LIST_INSIDE = ("You're right to raise it, I don't have Tableau experience. I have, though, spent the last year making "
               "charts and dashboards with Python, mostly matplotlib and Streamlit, for my capstone, and the basics, "
               "connecting data, building views, setting up filters, carry over. I'll do the free Tableau course "
               "over the next two weeks.")


def test_a_sentence_of_short_keyword_items_fails_the_guard_but_a_list_inside_a_sentence_does_not():
    """Seven bare items split by commas are a keyword list; asides and a short list within real prose are not."""
    _, email = EXERCISES["thank-you-email"]
    guard = next(c for c in _grade(email, LISTED).checks if c.id == "real-sentences")
    assert not guard.passed and "list of 8 short items" in guard.message
    _, concern = EXERCISES["address-a-concern"]
    guard = next(c for c in _grade(concern, LIST_INSIDE).checks if c.id == "real-sentences")
    assert guard.passed, guard.message
