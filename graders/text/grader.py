"""`text` grader: a free-text answer judged against a rubric of rule checks, each explained with its evidence.

Spec shape (documented for authors in docs/exercise-format.md, section "text"):

    concepts:                        # local concepts; shared ones live in graders/rules/concepts.yaml
      interest:
        use: [interest]              # shared lexicons or other local concepts whose matches count too
        phrases: ["keen on {the|this} {role|team}", "=thrilled"]
        regex: ['\\bthe role appeals\\b']   # over the word stream (lower case, contractions expanded)
        raw_regex: []                # over the answer as written (normalised)
        except: ["interested to {know|hear}"]  # a match overlapping one of these does not count
        scope: any                   # any | question | statement | opening | closing
        negation: true               # a match in a negated clause ("not really interested") does not count
    checks:
      - {id: interest, require: interest, weight: 2, lesson: ..., pass: "...", fail: "...", negated: "..."}
      - {id: no-presumption, forbid: presumption, fail: "..."}
      - {id: tone, tone: [pressure, demands], fail: "..."}
      - {id: length, words: {min: 15, max: 120}}
      - {id: asks, questions: 1}
      - {id: real-sentences, sentences: true}   # the guard; added with weight 1 when a spec leaves it out

Every check is required unless it says `required: false`; the score is the weighted share of checks
passed. An answer that fails the real-sentences guard (a keyword list, a repeated sentence, stuffed
phrases, no punctuation at all) scores 0 and no other check is credited.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from graders.base import (
    MAX_ANSWER_CHARS,
    Check,
    Context,
    Grader,
    InvalidAnswer,
    Result,
    SpecIssue,
    normalise_text,
    register,
)
from graders.schema import raise_if, unique_ids, validate
from graders.structured import SCORE_DIGITS, finish
from graders.text import analysis
from graders.text.checks import (
    CheckKinds,
    CheckSpec,
    Forbid,
    Outcome,
    Questions,
    Reading,
    Require,
    TextSpec,
    Tone,
    Words,
    quote,
)
from graders.text.guard import GUARD_ID, NOT_CREDITED, RealSentences
from graders.text.matcher import Hit, build_matcher
from graders.text.rules import RULES_DIR, ConceptDef, Rules, build_concept, default_rules, rules_digest

# The check kinds of the shipped grader, in the order authors are told about them.
KINDS = CheckKinds((Require(), Forbid(), Tone(), Words(), Questions(), RealSentences()))
TOO_SLOW = ("This answer could not be graded in time, so it was not counted and no attempt was used. Shorten it "
            "or break up very long lines, then send it again.")
# Why the rules suggest a person looks at a grade (Result.review_reasons), for the instructors' review queue.
REVIEW_REASONS = {
    "near-pass": "one check away from the other side of the pass mark",
    "loose-match": "a deciding check matched only through a typo or a loose match",
    "guard-and-move": "a guard and a required move fired in the same sentence",
    "few-matches": "a long answer where few sentences matched anything",
    "tone-hint": "a pass with one weak sign of sarcasm or grumbling, too little alone to fail the tone",
}
# "Long" for the few-matches reason, and how small a share of its sentences matching anything is "few".
REVIEW_LONG_WORDS = 100
REVIEW_MIN_SENTENCES = 4
REVIEW_MATCHED_SHARE = 0.34


# ---- compiling a spec ---------------------------------------------------------------------------------------

def read_check(body: Any, raw: Mapping[str, Any], path: str, kinds: CheckKinds, reading: Reading) -> CheckSpec | None:
    """One entry of `checks` from its validated model (or salvage): exactly one kind's key, then its params."""
    issues = reading.issues
    present = [k for k in kinds.names if k in raw]
    if len(present) != 1:
        issues.append(SpecIssue(path, f"needs exactly one of {', '.join(kinds.names)}, got {present or 'none'}"))
        return None
    rule = kinds.get(present[0])
    for other in kinds:
        for key in other.keys:
            if other is not rule and key in raw:
                issues.append(SpecIssue(f"{path}.{key}", f"only a {other.name} check has this key"))
    params = rule.read(body, path, reading)
    if body.id is None:
        return None
    default_pass, default_fail = rule.default_messages(raw)
    weight = body.weight if body.weight is not None else 1.0
    return CheckSpec(body.id, rule.name, float(weight), body.required is not False, body.lesson,
                     default_pass if body.pass_ is None else body.pass_,
                     default_fail if body.fail is None else body.fail, body.negated or "", rule, params,
                     (body.name or "").strip())


