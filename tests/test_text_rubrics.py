"""The three shipped free-text rubrics against a table of realistic answers, good and tricky-bad.

Each row says whether the answer must pass, exactly which checks must fail, and (where it matters)
which words the feedback must highlight.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

import graders
from graders import text
from graders.base import Context

ROOT = Path(__file__).resolve().parent.parent


def _load(exercise_id: str):
    """Compile a shipped exercise's spec and return it with the raw file."""
    raw = yaml.safe_load((ROOT / "exercises" / f"{exercise_id}.yaml").read_text(encoding="utf-8"))
    return graders.compile_spec("text", raw["spec"]), raw


CLOSE, CLOSE_RAW = _load("rewrite-aggressive-close")
EMAIL, EMAIL_RAW = _load("thank-you-email")
CONCERN, CONCERN_RAW = _load("address-a-concern")
ALL_GUARDED = {"interest", "concerns-or-fit", "next-steps", "no-presumption", "tone", "length", "asks-a-question",
               "real-sentences"}


def _grade(spec, answer):
    """Grade an answer through the engine with the course's default threshold."""
    return graders.grade("text", spec, answer, Context(pass_threshold=0.8))


def _assert_row(spec, answer, passed, failing, spans):
    """Check pass/fail, the exact set of failing checks, and the highlighted words."""
    result = _grade(spec, answer)
    failed = {c.id for c in result.checks if not c.passed}
    assert result.passed is passed, (failed, [c.message for c in result.checks if not c.passed])
    assert failed == set(failing), [c.message for c in result.checks if not c.passed]
    for check_id, expected in spans.items():
        check = next(c for c in result.checks if c.id == check_id)
        got = [result.answer_text[a:b] for a, b in check.spans]
        for words in expected:
            assert any(words.lower() == g.lower() for g in got), f"{check_id}: {words!r} not in {got}"
    if not passed:
        assert result.status in ("partial", "incorrect")


# ---- rewrite-aggressive-close ------------------------------------------------------------------------------------

