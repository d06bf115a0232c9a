"""The `course` command's content half: check, list, show and grade course content, knowing nothing of the site.

`cli` is the group `python -m course` runs; `course_group()` makes a fresh copy, to which web/cli.py adds the
site's commands for the installed `course` command.

Exit codes: 0 done (whatever an answer scored), 1 content errors (or a grader bug), 2 bad input
(unknown id, bad arguments, unreadable file, an answer that cannot be graded).
"""

from __future__ import annotations

import csv
import dataclasses
import difflib
import json
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any, TextIO

import click
import yaml

import graders
from course.errors import ContentErrors
from course.loader import load_course
from course.model import Course, Exercise, Lesson
from graders.ordering import describe_key

# -h as well as --help, as the command had before click; sub-commands inherit it.
CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"]}


class CommandFailed(click.ClickException):
    """A command cannot go on: click prints `<prefix>: <reason>` on stderr and exits with `code`."""

    prefix = "course"
    exit_code = 2  # bad input, unless the command says otherwise

    def __init__(self, message: str, code: int | None = None):
        """Keep the reason and, when given, the exit code."""
        super().__init__(message)
        if code is not None:
            self.exit_code = code

    def show(self, file: IO[Any] | None = None) -> None:
        """Print the reason to stderr, without click's usage text."""
        click.echo(f"{self.prefix}: {self.format_message()}", err=True)


@dataclasses.dataclass(frozen=True)
class Settings:
    """What the group's options hand to every command; the site's commands extend it."""

    root: str | None = None


