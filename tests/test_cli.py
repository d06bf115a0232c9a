"""The `course` command, run in-process through click's CliRunner (fast), plus real `python -m course` processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import graders
from course.cli import cli as content_cli
from course.cli import course_group, format_result
from course.loader import load_course
from web import cli as site_cli
from web import site_commands

FIXTURES = Path(__file__).parent / "fixtures"
GOOD = str(FIXTURES / "good")
BROKEN = str(FIXTURES / "broken")


@pytest.fixture(autouse=True)
def no_course_env(monkeypatch):
    """Keep a developer's COURSE_DIR / COURSE_EXTRA_DIRS from leaking into these tests."""
    monkeypatch.delenv("COURSE_DIR", raising=False)
    monkeypatch.delenv("COURSE_EXTRA_DIRS", raising=False)


def run(runner, *args: str) -> tuple[int, str, str]:
    """Run `course --root GOOD ARGS...` and return (exit code, stdout, stderr)."""
    result = runner.invoke(args=["--root", GOOD, *args])
    return result.exit_code, result.stdout, result.stderr


def output_of(runner, *args: str) -> str:
    """Run a command that must succeed (exit code 0) and return its stdout."""
    code, out, _ = run(runner, *args)
    assert code == 0
    return out


# --------------------------------------------------------------------------------------------------- check


def test_check_ok(runner):
    """A clean course prints one OK line with the counts and exits 0."""
    assert run(runner, "check") == (0, "OK: 2 modules, 3 lessons, 4 exercises\n", "")


def test_check_lists_every_error_and_a_count(runner):
    """A broken course prints each error on its own line, then the count, and exits 1."""
    result = runner.invoke(args=["--root", BROKEN, "check"])
    out = result.stdout.splitlines()
    assert result.exit_code == 1
    assert out[-1] == "FAILED: 15 errors"
    assert len(out) == 16
    assert "course.yaml:10: pass_treshold: unknown key (known keys: title, description, pass_threshold, " \
           "completion, show_solution, sources, modules)" in out
    assert any(line.startswith("exercises/bad-regex.yaml:10: spec.concepts.thanks.regex[0]: ") for line in out)


def test_authoring_guide_quotes_the_real_check_output(runner):
    """docs/authoring.md shows `course check` on the broken fixture; it must match what the command prints."""
    guide = (Path(__file__).resolve().parents[1] / "docs" / "authoring.md").read_text(encoding="utf-8")
    marker = "$ course --root tests/fixtures/broken check\n"
    quoted = guide[guide.index(marker) + len(marker):].split("```", 1)[0]
    result = runner.invoke(args=["--root", BROKEN, "check"])
    assert result.exit_code == 1
    # The guide quotes libyaml's wording of the one YAML error.
    assert result.stdout.replace("allowed here", "allowed in this context") == quoted


def test_other_commands_refuse_a_broken_course(runner):
    """Content errors stop any other command with exit 1, the errors on stderr."""
    result = runner.invoke(args=["--root", BROKEN, "list"])
    code, out, err = result.exit_code, result.stdout, result.stderr
    assert code == 1 and out == ""
    assert "lessons/1-the-lesson.md:4: module: unknown module 'basic'" in err
    assert err.rstrip().endswith("course: the course content has errors; run `course check` after fixing them")


def test_check_uses_course_dir_from_env(runner, monkeypatch):
    """Without --root, COURSE_DIR picks the course."""
    monkeypatch.setenv("COURSE_DIR", GOOD)
    result = runner.invoke(args=["check"])
    assert result.exit_code == 0
    assert result.stdout.startswith("OK: 2 modules")


# --------------------------------------------------------------------------------------------------- list / show


def test_list_tree(runner):
    """The readable list is a tree of modules, lessons (with minutes) and exercises (with types)."""
    out = output_of(runner, "list")
    assert out.splitlines()[:4] == ["Fixture course", "2 modules, 3 lessons, 4 exercises", "", "basics: Basics"]
    assert "  1. first-lesson: What a close is (3 min)\n       - pick-one [single_choice]: What is a close?\n" in out
    assert "       - put-in-order [ordering]: Put the close in order\n       - write-it [text]: Say thank you" in out


