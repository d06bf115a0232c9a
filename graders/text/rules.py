"""The `text` grader's shared rules: graders/rules/*.yaml read, validated and compiled once per process.

english.yaml is the language data (contractions, negation, the guard's thresholds, ...), concepts.yaml the
shared concept lexicons, tone.yaml the tone rules. Every problem is reported at once with its file and key path.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal

import re2
import yaml
from pydantic import AfterValidator, Field

from graders.base import SpecIssue
from graders.schema import SpecModel, Text, fail, raise_if, unique_ids, validate
from graders.text.analysis import WORD_RE, InContext, Language, Narration, NegativePrefix
from graders.text.lexicon import tagged
from graders.text.phrases import Pattern, PhraseError, compile_phrase, inflections, normalise_phrase_word, word_class

RULES_DIR = Path(__file__).parents[1] / "rules"
RULE_FILES = ("english.yaml", "concepts.yaml", "tone.yaml")
SCOPES = ("any", "question", "statement", "opening", "closing")
# Case-insensitive, and quiet: a refused pattern is reported as a spec issue, not logged to stderr.
_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.case_sensitive = False
_RE2_OPTIONS.log_errors = False


Share = Annotated[float, Field(ge=0, le=1)]


def _lower(words: list[str]) -> list[str]:
    """Labels are compared in lower case."""
    return [w.lower() for w in words]


class GuardSettings(SpecModel):
    """The guard's thresholds (english.yaml `guard:`); each comment says what passes it."""

    min_function_share: Share  # share of words that must be function words
    min_sentence_words: Annotated[int, Field(ge=1, le=20)]  # a sentence shorter than this is a fragment
    min_real_share: Share  # share of the words that must sit in real sentences
    max_repeats: Annotated[int, Field(ge=0, le=100)]  # sentences repeated word for word beyond this fail
    max_concept_share: Share  # share of words that may be rubric phrases before it looks stuffed ...
    stuffing_min_hits: Annotated[int, Field(ge=1, le=100)]  # ... when one concept is said this many times
    max_hits_per_sentence: Annotated[int, Field(ge=1, le=100)]  # one concept in more clauses is stuffing
    # ... unless the sentence is a question with at least this share of function words (it names alternatives)
    asking_function_share: Share = 0.3
    max_adjacent_hits: Annotated[int, Field(ge=1, le=100)]  # more phrases of one concept side by side is a list
    min_words_for_shares: Annotated[int, Field(ge=1, le=100)]  # the share tests apply from this many words on
    unpunctuated_words: Annotated[int, Field(ge=1, le=1000)]  # this many words with no . ! ? is no sentence
    max_label_lines: Annotated[int, Field(ge=0, le=100)]  # more "Label: value" sentences than this are a form
    max_placeholders: Annotated[int, Field(ge=0, le=100)]  # more "[name]" placeholders than this: a template
    contact_labels: Annotated[list[Text], AfterValidator(_lower)]  # "Subject:", "Phone:": not a form's labels
    # "One: compared with the others, how do you see me?": a number before a whole sentence counts points, it is
    # not a form's label (a value of at least min_sentence_words words after it).
    enumerators: Annotated[list[Text], AfterValidator(_lower)] = []
    max_narrated_share: Share  # this share of sentences describing the answer is not the answer
    chain_conjunctions: Annotated[int, Field(ge=1, le=100)]  # a sentence with this many "and"/"or" ...
    chain_concepts: Annotated[int, Field(ge=1, le=100)]  # ... joining this many rubric concepts is a chain
    list_items: Annotated[int, Field(ge=3, le=100)]  # a sentence with this many short items (commas, "and", "or")
    list_item_words: Annotated[int, Field(ge=1, le=20)]  # ... short meaning this many words or fewer ...
    list_short_share: Share  # ... making up this share of its items is a list of keywords, not a sentence
    move_items: Annotated[int, Field(ge=2, le=100)] = 4  # a sentence with this many list items each naming ...
    move_names: Annotated[list[Text], AfterValidator(_lower)] = []  # ... a rubric move restates the task


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys instead of silently keeping the last one."""


def _no_duplicates(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    """Build a mapping, raising on a key that appears twice."""
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _no_duplicates)


@dataclass(frozen=True)
class Examples:
    """Sentences a rule or lexicon must match, must leave alone, or must find only negated."""

    match: tuple[str, ...] = ()
    ok: tuple[str, ...] = ()
    negated: tuple[str, ...] = ()


@dataclass(frozen=True)
class ConceptDef:
    """One concept as written: compiled phrases and regexes plus the names of concepts it `use`s."""

    name: str
    patterns: tuple[Pattern, ...]
    except_patterns: tuple[Pattern, ...]
    regex: tuple[Any, ...]
    raw_regex: tuple[Any, ...]
    scope: str
    negation: bool
    use: tuple[str, ...]
    phrases: tuple[str, ...]  # as written, for the instructor's answer key
    description: str = ""
    examples: Examples = Examples()
    # `together`: groups of phrases that must all occur in one sentence ("another offer" + "by Friday").
    groups: tuple[tuple[Pattern, ...], ...] = ()
    # `synonyms: false`: the phrases name different things (the topics of the interview), so several of them
    # in one sentence are a description, not synonym stuffing.
    synonyms: bool = True
    # `without`: phrases that rule a sentence out ("when", "next" in a question make it about timing, not fit).
    without: tuple[Pattern, ...] = ()
    # `stories: false`: story frames ("during my degree"); a match after one in its sentence belongs to the story.
    story_frames: tuple[Pattern, ...] = ()


@dataclass(frozen=True)
class ToneRule:
    """A tone rule (proselint/Vale style): what it catches, the message, and examples that pin it down."""

    id: str
    category: str
    message: str
    concept: ConceptDef
    caps_share: float | None
    caps_min_words: int
    weak: bool = False  # counts only beside a second weak marker elsewhere in the answer (Tone.judge)


@dataclass(frozen=True)
class Rules:
    """Everything loaded from graders/rules/: the language data, shared lexicons and tone rules."""

    lang: Language
    lexicons: Mapping[str, ConceptDef]
    tone: tuple[ToneRule, ...]
    digest: str

    def categories(self) -> list[str]:
        """Tone categories defined by the rules, sorted."""
        return sorted({r.category for r in self.tone})


def _read_yaml(path: Path, issues: list[SpecIssue]) -> Any:
    """Parse one rules file, recording a YAML error as an issue that names the file."""
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=_StrictLoader)  # noqa: S506 - SafeLoader subclass
    except yaml.YAMLError as exc:
        issues.append(SpecIssue(path.name, f"is not valid YAML: {exc}"))
    except OSError as exc:
        issues.append(SpecIssue(path.name, f"cannot be read: {exc.strerror}"))
    return None


def _word_tuple(items: tuple[str, ...], lang_expand: Callable[[str], tuple[str, ...]]) -> tuple[tuple[str, ...], ...]:
    """Split phrases into canonical word tuples (contractions expanded), as answers are."""
    out = []
    for item in items:
        words: list[str] = []
        for w in WORD_RE.findall(normalise_phrase_word(item)):
            words.extend(lang_expand(w))
        out.append(tuple(words))
    return tuple(out)


def lang_words(item: str) -> list[str]:
    """The canonical words of a list item as written ("'d" is expanded later; here only case and quotes)."""
    return WORD_RE.findall(normalise_phrase_word(item))


class NegationSettings(SpecModel):
    """english.yaml `negation:`: the words that negate, how far back they reach, and what stops them."""

    cues: list[Text]
    window: Annotated[int, Field(ge=1, le=10)]
    clause_words: list[Text]  # but, although ...: a negation does not reach past them
    not_negating: list[Text] = []  # "not only", "can not wait": a negator inside is no negation


class ContextualContraction(SpecModel):
    """english.yaml `contextual_contractions:` entry: a word that is a contraction only before certain words."""

    word: Text  # as written, lower case ("its", "your", "ill")
    means: Text  # its expansion ("it is")
    before: list[Text] = []  # the next word must be one of these ...
    not_before: list[Text] = []  # ... or, when `before` is empty, any word but these
    capital: bool = False  # only when written with a capital first letter ("Ill", not "ill")


class SpellingSettings(SpecModel):
    """english.yaml `spelling:`: which words the speller may correct, and by how many edits."""

    min_length: Annotated[int, Field(ge=3, le=20)]
    long_from: Annotated[int, Field(ge=4, le=30)]  # words this long may be two edits away, shorter ones one


class NarrationLists(SpecModel):
    """english.yaml `narration:`: the word lists that tell an account of the answer from the answer itself."""

    modals: list[Text]
    adverbs: list[Text]
    verbs: list[Text]
    listeners: list[Text]
    markers: list[Text]
    about_the_task: list[Text]
    checking: list[Text]
    openings: list[Text]


PENN_TAGS = ("VB", "VBD", "VBG", "VBN", "VBP", "VBZ", "NN", "NNS", "JJ", "JJR", "JJS", "RB", "RBR", "RBS")


class WordClassExamples(SpecModel):
    """Words a word class must hold, and words it must not."""

    match: list[Text]
    ok: list[Text]


class WordClassModel(SpecModel):
    """english.yaml `word_classes:` one class of words by their form (lemminflect's Penn tags), minus some lemmas."""

    description: Text
    tags: Annotated[list[Literal[PENN_TAGS]], Field(min_length=1)]  # type: ignore[valid-type]
    except_: list[Text] = Field([], alias="except")  # lemmas whose forms never count ("have" for "had")
    examples: WordClassExamples


class NegativePrefixModel(SpecModel):
    """english.yaml `negative_prefix:` which prefixed words read as "not" and their stem."""

    prefixes: Annotated[list[Text], Field(min_length=1)]
    tags: Annotated[list[Literal[PENN_TAGS]], Field(min_length=1)]  # type: ignore[valid-type]
    min_stem: Annotated[int, Field(ge=3, le=20)]
    keep: list[Text] = []


class WishToKnowModel(SpecModel):
    """A wish to know, in any pairing of its two halves: "I'd like to" or "I'm keen to", then "know" or "understand"."""

    wishes: Annotated[list[Text], Field(min_length=1)]
    verbs: Annotated[list[Text], Field(min_length=1)]


class LanguageFile(SpecModel):
    """graders/rules/english.yaml: the language data that drives tokenising, negation and the guard."""

    contractions: dict[str, Text]  # whole words: "can't" -> "can not"
    suffixes: dict[str, Text]  # "n't" -> "not"
    s_is: list[Text]
    s_is_before: list[Text] = []  # after any other word, 's before one of these means "is"
    abbreviations: list[Text]
    numeric_abbreviations: list[Text]
    negation: NegationSettings
    function_words: list[Text]
    no_inflect: list[Text]
    lead_ins: list[Text]
    modifiers: list[Text]
    indirect_questions: list[Text] = []
    requests: list[Text]
    wish_to_know: WishToKnowModel | None = None  # more request openers: every wish followed by every verb
    contextual_contractions: list[ContextualContraction] = []
    # Phrases that mark a sentence as the candidate's story of their own past elsewhere ("during my degree", "the
    # volunteers I managed"); a concept with `stories: false` does not count a match in such a sentence.
    story_frames: list[Text] = []
    hedges: list[Text] = []  # "do you think": inserts a "..." gap does not count ...
    hedge_followers: list[Text] = []  # ... when one of these words follows them
    guard: GuardSettings
    spelling: SpellingSettings
    narration: NarrationLists
    word_classes: dict[str, WordClassModel] = {}
    negative_prefix: NegativePrefixModel | None = None


def _read_language(raw: Any, issues: list[SpecIssue]) -> Language | None:
    """Read english.yaml into a Language (None, with the issues recorded, when it is not valid)."""
    data, found = validate(LanguageFile, raw, "english.yaml")
    if found or data is None:
        issues.extend(found)
        return None
    contractions = {word.lower(): tuple(value.lower().split()) for word, value in data.contractions.items()}
    suffixes = [(suffix, tuple(value.split())) for suffix, value in data.suffixes.items()]
    neg, nr = data.negation, data.narration
    classes = {name: word_class(name, c.tags, (w.lower() for w in c.except_)) for name, c in data.word_classes.items()}
    if data.negative_prefix is not None:
        tagged(frozenset(data.negative_prefix.tags))  # listed now, so grading needs no lexicon tables later
    for name, c in data.word_classes.items():
        # Like a concept's examples, a class's are checked when the rules load: a wrong one names itself.
        for key, words, belongs in (("match", c.examples.match, True), ("ok", c.examples.ok, False)):
            wrong = [w for w in words if (w.lower() in classes[name]) != belongs]
            if wrong:
                issues.append(SpecIssue(f"word_classes.{name}.examples.{key}",
                                        f"{', '.join(map(repr, wrong))} {'is not' if belongs else 'is'} in @{name}"))
    narration = Narration(frozenset(nr.modals), frozenset(nr.adverbs),
                          frozenset(f for v in nr.verbs for f in inflections(v)),
                          frozenset(nr.listeners), frozenset(nr.markers), ())
    base = Language(contractions, tuple(suffixes), frozenset(data.s_is),
                    frozenset(a.lower() for a in data.abbreviations), frozenset(neg.cues), neg.window,
                    frozenset(neg.clause_words), (), frozenset(data.function_words), frozenset(data.no_inflect), (),
                    data.guard, spelling=data.spelling.model_dump(),
                    lead_ins=frozenset(data.lead_ins), narration=narration,
                    modifiers=frozenset(w for m in data.modifiers for w in lang_words(m)),
                    numeric_abbreviations=frozenset(a.lower() for a in data.numeric_abbreviations),
                    in_context={c.word.lower(): InContext(tuple(c.means.lower().split()),
                                                          frozenset(w.lower() for w in c.before),
                                                          frozenset(w.lower() for w in c.not_before), c.capital)
                                for c in data.contextual_contractions},
                    story_frames=tuple(data.story_frames),
                    hedge_followers=frozenset(w.lower() for w in data.hedge_followers), word_classes=classes,
                    s_is_before=frozenset(w.lower() for w in data.s_is_before),
                    negative_prefix=None if data.negative_prefix is None else NegativePrefix(
                        tuple(p.lower() for p in data.negative_prefix.prefixes), frozenset(data.negative_prefix.tags),
                        data.negative_prefix.min_stem, frozenset(w.lower() for w in data.negative_prefix.keep)))
    return replace(base, not_negating=_word_tuple(tuple(neg.not_negating), base.expand),
                   indirect_questions=_word_tuple(tuple(data.indirect_questions), base.expand),
                   requests=_word_tuple(tuple(data.requests) + _wishes_to_know(data.wish_to_know), base.expand),
                   hedges=_word_tuple(tuple(data.hedges), base.expand),
                   narration=replace(narration, checking=_word_tuple(tuple(nr.checking), base.expand),
                                     about_the_task=_word_tuple(tuple(nr.about_the_task), base.expand),
                                     openings=_word_tuple(tuple(nr.openings), base.expand)))


def _wishes_to_know(model: WishToKnowModel | None) -> tuple[str, ...]:
    """Every wish paired with every verb ("i would like to" + "understand"): request openers no list need spell out."""
    if model is None:
        return ()
    return tuple(f"{wish} {verb}" for wish in model.wishes for verb in model.verbs)


def _scope(value: str) -> str:
    """Accept one of the scopes a concept can have."""
    if value not in SCOPES:
        raise fail("problem", message=f"must be one of {', '.join(SCOPES)}, got {value!r}")
    return value


def compile_regex(pattern: str) -> Any:
    """Compile a case-insensitive regex on RE2; raise ValueError with the reason in an author's words if it cannot be.

    RE2 runs in time linear in the answer's length whatever the pattern, so no authored rule can hold a worker on
    a crafted answer. It has no look-arounds or back-references; a pattern using them is refused at load.
    """
    try:
        return re2.compile(pattern, _RE2_OPTIONS)
    except re2.error as exc:
        reason = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        if "perl operator" in reason or "escape sequence: \\" in reason:
            raise ValueError(f"regular expression cannot be used: {reason}; rules run on RE2, which has no "
                             "look-arounds or back-references") from exc
        raise ValueError(f"regular expression does not compile: {reason}") from exc


def _regex(pattern: str) -> str:
    """Accept only a pattern RE2 compiles (the compiled form is made again when the concept is built)."""
    try:
        compile_regex(pattern)
    except ValueError as exc:
        raise fail("problem", message=str(exc)) from exc
    return pattern


Regex = Annotated[str, AfterValidator(_regex)]
Scope = Annotated[str, AfterValidator(_scope), Field(json_schema_extra={"enum": list(SCOPES)})]


class ExamplesModel(SpecModel):
    """`examples:` sentences a concept or rule must match, must leave alone, or must find only negated."""

    match: list[Text] = []
    ok: list[Text] = []
    negated: list[Text] = []


class ConceptModel(SpecModel):
    """One concept as written, in an exercise's `spec.concepts` or in concepts.yaml (see docs/exercise-format.md)."""

    use: list[Text] = []  # shared lexicons or other local concepts whose matches count too
    phrases: list[Text] = []
    regex: list[Regex] = []  # over the word stream (lower case, contractions expanded)
    raw_regex: list[Regex] = []  # over the answer as written (normalised)
    except_: list[Text] = Field([], alias="except")  # a match overlapping one of these does not count
    scope: Scope = "any"
    negation: bool = True  # a match in a negated clause does not count
    synonyms: bool = True  # false: the phrases name different things, so several in a sentence are no stuffing
    without: list[Text] = []  # phrases that rule a sentence out
    together: list[list[Text]] = []  # groups of phrases that must all occur in one sentence
    # false: a match in a sentence that tells the candidate's own past elsewhere (english.yaml's story_frames) does
    # not count, so "volunteers who were frustrated by late changes" is a story, not a complaint about the day.
    stories: bool = True
    description: str = ""
    examples: ExamplesModel = ExamplesModel()


class LexiconsFile(SpecModel):
    """graders/rules/concepts.yaml: the shared concept lexicons."""

    concepts: dict[str, ConceptModel]


class CapsModel(SpecModel):
    """A tone rule's `caps:`: writing in capitals, as a share of the longer words."""

    share: Annotated[float, Field(ge=0.01, le=1)]
    min_words: Annotated[int, Field(ge=1, le=100)] = 3


class ToneRuleModel(ConceptModel):
    """One rule of tone.yaml: what it catches (phrases, regexes or capitals), its category and message."""

    id: str
    category: str
    message: str
    caps: CapsModel | None = None
    # true: a marker that is sometimes innocent ("lol", "finally"); it counts only beside another weak marker.
    weak: bool = False


class ToneFile(SpecModel):
    """graders/rules/tone.yaml: the tone rules."""

    rules: list[ToneRuleModel]


def build_concept(body: ConceptModel, name: str, path: str, lang: Language, issues: list[SpecIssue],
                  raw: Mapping[str, Any] | None = None) -> ConceptDef:
    """Compile one validated (or salvaged) concept: phrases inflected, regexes compiled, cross-key checks recorded.

    `raw` is the mapping as written: a salvage drops an invalid field, and a regex that failed to compile must not
    also be reported as missing.
    """
    def get(field: str) -> Any:
        """A field of the salvage, with its default for one that was invalid (and a list without its bad entries)."""
        value = getattr(body, field, None)
        if value is None:
            return ConceptModel.model_fields[field].get_default(call_default_factory=True)
        # A salvaged list keeps its positions, with None where an entry was invalid (already reported).
        return [v for v in value if v is not None] if isinstance(value, list) else value

    phrases = tuple(get("phrases"))
    groups = []
    for i, group in enumerate(get("together")):
        if group is None or not group:
            issues.append(SpecIssue(f"{path}.together[{i}]", "expected a list of phrases"))
            continue
        groups.append(_compile_phrases(f"{path}.together[{i}].phrases", tuple(group), lang, issues))
    if len(groups) == 1:
        issues.append(SpecIssue(f"{path}.together", "needs at least two groups of phrases (one is just phrases)"))
    written = raw if isinstance(raw, Mapping) else {}
    if not (phrases or get("use") or written.get("regex") or written.get("raw_regex") or written.get("together")):
        issues.append(SpecIssue(path, "needs at least one of phrases, together, regex, raw_regex or use"))
    examples = get("examples")
    return ConceptDef(name, _compile_phrases(f"{path}.phrases", phrases, lang, issues),
                      _compile_phrases(f"{path}.except", tuple(get("except_")), lang, issues),
                      tuple(compile_regex(x) for x in get("regex")), tuple(compile_regex(x) for x in get("raw_regex")),
                      get("scope"), get("negation"), tuple(get("use")), phrases, get("description"),
                      Examples(*(tuple(getattr(examples, k, None) or ()) for k in ("match", "ok", "negated"))),
                      tuple(groups), get("synonyms"),
                      _compile_phrases(f"{path}.without", tuple(get("without")), lang, issues),
                      () if get("stories") else _compile_phrases("english.yaml.story_frames", lang.story_frames,
                                                                 lang, issues))


def _compile_phrases(key: str, phrases: tuple[str, ...], lang: Language,
                     issues: list[SpecIssue]) -> tuple[Pattern, ...]:
    """Expand every phrase of a list, recording a bad one with its index."""
    out: list[Pattern] = []
    for i, phrase in enumerate(phrases):
        try:
            out.extend(compile_phrase(phrase, lang))
        except PhraseError as exc:
            issues.append(SpecIssue(f"{key}[{i}]", str(exc)))
    return tuple(out)


def _read_lexicons(raw: Any, lang: Language, issues: list[SpecIssue]) -> dict[str, ConceptDef]:
    """Read concepts.yaml: shared concept lexicons, each with a description and examples."""
    data, found = validate(LexiconsFile, raw, "concepts.yaml")
    issues.extend(found)
    bodies = (data.concepts if data is not None else None) or {}
    raw_bodies = raw.get("concepts") if isinstance(raw, Mapping) else None
    out: dict[str, ConceptDef] = {}
    for name, body in bodies.items():
        if body is None:
            continue
        written = raw_bodies.get(name) if isinstance(raw_bodies, Mapping) else None
        out[name] = build_concept(body, name, f"concepts.yaml.concepts.{name}", lang, issues, written)
    for name, concept in out.items():
        for i, used in enumerate(concept.use):
            if used not in out:
                issues.append(SpecIssue(f"concepts.yaml.concepts.{name}.use[{i}]", f"unknown concept {used!r}"))
    return out


def _read_tone(raw: Any, lang: Language, issues: list[SpecIssue]) -> tuple[ToneRule, ...]:
    """Read tone.yaml: a list of rules, each with a category, a message and examples."""
    data, found = validate(ToneFile, raw, "tone.yaml")
    issues.extend(found)
    raw_rules = raw.get("rules") if isinstance(raw, Mapping) else None
    rules: list[ToneRule] = []
    ids: list[tuple[str, str]] = []
    for i, body in enumerate((data.rules if data is not None else None) or []):
        if body is None:
            continue
        path = f"tone.yaml.rules[{i}]"
        written = raw_rules[i] if isinstance(raw_rules, list) and i < len(raw_rules) else {}
        written = written if isinstance(written, Mapping) else {}
        rid = body.id or ""
        caps = body.caps
        if caps is None or any(k in written for k in ("phrases", "regex")):
            concept = build_concept(body, rid, path, lang, issues, written)
        else:
            examples = body.examples or ExamplesModel()
            concept = ConceptDef(rid, (), (), (), (), "any", False, (), (),
                                 examples=Examples(tuple(examples.match or ()), tuple(examples.ok or ()),
                                                   tuple(examples.negated or ())))
        ids.append((f"{path}.id", rid))
        rules.append(ToneRule(rid, body.category or "", body.message or "", concept,
                              caps.share if caps is not None else None, caps.min_words if caps is not None else 3,
                              bool(body.weak)))
    unique_ids(ids, issues)
    return tuple(rules)


def load_rules(directory: Path) -> Rules:
    """Load and validate the rules files of a directory; raise SpecError naming every bad file and key."""
    issues: list[SpecIssue] = []
    raws = {name: _read_yaml(directory / name, issues) for name in RULE_FILES}
    raise_if(issues)
    lang = _read_language(raws["english.yaml"], issues)
    raise_if(issues)  # the lexicons need a working language to compile their phrases
    assert lang is not None  # a language that could not be read comes with issues
    lexicons = _read_lexicons(raws["concepts.yaml"], lang, issues)
    tone = _read_tone(raws["tone.yaml"], lang, issues)
    raise_if(issues)
    return Rules(lang, lexicons, tone, rules_digest(directory))


def rules_digest(directory: Path) -> str:
    """Short hash of the rules files, so a stored result names the exact rules that graded it."""
    h = hashlib.sha256()
    for name in RULE_FILES:
        path = directory / name
        h.update(path.read_bytes() if path.exists() else b"")
    return h.hexdigest()[:8]


@cache
def default_rules() -> Rules:
    """The shipped rules, loaded once per process."""
    return load_rules(RULES_DIR)
