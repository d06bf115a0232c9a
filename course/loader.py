"""Load course.yaml, lessons/*.md and exercises/*.yaml into course.model objects, reporting every error at once.

Root selection (first that applies): the `root` argument, env COURSE_DIR, the repository root when it holds
course.yaml, else the copy bundled in the wheel at course/_content. Agency overlays: env COURSE_EXTRA_DIRS
(os.pathsep-separated directories, each with its own course.yaml holding `modules:` and optional `sources:`,
plus lessons/ and exercises/) are appended to the base course.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel

import graders
from course.errors import ContentError, ContentErrors
from course.files import DEFAULT_PASS_THRESHOLD, ExerciseFile, LessonFront, Manifest, Overlay
from course.model import Course, Exercise, Lesson, Module, Samples, SolutionRule, Source
from graders import schema
from graders.schema import child_key, listed, parent_key

M = TypeVar("M", bound=BaseModel)

MANIFEST = "course.yaml"
LESSON_DIR = "lessons"
EXERCISE_DIR = "exercises"

# `[text](exercise:ID)` inline links and `[ref]: lesson:ID` reference definitions.
LINK_RE = re.compile(r"(?:\]\(\s*<?|^\s{0,3}\[[^\]]+\]:\s*<?)(exercise|lesson):([^)\s>]*)")
_LESSON_PREFIX_RE = re.compile(r"^[0-9]+(?:-[0-9]+)*-")

# The PyYAML C loader is much faster and behaves the same; fall back when libyaml is missing.
_YamlLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


# --------------------------------------------------------------------------------------------------- YAML + lines


@dataclass
class YamlDoc:
    """Parsed YAML data plus the 1-based file line of every key path (`spec.checks[2].regex`)."""

    data: Any
    key_lines: dict[str, int] = field(default_factory=dict)
    value_lines: dict[str, int] = field(default_factory=dict)

    def line(self, key: str) -> int | None:
        """Return the line of a key path, or of its nearest ancestor that is in the file."""
        while True:
            if key in self.key_lines:
                return self.key_lines[key]
            if not key:
                return None
            key = parent_key(key)

    def text_line(self, key: str) -> int | None:
        """Return the line where a text value's first line of content is (after a `|` or `>`)."""
        return self.value_lines.get(key, self.line(key))


def linked_ids(text: str, kind: str) -> set[str]:
    """Return the ids a Markdown text links to with `(kind:ID)` links, e.g. the exercises a lesson names."""
    return {ident for k, ident in LINK_RE.findall(text) if k == kind}


def parse_yaml(text: str, report: FileReport, line_offset: int = 0) -> YamlDoc | None:
    """Parse YAML once into data and a key-path -> line map; on a syntax error report it and return None."""
    loader = _YamlLoader(text)
    try:
        node = loader.get_single_node()
        data = None if node is None else loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = None if mark is None else mark.line + 1 + line_offset
        detail = exc.problem or "syntax error"
        if exc.context:
            detail = f"{detail} ({exc.context})"
        report.error("", f"invalid YAML: {detail}", line=line)
        return None
    except yaml.YAMLError as exc:
        report.error("", f"invalid YAML: {exc}", line=None)
        return None
    finally:
        loader.dispose()
    doc = YamlDoc(data)
    if node is not None:
        doc.key_lines[""] = node.start_mark.line + 1 + line_offset
        _map_lines(node, "", doc, report, line_offset)
    return doc


def _map_lines(node: yaml.Node, prefix: str, doc: YamlDoc, report: FileReport, offset: int) -> None:
    """Record the line of every key and list item below `node`; report keys written twice."""
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                continue
            path = child_key(prefix, key_node.value)
            line = key_node.start_mark.line + 1 + offset
            # PyYAML silently keeps the last of two equal keys; an author almost never means that.
            if key_node.value in seen:
                report.error(path, f"key written twice (first on line {doc.key_lines[path]})", line=line)
            else:
                seen.add(key_node.value)
                doc.key_lines[path] = line
            _record_value(value_node, path, doc, report, offset)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            path = child_key(prefix, i)
            doc.key_lines[path] = item.start_mark.line + 1 + offset
            _record_value(item, path, doc, report, offset)


