"""The published JSON Schemas: up to date with the models, and agreeing with the loader on the shipped course."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from course import schemas
from course.loader import split_front_matter

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("name", list(schemas.schemas()))
def test_committed_schemas_are_up_to_date(name):
    """docs/schemas/ holds exactly what the models generate; after changing a model run `python -m course.schemas`."""
    committed = (REPO / "docs" / "schemas" / name).read_text(encoding="utf-8")
    assert committed == schemas.render(schemas.schemas()[name]), (
        f"docs/schemas/{name} is out of date: run `python -m course.schemas` and commit the result")


def test_write_writes_every_schema(tmp_path):
    """write() puts one file per schema into the folder it is given."""
    written = schemas.write(tmp_path)
    assert sorted(p.name for p in written) == sorted(schemas.schemas())
    assert json.loads((tmp_path / "exercise.schema.json").read_text(encoding="utf-8"))["$schema"] == schemas.DRAFT


def test_exercise_schema_picks_each_types_spec():
    """Every grader type with a spec model has its spec schema, chosen by the file's `type`."""
    schema = schemas.exercise_schema()
    chosen = {rule["if"]["properties"]["type"]["const"]: rule["then"]["properties"]["spec"]["$ref"]
              for rule in schema["allOf"]}
    assert {"single_choice", "multiple_choice", "matching", "categorize", "cloze", "ordering"} <= set(chosen)
    for ref in chosen.values():
        assert ref.removeprefix("#/$defs/") in schema["$defs"]
    assert set(schema["properties"]["type"]["enum"]) >= set(chosen)


def _keys_allowed(schema, defs, data, path=""):
    """Walk data against a schema's `properties`/`additionalProperties: false`; return keys it would refuse."""
    if "$ref" in schema:
        schema = defs[schema["$ref"].removeprefix("#/$defs/")]
    refused = []
    if isinstance(data, dict) and schema.get("additionalProperties") is False:
        props = schema.get("properties", {})
        refused += [f"{path}.{k}" for k in data if k not in props]
        for k, v in data.items():
            if k in props:
                refused += _keys_allowed(props[k], defs, v, f"{path}.{k}")
    elif isinstance(data, list) and "items" in schema:
        for i, v in enumerate(data):
            refused += _keys_allowed(schema["items"], defs, v, f"{path}[{i}]")
    return refused


def test_shipped_course_fits_the_schemas():
    """Every key the shipped course uses is one the schemas know (no jsonschema library needed for this much)."""
    course = schemas.schemas()["course.schema.json"]
    assert _keys_allowed(course, course.get("$defs", {}), yaml.safe_load((REPO / "course.yaml").read_text())) == []
    lesson = schemas.schemas()["lesson.schema.json"]
    for path in sorted((REPO / "lessons").glob("*.md")):
        front = yaml.safe_load(split_front_matter(path.read_text(encoding="utf-8"))[0])
        assert _keys_allowed(lesson, {}, front) == [], path.name
    exercise = schemas.exercise_schema()
    chosen = {r["if"]["properties"]["type"]["const"]: r["then"]["properties"]["spec"] for r in exercise["allOf"]}
    for path in sorted((REPO / "exercises").glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        assert _keys_allowed(exercise, exercise["$defs"], data) == [], path.name
        if data["type"] in chosen:
            assert _keys_allowed(chosen[data["type"]], exercise["$defs"], data["spec"], "spec") == [], path.name
