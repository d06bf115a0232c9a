"""The loader: the shipped course loads, every kind of content error is reported with file, line and key."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from course.errors import ContentError, ContentErrors
from course.loader import load_course, parent_key, spec_key, split_front_matter
from course.model import SolutionRule

REPO = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).parent / "fixtures"
GOOD = FIXTURES / "good"
BROKEN = FIXTURES / "broken"
OVERLAY = FIXTURES / "overlay"

# The content plan every engineer builds against: module -> [(lesson, [(exercise, type), ...]), ...].
PLAN = {
    "why": [
        ("why-close-matters", [("why-close-quiz", "single_choice")]),
        ("what-closing-means", [("close-myths", "multiple_choice")]),
    ],
    "when": [
        ("reading-the-moment", [("spot-the-moment", "single_choice")]),
        ("making-room-to-close", [("when-to-close-scenarios", "categorize")]),
    ],
    "how": [
        ("final-questions", [("strong-close-or-avoid", "categorize"), ("match-question-to-purpose", "matching")]),
        ("surfacing-concerns", [("address-a-concern", "text"), ("misunderstanding-or-gap", "categorize")]),
        ("recapping-fit", [("pick-the-best-recap", "single_choice")]),
        ("saying-you-want-the-job", [("rewrite-aggressive-close", "text"), ("sales-vs-analyst-close", "matching")]),
        ("next-steps-and-timeline", [("next-steps-questions", "multiple_choice")]),
        ("thanks-and-contact-details", [("contact-details-cloze", "cloze")]),
        ("putting-it-together", [("order-close-steps", "ordering"), ("spot-whats-wrong", "multiple_choice")]),
    ],
    "follow-up": [
        ("thank-you-note", [("thank-you-email", "text")]),
        ("following-up", [("order-follow-up-timeline", "ordering")]),
    ],
}


@pytest.fixture(autouse=True)
def no_course_env(monkeypatch):
    """Keep a developer's COURSE_DIR / COURSE_EXTRA_DIRS from leaking into these tests."""
    monkeypatch.delenv("COURSE_DIR", raising=False)
    monkeypatch.delenv("COURSE_EXTRA_DIRS", raising=False)


@pytest.fixture
def course_dir(tmp_path) -> Path:
    """A private, writable copy of the good fixture course."""
    dest = tmp_path / "course"
    shutil.copytree(GOOD, dest)
    return dest


def edit(root: Path, rel: str, old: str, new: str) -> None:
    """Replace one piece of text in a fixture file (the text must be there, so a stale test fails loudly)."""
    path = root / rel
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} is not in {rel}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def errors_of(root: Path, **kwargs) -> list[ContentError]:
    """Load a course that must fail and return its errors."""
    kwargs.setdefault("extra_dirs", ())
    with pytest.raises(ContentErrors) as info:
        load_course(root, **kwargs)
    return list(info.value)


def as_tuples(errors: list[ContentError]) -> list[tuple[str, int | None, str, str]]:
    """Turn errors into comparable tuples."""
    return [(e.path, e.line, e.key, e.message) for e in errors]


# --------------------------------------------------------------------------------------------------- good content


def test_shipped_course_loads_with_every_sample_grading_as_declared():
    """The real course (repository root) loads cleanly, samples included, and follows the content plan."""
    course = load_course(check_samples=True)
    assert course.title == "Closing the Job Interview"
    assert [m.id for m in course.modules] == list(PLAN)
    for module in course.modules:
        assert list(module.lessons) == [lesson for lesson, _ in PLAN[module.id]]
        for lesson_id, exercises in PLAN[module.id]:
            lesson = course.lessons[lesson_id]
            assert lesson.module == module.id
            assert [(e, course.exercises[e].type) for e in lesson.exercises] == exercises
    assert len(course.exercises) == sum(len(exs) for lessons in PLAN.values() for _, exs in lessons) == 17
    titles = {s.title for s in course.sources}
    assert all(set(lesson.sources) <= titles for lesson in course.lessons.values())