def _record_value(node: yaml.Node, path: str, doc: YamlDoc, report: FileReport, offset: int) -> None:
    """Note where a scalar's content starts (block scalars begin on the next line) and recurse into others."""
    if isinstance(node, yaml.ScalarNode):
        block = node.style in ("|", ">")
        doc.value_lines.setdefault(path, node.start_mark.line + 1 + offset + (1 if block else 0))
    else:
        _map_lines(node, path, doc, report, offset)


# --------------------------------------------------------------------------------------------------- reporting


@dataclass
class FileReport:
    """Collects the errors of one file, locating keys through its YAML line map."""

    display: str
    errors: list[ContentError]
    doc: YamlDoc | None = None

    def error(self, key: str, message: str, line: int | None | bool = True) -> None:
        """Record one error; `line=True` means: look the key's line up in the YAML map."""
        if line is True:
            line = self.doc.line(key) if self.doc is not None else None
        self.errors.append(ContentError(self.display, line or None, key, message))

    def validate(self, model: type[M], data: Any) -> tuple[M | None, bool]:
        """Validate data against a model, reporting every issue at its key's line; (the model or a salvage, ok)."""
        found, issues = schema.validate(model, data)
        for issue in issues:
            self.error(issue.key, issue.message)
        return found, not issues


# --------------------------------------------------------------------------------------------------- records


@dataclass
class _Dir:
    """One content directory: the base course or an agency overlay."""

    root: Path
    is_base: bool


@dataclass
class _LessonRec:
    """A lesson read from disk, before cross-file checks."""

    lesson: Lesson
    report: FileReport
    body_start: int  # file line number of the body's first line


@dataclass
class _ExerciseRec:
    """An exercise read from disk, before cross-file checks."""

    exercise: Exercise
    report: FileReport


@dataclass
class _State:
    """Everything read so far, plus the error list every file reports into."""

    base: Path
    errors: list[ContentError] = field(default_factory=list)
    title: str = ""
    description: str = ""
    completion: dict[str, Any] = field(default_factory=dict)
    pass_threshold: float = DEFAULT_PASS_THRESHOLD
    show_solution: SolutionRule = field(default_factory=SolutionRule)
    # id -> (object, the manifest that declares it, its key path there)
    sources: dict[str, tuple[Source, FileReport, str]] = field(default_factory=dict)
    modules: dict[str, tuple[Module, FileReport, str]] = field(default_factory=dict)
    lessons: dict[str, _LessonRec] = field(default_factory=dict)
    exercises: dict[str, _ExerciseRec] = field(default_factory=dict)
    # Ids assumed for files that could not be read far enough to know their own (already reported).
    unread_lessons: set[str] = field(default_factory=set)
    unread_exercises: set[str] = field(default_factory=set)

    def display(self, path: Path) -> str:
        """Name a file for error messages: relative to the course root, else to the working directory."""
        for base in (self.base, Path.cwd()):
            try:
                return path.resolve().relative_to(base.resolve()).as_posix()
            except ValueError:
                continue
        return str(path)

    def report(self, path: Path) -> FileReport:
        """Start an error report for one file."""
        return FileReport(self.display(path), self.errors)


# --------------------------------------------------------------------------------------------------- entry points


def course_root(root: str | os.PathLike[str] | None = None) -> Path:
    """Pick the course directory: argument, env COURSE_DIR, the repository checkout, else the bundled copy."""
    if root is not None:
        return Path(root)
    env = os.environ.get("COURSE_DIR")
    if env:
        return Path(env)
    package = Path(__file__).resolve().parent
    if (package.parent / MANIFEST).is_file():
        return package.parent
    return package / "_content"


def extra_dirs_from_env() -> list[Path]:
    """Return the agency overlay directories named in env COURSE_EXTRA_DIRS (os.pathsep-separated)."""
    raw = os.environ.get("COURSE_EXTRA_DIRS", "")
    return [Path(p) for p in raw.split(os.pathsep) if p.strip()]


