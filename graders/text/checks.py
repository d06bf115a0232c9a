"""Check kinds of the `text` grader: each kind is one class that reads its params, judges an answer and says what it is.

As Vale builds its rule kinds (existence, substitution, ...), a check names its kind by the key that carries its
params (`require: interest`, `words: {min: 15}`). A `CheckKind` reads those params into its own `Params` model,
`judge`s an analysed answer from what the matcher found, and `describe`s itself for the instructor's answer key.
`CheckKinds` is a registry by name; the grader's own set is `KINDS` in graders/text/grader.py, and a test can build
another. Adding a kind is one class plus its tests.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, create_model

from graders.base import SpecIssue
from graders.schema import MESSAGES, SpecModel, Text, fail
from graders.text.analysis import Analysis, shouting
from graders.text.matcher import Found, Hit, Matcher, hits_of
from graders.text.rules import ConceptDef, ConceptModel, Rules, ToneRule

# Quoted evidence in a message is cut to this many characters so a long match cannot flood the feedback.
QUOTE_CHARS = 60
CHECK_DOC = "One rubric check: an id, exactly one kind's key (require, forbid, tone, words, ...) and its messages."
SPEC_DOC = "A text exercise's rubric: local concepts and the checks over them (docs/exercise-format.md, text)."


class Params(BaseModel):
    """A kind's compiled params: typed, frozen, nothing but the fields the kind declares."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class NoParams(Params):
    """The params of a kind that has none beyond its key."""


@dataclass(frozen=True)
class CheckSpec:
    """One rubric check as compiled: the fields every kind shares, its kind and the kind's own params."""

    id: str
    kind: str
    weight: float
    required: bool
    lesson: str | None
    pass_msg: str
    fail_msg: str
    negated_msg: str
    rule: CheckKind
    params: Params = NoParams()
    # What instructors read in place of the id on their pages ("Invites concerns"); empty: the id read as words.
    name: str = ""

    @property
    def concepts(self) -> tuple[str, ...]:
        """The concepts whose hits decide this check."""
        return self.rule.concepts(self.params)

    @property
    def unless(self) -> tuple[str, ...]:
        """Concepts that fail the check when found, although its own concepts are there."""
        return self.rule.vetoes(self.params)

    @property
    def categories(self) -> tuple[str, ...]:
        """The tone categories this check screens for."""
        return self.rule.categories(self.params)

    def judge(self, spec: TextSpec, a: Analysis, found: Found) -> Outcome:
        """Judge an analysed answer by this check's kind."""
        return self.rule.judge(self, spec, a, found)

    def wording(self) -> str:
        """What this check looks for, in an instructor's words (graders/labels.py)."""
        return self.rule.wording(self)


@dataclass(frozen=True)
class TextSpec:
    """A compiled text spec."""

    checks: tuple[CheckSpec, ...]
    matcher: Matcher
    rules: Rules
    concepts: Mapping[str, ConceptDef]  # every concept the spec can reach, for the answer key
    kinds: CheckKinds

    def hits(self, found: Found, name: str) -> list[Hit]:
        """All hits of a concept (its own atom and every atom it uses), in text order."""
        return hits_of(self.matcher, found, name)


@dataclass(frozen=True)
class Outcome:
    """A check's verdict before it becomes a Check."""

    passed: bool
    message: str
    spans: tuple[tuple[int, int], ...]
    # The verdict rests only on typo-corrected words or loose `together` meetings (a reason to suggest a review).
    shaky: bool = False
    # A tone check passed with one weak marker found alone ("lol", "finally"): not enough to fail, enough to look.
    hinted: bool = False


@dataclass(frozen=True)
class Reading:
    """What reading a check's params may check them against, and where its issues go."""

    known: set[str]  # concept names: the spec's own and the shared lexicons
    categories: list[str]  # tone categories of the rules
    issues: list[SpecIssue]