def test_lesson_knows_which_of_its_exercises_its_body_does_not_link():
    """Exercises the lesson text links are not listed again; the rest are kept, in order, for the site."""
    course = load_course(GOOD, extra_dirs=(), check_samples=False)
    assert course.lessons["first-lesson"].exercises == ("pick-one",)
    assert course.lessons["first-lesson"].unlinked_exercises == ()
    assert course.lessons["practice-lesson"].unlinked_exercises == course.lessons["practice-lesson"].exercises
    assert set(course.lessons["practice-lesson"].exercises) == {"put-in-order", "write-it"}


def test_good_fixture_builds_the_model():
    """Modules keep manifest order, lessons sort by order, exercises attach to their lessons in order."""
    course = load_course(GOOD, extra_dirs=(), check_samples=True)
    assert course.title == "Fixture course"
    assert course.default_pass_threshold == 0.75
    assert [(m.id, m.lessons) for m in course.modules] == [
        ("basics", ("first-lesson", "second-lesson")),
        ("practice", ("practice-lesson",)),
    ]
    assert course.lesson_order() == ["first-lesson", "second-lesson", "practice-lesson"]
    assert course.exercise_order() == ["pick-one", "pick-many", "put-in-order", "write-it"]
    assert list(course.exercises) == course.exercise_order()
    first = course.lessons["first-lesson"]
    assert first.objectives == ("Say what an interview close is",)
    assert first.sources == ("How to Close an Interview",)
    assert first.minutes == 3
    assert first.body.lstrip().startswith("A close is how you use")
    assert "---" not in first.body
    assert first.path == GOOD / "lessons" / "1-1-first-lesson.md"
    pick_one = course.exercises["pick-one"]
    assert pick_one.pass_threshold == 0.75  # the manifest's default
    assert course.exercises["pick-many"].pass_threshold == 1.0  # its own
    assert pick_one.raw_spec["options"][0]["id"] == "a"
    assert pick_one.samples.passing == ("a",) and pick_one.samples.failing == ("b",)
    assert pick_one.hints == ("Think about timing, not tactics.",)
    assert course.module_of("practice-lesson").id == "practice"
    assert course.completion == {"lessons": "all", "exercises": "all"}
    assert [s.id for s in course.sources] == ["article-one", "article-two"]


def test_course_dir_env_selects_the_course(monkeypatch):
    """COURSE_DIR points the loader at another course directory, with no code change."""
    monkeypatch.setenv("COURSE_DIR", str(GOOD))
    assert load_course(extra_dirs=()).title == "Fixture course"


def test_exercises_sort_by_order_then_id(course_dir):
    """Two exercises on one lesson: explicit `order` wins, then the id breaks ties."""
    edit(course_dir, "exercises/put-in-order.yaml", "lesson: practice-lesson", "lesson: second-lesson\norder: 0")
    course = load_course(course_dir, extra_dirs=())
    assert course.lessons["second-lesson"].exercises == ("put-in-order", "pick-many")


def test_show_solution_comes_from_the_exercise_else_the_course_else_the_default(course_dir):
    """An exercise's own show_solution wins; without one it takes course.yaml's; without that, pass or 3 attempts."""
    default = load_course(course_dir, extra_dirs=()).exercises["pick-one"].show_solution
    assert default == SolutionRule("after_attempts", 3)
    edit(course_dir, "course.yaml", "pass_threshold: 0.75", "pass_threshold: 0.75\nshow_solution: never")
    edit(course_dir, "exercises/pick-one.yaml", "explanation: |", "show_solution:\n  after_attempts: 2\nexplanation: |")
    course = load_course(course_dir, extra_dirs=())
    assert course.show_solution == SolutionRule("never")
    assert course.exercises["pick-one"].show_solution == SolutionRule("after_attempts", 2)
    assert course.exercises["pick-many"].show_solution == SolutionRule("never")