CLOSE_ROWS = [
    # Graduate: plain and warm.
    ("I've really enjoyed hearing about the team today and I'm keen on this role. Is there anything about my "
     "background that concerns you? What would the next steps be?", True, set(), {"interest": ["keen"]}),
    # Agency candidate, briefed by a recruiter.
    ("Thanks, Ruth. This is exactly the kind of role I've been looking for, and the housing data work "
     "appeals to me. Do you have any reservations about my experience? And when should I expect to hear back?",
     True, set(), {"concerns-or-fit": ["any reservations about my"]}),
    # Career changer from teaching.
    ("Coming from teaching, I know my path here is unusual, but I'm genuinely excited about this position. "
     "How do I compare with the other people you're seeing? Could you tell me about the timeline for a "
     "decision?", True, set(), {"concerns-or-fit": ["How do I compare with the"]}),
    # Fit question instead of concerns, next steps as an indirect question.
    ("I would love to join your analytics team. Do you think I'd be a good fit for the role? I'd love to know "
     "what happens next.", True, set(), {}),
    # Curly apostrophes and a line break.
    ("I\u2019m very interested in the role.\nIs there anything that would hold you back from moving me "
     "forward? What\u2019s the next stage of the process?", True, set(), {}),
    # More everyday phrasings.
    ("Thank you so much for your time today. I have really enjoyed learning about the team and I'm very keen to "
     "be part of it. Before we wrap up, is there anything about my experience that you'd like me to clarify? "
     "And what are the next steps from here?", True, set(), {}),
    ("I just want to say that this conversation has made me even more enthusiastic about the role. Are there "
     "any areas where you feel I might not be the right fit? What's the timeline for making a decision?", True,
     set(), {"concerns-or-fit": ["right fit"]}),
    ("I want this job. Do you have any doubts about whether I could do it well? What happens next?", True, set(),
     {}),
    ("I really hope I get this role, it's exactly what I'm looking for. Is there anything in my application "
     "that worries you? And when would you be able to let me know?", True, set(), {}),
    # The phrasings the lessons themselves teach (saying-you-want-the-job, surfacing-concerns, putting-it-together).
    ("I came in interested, and after today I'd really like to join the team. Is there anything about my "
     "background that you're unsure about for this role? What happens next, and when might I hear?", True, set(),
     {"interest": ["I'd really like to join"], "concerns-or-fit": ["my background that you're unsure about"]}),
    ("I'd really like this job. On a scale of one to ten, how closely do I match what you need? When are you "
     "hoping to decide?", True, set(), {}),
    # Career changer, in the words of the prompt ("how you measure up").
    ("I know I'm coming from teaching, but I'm really drawn to this role. How do I measure up against what you "
     "need? When do you expect to let candidates know?", True, set(), {"concerns-or-fit": ["How do I measure up"]}),
    ("It's been great to talk to you and I'm very keen on this role. How well do you think I fit what you're "
     "looking for? Where do we go from here?", True, set(), {}),
    ("I would love to join the team. Are there any areas where you feel I might fall short? When should I "
     "expect to hear from you?", True, set(), {}),
    # Not a native speaker; a question that asks "does anything concern you".
    ("Thank you very much for the interview. I am very much interested for this position. Do you have some doubt "
     "about my profile? When I will know the result?", True, set(), {"next-steps": ["When I will know the result"]}),
    ("I'm very excited about this position. Does anything about my experience concern you? When do you think "
     "you'll be able to get back to me?", True, set(), {}),
    # The prompt's own bullet points pasted back say what the close should do, not the close itself.
    ("That you want this role; that you would like to hear any doubts she has about you, or how you measure up; "
     "what happens next, and when?", False, {"interest"}, {}),
    # Naming another offer is pressure, however it is put.
    ("I'd really like this job. How do I stack up against the others? Another company has offered me a role, "
     "so what happens now?", False, {"tone"}, {"tone": ["Another company has offered"]}),
    ("I'm keen on this stupid role. Any concerns about me? What are the next steps?", False, {"tone"},
     {"tone": ["stupid role"]}),
    ("Well, that was riveting. I'm so interested in this role. Any concerns about me? What are the next steps?",
     False, {"tone"}, {"tone": ["that was riveting"]}),
    ("I'd really like this job. Any concerns about me? If I don't hear by Monday I'll assume it's a no, so what "
     "happens next?", False, {"tone"}, {}),
    # Keyword list.
    ("interested concerns next steps timeline fit", False, ALL_GUARDED, {}),
    ("Interested. Keen. Concerns? Fit? Next steps? Timeline? Process? Hear back?", False, ALL_GUARDED, {}),
    # Concept spam: same sentence five times.
    (" ".join(["I'm interested in the role, any concerns, what are the next steps?"] * 5), False, ALL_GUARDED,
     {"real-sentences": ["I'm interested in the role, any concerns, what are the next steps?"]}),
    # Negation, several forms.
    ("I'm not really interested in the role if I'm honest. Do you have any concerns about my fit? What are the "
     "next steps?", False, {"interest"}, {"interest": ["not really interested in the"]}),
    ("There is no real interest in the job from my side. Do you have any concerns about me? What are the next "
     "steps?", False, {"interest"}, {"interest": ["no real interest in the"]}),
    ("I don't want to join a team that works like this. Do you have any concerns about me? What are the next "
     "steps?", False, {"interest"}, {"interest": ["don't want to join"]}),
    # Presumption in its many forms.
    ("I'm very keen on the role. Do you have any concerns about me? So when can I start?", False,
     {"no-presumption", "next-steps"}, {"no-presumption": ["when can I start"]}),
    ("I'm very keen on the role. Do you have any concerns about me? What are the next steps, and when's my "
     "start date?", False, {"no-presumption"}, {"no-presumption": ["when's my start date"]}),
    ("I'm keen on the role. Any concerns about my fit? When will I get the offer letter, and what are the next "
     "steps?", False, {"no-presumption"}, {"no-presumption": ["When will I get the offer letter"]}),
    ("I'm keen on the role and you'd be crazy not to hire me. Any concerns about me? What are the next steps?",
     False, {"no-presumption"}, {"no-presumption": ["crazy not to hire me"]}),
    ("I'm keen on the role, and honestly I'm the best candidate you'll see. Any concerns? What are the next "
     "steps?", False, {"no-presumption"}, {"no-presumption": ["I'm the best candidate"]}),
    ("I'm excited about the role. Do you have any concerns about me? What does onboarding look like, and what "
     "are the next steps? See you on Monday!", False, {"no-presumption"},
     {"no-presumption": ["onboarding", "See you on Monday"]}),
    # Hopeful, not presumptuous.
    ("I'm keen on the role, and I'd love to start contributing to the team's research if selected. Do you have "
     "any concerns about my background? When will I hear back?", True, set(), {}),
    # Pressure and demands.
    ("I'm interested in the role. Any concerns about my fit? I have other offers, so decide quickly. What are "
     "the next steps?", False, {"tone"}, {"tone": ["other offers", "decide quickly"]}),
    ("I'm very keen on the role. Do you have any concerns about me? What are the next steps? I need an answer "
     "by Friday.", False, {"tone"}, {"tone": ["answer by Friday"]}),
    ("I'm keen on the role. Any concerns about me? You must tell me the next steps today.", False,
     {"tone", "next-steps"}, {"tone": ["You must tell"]}),
    # Rude and sarcastic.
    ("Oh great, another panel. I'm interested in the role anyway. Any concerns about my background? What are "
     "the next steps?", False, {"tone"}, {"tone": ["Oh great"]}),
    ("I'm keen on the job, though this was a waste of my time. Do you have any concerns? What are the next "
     "steps?", False, {"tone"}, {"tone": ["waste of my time"]}),
    # All capitals.
    ("I AM VERY KEEN ON THIS ROLE. DO YOU HAVE ANY CONCERNS ABOUT ME? WHAT ARE THE NEXT STEPS?", False, {"tone"},
     {"tone": ["KEEN"]}),
    # Too short / too long.
    ("Keen. Any concerns? Next steps?", False, {"length"}, {}),
    ("I'm really keen on this role. " + " ".join(f"I have done project number {n} on housing data." for n in
                                                 range(15)) + " Any concerns about me? What are the next steps?",
     False, {"length"}, {}),
    # No question at all.
    ("I am very interested in this role and I welcome any concerns you may have about my background. I look "
     "forward to hearing about the next steps.", False, {"next-steps", "asks-a-question"}, {}),
    # No punctuation at all.
    ("i am very keen on this role and i wonder if you have any concerns about my background and what the next "
     "steps in your process are and when i will hear back", False, ALL_GUARDED, {}),
    # The candidate's own worries are not an invitation to hear the interviewer's; hung on the interest with
    # "although", they also take it back (the backhanded-concession tone rule).
    ("I am keen on the role, although I do have some concerns about the commute. What are the next steps?",
     False, {"concerns-or-fit", "tone"}, {}),
    # Asking about the interviewer's interest is not stating your own.
    ("Are you interested in seeing my portfolio? Do you have any concerns about my fit? What are the next "
     "steps?", False, {"interest"}, {}),
    # Curiosity is not interest.
    ("I'd be interested to know more about the team. Do you have any concerns about my fit? What are the next "
     "steps?", False, {"interest"}, {}),
]


