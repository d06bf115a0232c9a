"""Grader benchmark: microseconds per answer for each exercise type, and the time to regrade 100,000 answers.

Run from the repository root with the project's virtualenv:

    .venv/bin/python bench/graders.py            # print the figures
    .venv/bin/python bench/graders.py --write    # also update the "## Graders" section of docs/performance.md

Answers are realistic: every shipped exercise's own samples plus seeded variants of them (shuffled orders,
other option picks, recombined text samples), graded through `graders.grade` exactly as the site does,
parse included. Timing is per call with time.perf_counter_ns after a warm-up; the regrade figure is one
wall-clock run over 100,000 stored answers in the mix the shipped course produces.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
# This file is itself called graders.py: make sure `import graders` finds the package, not this script.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(REPO))

import graders  # noqa: E402 - needs the path fix above

# Median targets in microseconds (the budget); other types have none, and are simply reported.
TARGETS_US = {"text": 5000.0, "ordering": 50.0}
REGRADE_COUNT = 100_000
DOC = REPO / "docs" / "performance.md"
SECTION = "## Graders"


@dataclass
class Case:
    """One exercise ready to grade, with a pool of realistic answers."""

    id: str
    type: str
    compiled: Any
    ctx: graders.Context
    answers: list[Any]


def variants(data: dict[str, Any], rng: random.Random, count: int) -> list[Any]:
    """Seeded, well-shaped answers beyond the samples, so timing does not hinge on a handful of inputs."""
    spec, kind = data["spec"], data["type"]
    out: list[Any] = []
    for _ in range(count):
        if kind == "single_choice":
            out.append(rng.choice(spec["options"])["id"])
        elif kind == "multiple_choice":
            ids = [o["id"] for o in spec["options"]]
            out.append(rng.sample(ids, rng.randint(1, len(ids))))
        elif kind == "ordering":
            ids = [i["id"] for i in spec["items"]]
            rng.shuffle(ids)
            if spec.get("distractors") and rng.random() < 0.2:
                ids.insert(rng.randrange(len(ids) + 1), rng.choice(spec["distractors"])["id"])
            out.append(ids)
        elif kind == "matching":
            right = [r["id"] for r in spec["right"]]
            out.append({item["id"]: rng.choice(right) for item in spec["left"]})
        elif kind == "categorize":
            groups = [g["id"] for g in spec["groups"]]
            out.append({item["id"]: rng.choice(groups) for item in spec["items"]})
        elif kind == "cloze":
            words = [a for b in spec["blanks"] for a in b["accept"]] + ["no idea", "Buisness card", "48"]
            out.append({b["id"]: rng.choice(words) for b in spec["blanks"]})
        else:
            # Free text: recombine sentences of the author's own samples into new, plausible answers.
            texts = [s for s in data["samples"]["pass"] + data["samples"]["fail"] if isinstance(s, str)]
            sentences = [s.strip() + "." for t in texts for s in t.split(".") if s.strip()]
            out.append(" ".join(rng.sample(sentences, min(len(sentences), rng.randint(2, 5)))))
    return out


def load_cases(rng: random.Random) -> list[Case]:
    """Compile every shipped exercise and build its answer pool."""
    cases = []
    for path in sorted((REPO / "exercises").glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        compiled = graders.compile_spec(data["type"], data["spec"])
        samples = list(data["samples"]["pass"]) + list(data["samples"]["fail"])
        ctx = graders.Context(pass_threshold=data.get("pass_threshold", 0.8))
        cases.append(Case(path.stem, data["type"], compiled, ctx, samples + variants(data, rng, 40)))
    return cases


def time_calls(calls: list[Callable[[], Any]], iterations: int, warmup: int) -> list[int]:
    """Run calls round-robin, timing each one alone in nanoseconds, after a warm-up."""
    for k in range(warmup):
        calls[k % len(calls)]()
    clock = time.perf_counter_ns
    out = []
    for k in range(iterations):
        call = calls[k % len(calls)]
        start = clock()
        call()
        out.append(clock() - start)
    return out


def percentile(values: list[int], q: float) -> float:
    """The q-th percentile (0..100) of sorted-able values, nearest-rank."""
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered)) - 1))
    return float(ordered[rank])


def bench_types(cases: list[Case], iterations: int) -> dict[str, dict[str, float]]:
    """Median and p99 microseconds per answer, for each type present in the course."""
    results: dict[str, dict[str, float]] = {}
    for kind in sorted({c.type for c in cases}):
        calls: list[Callable[[], Any]] = []
        for case in (c for c in cases if c.type == kind):
            for answer in case.answers:
                calls.append(lambda c=case, a=answer: graders.grade(c.type, c.compiled, a, c.ctx))
        ns = time_calls(calls, iterations, warmup=min(2000, iterations // 5))
        results[kind] = {
            "exercises": float(sum(1 for c in cases if c.type == kind)),
            "answers": float(len(calls)),
            "median_us": statistics.median(ns) / 1000,
            "mean_us": statistics.fmean(ns) / 1000,
            "p99_us": percentile(ns, 99) / 1000,
        }
    return results


def bench_regrade(cases: list[Case], count: int, rng: random.Random) -> tuple[float, dict[str, int]]:
    """Seconds to regrade `count` stored answers: each exercise equally likely, as a full course produces."""
    stored = []
    mix: dict[str, int] = {}
    for _ in range(count):
        case = rng.choice(cases)
        stored.append((case.type, case.compiled, rng.choice(case.answers), case.ctx))
        mix[case.type] = mix.get(case.type, 0) + 1
    grade = graders.grade
    start = time.perf_counter()
    for kind, compiled, answer, ctx in stored:
        grade(kind, compiled, answer, ctx)
    return time.perf_counter() - start, mix


def machine() -> str:
    """One line describing where the figures were taken, including how busy the machine was."""
    # Other processes competing for the cores inflate p99 most of all, so the figures say how busy it was.
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return (f"{os.cpu_count()} CPUs (nproc), {platform.machine()}, {platform.system()} {platform.release()}, "
            f"Python {platform.python_version()} ({platform.python_implementation()}); "
            f"load average at the end of the run {load} (1, 5, 15 min)")


def render(results: dict[str, dict[str, float]], regrade_s: float, mix: dict[str, int], iterations: int) -> str:
    """The Markdown section written to docs/performance.md (also printed)."""
    lines = [
        SECTION,
        "",
        "Time to grade one answer through `graders.grade` (parse and grade, as the site calls it), using every",
        "shipped exercise's samples plus seeded variants. Per-call timing with `time.perf_counter_ns` after a",
        f"warm-up; {iterations:,} timed calls per type.",
        "",
        "| Type | Exercises | Answers in pool | Median (µs) | Mean (µs) | p99 (µs) | Median target (µs) |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for kind, r in results.items():
        target = TARGETS_US.get(kind)
        verdict = "-" if target is None else f"< {target:.0f} ({'met' if r['median_us'] < target else 'MISSED'})"
        lines.append(f"| {kind} | {r['exercises']:.0f} | {r['answers']:.0f} | {r['median_us']:.1f} | "
                     f"{r['mean_us']:.1f} | {r['p99_us']:.1f} | {verdict} |")
    mix_text = ", ".join(f"{kind} {n:,}" for kind, n in sorted(mix.items()))
    total = sum(mix.values())
    lines += [
        "",
        f"Regrading {total:,} stored answers (mix: {mix_text}) took **{regrade_s:.2f} s** "
        f"({total / regrade_s:,.0f} answers/s) on one core. The mean, not the median, predicts this figure.",
        "",
        f"Machine: {machine()}.",
        "",
        "Command (from the repository root): `.venv/bin/python bench/graders.py --write`",
        "",
    ]
    return "\n".join(lines)


def write_section(text: str, path: Path = DOC, section: str = SECTION) -> None:
    """Replace (or append) one section (default "## Graders") of the performance doc, leaving the others intact."""
    if path.exists():
        lines = path.read_text(encoding="utf-8").splitlines()
    else:
        lines = ["# Performance", "", "Measured figures, each with the command that produced it.", ""]
    start = next((i for i, line in enumerate(lines) if line.strip() == section), None)
    if start is None:
        while lines and not lines[-1].strip():
            lines.pop()
        new = [*lines, "", *text.rstrip("\n").splitlines()]
    else:
        end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
        tail = lines[end:]
        new = [*lines[:start], *text.rstrip("\n").splitlines(), *([""] + tail if tail else [])]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(new) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print the figures, and optionally write them to docs/performance.md."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=20_000, help="timed calls per type (default 20,000)")
    parser.add_argument("--regrade", type=int, default=REGRADE_COUNT, help="stored answers to regrade")
    parser.add_argument("--seed", type=int, default=2024, help="seed for the answer variants and the mix")
    parser.add_argument("--write", action="store_true", help="update the Graders section of docs/performance.md")
    args = parser.parse_args(argv)

    rng = random.Random(args.seed)
    cases = load_cases(rng)
    results = bench_types(cases, args.iterations)
    regrade_s, mix = bench_regrade(cases, args.regrade, rng)
    text = render(results, regrade_s, mix, args.iterations)
    print(text)
    if args.write:
        write_section(text)
        print(f"updated {DOC.relative_to(REPO)}")
    missed = [k for k, t in TARGETS_US.items() if k in results and results[k]["median_us"] >= t]
    if missed:
        print(f"median target missed for: {', '.join(missed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