class AnswerFile(click.File):
    """click.File (`-` is stdin) whose unreadable file ends the command with the one-line exit-2 reason."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        """Open the file, or fail as `course: cannot read answer file PATH: why`."""
        try:
            return super().convert(value, param, ctx)
        except click.BadParameter as exc:
            # click.File fails from inside `except OSError`; its strerror is the plain reason.
            cause = exc.__context__
            reason = cause.strerror if isinstance(cause, OSError) and cause.strerror else exc.message
            raise CommandFailed(f"cannot read answer file {value}: {reason}") from None


# --------------------------------------------------------------------------------------------------- helpers


def _load(settings: Settings) -> Course:
    """Load the course for a command other than `check`; content errors are printed and end with exit 1."""
    try:
        return load_course(settings.root)
    except ContentErrors as exc:
        click.echo(str(exc), err=True)
        raise CommandFailed("the course content has errors; run `course check` after fixing them", 1) from None


def _json_default(value: Any) -> Any:
    """Make the odd non-JSON value from a compiled spec or answer key printable."""
    if isinstance(value, set | frozenset):
        return sorted(value, key=str)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    return str(value)


def _dump_json(data: Any) -> None:
    """Print data as indented JSON (UTF-8 text kept readable)."""
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=_json_default))


def _plain(data: Any) -> Any:
    """Turn tuples, sets and dataclasses into lists and dicts so YAML prints them plainly."""
    return json.loads(json.dumps(data, default=_json_default))


def _dump_yaml(data: Any) -> str:
    """Format data as readable block YAML, keys in their given order."""
    return yaml.safe_dump(_plain(data), sort_keys=False, allow_unicode=True, width=100).rstrip("\n")


def _indent(text: str, prefix: str = "  ") -> str:
    """Indent every line of a block of text."""
    return "\n".join(prefix + line if line.strip() else line for line in text.rstrip("\n").splitlines())


def _marks() -> tuple[str, str]:
    """Return the pass/fail marks, falling back to ASCII when the terminal cannot show ✓ and ✗."""
    encoding = getattr(sys.stdout, "encoding", None) or "ascii"
    try:
        "\u2713\u2717".encode(encoding)
    except (UnicodeEncodeError, LookupError):
        return "+", "x"
    return "\u2713", "\u2717"


def _unknown(kind: str, ident: str, known: Sequence[str]) -> CommandFailed:
    """Build the exit-2 error for an id that does not exist, suggesting a near miss."""
    close = difflib.get_close_matches(ident, known, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else " (see `course list`)"
    return CommandFailed(f"unknown {kind} {ident!r}{hint}")


def _display_path(course: Course, path: Path) -> str:
    """Show a content file relative to the course root when it is inside it."""
    try:
        return path.relative_to(course.root).as_posix()
    except ValueError:
        return str(path)


# --------------------------------------------------------------------------------------------------- check / list


@click.command("check")
@click.pass_context
def check(ctx: click.Context) -> None:
    """Validate every file and grade every sample answer."""
    try:
        course = load_course(ctx.obj.root, check_samples=True)
    except ContentErrors as exc:
        for error in exc:
            click.echo(str(error))
        count = len(exc)
        click.echo(f"FAILED: {count} error{'' if count == 1 else 's'}")
        ctx.exit(1)
    click.echo(f"OK: {len(course.modules)} modules, {len(course.lessons)} lessons, {len(course.exercises)} exercises")


def course_outline(course: Course) -> dict[str, Any]:
    """Return modules -> lessons -> exercises as plain data (what `course list --json` prints)."""
    return {
        "title": course.title,
        "modules": [
            {
                "id": m.id,
                "title": m.title,
                "lessons": [
                    {
                        "id": lid,
                        "title": course.lessons[lid].title,
                        "order": course.lessons[lid].order,
                        "minutes": course.lessons[lid].minutes,
                        "exercises": [
                            {"id": eid, "type": course.exercises[eid].type, "title": course.exercises[eid].title}
                            for eid in course.lessons[lid].exercises
                        ],
                    }
                    for lid in m.lessons
                ],
            }
            for m in course.modules
        ],
    }


@click.command("list")
@click.option("--json", "as_json", is_flag=True, help="print JSON instead of a tree")
@click.pass_obj
def list_course(settings: Settings, as_json: bool) -> None:
    """List modules, lessons and exercises."""
    course = _load(settings)
    outline = course_outline(course)
    if as_json:
        _dump_json(outline)
        return
    click.echo(course.title)
    click.echo(f"{len(course.modules)} modules, {len(course.lessons)} lessons, {len(course.exercises)} exercises")
    for module in outline["modules"]:
        click.echo(f"\n{module['id']}: {module['title']}")
        for lesson in module["lessons"]:
            click.echo(f"  {lesson['order']}. {lesson['id']}: {lesson['title']} ({lesson['minutes']} min)")
            for ex in lesson["exercises"]:
                click.echo(f"       - {ex['id']} [{ex['type']}]: {ex['title']}")


# --------------------------------------------------------------------------------------------------- show


def lesson_data(course: Course, lesson: Lesson) -> dict[str, Any]:
    """Return a lesson's front matter, exercises and body as plain data."""
    return {
        "kind": "lesson",
        "id": lesson.id,
        "title": lesson.title,
        "module": lesson.module,
        "order": lesson.order,
        "minutes": lesson.minutes,
        "summary": lesson.summary,
        "objectives": list(lesson.objectives),
        "sources": list(lesson.sources),
        "exercises": list(lesson.exercises),
        "path": _display_path(course, lesson.path),
        "body": lesson.body,
    }


def exercise_data(course: Course, ex: Exercise) -> dict[str, Any]:
    """Return everything about an exercise an instructor may preview, answer key included."""
    return {
        "kind": "exercise",
        "id": ex.id,
        "type": ex.type,
        "grader_version": graders.version(ex.type),
        "lesson": ex.lesson,
        "title": ex.title,
        "order": ex.order,
        "pass_threshold": ex.pass_threshold,
        "path": _display_path(course, ex.path),
        "prompt": ex.prompt,
        "hints": list(ex.hints),
        "explanation": ex.explanation,
        "spec": ex.raw_spec,
        "answer_key": graders.answer_key(ex.type, ex.spec),
        "samples": {"pass": list(ex.samples.passing), "fail": list(ex.samples.failing)},
    }


