"""Every shipped exercise file compiles, grades its own samples as declared, and never leaks its key.

Deliberately independent of the course loader: it reads exercises/*.yaml with PyYAML and talks to the
graders directly, so a grader or content regression shows up here even if the loader changes.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from graders import REGISTRY, Context, answer_key, compile_spec, grade, present

ROOT = Path(__file__).resolve().parent.parent
EXERCISES = sorted((ROOT / "exercises").glob("*.yaml"))

# The content plan: exercise id -> (type, lesson). Every id here must ship, with this type and lesson.
PLAN = {
    "why-close-quiz": ("single_choice", "why-close-matters"),
    "close-myths": ("multiple_choice", "what-closing-means"),
    "spot-the-moment": ("single_choice", "reading-the-moment"),
    "when-to-close-scenarios": ("categorize", "making-room-to-close"),
    "strong-close-or-avoid": ("categorize", "final-questions"),
    "match-question-to-purpose": ("matching", "final-questions"),
    "address-a-concern": ("text", "surfacing-concerns"),
    "misunderstanding-or-gap": ("categorize", "surfacing-concerns"),
    "pick-the-best-recap": ("single_choice", "recapping-fit"),
    "rewrite-aggressive-close": ("text", "saying-you-want-the-job"),
    "sales-vs-analyst-close": ("matching", "saying-you-want-the-job"),
    "next-steps-questions": ("multiple_choice", "next-steps-and-timeline"),
    "contact-details-cloze": ("cloze", "thanks-and-contact-details"),
    "order-close-steps": ("ordering", "putting-it-together"),
    "spot-whats-wrong": ("multiple_choice", "putting-it-together"),
    "thank-you-email": ("text", "thank-you-note"),
    "order-follow-up-timeline": ("ordering", "following-up"),
}
# Text exercises are written by another engineer and may land later than the structured ones.
STRUCTURED = {eid for eid, (kind, _) in PLAN.items() if kind != "text"}
# Keys of a grading spec that hold the answer: none may appear in what the learner sees first.
SECRET_KEYS = {"correct", "after", "feedback", "accept", "match", "group", "typos", "placements", "pairs"}
DEFAULT_THRESHOLD = 0.8


def load(path: Path) -> dict:
    """Read one exercise file."""
    with path.open(encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def type_of(path: Path) -> str | None:
    """Return an exercise's type for test selection; a broken file is reported by test_exercise_file_shape."""
    try:
        return load(path).get("type")
    except (yaml.YAMLError, AttributeError):
        return None


def keys_in(value) -> set[str]:
    """Every mapping key anywhere inside a JSON-like value."""
    found: set[str] = set()
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            found.update(item)
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)
    return found


def feedback_strings(raw_spec: dict) -> list[str]:
    """Every feedback text in a raw spec, found wherever it sits."""
    out = []
    stack = [raw_spec]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if isinstance(item.get("feedback"), str):
                out.append(item["feedback"])
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return out


def test_every_structured_exercise_in_the_plan_ships():
    """All planned non-text exercises exist."""
    shipped = {p.stem for p in EXERCISES}
    assert sorted(STRUCTURED - shipped) == []


@pytest.mark.parametrize("path", EXERCISES, ids=lambda p: p.stem)
def test_exercise_file_shape(path):
    """Id matches the file name, type and lesson follow the plan, and the teaching text is present."""
    data = load(path)
    assert data["id"] == path.stem
    assert data["type"] in REGISTRY.names()
    if path.stem in PLAN:
        assert (data["type"], data["lesson"]) == PLAN[path.stem]
    assert data["title"].strip() and data["prompt"].strip() and data["explanation"].strip()
    assert len(data["hints"]) >= 1 and all(isinstance(h, str) and h.strip() for h in data["hints"])
    assert len(data["samples"]["pass"]) >= 2
    assert len(data["samples"]["fail"]) >= 3


@pytest.mark.parametrize("path", EXERCISES, ids=lambda p: p.stem)
def test_samples_grade_as_declared(path):
    """Pass samples pass; fail samples fail without being invalid."""
    data = load(path)
    compiled = compile_spec(data["type"], data["spec"])
    ctx = Context(pass_threshold=data.get("pass_threshold", DEFAULT_THRESHOLD))
    for sample in data["samples"]["pass"]:
        result = grade(data["type"], compiled, sample, ctx)
        assert result.passed, f"{path.stem}: pass sample {sample!r} -> {result.status} {result.score}: {result.message}"
    for sample in data["samples"]["fail"]:
        result = grade(data["type"], compiled, sample, ctx)
        assert result.status != "invalid", f"{path.stem}: fail sample {sample!r} is invalid: {result.message}"
        assert not result.passed, f"{path.stem}: fail sample {sample!r} passed with {result.score}"


@pytest.mark.parametrize("path", [p for p in EXERCISES if p.stem in STRUCTURED], ids=lambda p: p.stem)
def test_learner_view_never_leaks_the_key(path):
    """present() shows no answer-key fields and none of the feedback texts, for several seeds."""
    data = load(path)
    compiled = compile_spec(data["type"], data["spec"])
    secrets = feedback_strings(data["spec"])
    for seed in (0, 1, 99):
        view = present(data["type"], compiled, seed)
        assert not keys_in(view) & SECRET_KEYS
        dumped = json.dumps(view)
        for text in secrets:
            assert text.strip()[:60] not in dumped
    assert answer_key(data["type"], compiled)


@pytest.mark.parametrize("path", [p for p in EXERCISES if type_of(p) == "ordering"], ids=lambda p: p.stem)
def test_ordering_exercises_starting_order_and_reverse(path):
    """The shown order is never a passing answer, and the reversed key order fails."""
    data = load(path)
    compiled = compile_spec("ordering", data["spec"])
    key = answer_key("ordering", compiled)["order"]
    assert not grade("ordering", compiled, list(reversed(key))).passed
    assert grade("ordering", compiled, key).score == 1.0
    for seed in range(50):
        shown = tuple(present("ordering", compiled, seed)["shown_order"])
        steps_only = [i for i in shown if i in key]
        result = grade("ordering", compiled, steps_only, Context(shown_order=shown))
        assert result.score == 0.0 and not result.passed


@pytest.mark.parametrize("path", [p for p in EXERCISES if type_of(p) == "multiple_choice"], ids=lambda p: p.stem)
def test_multiple_choice_feedback_reads_after_either_verdict(path):
    """A right option's feedback also follows "You missed this one.", so it must not open with a verdict."""
    data = load(path)
    compiled = compile_spec("multiple_choice", data["spec"])
    right = [o["id"] for o in data["spec"]["options"] if o.get("correct")]
    result = grade("multiple_choice", compiled, right[:1] or [data["spec"]["options"][0]["id"]])
    for check in result.checks:
        if "You missed this one." in check.message:
            rest = check.message.split("You missed this one.", 1)[1].strip()
            assert not rest.lower().startswith(("right", "yes", "correct")), check.message