def test_list_json(runner):
    """--json prints the same data as plain JSON."""
    code, out, _ = run(runner, "list", "--json")
    data = json.loads(out)
    assert code == 0
    assert data["title"] == "Fixture course"
    assert [m["id"] for m in data["modules"]] == ["basics", "practice"]
    practice = data["modules"][1]["lessons"][0]
    assert practice["id"] == "practice-lesson" and practice["minutes"] == 5
    assert practice["exercises"] == [
        {"id": "put-in-order", "type": "ordering", "title": "Put the close in order"},
        {"id": "write-it", "type": "text", "title": "Say thank you"},
    ]


@pytest.mark.parametrize(("target", "start", "parts"), [
    # A lesson shows as front matter plus body.
    ("second-lesson", "# lesson second-lesson (lessons/second-lesson.md)\n---\nid: second-lesson\n",
     ["objectives:\n- List the moves of a close\n", "# exercises: pick-many\n", "## The moves"]),
    # The instructor preview of an ordering exercise lists each step's id and what it must follow.
    ("put-in-order", "exercise put-in-order [ordering, grader ordering/",
     ["  concerns: Invite concerns\n      after: questions\n",
      "  questions: Ask your final questions\n      after: (can come first)\n",
      "  salary: Ask about the salary\n      distractor: leave out\n",
      "Answer key:\n  order:\n  - questions\n  - concerns\n  - thanks\n", "Spec (as written):\n  items:\n",
      "Samples:\n"]),
])
def test_show_prints_what_an_author_checks(runner, target, start, parts):
    """`course show` opens with what the item is and includes each part an author reviews."""
    out = output_of(runner, "show", target)
    assert out.startswith(start)
    for part in parts:
        assert part in out, part


def test_show_lesson_json(runner):
    """--json gives the lesson's fields and body."""
    data = json.loads(run(runner, "show", "lesson:first-lesson", "--json")[1])
    assert data["kind"] == "lesson" and data["module"] == "basics" and data["exercises"] == ["pick-one"]
    assert data["path"] == "lessons/1-1-first-lesson.md"
    assert "(exercise:pick-one)" in data["body"]


def test_show_exercise_json_includes_spec_and_answer_key(runner):
    """--json includes the raw spec, the answer key, the samples and the prompt."""
    data = json.loads(run(runner, "show", "exercise:pick-one", "--json")[1])
    assert data["kind"] == "exercise" and data["type"] == "single_choice"
    assert data["answer_key"]["correct"] == ["a"]
    assert data["spec"]["options"][1]["id"] == "b"
    assert data["samples"] == {"pass": ["a"], "fail": ["b"]}
    assert data["pass_threshold"] == 0.75
    assert data["hints"] == ["Think about timing, not tactics."]


@pytest.mark.parametrize("ident, message", [
    ("pick-on", "course: unknown lesson or exercise 'pick-on' (did you mean 'pick-one'?)\n"),
    ("zzz", "course: unknown lesson or exercise 'zzz' (see `course list`)\n"),
    ("lesson:pick-one", "course: unknown lesson 'pick-one' (did you mean 'pick-one'?)\n"),
    ("module:basics", "course: cannot show 'module:basics': use ID, lesson:ID or exercise:ID\n"),
])
def test_show_unknown_id_exits_2(runner, ident, message):
    """Unknown ids exit 2 with a one-line reason on stderr."""
    assert run(runner, "show", ident) == (2, "", message)


# --------------------------------------------------------------------------------------------------- grade


def test_grade_readable_report(runner):
    """The readable report gives score, status, verdict and each check with a mark."""
    code, out, err = run(runner, "grade", "put-in-order", "--answer", "concerns,questions,thanks")
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0] == "put-in-order [ordering]: Put the close in order"
    assert lines[1] == "Score: 0.33 (partial), not passed (pass mark 0.75)"
    assert any(line.startswith("  \u2717 order:concerns: ") for line in lines)
    assert any(line.startswith("  \u2713 distractors") for line in lines)


def test_grade_text_quotes_the_triggering_words(runner):
    """Checks say which words of the answer triggered them."""
    out = output_of(runner, "grade", "write-it", "--answer", "Thanks so much for today. I enjoyed it a lot.")
    assert "Score: 1.00 (correct), passed (pass mark 0.75)" in out
    thanks = next(line for line in out.splitlines() if "\u2713 thanks" in line)
    assert '"Thanks"' in thanks