def compile_text_spec(spec: Mapping[str, Any], rules: Rules, kinds: CheckKinds = KINDS) -> TextSpec:
    """Validate and compile a text spec against a set of rules and check kinds; raise SpecError with every issue."""
    data, issues = validate(kinds.spec_model(), spec, "spec")
    raw = spec if isinstance(spec, Mapping) else {}
    raw_concepts = raw.get("concepts") if isinstance(raw.get("concepts"), Mapping) else {}
    local: dict[str, ConceptDef] = {}
    for name, body in ((getattr(data, "concepts", None) or {}) if data is not None else {}).items():
        if body is not None:
            # Exercise-local concepts may carry a description and examples, as the shared lexicons do.
            local[name] = build_concept(body, name, f"spec.concepts.{name}", rules.lang, issues, raw_concepts.get(name))
    reading = Reading(set(local) | set(rules.lexicons), rules.categories(), issues)
    raw_checks = raw.get("checks")
    if "checks" in raw and not (isinstance(raw_checks, list) and raw_checks):
        issues.append(SpecIssue("spec.checks", "needs at least one check"))
    checks: list[CheckSpec] = []
    for i, body in enumerate((getattr(data, "checks", None) or []) if data is not None else []):
        if body is not None and isinstance(raw_checks[i], Mapping):
            check = read_check(body, raw_checks[i], f"spec.checks[{i}]", kinds, reading)
            if check is not None:
                checks.append(check)
    unique_ids([(f"spec.checks[{i}].id", c.id) for i, c in enumerate(checks)], issues)
    if any(k.single and sum(c.kind == k.name for c in checks) > 1 for k in kinds):
        issues.append(SpecIssue("spec.checks", "at most one words check and one sentences check"))
    if not any(c.rule.role == "guard" for c in checks):
        guard = RealSentences()
        checks.append(CheckSpec(GUARD_ID, guard.name, 1.0, True, None, guard.message_met, guard.message_missed, "",
                                guard))
    wanted = [n for c in checks for n in (*c.concepts, *c.unless)]
    matcher, reachable = build_matcher(wanted, {cat for c in checks for cat in c.categories}, local, rules, issues)
    for name in local:
        if name not in reachable:
            issues.append(SpecIssue(f"spec.concepts.{name}", "not used by any check (a typo in a check's concept?)"))
    raise_if(issues)
    return TextSpec(tuple(checks), matcher, rules, reachable, kinds)


# ---- grading ------------------------------------------------------------------------------------------------

class _Deadline:
    """A grading time budget, checked between the steps of grading (each of which runs in linear time)."""

    def __init__(self, seconds: float):
        """Start the clock."""
        self.until = time.perf_counter() + seconds

    def check(self) -> None:
        """Refuse the answer as invalid once the budget is spent, so no answer holds a worker for long."""
        if time.perf_counter() > self.until:
            raise InvalidAnswer(TOO_SLOW)




def grade_text(spec: TextSpec, text: str, ctx: Context, version: str) -> Result:
    """Grade a normalised answer against a compiled spec, within the context's time budget."""
    deadline = _Deadline(ctx.time_budget)
    lang = spec.rules.lang
    view, back = analysis.rules_view(text)
    a = analysis.analyse(view, lang, spec.matcher.speller)
    deadline.check()
    found = spec.matcher.run(a, lang)
    deadline.check()
    outcomes: list[tuple[CheckSpec, Outcome]] = []
    guard_failed: Outcome | None = None
    for c in spec.checks:
        deadline.check()
        o = c.judge(spec, a, found)
        if c.rule.role == "guard" and not o.passed:
            guard_failed = o
        outcomes.append((c, o))
    outcomes = _agree(outcomes)
    checks: list[Check] = []
    earned = 0.0
    total = sum(c.weight for c in spec.checks) or 1.0
    for c, o in outcomes:
        if guard_failed is not None and c.rule.role != "guard" and o.passed:
            # Nothing is credited for a keyword list; a check it would have passed says what it still needs.
            # A check that failed on its own ("too short") keeps its own reason.
            msg = f"{NOT_CREDITED} {c.fail_msg}"
            checks.append(Check(c.id, False, c.weight, msg, (), c.required, 0.0, c.lesson))
            continue
        spans = tuple(analysis.map_span(sp, back) for sp in o.spans)
        checks.append(Check(c.id, o.passed, c.weight, o.message, spans, c.required, 1.0 if o.passed else 0.0,
                            c.lesson))
        earned += c.weight if o.passed else 0.0
    score = 0.0 if guard_failed is not None else earned / total
    result = finish(score, checks, ctx, version, _summary(checks, guard_failed))
    reasons = () if guard_failed is not None else _review_reasons(a, outcomes, result, ctx)
    return replace(result, answer_text=text, review="suggested" if reasons else "none", review_reasons=reasons)