@pytest.mark.parametrize(("answer", "passed", "failing", "spans"), CLOSE_ROWS,
                         ids=[f"close{i}" for i in range(len(CLOSE_ROWS))])
def test_rewrite_aggressive_close(answer, passed, failing, spans):
    """The close rubric: interest, doubts or fit, next steps, no presumption, no pressure, form."""
    _assert_row(CLOSE, answer, passed, failing, spans)


# ---- thank-you-email --------------------------------------------------------------------------------------------

SIGN = "\n\nKind regards,\nMaya Okafor"
BODY = ("Thank you for your time yesterday. I especially enjoyed hearing how the scheduling system will keep "
        "depot staff informed. Running the food bank rota taught me how much depends on telling people early, "
        "and I would love to bring that to your team. I am still very keen on the role.")
EMAIL_ALL = {"greeting", "thanks", "specific-detail", "fit-reminder", "interest", "sign-off", "no-presumption",
             "no-pressure", "length", "real-sentences"}

EMAIL_ROWS = [
    ("Dear Tom,\n\n" + BODY + SIGN, True, set(),
     {"sign-off": ["Kind regards,\nMaya Okafor"], "greeting": ["Dear Tom"]}),
    # Graduate, different wording, sign-off on one line.
    ("Hello Tom,\n\nMany thanks for meeting me on Tuesday. It was great to learn how your team handles late "
     "deliveries. During my degree I coordinated a volunteer rota of forty people, so I know how quickly plans "
     "change. I remain really interested in the coordinator position.\n\nBest wishes, Sam Lee", True, set(), {}),
    # Career changer, hard-wrapped lines.
    ("Dear Mr Reyes,\n\nThank you for taking the time to speak with me. You described the spring rollout\n"
     "so clearly that I came away full of ideas. After eight years running restaurant shifts, my\n"
     "experience rebuilding staff plans at short notice should carry over well. I am excited about\n"
     "the chance to move into logistics.\n\nBest regards,\nAisha Rahman", True, set(), {}),
    # A note written for another interview (Priya, a tenant survey): specific, but not to anything Tom said.
    ("Dear Priya,\n\nThank you for taking the time to meet with me yesterday. I really enjoyed our conversation "
     "about the tenant survey project, especially how you plan to use the results to prioritise repairs.\n\nMy "
     "experience analysing customer feedback at my placement would let me contribute to that work quickly. I'm "
     "even more excited about the role after our chat.\n\nBest wishes,\nJordan", False, {"specific-detail"}, {}),
    # A subject line before the greeting, contact details under the name.
    ("Subject: Thank you\n\nDear Tom,\n\n" + BODY + SIGN + "\n07700 900123\nmaya.okafor@example.org", True, set(),
     {"greeting": ["Dear Tom"]}),
    # The detail named by its topic, not by "hearing about"; "Thanks again," and "Yours sincerely," sign-offs.
    ("Dear Tom,\n\nThank you for taking the time to talk with me yesterday. Your explanation of how the team "
     "keeps drivers, depot staff and customers informed stayed with me. In ten years of retail management I "
     "scheduled staff across three stores, so I could bring that calm approach to Northgate. I remain very "
     "interested in the role.\n\nThanks again,\nAlex Morgan", True, set(),
     {"sign-off": ["Thanks again,\nAlex Morgan"]}),
    ("Dear Tom,\n\nThank you for your time yesterday. I was struck by what you said about keeping customers "
     "informed when plans change at the depot. At the food bank I organised a rota of thirty volunteers and sent "
     "updates whenever shifts moved. I would really like to join the team.\n\nYours sincerely,\nMaria Lopez",
     True, set(), {}),
    # "I look forward to receiving your offer" presumes the decision (the thank-you-note lesson lists it).
    ("Dear Tom,\n\n" + BODY + " I look forward to receiving your offer." + SIGN, False, {"no-presumption"},
     {"no-presumption": ["look forward to receiving your offer"]}),
    # Keyword list.
    ("Dear Tom, thanks, time, scheduling, rota, experience, skills, interested, keen, role, logistics, fit, "
     "depot, drivers, customers, planning, communication, next steps, regards, Maya", False, EMAIL_ALL, {}),
    # Fit claimed through one's skills fails (a claim, not experience); told through a past job title, it counts.
    ("Dear Tom,\n\nThank you for meeting me yesterday and for explaining the new scheduling system. I believe my "
     "organisational skills and calm approach under pressure would be an asset to your team as it rolls out. I "
     "am even more excited about the role after our conversation.\n\nBest regards,\nSam Patel", False,
     {"fit-reminder"}, {}),  # "my organisational skills" is a claim; nothing the candidate did backs it
    ("Dear Mr Reyes,\n\nMany thanks for your time on Tuesday. It was great to hear how the team keeps drivers "
     "and customers informed when plans change. As a shift supervisor at a supermarket, I rewrote the rota every "
     "week when deliveries slipped, so this work feels familiar. I would love to join Northgate.\n\nKind "
     "regards,\nJordan", True, set(), {"fit-reminder": ["As a shift supervisor"]}),
    # An informal greeting is still a greeting.
    ("Hey Tom,\n\n" + BODY + SIGN, True, set(), {"greeting": ["Hey Tom"]}),
    # No greeting.
    (BODY + SIGN, False, {"greeting"}, {}),
    # No sign-off name.
    ("Dear Tom,\n\n" + BODY + "\n\nKind regards", False, {"sign-off"}, {}),
    # A postscript after the signed name leaves the email signed (as letters and emails do).
    ("Dear Tom,\n\n" + BODY + SIGN + "\nP.S. I will also bring my portfolio next time we meet.", True, set(), {}),
    # More prose after the sign-off that is no postscript: the email does not end with the name.
    ("Dear Tom,\n\n" + BODY + SIGN + "\nI will also bring my portfolio next time we meet.", False,
     {"sign-off"}, {}),
    # No thanks.
    ("Dear Tom,\n\n" + BODY.replace("Thank you for your time yesterday. ", "I am writing after yesterday. ")
     + SIGN, False, {"thanks"}, {}),
    # Nothing specific.
    ("Dear Tom,\n\nThank you for your time yesterday, and for the warm welcome at the office. Running the food "
     "bank rota taught me how much depends on telling people early, and I would love to bring that habit to "
     "your team. I am still very keen on the role."
     + SIGN, False, {"specific-detail"}, {}),
    # Negated interest.
    ("Dear Tom,\n\n" + BODY.replace("I am still very keen on the role.", "I am not really keen on the night "
                                    "shifts, to be honest.") + SIGN, False, {"interest"},
     {"interest": ["not really keen on"]}),
    # Presumption.
    ("Dear Tom,\n\n" + BODY + " Please send the offer letter to my home address. See you on Monday!" + SIGN,
     False, {"no-presumption"}, {"no-presumption": ["send the offer letter", "See you on Monday"]}),
    ("Dear Tom,\n\n" + BODY + " When I start, I will sort out the depot rota first." + SIGN,
     False, {"no-presumption"}, {"no-presumption": ["When I start"]}),
    # Pressure.
    ("Dear Tom,\n\n" + BODY + " I have another offer, so I need to know by Friday." + SIGN, False,
     {"no-pressure"}, {"no-pressure": ["another offer", "need to know by Friday"]}),
    # Too short.
    ("Dear Tom, thanks for your time. I'm keen on the role.\nBest,\nMaya", False,
     {"specific-detail", "fit-reminder", "length"}, {}),
    # Too long.
    ("Dear Tom,\n\n" + BODY + " " + " ".join(f"Point {n} is that I also enjoyed our chat about the depot." for n
                                              in range(25)) + SIGN, False, {"length"}, {}),
    # No greeting: "afternoon" closing the first sentence greets nobody (a greeting opens its line).
    ("Thank you for your time yesterday afternoon. " + BODY[len("Thank you for your time yesterday. "):] + SIGN,
     False, {"greeting"}, {}),
]