def _print_lesson(data: dict[str, Any]) -> None:
    """Print a lesson as its file would read: front matter, then the Markdown body."""
    front = {k: data[k] for k in ("id", "title", "module", "order", "minutes", "summary", "objectives", "sources")}
    click.echo(f"# lesson {data['id']} ({data['path']})")
    click.echo("---")
    click.echo(_dump_yaml(front))
    click.echo("---")
    click.echo(f"# exercises: {', '.join(data['exercises']) or '(none)'}")
    click.echo(data["body"].rstrip("\n"))


def _print_exercise(data: dict[str, Any]) -> None:
    """Print the instructor's preview of an exercise."""
    click.echo(f"exercise {data['id']} [{data['type']}, grader {data['grader_version']}]: {data['title']}")
    click.echo(f"lesson: {data['lesson']}   order: {data['order']}   pass threshold: {data['pass_threshold']:.2f}")
    click.echo(f"file: {data['path']}")
    click.echo("\nPrompt:\n" + _indent(data["prompt"]))
    if data["hints"]:
        click.echo("\nHints:")
        for i, hint in enumerate(data["hints"], start=1):
            click.echo(f"  {i}. {hint}")
    click.echo("\nExplanation (shown after submitting):\n" + _indent(data["explanation"]))
    key = data["answer_key"]
    if data["type"] == "ordering":
        click.echo("\nSteps and their dependencies:")
        for line in describe_key(key):
            click.echo(f"  {line}")
    click.echo("\nAnswer key:\n" + _indent(_dump_yaml(key)))
    click.echo("\nSpec (as written):\n" + _indent(_dump_yaml(data["spec"])))
    samples = data["samples"]
    if samples["pass"] or samples["fail"]:
        click.echo("\nSamples:\n" + _indent(_dump_yaml(samples)))


@click.command("show", short_help="Show a lesson or an exercise (with its answer key).")
@click.argument("name", metavar="ID")
@click.option("--json", "as_json", is_flag=True, help="print JSON")
@click.pass_obj
def show(settings: Settings, name: str, as_json: bool) -> None:
    """Show one lesson or exercise (ID, or lesson:ID / exercise:ID when both share an id)."""
    course = _load(settings)
    kind, _, ident = name.rpartition(":")
    if kind not in ("", "lesson", "exercise"):
        raise CommandFailed(f"cannot show {name!r}: use ID, lesson:ID or exercise:ID")
    is_lesson = kind in ("", "lesson") and ident in course.lessons
    is_exercise = kind in ("", "exercise") and ident in course.exercises
    if is_lesson and is_exercise:
        raise CommandFailed(f"{ident!r} is both a lesson and an exercise: say lesson:{ident} or exercise:{ident}")
    if is_lesson:
        data = lesson_data(course, course.lessons[ident])
    elif is_exercise:
        data = exercise_data(course, course.exercises[ident])
    else:
        known = [*course.lessons, *course.exercises]
        raise _unknown(kind or "lesson or exercise", ident, known)
    if as_json:
        _dump_json(data)
    elif is_lesson:
        _print_lesson(data)
    else:
        _print_exercise(data)


# --------------------------------------------------------------------------------------------------- grade


def _read_answer(answer: str | None, answer_file: TextIO | None) -> str:
    """Return the answer text from --answer, or from --answer-file (`-` or none: stdin)."""
    if answer is not None:
        return answer
    stream = answer_file or click.open_file("-", encoding="utf-8")
    try:
        text = stream.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise CommandFailed(f"cannot read answer file {stream.name}: {_reason(exc)}") from None
    # A file or pipe ends with a newline the learner never typed.
    return text.rstrip("\r\n")


def _reason(exc: Exception) -> str:
    """Name why a file could not be read, without a traceback."""
    if isinstance(exc, UnicodeDecodeError):
        return "not UTF-8 text"
    if isinstance(exc, OSError):
        return exc.strerror or str(exc)
    return str(exc)


def _quote_spans(result: graders.Result, check: graders.Check) -> list[str]:
    """Quote the words of the answer that triggered a check."""
    words = [result.answer_text[start:end] for start, end in check.spans if 0 <= start < end]
    return [json.dumps(w, ensure_ascii=False) for w in words]