def test_authoring_guide_examples_are_valid(tmp_path):
    """Every example lesson and exercise in docs/authoring.md loads into the shipped course, samples included."""
    guide = (REPO / "docs" / "authoring.md").read_text(encoding="utf-8")
    root = tmp_path / "course"
    shutil.copytree(REPO / "lessons", root / "lessons")
    shutil.copytree(REPO / "exercises", root / "exercises")
    shutil.copy(REPO / "course.yaml", root / "course.yaml")
    exercises = re.findall(r"```yaml\n# exercises/([a-z-]+)\.yaml\n(.*?)```", guide, re.DOTALL)
    (lesson,) = re.findall(r"```markdown\n(---\n.*?)```", guide, re.DOTALL)
    (root / "lessons" / "4-3-asking-for-feedback.md").write_text(lesson, encoding="utf-8")
    for ident, body in exercises:
        (root / "exercises" / f"{ident}.yaml").write_text(body, encoding="utf-8")
    course = load_course(root, extra_dirs=(), check_samples=True)
    assert sorted(course.exercises[i].type for i, _ in exercises) == [
        "categorize", "cloze", "matching", "multiple_choice", "ordering", "single_choice", "text"]
    assert course.lessons["asking-for-feedback"].module == "follow-up"


# --------------------------------------------------------------------------------------------------- one error each