@pytest.mark.parametrize(("answer", "passed", "failing", "spans"), EMAIL_ROWS,
                         ids=[f"email{i}" for i in range(len(EMAIL_ROWS))])
def test_thank_you_email(answer, passed, failing, spans):
    """The email rubric: greeting, thanks, detail, fit, interest, sign-off, no presumption or pressure, length."""
    _assert_row(EMAIL, answer, passed, failing, spans)


# ---- address-a-concern ------------------------------------------------------------------------------------------

CONCERN_ALL = {"acknowledges", "not-defensive", "evidence", "plan", "positive", "no-presumption", "no-pressure",
               "length", "real-sentences"}

CONCERN_ROWS = [
    ("That's a fair concern, and you're right that I haven't used Tableau. In my last role I built weekly "
     "dashboards in Power BI, so the ideas are familiar. I've already started the free Tableau training and "
     "plan to rebuild one of those dashboards in it over the next two weeks.", True, set(),
     {"acknowledges": ["That's a fair concern"]}),
    # Graduate.
    ("I understand why that matters to the team. During my final-year project I analysed survey data in Excel "
     "and built pivot table reports. I would work through the official Tableau course in the evenings before "
     "starting and ask a colleague to review my first dashboards.", True, set(), {}),
    # Career changer.
    ("Thank you for raising it; Tableau is new to me. As a store manager I used our sales software every day "
     "and taught myself the reporting side. My plan is to complete a Tableau certificate within the first "
     "month, practising on your public data.", True, set(), {}),
    ("That's completely understandable. While I haven't used Tableau itself, I've spent two years building "
     "reports in Power BI, which works on very similar principles. I've signed up for Tableau's free training "
     "and I'd aim to finish it within my first two weeks.", True, set(), {}),
    ("You're right, it's a gap. I picked up SQL in three weeks for my dissertation, so I'm confident I can "
     "learn quickly. I'll work through the Tableau tutorials every evening this month.", True, set(), {}),
    # Informal, with a plan for "this week"; an acknowledgement with an adverb.
    ("Totally get that. I've not touched Tableau, but I use Google Sheets and Looker Studio every day for "
     "reporting. I'm going to download Tableau Public this week and work through their training.", True, set(),
     {}),
    ("I completely understand why that matters. As a nurse I built charts in spreadsheets for our ward audits. "
     "I've signed up for a Tableau course and will spend an hour each evening on it.", True, set(), {}),
    # Brushing it aside (the lesson's own example of what not to do).
    ("Honestly, Tableau is easy, so that won't be a problem at all. In my last role I used Excel every day and "
     "I will take a course in my first week.", False, {"acknowledges", "not-defensive"},
     {"not-defensive": ["that won't be a problem"]}),
    # Keyword list.
    ("fair concern tableau power bi dashboards excel course training weekend plan learn", False, CONCERN_ALL, {}),
    # Defensive.
    ("That's not fair, I have loads of experience. In my last role I used Excel daily and I will take a course "
     "over the next few weeks.", False, {"acknowledges", "not-defensive"},
     {"not-defensive": ["That's not fair"]}),
    ("Honestly it's just a tool and anyone can learn it. That's a fair point, though: in my last role I used "
     "Power BI, and I will take a course in the first week.", False, {"not-defensive"},
     {"not-defensive": ["it's just a tool", "anyone can learn it"]}),
    # No evidence.
    ("That's a fair concern and I appreciate you raising it. I will take the official Tableau course over the "
     "next two weeks and ask to pair with someone on the team.", False, {"evidence"}, {}),
    # Vague plan.
    ("That's a fair concern. In my last role I built dashboards in Power BI, so I'm sure I'll pick it up as I "
     "go along once I'm in the job.", False, {"plan"}, {}),
    # Negated plan.
    ("That's a fair point. In my last role I built dashboards in Power BI. I don't plan to take a course, "
     "though, and I never practise in the evenings.", False, {"plan"}, {"plan": ["don't plan to"]}),
    # Running yourself down.
    ("That's a fair concern. I'm terrible with new software, but in my last role I used Excel, and I will take "
     "a course in the first month.", False, {"positive"}, {"positive": ["I'm terrible with"]}),
    # Rude.
    ("That's a stupid concern. In my last role I used Power BI for all the monthly reports, and I will take a "
     "Tableau course within a week.", False,
     {"acknowledges", "positive"}, {"positive": ["stupid concern"]}),
    # Too short.
    ("Fair point. I'll do a course this week.", False, {"evidence", "length"}, {}),
    # Repeated.
    (" ".join(["That's a fair concern; I used Power BI and I will take a course this week."] * 3), False,
     CONCERN_ALL, {}),
]


