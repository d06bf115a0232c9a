"""Gradebook export: formula-injection safety, CSV/JSON encoding, and streaming from the database."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime

import pytest

from web.services import gradebook as gb

EXERCISES = ["e1", "e2"]


def row(uid, name, email="x@example.org", best=None, passed=(), lessons_read=0):
    """Build a GradebookRow."""
    return gb.GradebookRow(uid, name, email, datetime(2026, 1, 2, tzinfo=UTC), best or {}, frozenset(passed),
                           lessons_read)


@pytest.mark.parametrize("prefix", ["=", "+", "-", "@", "\t", "\r"])
def test_each_formula_trigger_is_neutralised(prefix):
    """A text cell starting with = + - @ tab or CR gets a leading single quote (OWASP)."""
    assert gb.neutralise(prefix + "HYPERLINK(1)") == "'" + prefix + "HYPERLINK(1)"


@pytest.mark.parametrize("value", ["Ana", "a=b", "", " =1", 0.5, -1, None])
def test_harmless_cells_are_left_alone(value):
    """Ordinary text, a trigger that is not first, and numbers (even negative) pass through."""
    assert gb.neutralise(value) == value


def test_csv_neutralises_learner_supplied_cells_end_to_end():
    """A learner named '=cmd|...' cannot make the instructor's spreadsheet run a formula."""
    rows = [row(1, "=cmd|' /C calc'!A0", "@evil@example.org", {"e1": 1.0}, {"e1"}, lessons_read=1)]
    out = "".join(gb.csv_stream(rows, EXERCISES, lessons_total=2))
    parsed = list(csv.reader(io.StringIO(out)))
    assert parsed[0] == ["name", "email", "joined_at", "completion_percent", "exercises_passed", "complete",
                         "e1", "e2"]
    assert parsed[1][0] == "'=cmd|' /C calc'!A0"
    assert parsed[1][1] == "'@evil@example.org"
    assert parsed[1][3:] == ["50.0", "1", "no", "1.0", ""]


def test_csv_stream_is_a_generator_yielding_one_line_per_learner():
    """The encoder is lazy: it pulls learners one at a time."""
    pulled = []

    def source():
        """Record each learner as the encoder asks for it."""
        for i in range(3):
            pulled.append(i)
            yield row(i, f"L{i}")

    stream = gb.csv_stream(source(), EXERCISES, 0)
    assert next(stream).startswith("name,")
    assert pulled == []
    next(stream)
    assert pulled == [0]


def test_json_stream_is_one_valid_document():
    """The chunks join into one JSON document with meta, exercise ids and one record per learner."""
    rows = [row(1, "Ana", best={"e1": 0.5}), row(2, 'Bo "B"', best={"e1": 1.0, "e2": 1.0}, passed={"e1", "e2"},
                                                   lessons_read=2)]
    doc = json.loads("".join(gb.json_stream(rows, EXERCISES, 2, {"cohort": "Spring"})))
    assert doc["cohort"] == "Spring" and doc["exercises"] == EXERCISES
    assert [r["name"] for r in doc["learners"]] == ["Ana", 'Bo "B"']
    assert doc["learners"][0]["best_scores"] == {"e1": 0.5, "e2": None}
    assert doc["learners"][1]["complete"] is True and doc["learners"][1]["completion_percent"] == 100.0
    empty = json.loads("".join(gb.json_stream([], EXERCISES, 2, {})))
    assert empty == {"exercises": EXERCISES, "learners": []}
