"""Unit tests for `single_choice` and `multiple_choice`: spec errors, answer shapes, scoring, present()."""

from __future__ import annotations

import json

import pytest

from graders import Context, SpecError, answer_key, compile_spec, grade, present
from graders.base import MAX_ANSWER_CHARS

SINGLE = {
    "options": [
        {"id": "a", "text": "Ask about concerns", "correct": True, "feedback": "It surfaces doubts."},
        {"id": "b", "text": "Ask about salary", "correct": False, "feedback": "Leave pay to offer stage."},
        {"id": "c", "text": "Say nothing", "correct": False},
    ],
}
MULTI = {
    "options": [
        {"id": "r1", "text": "Right one", "correct": True, "feedback": "R1 why."},
        {"id": "r2", "text": "Right two", "correct": True, "feedback": "R2 why."},
        {"id": "r3", "text": "Right three", "correct": True},
        {"id": "r4", "text": "Right four", "correct": True},
        {"id": "w1", "text": "Wrong one", "correct": False, "feedback": "W1 why not."},
        {"id": "w2", "text": "Wrong two", "correct": False},
    ],
}


def spec_error(type_name, spec):
    """Compile a spec that must fail and return its error text."""
    with pytest.raises(SpecError) as info:
        compile_spec(type_name, spec)
    return str(info.value)


# --- spec errors -----------------------------------------------------------------------------------------


def test_single_choice_needs_exactly_one_correct():
    """Zero or two right options are both spec errors."""
    none_right = {"options": [dict(o, correct=False) for o in SINGLE["options"]]}
    assert "spec.options: single_choice needs exactly one correct option, found 0" in spec_error(
        "single_choice", none_right)
    two_right = {"options": [dict(o, correct=True) for o in SINGLE["options"][:2]]}
    assert "found 2" in spec_error("single_choice", two_right)


def test_multiple_choice_needs_a_correct_option():
    """A multiple_choice with nothing to pick is a spec error."""
    spec = {"options": [dict(o, correct=False) for o in MULTI["options"]]}
    assert "needs at least one correct option" in spec_error("multiple_choice", spec)


@pytest.mark.parametrize("type_name", ["single_choice", "multiple_choice"])
def test_spec_errors_named_by_key(type_name):
    """Unknown keys, duplicate ids, wrong types and missing keys are all reported by key path, together."""
    spec = {
        "options": [
            {"id": "a", "text": "A", "correct": True, "feedbak": "typo"},
            {"id": "a", "text": "A again", "correct": False},
            {"id": "b", "correct": "yes"},
        ],
        "shuffle": "no",
    }
    message = spec_error(type_name, spec)
    assert "spec.options[0].feedbak: unknown key" in message
    assert "spec.options[1].id: duplicate id 'a' (first used at spec.options[0].id)" in message
    assert "spec.options[2].text: missing required key" in message
    assert "spec.options[2].correct: expected true/false, got text" in message
    assert "spec.shuffle: expected true/false, got text" in message


@pytest.mark.parametrize("bad", ["two words", "a,b", "-lead", "x" * 81, "caf\u00e9?"])
def test_ids_must_be_slugs(bad):
    """Ids a learner's answer could not name (spaces, commas, too long) are refused at load time."""
    spec = {"options": [dict(SINGLE["options"][0], id=bad), *SINGLE["options"][1:]]}
    assert "spec.options[0].id: " in spec_error("single_choice", spec)
    assert "is not a valid id" in spec_error("single_choice", spec)


def test_too_few_options():
    """One option is not a choice."""
    assert "spec.options: needs at least 2 entries, got 1" in spec_error(
        "single_choice", {"options": [SINGLE["options"][0]]})


def test_empty_id_rejected():
    """A blank id would make an unanswerable option."""
    spec = {"options": [dict(SINGLE["options"][0], id="  "), *SINGLE["options"][1:]]}
    assert "spec.options[0].id: must not be empty" in spec_error("single_choice", spec)


# --- single_choice ---------------------------------------------------------------------------------------


@pytest.fixture
def single():
    """The compiled single-choice spec."""
    return compile_spec("single_choice", SINGLE)


@pytest.mark.parametrize("raw", ["a", " a ", '"a"', json.dumps("a")])
def test_single_right_answer_forms(single, raw):
    """A plain id or a JSON string both select the option."""
    result = grade("single_choice", single, raw)
    assert (result.score, result.status, result.passed) == (1.0, "correct", True)
    assert result.checks[0].message == "It surfaces doubts."


def test_single_wrong_answer_gets_its_feedback(single):
    """A wrong pick scores 0 and shows that option's feedback."""
    result = grade("single_choice", single, "b")
    assert (result.score, result.status, result.passed) == (0.0, "incorrect", False)
    assert result.checks[0].id == "option:b"
    assert result.checks[0].message == "Leave pay to offer stage."


def test_single_wrong_answer_without_feedback_has_a_message(single):
    """An option without authored feedback still says the answer is not the best one."""
    assert grade("single_choice", single, "c").checks[0].message == "That's not the best answer."