@pytest.mark.parametrize(("answer", "passed", "failing", "spans"), CONCERN_ROWS,
                         ids=[f"concern{i}" for i in range(len(CONCERN_ROWS))])
def test_address_a_concern(answer, passed, failing, spans):
    """The concern rubric: acknowledge, not defensive, evidence, plan, positive, length."""
    _assert_row(CONCERN, answer, passed, failing, spans)


# ---- the rubrics are what the issue says ---------------------------------------------------------------------------

@pytest.mark.parametrize(("spec", "ids"), [
    (CLOSE, ["interest", "concerns-or-fit", "next-steps", "no-presumption", "tone", "length", "asks-a-question",
             "real-sentences"]),
    (EMAIL, ["greeting", "thanks", "specific-detail", "fit-reminder", "interest", "sign-off", "no-presumption",
             "no-pressure", "length", "real-sentences"]),
    (CONCERN, ["acknowledges", "not-defensive", "evidence", "plan", "positive", "no-presumption", "no-pressure",
               "length", "real-sentences"]),
])
def test_every_check_is_required(spec, ids):
    """Passing needs all of the rubric's points: every check is required."""
    assert [c.id for c in spec.checks] == ids
    assert all(c.required for c in spec.checks)


def test_length_limits_match_the_issue():
    """15-120, 50-250 and 25-150 words, shown to the learner through present()."""
    assert graders.present("text", CLOSE, 0) == {"kind": "text", "min_words": 15, "max_words": 120}
    assert graders.present("text", EMAIL, 0) == {"kind": "text", "min_words": 50, "max_words": 250}
    assert graders.present("text", CONCERN, 0) == {"kind": "text", "min_words": 25, "max_words": 150}


