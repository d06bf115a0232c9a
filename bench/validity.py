"""Grading validity: how often the text grader agrees with a careers adviser's labels, and why it disagrees.

Run from the repository root with the project's virtualenv:

    .venv/bin/python bench/validity.py                    # figures for every text exercise, dev and test
    .venv/bin/python bench/validity.py --failures         # also list the dev split's disagreements, to tune on
    .venv/bin/python bench/validity.py --write            # update the figures in docs/grading-validity.md

The corpus is tests/data/answers/<exercise>.jsonl; tests/data/answers/writers.yaml gives each writer's split.
The test split's figures are reported, but its failures are never printed: reading them while tuning would
turn the test split into a second dev split. When test is spent, write a new one (docs/grading-validity.md).

Figures, per exercise and split:
- agreement: the share of answers where pass/fail matches the label;
- false passes, by the answer's category (a bad answer the grader passed);
- false fails, by the check that failed a good answer;
- right-reason rate: the share of bad answers that failed by the check their label names.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from course.cases import ZERO_TOLERANCE, Tally, disagreements, grade_all, read_cases, split_of  # noqa: E402
from course.loader import load_course  # noqa: E402

CORPUS = REPO / "tests" / "data" / "answers"
DOC = REPO / "docs" / "grading-validity.md"
BEGIN, END = "<!-- validity:begin -->", "<!-- validity:end -->"
SPLITS = ("dev", "test")


def load_writers() -> dict[str, dict[str, str]]:
    """Each writer's persona and split, from writers.yaml."""
    return yaml.safe_load((CORPUS / "writers.yaml").read_text(encoding="utf-8"))["writers"]


def evaluate(exercise_ids: list[str] | None = None,
             writer_ids: set[str] | None = None) -> dict[str, dict[str, Tally]]:
    """Grade the whole corpus (or only some writers' answers): exercise id -> split -> Tally."""
    course = load_course(REPO)
    writers = load_writers()
    out: dict[str, dict[str, Tally]] = {}
    for path in sorted(CORPUS.glob("*.jsonl")):
        ex_id = path.stem
        if exercise_ids and ex_id not in exercise_ids:
            continue
        exercise = course.exercises[ex_id]
        cases = [c for c in read_cases(path, exercise) if not writer_ids or c.writer in writer_ids]
        out[ex_id] = {s: grade_all(exercise, [c for c in cases if split_of(writers, c) == s]) for s in SPLITS}
    return out


def _counts(counter: Counter[str]) -> str:
    """'presumption 2, tone 1', or a dash."""
    return ", ".join(f"{k} {v}" for k, v in counter.most_common()) or "-"


def table(results: dict[str, dict[str, Tally]], split: str) -> str:
    """A Markdown table of one split's figures."""
    rows = ["| exercise | answers | agreement | false passes | false fails (by failing check) | right reason |",
            "|---|---|---|---|---|---|"]
    total = Tally()
    for ex_id, splits in results.items():
        t = splits[split]
        total.outcomes.extend(t.outcomes)
        fp = t.false_passes()
        rows.append(f"| {ex_id} | {t.n} | {t.agreement:.1%} | {sum(fp.values())}: {_counts(fp)} | "
                    f"{t.n_false_fails()}: {_counts(t.false_fails())} | {t.right_reason_rate():.1%} |")
    fp = total.false_passes()
    rows.append(f"| **all** | {total.n} | {total.agreement:.1%} | {sum(fp.values())}: {_counts(fp)} | "
                f"{total.n_false_fails()}: {_counts(total.false_fails())} | {total.right_reason_rate():.1%} |")
    zero = {k: v for k, v in fp.items() if k in ZERO_TOLERANCE}
    rows.append("")
    rows.append(f"False passes in the zero-tolerance categories ({', '.join(ZERO_TOLERANCE)}): "
                f"{sum(zero.values())}{' (' + _counts(Counter(zero)) + ')' if zero else ''}.")
    return "\n".join(rows)


def categories(results: dict[str, dict[str, Tally]], split: str) -> str:
    """Agreement per category over every exercise of one split."""
    agg: dict[str, list[int]] = {}
    for splits in results.values():
        for cat, (n, ok) in splits[split].by_category().items():
            row = agg.setdefault(cat, [0, 0])
            row[0] += n
            row[1] += ok
    rows = ["| category | answers | agreement |", "|---|---|---|"]
    rows += [f"| {cat} | {n} | {ok / n:.1%} |" for cat, (n, ok) in sorted(agg.items())]
    return "\n".join(rows)


def review(results: dict[str, dict[str, Tally]], split: str) -> str:
    """How often the rules flag a grade for a person to look at, among their passes and their fails, right or wrong."""
    rows = ["| exercise | false passes flagged | right passes flagged | false fails flagged | right fails flagged |",
            "|---|---|---|---|---|"]
    total = Tally()

    def share(pair: tuple[int, int]) -> str:
        """'12 of 40 (30%)'."""
        k, n = pair
        return f"{k} of {n} ({k / n:.0%})" if n else "-"

    def row(name: str, t: Tally) -> str:
        """One exercise's (or the total's) four shares."""
        return (f"| {name} | {share(t.flagged(True, False))} | {share(t.flagged(True, True))} | "
                f"{share(t.flagged(False, False))} | {share(t.flagged(False, True))} |")

    for ex_id, splits in results.items():
        total.outcomes.extend(splits[split].outcomes)
        rows.append(row(ex_id, splits[split]))
    rows.append(row("**all**", total))
    return "\n".join(rows)


def print_failures(results: dict[str, dict[str, Tally]]) -> None:
    """Every disagreement on the dev split, with the label and what the grader failed."""
    for ex_id, splits in results.items():
        for o in disagreements(splits["dev"]):
            c = o.case
            verdict = "PASSED" if o.passed else f"failed {', '.join(o.failed)}"
            label = "pass" if c.expected_pass else f"fail by {c.deciding_check} ({c.category})"
            print(f"\n[{ex_id}] {c.id}: label {label}; grader {verdict}")
            print("   " + c.answer.replace("\n", "\n   "))


def write_doc(text: str) -> None:
    """Replace the figures between the markers in docs/grading-validity.md."""
    doc = DOC.read_text(encoding="utf-8")
    head, rest = doc.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    DOC.write_text(f"{head}{BEGIN}\n{text}\n{END}{tail}", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    """Print (and optionally write) the validity figures."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--exercise", action="append", help="only this exercise (repeatable)")
    p.add_argument("--split", choices=SPLITS, action="append", help="only this split's figures (repeatable)")
    p.add_argument("--failures", action="store_true", help="list the dev split's disagreements")
    p.add_argument("--writers", help="only these writers' answers, comma-separated (a new round, graded once)")
    p.add_argument("--write", action="store_true", help=f"update {DOC.relative_to(REPO)}")
    args = p.parse_args(argv)
    writer_ids = set(args.writers.split(",")) if args.writers else None
    if writer_ids and (unknown := writer_ids - set(load_writers())):
        p.error(f"no such writer in writers.yaml: {', '.join(sorted(unknown))}")
    results = evaluate(args.exercise, writer_ids)
    parts = []
    for split in args.split or SPLITS:
        parts.append(f"### {split} split\n\n{table(results, split)}\n\n{categories(results, split)}\n\n"
                     f"Grades the rules flag for review (`review: suggested`):\n\n{review(results, split)}")
    text = "\n\n".join(parts)
    print(text)
    if args.failures:
        print_failures(results)
    if args.write:
        if args.split or args.exercise or writer_ids:
            p.error("--write needs the figures of every exercise, split and writer")
        write_doc(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