def format_result(ex: Exercise, result: graders.Result) -> str:
    """Render a result for a person: score, verdict, then each check with its message and quoted words."""
    ok, bad = _marks()
    verdict = "passed" if result.passed else "not passed"
    lines = [
        f"{ex.id} [{ex.type}]: {ex.title}",
        f"Score: {result.score:.2f} ({result.status}), {verdict} (pass mark {ex.pass_threshold:.2f})",
    ]
    if result.message:
        lines.append(result.message)
    for check in result.checks:
        extra = []
        if check.required:
            extra.append("required")
        if check.weight != 1:
            extra.append(f"weight {check.weight:g}")
        tag = f" ({', '.join(extra)})" if extra else ""
        lines.append(f"  {ok if check.passed else bad} {check.id}{tag}: {check.message}")
        quoted = _quote_spans(result, check)
        # Graders often quote the evidence in the message already; say it once.
        if quoted and not all(word in check.message for word in quoted):
            lines.append(f"      words: {', '.join(quoted)}")
        if check.lesson and not check.passed:
            lines.append(f"      revisit: lesson {check.lesson}")
    return "\n".join(lines)


def _grade(ex: Exercise, answer: Any, shown: tuple[str, ...] | None) -> graders.Result:
    """Grade one answer; a grader bug becomes exit 1 with its message, not a traceback."""
    ctx = graders.Context(shown_order=shown, pass_threshold=ex.pass_threshold)
    try:
        return graders.grade(ex.type, ex.spec, answer, ctx)
    except graders.GraderCrash as exc:
        raise CommandFailed(str(exc), 1) from None