def test_close_tone_covers_pressure_demands_sarcasm_rudeness():
    """The close's tone check uses the four categories the issue names, and complaint."""
    tone = next(c for c in CLOSE.checks if c.id == "tone")
    assert set(tone.categories) == {"pressure", "demands", "sarcasm", "rudeness", "complaint"}


@pytest.mark.parametrize("raw", [CLOSE_RAW, EMAIL_RAW, CONCERN_RAW], ids=["close", "email", "concern"])
def test_samples_grade_as_declared(raw):
    """The exercise files' own samples: at least 3 passing and 5 failing, each grading as declared."""
    spec = graders.compile_spec("text", raw["spec"])
    assert len(raw["samples"]["pass"]) >= 3 and len(raw["samples"]["fail"]) >= 5
    for answer in raw["samples"]["pass"]:
        assert _grade(spec, answer).passed, answer
    for answer in raw["samples"]["fail"]:
        result = _grade(spec, answer)
        assert not result.passed and result.status != "invalid", answer


def test_feedback_names_a_lesson_for_every_rubric_check():
    """Each rubric check (besides the form checks) sends the learner back to a lesson."""
    for spec in (CLOSE, EMAIL, CONCERN):
        for c in spec.checks:
            if c.kind in ("require", "forbid", "tone"):
                assert c.lesson, c.id


def test_answer_key_exposes_the_phrases_for_instructors_only():
    """The instructor key lists the presumption phrases; the learner view has none of them."""
    key = graders.answer_key("text", CLOSE)
    presumption = next(c for c in key["checks"] if c["id"] == "no-presumption")
    # The check forbids a local concept built from the shared presumption lexicon and the terms-question one.
    assert any("start" in p for p in presumption["concepts"]["presumes"]["use"]["presumption"]["phrases"])
    assert "start" not in str(graders.present("text", CLOSE, 1))


def test_rules_are_shared_not_copied():
    """The shipped specs reuse the shared lexicons rather than re-listing their phrases."""
    assert {"interest", "presumption", "next-steps", "concerns", "fit-question"} <= set(CLOSE.concepts)
    assert text.default_rules().lexicons["presumption"] is CLOSE.concepts["presumption"]