def load_course(
    root: str | os.PathLike[str] | None = None,
    *,
    extra_dirs: Iterable[str | os.PathLike[str]] | None = None,
    check_samples: bool = False,
) -> Course:
    """Load and validate the whole course; raise ContentErrors listing every problem found.

    `extra_dirs` defaults to env COURSE_EXTRA_DIRS. `check_samples` grades every exercise's sample answers
    (what `course check` does); the site leaves it off for a fast start-up.
    """
    base = course_root(root)
    extras = extra_dirs_from_env() if extra_dirs is None else [Path(p) for p in extra_dirs]
    state = _State(base=base)
    dirs = [_Dir(base, True)] + [_Dir(p, False) for p in extras]
    for d in dirs:
        _read_manifest(state, d)
    # A file too broken to give its id is assumed to have its file name's, so links to it do not
    # show up as a second, misleading error.
    for d in dirs:
        for path in _content_files(state, d.root / LESSON_DIR, ".md"):
            if not _read_lesson(state, path):
                state.unread_lessons.add(_LESSON_PREFIX_RE.sub("", path.stem))
    for d in dirs:
        for path in _content_files(state, d.root / EXERCISE_DIR, ".yaml"):
            if not _read_exercise(state, path, check_samples):
                state.unread_exercises.add(path.stem)
    by_module, by_lesson = _check_references(state)
    if state.errors:
        raise ContentErrors(state.errors)
    return _build(state, by_module, by_lesson)


# --------------------------------------------------------------------------------------------------- files


def _read_text(state: _State, path: Path) -> str | None:
    """Read a UTF-8 file, reporting (not raising) an unreadable one."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        state.report(path).error("", f"not UTF-8 text (byte {exc.start}); save the file as UTF-8", line=None)
        return None
    except OSError as exc:
        state.report(path).error("", f"cannot read the file: {exc.strerror or exc}", line=None)
        return None
    # A byte-order mark from some editors would otherwise hide the front matter's opening `---`.
    return text.removeprefix("\ufeff")


def _content_files(state: _State, folder: Path, suffix: str) -> list[Path]:
    """List a folder's content files; files with another extension are reported, since they would be ignored."""
    if not folder.is_dir():
        return []
    out = []
    for path in sorted(folder.iterdir()):
        # Hidden and underscore files (editor backups, drafts) are deliberately not content.
        if path.name.startswith((".", "_")) or path.is_dir():
            continue
        if path.suffix == suffix:
            out.append(path)
        else:
            state.report(path).error("", f"not a {suffix} file, so it would be ignored; rename it to "
                                         f"{path.stem}{suffix} (or start its name with _ to keep it as a draft)",
                                     line=None)
    return out


def _read_manifest(state: _State, d: _Dir) -> None:
    """Read course.yaml (the base manifest, or an overlay's modules and sources)."""
    path = d.root / MANIFEST
    report = state.report(path)
    if not path.is_file():
        where = "course directory" if d.is_base else "extra course directory (COURSE_EXTRA_DIRS)"
        report.error("", f"not found: the {where} {d.root} must contain {MANIFEST}", line=None)
        return
    text = _read_text(state, path)
    report.doc = None if text is None else parse_yaml(text, report)
    if report.doc is None:
        return
    manifest, _ = report.validate(Manifest if d.is_base else Overlay, report.doc.data)
    if manifest is None:
        return
    if isinstance(manifest, Manifest):
        state.title = manifest.title or ""
        state.description = _or(manifest.description, "")
        state.pass_threshold = _or(manifest.pass_threshold, DEFAULT_PASS_THRESHOLD)
        state.completion = dict(manifest.completion or {})
        state.show_solution = _or(manifest.show_solution, SolutionRule())
        if manifest.modules == []:
            report.error("modules", "must list at least one module")
    for i, source in listed(manifest.sources):
        if source.id and source.title:
            _add_unique(state.sources, source.id, Source(source.id, source.title), report, f"sources[{i}].id",
                        "source")
    for i, module in listed(manifest.modules):
        if module.id and module.title:
            _add_unique(state.modules, module.id, Module(module.id, module.title, _or(module.summary, ""), ()),
                        report, f"modules[{i}].id", "module")


def _or(value: Any, default: Any) -> Any:
    """A salvaged field is None where its value was invalid (already reported): use the default there."""
    return default if value is None else value


def _texts(values: Sequence[str | None] | None) -> tuple[str, ...]:
    """A list of texts as a tuple, leaving out those a salvage could not read (already reported)."""
    return tuple(v for v in values or () if v is not None)