def _batch_rows(path: Path) -> Iterator[tuple[int, Any, Any, str | None]]:
    """Yield (line number, id, answer, error) for each row of a .jsonl or .csv batch file."""
    try:
        # utf-8-sig: Excel's "CSV UTF-8" starts the file with a byte-order mark, which is not part of "id".
        handle = path.open(encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise CommandFailed(f"cannot read batch file {path}: {_reason(exc)}") from None
    with handle:
        try:
            if path.suffix == ".jsonl":
                yield from _jsonl_rows(handle)
            elif path.suffix == ".csv":
                yield from _csv_rows(handle, path)
            else:
                raise CommandFailed(f"batch file {path} must end in .jsonl or .csv")
        except UnicodeDecodeError:
            raise CommandFailed(f"cannot read batch file {path}: not UTF-8 text") from None


def _jsonl_rows(handle: TextIO) -> Iterator[tuple[int, Any, Any, str | None]]:
    """Yield rows of a JSON-lines file: one {"id": ..., "answer": ...} object per line."""
    for number, line in enumerate(handle, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            yield number, None, None, f"bad JSON: {exc.msg} (column {exc.colno})"
            continue
        if not isinstance(row, dict):
            yield number, None, None, "expected a JSON object with keys id and answer"
            continue
        missing = [k for k in ("id", "answer") if k not in row]
        yield number, row.get("id"), row.get("answer"), f"missing key {missing[0]!r}" if missing else None


def _csv_rows(handle: TextIO, path: Path) -> Iterator[tuple[int, Any, Any, str | None]]:
    """Yield rows of a CSV file with a header row naming the columns id and answer."""
    reader = csv.DictReader(handle)
    if reader.fieldnames is None or not {"id", "answer"} <= set(reader.fieldnames):
        found = f" (its first line is {','.join(reader.fieldnames)!r})" if reader.fieldnames else " (it is empty)"
        raise CommandFailed(f"batch file {path} needs a header row with the columns id,answer{found}")
    for row in reader:
        ident, answer = row.get("id") or None, row.get("answer")
        # DictReader fills short rows with None: a row without an answer column is bad, not empty.
        if answer is None:
            error = "missing answer column"
        elif ident is None:
            error = "missing id"
        else:
            error = None
        yield reader.line_num, ident, answer, error


def _grade_batch(ex: Exercise, path: Path, shown: tuple[str, ...] | None) -> None:
    """Grade every row of a batch file, one JSON line out per row; bad rows are reported and skipped."""
    total = bad = 0
    for number, ident, answer, error in _batch_rows(path):
        total += 1
        if error is None:
            result = _grade(ex, answer, shown)
            if result.status == "invalid":
                error = f"invalid answer: {result.message}"
            else:
                click.echo(json.dumps({"id": ident, **result.to_dict()}, ensure_ascii=False))
                continue
        bad += 1
        where = {"id": ident} if ident is not None else {"line": number}
        click.echo(json.dumps({**where, "error": error}, ensure_ascii=False))
    if bad:
        raise CommandFailed(f"{bad} of {total} rows in {path} could not be graded (see their error lines)")


@click.command("grade", short_help="Grade an answer, or a batch of submissions.",
               help="Grade one answer given as --answer, --answer-file or - (stdin), "
                    "or every row of a --batch file (.jsonl with id/answer, or .csv id,answer).")
@click.argument("exercise_id", metavar="EXERCISE_ID")
@click.argument("stdin", required=False, type=click.Choice(["-"]), metavar="[-]")
@click.option("--answer", metavar="TEXT", help="the answer (ordering: ids as a,b,c or a JSON list)")
@click.option("--answer-file", type=AnswerFile(encoding="utf-8"), metavar="PATH",
              help="read the answer from a file (- for stdin)")
@click.option("--batch", type=click.Path(path_type=Path), metavar="FILE",
              help="grade every row; prints one JSON result per line")
@click.option("--shown", metavar="A,B,C", help="the order the items were shown in (ordering)")
@click.option("--json", "as_json", is_flag=True, help="print the full result as JSON")
@click.pass_obj
def grade(settings: Settings, exercise_id: str, stdin: str | None, answer: str | None, answer_file: TextIO | None,
          batch: Path | None, shown: str | None, as_json: bool) -> None:
    """Grade one answer (readable report or --json), or a batch file of submissions."""
    given = [source for source, value in (("--answer", answer), ("--answer-file", answer_file), ("--batch", batch),
                                          ("-", stdin)) if value is not None]
    if len(given) != 1:
        # Exactly one source, as before: anything else is a usage error (exit 2).
        found = f" (got {' and '.join(given)})" if given else ""
        raise click.UsageError(f"give one of --answer, --answer-file, --batch or -{found}")
    course = _load(settings)
    ex = course.exercises.get(exercise_id)
    if ex is None:
        raise _unknown("exercise", exercise_id, list(course.exercises))
    shown_order = tuple(s.strip() for s in shown.split(",") if s.strip()) if shown else None
    if batch is not None:
        _grade_batch(ex, batch, shown_order)
        return
    result = _grade(ex, _read_answer(answer, answer_file), shown_order)
    if as_json:
        _dump_json(result.to_dict())
    elif result.status != "invalid":
        click.echo(format_result(ex, result))
    if result.status == "invalid":
        raise CommandFailed(f"the answer cannot be graded: {result.message}")


# --------------------------------------------------------------------------------------------------- the group

CONTENT_COMMANDS = (check, list_course, show, grade)


def course_group(settings: type[Settings] = Settings, cls: type[click.Group] = click.Group) -> click.Group:
    """Return a new `course` group holding the content commands; `settings` is the type its commands are handed,
    `cls` the group's class (the site's adds its own commands)."""

    @click.group("course", cls=cls, context_settings=CONTEXT_SETTINGS,
                 epilog="Exit codes: 0 done, 1 content errors, 2 bad input.")
    @click.option("--root", metavar="DIR",
                  help="course directory (default: $COURSE_DIR, else the shipped course); "
                       "agency overlays come from $COURSE_EXTRA_DIRS")
    @click.pass_context
    def group(ctx: click.Context, root: str | None) -> None:
        """Check, browse and grade the course content."""
        # A caller (a test) may hand in its own settings, such as the app to use; --root still applies.
        given = ctx.obj if isinstance(ctx.obj, settings) else settings()
        ctx.obj = dataclasses.replace(given, root=root)

    for command in CONTENT_COMMANDS:
        group.add_command(command)
    return group


cli = course_group()