EXACT_CASES = {
    "bad YAML in an exercise": (
        [("exercises/pick-one.yaml", "title: What is a close?", "title: What is: a close?")],
        [("exercises/pick-one.yaml", 4, "", "invalid YAML: mapping values are not allowed...")],
    ),
    "bad YAML in front matter (line counted from the file's start)": (
        [("lessons/1-1-first-lesson.md", "title: What a close is", "title: What: a close is")],
        [("lessons/1-1-first-lesson.md", 3, "", "invalid YAML: mapping values are not allowed...")],
    ),
    "missing key": (
        [("lessons/1-1-first-lesson.md", "minutes: 3\n", "")],
        [("lessons/1-1-first-lesson.md", 2, "minutes", "missing required key")],
    ),
    "unknown key names the known keys": (
        [("lessons/1-1-first-lesson.md", "minutes: 3\n", "minutes: 3\nminuts: 3\n")],
        [("lessons/1-1-first-lesson.md", 11, "minuts",
          "unknown key (known keys: id, title, module, order, objectives, sources, minutes, summary)")],
    ),
    "wrong value type": (
        [("lessons/1-1-first-lesson.md", "order: 1", "order: first")],
        [("lessons/1-1-first-lesson.md", 5, "order", "expected a whole number, got text")],
    ),
    "wrong value type in a list": (
        [("lessons/second-lesson.md", "  - Tell a strong close from a pushy one", "  - [a list]")],
        [("lessons/second-lesson.md", 8, "objectives[1]", "expected text, got a list")],
    ),
    "threshold out of range": (
        [("exercises/pick-many.yaml", "pass_threshold: 1.0", "pass_threshold: 80")],
        [("exercises/pick-many.yaml", 13, "pass_threshold", "must be between 0 and 1, got 80")],
    ),
    "id that is not a slug": (
        [("course.yaml", "  - id: practice\n", "  - id: Practice Module\n"),
         ("lessons/2-1-practice-lesson.md", "module: practice", "module: Practice Module")],
        [("course.yaml", 13, "modules[1].id",
          "'Practice Module' is not a valid id (use lowercase letters, digits and hyphens, e.g. 'thank-you-note')"),
         ("lessons/2-1-practice-lesson.md", 4, "module",
          "'Practice Module' is not a valid id (use lowercase letters, digits and hyphens, e.g. 'thank-you-note')")],
    ),
    "key written twice": (
        [("exercises/pick-one.yaml", "title: What is a close?\n", "title: What is a close?\ntitle: Again\n")],
        [("exercises/pick-one.yaml", 5, "title", "key written twice (first on line 4)")],
    ),
    "file that is not a mapping": (
        [("exercises/pick-one.yaml", "id: pick-one", "- id: pick-one\n- x: 1\n")],
        [],  # filled in below: the whole file is replaced
    ),
    "unknown exercise type lists the known ones": (
        [("exercises/pick-one.yaml", "type: single_choice", "type: essay")],
        [("exercises/pick-one.yaml", 2, "type", "unknown exercise type 'essay' (known types: categorize, cloze, "
                                                "matching, multiple_choice, ordering, single_choice, text)")],
    ),
    "exercise points at an unknown lesson": (
        [("exercises/pick-one.yaml", "lesson: first-lesson", "lesson: first-lessen")],
        [("exercises/pick-one.yaml", 3, "lesson", "unknown lesson 'first-lessen' (did you mean 'first-lesson'?)")],
    ),
    "lesson points at an unknown module": (
        [("lessons/1-1-first-lesson.md", "module: basics", "module: basic")],
        [("lessons/1-1-first-lesson.md", 4, "module", "unknown module 'basic' (did you mean 'basics'?)")],
    ),
    "body link to an unknown exercise, with its line in the file": (
        [("lessons/1-1-first-lesson.md", "(exercise:pick-one)", "(exercise:pick-once)")],
        [("lessons/1-1-first-lesson.md", 16, "", "link to unknown exercise 'pick-once' (did you mean 'pick-one'?)")],
    ),
    "body link to an exercise by a shortened id": (
        [("lessons/1-1-first-lesson.md", "(exercise:pick-one)", "(exercise:put-in)")],
        [("lessons/1-1-first-lesson.md", 16, "", "link to unknown exercise 'put-in' (did you mean 'put-in-order'?)")],
    ),
    "explanation link to an unknown lesson": (
        [("exercises/pick-many.yaml", "(lesson:second-lesson)", "(lesson:third-lesson)")],
        [("exercises/pick-many.yaml", 16, "explanation",
          "link to unknown lesson 'third-lesson' (did you mean 'first-lesson'?)")],
    ),
    "source title not in the manifest": (
        [("lessons/1-1-first-lesson.md", "  - How to Close an Interview", "  - How To Close An Interview")],
        [("lessons/1-1-first-lesson.md", 9, "sources[0]",
          "source 'How To Close An Interview' is not a title listed under sources in course.yaml "
          "(did you mean 'How to Close an Interview'?)")],
    ),
    "duplicate order in a module": (
        [("lessons/second-lesson.md", "order: 2", "order: 1")],
        [("lessons/second-lesson.md", 5, "order", "order 1 is also used by lessons/1-1-first-lesson.md in module "
                                                  "'basics'")],
    ),
    "module without lessons": (
        [("course.yaml", "pass_threshold:", "  - id: extra\n    title: Extra\npass_threshold:")],
        [("course.yaml", 16, "modules[2].id", "module 'extra' has no lessons")],
    ),
    "unknown manifest key": (
        [("course.yaml", "pass_threshold: 0.75", "pass_treshold: 0.75")],
        [("course.yaml", 16, "pass_treshold", "unknown key (known keys: title, description, pass_threshold, "
                                              "completion, show_solution, sources, modules)")],
    ),
    "show_solution with an unknown value": (
        [("exercises/pick-one.yaml", "explanation: |", "show_solution: after_fail\nexplanation: |")],
        [("exercises/pick-one.yaml", 19, "show_solution",
          "expected always, never, after_pass, or a mapping such as 'after_attempts: 3', got 'after_fail'")],
    ),
    "show_solution after_attempts that is not a count": (
        [("exercises/pick-one.yaml", "explanation: |", "show_solution:\n  after_attempts: 0\nexplanation: |")],
        [("exercises/pick-one.yaml", 19, "show_solution", "after_attempts must be 1 or more, got 0")],
    ),
    "show_solution in the manifest with an unknown key": (
        [("course.yaml", "pass_threshold: 0.75", "pass_threshold: 0.75\nshow_solution: {after_tries: 2}")],
        [("course.yaml", 17, "show_solution", "expected always, never, after_pass, or a mapping such as "
                                              "'after_attempts: 3', got a mapping with the keys after_tries")],
    ),
    "grader spec issue, prefixed with spec.": (
        [("exercises/pick-one.yaml", "      correct: false", "      correct: true")],
        [("exercises/pick-one.yaml", 8, "spec.options", "single_choice needs exactly one correct option, found 2")],
    ),
    "unknown key inside the spec": (
        [("exercises/put-in-order.yaml", "  distractors:", "  partial_credit: lcs\n  shufle: false\n  distractors:")],
        [("exercises/put-in-order.yaml", 13, "spec.shufle", "unknown key (known keys: ...")],
    ),
    "regular expression that does not compile": (
        [("exercises/write-it.yaml", r"'\bappreciate\b'", r"'\bappreciate(\b'")],
        [("exercises/write-it.yaml", 12, "spec.concepts.thanks.regex[0]",
          "regular expression does not compile: missing ): \\bappreciate(\\b")],
    ),
    "exercise id differs from its file name": (
        [("exercises/put-in-order.yaml", "id: put-in-order", "id: put-in-sequence")],
        [("exercises/put-in-order.yaml", 1, "id",
          "id 'put-in-sequence' must equal the file name without .yaml ('put-in-order')")],
    ),
    "lesson id differs from its file name": (
        [("lessons/2-1-practice-lesson.md", "id: practice-lesson", "id: practise-lesson")],
        # The exercise still names the old id, which is now truly unknown.
        [("exercises/put-in-order.yaml", 3, "lesson", "unknown lesson 'practice-lesson' (did you mean "
                                                      "'practise-lesson'?)"),
         ("exercises/write-it.yaml", 3, "lesson", "unknown lesson 'practice-lesson' (did you mean "
                                                  "'practise-lesson'?)"),
         ("lessons/2-1-practice-lesson.md", 2, "id",
          "id 'practise-lesson' does not match the file name '2-1-practice-lesson.md': name the file "
          "practise-lesson.md, optionally with a numeric prefix such as 1-2-practise-lesson.md")],
    ),
    "lesson without front matter": (
        [("lessons/2-1-practice-lesson.md", "---\nid:", "id:")],
        [("lessons/2-1-practice-lesson.md", 1, "",
          "a lesson must start with a front matter block: a line '---', the keys, then another '---'")],
    ),
    "sample answer that is invalid": (
        [("exercises/pick-one.yaml", "pass: [a]", "pass: [z]")],
        [("exercises/pick-one.yaml", 22, "samples.pass[0]",
          "the answer is invalid, so it can neither pass nor fail: Unknown option 'z'; choose one of: a, b.")],
    ),
}
EXACT_CASES["file that is not a mapping"] = (
    [],
    [("exercises/pick-one.yaml", 1, "", "expected the file to be a mapping of keys, got a list")],
)


