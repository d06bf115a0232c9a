"""Property tests (Hypothesis) for the graders.

Ordering is checked against brute force: for small random DAGs we enumerate every topological order and
compute the insert/delete edit distance to each, so the fast matching-based `min_edits` must agree exactly.
Every grader type is also fuzzed with arbitrary JSON-like answers: the result is always well formed.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from graders import Context, Result, compile_spec, grade, present
from graders.cloze import within_one_edit
from graders.ordering import is_valid_order, min_edits

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = {p.stem: yaml.safe_load(p.read_text(encoding="utf-8")) for p in sorted((ROOT / "exercises").glob("*.yaml"))}
PROPS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# --- helpers ---------------------------------------------------------------------------------------------


def lcs(a: list[str], b: list[str]) -> int:
    """Length of the longest common subsequence (textbook DP)."""
    row = [0] * (len(b) + 1)
    for x in a:
        prev = 0
        for j, y in enumerate(b, start=1):
            prev, row[j] = row[j], (prev + 1 if x == y else max(row[j], row[j - 1]))
    return row[-1]


def topological_orders(ids: list[str], deps: dict[str, list[str]]) -> list[list[str]]:
    """Every topological order, by brute force over permutations."""
    out = []
    for perm in itertools.permutations(ids):
        seen: set[str] = set()
        ok = True
        for i in perm:
            if any(d not in seen for d in deps[i]):
                ok = False
                break
            seen.add(i)
        if ok:
            out.append(list(perm))
    return out


def brute_edits(answer: list[str], orders: list[list[str]]) -> int:
    """Least insert/delete edits from the answer to any valid order: |A| + |T| - 2 LCS(A, T), minimised."""
    return min(len(answer) + len(t) - 2 * lcs(answer, t) for t in orders)


@st.composite
def dags(draw, max_items: int = 6, min_edges: int = 1):
    """A random ordering spec: steps in shuffled authored order, edges from lower to higher rank, at least one."""
    n = draw(st.integers(min_value=2, max_value=max_items))
    ranks = draw(st.permutations(list(range(n))))
    pairs = [(i, j) for i in range(n) for j in range(i + 1, n)]
    chosen = draw(st.lists(st.sampled_from(pairs), unique=True, min_size=min(min_edges, len(pairs))))
    deps: dict[str, list[str]] = {f"s{r}": [] for r in ranks}
    for i, j in chosen:
        deps[f"s{j}"].append(f"s{i}")
    n_distractors = draw(st.integers(min_value=0, max_value=2))
    spec = {
        "items": [{"id": ident, "text": f"Step {ident}", "after": sorted(after)} for ident, after in deps.items()],
        "distractors": [{"id": f"x{k}", "text": f"Distractor {k}"} for k in range(n_distractors)],
    }
    return spec, deps


@st.composite
def dag_and_answer(draw, max_items: int = 6):
    """A random DAG and a random answer: any subset of its steps and distractors, in any order."""
    spec, deps = draw(dags(max_items))
    pool = list(deps) + [d["id"] for d in spec["distractors"]]
    answer = draw(st.lists(st.sampled_from(pool), unique=True, min_size=1, max_size=len(pool)))
    return spec, deps, answer


# --- ordering --------------------------------------------------------------------------------------------


@PROPS
@given(dag_and_answer())
def test_ordering_score_in_range_and_status_consistent(case):
    """Any answer scores within [0, 1], with a status that matches its score."""
    spec, _, answer = case
    result = grade("ordering", compile_spec("ordering", spec), answer)
    assert 0.0 <= result.score <= 1.0
    expected = "correct" if result.score == 1.0 else "incorrect" if result.score == 0.0 else "partial"
    assert result.status == expected
    assert result.passed == (result.score >= 0.8 and all(c.passed or not c.required for c in result.checks))


@PROPS
@given(dags())
def test_every_topological_order_scores_one(case):
    """Every order the DAG allows is fully correct."""
    spec, deps = case
    compiled = compile_spec("ordering", spec)
    for order in topological_orders(list(deps), deps):
        result = grade("ordering", compiled, order)
        assert result.score == 1.0 and result.passed, order


@PROPS
@given(dag_and_answer())
def test_lcs_score_equals_brute_force(case):
    """The matching-based edit count equals brute force over every topological order."""
    spec, deps, answer = case
    compiled = compile_spec("ordering", spec)
    orders = topological_orders(list(deps), deps)
    steps = [i for i in answer if i in deps]
    n_distractors = len(answer) - len(steps)
    position = dict(compiled.index)
    assert min_edits(compiled.before, [position[i] for i in steps]) == brute_edits(steps, orders)
    expected = max(0.0, 1.0 - (brute_edits(steps, orders) + n_distractors) / len(deps))
    assert grade("ordering", compiled, answer).score == pytest.approx(expected, abs=1e-6)


@PROPS
@given(dag_and_answer(), st.data())
def test_breaking_a_dependency_never_raises_the_score(case, data):
    """Swapping two adjacent steps so that a dependency is broken never increases the score.

    "Misplaced" is defined by dependencies: after the swap, a step stands before one of its (transitive)
    predecessors. Every subsequence valid after the swap was valid before it, so the edit distance can
    only grow.
    """
    spec, _, answer = case
    compiled = compile_spec("ordering", spec)
    position = dict(compiled.index)
    # Adjacent pairs (u, v) in the answer where u must precede v: swapping them breaks a dependency.
    breakable = [k for k in range(len(answer) - 1)
                 if answer[k] in position and answer[k + 1] in position
                 and compiled.before[position[answer[k + 1]]] >> position[answer[k]] & 1]
    if not breakable:
        return
    k = data.draw(st.sampled_from(breakable))
    swapped = [*answer[:k], answer[k + 1], answer[k], *answer[k + 2:]]
    assert grade("ordering", compiled, swapped).score <= grade("ordering", compiled, answer).score


@PROPS
@given(dags(), st.integers(min_value=0, max_value=2**32))
def test_present_is_deterministic_and_never_valid(case, seed):
    """The starting order depends only on the seed and is never already a valid order."""
    spec, deps = case
    compiled = compile_spec("ordering", spec)
    view = present("ordering", compiled, seed)
    assert view == present("ordering", compiled, seed)
    assert sorted(view["shown_order"]) == sorted(list(deps) + [d["id"] for d in spec["distractors"]])
    assert not is_valid_order(compiled, [i for i in view["shown_order"] if i in deps])


# --- cloze and multiple choice ----------------------------------------------------------------------------


def osa_distance(a: str, b: str) -> int:
    """Optimal-string-alignment distance (Damerau-Levenshtein without repeated edits), textbook DP."""
    d = [[max(i, j) if not i * j else 0 for j in range(len(b) + 1)] for i in range(len(a) + 1)]
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
    return d[-1][-1]


@PROPS
@given(st.text(alphabet="abc", max_size=7), st.text(alphabet="abc", max_size=7))
def test_within_one_edit_matches_full_distance(a, b):
    """The bounded check agrees with the full DP on a small alphabet, where near-misses are common."""
    assert within_one_edit(a, b) == (osa_distance(a, b) <= 1)


MULTI = compile_spec("multiple_choice", SHIPPED["spot-whats-wrong"]["spec"])
MULTI_OPTIONS = list(SHIPPED["spot-whats-wrong"]["spec"]["options"])


@PROPS
@given(st.lists(st.sampled_from([o["id"] for o in MULTI_OPTIONS]), unique=True, min_size=1), st.data())
def test_multiple_choice_extra_ticks(picked, data):
    """Adding a wrong tick never raises the score; adding a right tick never lowers it."""
    base = grade("multiple_choice", MULTI, picked).score
    unpicked = [o for o in MULTI_OPTIONS if o["id"] not in picked]
    if not unpicked:
        return
    extra = data.draw(st.sampled_from(unpicked))
    after = grade("multiple_choice", MULTI, [*picked, extra["id"]]).score
    assert after >= base if extra["correct"] else after <= base


# --- every type ------------------------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=6) | st.dictionaries(st.text(max_size=20), inner, max_size=6),
    max_leaves=20,
)


def answer_strategy(data: dict) -> st.SearchStrategy:
    """Well-shaped random answers for one shipped exercise, built from its own ids."""
    spec, kind = data["spec"], data["type"]
    if kind == "single_choice":
        return st.sampled_from([o["id"] for o in spec["options"]])
    if kind == "multiple_choice":
        return st.lists(st.sampled_from([o["id"] for o in spec["options"]]), unique=True, min_size=1)
    if kind == "ordering":
        pool = [i["id"] for i in spec["items"]] + [d["id"] for d in spec.get("distractors", [])]
        return st.lists(st.sampled_from(pool), unique=True, min_size=1)
    if kind == "matching":
        right = st.sampled_from([r["id"] for r in spec["right"]])
        return st.fixed_dictionaries({item["id"]: right for item in spec["left"]})
    if kind == "categorize":
        groups = st.sampled_from([g["id"] for g in spec["groups"]])
        return st.fixed_dictionaries({item["id"]: groups for item in spec["items"]})
    if kind == "cloze":
        accepted = [a for b in spec["blanks"] for a in b["accept"]]
        word = st.sampled_from(accepted) | st.text(min_size=1, max_size=30)
        return st.fixed_dictionaries({b["id"]: word for b in spec["blanks"]})
    # Free text: realistic fragments of the exercise's own samples, recombined.
    pieces = [s for s in data["samples"]["pass"] + data["samples"]["fail"] if isinstance(s, str)]
    return st.lists(st.sampled_from(pieces), min_size=1, max_size=3).map(" ".join)


def assert_well_formed(result: Result) -> None:
    """A result's fields agree with each other and survive a to_dict/from_dict round trip."""
    assert 0.0 <= result.score <= 1.0
    if result.status == "invalid":
        assert result.score == 0.0 and not result.passed and result.message
    else:
        expected = "correct" if result.score >= 1.0 else "incorrect" if result.score <= 0.0 else "partial"
        assert result.status == expected
        assert result.checks
    assert Result.from_dict(result.to_dict()) == result


@pytest.mark.parametrize("exercise_id", sorted(SHIPPED))
def test_every_type_deterministic_and_well_formed(exercise_id):
    """Same input, same result, for realistic answers to every shipped exercise."""
    data = SHIPPED[exercise_id]
    compiled = compile_spec(data["type"], data["spec"])
    ctx = Context(pass_threshold=data.get("pass_threshold", 0.8))

    @PROPS
    @given(answer_strategy(data))
    def check(answer):
        """Grade twice and compare."""
        first = grade(data["type"], compiled, answer, ctx)
        assert first.status != "invalid", first.message
        assert_well_formed(first)
        assert grade(data["type"], compiled, answer, ctx) == first

    check()


@pytest.mark.parametrize("exercise_id", sorted(SHIPPED))
def test_arbitrary_json_never_crashes(exercise_id):
    """Any JSON-like value, however malformed, yields a well-formed result and never a crash."""
    data = SHIPPED[exercise_id]
    compiled = compile_spec(data["type"], data["spec"])

    @settings(max_examples=100, deadline=None)
    @given(json_values)
    def check(raw):
        """Grade garbage."""
        assert_well_formed(grade(data["type"], compiled, raw))

    check()
