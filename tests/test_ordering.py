"""Unit tests for the `ordering` grader: spec errors, answer parsing, DAG scoring and feedback."""

from __future__ import annotations

import json

import pytest

from graders import Context, SpecError, answer_key, compile_spec, grade, present
from graders.base import MAX_ANSWER_CHARS
from graders.ordering import find_cycle, is_valid_order, min_edits

# a -> (b | c) -> d, plus a distractor: b and c may come in either order.
DIAMOND = {
    "items": [
        {"id": "a", "text": "Ask final questions"},
        {"id": "b", "text": "Recap fit", "after": ["a"], "feedback": "Recap once questions are done."},
        {"id": "c", "text": "Say you want the job", "after": ["a"]},
        {"id": "d", "text": "Ask about next steps", "after": ["b", "c"], "feedback": "Next steps come last."},
    ],
    "distractors": [{"id": "x", "text": "Ask when you can start", "feedback": "Too pushy outside sales."}],
}


@pytest.fixture
def diamond():
    """The compiled diamond spec."""
    return compile_spec("ordering", DIAMOND)


def spec_error(spec):
    """Compile a spec that must fail and return its error text."""
    with pytest.raises(SpecError) as info:
        compile_spec("ordering", spec)
    return str(info.value)


# --- spec errors -----------------------------------------------------------------------------------------


def test_unknown_key_named_with_path():
    """A typo'd key is reported with its full key path."""
    spec = {**DIAMOND, "items": [dict(DIAMOND["items"][0], afterr=["b"]), *DIAMOND["items"][1:]]}
    assert "spec.items[0].afterr: unknown key" in spec_error(spec)


def test_top_level_unknown_key():
    """Unknown top-level keys are reported too."""
    assert "spec.shufle: unknown key" in spec_error({**DIAMOND, "shufle": True})


def test_cycle_is_reported_with_its_path():
    """A dependency cycle is reported as the closed path that forms it."""
    spec = {"items": [{"id": "a", "text": "A", "after": ["c"]}, {"id": "b", "text": "B", "after": ["a"]},
                      {"id": "c", "text": "C", "after": ["b"]}]}
    message = spec_error(spec)
    assert "spec.items: the `after` dependencies form a cycle:" in message
    assert "a -> c -> b -> a" in message


def test_dangling_dependency_named():
    """A dep on an unknown step names the exact `after` entry."""
    spec = {"items": [{"id": "a", "text": "A"}, {"id": "b", "text": "B", "after": ["zz"]}]}
    assert "spec.items[1].after[0]: unknown step 'zz'" in spec_error(spec)


def test_dependency_on_distractor_rejected():
    """Steps cannot depend on a distractor, which is never in a right answer."""
    spec = {**DIAMOND, "items": [*DIAMOND["items"], {"id": "e", "text": "E", "after": ["x"]}]}
    assert "spec.items[4].after[0]: 'x' is a distractor" in spec_error(spec)


def test_self_dependency_rejected():
    """A step that must come after itself is an error, not a silent no-op."""
    spec = {"items": [{"id": "a", "text": "A", "after": ["a"]}, {"id": "b", "text": "B", "after": ["a"]}]}
    assert "spec.items[0].after[0]: step 'a' cannot come after itself" in spec_error(spec)


def test_duplicate_ids_within_and_across_lists():
    """Ids must be unique among steps and between steps and distractors; each duplicate reported once."""
    spec = {"items": [{"id": "a", "text": "A"}, {"id": "a", "text": "A2", "after": ["a"]}],
            "distractors": [{"id": "a", "text": "X"}]}
    message = spec_error(spec)
    assert message.count("spec.items[1].id: duplicate id 'a'") == 1
    assert "spec.distractors[0].id: duplicate id 'a' (also a step in spec.items)" in message


def test_needs_two_items():
    """A one-step ordering is not an exercise."""
    assert "spec.items: needs at least 2 entries, got 1" in spec_error({"items": [{"id": "a", "text": "A"}]})