@pytest.mark.parametrize("case", list(EXACT_CASES))
def test_each_error_kind_is_reported_with_file_line_and_key(course_dir, case):
    """One mistake in an otherwise good course gives exactly the expected error(s)."""
    edits, expected = EXACT_CASES[case]
    for rel, old, new in edits:
        edit(course_dir, rel, old, new)
    if case == "file that is not a mapping":
        (course_dir / "exercises/pick-one.yaml").write_text("- id: pick-one\n- x: 1\n", encoding="utf-8")
    errors = as_tuples(errors_of(course_dir, check_samples=True))
    assert len(errors) == len(expected), errors
    for got, want in zip(errors, expected, strict=True):
        assert got[:3] == want[:3], errors
        # A message ending in "..." is compared by its start (YAML wording differs between PyYAML's parsers).
        assert got[3] == want[3] or (want[3].endswith("...") and got[3].startswith(want[3][:-3])), errors


def test_duplicate_lesson_id_names_both_files(course_dir):
    """A second file claiming a lesson id is reported, naming the first."""
    shutil.copy(course_dir / "lessons/1-1-first-lesson.md", course_dir / "lessons/9-first-lesson.md")
    assert as_tuples(errors_of(course_dir)) == [
        ("lessons/9-first-lesson.md", 2, "id",
         "duplicate lesson id 'first-lesson' (also in lessons/1-1-first-lesson.md)"),
    ]


def test_duplicate_exercise_id_names_both_files(course_dir):
    """A copied exercise keeps its old id: both the file-name rule and the clash are reported."""
    shutil.copy(course_dir / "exercises/pick-one.yaml", course_dir / "exercises/pick-two.yaml")
    assert as_tuples(errors_of(course_dir)) == [
        ("exercises/pick-two.yaml", 1, "id", "duplicate exercise id 'pick-one' (also in exercises/pick-one.yaml)"),
        ("exercises/pick-two.yaml", 1, "id", "id 'pick-one' must equal the file name without .yaml ('pick-two')"),
    ]


