"""The `course` command: check, list, show and grade course content (site commands come from web.manage).

Exit codes: 0 done (whatever an answer scored), 1 content errors (or a grader bug), 2 bad input
(unknown id, bad arguments, unreadable file, an answer that cannot be graded).
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import difflib
import json
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, TextIO

import yaml

import graders
from course.errors import ContentErrors
from course.loader import load_course
from course.model import Course, Exercise, Lesson

OWN_COMMANDS = ("check", "list", "show", "grade")


class CommandFailed(Exception):
    """A command cannot go on; main() prints the one-line reason to stderr and exits with `code`."""

    def __init__(self, message: str, code: int = 2):
        """Keep the reason and the exit code."""
        super().__init__(message)
        self.code = code


# --------------------------------------------------------------------------------------------------- helpers


def _load(args: argparse.Namespace) -> Course:
    """Load the course for a command other than `check`; content errors are printed and end with exit 1."""
    try:
        return load_course(args.root)
    except ContentErrors as exc:
        print(exc, file=sys.stderr)
        raise CommandFailed("the course content has errors; run `course check` after fixing them", 1) from None


def _json_default(value: Any) -> Any:
    """Make the odd non-JSON value from a compiled spec or answer key printable."""
    if isinstance(value, set | frozenset):
        return sorted(value, key=str)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    return str(value)


def _dump_json(data: Any, out: TextIO | None = None) -> None:
    """Print data as indented JSON (UTF-8 text kept readable)."""
    print(json.dumps(data, indent=2, ensure_ascii=False, default=_json_default), file=out or sys.stdout)


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


def cmd_check(args: argparse.Namespace) -> int:
    """Validate every file and grade every sample answer; list all errors or say OK."""
    try:
        course = load_course(args.root, check_samples=True)
    except ContentErrors as exc:
        for error in exc:
            print(error)
        count = len(exc)
        print(f"FAILED: {count} error{'' if count == 1 else 's'}")
        return 1
    print(f"OK: {len(course.modules)} modules, {len(course.lessons)} lessons, {len(course.exercises)} exercises")
    return 0


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


def cmd_list(args: argparse.Namespace) -> int:
    """Print the course as a tree of modules, lessons and exercises (or JSON)."""
    course = _load(args)
    outline = course_outline(course)
    if args.json:
        _dump_json(outline)
        return 0
    print(course.title)
    print(f"{len(course.modules)} modules, {len(course.lessons)} lessons, {len(course.exercises)} exercises")
    for module in outline["modules"]:
        print(f"\n{module['id']}: {module['title']}")
        for lesson in module["lessons"]:
            print(f"  {lesson['order']}. {lesson['id']}: {lesson['title']} ({lesson['minutes']} min)")
            for ex in lesson["exercises"]:
                print(f"       - {ex['id']} [{ex['type']}]: {ex['title']}")
    return 0


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
    print(f"# lesson {data['id']} ({data['path']})")
    print("---")
    print(_dump_yaml(front))
    print("---")
    print(f"# exercises: {', '.join(data['exercises']) or '(none)'}")
    print(data["body"].rstrip("\n"))


def _ordering_steps(key: dict[str, Any]) -> list[str]:
    """Describe an ordering key: each step with its id and the steps it must come after."""
    lines = []
    for item in key.get("items", ()):
        after = ", ".join(item.get("after", ())) or "(can come first)"
        lines.append(f"{item['id']}: {item['text']}\n      after: {after}")
    for item in key.get("distractors", ()):
        lines.append(f"{item['id']}: {item['text']}\n      distractor: leave out")
    return lines


def _print_exercise(data: dict[str, Any]) -> None:
    """Print the instructor's preview of an exercise."""
    print(f"exercise {data['id']} [{data['type']}, grader {data['grader_version']}]: {data['title']}")
    print(f"lesson: {data['lesson']}   order: {data['order']}   pass threshold: {data['pass_threshold']:.2f}")
    print(f"file: {data['path']}")
    print("\nPrompt:\n" + _indent(data["prompt"]))
    if data["hints"]:
        print("\nHints:")
        for i, hint in enumerate(data["hints"], start=1):
            print(f"  {i}. {hint}")
    print("\nExplanation (shown after submitting):\n" + _indent(data["explanation"]))
    key = data["answer_key"]
    if data["type"] == "ordering":
        print("\nSteps and their dependencies:")
        for line in _ordering_steps(key):
            print(f"  {line}")
    print("\nAnswer key:\n" + _indent(_dump_yaml(key)))
    print("\nSpec (as written):\n" + _indent(_dump_yaml(data["spec"])))
    samples = data["samples"]
    if samples["pass"] or samples["fail"]:
        print("\nSamples:\n" + _indent(_dump_yaml(samples)))


def cmd_show(args: argparse.Namespace) -> int:
    """Show one lesson or exercise; `lesson:ID` / `exercise:ID` pick one when both share an id."""
    course = _load(args)
    kind, _, ident = args.id.rpartition(":")
    if kind not in ("", "lesson", "exercise"):
        raise CommandFailed(f"cannot show {args.id!r}: use ID, lesson:ID or exercise:ID")
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
    if args.json:
        _dump_json(data)
    elif is_lesson:
        _print_lesson(data)
    else:
        _print_exercise(data)
    return 0