class CheckKind:
    """One kind of check. Subclasses set `name` (its key in a check), `role`, `Params`, and define `read` and `judge`.

    Roles tell the rest of grading how to treat a kind's verdicts: a "move" is something the answer must do
    (review reasons, the guard's and-chains), a "screen" catches what must not be there (feedback that agrees
    with itself), a "measure" counts something, and the "guard" zeroes every other check when it fails.
    """

    name: ClassVar[str]
    # The type of the value under the kind's key, and its Field (the key is optional in a check's model: a check
    # has exactly one kind's key, which reading checks).
    key: ClassVar[tuple[Any, Any]] = (Any, None)
    keys: ClassVar[dict[str, tuple[Any, Any]]] = {}  # other keys only this kind's checks may have
    role: ClassVar[str] = "measure"
    single: ClassVar[bool] = False  # at most one check of this kind in a spec
    Params: ClassVar[type[Params]] = NoParams
    message_met: ClassVar[str] = ""
    message_missed: ClassVar[str] = ""

    def default_messages(self, raw: Mapping[str, Any]) -> tuple[str, str]:
        """The pass and fail messages of a check that does not give its own."""
        return self.message_met, self.message_missed

    def read(self, body: Any, path: str, reading: Reading) -> Params:
        """This kind's params from a check's validated model (a salvage when it had errors: a field may be None).

        Checks that need the rules or the spec's concepts record their issues in `reading`, under `path`.
        """
        raise NotImplementedError

    def concepts(self, params: Params) -> tuple[str, ...]:
        """The concepts whose hits decide a check of this kind (the matcher indexes them)."""
        return ()

    def vetoes(self, params: Params) -> tuple[str, ...]:
        """Concepts that fail a check of this kind when found (indexed too)."""
        return ()

    def categories(self, params: Params) -> tuple[str, ...]:
        """Tone categories a check of this kind screens for (their rules are indexed)."""
        return ()

    def judge(self, check: CheckSpec, spec: TextSpec, a: Analysis, found: Found) -> Outcome:
        """The verdict on an analysed answer, with its message and the spans that show why."""
        raise NotImplementedError

    def describe(self, check: CheckSpec, spec: TextSpec) -> dict[str, Any]:
        """This kind's part of the check's entry in the instructor's answer key."""
        return {}

    def wording(self, check: CheckSpec) -> str:
        """What the check looks for, for instructors: by default its own fail message."""
        return check.fail_msg.strip()

    def none_found(self, check: CheckSpec) -> str:
        """A passing screen's message when another screen failed: it says only what it did not find."""
        return check.pass_msg

    def learner_view(self, check: CheckSpec | None) -> dict[str, Any]:
        """What the learner may see of this kind before answering (the first check of the kind, or None)."""
        return {}


class CheckKinds:
    """A registry of check kinds by name, in the order authors are told about them."""

    def __init__(self, kinds: Iterable[CheckKind]):
        """Register each kind under its name; two kinds may not share one."""
        self._kinds: dict[str, CheckKind] = {}
        for kind in kinds:
            if kind.name in self._kinds:
                raise ValueError(f"two check kinds are called {kind.name!r}")
            self._kinds[kind.name] = kind
        self._check_model: type[SpecModel] | None = None
        self._spec_model: type[SpecModel] | None = None

    @property
    def names(self) -> tuple[str, ...]:
        """Every kind's name (the keys that introduce a check)."""
        return tuple(self._kinds)

    def get(self, name: str) -> CheckKind:
        """The kind of that name (KeyError when there is none)."""
        return self._kinds[name]

    def __iter__(self):
        """Iterate over the kinds in order."""
        return iter(self._kinds.values())

    def with_kind(self, kind: CheckKind) -> CheckKinds:
        """A new registry with one more kind; this one is left as it was."""
        return CheckKinds([*self, kind])

    def check_model(self) -> type[SpecModel]:
        """The model of one entry of `checks`: the keys every kind shares, then each kind's own keys."""
        if self._check_model is None:
            fields: dict[str, Any] = {
                "id": (str, ...),
                "weight": (float, Field(1.0, ge=0, le=100)),
                "required": (bool, True),
                "lesson": (str | None, None),
                "pass_": (str | None, Field(None, alias="pass")),
                "fail": (str | None, None),
                "negated": (str, ""),
                "name": (str, ""),
            }
            for kind in self:
                fields[kind.name] = (kind.key[0] | None, kind.key[1])
                fields.update(kind.keys)
            self._check_model = create_model("Check", __base__=SpecModel, __doc__=CHECK_DOC, **fields)
        return self._check_model

    def spec_model(self) -> type[SpecModel]:
        """The model of a text exercise's whole `spec:` mapping (its JSON Schema is published for editors)."""
        if self._spec_model is None:
            self._spec_model = create_model("TextSpec", __base__=SpecModel, __doc__=SPEC_DOC,
                                            concepts=(dict[str, ConceptModel], {}),
                                            checks=(list[self.check_model()], ...))  # type: ignore[index]
        return self._spec_model