def test_report_quotes_spans_the_message_does_not_mention():
    """When a check's message does not quote its evidence, the report quotes the words from the spans."""
    exercise = load_course(GOOD, extra_dirs=()).exercises["write-it"]
    result = graders.Result(
        score=0.5, passed=False, status="partial", grader_version="text/1", answer_text="Cheers, bye now.",
        checks=(graders.Check(id="tone", passed=False, weight=2, message="Too casual.", spans=((0, 6), (8, 11)),
                              required=True, lesson="second-lesson"),),
    )
    assert format_result(exercise, result).splitlines()[2:] == [
        "  \u2717 tone (required, weight 2): Too casual.",
        '      words: "Cheers", "bye"',
        "      revisit: lesson second-lesson",
    ]


def test_grade_json_is_the_full_result(runner):
    """--json prints Result.to_dict()."""
    code, out, _ = run(runner, "grade", "pick-many", "--answer", '["questions", "concerns"]', "--json")
    data = json.loads(out)
    assert code == 0
    assert set(data) == {"score", "passed", "status", "checks", "grader_version", "message", "answer_text",
                         "review", "review_reasons"}
    assert data["score"] == 1.0 and data["passed"] is True and data["status"] == "correct"


@pytest.mark.parametrize("answer", ["questions,concerns,thanks", "questions\nconcerns\nthanks\n",
                                    '["questions", "concerns", "thanks"]'])
def test_grade_ordering_answer_forms(runner, tmp_path, answer):
    """Ordering answers may be comma- or newline-separated ids or a JSON list, here read from a file."""
    path = tmp_path / "answer.txt"
    path.write_text(answer, encoding="utf-8")
    code, out, _ = run(runner, "grade", "put-in-order", "--answer-file", str(path), "--json")
    assert code == 0 and json.loads(out)["score"] == 1.0


def test_grade_reads_stdin(runner):
    """`-` reads the answer from stdin, and so does `--answer-file -`."""
    for source in (["-"], ["--answer-file", "-"]):
        result = runner.invoke(args=["--root", GOOD, "grade", "pick-one", *source, "--json"], input="a\n")
        assert result.exit_code == 0 and json.loads(result.stdout)["passed"] is True


def test_grade_shown_order_is_passed_to_the_grader(runner):
    """--shown passes the order the learner saw; handing it back unchanged earns nothing."""
    shown = "questions,concerns,thanks"
    code, out, _ = run(runner, "grade", "put-in-order", "--answer", shown, "--shown", shown, "--json")
    data = json.loads(out)
    assert code == 0
    assert data["score"] == 0.0
    assert any(c["id"] == "unchanged" and not c["passed"] for c in data["checks"])


def test_grade_invalid_answer_exits_2(runner):
    """An answer the grader cannot read is bad input: exit 2 with the reason."""
    code, out, err = run(runner, "grade", "pick-one", "--answer", "z")
    assert (code, out) == (2, "")
    assert err == "course: the answer cannot be graded: Unknown option 'z'; choose one of: a, b.\n"


@pytest.mark.parametrize("args, message", [
    (["grade", "nope", "--answer", "a"], "course: unknown exercise 'nope' (see `course list`)\n"),
    (["grade", "pick-one", "--answer-file", "/nonexistent/answer.txt"],
     "course: cannot read answer file /nonexistent/answer.txt: No such file or directory\n"),
    (["grade", "pick-one", "--batch", "/nonexistent/rows.jsonl"],
     "course: cannot read batch file /nonexistent/rows.jsonl: No such file or directory\n"),
])
def test_grade_bad_input_exits_2(runner, args, message):
    """Unknown ids and unreadable files exit 2 with a one-line reason."""
    assert run(runner, *args) == (2, "", message)


def test_usage_errors_exit_2(runner):
    """Missing or conflicting arguments are usage errors (exit 2), each with the usage line."""
    for args in (["grade", "pick-one"], ["grade", "pick-one", "--answer", "a", "--batch", "x.csv"], ["frobnicate"]):
        result = runner.invoke(args=["--root", GOOD, *args])
        assert result.exit_code == 2
        assert "Usage: course" in result.stderr