def _passes(checks: list[tuple[float, bool, bool]], threshold: float) -> bool:
    """Whether (weight, passed, required) checks pass: the weighted share meets the mark and no required one fails."""
    total = sum(w for w, _, _ in checks) or 1.0
    score = round(sum(w for w, ok, _ in checks if ok) / total, SCORE_DIGITS)
    return score >= threshold and not any(req and not ok for _, ok, req in checks)


def _review_reasons(a: analysis.Analysis, outcomes: list[tuple[CheckSpec, Outcome]], result: Result,
                    ctx: Context) -> tuple[str, ...]:
    """Why a person should look at this grade (REVIEW_REASONS keys, in that order); empty when the rules are sure.

    Deterministic and computed from what grading found, so the grader version covers it like the grade itself.
    """
    flat = [(c.weight, o.passed, c.required) for c, o in outcomes]

    def flipped(i: int, required: bool = True) -> bool:
        """Whether the answer would pass with check i turned the other way (required checks counted, if asked)."""
        changed = [(w, ok != (n == i), req and required) for n, (w, ok, req) in enumerate(flat)]
        return _passes(changed, ctx.pass_threshold)

    reasons: list[str] = []
    # Every check is required by default, so losing any one sinks a pass: a pass is near the mark when one lost
    # check would sink it by its score alone; a fail is when one more check met would pass it.
    if result.passed:
        near = any(ok and not flipped(i, required=False) for i, (_, ok, _) in enumerate(flat))
    else:
        near = any(not ok and flipped(i) for i, (_, ok, _) in enumerate(flat))
    if near:
        reasons.append("near-pass")
    if any(o.shaky and flipped(i) != result.passed for i, (_, o) in enumerate(outcomes)):
        reasons.append("loose-match")
    guard_sentences = {a.sent[a.word_at(s)] for c, o in outcomes if c.rule.role == "screen" and not o.passed
                       for s, _ in o.spans}
    move_sentences = {a.sent[a.word_at(s)] for c, o in outcomes if c.rule.role == "move" and c.required and o.passed
                      for s, _ in o.spans}
    if guard_sentences & move_sentences:
        reasons.append("guard-and-move")
    if result.passed and any(o.hinted for _, o in outcomes):
        reasons.append("tone-hint")
    if a.word_count >= REVIEW_LONG_WORDS and len(a.sentences) >= REVIEW_MIN_SENTENCES:
        matched = {a.sent[a.word_at(s)] for c, o in outcomes if c.rule.role in ("move", "screen")
                   for s, _ in o.spans}
        if len(matched) < REVIEW_MATCHED_SHARE * len(a.sentences):
            reasons.append("few-matches")
    return tuple(reasons)


def concept_hits_in(spec: TextSpec, name: str, text: str) -> list[Hit]:
    """Every hit of one of a spec's concepts in a text, exactly as grading would find them."""
    view, _ = analysis.rules_view(normalise_text(text))
    a = analysis.analyse(view, spec.rules.lang, spec.matcher.speller)
    return spec.hits(spec.matcher.run(a, spec.rules.lang), name)


def concept_example_issues(spec: TextSpec) -> list[SpecIssue]:
    """The examples of a spec's concepts that do not behave as declared, each named by its key."""
    issues: list[SpecIssue] = []
    for name, defn in spec.concepts.items():
        if name not in spec.matcher.concept_atoms or defn is spec.rules.lexicons.get(name):
            continue  # shared lexicons are checked by the rules' own tests
        for kind, sentences in (("match", defn.examples.match), ("ok", defn.examples.ok),
                                ("negated", defn.examples.negated)):
            for i, sentence in enumerate(sentences):
                hits = concept_hits_in(spec, name, sentence)
                plain = [h for h in hits if h.negator is None]
                wrong = (kind == "match" and not plain) or (kind == "ok" and plain) or \
                    (kind == "negated" and (not hits or plain))
                if wrong:
                    expect = {"match": "should match", "ok": "should not match",
                              "negated": "should match only in a negated form"}[kind]
                    got = ", ".join(quote(normalise_text(sentence), h.span) for h in hits) or "no match"
                    issues.append(SpecIssue(f"spec.concepts.{name}.examples.{kind}[{i}]",
                                            f"{sentence!r} {expect}, but found {got}"))
    return issues