# ---- messages -------------------------------------------------------------------------------------------------

def quote(text: str, span: tuple[int, int]) -> str:
    """The words a span covers, quoted and shortened for a message."""
    words = " ".join(text[span[0]: span[1]].split())
    if len(words) > QUOTE_CHARS:
        words = words[: QUOTE_CHARS - 3] + "..."
    return f'"{words}"'


def with_quotes(message: str, text: str, spans: list[tuple[int, int]], limit: int = 3) -> str:
    """Append the quoted evidence to a message."""
    if not spans:
        return message
    quotes = ", ".join(quote(text, s) for s in spans[:limit])
    more = f" and {len(spans) - limit} more" if len(spans) > limit else ""
    return f"{message} (found: {quotes}{more})"


def or_list(names: tuple[str, ...]) -> str:
    """'pressure, sarcasm or rudeness', with slugs read as words."""
    words = [n.replace("-", " ") for n in names]
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} or {words[-1]}"


def _sentence(*parts: str) -> str:
    """Join non-empty parts with spaces."""
    return " ".join(p.strip() for p in parts if p and p.strip())


def _shaky(a: Analysis, hits: list[Hit]) -> bool:
    """True when every hit is a loose meeting or reads a word through the speller (a typo)."""
    return bool(hits) and all(h.loose or any(w in a.corrected for w in range(h.first, h.stop)) for h in hits)


def _concept_names(value: Any) -> tuple[str, ...]:
    """Accept a concept name or a non-empty list of them."""
    if isinstance(value, str) and value:
        return (value,)
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise fail("problem", message="expected a concept name or a list of concept names")


ConceptNames = Annotated[Any, AfterValidator(_concept_names),
                         Field(json_schema_extra={"anyOf": [{"type": "string"},
                                                            {"type": "array", "items": {"type": "string"}}]})]


def known_concepts(names: tuple[str, ...] | None, key: str, reading: Reading) -> tuple[str, ...]:
    """A check's concept names (none when they were invalid), each checked against the known concepts."""
    for name in names or ():
        if name not in reading.known:
            reading.issues.append(SpecIssue(key, f"unknown concept {name!r} (not in spec.concepts "
                                                 f"or graders/rules/concepts.yaml)"))
    return names or ()


def describe_concept(name: str, spec: TextSpec) -> dict[str, Any]:
    """A concept for the answer key: its phrases, regexes, scope and the concepts it uses."""
    d = spec.concepts.get(name)
    if d is None:
        return {}
    return {"phrases": list(d.phrases), "regex": [r.pattern for r in d.regex],
            "raw_regex": [r.pattern for r in d.raw_regex], "scope": d.scope, "negation": d.negation,
            "use": {u: describe_concept(u, spec) for u in d.use if u != name}}


# ---- the kinds ------------------------------------------------------------------------------------------------

class ConceptParams(Params):
    """Concepts a check looks for."""

    concepts: tuple[str, ...]


class RequireParams(ConceptParams):
    """Concepts the answer must have, and concepts that fail it anyway ("your team could train me")."""

    unless: tuple[str, ...] = ()
    unless_fail: str = ""