def _add_unique(table: dict[str, tuple[Any, FileReport, str]], ident: str, obj: Any, report: FileReport,
                key: str, what: str) -> None:
    """Add a manifest entry, reporting an id that is already taken (naming where)."""
    if ident in table:
        other = table[ident][1].display
        report.error(key, f"duplicate {what} id {ident!r} (also in {other})")
    else:
        table[ident] = (obj, report, key)


def split_front_matter(text: str) -> tuple[str, str, int] | str:
    """Split a lesson into (front matter YAML, body, body's first line number), or return what is wrong."""
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].rstrip() != "---":
        return "a lesson must start with a front matter block: a line '---', the keys, then another '---'"
    for i in range(1, len(lines)):
        if lines[i].rstrip() in ("---", "..."):
            return "".join(lines[1:i]), "".join(lines[i + 1:]), i + 2
    return "the front matter block is never closed: add a line '---' after its last key"


def lesson_stem_matches(stem: str, lesson_id: str) -> bool:
    """A lesson file is named after its id, optionally behind a numeric sorting prefix (`1-2-<id>.md`)."""
    return lesson_id in (stem, _LESSON_PREFIX_RE.sub("", stem))


def _read_lesson(state: _State, path: Path) -> bool:
    """Read one lesson: front matter keys, then the Markdown body; return whether it was registered."""
    report = state.report(path)
    text = _read_text(state, path)
    if text is None:
        return False
    parts = split_front_matter(text)
    if isinstance(parts, str):
        report.error("", parts, line=1)
        return False
    front_yaml, body, body_start = parts
    # The front matter YAML starts on line 2 of the file, after the opening `---`.
    report.doc = parse_yaml(front_yaml, report, line_offset=1)
    if report.doc is None:
        return False
    front, _ = report.validate(LessonFront, report.doc.data)
    if front is None:
        return False
    lid = front.id
    if not body.strip():
        report.error("", "the lesson has no text after its front matter", line=body_start)
    if lid and not lesson_stem_matches(path.stem, lid):
        report.error("id", f"id {lid!r} does not match the file name {path.name!r}: name the file "
                           f"{lid}.md, optionally with a numeric prefix such as 1-2-{lid}.md")
    # A lesson with other mistakes is still registered under its id, so links to it do not cascade into errors.
    if lid is None:
        return False
    lesson = Lesson(id=lid, title=front.title, module=front.module, order=front.order,
                    objectives=_texts(front.objectives), sources=_texts(front.sources), minutes=front.minutes,
                    summary=front.summary, body=body, path=path)
    if lid in state.lessons:
        report.error("id", f"duplicate lesson id {lid!r} (also in {state.lessons[lid].report.display})")
        return False
    state.lessons[lid] = _LessonRec(lesson, report, body_start)
    return True


def _read_exercise(state: _State, path: Path, check_samples: bool) -> bool:
    """Read one exercise and compile its spec (grading samples if asked); return whether it was registered."""
    report = state.report(path)
    text = _read_text(state, path)
    if text is None:
        return False
    report.doc = parse_yaml(text, report)
    if report.doc is None:
        return False
    ex, ok = report.validate(ExerciseFile, report.doc.data)
    if ex is None:
        return False
    eid, type_name, raw_spec = ex.id, ex.type, ex.spec
    answers = ex.samples
    samples = Samples(tuple(answers.passing or ()), tuple(answers.fail or ())) if answers else Samples()
    if eid and eid != path.stem:
        report.error("id", f"id {eid!r} must equal the file name without .yaml ({path.stem!r})")
    compiled_ok, compiled = False, None
    if type_name and raw_spec is not None:
        compiled_ok, compiled = _compile(report, type_name, raw_spec)
    # Registered even when broken, so lesson links to it and its own lesson key are still checked.
    if eid is None:
        return False
    exercise = Exercise(id=eid, type=type_name, lesson=ex.lesson, title=ex.title, prompt=ex.prompt, spec=compiled,
                        raw_spec=raw_spec, hints=_texts(ex.hints), explanation=ex.explanation,
                        pass_threshold=_or(ex.pass_threshold, state.pass_threshold),
                        samples=samples, path=path, order=_or(ex.order, 0),
                        show_solution=_or(ex.show_solution, state.show_solution))
    if eid in state.exercises:
        report.error("id", f"duplicate exercise id {eid!r} (also in {state.exercises[eid].report.display})")
        return False
    state.exercises[eid] = _ExerciseRec(exercise, report)
    if check_samples and compiled_ok and ok:
        check_exercise_samples(exercise, report)
    return True


