"""The shared schema base: pydantic errors become SpecIssues with key paths and the project's wording."""

from __future__ import annotations

from typing import Annotated, Literal

import pytest
from pydantic import Field

from graders.base import SpecError, SpecIssue
from graders.schema import (
    MESSAGES,
    SpecId,
    SpecModel,
    Text,
    child_key,
    compile_model,
    key_path,
    kind,
    parent_key,
    validate,
)


class Entry(SpecModel):
    """One entry with an id, a text and a verdict."""

    id: SpecId
    text: Text
    correct: bool
    feedback: str = ""


class Spec(SpecModel):
    """A small spec using each kind of field the graders use."""

    entries: list[Entry] = Field(min_length=2)
    shuffle: bool = True
    threshold: Annotated[float, Field(ge=0, le=1)] = 0.5
    count: Annotated[int, Field(ge=1)] = 1
    mode: Literal["lcs", "none"] = "lcs"
    tags: list[Text] = []

    def problems(self, path: str) -> list[SpecIssue]:
        """Two entries need different ids (runs on a salvage too)."""
        ids = [e.id for e in self.entries or [] if e is not None and e.id]
        return [SpecIssue(f"{path}.entries", "ids repeat")] if len(ids) != len(set(ids)) else []


GOOD = {"entries": [{"id": "a", "text": "A", "correct": True}, {"id": "b", "text": "B", "correct": False}]}


def issues(raw, prefix="spec"):
    """The issues of validating raw data against Spec, as strings."""
    return [str(i) for i in validate(Spec, raw, prefix)[1]]


def test_valid_data_gives_the_model_and_no_issues():
    """A valid spec validates into a frozen model with its defaults."""
    spec, found = validate(Spec, GOOD, "spec")
    assert found == [] and spec.shuffle is True and spec.entries[1].id == "b"
    with pytest.raises(Exception):  # noqa: B017 - pydantic's frozen error
        spec.shuffle = False


def test_every_error_is_reported_at_once_with_its_key_path():
    """Unknown, missing and mistyped keys, at any depth, all come back in one pass, in the project's words."""
    raw = {"entries": [{"id": "a", "text": "A", "correct": True, "feedbak": "x"},
                       {"id": "b c", "text": "  ", "correct": "yes"}, {"id": "c"}],
           "shuffle": "no", "threshold": 80, "count": 0, "mode": "ranking", "tags": ["x", 3], "zz": 1}
    assert issues(raw) == [
        "spec.entries[0].feedbak: unknown key (known keys: id, text, correct, feedback)",
        "spec.entries[1].id: 'b c' is not a valid id: use up to 80 letters, digits, hyphens or underscores, "
        "starting with a letter or digit",
        "spec.entries[1].text: must not be empty",
        "spec.entries[1].correct: expected true/false, got text",
        "spec.entries[2].text: missing required key",
        "spec.entries[2].correct: missing required key",
        "spec.shuffle: expected true/false, got text",
        "spec.threshold: must be between 0 and 1, got 80",
        "spec.count: must be 1 or more, got 0",
        "spec.mode: must be 'lcs' or 'none', got 'ranking'",
        "spec.tags[1]: expected text, got the number 3",
        "spec.zz: unknown key (known keys: entries, shuffle, threshold, count, mode, tags)",
    ]


def test_types_are_strict():
    """A YAML `yes` is no text, a true is no number, a number is no text; a whole number is a number."""
    assert issues({**GOOD, "count": True}) == ["spec.count: expected a whole number, got true/false"]
    assert issues({**GOOD, "threshold": "0.5"}) == ["spec.threshold: expected a number between 0 and 1, got text"]
    assert issues({**GOOD, "tags": "a, b"}) == ["spec.tags: expected a list, got text"]
    assert issues({**GOOD, "threshold": 1}) == []


def test_lists_and_mappings():
    """Too few entries, and something else where a mapping belongs, are named."""
    assert issues({"entries": [GOOD["entries"][0]]}) == ["spec.entries: needs at least 2 entries, got 1"]
    assert issues({"entries": ["a", None]}) == ["spec.entries[0]: expected a mapping of keys, got text",
                                                "spec.entries[1]: expected a mapping of keys, got nothing"]
    assert issues([1], prefix="") == ["expected a mapping of keys, got a list"]


def test_compile_model_runs_problems_on_a_salvage_too():
    """Checks across keys run even when other keys are broken, so every issue comes in one SpecError."""
    raw = {"entries": [{"id": "a", "text": "A", "correct": True, "x": 1}, {"id": "a", "text": "B", "correct": 2}]}
    with pytest.raises(SpecError) as info:
        compile_model(Spec, raw)
    assert [str(i) for i in info.value.issues] == [
        "spec.entries[0].x: unknown key (known keys: id, text, correct, feedback)",
        "spec.entries[1].correct: expected true/false, got the number 2",
        "spec.entries: ids repeat",
    ]
    assert compile_model(Spec, GOOD).entries[0].text == "A"


def test_salvage_keeps_what_is_valid_and_positions():
    """A salvaged model keeps valid fields, None for the others, and entries at their positions."""
    spec, _ = validate(Spec, {"entries": [{"id": "a b", "text": "A", "correct": True}, 7], "shuffle": "no"})
    assert spec.entries[0].id is None and spec.entries[0].text == "A" and spec.entries[1] is None
    assert spec.shuffle is None and spec.mode == "lcs"
    assert validate(Spec, "text")[0] is None


def test_key_paths_follow_the_loaders_form():
    """pydantic's loc becomes the dotted/[index] key path the loader maps to a line."""
    assert key_path("spec", ("items", 2, "after", 0)) == "spec.items[2].after[0]"
    assert key_path("", ("modules", 1, "id")) == "modules[1].id"
    assert key_path("spec", ()) == "spec"
    assert key_path("spec.concepts", ("x", "[key]")) == "spec.concepts.x"
    assert child_key("", "id") == "id" and child_key("a", 0) == "a[0]"
    assert parent_key("a.b[2].c") == "a.b[2]" and parent_key("a") == ""


def test_kinds_and_the_table():
    """Values are named the way an author would; every table entry formats."""
    assert [kind(v) for v in (None, True, 3, 1.5, "x", [], {})] == [
        "nothing", "true/false", "the number 3", "the number 1.5", "text", "a list", "a mapping"]
    assert all(isinstance(v, str) and v for v in MESSAGES.values())