def test_bad_partial_credit_and_missing_text_collected_together():
    """Every issue is collected into one SpecError."""
    spec = {"items": [{"id": "a"}, {"id": "b", "text": "B"}], "partial_credit": "ranking"}
    message = spec_error(spec)
    assert "spec.items[0].text: missing required key" in message
    assert "spec.partial_credit: must be 'lcs' or 'none', got 'ranking'" in message


def test_wrong_types_named():
    """Type errors name the key and the expected type."""
    message = spec_error({"items": "a,b"})
    assert "spec.items: expected a list, got text" in message
    message = spec_error({"items": [{"id": "a", "text": "A", "after": "b"}, {"id": "b", "text": "B"}]})
    assert "spec.items[0].after: expected a list, got text" in message


def test_graph_without_dependencies_rejected():
    """With no `after` anywhere every order is right, which is never what an author means."""
    spec = {"items": [{"id": "a", "text": "A"}, {"id": "b", "text": "B"}]}
    assert "spec.items: no step has `after`, so every order would be correct" in spec_error(spec)


def test_too_many_steps_rejected():
    """A 41-step chain is refused with the count and the limit."""
    items = [{"id": f"s{i}", "text": f"S{i}", "after": [f"s{i - 1}"] if i else []} for i in range(41)]
    assert "spec.items: has 41 steps; split it, at most 40 are allowed" in spec_error({"items": items})


def test_find_cycle_none_for_dag():
    """find_cycle returns None on an acyclic graph."""
    assert find_cycle({"a": [], "b": ["a"], "c": ["a", "b"]}) is None


# --- parsing ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("raw", [
    ["a", "b", "c", "d"],
    "a,b,c,d",
    " a , b ,c,d ",
    "a\nb\nc\nd\n",
    json.dumps(["a", "b", "c", "d"]),
    ("a", "b", "c", "d"),
])
def test_accepted_answer_forms(diamond, raw):
    """Lists, comma lists, one id per line and JSON lists all parse to the same answer."""
    result = grade("ordering", diamond, raw)
    assert result.status == "correct"
    assert result.score == 1.0


@pytest.mark.parametrize(("raw", "fragment"), [
    (["a", "b", "q", "d"], "Step 3 is 'q', which is not one of the steps shown."),
    (["a", "b", "a", "d"], "Step 'a' appears twice (positions 1 and 3)."),
    ("", "The answer is empty."),
    ("   ", "The answer is empty."),
    ([], "The answer is empty"),
    ({"a": 1}, "The answer must be a list of step ids in order."),
    (42, "The answer must be a list of step ids in order."),
    (["a", 3, "c"], "Step 2 must be an id (text), got a number."),
    (["a", "", "c"], "Step 2 is empty."),
    ("[\"a\", ", "does not parse"),
    ("x" * (MAX_ANSWER_CHARS + 1), "longer than 5,000 characters"),
    (["a" * 3000, "b" * 3000], "longer than 5,000 characters"),
])
def test_invalid_answers(diamond, raw, fragment):
    """Malformed answers come back `invalid` with a clear message and cost no attempt."""
    result = grade("ordering", diamond, raw)
    assert result.status == "invalid"
    assert fragment in result.message
    assert not result.counts_as_attempt
    assert result.score == 0.0 and not result.passed


# --- scoring ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("order", [["a", "b", "c", "d"], ["a", "c", "b", "d"]])
def test_every_topological_order_scores_full(diamond, order):
    """Both orders the DAG allows are fully correct."""
    result = grade("ordering", diamond, order)
    assert (result.score, result.status, result.passed) == (1.0, "correct", True)
    assert result.grader_version == "2"


def test_reversed_order(diamond):
    """Reversed: only b and c can stay, two steps move (4 edits over 4 items) -> 0."""
    result = grade("ordering", diamond, ["d", "c", "b", "a"])
    assert result.score == 0.0
    assert result.status == "incorrect"


