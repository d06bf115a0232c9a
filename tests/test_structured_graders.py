"""Unit tests for `matching`, `categorize` and `cloze`: spec errors, answer shapes, scoring, present()."""

from __future__ import annotations

import json

import pytest

from graders import SpecError, answer_key, compile_spec, grade, present
from graders.cloze import fold, within_one_edit

MATCHING = {
    "left": [
        {"id": "q1", "text": "Any concerns?", "match": "doubts", "feedback": "Q1 surfaces doubts."},
        {"id": "q2", "text": "What next?", "match": "timeline"},
        {"id": "q3", "text": "Need anything else?", "match": "moving"},
        {"id": "q4", "text": "Industry trend?", "match": "research"},
        {"id": "q5", "text": "Culture?", "match": "fit"},
    ],
    "right": [
        {"id": "doubts", "text": "Surface doubts"},
        {"id": "timeline", "text": "Learn the timeline"},
        {"id": "moving", "text": "Keep things moving"},
        {"id": "research", "text": "Show research"},
        {"id": "fit", "text": "Judge fit"},
        {"id": "spare", "text": "A distractor"},
    ],
}
RIGHT_PAIRS = {"q1": "doubts", "q2": "timeline", "q3": "moving", "q4": "research", "q5": "fit"}

CATEGORIZE = {
    "groups": [{"id": "strong", "text": "Strong"}, {"id": "avoid", "text": "Avoid"}],
    "items": [
        {"id": "i1", "text": "Any concerns?", "group": "strong"},
        {"id": "i2", "text": "Next steps?", "group": "strong"},
        {"id": "i3", "text": "Got the job?", "group": "avoid", "feedback": "It corners them."},
        {"id": "i4", "text": "Training? (yes/no)", "group": "avoid"},
    ],
}
RIGHT_PLACES = {"i1": "strong", "i2": "strong", "i3": "avoid", "i4": "avoid"}

CLOZE = {
    "text": "Ask for their {{card}} and email within {{hours}} hours.",
    "blanks": [
        {"id": "card", "accept": ["business card", "contact details"], "typos": 1, "feedback": "A card."},
        {"id": "hours", "accept": ["24", "twenty-four"]},
    ],
}


def spec_error(type_name, spec):
    """Compile a spec that must fail and return its error text."""
    with pytest.raises(SpecError) as info:
        compile_spec(type_name, spec)
    return str(info.value)


# Every issue of a broken spec is reported at once, each named by its key path.
SPEC_ERRORS = [
    # Dangling matches, duplicate ids and unknown keys.
    pytest.param("matching",
                 {"left": [{"id": "a", "text": "A", "match": "zz"}, {"id": "a", "text": "B", "match": "r"}],
                  "right": [{"id": "r", "text": "R"}, {"id": "s", "text": "S", "colour": "red"}]},
                 ["spec.left[0].match: unknown right option 'zz'",
                  "spec.left[1].id: duplicate id 'a'",
                  "spec.right[1].colour: unknown key"], id="matching"),
    # Unknown groups and too few groups.
    pytest.param("categorize",
                 {"groups": [{"id": "g", "text": "G"}], "items": [{"id": "a", "text": "A", "group": "h"},
                                                                  {"id": "b", "text": "B", "group": "g"}]},
                 ["spec.groups: needs at least 2 entries, got 1",
                  "spec.items[0].group: unknown group 'h'"], id="categorize"),
    # Blanks and text must name each other once; typos is 0 or 1.
    pytest.param("cloze",
                 {"text": "{{a}} and {{a}} and {{b}}",
                  "blanks": [{"id": "a", "accept": ["x"], "typos": 2}, {"id": "c", "accept": []},
                             {"id": "a", "accept": ["y"]}]},
                 ["spec.text: blank {{a}} appears more than once",
                  "spec.text: blank {{b}} has no entry in spec.blanks",
                  "spec.blanks: blank 'c' does not appear in spec.text",
                  "spec.blanks[0].typos: must be 0 or 1, got 2",
                  "spec.blanks[1].accept: needs at least one accepted answer",
                  "spec.blanks[2].id: duplicate id 'a'"], id="cloze"),
]


@pytest.mark.parametrize(("type_name", "spec", "expected"), SPEC_ERRORS)
def test_spec_errors_are_all_named_by_key(type_name, spec, expected):
    """A broken spec's error names every issue by its key path, all in one message."""
    message = spec_error(type_name, spec)
    for issue in expected:
        assert issue in message


# --- matching --------------------------------------------------------------------------------------------


@pytest.fixture
def matching():
    """The compiled matching spec."""
    return compile_spec("matching", MATCHING)