class ConceptKind(CheckKind):
    """A kind whose key names concepts (`require`, `forbid`): the matcher indexes them, the answer key shows them."""

    key = (ConceptNames, None)
    Params = ConceptParams

    def concepts(self, params: ConceptParams) -> tuple[str, ...]:  # type: ignore[override]
        """The concepts the check names."""
        return params.concepts

    def describe(self, check: CheckSpec, spec: TextSpec) -> dict[str, Any]:
        """The concepts behind the check, with their phrases."""
        return {"concepts": {n: describe_concept(n, spec) for n in check.concepts}} if check.concepts else {}


class Require(ConceptKind):
    """`require: concept` (or a list): every listed concept must be present outside a negated clause."""

    name = "require"
    keys = {"unless": (ConceptNames | None, None), "unless_fail": (str | None, None)}
    role = "move"
    Params = RequireParams

    def default_messages(self, raw: Mapping[str, Any]) -> tuple[str, str]:
        """Name the concept the check requires."""
        return (f"Covers {raw.get('require')}.", f"Missing: {raw.get('require')}.")

    def read(self, body: Any, path: str, reading: Reading) -> RequireParams:
        """The required concepts, and the `unless` concepts with their `unless_fail` message."""
        concepts = known_concepts(body.require, f"{path}.require", reading)
        unless = known_concepts(body.unless, f"{path}.unless", reading)
        if body.unless is not None and body.unless_fail is None:
            reading.issues.append(SpecIssue(f"{path}.unless_fail", MESSAGES["missing"]))
        return RequireParams(concepts=concepts, unless=unless, unless_fail=body.unless_fail or "")

    def vetoes(self, params: RequireParams) -> tuple[str, ...]:  # type: ignore[override]
        """The `unless` concepts."""
        return params.unless

    def judge(self, check: CheckSpec, spec: TextSpec, a: Analysis, found: Found) -> Outcome:
        """Every listed concept must be present outside a negated clause, and no `unless` concept at all."""
        positive_spans: list[tuple[int, int]] = []
        missing_negated: list[tuple[int, int]] = []
        missing = False
        shaky = False
        for name in check.concepts:
            hits = spec.hits(found, name)
            good = [h.span for h in hits if h.negator is None]
            if good:
                positive_spans.extend(good)
                shaky = shaky or _shaky(a, [h for h in hits if h.negator is None])
                continue
            missing = True
            missing_negated.extend((a.starts[h.negator], h.span[1]) for h in hits if h.negator is not None)
        if not missing:
            vetoed = [h.span for name in check.unless for h in spec.hits(found, name) if h.negator is None]
            if vetoed:
                unless_fail = check.params.unless_fail  # type: ignore[attr-defined]
                return Outcome(False, with_quotes(unless_fail, a.text, vetoed), tuple(vetoed))
            return Outcome(True, with_quotes(check.pass_msg, a.text, positive_spans), tuple(positive_spans), shaky)
        if missing_negated:
            lead = check.negated_msg or ("The words are there, but negated, so they say the opposite. "
                                         + check.fail_msg)
            return Outcome(False, with_quotes(lead, a.text, missing_negated), tuple(missing_negated))
        return Outcome(False, check.fail_msg, ())


class Forbid(ConceptKind):
    """`forbid: concept` (or a list): none of the listed concepts may appear (a negated mention is allowed)."""

    name = "forbid"
    role = "screen"
    message_met = "Nothing here that the rubric rules out."
    message_missed = "Leave this out."

    def read(self, body: Any, path: str, reading: Reading) -> ConceptParams:
        """The forbidden concepts."""
        return ConceptParams(concepts=known_concepts(body.forbid, f"{path}.forbid", reading))

    def judge(self, check: CheckSpec, spec: TextSpec, a: Analysis, found: Found) -> Outcome:
        """Fail with every un-negated mention quoted."""
        hits = [h for name in check.concepts for h in spec.hits(found, name) if h.negator is None]
        spans = sorted(h.span for h in hits)
        if spans:
            return Outcome(False, with_quotes(check.fail_msg, a.text, spans), tuple(spans), _shaky(a, hits))
        return Outcome(True, check.pass_msg, ())

    def none_found(self, check: CheckSpec) -> str:
        """'Does not take the offer for granted: nothing found against it.' (concept ids are for authors)."""
        if check.name:
            return f"{check.name.rstrip('.')}: nothing found against it."
        return f"No {or_list(check.concepts)} found."


