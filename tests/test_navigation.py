"""Course order, the next and previous step, the outline, and when feedback holds the solution back (all pure)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

import graders
from course import navigation
from course.loader import load_course
from course.model import Course, SolutionRule
from web.services import solutions

REPO = Path(__file__).resolve().parents[1]
ORDER = [
    ("lesson", "l-one"), ("exercise", "next-steps-questions"), ("exercise", "why-close-quiz"),
    ("lesson", "l-two"), ("exercise", "match-question-to-purpose"), ("exercise", "when-to-close-scenarios"),
    ("lesson", "l-three"), ("exercise", "contact-details-cloze"), ("exercise", "order-close-steps"),
    ("exercise", "thank-you-email"),
]


def test_course_order_is_each_lesson_then_its_own_exercises(web_course: Course):
    """Lessons in module order, each followed by the exercises attached to it, with their titles."""
    path = navigation.course_path(web_course)
    assert [(i.kind, i.id) for i in path] == ORDER
    assert path[0].title == "First lesson" and path[2].title == web_course.exercises["why-close-quiz"].title


def test_a_lessons_next_is_its_first_exercise_and_an_exercises_next_the_following_step(web_course: Course):
    """Next goes into a lesson's exercises first, then on to the following lesson (across modules too)."""
    assert navigation.next_item(web_course, "lesson", "l-one").id == "next-steps-questions"
    assert navigation.next_item(web_course, "exercise", "next-steps-questions").id == "why-close-quiz"
    following = navigation.next_item(web_course, "exercise", "when-to-close-scenarios")
    assert (following.kind, following.id) == ("lesson", "l-three")  # the first lesson of the next module


def test_the_last_activity_leads_to_the_certificate(web_course: Course):
    """After the course's last exercise comes the certificate; the first lesson has no previous step."""
    last = navigation.next_item(web_course, "exercise", "thank-you-email")
    assert (last.kind, last.title) == ("certificate", "Your certificate")
    assert navigation.previous_item(web_course, "lesson", "l-one") is None
    assert navigation.previous_item(web_course, "lesson", "l-two").id == "why-close-quiz"
    assert navigation.first_item(web_course).id == "l-one"


def test_an_item_outside_the_course_is_refused(web_course: Course):
    """Asking for the step after something the course does not have is a programming error, said plainly."""
    with pytest.raises(ValueError, match="no exercise 'nope'"):
        navigation.next_item(web_course, "exercise", "nope")


def test_outline_ticks_done_items_marks_the_current_one_and_counts_the_share(web_course: Course):
    """Read lessons and passed exercises are done; only the page shown is current; 3 of 10 done is 30%."""
    outline = navigation.outline(web_course, read={"l-one", "l-two"}, passed={"why-close-quiz"},
                                 current=("exercise", "match-question-to-purpose"))
    assert [m.title for m in outline.modules] == [m.title for m in web_course.modules]
    first, second = outline.modules[0].lessons
    assert first.done and [e.done for e in first.exercises] == [False, True]
    assert second.done and not second.current
    current = [e for m in outline.modules for lesson in m.lessons for e in (lesson, *lesson.exercises) if e.current]
    assert [c.item.id for c in current] == ["match-question-to-purpose"]
    assert (outline.done, outline.total, outline.percent) == (3, 10, 30)


def test_outline_share_is_never_100_before_everything_is_done(web_course: Course):
    """9 of 10 is 90%, all of 10 is 100%, and an empty record is 0%."""
    every_exercise = set(web_course.exercises)
    every_lesson = set(web_course.lessons)
    assert navigation.outline(web_course, every_lesson, every_exercise - {"thank-you-email"}).percent == 90
    assert navigation.outline(web_course, every_lesson, every_exercise).percent == 100
    assert navigation.outline(web_course, (), ()).percent == 0


@pytest.mark.parametrize(("rule", "record", "shown"), [
    (SolutionRule(), (False, 2), False),
    (SolutionRule(), (False, 3), True),
    (SolutionRule(), (True, 1), True),
    (SolutionRule("after_pass"), (False, 9), False),
    (SolutionRule("after_pass"), (True, 1), True),
    (SolutionRule("after_attempts", 1), (False, 1), True),
    (SolutionRule("always"), (False, 0), True),
    (SolutionRule("never"), (True, 5), False),
])
def test_when_the_solution_is_shown(rule: SolutionRule, record: tuple[bool, int], shown: bool):
    """The default is after a pass or after 3 attempts; the other rules do what their names say."""
    assert rule.shown(*record) is shown


def grade(exercise, answer):
    """Grade an answer (written with ids) the way the site does."""
    return graders.grade(exercise.type, exercise.spec, answer, graders.Context(pass_threshold=exercise.pass_threshold))