def test_sample_that_grades_differently_says_what_it_scored(course_dir):
    """A pass sample that fails names the sample, the score and the failed checks; off by default."""
    edit(course_dir, "exercises/pick-many.yaml", "    - [questions, concerns]\n", "    - [questions, salary]\n")
    load_course(course_dir, extra_dirs=())  # samples are not graded unless asked
    (error,) = errors_of(course_dir, check_samples=True)
    assert (error.path, error.line, error.key) == ("exercises/pick-many.yaml", 19, "samples.pass[0]")
    assert error.message.startswith("expected to pass but scored 0.00 (incorrect); failed checks: option:concerns (")
    assert "option:salary (" in error.message


def test_fail_sample_that_passes_is_reported(course_dir):
    """A fail sample that passes says so, with the checks it passed."""
    edit(course_dir, "exercises/put-in-order.yaml", "    - [thanks, concerns, questions]",
         "    - [questions, concerns, thanks]")
    (error,) = errors_of(course_dir, check_samples=True)
    assert (error.path, error.line, error.key) == ("exercises/put-in-order.yaml", 21, "samples.fail[0]")
    assert error.message.startswith("expected to fail but scored 1.00 (correct); passed checks: ")


def test_file_with_the_wrong_extension_is_reported(course_dir):
    """A lesson saved as .txt would silently vanish from the course, so it is an error."""
    (course_dir / "lessons/notes.txt").write_text("draft", encoding="utf-8")
    (course_dir / "lessons/_draft.md").write_text("not a lesson yet", encoding="utf-8")  # drafts are skipped
    assert as_tuples(errors_of(course_dir)) == [
        ("lessons/notes.txt", None, "", "not a .md file, so it would be ignored; rename it to notes.md "
                                        "(or start its name with _ to keep it as a draft)"),
    ]


def test_missing_manifest_is_one_clear_error(tmp_path):
    """A directory that is not a course says so instead of raising FileNotFoundError."""
    (error,) = errors_of(tmp_path)
    assert error.path == "course.yaml" and error.line is None
    assert error.message.startswith("not found: the course directory ")


def test_many_errors_are_all_reported_at_once():
    """The broken fixture holds one of nearly every mistake: all are reported together, located."""
    with pytest.raises(ContentErrors) as info:
        load_course(BROKEN, extra_dirs=(), check_samples=True)
    # libyaml and pure-Python PyYAML word this one YAML error differently.
    got = [str(e).replace("allowed in this context", "allowed here") for e in info.value]
    assert got == [
        "course.yaml:10: pass_treshold: unknown key (known keys: title, description, pass_threshold, completion, "
        "show_solution, sources, modules)",
        "exercises/bad-regex.yaml:10: spec.concepts.thanks.regex[0]: regular expression does not compile: "
        "missing ): (thank|appreciate",
        "exercises/bad-sample.yaml:18: samples.pass[0]: expected to pass but scored 0.00 (incorrect); "
        "failed checks: option:b (Pushing for an answer puts the interviewer on the spot.)",
        "exercises/bad-sample.yaml:19: samples.fail[0]: expected to fail but scored 1.00 (correct); "
        "passed checks: option:a",
        "exercises/bad-yaml.yaml:4: invalid YAML: mapping values are not allowed here",
        "exercises/dangling.yaml:3: lesson: unknown lesson 'no-such-lesson' (known: the-lesson, the-other-lesson)",
        "exercises/misnamed.yaml:1: id: id 'named-wrongly' must equal the file name without .yaml ('misnamed')",
        "exercises/unknown-type.yaml:2: type: unknown exercise type 'essay' (known types: categorize, cloze, "
        "matching, multiple_choice, ordering, single_choice, text)",
        "lessons/1-the-lesson.md:4: module: unknown module 'basic' (did you mean 'basics'?)",
        "lessons/1-the-lesson.md:9: sources[0]: source 'An Article Nobody Listed' is not a title listed under "
        "sources in course.yaml (known: The Only Article)",
        "lessons/1-the-lesson.md:14: link to unknown exercise 'no-such-exercise' (known: bad-regex, bad-sample, "
        "dangling, named-wrongly, unknown-type)",
        "lessons/2-the-other-lesson.md:2: minutes: missing required key",
        "lessons/2-the-other-lesson.md:5: order: expected a whole number, got text",
        "lessons/2-the-other-lesson.md:6: minuts: unknown key (known keys: id, title, module, order, objectives, "
        "sources, minutes, summary)",
        "lessons/notes.txt: not a .md file, so it would be ignored; rename it to notes.md (or start its name "
        "with _ to keep it as a draft)",
    ]
    assert str(info.value).endswith(f"\n{len(got)} errors in the course content")


