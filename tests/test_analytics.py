"""Cohort analytics maths: roster completion and attention flags, item statistics, the histogram SVG."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

import pytest

from web.services import analytics as an

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

OUTLINE = an.Outline(
    modules=(
        an.OutlineModule("why", "Why", ("l1",), ("e1",)),
        an.OutlineModule("how", "How", ("l2", "l3"), ("e2", "e3")),
    ),
    exercise_titles={"e1": "First", "e2": "Second", "e3": "Third"},
)


def attempt(uid, eid, score, *, passed=None, fails=(), oks=(), minutes=0, status=None, answer="", n=1):
    """Build an AttemptRow with the given failing and passing check ids."""
    passed = score >= 0.8 if passed is None else passed
    checks = [{"id": c, "passed": False, "message": f"{c} missing"} for c in fails]
    checks += [{"id": c, "passed": True, "message": ""} for c in oks]
    return an.AttemptRow(
        user_id=uid, exercise_id=eid, score=score, passed=passed,
        status=status or ("correct" if passed else "incorrect"), checks=checks,
        created_at=NOW - timedelta(days=1) + timedelta(minutes=minutes), attempt_number=n, answer=answer,
    )


def learner(uid, name=None, joined_days_ago=1):
    """Build a LearnerRow."""
    return an.LearnerRow(uid, name or f"L{uid}", f"l{uid}@example.org", NOW - timedelta(days=joined_days_ago))


def read(uid, lesson, days_ago=1):
    """Build a ReadRow."""
    return an.ReadRow(uid, lesson, NOW - timedelta(days=days_ago))


# ---------------------------------------------------------------------------------------------- roster


def test_roster_completion_counts_lessons_read_and_exercises_passed_per_module():
    """Module completion = (lessons read + exercises passed) / (lessons + exercises) of that module."""
    rows = an.roster(OUTLINE, [learner(1)], [attempt(1, "e1", 1.0), attempt(1, "e2", 0.5)],
                     [read(1, "l1"), read(1, "l2")], NOW)
    (e,) = rows
    assert e.module_completion == {"why": 1.0, "how": 0.25}
    assert e.completion == pytest.approx(3 / 6)
    assert e.exercises_passed == 1 and e.exercises_total == 3
    assert not e.complete
    assert e.last_activity == NOW - timedelta(days=1) + timedelta(minutes=0)


def test_roster_complete_learner_is_never_flagged_stalled():
    """A learner who finished everything is not 'stalled' however long ago they stopped."""
    attempts = [attempt(1, e, 1.0) for e in ("e1", "e2", "e3")]
    reads = [read(1, lid, days_ago=30) for lid in ("l1", "l2", "l3")]
    (e,) = an.roster(OUTLINE, [learner(1, joined_days_ago=40)], attempts, reads, NOW + timedelta(days=30))
    assert e.complete and e.completion == 1.0
    assert not e.needs_attention


def test_roster_complete_follows_the_course_completion_rule():
    """With a rule of 1 lesson and 2 exercises, a learner meeting it is complete though not everything is done."""
    outline = an.Outline(modules=OUTLINE.modules, rule=an.CompletionRule(lessons=1, exercises=2))
    attempts = [attempt(1, "e1", 1.0), attempt(1, "e3", 1.0)]
    (done,) = an.roster(outline, [learner(1)], attempts, [read(1, "l2")], NOW)
    assert done.complete and done.completion < 1.0
    (short,) = an.roster(outline, [learner(2)], [attempt(2, "e1", 1.0)], [read(2, "l2")], NOW)
    assert not short.complete


def test_completion_rule_reads_all_or_counts():
    """`all` means every lesson or exercise; a number is taken as is."""

    class FakeCourse:
        """Just what completion_rule reads."""

        def __init__(self, completion):
            """Keep the completion mapping."""
            self.completion = completion

        def lesson_order(self):
            """Three lessons."""
            return ["l1", "l2", "l3"]

        def exercise_order(self):
            """Three exercises."""
            return ["e1", "e2", "e3"]

    assert an.completion_rule(FakeCourse({})) == an.CompletionRule(3, 3)
    assert an.completion_rule(FakeCourse({"lessons": "all", "exercises": 2})) == an.CompletionRule(3, 2)


def test_roster_stalled_after_n_days_including_never_started():
    """No activity for more than N days while not complete raises the flag; joining counts as activity."""
    old = [read(1, "l1", days_ago=8)]
    rows = an.roster(OUTLINE, [learner(1, joined_days_ago=20), learner(2, joined_days_ago=10),
                               learner(3, joined_days_ago=2)], [], old, NOW, stall_days=7)
    flags = {e.user_id: e.needs_attention for e in rows}
    assert flags == {1: True, 2: True, 3: False}
    assert "no activity for more than 7 days" in rows[0].attention
    # The threshold is configurable.
    rows = an.roster(OUTLINE, [learner(1, joined_days_ago=20)], [], old, NOW, stall_days=10)
    assert not rows[0].needs_attention


def test_repeated_failure_needs_three_consecutive_attempts_failing_the_same_check():
    """The same check failed on >= 3 consecutive attempts flags; a pass in between resets the run."""
    three = [attempt(1, "e2", 0.2, fails=("ask",), minutes=i) for i in range(3)]
    assert an.repeated_failures(three) == {"e2": ["ask"]}
    broken = [attempt(1, "e2", 0.2, fails=("ask",), minutes=0),
              attempt(1, "e2", 0.4, fails=("tone",), oks=("ask",), minutes=1),
              attempt(1, "e2", 0.2, fails=("ask", "tone"), minutes=2),
              attempt(1, "e2", 0.2, fails=("ask", "tone"), minutes=3)]
    assert an.repeated_failures(broken) == {"e2": ["tone"]}
    # Different checks failing each time is not the same check again and again.
    varied = [attempt(1, "e2", 0.2, fails=(c,), minutes=i) for i, c in enumerate("abc")]
    assert an.repeated_failures(varied) == {}


def test_repeated_failure_ignores_invalid_answers_and_passed_exercises():
    """Invalid answers cost no attempt, so they neither extend nor break a run; a later pass clears it."""
    rows = [attempt(1, "e2", 0.2, fails=("ask",), minutes=0),
            attempt(1, "e2", 0.0, status="invalid", passed=False, minutes=1),
            attempt(1, "e2", 0.2, fails=("ask",), minutes=2)]
    assert an.repeated_failures(rows) == {}
    rows.append(attempt(1, "e2", 0.2, fails=("ask",), minutes=3))
    assert an.repeated_failures(rows) == {"e2": ["ask"]}
    rows.append(attempt(1, "e2", 0.9, fails=("ask",), passed=True, minutes=4))
    assert an.repeated_failures(rows) == {}


def test_roster_flags_repeated_failure_with_a_reason():
    """The roster turns a repeated failure into a readable reason."""
    rows = [attempt(1, "e3", 0.1, fails=("thanks",), minutes=i, n=i + 1) for i in range(3)]
    (e,) = an.roster(OUTLINE, [learner(1)], rows, [], NOW)
    assert e.attention == ("failed check thanks 3+ times in a row on “Third”",)


def _entries():
    """Three roster lines with distinct completion, passes and activity."""
    learners = [learner(1, "Chloé"), learner(2, "ana", joined_days_ago=30), learner(3, "Bob")]
    attempts = [attempt(1, "e1", 1.0), attempt(1, "e2", 1.0, minutes=5), attempt(3, "e1", 1.0, minutes=10)]
    return an.roster(OUTLINE, learners, attempts, [], NOW)


@pytest.mark.parametrize(
    ("sort", "order", "expected"),
    [
        ("name", "asc", [2, 3, 1]),
        ("name", "desc", [1, 3, 2]),
        ("completion", "desc", [1, 3, 2]),
        ("passed", "asc", [2, 3, 1]),
        ("last_activity", "desc", [3, 1, 2]),
        ("last_activity", "asc", [2, 1, 3]),
        ("bogus", "asc", [2, 3, 1]),
    ],
)
def test_sort(sort, order, expected):
    """Every sort key orders as documented; an unknown key falls back to name."""
    assert [e.user_id for e in an.sort_and_filter(_entries(), sort, order)] == expected


def test_filter_attention_and_search():
    """filter=attention keeps flagged learners; q matches name or email, case-insensitively."""
    entries = _entries()
    assert [e.user_id for e in an.sort_and_filter(entries, attention_only=True)] == [2]
    assert [e.user_id for e in an.sort_and_filter(entries, q="CHLO")] == [1]
    assert [e.user_id for e in an.sort_and_filter(entries, q="l3@")] == [3]


# ------------------------------------------------------------------------------------------ item analysis


def test_discrimination_index_is_top_third_minus_bottom_third():
    """DI = mean item score of the top third by total minus that of the bottom third."""
    pairs = [(1.0, 3.0), (1.0, 2.5), (0.5, 2.0), (0.5, 1.5), (0.0, 1.0), (0.25, 0.5)]
    assert an.discrimination_index(pairs) == pytest.approx(1.0 - 0.125)
    # A question the weak learners get right and the strong ones wrong discriminates negatively.
    assert an.discrimination_index([(0.0, 3.0), (0.5, 2.0), (1.0, 1.0)]) == pytest.approx(-1.0)


def test_statistics_are_na_below_three_learners():
    """Facility and discrimination are n/a (None) with fewer than 3 learners; the mean is still shown."""
    assert an.discrimination_index([(1.0, 1.0), (0.0, 0.0)]) is None
    (e1, *_rest) = an.item_analysis(OUTLINE, [attempt(1, "e1", 1.0), attempt(2, "e1", 0.5)])
    assert e1.facility is None and e1.discrimination is None
    assert e1.mean_first_score == pytest.approx(0.75)


def test_item_analysis_uses_first_attempts_for_facility_and_counts_every_attempt():
    """Facility is on first attempts; attempts counts all valid ones; pass rate is per learner."""
    rows = [
        attempt(1, "e1", 0.4, minutes=0), attempt(1, "e1", 1.0, minutes=1),
        attempt(2, "e1", 0.6, minutes=0),
        attempt(3, "e1", 0.8, minutes=0),
        attempt(3, "e1", 0.0, status="invalid", passed=False, minutes=2),
        attempt(1, "e2", 1.0), attempt(2, "e2", 0.5), attempt(3, "e2", 0.0),
    ]
    stats = {s.exercise_id: s for s in an.item_analysis(OUTLINE, rows)}
    e1 = stats["e1"]
    assert e1.attempts == 4 and e1.learners == 3
    assert e1.mean_first_score == pytest.approx(0.6)
    assert e1.facility == pytest.approx(60.0)
    assert e1.pass_rate == pytest.approx(2 / 3)
    # Totals (best per exercise): learner 1 = 2.0, learner 2 = 1.1, learner 3 = 0.8; first scores 0.4 / 0.6 / 0.8.
    assert e1.discrimination == pytest.approx(0.4 - 0.8)
    assert stats["e3"].learners == 0 and stats["e3"].pass_rate is None and stats["e3"].mean_first_score is None


def test_failed_checks_ranked_with_share_and_truncated_distinct_samples():
    """Checks rank by failures; share is failures / attempts that ran the check; samples are capped and short."""
    long = "I would like " + "very " * 100 + "much to work here."
    rows = [
        attempt(1, "e2", 0.2, fails=("ask", "tone"), answer=long, minutes=0),
        attempt(2, "e2", 0.2, fails=("ask",), oks=("tone",), answer="<b>Hi</b>", minutes=1),
        attempt(3, "e2", 0.2, fails=("ask",), oks=("tone",), answer="<b>Hi</b>", minutes=2),
        attempt(4, "e2", 1.0, oks=("ask", "tone"), answer="fine", minutes=3),
    ]
    ask, tone = an.failed_checks(rows)
    assert (ask.id, ask.failed, ask.graded, ask.share) == ("ask", 3, 4, 0.75)
    assert (tone.id, tone.failed, tone.graded) == ("tone", 1, 4)
    assert ask.message == "ask missing"
    # Duplicates collapse; newest first; long answers are cut with an ellipsis.
    assert ask.samples[0] == "<b>Hi</b>" and len(ask.samples) == 2
    assert len(ask.samples[1]) == an.SAMPLE_ANSWER_CHARS and ask.samples[1].endswith("\u2026")


# ---------------------------------------------------------------------------------------------- histogram


def test_histogram_bins_and_edges():
    """Ten equal bins; 1.0 goes in the last one; out-of-range values are clamped."""
    counts = an.histogram([0.0, 0.05, 0.1, 0.55, 0.99, 1.0, 1.5, -0.2])
    assert counts == [3, 1, 0, 0, 0, 1, 0, 0, 0, 3]
    assert sum(counts) == 8


def test_histogram_svg_is_accessible_and_csp_safe():
    """role=img with a labelled <title>/<desc>, one bar per bin, no style or script anywhere."""
    svg = str(an.histogram_svg(an.histogram([0.1, 0.95, 0.97]), "Scores for <e1>", "h-e1"))
    root = ET.fromstring(svg)  # noqa: S314 - our own markup, not untrusted input
    ns = "{http://www.w3.org/2000/svg}"
    assert root.get("role") == "img"
    assert root.get("aria-labelledby") == "h-e1-title h-e1-desc"
    assert root.find(f"{ns}title").text == "Scores for <e1>"  # escaped in the markup, intact when parsed
    desc = root.find(f"{ns}desc").text
    assert "3 scores" in desc and "90-100%: 2" in desc
    assert len(root.findall(f"{ns}rect")) == 10
    assert not re.search(r"style|script|on\w+=", svg)


def test_histogram_svg_with_no_scores_says_so():
    """An empty chart still has a description rather than a blank image."""
    svg = str(an.histogram_svg(an.histogram([]), "Empty", "h-x"))
    assert "No scores yet." in svg