def test_batch_jsonl_grades_good_rows_and_reports_bad_ones(runner, tmp_path):
    """Each row gives one JSON line carrying its id; bad rows say why, and the rest are still graded."""
    rows = tmp_path / "rows.jsonl"
    rows.write_text("\n".join([
        json.dumps({"id": "s1", "answer": ["questions", "concerns", "thanks"]}),
        json.dumps({"id": "s2", "answer": "thanks,concerns,questions"}),
        "{not json",
        json.dumps({"id": "s4"}),
        json.dumps({"id": "s5", "answer": "questions,nonsense"}),
        "",
        json.dumps(["not", "an", "object"]),
    ]) + "\n", encoding="utf-8")
    code, out, err = run(runner, "grade", "put-in-order", "--batch", str(rows))
    results = [json.loads(line) for line in out.splitlines()]
    assert code == 2
    assert err == f"course: 4 of 6 rows in {rows} could not be graded (see their error lines)\n"
    assert [r.get("id") for r in results] == ["s1", "s2", None, "s4", "s5", None]
    assert results[0]["score"] == 1.0 and results[0]["passed"] is True
    assert results[1]["passed"] is False and "checks" in results[1]
    assert results[2]["line"] == 3 and results[2]["error"].startswith("bad JSON: ")
    assert results[3] == {"id": "s4", "error": "missing key 'answer'"}
    assert results[4]["error"].startswith("invalid answer: Step 2 is 'nonsense'")
    assert results[5] == {"line": 7, "error": "expected a JSON object with keys id and answer"}


def test_batch_csv(runner, tmp_path):
    """CSV batches have an id,answer header; quoted answers may hold commas and newlines."""
    rows = tmp_path / "rows.csv"
    rows.write_text('id,answer\nr1,"questions,concerns,thanks"\nr2,"thanks\nconcerns\nquestions"\n,a\n',
                    encoding="utf-8")
    code, out, err = run(runner, "grade", "put-in-order", "--batch", str(rows))
    results = [json.loads(line) for line in out.splitlines()]
    assert code == 2 and "1 of 3 rows" in err
    assert results[0]["id"] == "r1" and results[0]["score"] == 1.0
    assert results[1]["id"] == "r2" and results[1]["passed"] is False
    assert results[2] == {"line": 6, "error": "missing id"}


def test_batch_csv_saved_by_excel(runner, tmp_path):
    """Excel's "CSV UTF-8" begins with a byte-order mark; the id column is still found."""
    rows = tmp_path / "rows.csv"
    rows.write_bytes("id,answer\nr1,a\n".encode("utf-8-sig"))
    code, out, err = run(runner, "grade", "pick-one", "--batch", str(rows))
    assert (code, err) == (0, "")
    assert json.loads(out)["id"] == "r1"


def test_batch_all_good_exits_0(runner, tmp_path):
    """A batch with only good rows exits 0, whatever they scored."""
    rows = tmp_path / "rows.csv"
    rows.write_text("id,answer\n1,a\n2,b\n", encoding="utf-8")
    code, out, err = run(runner, "grade", "pick-one", "--batch", str(rows))
    assert (code, err) == (0, "")
    assert [json.loads(line)["passed"] for line in out.splitlines()] == [True, False]


@pytest.mark.parametrize("name, content, message", [
    ("rows.txt", "id,answer\n", "must end in .jsonl or .csv"),
    ("rows.csv", "student,reply\n1,a\n", "needs a header row with the columns id,answer"),
    ("rows.csv", "id;answer\n1;a\n", "the columns id,answer (its first line is 'id;answer')"),
])
def test_batch_bad_file_exits_2(runner, tmp_path, name, content, message):
    """A batch file of the wrong kind or without the right header is refused as a whole."""
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    code, out, err = run(runner, "grade", "pick-one", "--batch", str(path))
    assert (code, out) == (2, "")
    assert message in err and err.count("\n") == 1


# --------------------------------------------------------------------------------------------------- wiring


def test_the_content_group_knows_nothing_of_the_site():
    """course/cli.py's group holds the content commands only; the installed `course` (web/cli.py) adds the site's."""
    assert set(content_cli.commands) == {"check", "list", "show", "grade"}