def _compile(report: FileReport, type_name: str, raw_spec: Mapping[str, Any]) -> tuple[bool, Any]:
    """Compile the spec through the graders, turning their issues into located content errors; (ok, compiled)."""
    try:
        return True, graders.compile_spec(type_name, raw_spec)
    except graders.UnknownGraderType as exc:
        report.error("type", str(exc))
    except graders.SpecError as exc:
        for issue in exc.issues:
            key = spec_key(issue.key)
            report.error(key, issue.message)
    except Exception as exc:  # noqa: BLE001 - a grader bug, reported with its file instead of a traceback
        report.error("spec", f"the {type_name} grader failed on this spec ({exc!r}); this is a grader bug")
    return False, None


def spec_key(key: str) -> str:
    """Prefix a grader's issue key with `spec.` unless it already is rooted there."""
    if not key:
        return "spec"
    if key == "spec" or key.startswith(("spec.", "spec[")):
        return key
    return f"spec{key}" if key.startswith("[") else f"spec.{key}"


def check_exercise_samples(exercise: Exercise, report: FileReport) -> None:
    """Grade each declared sample answer, and run the spec's own rule examples; report what misbehaves."""
    for issue in graders.REGISTRY.get(exercise.type).example_issues(exercise.spec):
        report.error(spec_key(issue.key), issue.message)
    ctx = graders.Context(pass_threshold=exercise.pass_threshold)
    for expect, answers in (("pass", exercise.samples.passing), ("fail", exercise.samples.failing)):
        for i, answer in enumerate(answers):
            key = f"samples.{expect}[{i}]"
            try:
                result = graders.grade(exercise.type, exercise.spec, answer, ctx)
            except graders.GraderCrash as exc:
                report.error(key, f"the grader crashed on this answer: {exc}")
                continue
            if result.status == "invalid":
                report.error(key, f"the answer is invalid, so it can neither pass nor fail: {result.message}")
            elif result.passed != (expect == "pass"):
                report.error(key, sample_mismatch(expect, result))


def sample_mismatch(expect: str, result: graders.Result) -> str:
    """Explain a sample that graded differently from what its author declared."""
    verdict = "pass" if expect == "pass" else "fail"
    failed = [c for c in result.checks if not c.passed]
    text = f"expected to {verdict} but scored {result.score:.2f} ({result.status})"
    if expect == "pass" and failed:
        text += "; failed checks: " + "; ".join(f"{c.id} ({c.message})" for c in failed)
    elif expect == "fail":
        passed = [c.id for c in result.checks if c.passed]
        if passed:
            text += "; passed checks: " + ", ".join(passed)
    return text


# --------------------------------------------------------------------------------------------------- cross-file


def _suggest(value: str, choices: Iterable[str]) -> str:
    """Return ` (did you mean 'x'?)` for a near miss, else ` (known: ...)` listing what exists."""
    choices = list(choices)
    # A shortened id ("when-to-close" for "when-to-close-scenarios") is too far off for difflib's ratio.
    close = [c for c in choices if c.startswith(f"{value}-")]
    if len(close) != 1:
        close = difflib.get_close_matches(value, choices, n=1, cutoff=0.75)
    if close:
        return f" (did you mean {close[0]!r}?)"
    return f" (known: {', '.join(choices)})" if choices else " (there are none)"