# --------------------------------------------------------------------------------------------------- grade


def _read_answer(args: argparse.Namespace) -> str:
    """Return the answer text from --answer, --answer-file (or `-`) or stdin."""
    if args.answer is not None:
        return args.answer
    if args.answer_file not in (None, "-"):
        try:
            text = Path(args.answer_file).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise CommandFailed(f"cannot read answer file {args.answer_file}: {_reason(exc)}") from None
    else:
        text = sys.stdin.read()
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


def _grade_batch(ex: Exercise, path: Path, shown: tuple[str, ...] | None) -> int:
    """Grade every row of a batch file, one JSON line out per row; bad rows are reported and skipped."""
    total = bad = 0
    for number, ident, answer, error in _batch_rows(path):
        total += 1
        if error is None:
            result = _grade(ex, answer, shown)
            if result.status == "invalid":
                error = f"invalid answer: {result.message}"
            else:
                print(json.dumps({"id": ident, **result.to_dict()}, ensure_ascii=False))
                continue
        bad += 1
        where = {"id": ident} if ident is not None else {"line": number}
        print(json.dumps({**where, "error": error}, ensure_ascii=False))
    if bad:
        raise CommandFailed(f"{bad} of {total} rows in {path} could not be graded (see their error lines)")
    return 0


def cmd_grade(args: argparse.Namespace) -> int:
    """Grade one answer (readable report or --json), or a batch file of submissions."""
    course = _load(args)
    ex = course.exercises.get(args.exercise_id)
    if ex is None:
        raise _unknown("exercise", args.exercise_id, list(course.exercises))
    shown = tuple(s.strip() for s in args.shown.split(",") if s.strip()) if args.shown else None
    if args.batch:
        return _grade_batch(ex, Path(args.batch), shown)
    result = _grade(ex, _read_answer(args), shown)
    if args.json:
        _dump_json(result.to_dict())
    elif result.status != "invalid":
        print(format_result(ex, result))
    if result.status == "invalid":
        raise CommandFailed(f"the answer cannot be graded: {result.message}")
    return 0


# --------------------------------------------------------------------------------------------------- parser


def build_parser() -> tuple[argparse.ArgumentParser, Any]:
    """Build the argument parser; return it and its sub-parsers (so site commands can be added)."""
    parser = argparse.ArgumentParser(
        prog="course",
        description="Check, browse and grade the course content.",
        epilog="Exit codes: 0 done, 1 content errors, 2 bad input.",
    )
    parser.add_argument("--root", metavar="DIR",
                        help="course directory (default: $COURSE_DIR, else the shipped course); "
                             "agency overlays come from $COURSE_EXTRA_DIRS")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("check", help="validate every file and grade every sample answer")
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("list", help="list modules, lessons and exercises")
    p.add_argument("--json", action="store_true", help="print JSON instead of a tree")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("show", help="show a lesson or an exercise (with its answer key)")
    p.add_argument("id", metavar="ID", help="lesson or exercise id (lesson:ID / exercise:ID if both exist)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_show)

    p = sub.add_parser("grade", help="grade an answer, or a batch of submissions",
                       description="Grade one answer given as --answer, --answer-file or - (stdin), "
                                   "or every row of a --batch file (.jsonl with id/answer, or .csv id,answer).")
    p.add_argument("exercise_id", metavar="EXERCISE_ID")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--answer", metavar="TEXT", help="the answer (ordering: ids as a,b,c or a JSON list)")
    source.add_argument("--answer-file", metavar="PATH", help="read the answer from a file (- for stdin)")
    source.add_argument("--batch", metavar="FILE", help="grade every row; prints one JSON result per line")
    source.add_argument("stdin", nargs="?", choices=["-"], metavar="-", help="read the answer from stdin")
    p.add_argument("--shown", metavar="A,B,C", help="the order the items were shown in (ordering)")
    p.add_argument("--json", action="store_true", help="print the full result as JSON")
    p.set_defaults(func=cmd_grade)
    return parser, sub


def _subcommand(argv: Sequence[str]) -> str | None:
    """Return the sub-command word in argv (skipping the global --root option), if any."""
    args = iter(argv)
    for arg in args:
        if arg == "--root":
            next(args, None)
        elif not arg.startswith("-"):
            return arg
    return None


def _add_site_commands(sub: Any) -> None:
    """Add web.manage's commands (db, user, serve, ...); only imported when one of them may be wanted."""
    try:
        from web import manage  # Flask is loaded only for the site commands
    except ModuleNotFoundError as exc:
        if exc.name in ("web", "web.manage"):
            return  # a content-only install has no site
        print(f"course: site commands unavailable: {exc}", file=sys.stderr)
        return
    manage.add_commands(sub)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the `course` command line; return the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser, sub = build_parser()
    if _subcommand(argv) not in OWN_COMMANDS:
        _add_site_commands(sub)
    args = parser.parse_args(argv)
    try:
        code = args.func(args)
        sys.stdout.flush()  # inside the try, so a reader that went away is handled below
        return code
    except CommandFailed as exc:
        print(f"course: {exc}", file=sys.stderr)
        return exc.code
    except BrokenPipeError:
        # The reader went away (`course show ID | head`): stop quietly as cat does, and point stdout at
        # /dev/null so the interpreter's final flush does not raise the same error again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