class ToneParams(Params):
    """The tone categories a check screens for."""

    categories: tuple[str, ...]


def _separate_spans(spans: Iterable[tuple[int, int]]) -> int:
    """How many places the spans cover: overlapping ones ("finally", "somebody finally") are one place."""
    places, end = 0, -1
    for start, stop in sorted(spans):
        if start >= end:
            places += 1
        end = max(end, stop)
    return places


class Tone(CheckKind):
    """`tone: [category, ...]`: no tone rule of the listed categories may fire; each that does gives its message."""

    name = "tone"
    key = (list[Text], None)
    role = "screen"
    Params = ToneParams
    message_met = "The tone stays courteous."
    message_missed = "Watch the tone."

    def read(self, body: Any, path: str, reading: Reading) -> ToneParams:
        """The categories, each one the rules define."""
        categories = tuple(body.tone or ())
        for cat in categories:
            if cat not in reading.categories:
                reading.issues.append(SpecIssue(f"{path}.tone", f"unknown tone category {cat!r} "
                                                                f"(known: {', '.join(reading.categories)})"))
        return ToneParams(categories=categories)

    def categories(self, params: ToneParams) -> tuple[str, ...]:  # type: ignore[override]
        """The categories screened for."""
        return params.categories

    def judge(self, check: CheckSpec, spec: TextSpec, a: Analysis, found: Found) -> Outcome:
        """Each rule of the categories that fires adds its own message and evidence."""
        fired: list[tuple[ToneRule, list[tuple[int, int]]]] = []
        for rule, n in spec.matcher.tone_atoms:
            if rule.category not in check.categories:
                continue
            rule_spans = [h.span for h in found.hits[n] if h.negator is None]
            if rule.caps_share is not None and a.words:
                rule_spans.extend(shouting(a, rule.caps_share, rule.caps_min_words))
            if rule_spans:
                fired.append((rule, rule_spans))
        # A weak marker ("lol", "finally") is innocent on its own as often as not; two different ones make a habit.
        hinted = False
        if _separate_spans(span for rule, rule_spans in fired if rule.weak for span in rule_spans) < 2:
            hinted = any(rule.weak for rule, _ in fired)
            fired = [(rule, found_spans) for rule, found_spans in fired if not rule.weak]
        messages = [with_quotes(rule.message, a.text, rule_spans) for rule, rule_spans in fired]
        spans = [span for _, rule_spans in fired for span in rule_spans]
        if messages:
            return Outcome(False, " ".join([check.fail_msg, *messages]), tuple(sorted(set(spans))))
        return Outcome(True, check.pass_msg, (), hinted=hinted)

    def describe(self, check: CheckSpec, spec: TextSpec) -> dict[str, Any]:
        """The rules of each category."""
        if not check.categories:
            return {}
        return {"tone": {cat: [r.id for r in spec.rules.tone if r.category == cat] for cat in check.categories}}

    def wording(self, check: CheckSpec) -> str:
        """'Keep it courteous: flags pressure or sarcasm.'"""
        return f"{check.fail_msg.strip().rstrip(':').rstrip('.')}: flags {or_list(check.categories)}."

    def none_found(self, check: CheckSpec) -> str:
        """'No pressure or sarcasm found.'"""
        return f"No {or_list(check.categories)} found."


class WordsParams(Params):
    """The length asked for, in words as written."""

    min: int | None = Field(None, ge=0, le=5000)
    max: int | None = Field(None, ge=1, le=5000)


class WordsBody(WordsParams, SpecModel):
    """`words: {min: 15, max: 120}` as written."""


