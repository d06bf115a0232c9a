"""The web half of each exercise type (web/types/): one module per grader type, and forms that carry every
authored sample to the grader with the verdict its author declared."""

from __future__ import annotations

from pathlib import Path

import pytest
from werkzeug.datastructures import MultiDict

import graders
from course.loader import load_course
from web import types
from web.answers import ANSWER_FIELD_NAMES, ANSWER_FIELD_PREFIXES, OptionTokens

REPO = Path(__file__).resolve().parents[1]
WEB = REPO / "web"
COURSES = {"shipped": load_course(REPO), "test": load_course(Path(__file__).parent / "web_course")}
EXERCISES = [(name, e) for name, course in COURSES.items() for e in course.exercises.values()]


def form_of(fields: dict) -> MultiDict:
    """Return fields as a browser posts them (a list value is one field per item)."""
    return MultiDict([(k, x) for k, v in fields.items() for x in (v if isinstance(v, list) else [v])])


def test_every_grader_type_has_exactly_one_web_type_with_its_template_and_script():
    """The registries agree, and each type's form partial and script are files of the site."""
    assert set(types.REGISTRY) == set(graders.REGISTRY.names())
    for name, kind in types.REGISTRY.items():
        assert kind.name == name and kind.empty_message.endswith("before sending.")
        assert (WEB / "templates" / kind.template).is_file(), kind.template
        assert kind.script is None or (WEB / "static" / kind.script).is_file(), kind.script


def test_a_type_registered_twice_is_refused():
    """Two modules claiming one type name is a mistake found at import, not a silent override."""
    with pytest.raises(ValueError, match="registered twice"):
        types.register(type("Again", (types.ExerciseType,), {"name": "text"}))


@pytest.mark.parametrize(("course", "exercise"), EXERCISES, ids=[f"{c}:{e.id}" for c, e in EXERCISES])
def test_a_sample_posted_through_the_form_reaches_the_grader_as_written(course, exercise):
    """Each sample a form can express, written into form fields under tokens, reads back to the same answer in
    ids, re-shows as the same draft on a retry, and grades as its author declared."""
    kind = types.get(exercise.type)
    view = graders.present(exercise.type, exercise.spec, 3)
    tokens = OptionTokens.for_view("secret", 1, exercise.id, view)
    shown = tokens.form_view(view)
    samples = [(s, True) for s in exercise.samples.passing] + [(s, False) for s in exercise.samples.failing]
    usable = [(s, passed) for s, passed in samples if kind.expresses(s)]
    assert usable, f"{exercise.id}: no sample in a shape the form can express"
    for sample, passed in usable:
        fields = kind.form_fields(shown, tokens.to_tokens(exercise.type, sample))
        assert all(f in ANSWER_FIELD_NAMES or f.startswith(ANSWER_FIELD_PREFIXES) for f in fields), fields
        draft = kind.draft_from_form(shown, form_of(fields))
        answer = tokens.to_ids(exercise.type, kind.answer_from_draft(draft))
        retry = kind.draft_from_answer(shown, tokens.to_tokens(exercise.type, answer))
        assert kind.answer_from_draft(retry) == kind.answer_from_draft(draft)
        assert graders.grade(exercise.type, exercise.spec, answer).passed is passed, (exercise.id, sample)
        assert kind.form_steps(view, sample), exercise.id


@pytest.mark.parametrize("name", sorted(types.REGISTRY))
def test_an_empty_or_foreign_form_is_no_answer(name):
    """Nothing filled in, or only fields and values the exercise does not have, gives no answer (the view says
    `invalid` and no attempt is used)."""
    course = COURSES["test"]
    exercise = next(e for e in course.exercises.values() if e.type == name)
    kind = types.get(name)
    view = graders.present(name, exercise.spec, 0)
    shown = OptionTokens.for_view("secret", 1, exercise.id, view).form_view(view)
    # A real id is no answer: the form names everything by its token.
    ids = [e["id"] for key in kind.id_lists for e in view.get(key, [])] + list(view.get("blanks", []))
    foreign = {"score": "1", "answer": ids[0] if ids else "", "order": ids, "left_out": ids}
    foreign |= {f"{prefix}{i}": i for prefix in kind.field_prefixes for i in ids}
    for fields in ({}, foreign):
        draft = kind.draft_from_form(shown, form_of(fields))
        if name == "ordering":  # no known card posted: every card stays in the order shown, none foreign
            assert draft == kind.initial_draft(shown)
            draft = types.Draft(left_out=draft.order)
        assert kind.answer_from_draft(draft) is None, (name, fields)


@pytest.mark.parametrize("name", sorted(types.REGISTRY))
def test_only_ordering_rearranges_without_sending(name):
    """A `move` button value re-shows an ordering form; for every other type the post is an answer."""
    draft = types.Draft(order=["a", "b"])
    moved = types.get(name).move(draft, "down:a")
    assert moved == ((types.Draft(order=["b", "a"]), "up:a") if name == "ordering" else None)


def test_a_stored_answer_of_an_unexpected_shape_is_shown_as_stored():
    """Feedback for an answer no longer in its type's shape (an old attempt) shows it as JSON, not an error."""
    for name, kind in types.REGISTRY.items():
        assert kind.describe({}, 42) == [("Your answer", "42")], name