def test_matching_all_right(matching):
    """Every pair right scores 1."""
    result = grade("matching", matching, RIGHT_PAIRS)
    assert (result.score, result.status, result.passed) == (1.0, "correct", True)
    assert [c.id for c in result.checks] == ["pair:q1", "pair:q2", "pair:q3", "pair:q4", "pair:q5"]


def test_matching_share_of_pairs_and_feedback(matching):
    """Score is the share of right pairs; a wrong pair names both sides and gives its feedback."""
    result = grade("matching", matching, {**RIGHT_PAIRS, "q1": "spare"})
    assert result.score == 0.8 and result.passed and result.status == "partial"
    check = result.checks[0]
    assert not check.passed
    assert check.message == "Any concerns? -> A distractor: not quite. Q1 surfaces doubts."


def test_summary_counts_the_items_right(matching, categorize):
    """Where the score is the share of items right, the one-line summary says how many."""
    assert grade("matching", matching, {**RIGHT_PAIRS, "q1": "spare"}).message.startswith("Passed: 4 of 5 right, 80%")
    result = grade("categorize", categorize, {**RIGHT_PLACES, "i1": "avoid", "i2": "avoid"})
    assert result.message == "Not passed yet: 2 of 4 right, 50%. The notes below say what to change."


def test_summary_leaves_out_a_count_the_score_does_not_follow():
    """Multiple choice subtracts wrong ticks, so "n of m right" would not add up to its score: no count."""
    spec = compile_spec("multiple_choice", {"options": [
        {"id": "a", "text": "A", "correct": True}, {"id": "b", "text": "B", "correct": True},
        {"id": "c", "text": "C", "correct": False}, {"id": "d", "text": "D", "correct": False}]})
    result = grade("multiple_choice", spec, ["a"])
    assert result.score == 0.5 and result.message == "Not passed yet: 50%. The notes below say what to change."


def test_matching_json_string_answer(matching):
    """The CLI's JSON form parses."""
    assert grade("matching", matching, json.dumps(RIGHT_PAIRS)).score == 1.0


@pytest.mark.parametrize(("raw", "fragment"), [
    ({**RIGHT_PAIRS, "q9": "fit"}, "Unknown item 'q9'."),
    ({**RIGHT_PAIRS, "q1": "nope"}, "Unknown match 'nope' for item 'q1'."),
    ({"q1": "doubts"}, "Every item needs a match; still to do: 'What next?' (q2), 'Need anything else?' (q3),"),
    (["q1", "doubts"], "The answer must map each item to a match, got a list."),
    ("q1=doubts", "The answer must map each item to a match, got text."),
    ({}, "The answer is empty."),
    ({**RIGHT_PAIRS, "q1": 3}, "The match for item 'q1' must be an id (text), got a number."),
    ('{"q1": ', "does not parse"),
    ({**RIGHT_PAIRS, "q1": "x" * 6000}, "longer than 5,000 characters"),
])
def test_matching_invalid(matching, raw, fragment):
    """Malformed answers are `invalid` and say what is wrong."""
    result = grade("matching", matching, raw)
    assert result.status == "invalid"
    assert fragment in result.message


def test_matching_duplicate_key_after_stripping(matching):
    """Two keys that are the same id once trimmed are a duplicate."""
    result = grade("matching", matching, {**RIGHT_PAIRS, " q1": "doubts"})
    assert result.status == "invalid" and "appears twice" in result.message


def test_matching_present_and_key(matching):
    """The view has both columns shuffled and no matches; the key names the distractor."""
    view = present("matching", matching, 2)
    assert view == present("matching", matching, 2)
    assert all(set(e) == {"id", "text"} for e in view["left"] + view["right"])
    assert "Q1 surfaces doubts" not in json.dumps(view)
    assert sorted(e["id"] for e in view["right"]) == sorted(e["id"] for e in MATCHING["right"])
    key = answer_key("matching", matching)
    assert key["pairs"] == RIGHT_PAIRS and key["distractors"] == ["spare"]


MISCONCEPTION = "Closing questions never push for a decision on the spot."


@pytest.fixture
def matching_with_misconception():
    """The matching spec with its spare option marked as a misconception."""
    right = [dict(e, misconception=MISCONCEPTION) if e["id"] == "spare" else e for e in MATCHING["right"]]
    return compile_spec("matching", {**MATCHING, "right": right})


def test_matching_misconception_fails_an_otherwise_passing_answer(matching, matching_with_misconception):
    """4 of 5 right passes at 0.8 with a plain distractor, but not when the wrong pick is a misconception."""
    answer = {**RIGHT_PAIRS, "q1": "spare"}
    plain = grade("matching", matching, answer)
    assert (plain.score, plain.passed) == (0.8, True)
    result = grade("matching", matching_with_misconception, answer)
    assert (result.score, result.passed, result.status) == (0.8, False, "partial")
    check = next(c for c in result.checks if c.id == "pair:q1")
    assert check.required and not check.passed and MISCONCEPTION in check.message
    assert "required point" in result.message