def _agree(outcomes: list[tuple[CheckSpec, Outcome]]) -> list[tuple[CheckSpec, Outcome]]:
    """Feedback that agrees with itself: when one guard (forbid or tone) fails, the others do not praise.

    "When can I start?" must not get "The tone is warm and leaves the decision with them" beside "This takes
    the offer for granted"; a passing guard then says only what it did not find.
    """
    failed_screens = [o for c, o in outcomes if c.rule.role == "screen" and not o.passed]
    if not failed_screens:
        return outcomes
    flagged = [span for o in failed_screens for span in o.spans]
    out = []
    for c, o in outcomes:
        if c.rule.role == "screen" and o.passed:
            o = Outcome(True, c.rule.none_found(c), o.spans)
        elif o.passed and o.spans and all(_overlaps(span, flagged) for span in o.spans):
            # The only evidence for this point is what a screen condemns ("So, when can I start?" is a question,
            # but not one to praise): the point stands, without praise for those words.
            o = Outcome(True, "Counted, though the words it rests on are flagged in another point.", o.spans)
        out.append((c, o))
    return out


def _overlaps(span: tuple[int, int], others: list[tuple[int, int]]) -> bool:
    """Whether a character span overlaps any of the others."""
    return any(start < span[1] and span[0] < stop for start, stop in others)



def _points(value: float) -> str:
    """A weight as a learner reads it: 2, not 2.0; 1.5 stays 1.5."""
    return f"{value:g}"


def _summary(checks: list[Check], guard_failed: Outcome | None) -> str:
    """One line for the learner: the points met (weighted, so they match the percentage), or why none counted."""
    if guard_failed is not None:
        return "Not credited: the answer needs to be written as real sentences. See the notes below."
    # Check ids are slugs written for authors; the learner reads them as words ("concerns or fit").
    failed = [c.id.replace("-", " ").replace("_", " ") for c in checks if not c.passed]
    total = sum(c.weight for c in checks)
    met = sum(c.weight for c in checks if c.passed)
    if not failed:
        return f"All {len(checks)} points met."
    if len({c.weight for c in checks}) == 1:
        tally = f"{len(checks) - len(failed)} of {len(checks)} points met"
    else:
        # Checks weigh differently, so count weighted points: "9 of 12 points" is the 75% the page shows.
        tally = f"{_points(met)} of {_points(total)} points met (weighted)"
    return f"{tally}; still to fix: {', '.join(failed)}."


def _version() -> str:
    """Grader version: the code's revision plus a hash of the shipped rules, so a rules edit shows in results."""
    # 2: the rules view, typo tolerance, gaps, together/without, requests and the wider guard.
    # 3: results say when a person should review them (review, review_reasons).
    # 4: a pass with one weak tone marker alone is suggested for review ("tone-hint").
    return f"4+{rules_digest(RULES_DIR)}"


@register
class TextGrader(Grader):
    """Free text graded by rule checks over concepts, tone, length, questions and a real-sentences guard."""

    type_name = "text"
    version = _version()
    spec_model = KINDS.spec_model()

    def compile(self, spec: Mapping[str, Any]) -> TextSpec:
        """Compile a spec against the shipped rules."""
        return compile_text_spec(spec, default_rules())

    def parse(self, compiled: TextSpec, raw: Any) -> str:
        """A text answer is a string; it comes back Unicode-normalised (the text spans index into)."""
        if not isinstance(raw, str):
            raise InvalidAnswer(f"A written answer must be text, got {type(raw).__name__}.")
        text = normalise_text(raw)
        if not text.strip():
            raise InvalidAnswer("The answer is empty.")
        if len(text) > MAX_ANSWER_CHARS:
            raise InvalidAnswer(f"The answer is longer than {MAX_ANSWER_CHARS:,} characters.")
        return text

    def grade(self, compiled: TextSpec, answer: str, ctx: Context) -> Result:
        """Grade a parsed answer."""
        return grade_text(compiled, answer, ctx, self.version)

    def present(self, compiled: TextSpec, seed: int) -> dict[str, Any]:
        """The learner sees only the length limits (nothing of the rubric's phrases)."""
        view: dict[str, Any] = {"kind": "text"}
        for kind in compiled.kinds:
            view.update(kind.learner_view(next((c for c in compiled.checks if c.kind == kind.name), None)))
        return view

    def example_issues(self, compiled: TextSpec) -> list[SpecIssue]:
        """Each local concept's examples: `match` must match un-negated, `ok` not at all, `negated` only negated."""
        return concept_example_issues(compiled)

    def answer_key(self, compiled: TextSpec) -> dict[str, Any]:
        """The rubric for the instructor preview: each check with the concepts and phrases behind it."""
        checks = []
        for c in compiled.checks:
            entry: dict[str, Any] = {"id": c.id, "kind": c.kind, "weight": c.weight, "required": c.required,
                                     "lesson": c.lesson, "pass": c.pass_msg, "fail": c.fail_msg}
            entry.update(c.rule.describe(c, compiled))
            checks.append(entry)
        return {"kind": "text", "checks": checks}

