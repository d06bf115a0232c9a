"""JSON Schemas of the course files, generated from their pydantic models, so editors can check and complete them.

`python -m course.schemas` rewrites docs/schemas/; tests/test_schemas.py fails when the committed files are out
of date. The exercise schema holds every registered grader's `spec_model`, chosen by the file's `type`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

import graders
from course.files import ExerciseFile, LessonFront, Manifest, Overlay

DRAFT = "https://json-schema.org/draft/2020-12/schema"
DEFAULT_DIR = Path(__file__).resolve().parent.parent / "docs" / "schemas"


def _schema(model: type[BaseModel], title: str) -> dict[str, Any]:
    """One model's JSON Schema, with the draft and a title an editor shows."""
    return {"$schema": DRAFT, **model.model_json_schema(), "title": title}


def exercise_schema() -> dict[str, Any]:
    """The exercise file's schema: its keys, and the `spec` of each grader type, picked by `type`."""
    specs = {name: graders.REGISTRY.get(name).spec_model for name in graders.REGISTRY.names()}
    models = [(ExerciseFile, "validation")] + [(m, "validation") for m in specs.values() if m is not None]
    refs, defs = models_json_schema(models, ref_template="#/$defs/{model}")
    top = defs["$defs"].pop(ExerciseFile.__name__)
    top["properties"]["type"]["enum"] = list(specs)
    # A type without a model (none today once every grader has one) keeps the free-form mapping.
    top["allOf"] = [
        {"if": {"properties": {"type": {"const": name}}, "required": ["type"]},
         "then": {"properties": {"spec": refs[(model, "validation")]}}}
        for name, model in specs.items() if model is not None
    ]
    return {"$schema": DRAFT, "title": "Exercise file (exercises/*.yaml)", **top, **defs}


def schemas() -> dict[str, dict[str, Any]]:
    """Every published schema by file name."""
    return {
        "course.schema.json": _schema(Manifest, "Course manifest (course.yaml)"),
        "overlay.schema.json": _schema(Overlay, "Agency overlay manifest (course.yaml of a COURSE_EXTRA_DIRS folder)"),
        "lesson.schema.json": _schema(LessonFront, "Lesson front matter (lessons/*.md, between the --- lines)"),
        "exercise.schema.json": exercise_schema(),
    }


def render(schema: dict[str, Any]) -> str:
    """A schema as the committed text: indented, keys in model order, a final newline."""
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def write(folder: Path = DEFAULT_DIR) -> list[Path]:
    """Write every schema into `folder`; return the files written."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, schema in schemas().items():
        path = folder / name
        path.write_text(render(schema), encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":
    for written_path in write(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_DIR):
        print(written_path)