def test_matching_misconception_leaves_other_mistakes_alone(matching_with_misconception):
    """A wrong pick that is not the misconception is an ordinary lost point: 4 of 5 still passes."""
    result = grade("matching", matching_with_misconception, {**RIGHT_PAIRS, "q1": "timeline", "q2": "doubts"})
    assert (result.score, result.passed) == (0.6, False)
    assert not any(c.required for c in result.checks)
    assert grade("matching", matching_with_misconception, RIGHT_PAIRS).passed


def test_matching_misconception_hidden_before_and_shown_after(matching_with_misconception):
    """The view never says which option is the misconception; the answer key does."""
    view = present("matching", matching_with_misconception, 3)
    assert MISCONCEPTION not in json.dumps(view)
    assert all(set(e) == {"id", "text"} for e in view["right"])
    key = answer_key("matching", matching_with_misconception)
    assert {"id": "spare", "text": "A distractor", "misconception": MISCONCEPTION} in key["right"]


def test_misconception_cannot_be_a_right_answer():
    """An author who marks an item's own target as a misconception is told where."""
    right = [dict(e, misconception="Wrong.") if e["id"] == "doubts" else e for e in MATCHING["right"]]
    message = spec_error("matching", {**MATCHING, "right": right})
    assert "spec.left[0].match: 'doubts' is marked as a misconception" in message
    bad_type = [dict(e, misconception=3) if e["id"] == "spare" else e for e in MATCHING["right"]]
    assert "spec.right[5].misconception" in spec_error("matching", {**MATCHING, "right": bad_type})


def test_categorize_misconception_group():
    """categorize shares the rule: an item put in a misconception group fails the exercise."""
    groups = [*CATEGORIZE["groups"], {"id": "pressure", "text": "Pressure them", "misconception": "Never."}]
    compiled = compile_spec("categorize", {**CATEGORIZE, "groups": groups})
    assert grade("categorize", compiled, RIGHT_PLACES).passed
    result = grade("categorize", compiled, {**RIGHT_PLACES, "i4": "pressure"})
    assert result.passed is False and "Never." in result.checks[3].message


# --- categorize ------------------------------------------------------------------------------------------


@pytest.fixture
def categorize():
    """The compiled categorize spec."""
    return compile_spec("categorize", CATEGORIZE)


def test_categorize_scoring_and_feedback(categorize):
    """Score is the share placed right; a misplaced item gets its feedback."""
    assert grade("categorize", categorize, RIGHT_PLACES).score == 1.0
    result = grade("categorize", categorize, {**RIGHT_PLACES, "i3": "strong", "i4": "strong"})
    assert result.score == 0.5 and not result.passed
    check = next(c for c in result.checks if c.id == "item:i3")
    assert check.message == "Got the job? - not Strong. It corners them."
    assert grade("categorize", categorize, dict.fromkeys(RIGHT_PLACES, "avoid")).score == 0.5
    wrong = {k: ("avoid" if v == "strong" else "strong") for k, v in RIGHT_PLACES.items()}
    assert grade("categorize", categorize, wrong).status == "incorrect"


@pytest.mark.parametrize(("raw", "fragment"), [
    ({**RIGHT_PLACES, "i9": "avoid"}, "Unknown item 'i9'."),
    ({**RIGHT_PLACES, "i1": "maybe"}, "Unknown group 'maybe' for item 'i1'."),
    ({"i1": "strong"}, "Every item needs a group; still to do: 'Next steps?' (i2), 'Got the job?' (i3)"),
    ("strong", "The answer must map each item to a group, got text."),
    (None, "The answer is empty."),
])
def test_categorize_invalid(categorize, raw, fragment):
    """Malformed answers are `invalid` and say what is wrong."""
    result = grade("categorize", categorize, raw)
    assert result.status == "invalid"
    assert fragment in result.message


def test_categorize_present(categorize):
    """Groups in order, items shuffled, no placements."""
    view = present("categorize", categorize, 4)
    assert [g["id"] for g in view["groups"]] == ["strong", "avoid"]
    assert "group" not in json.dumps(view["items"]) and "corners" not in json.dumps(view)


# --- cloze -----------------------------------------------------------------------------------------------


@pytest.fixture
def cloze():
    """The compiled cloze spec."""
    return compile_spec("cloze", CLOZE)