def test_one_misplaced_step_costs_two_edits(diamond):
    """Moving one step is a deletion plus an insertion: 1 - 2/4."""
    result = grade("ordering", diamond, ["b", "a", "c", "d"])
    assert result.score == 0.5
    assert result.status == "partial"
    assert not result.passed


def test_first_misplaced_step_feedback(diamond):
    """The order check names the first step that comes too early, what it needs, and its feedback."""
    result = grade("ordering", diamond, ["a", "d", "b", "c"])
    check = result.checks[0]
    assert check.id == "order:d"
    assert not check.passed
    assert "Step 2, 'Ask about next steps', comes too early" in check.message
    assert "'Recap fit' and 'Say you want the job'" in check.message
    assert "Next steps come last." in check.message
    assert check.earned == result.score


def test_missing_steps_cost_one_edit_each(diamond):
    """A valid prefix with steps missing: each missing step is one insertion."""
    result = grade("ordering", diamond, ["a", "b"])
    assert result.score == 0.5
    missing = next(c for c in result.checks if c.id == "missing")
    # Named as the learner sees them: the step's text, never its id.
    assert "'Say you want the job'" in missing.message and "(c)" not in missing.message


def test_distractor_fails_even_with_high_score(diamond):
    """Including a distractor is a failed required check: the exercise fails whatever the score."""
    result = grade("ordering", diamond, ["a", "b", "x", "c", "d"], Context(pass_threshold=0.5))
    assert result.score == 0.75
    assert not result.passed
    check = next(c for c in result.checks if c.id == "distractor:x")
    assert check.required and not check.passed
    assert "Too pushy outside sales." in check.message


def test_distractors_left_out_is_reported(diamond):
    """Leaving the distractors out earns a passed check that says so."""
    result = grade("ordering", diamond, ["a", "b", "c", "d"])
    assert any(c.id == "distractors" and c.passed for c in result.checks)


def test_shown_order_unchanged_earns_nothing(diamond):
    """Submitting the starting order, as shown or minus the distractors, scores 0 with a check saying so."""
    shown = tuple(present("ordering", diamond, 7)["shown_order"])
    for answer in (list(shown), [i for i in shown if i != "x"]):
        result = grade("ordering", diamond, answer, Context(shown_order=shown))
        assert result.score == 0.0
        assert result.checks[0].id == "unchanged"
        assert "order you were shown" in result.checks[0].message
    assert grade("ordering", diamond, [i for i in shown if i != "x"], Context(shown_order=shown)).checks[0].message \
        .startswith("Apart from the cards you left out")


def test_shown_order_does_not_affect_other_answers(diamond):
    """A rearranged answer is graded normally even when the shown order is known."""
    result = grade("ordering", diamond, ["a", "c", "b", "d"], Context(shown_order=("d", "x", "b", "a", "c")))
    assert result.score == 1.0


def test_all_or_nothing_mode():
    """partial_credit: none gives 0 for anything short of a valid order."""
    compiled = compile_spec("ordering", {**DIAMOND, "partial_credit": "none"})
    assert grade("ordering", compiled, ["a", "b", "c", "d"]).score == 1.0
    assert grade("ordering", compiled, ["b", "a", "c", "d"]).score == 0.0


def test_min_edits_known_values():
    """Hand-worked edit counts on a chain a<b<c<d<e (bitmask predecessors)."""
    before = (0, 0b1, 0b11, 0b111, 0b1111)
    assert min_edits(before, [0, 1, 2, 3, 4]) == 0
    assert min_edits(before, [1, 0, 2, 3, 4]) == 2
    assert min_edits(before, [4, 3, 2, 1, 0]) == 8
    assert min_edits(before, [0, 2, 4]) == 2
    assert min_edits(before, [2, 3, 4, 0, 1]) == 4


# --- present / answer key --------------------------------------------------------------------------------