def test_site_commands_are_in_the_course_command(runner):
    """`course db ...` reaches the site's commands, beside the content ones, with --root before either."""
    result = runner.invoke(args=["db", "--help"])
    assert result.exit_code == 0
    assert "Usage: course db" in result.stdout
    assert runner.invoke(args=["--root=" + GOOD, "check"]).stdout.startswith("OK: 2 modules")


def fixture_course_env() -> dict[str, str]:
    """The environment of a `course` subprocess: the fixture course, this checkout importable, no overlays."""
    env = {**os.environ, "COURSE_DIR": GOOD, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    env.pop("COURSE_EXTRA_DIRS", None)
    return env


def run_python(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run this Python with `args` as a real process; return what it printed."""
    return subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=60)


def test_python_m_course_check_in_a_subprocess(tmp_path):
    """`python -m course check` works as a real process, from any directory, with COURSE_DIR."""
    env = fixture_course_env()
    proc = run_python(["-m", "course", "check"], tmp_path, env)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "OK: 2 modules, 3 lessons, 4 exercises\n", "")


def test_python_m_course_runs_the_content_commands_without_flask(tmp_path):
    """`python -m course` is the content half only: a content command loads no Flask, and a site command is unknown."""
    env = fixture_course_env()
    # Run the module as `python -m course` does, then look at what it imported.
    script = ("import runpy, sys\n"
              "sys.argv = ['course', 'list', '--json']\n"
              "try:\n    runpy.run_module('course', run_name='__main__', alter_sys=True)\n"
              "except SystemExit as exc:\n    code = exc.code\n"
              "print(code, sorted(m for m in sys.modules if m.split('.')[0] in ('flask', 'web')), file=sys.stderr)\n")
    proc = run_python(["-c", script], tmp_path, env)
    assert json.loads(proc.stdout)["title"] == "Fixture course"
    assert proc.stderr == "0 []\n"
    proc = run_python(["-m", "course", "db", "upgrade"], tmp_path, env)
    assert proc.returncode == 2 and "No such command 'db'" in proc.stderr


def test_the_installed_command_loads_the_site_only_for_a_site_command(tmp_path):
    """`course check` through the composed command imports neither the database layer nor a blueprint; `course db`
    (listed with the others in --help) loads them when it runs."""
    env = fixture_course_env()
    script = ("import sys\n"
              "from web.cli import cli\n"
              "try:\n    cli.main(sys.argv[1:], prog_name='course')\n"
              "except SystemExit as exc:\n    code = exc.code\n"
              "heavy = ('sqlalchemy', 'web.models', 'web.site_commands', 'web.learn')\n"
              "print(code, [m for m in heavy if m in sys.modules], file=sys.stderr)\n")
    check = run_python(["-c", script, "check"], tmp_path, env)
    assert check.stdout.startswith("OK: ") and check.stderr == "0 []\n"
    listed = run_python(["-c", script, "--help"], tmp_path, env)
    assert "db " in listed.stdout and "lti " in listed.stdout and "check " in listed.stdout
    assert "'web.site_commands'" in listed.stderr


def test_a_closed_pipe_ends_quietly(tmp_path):
    """`course grade ID --batch big.jsonl | head -1`: a reader that stops early ends the command without a traceback."""
    rows = tmp_path / "big.jsonl"
    rows.write_text("".join(json.dumps({"id": n, "answer": "final-questions,invite-concerns"}) + "\n"
                            for n in range(2000)), encoding="utf-8")  # far more than a pipe holds
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    env.pop("COURSE_DIR", None)
    env.pop("COURSE_EXTRA_DIRS", None)
    proc = subprocess.Popen([sys.executable, "-m", "course", "grade", "order-close-steps", "--batch", str(rows)],
                            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    assert json.loads(proc.stdout.readline())["id"] == 0
    proc.stdout.close()  # what `head -1` does after its line
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 1
    assert "Traceback" not in err and "BrokenPipeError" not in err


def test_the_site_command_names_listed_without_loading_them_are_the_commands_there_are():
    """web/cli.py names the site's commands so listing them loads nothing; the names must be the real ones."""
    assert set(site_cli.SITE_COMMANDS) == set(site_commands.COMMANDS)
    assert not set(site_cli.SITE_COMMANDS) & set(course_group().commands)