def view_of(exercise):
    """Return the learner's view of an exercise (seed 0)."""
    return graders.present(exercise.type, exercise.spec, 0)


def test_matching_feedback_names_wrong_pairs_without_their_right_match_until_the_solution(web_course: Course):
    """Before the solution: how many are right and each wrong question by its text, no pair feedback; after: all."""
    exercise = web_course.exercises["match-question-to-purpose"]
    answer = dict(exercise.samples.passing[0], **{"q-next": "keep-moving", "q-needed": "timeline"})
    result = grade(exercise, answer)
    held = solutions.feedback_for(exercise, view_of(exercise), answer, result, passed=False, attempts=1)
    assert not held.solution_shown and held.summary == "3 of 5 matches are right."
    assert [c.id for c in held.checks] == ["pair:q-next", "pair:q-needed"]
    question = '"What happens next, and when do you expect to decide?"'
    assert held.checks[0].message == f"“{question}”: not the right match yet."
    # The pair feedback explains the right match, so none of it is shown yet.
    assert not any("timeline" in c.message for c in held.checks)
    assert "3 attempts (you have made 1)" in held.note
    shown = solutions.feedback_for(exercise, view_of(exercise), answer, result, passed=False, attempts=3)
    assert shown.solution_shown and shown.checks == result.checks and not shown.summary


def test_a_misconception_is_still_named_while_the_solution_is_held_back():
    """Choosing the pairing the lesson corrects fails the exercise, and feedback says why even before the solution."""
    exercise = load_course(REPO, extra_dirs=()).exercises["match-question-to-purpose"]  # the shipped one has it
    answer = dict(exercise.samples.passing[0], **{"q-concerns": "pressure"})
    result = grade(exercise, answer)
    held = solutions.feedback_for(exercise, view_of(exercise), answer, result, passed=False, attempts=1)
    (check,) = held.checks
    assert check.id == "pair:q-concerns" and "reads as pressure" in check.message and check.required


def test_multiple_choice_feedback_marks_only_the_wrong_ticks(web_course: Course):
    """A wrong tick keeps its feedback; a right option left out is counted, never named; right ticks are not listed."""
    exercise = dataclasses.replace(web_course.exercises["why-close-quiz"])  # a single choice: shown as graded
    result = grade(exercise, "decided-early")
    held = solutions.feedback_for(exercise, view_of(exercise), "decided-early", result, passed=False, attempts=1)
    assert held.checks == result.checks  # the learner's one pick, with why it is not the best answer
    options = [{"id": "a", "text": "Ask about next steps", "correct": True},
               {"id": "b", "text": "Thank them", "correct": True},
               {"id": "c", "text": "Ask for a decision now", "correct": False, "feedback": "That is pressure."}]
    spec = graders.compile_spec("multiple_choice", {"options": options})
    many = dataclasses.replace(exercise, type="multiple_choice", spec=spec)
    result = grade(many, ["a", "c"])
    held = solutions.feedback_for(many, {}, ["a", "c"], result, passed=False, attempts=1)
    assert [c.id for c in held.checks] == ["option:c"] and "That is pressure." in held.checks[0].message
    assert held.summary == "You left out 1 option that should be ticked."
    assert "Thank them" not in " ".join(c.message for c in held.checks)


def test_cloze_feedback_holds_back_the_blanks_feedback(web_course: Course):
    """A wrong blank is named with what was typed; the blank's feedback (which gives the word away) waits."""
    exercise = web_course.exercises["contact-details-cloze"]
    answer = {"thank": "ignore", "card": "business card", "hours": "24", "timeline": ""}
    result = grade(exercise, answer)
    view = view_of(exercise)
    held = solutions.feedback_for(exercise, view, answer, result, passed=False, attempts=1)
    assert held.summary == "2 of 4 blanks are right."
    assert [c.message for c in held.checks] == [
        f"Blank {view['blanks'].index('thank') + 1} ('ignore'): not what we were looking for.",
        f"Blank {view['blanks'].index('timeline') + 1} is empty.",
    ]


def test_never_keeps_the_solution_even_after_a_pass(web_course: Course):
    """With show_solution: never, a passed attempt still shows only what is wrong, and the note says so."""
    exercise = dataclasses.replace(web_course.exercises["contact-details-cloze"], show_solution=SolutionRule("never"))
    answer = exercise.samples.passing[0]
    held = solutions.feedback_for(exercise, view_of(exercise), answer, grade(exercise, answer), passed=True,
                                  attempts=1)
    assert not held.solution_shown and held.checks == () and held.summary == "4 of 4 blanks are right."
    assert held.note.startswith("This exercise does not show a worked answer")