@pytest.mark.parametrize(("raw", "fragment"), [
    ("z", "Unknown option 'z'; choose one of: a, b, c."),
    (["a"], "Pick exactly one option"),
    ('["a", "b"]', "Pick exactly one option"),
    (3, "The chosen option must be an id (text), got a number."),
    ({"a": True}, "must be an id"),
    ("", "The answer is empty."),
    ('"', "The answer looks like JSON but does not parse"),
    ("a" * (MAX_ANSWER_CHARS + 1), "longer than 5,000 characters"),
    ("a" * 200, "not a known id (too long)"),
])
def test_single_invalid(single, raw, fragment):
    """Every malformed shape is `invalid`, with a message naming the problem."""
    result = grade("single_choice", single, raw)
    assert result.status == "invalid"
    assert fragment in result.message
    assert not result.counts_as_attempt


# --- multiple_choice -------------------------------------------------------------------------------------


@pytest.fixture
def multi():
    """The compiled multiple-choice spec."""
    return compile_spec("multiple_choice", MULTI)


@pytest.mark.parametrize(("answer", "score", "status"), [
    (["r1", "r2", "r3", "r4"], 1.0, "correct"),
    (["r1", "r2", "r3"], 0.75, "partial"),
    (["r1", "r2", "r3", "r4", "w1"], 0.75, "partial"),
    (["r1", "r2", "w1", "w2"], 0.0, "incorrect"),
    (["w1"], 0.0, "incorrect"),
    (["r1", "r2", "r3", "r4", "w1", "w2"], 0.5, "partial"),
])
def test_multi_scoring_rule(multi, answer, score, status):
    """score = max(0, (right picked - wrong picked) / right options)."""
    result = grade("multiple_choice", multi, answer)
    assert (result.score, result.status) == (score, status)


def test_multi_pass_threshold(multi):
    """0.75 fails the default 0.8 threshold but passes a 0.7 one."""
    assert not grade("multiple_choice", multi, ["r1", "r2", "r3"]).passed
    assert grade("multiple_choice", multi, ["r1", "r2", "r3"], Context(pass_threshold=0.7)).passed


def test_multi_one_check_per_option_with_feedback(multi):
    """Each option is a check; picked options and missed right ones carry their feedback."""
    result = grade("multiple_choice", multi, ["r1", "w1"])
    checks = {c.id: c for c in result.checks}
    assert list(checks) == ["option:r1", "option:r2", "option:r3", "option:r4", "option:w1", "option:w2"]
    assert checks["option:r1"].passed and "R1 why." in checks["option:r1"].message
    assert not checks["option:r2"].passed and "You missed this one. R2 why." in checks["option:r2"].message
    assert not checks["option:w1"].passed and "W1 why not." in checks["option:w1"].message
    assert checks["option:w2"].passed and "Right to leave this out." in checks["option:w2"].message


@pytest.mark.parametrize("raw", [["r1", "r2", "r3", "r4"], "r1,r2,r3,r4", " r1, r2 ,r3,r4,", '["r1","r2","r3","r4"]'])
def test_multi_answer_forms(multi, raw):
    """Lists, comma lists and JSON lists all parse the same."""
    assert grade("multiple_choice", multi, raw).score == 1.0


@pytest.mark.parametrize(("raw", "fragment"), [
    (["r1", "zz"], "Unknown option 'zz'"),
    (["r1", "r1"], "Option 'r1' is picked twice."),
    ([], "Pick at least one option."),
    (",,", "Pick at least one option."),
    ({"r1": True}, "The answer must be a list of option ids."),
    ([1, 2], "Choice 1 must be an id (text), got a number."),
    ("[\"r1\"", "does not parse"),
    (["r1", "x" * 5001], "longer than 5,000 characters"),
])
def test_multi_invalid(multi, raw, fragment):
    """Every malformed shape is `invalid`, with a message naming the problem."""
    result = grade("multiple_choice", multi, raw)
    assert result.status == "invalid"
    assert fragment in result.message


# --- present / answer key --------------------------------------------------------------------------------


@pytest.mark.parametrize(("type_name", "spec"), [("single_choice", SINGLE), ("multiple_choice", MULTI)])
def test_present_hides_verdicts_and_shuffles_by_seed(type_name, spec):
    """Options are shuffled deterministically and carry only id and text."""
    compiled = compile_spec(type_name, spec)
    view = present(type_name, compiled, 5)
    assert view == present(type_name, compiled, 5)
    assert all(set(o) == {"id", "text"} for o in view["options"])
    assert sorted(o["id"] for o in view["options"]) == sorted(o["id"] for o in spec["options"])
    assert "correct" not in json.dumps(view) and "why" not in json.dumps(view)
    orders = {tuple(o["id"] for o in present(type_name, compiled, s)["options"]) for s in range(30)}
    assert len(orders) > 1


def test_shuffle_false_keeps_authored_order():
    """shuffle: false shows the options as written, for every seed."""
    compiled = compile_spec("single_choice", {**SINGLE, "shuffle": False})
    for seed in range(10):
        assert [o["id"] for o in present("single_choice", compiled, seed)["options"]] == ["a", "b", "c"]


def test_answer_key_lists_correct_options():
    """The instructor view names the right options and keeps every feedback."""
    key = answer_key("multiple_choice", compile_spec("multiple_choice", MULTI))
    assert key["correct"] == ["r1", "r2", "r3", "r4"]
    assert key["options"][4]["feedback"] == "W1 why not."