def _check_references(state: _State) -> tuple[dict[str, list[Lesson]], dict[str, list[Exercise]]]:
    """Check references between files; return lessons grouped by module and exercises grouped by lesson."""
    source_titles = {s.title for s, _, _ in state.sources.values()}
    by_module: dict[str, list[Lesson]] = {m: [] for m in state.modules}
    for rec in state.lessons.values():
        lesson, report = rec.lesson, rec.report
        if lesson.module is None:
            pass  # already reported as missing or malformed
        elif lesson.module not in state.modules:
            report.error("module", f"unknown module {lesson.module!r}{_suggest(lesson.module, state.modules)}")
        else:
            by_module[lesson.module].append(lesson)
        for i, title in enumerate(lesson.sources):
            if title not in source_titles:
                report.error(f"sources[{i}]", f"source {title!r} is not a title listed under sources in "
                                              f"{MANIFEST}{_suggest(title, sorted(source_titles))}")
        _check_links(state, report, lesson.body, rec.body_start, "")
    for mid, lessons in by_module.items():
        seen: dict[int, Lesson] = {}
        for lesson in sorted((x for x in lessons if x.order is not None), key=lambda x: (x.order, x.id)):
            if lesson.order in seen:
                first = state.lessons[seen[lesson.order].id].report.display
                state.lessons[lesson.id].report.error(
                    "order", f"order {lesson.order} is also used by {first} in module {mid!r}")
            else:
                seen[lesson.order] = lesson
        # A lesson that could not be read, or names a wrong module, may belong here: emptiness is only
        # judged when every lesson's module is known.
        all_placed = not state.unread_lessons and all(r.lesson.module in state.modules
                                                      for r in state.lessons.values())
        if not lessons and all_placed:
            _, report, key = state.modules[mid]
            report.error(key, f"module {mid!r} has no lessons")
    by_lesson: dict[str, list[Exercise]] = {lid: [] for lid in state.lessons}
    for rec in state.exercises.values():
        ex, report = rec.exercise, rec.report
        if ex.lesson is None:
            pass  # already reported as missing or malformed
        elif ex.lesson in state.lessons:
            by_lesson[ex.lesson].append(ex)
        elif ex.lesson not in state.unread_lessons:
            report.error("lesson", f"unknown lesson {ex.lesson!r}{_suggest(ex.lesson, state.lessons)}")
        doc = report.doc
        for key, text in [("prompt", ex.prompt), ("explanation", ex.explanation)] + [
            (f"hints[{i}]", h) for i, h in enumerate(ex.hints)
        ]:
            if text is not None:
                _check_links(state, report, text, doc.text_line(key) if doc else None, key)
    return by_module, by_lesson


def _check_links(state: _State, report: FileReport, text: str, first_line: int | None, key: str) -> None:
    """Report every `(exercise:ID)` / `(lesson:ID)` link whose target does not exist, with its line."""
    for n, line in enumerate(text.splitlines()):
        for match in LINK_RE.finditer(line):
            kind, ident = match.group(1), match.group(2)
            table = state.exercises if kind == "exercise" else state.lessons
            unread = state.unread_exercises if kind == "exercise" else state.unread_lessons
            if ident not in table and ident not in unread:
                where = None if first_line is None else first_line + n
                report.error(key, f"link to unknown {kind} {ident!r}{_suggest(ident, table)}", line=where)


def _build(state: _State, by_module: dict[str, list[Lesson]], by_lesson: dict[str, list[Exercise]]) -> Course:
    """Build the frozen Course: modules in manifest order, lessons by order, exercises by (order, id)."""
    modules = []
    lessons: dict[str, Lesson] = {}
    exercises: dict[str, Exercise] = {}
    for mid, (module, _, _) in state.modules.items():
        ordered = sorted(by_module[mid], key=lambda x: (x.order, x.id))
        modules.append(dataclasses.replace(module, lessons=tuple(lesson.id for lesson in ordered)))
        for lesson in ordered:
            attached = sorted(by_lesson[lesson.id], key=lambda e: (e.order, e.id))
            linked = linked_ids(lesson.body, "exercise")
            lessons[lesson.id] = dataclasses.replace(
                lesson,
                exercises=tuple(e.id for e in attached),
                unlinked_exercises=tuple(e.id for e in attached if e.id not in linked),
            )
            exercises.update((e.id, e) for e in attached)
    return Course(
        title=state.title,
        description=state.description,
        root=state.base,
        sources=tuple(s for s, _, _ in state.sources.values()),
        modules=tuple(modules),
        lessons=lessons,
        exercises=exercises,
        completion=state.completion,
        default_pass_threshold=state.pass_threshold,
        show_solution=state.show_solution,
    )