# --------------------------------------------------------------------------------------------------- overlays


def test_overlay_appends_its_module_lessons_and_exercises():
    """An agency directory adds a module at the end; its lessons may cite its own sources and link the base."""
    course = load_course(GOOD, extra_dirs=[OVERLAY], check_samples=True)
    assert [m.id for m in course.modules] == ["basics", "practice", "agency-practice"]
    assert course.modules[-1].lessons == ("mock-interview",)
    assert course.lessons["mock-interview"].exercises == ("mock-close-order",)
    assert course.exercises["mock-close-order"].path == OVERLAY / "exercises" / "mock-close-order.yaml"
    assert [s.id for s in course.sources][-1] == "agency-handbook"
    assert course.root == GOOD


def test_overlay_from_env(monkeypatch):
    """COURSE_EXTRA_DIRS (os.pathsep-separated) adds overlays without code."""
    monkeypatch.setenv("COURSE_EXTRA_DIRS", f"{OVERLAY}{os.pathsep}")
    course = load_course(GOOD)
    assert "mock-interview" in course.lessons


def test_overlay_ids_must_stay_unique(tmp_path):
    """An overlay reusing a base module or exercise id is reported, naming the base file."""
    overlay = tmp_path / "agency"
    shutil.copytree(OVERLAY, overlay)
    shutil.copy(GOOD / "exercises/pick-one.yaml", overlay / "exercises/pick-one.yaml")
    with (overlay / "course.yaml").open("a", encoding="utf-8") as f:
        f.write("  - id: basics\n    title: Our own basics\n")
    assert as_tuples(errors_of(GOOD, extra_dirs=[overlay])) == [
        (str(overlay / "course.yaml"), 9, "modules[1].id", "duplicate module id 'basics' (also in course.yaml)"),
        (str(overlay / "exercises/pick-one.yaml"), 1, "id",
         "duplicate exercise id 'pick-one' (also in exercises/pick-one.yaml)"),
    ]


def test_overlay_without_manifest(tmp_path):
    """An overlay directory without course.yaml is an error, not an empty overlay."""
    errors = errors_of(GOOD, extra_dirs=[tmp_path])
    assert len(errors) == 1
    assert errors[0].message.startswith("not found: the extra course directory (COURSE_EXTRA_DIRS) ")


# --------------------------------------------------------------------------------------------------- helpers


def test_front_matter_split_reports_an_unclosed_block():
    """An unclosed front matter block is named, and a closed one gives the body's first line."""
    assert split_front_matter("---\nid: x\n") == "the front matter block is never closed: add a line '---' after " \
                                                  "its last key"
    assert split_front_matter("---\nid: x\n---\nBody\n") == ("id: x\n", "Body\n", 4)


def test_key_paths():
    """Key paths climb to their parent, and graders' issue keys are rooted at spec."""
    assert parent_key("spec.checks[2].regex") == "spec.checks[2]"
    assert parent_key("spec.checks[2]") == "spec.checks"
    assert parent_key("spec") == ""
    assert spec_key("checks[2].regex") == "spec.checks[2].regex"
    assert spec_key("spec.items") == "spec.items"
    assert spec_key("") == "spec"


def test_content_error_text():
    """Errors print as path:line: key: message, leaving out what is unknown."""
    assert str(ContentError("exercises/foo.yaml", 12, "spec.checks[2].regex", "bad")) == \
        "exercises/foo.yaml:12: spec.checks[2].regex: bad"
    assert str(ContentError("lessons/x.txt", None, "", "ignored")) == "lessons/x.txt: ignored"
    one = ContentErrors([ContentError("a", 1, "k", "m")])
    assert str(one) == "a:1: k: m\n1 error in the course content"
    assert len(one) == 1
