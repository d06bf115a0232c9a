"""Where a tone cue stands decides whether it counts: weak markers need company, and stories are not complaints."""

from __future__ import annotations

import pytest

from graders.base import Context, normalise_text
from graders.text import analysis, compile_text_spec, default_rules, grade_text
from graders.text.matcher import probe

SPEC = {"checks": [{"id": "tone", "tone": ["sarcasm", "complaint", "pressure"]}]}


def _tone(answer: str):
    """The tone check's outcome for one answer."""
    spec = compile_text_spec(SPEC, default_rules())
    result = grade_text(spec, normalise_text(answer), Context(), "test")
    return next(c for c in result.checks if c.id == "tone")


@pytest.mark.parametrize("answer", [
    # One weak marker alone: a laugh, "tbh" or "finally" is as often friendly as not.
    "I really want this job lol. Is there anything about me that makes you hesitate?",
    "Honestly tbh I'd love this role. What happens next?",
    "I finally understood how the depot works. When will you decide?",
    # A grumble or a deadline after a story frame belongs to the candidate's own story.
    "At the food bank I got used to fielding questions from volunteers who were frustrated by late changes.",
    "During my degree I learnt Stata in three weeks to meet a dissertation deadline.",
    "Since getting out of the Army I've sat through a lot of interviews, and ours was the best.",
])
def test_a_cue_that_is_not_doing_its_job_leaves_the_tone_alone(answer):
    """A lone weak marker, or a cue inside the candidate's story, does not fail the tone."""
    assert _tone(answer).passed


@pytest.mark.parametrize(("answer", "quoted"), [
    ("I want it, obviously, lol. When will you decide?", ["obviously", "lol"]),
    ("It was great to spend a whole hour on a system that isn't here yet lol.", ["a whole hour", "lol"]),
    ("Will somebody actually call this time?", ["actually call", "this time"]),
])
def test_two_weak_markers_fail_the_tone_and_both_are_highlighted(answer, quoted):
    """Two different weak markers make a habit: the check fails and quotes each of them."""
    check = _tone(answer)
    assert not check.passed
    highlighted = [answer[s:e] for s, e in check.spans]
    for words in quoted:
        assert any(words.lower() in h.lower() for h in highlighted), (words, highlighted)


@pytest.mark.parametrize("answer", [
    "Honestly, it is a bit frustrating that every company wants a different tool, as I found in my internship.",
    "I must say I was a little disappointed that so much of the hour went on the software.",
    "I need an answer by Friday, as my old job taught me to plan.",
])
def test_a_story_frame_after_the_complaint_does_not_excuse_it(answer):
    """The frame covers only what follows it in the sentence: a grumble before it still counts."""
    assert not _tone(answer).passed


@pytest.mark.parametrize(("answer", "restated"), [
    ("Dear Tom,\n\nI am writing to greet you, to thank you, to show I was listening, to remind you why I fit and to "
     "say I still want the role. The scheduling system sounds great.\n\nKind regards,\nSam", True),
    ("I have questions about interest, concerns, fit, next steps and timeline. When will I hear back?", True),
    # Asking about two moves in one question is a real question, not a list of the moves.
    ("I really want this role. Do you have any concerns about my fit, and what are the next steps and timeline?",
     False),
])
def test_a_sentence_that_names_the_moves_one_after_another_restates_the_task(answer, restated):
    """List items that each name a rubric move ("to greet you, to thank you, ...") fail the real-sentences guard."""
    spec = compile_text_spec({"checks": [{"id": "real-sentences", "sentences": True}]}, default_rules())
    check = next(c for c in grade_text(spec, normalise_text(answer), Context(), "test").checks
                 if c.id == "real-sentences")
    assert check.passed is not restated
    if restated:
        assert "names the points one after another" in check.message


def test_a_hedge_inside_a_question_does_not_use_up_a_gap():
    """"When do you think you'll let me know?" asks about the timeline as plainly as "When will you let me know?"."""
    rules = default_rules()
    lang = rules.lang
    hedged = analysis.analyse("When do you think you will let me know?", lang)
    assert [hedged.words[i] for i in sorted(hedged.hedged)] == ["do", "you", "think"]
    # No clause follows, so "do you think" is the question itself and stays counted.
    assert not analysis.analyse("What do you think of my CV?", lang).hedged
    next_steps = rules.lexicons["next-steps"]
    assert probe(rules, next_steps, "And when do you think you will let me know?")
    assert not probe(rules, next_steps, "And when the weather turns I walk to work and think of you and let it go.")


def test_a_passing_screen_beside_a_failing_one_names_its_point_in_words():
    """"No presumes found." read badly: a quiet screen says its point's name, not the author's concept id."""
    spec = compile_text_spec({"concepts": {"presumes": {"use": ["presumption"]}}, "checks": [
        {"id": "no-presumption", "name": "Does not take the offer for granted", "forbid": "presumes"},
        {"id": "tone", "tone": ["sarcasm"]}]}, default_rules())
    result = grade_text(spec, normalise_text("I want it, obviously, lol. When will you decide?"), Context(), "test")
    checks = {c.id: c for c in result.checks}
    assert not checks["tone"].passed
    assert checks["no-presumption"].message == "Does not take the offer for granted: nothing found against it."