class Words(CheckKind):
    """`words: {min: 15, max: 120}`: the answer's word count must fall within the range."""

    name = "words"
    key = (WordsBody, None)
    single = True
    Params = WordsParams
    message_met = "The length is right."
    message_missed = "Keep to the length asked for."

    def read(self, body: Any, path: str, reading: Reading) -> WordsParams:
        """Min, max or both, the min no more than the max."""
        w = body.words
        lo, hi = (w.min, w.max) if w is not None else (None, None)
        if w is not None and lo is None and hi is None:
            reading.issues.append(SpecIssue(f"{path}.words", "needs min, max or both"))
        if lo is not None and hi is not None and lo > hi:
            reading.issues.append(SpecIssue(f"{path}.words", f"min ({lo}) is more than max ({hi})"))
        return WordsParams(min=lo, max=hi)

    @staticmethod
    def _want(p: WordsParams) -> str:
        """'8 to 60', 'at least 8' or 'at most 60'."""
        lo, hi = p.min, p.max
        return (f"{lo} to {hi}" if lo is not None and hi is not None else
                f"at least {lo}" if lo is not None else f"at most {hi}")

    def judge(self, check: CheckSpec, spec: TextSpec, a: Analysis, found: Found) -> Outcome:
        """Too short or too long says by how much; too long highlights the words past the limit."""
        p: WordsParams = check.params  # type: ignore[assignment]
        n = a.word_count
        if p.min is not None and n < p.min:
            return Outcome(False, f"{check.fail_msg} Your answer has {n} words; aim for {self._want(p)}.", ())
        if p.max is not None and n > p.max:
            # Highlight the words past the limit, so the learner sees where to cut.
            start = a.raw_words[p.max][0]
            return Outcome(False, f"{check.fail_msg} Your answer has {n} words; aim for {self._want(p)}.",
                           ((start, a.raw_words[-1][1]),))
        return Outcome(True, f"{check.pass_msg} ({n} words)", ())

    def describe(self, check: CheckSpec, spec: TextSpec) -> dict[str, Any]:
        """The limits."""
        return {"min_words": check.params.min, "max_words": check.params.max}  # type: ignore[attr-defined]

    def wording(self, check: CheckSpec) -> str:
        """'8 to 60 words.' then the fail message."""
        lo, hi = check.params.min, check.params.max  # type: ignore[attr-defined]
        want = (f"{lo} to {hi} words" if lo is not None and hi is not None else
                f"At least {lo} words" if lo is not None else f"At most {hi} words")
        return _sentence(want[:1].upper() + want[1:] + ".", check.fail_msg.strip())

    def learner_view(self, check: CheckSpec | None) -> dict[str, Any]:
        """The learner sees the length limits."""
        p = check.params if check is not None else WordsParams()
        return {"min_words": p.min, "max_words": p.max}  # type: ignore[attr-defined]


class QuestionsParams(Params):
    """How many questions the answer must ask."""

    min: int


class Questions(CheckKind):
    """`questions: 1`: the answer must ask at least that many questions ("could you tell me" counts)."""

    name = "questions"
    key = (int, Field(None, ge=1, le=50))
    Params = QuestionsParams
    message_met = "You ask the interviewer something."
    message_missed = "Ask the interviewer at least one question."

    def read(self, body: Any, path: str, reading: Reading) -> QuestionsParams:
        """A number from 1 to 50."""
        return QuestionsParams(min=body.questions or 1)

    def judge(self, check: CheckSpec, spec: TextSpec, a: Analysis, found: Found) -> Outcome:
        """Count the sentences that ask."""
        want = check.params.min  # type: ignore[attr-defined]
        asked = [(s.start, s.end) for s in a.sentences if s.question]
        if len(asked) >= want:
            return Outcome(True, check.pass_msg, tuple(asked))
        return Outcome(False, f"{check.fail_msg} Found {len(asked)} question(s); the task asks for at least "
                              f"{want}.", ())

    def describe(self, check: CheckSpec, spec: TextSpec) -> dict[str, Any]:
        """The number asked for."""
        return {"min_questions": check.params.min}  # type: ignore[attr-defined]

    def wording(self, check: CheckSpec) -> str:
        """'At least 1 question.' then the fail message."""
        n = check.params.min  # type: ignore[attr-defined]
        return _sentence(f"At least {n} question{'s' if n != 1 else ''}.", check.fail_msg.strip())