def test_present_hides_the_key_and_is_deterministic(diamond):
    """The view lists every step and distractor, with no deps, feedback or canonical order."""
    view = present("ordering", diamond, 3)
    assert view == present("ordering", diamond, 3)
    assert sorted(e["id"] for e in view["items"]) == ["a", "b", "c", "d", "x"]
    assert all(set(e) == {"id", "text"} for e in view["items"])
    text = json.dumps(view)
    for secret in ("after", "feedback", "Too pushy", "Next steps come last"):
        assert secret not in text


def test_present_never_shows_a_valid_order(diamond):
    """Across many seeds the shown steps (distractors aside) are never already in a valid order."""
    for seed in range(300):
        shown = present("ordering", diamond, seed)["shown_order"]
        assert not is_valid_order(diamond, [i for i in shown if i != "x"])


def test_present_varies_with_seed(diamond):
    """Different seeds give different starting orders."""
    orders = {tuple(present("ordering", diamond, seed)["shown_order"]) for seed in range(20)}
    assert len(orders) > 5


def test_answer_key(diamond):
    """The instructor view gives a valid order, the deps and the distractors with feedback."""
    key = answer_key("ordering", diamond)
    assert key["order"] == ["a", "b", "c", "d"]
    assert key["items"][3]["after"] == ["b", "c"]
    assert key["distractors"][0]["feedback"] == "Too pushy outside sales."


def test_step_numbers_count_distractors_and_missing_deps_flagged(diamond):
    """Step numbers match the learner's list (distractors included); a missing dependency is marked so."""
    result = grade("ordering", diamond, ["x", "a", "d", "b", "c"])
    assert result.checks[0].message.startswith("Step 3, 'Ask about next steps', comes too early")
    result = grade("ordering", diamond, ["b", "c", "d"])
    assert "it belongs after 'Ask final questions' (missing)." in result.checks[0].message


# Worked examples with the edit distances PrairieLearn's pl-order-blocks tests publish for its
# `dag` + `lcs` grading (problem 1, and problem 2 without block groups), as an outside cross-check.
PL_PROBLEM_1 = {"1": [], "2": ["1"], "3": ["1"], "4": ["2", "3"], "5": ["1"], "6": ["2"], "7": ["4", "5", "6"],
                "8": [], "9": ["7", "8"], "10": ["9"]}
PL_PROBLEM_2 = {"1": [], "2": ["1"], "3": ["2"], "4": [], "5": ["4"], "6": ["5"], "7": ["3", "6"]}


@pytest.mark.parametrize(("dag", "answer", "edits"), [
    (PL_PROBLEM_1, ["1", "2", "3", "4", "5", "6", "7", "8", "9", "10"], 0),
    (PL_PROBLEM_1, ["8", "1", "3", "2", "6", "4", "5", "7", "9", "10"], 0),
    (PL_PROBLEM_1, ["1", "2", "3", "4", "5", "6", "7", "9", "8", "10"], 2),
    (PL_PROBLEM_1, ["1", "2", "6", "3", "4", "5"], 4),
    (PL_PROBLEM_2, ["1", "2", "3", "4", "5", "6", "7"], 0),
    (PL_PROBLEM_2, ["4", "5", "6", "1", "2", "3", "7"], 0),
    (PL_PROBLEM_2, ["4", "5", "6", "1", "2", "7"], 1),
    (PL_PROBLEM_2, ["1", "2", "4", "3", "5", "6", "7"], 0),
    (PL_PROBLEM_2, ["1", "2", "3", "7"], 3),
    (PL_PROBLEM_2, ["1", "5", "6", "2", "3"], 2),
    (PL_PROBLEM_2, ["1", "6", "5", "2", "3"], 4),
])
def test_matches_prairielearn_published_edit_distances(dag, answer, edits):
    """Score = max(0, 1 - edits / steps), with PrairieLearn's edit counts."""
    items = [{"id": f"s{k}", "text": f"Step {k}", "after": [f"s{d}" for d in deps]} for k, deps in dag.items()]
    spec = {"items": items}
    result = grade("ordering", compile_spec("ordering", spec), [f"s{k}" for k in answer])
    assert result.score == pytest.approx(max(0.0, 1 - edits / len(dag)), abs=1e-6)
