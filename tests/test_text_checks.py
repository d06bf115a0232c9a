"""Check kinds of the text grader: each kind is one class, and a new one is one class in a registry of its own."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import Field

import graders
from graders.base import Context, SpecError, normalise_text
from graders.text import KINDS, CheckKind, CheckKinds, compile_text_spec, default_rules, grade_text
from graders.text.checks import Outcome, Params


class ExclaimsParams(Params):
    """How many exclamation marks an answer may have."""

    max: int


class Exclaims(CheckKind):
    """`exclaims: 1`: at most that many exclamation marks (a kind that exists only in this test)."""

    name = "exclaims"
    key = (int, Field(None, ge=0, le=10))
    Params = ExclaimsParams
    message_met = "The punctuation stays calm."
    message_missed = "Use fewer exclamation marks."

    def read(self, body, path, reading) -> ExclaimsParams:
        """The limit, validated by the check's model (a number from 0 to 10)."""
        return ExclaimsParams(max=body.exclaims or 0)

    def judge(self, check, spec, a, found) -> Outcome:
        """Fail with every mark past the limit highlighted."""
        marks = [(i, i + 1) for i, char in enumerate(a.text) if char == "!"]
        if len(marks) > check.params.max:
            return Outcome(False, f"{check.fail_msg} Found {len(marks)}.", tuple(marks))
        return Outcome(True, check.pass_msg, ())

    def describe(self, check, spec) -> dict[str, Any]:
        """The limit."""
        return {"max_exclamations": check.params.max}


SPEC = {"checks": [{"id": "calm", "exclaims": 1, "lesson": "tone"}, {"id": "length", "words": {"min": 5}}]}
ANSWER = "Thank you so much for your time! I am very keen on the role! Really!"


def test_a_new_kind_is_one_class_registered_in_a_registry_of_its_own():
    """A kind registered in a local registry is read, judged and described; the shipped registry does not know it."""
    kinds = KINDS.with_kind(Exclaims())
    spec = compile_text_spec(SPEC, default_rules(), kinds)
    result = grade_text(spec, normalise_text(ANSWER), Context(), "test")
    calm = next(c for c in result.checks if c.id == "calm")
    assert not calm.passed and calm.message == "Use fewer exclamation marks. Found 3."
    assert calm.spans == ((31, 32), (59, 60), (67, 68)) and calm.lesson == "tone"
    assert [c.id for c in result.checks] == ["calm", "length", "real-sentences"]
    key = graders.REGISTRY.get("text").answer_key(spec)
    assert key["checks"][0] == {"id": "calm", "kind": "exclaims", "weight": 1.0, "required": True, "lesson": "tone",
                                "pass": "The punctuation stays calm.", "fail": "Use fewer exclamation marks.",
                                "max_exclamations": 1}
    assert kinds.names == (*KINDS.names, "exclaims")
    assert "exclaims" not in KINDS.names and "exclaims" not in KINDS.check_model().model_fields
    assert "exclaims" in kinds.spec_model().model_json_schema()["$defs"]["Check"]["properties"]


def test_the_shipped_registry_refuses_a_kind_it_does_not_know():
    """Without the kind, its key is no kind at all: the check names none of the known ones."""
    with pytest.raises(SpecError) as info:
        compile_text_spec(SPEC, default_rules())
    assert ("spec.checks[0]: needs exactly one of require, forbid, tone, words, questions, sentences, got none"
            in str(info.value))
    assert "spec.checks[0].exclaims: unknown key (known keys: id, weight, required, lesson, pass, fail" in \
        str(info.value)


def test_a_new_kind_reads_its_own_params_with_key_paths():
    """The kind's key joins the check's model, so its problems are reported under the check's key path."""
    with pytest.raises(SpecError) as info:
        compile_text_spec({"checks": [{"id": "calm", "exclaims": 11}]}, default_rules(), KINDS.with_kind(Exclaims()))
    assert "spec.checks[0].exclaims: must be between 0 and 10, got 11" in str(info.value)


def test_two_kinds_cannot_share_a_name():
    """A registry with two kinds of one name would read checks ambiguously."""
    with pytest.raises(ValueError, match="two check kinds are called 'exclaims'"):
        CheckKinds([Exclaims(), Exclaims()])


def test_the_shipped_kinds_in_the_order_authors_read_them():
    """The shipped grader's kinds, and the roles that tell grading how to treat their verdicts."""
    assert KINDS.names == ("require", "forbid", "tone", "words", "questions", "sentences")
    assert {k.name: k.role for k in KINDS} == {"require": "move", "forbid": "screen", "tone": "screen",
                                               "words": "measure", "questions": "measure", "sentences": "guard"}