@pytest.mark.parametrize(("answer", "score"), [
    ({"card": "business card", "hours": "24"}, 1.0),
    ({"card": "  Business   CARD. ", "hours": "Twenty-four"}, 1.0),
    ({"card": "buisness card", "hours": "24"}, 1.0),  # one transposition, allowed by typos: 1
    ({"card": "busines card", "hours": "24"}, 1.0),  # one deletion
    ({"card": "bsuiness crad", "hours": "24"}, 0.5),  # two edits
    ({"card": "business card", "hours": "25"}, 0.5),  # "hours" has no typo tolerance
    ({"card": "", "hours": "24"}, 0.5),
    ({"card": "salary", "hours": "48"}, 0.0),
])
def test_cloze_scoring(cloze, answer, score):
    """Case, whitespace and surrounding punctuation are ignored; typos only where allowed."""
    assert grade("cloze", cloze, answer).score == score


def test_cloze_unicode_normalised(cloze):
    """Full-width digits and non-breaking spaces normalise before comparing."""
    assert grade("cloze", cloze, {"card": "business\u00a0card", "hours": "\uff12\uff14"}).score == 1.0


def test_cloze_short_answers_get_no_typo_tolerance():
    """Answers of four characters or fewer must be exact, even with typos: 1."""
    compiled = compile_spec("cloze", {"text": "A {{w}}.", "blanks": [{"id": "w", "accept": ["card"], "typos": 1}]})
    assert grade("cloze", compiled, {"w": "card"}).score == 1.0
    assert grade("cloze", compiled, {"w": "cart"}).score == 0.0


def test_cloze_feedback_per_blank(cloze):
    """Each blank is a check; a wrong blank shows its feedback and the learner's text."""
    result = grade("cloze", cloze, {"card": "phone", "hours": "24"})
    check = result.checks[0]
    assert check.id == "blank:card" and not check.passed
    assert "'phone'" in check.message and "A card." in check.message
    assert result.checks[1].passed


@pytest.mark.parametrize(("raw", "fragment"), [
    ({"card": "", "hours": " "}, "Every blank is empty."),
    ({"card": "x"}, "Every blank needs an answer; missing: hours."),
    ({"card": "x", "hours": "24", "extra": "y"}, "Unknown blank 'extra'"),
    ({"card": 3, "hours": "24"}, "The text for blank 'card' must be text."),
    ({"card": "x" * 201, "hours": "24"}, "longer than 200 characters"),
    (["business card", "24"], "The answer must give the text for each blank"),
    ("business card", "The answer must give the text for each blank"),
])
def test_cloze_invalid(cloze, raw, fragment):
    """Malformed answers are `invalid` and say what is wrong."""
    result = grade("cloze", cloze, raw)
    assert result.status == "invalid"
    assert fragment in result.message


def test_cloze_accept_entries_checked_one_by_one():
    """An entry that normalises to nothing is named by its own index, even after a folded duplicate."""
    spec = {"text": "{{a}}", "blanks": [{"id": "a", "accept": ["Card", "card", "..."]}]}
    message = spec_error("cloze", spec)
    assert "spec.blanks[0].accept[2]: '...' is empty once normalised" in message
    assert "accept[1]" not in message


def test_cloze_blank_id_must_be_a_slug():
    """A blank id with a space could never be written as a {{marker}}; the id itself is reported."""
    spec = {"text": "{{a}}", "blanks": [{"id": "a", "accept": ["x"]}, {"id": "b c", "accept": ["y"]}]}
    assert "spec.blanks[1].id: 'b c' is not a valid id" in spec_error("cloze", spec)


def test_cloze_text_without_blanks():
    """A cloze with no blanks is an authoring mistake."""
    assert "spec.text: has no blanks" in spec_error("cloze", {"text": "Nothing here.", "blanks": []})


def test_cloze_present_hides_answers(cloze):
    """The view is text segments and blank ids only."""
    view = present("cloze", cloze, 0)
    assert view["blanks"] == ["card", "hours"]
    assert view["segments"][1] == {"blank": "card"}
    dumped = json.dumps(view)
    assert "business" not in dumped and "24" not in dumped and "A card." not in dumped
    assert answer_key("cloze", cloze)["blanks"][0]["accept"] == ["business card", "contact details"]


@pytest.mark.parametrize(("a", "b", "expected"), [
    ("abcde", "abcde", True),
    ("abcde", "abxde", True),
    ("abcde", "abde", True),
    ("abcde", "abcdef", True),
    ("abcde", "bacde", True),
    ("abcde", "abced", True),
    ("abcde", "badce", False),
    ("abcde", "abc", False),
    ("abcde", "xbcdy", False),
])
def test_within_one_edit(a, b, expected):
    """Optimal-string-alignment distance <= 1, both ways round."""
    assert within_one_edit(a, b) is expected
    assert within_one_edit(b, a) is expected


def test_fold():
    """fold() normalises case, whitespace, quotes and surrounding punctuation."""
    assert fold("  \u201cBusiness\n  Card\u201d. ") == "business card"
