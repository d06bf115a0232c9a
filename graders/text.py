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

import hashlib
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from graders import textlib
from graders.base import (
    MAX_ANSWER_CHARS,
    Check,
    Context,
    Grader,
    InvalidAnswer,
    Result,
    SpecError,
    SpecIssue,
    normalise_text,
    register,
)
from graders.spec import SpecReader, raise_if, unique_ids
from graders.structured import SCORE_DIGITS, finish

RULES_DIR = Path(__file__).parent / "rules"
RULE_FILES = ("english.yaml", "concepts.yaml", "tone.yaml")
SCOPES = ("any", "question", "statement", "opening", "closing")
CHECK_KINDS = ("require", "forbid", "tone", "words", "questions", "sentences")
GUARD_ID = "real-sentences"
TOO_SLOW = ("This answer could not be graded in time, so it was not counted and no attempt was used. Shorten it "
            "or break up very long lines, then send it again.")
# A placeholder left in a template: "[Thank him for his time]", "[My name]".
PLACEHOLDER_RE = re.compile(r"\[[^\[\]\n]{2,80}\]")
# How a check the guard zeroed begins its message; a check that failed on its own merits never does.
NOT_CREDITED = "Not credited, because the answer is not written as real sentences."
# How many sentences at the start (or end) of an answer count as its opening (or closing).
EDGE_SENTENCES = 2
# Quoted evidence in a message is cut to this many characters so a long match cannot flood the feedback.
QUOTE_CHARS = 60
# Why the rules suggest a person looks at a grade (Result.review_reasons), for the instructors' review queue.
REVIEW_REASONS = {
    "near-pass": "one check away from the other side of the pass mark",
    "loose-match": "a deciding check matched only through a typo or a loose match",
    "guard-and-move": "a guard and a required move fired in the same sentence",
    "few-matches": "a long answer where few sentences matched anything",
}
# "Long" for the few-matches reason, and how small a share of its sentences matching anything is "few".
REVIEW_LONG_WORDS = 100
REVIEW_MIN_SENTENCES = 4
REVIEW_MATCHED_SHARE = 0.34


# ---- loading the shared rules files -------------------------------------------------------------------------

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
    patterns: tuple[textlib.Pattern, ...]
    except_patterns: tuple[textlib.Pattern, ...]
    regex: tuple[Any, ...]
    raw_regex: tuple[Any, ...]
    scope: str
    negation: bool
    use: tuple[str, ...]
    phrases: tuple[str, ...]  # as written, for the instructor's answer key
    description: str = ""
    examples: Examples = Examples()
    # `together`: groups of phrases that must all occur in one sentence ("another offer" + "by Friday").
    groups: tuple[tuple[textlib.Pattern, ...], ...] = ()
    # `synonyms: false`: the phrases name different things (the topics of the interview), so several of them
    # in one sentence are a description, not synonym stuffing.
    synonyms: bool = True
    # `without`: phrases that rule a sentence out ("when", "next" in a question make it about timing, not fit).
    without: tuple[textlib.Pattern, ...] = ()


@dataclass(frozen=True)
class ToneRule:
    """A tone rule (proselint/Vale style): what it catches, the message, and examples that pin it down."""

    id: str
    category: str
    message: str
    concept: ConceptDef
    caps_share: float | None
    caps_min_words: int


@dataclass(frozen=True)
class Rules:
    """Everything loaded from graders/rules/: the language data, shared lexicons and tone rules."""

    lang: textlib.Language
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
        for w in textlib.WORD_RE.findall(textlib.normalise_phrase_word(item)):
            words.extend(lang_expand(w))
        out.append(tuple(words))
    return tuple(out)


def lang_words(item: str) -> list[str]:
    """The canonical words of a list item as written ("'d" is expanded later; here only case and quotes)."""
    return textlib.WORD_RE.findall(textlib.normalise_phrase_word(item))


def _read_language(raw: Any, issues: list[SpecIssue]) -> textlib.Language:
    """Read english.yaml into a Language."""
    r = SpecReader(raw, "english.yaml", issues)
    contractions: dict[str, tuple[str, ...]] = {}
    for word, value in (r.req("contractions", dict, {}) or {}).items():
        if not isinstance(value, str) or not value.split():
            issues.append(SpecIssue(f"{r.key('contractions')}.{word}", "expected the words it stands for"))
            continue
        contractions[str(word).lower()] = tuple(value.lower().split())
    suffixes = []
    for suffix, value in (r.req("suffixes", dict, {}) or {}).items():
        if not isinstance(value, str) or not value.split():
            issues.append(SpecIssue(f"{r.key('suffixes')}.{suffix}", "expected the words it stands for"))
            continue
        suffixes.append((str(suffix), tuple(value.split())))
    s_is = frozenset(r.str_list("s_is", required=True))
    abbreviations = frozenset(a.lower() for a in r.str_list("abbreviations", required=True))
    numeric_abbreviations = frozenset(a.lower() for a in r.str_list("numeric_abbreviations", required=True))
    neg = SpecReader(r.req("negation", dict, {}), r.key("negation"), issues)
    cues = frozenset(neg.str_list("cues", required=True))
    window = neg.number("window", 4, lo=1, hi=10, required=True)
    clause_words = frozenset(neg.str_list("clause_words", required=True))
    not_negating_raw = neg.str_list("not_negating")
    neg.done()
    function_words = frozenset(r.str_list("function_words", required=True))
    no_inflect = frozenset(r.str_list("no_inflect", required=True))
    indirect_raw = r.str_list("indirect_questions")
    requests_raw = r.str_list("requests", required=True)
    g = SpecReader(r.req("guard", dict, {}), r.key("guard"), issues)
    guard = {
        "min_function_share": g.number("min_function_share", 0.2, lo=0, hi=1, required=True),
        "min_sentence_words": g.number("min_sentence_words", 4, lo=1, hi=20, required=True),
        "min_real_share": g.number("min_real_share", 0.6, lo=0, hi=1, required=True),
        "max_repeats": g.number("max_repeats", 1, lo=0, hi=100, required=True),
        "max_concept_share": g.number("max_concept_share", 0.6, lo=0, hi=1, required=True),
        "stuffing_min_hits": g.number("stuffing_min_hits", 3, lo=1, hi=100, required=True),
        "max_hits_per_sentence": g.number("max_hits_per_sentence", 3, lo=1, hi=100, required=True),
        "max_adjacent_hits": g.number("max_adjacent_hits", 2, lo=1, hi=100, required=True),
        "min_words_for_shares": g.number("min_words_for_shares", 6, lo=1, hi=100, required=True),
        "unpunctuated_words": g.number("unpunctuated_words", 25, lo=1, hi=1000, required=True),
        "max_label_lines": g.number("max_label_lines", 1, lo=0, hi=100, required=True),
        "max_placeholders": g.number("max_placeholders", 1, lo=0, hi=100, required=True),
        "contact_labels": frozenset(w.lower() for w in g.str_list("contact_labels", required=True)),
        "max_narrated_share": g.number("max_narrated_share", 0.5, lo=0, hi=1, required=True),
        "chain_conjunctions": g.number("chain_conjunctions", 4, lo=1, hi=100, required=True),
        "chain_concepts": g.number("chain_concepts", 3, lo=1, hi=100, required=True),
    }
    g.done()
    sp = SpecReader(r.req("spelling", dict, {}), r.key("spelling"), issues)
    spelling = {
        "min_length": sp.number("min_length", 5, lo=3, hi=20, required=True),
        "long_from": sp.number("long_from", 8, lo=4, hi=30, required=True),
    }
    sp.done()
    lead_ins = frozenset(r.str_list("lead_ins", required=True))
    modifiers = frozenset(w for m in r.str_list("modifiers", required=True) for w in lang_words(m))
    nr = SpecReader(r.req("narration", dict, {}), r.key("narration"), issues)
    narration = textlib.Narration(
        *(frozenset(nr.str_list(k, required=True)) for k in ("modals", "adverbs")),
        frozenset(f for v in nr.str_list("verbs", required=True) for f in textlib.inflections(v)),
        *(frozenset(nr.str_list(k, required=True)) for k in ("listeners", "markers")), ())
    task_raw = nr.str_list("about_the_task", required=True)
    checking_raw = nr.str_list("checking", required=True)
    openings_raw = nr.str_list("openings", required=True)
    nr.done()
    r.done()
    base = textlib.Language(contractions, tuple(suffixes), s_is, abbreviations, cues, int(window or 4),
                            clause_words, (), function_words, no_inflect, (), guard, spelling=spelling,
                            lead_ins=lead_ins, narration=narration, modifiers=modifiers,
                            numeric_abbreviations=numeric_abbreviations)
    return replace(base, not_negating=_word_tuple(not_negating_raw, base.expand),
                   indirect_questions=_word_tuple(indirect_raw, base.expand),
                   requests=_word_tuple(requests_raw, base.expand),
                   narration=replace(narration, checking=_word_tuple(checking_raw, base.expand),
                                     about_the_task=_word_tuple(task_raw, base.expand),
                                     openings=_word_tuple(openings_raw, base.expand)))


def read_concept(r: SpecReader, name: str, lang: textlib.Language, issues: list[SpecIssue],
                 with_docs: bool = False) -> ConceptDef:
    """Read and compile one concept mapping (phrases inflected, regexes compiled and vetted)."""
    phrases = r.str_list("phrases")
    patterns = _compile_phrases(r, "phrases", phrases, lang, issues)
    excepts = _compile_phrases(r, "except", r.str_list("except"), lang, issues)
    regex = _compile_regexes(r, "regex")
    raw_regex = _compile_regexes(r, "raw_regex")
    scope = r.opt("scope", str, "any")
    if scope not in SCOPES:
        issues.append(SpecIssue(r.key("scope"), f"must be one of {', '.join(SCOPES)}, got {scope!r}"))
        scope = "any"
    negation = r.opt("negation", bool, True)
    synonyms = r.opt("synonyms", bool, True)
    without = _compile_phrases(r, "without", r.str_list("without"), lang, issues)
    use = r.str_list("use")
    description = ""
    examples = Examples()
    if with_docs:
        description = r.opt("description", str, "")
        examples = read_examples(r, issues)
    groups = []
    for i, group in enumerate(r.opt("together", list, []) or []):
        if not isinstance(group, list) or not group or not all(isinstance(g, str) for g in group):
            issues.append(SpecIssue(f"{r.key('together')}[{i}]", "expected a list of phrases"))
            continue
        gr = SpecReader({"phrases": group}, f"{r.key('together')}[{i}]", issues)
        groups.append(_compile_phrases(gr, "phrases", tuple(group), lang, issues))
    if len(groups) == 1:
        issues.append(SpecIssue(r.key("together"), "needs at least two groups of phrases (one is just phrases)"))
    # Judged on what was written, so a regex that failed to compile is not also reported as missing.
    written = phrases or use or r.raw.get("regex") or r.raw.get("raw_regex") or r.raw.get("together")
    if not written:
        issues.append(SpecIssue(r.path, "needs at least one of phrases, together, regex, raw_regex or use"))
    return ConceptDef(name, patterns, excepts, regex, raw_regex, scope, negation, use, phrases, description,
                      examples, tuple(groups), synonyms, without)


def read_examples(r: SpecReader, issues: list[SpecIssue]) -> Examples:
    """Read an `examples: {match: [...], ok: [...], negated: [...]}` block."""
    ex = SpecReader(r.opt("examples", dict, {}), r.key("examples"), issues)
    out = Examples(ex.str_list("match"), ex.str_list("ok"), ex.str_list("negated"))
    ex.done()
    return out


def _compile_phrases(r: SpecReader, key: str, phrases: tuple[str, ...], lang: textlib.Language,
                     issues: list[SpecIssue]) -> tuple[textlib.Pattern, ...]:
    """Expand every phrase of a list, recording a bad one with its index."""
    out: list[textlib.Pattern] = []
    for i, phrase in enumerate(phrases):
        try:
            out.extend(textlib.compile_phrase(phrase, lang))
        except textlib.PhraseError as exc:
            issues.append(SpecIssue(f"{r.key(key)}[{i}]", str(exc)))
    return tuple(out)


def _compile_regexes(r: SpecReader, key: str) -> tuple[Any, ...]:
    """Compile a list of regexes at load time (on RE2, so none can backtrack catastrophically)."""
    compiled = (r.regex(f"{key}[{i}]", pattern) for i, pattern in enumerate(r.opt(key, list, []) or []))
    return tuple(c for c in compiled if c is not None)


def _read_lexicons(raw: Any, lang: textlib.Language, issues: list[SpecIssue]) -> dict[str, ConceptDef]:
    """Read concepts.yaml: shared concept lexicons, each with a description and examples."""
    r = SpecReader(raw, "concepts.yaml", issues)
    out: dict[str, ConceptDef] = {}
    for name, body in (r.req("concepts", dict, {}) or {}).items():
        cr = SpecReader(body, f"{r.key('concepts')}.{name}", issues)
        out[str(name)] = read_concept(cr, str(name), lang, issues, with_docs=True)
        cr.done()
    r.done()
    for name, concept in out.items():
        for i, used in enumerate(concept.use):
            if used not in out:
                issues.append(SpecIssue(f"concepts.yaml.concepts.{name}.use[{i}]", f"unknown concept {used!r}"))
    return out


def _read_tone(raw: Any, lang: textlib.Language, issues: list[SpecIssue]) -> tuple[ToneRule, ...]:
    """Read tone.yaml: a list of rules, each with a category, a message and examples."""
    r = SpecReader(raw, "tone.yaml", issues)
    rules: list[ToneRule] = []
    ids: list[tuple[str, str]] = []
    for i, body in enumerate(r.req("rules", list, []) or []):
        rr = SpecReader(body, f"{r.key('rules')}[{i}]", issues)
        rid = rr.req("id", str, "")
        category = rr.req("category", str, "")
        message = rr.req("message", str, "")
        caps = rr.opt("caps", dict, None)
        caps_share, caps_min = None, 3
        if caps is not None:
            cr = SpecReader(caps, rr.key("caps"), issues)
            caps_share = cr.number("share", 0.6, lo=0.01, hi=1, required=True)
            caps_min = int(cr.number("min_words", 3, lo=1, hi=100) or 3)
            cr.done()
        if caps is None or any(k in (body if isinstance(body, Mapping) else {}) for k in ("phrases", "regex")):
            concept = read_concept(rr, rid, lang, issues, with_docs=True)
        else:
            concept = ConceptDef(rid, (), (), (), (), "any", False, (), (), examples=read_examples(rr, issues))
        rr.done()
        ids.append((rr.key("id"), rid))
        rules.append(ToneRule(rid, category, message, concept, caps_share, caps_min))
    r.done()
    unique_ids(ids, issues)
    return tuple(rules)


def load_rules(directory: Path) -> Rules:
    """Load and validate the rules files of a directory; raise SpecError naming every bad file and key."""
    issues: list[SpecIssue] = []
    raws = {name: _read_yaml(directory / name, issues) for name in RULE_FILES}
    raise_if(issues)
    lang = _read_language(raws["english.yaml"], issues)
    raise_if(issues)  # the lexicons need a working language to compile their phrases
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


# ---- compiled specs -----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Atom:
    """One concept's own phrases/regexes with their scope and negation, matched as a unit."""

    name: str
    scope: str
    negation: bool
    regex: tuple[Any, ...]
    raw_regex: tuple[Any, ...]
    groups: int = 0  # how many `together` groups must meet in one sentence


# What an index key stands for: (atom, role, group). Roles: a match, an exception (veto), a `together` group,
# and a `without` phrase (it rules out its whole sentence).
FOUND, VETO, GROUP, WITHOUT = 0, 1, 2, 3


def _register(defn: ConceptDef, atoms: list[Atom], entries: list[tuple[int, textlib.Pattern]],
              roles: list[tuple[int, int, int]]) -> int:
    """Add one definition as an atom, with index entries for its phrases, exceptions and groups."""
    n = len(atoms)
    atoms.append(Atom(defn.name, defn.scope, defn.negation, defn.regex, defn.raw_regex, len(defn.groups)))
    roles_of = [(FOUND, 0, defn.patterns), (VETO, 0, defn.except_patterns), (WITHOUT, 0, defn.without),
                *((GROUP, g, pats) for g, pats in enumerate(defn.groups))]
    for role, group, patterns in roles_of:
        if patterns:
            roles.append((n, role, group))
            entries.extend((len(roles) - 1, p) for p in patterns)
    return n


@dataclass(frozen=True)
class Hit:
    """One occurrence of an atom: canonical word range, character span, and the negator if negated."""

    first: int
    stop: int
    span: tuple[int, int]
    negator: int | None
    # A `together` meeting: its range runs from the first group's words to the last's, with other words between,
    # so it says where the concept is but not that all those words are rubric phrases.
    loose: bool = False


@dataclass(frozen=True)
class CheckSpec:
    """One rubric check as compiled."""

    id: str
    kind: str
    weight: float
    required: bool
    lesson: str | None
    pass_msg: str
    fail_msg: str
    negated_msg: str
    concepts: tuple[str, ...] = ()  # require/forbid: concept names
    categories: tuple[str, ...] = ()  # tone
    min_words: int | None = None
    max_words: int | None = None
    min_questions: int = 0
    # require: the check fails anyway when one of these concepts is found ("your team could train me").
    unless: tuple[str, ...] = ()
    unless_msg: str = ""
    # What instructors read in place of the id on their pages ("Invites concerns"); empty: the id read as words.
    name: str = ""


@dataclass(frozen=True)
class Matcher:
    """All atoms a spec needs, with one phrase index over them."""

    atoms: tuple[Atom, ...]
    index: textlib.PhraseIndex
    concept_atoms: Mapping[str, tuple[int, ...]]  # concept name -> atom indices (its own and `use`d ones)
    tone_atoms: tuple[tuple[ToneRule, int], ...]
    needs_stream: bool
    speller: textlib.Speller
    roles: tuple[tuple[int, int, int], ...]  # index key -> (atom, FOUND | VETO | GROUP, group number)

    def run(self, a: textlib.Analysis, lang: textlib.Language) -> Found:
        """Find every hit of every atom in an analysed answer, and the ranges each atom's exceptions cover."""
        found: list[list[tuple[int, int]]] = [[] for _ in self.atoms]
        vetoes: list[list[tuple[int, int]]] = [[] for _ in self.atoms]
        if not a.words:
            return Found([[] for _ in self.atoms], vetoes)
        groups: list[list[list[tuple[int, int]]]] = [[[] for _ in range(atom.groups)] for atom in self.atoms]
        # The words a gap skipped, per match: a negator there ("I do not really want it") negates the match too.
        skipped: dict[tuple[int, int], tuple[int, ...]] = {}
        ruled_out: list[set[int]] = [set() for _ in self.atoms]  # sentences a `without` phrase rules out
        for key, first, stop, gap_words in self.index.find(a):
            n, role, g = self.roles[key]
            if role == GROUP:
                groups[n][g].append((first, stop))
                continue
            if role == WITHOUT:
                ruled_out[n].add(a.sent[first])
                continue
            (vetoes if role == VETO else found)[n].append((first, stop))
            if gap_words:
                skipped[(first, stop)] = gap_words
        met: list[set[tuple[int, int]]] = [set() for _ in self.atoms]
        for n, atom_groups in enumerate(groups):
            # A negation between the groups ("another role that doesn't need Tableau, so ... soon") is about
            # something else; only one right before the first group negates the whole.
            met[n].update(_meetings(a, atom_groups))
            found[n].extend(met[n])
        stream, offsets = textlib.word_stream(a) if self.needs_stream else ("", [])
        # Trailing blank lines dropped: RE2's "$" is the very end, where Python's also allowed a final newline.
        raw_text = a.text.rstrip()
        for n, atom in enumerate(self.atoms):
            for rx in atom.regex:
                found[n].extend(textlib.stream_hits(rx, stream, offsets))
            for rx in atom.raw_regex:
                for m in rx.finditer(raw_text):
                    if m.end() > m.start():
                        first = a.word_at(m.start())
                        found[n].append((first, max(first + 1, a.word_at(m.end() - 1) + 1)))
        out: list[list[Hit]] = []
        for n, atom in enumerate(self.atoms):
            hits: list[Hit] = []
            for first, stop in sorted(set(found[n])):
                if any(f < stop and first < s for f, s in vetoes[n]) or not _in_scope(a, first, atom.scope):
                    continue
                if a.sent[first] in ruled_out[n]:
                    continue
                neg = None
                if atom.negation:
                    neg = textlib.negator_before(a, first, lang)
                    if neg is None and (first, stop) in skipped:
                        neg = textlib.gap_negator(a, skipped[(first, stop)], lang)
                hits.append(Hit(first, stop, a.span(first, stop), neg, (first, stop) in met[n]))
            out.append(_drop_overlaps(hits))
        return Found(out, vetoes)


@dataclass(frozen=True)
class Found:
    """What a matcher found: hits per atom, and the word ranges each atom's exceptions covered."""

    hits: list[list[Hit]]
    vetoes: list[list[tuple[int, int]]]


def _meetings(a: textlib.Analysis, groups: list[list[tuple[int, int]]]) -> list[tuple[int, int]]:
    """For each sentence where every group has a match, the word range from the first to the last of them."""
    if not groups or not all(groups):
        return []
    per_sentence: list[dict[int, list[tuple[int, int]]]] = []
    for matches in groups:
        by_sentence: dict[int, list[tuple[int, int]]] = {}
        for m in matches:
            by_sentence.setdefault(a.sent[m[0]], []).append(m)
        per_sentence.append(by_sentence)
    shared = set.intersection(*(set(d) for d in per_sentence))
    out = []
    for s in sorted(shared):
        firsts = [min(d[s]) for d in per_sentence]
        out.append((min(f for f, _ in firsts), max(stop for _, stop in firsts)))
    return out


def _drop_overlaps(hits: list[Hit]) -> list[Hit]:
    """Merge overlapping hits ("send the offer" + "offer letter") so one phrase is reported once."""
    kept: list[Hit] = []
    for h in sorted(hits, key=lambda h: (h.first, -h.stop)):
        if kept and h.first < kept[-1].stop:
            last = kept[-1]
            if h.stop > last.stop:
                kept[-1] = Hit(last.first, h.stop, (last.span[0], h.span[1]), last.negator, last.loose and h.loose)
            continue
        kept.append(h)
    return kept


def _in_scope(a: textlib.Analysis, first: int, scope: str) -> bool:
    """Whether a hit starting at canonical word `first` lies in the concept's scope."""
    if scope == "any":
        return True
    s = a.sent[first]
    if scope == "question":
        return a.sentences[s].asks
    if scope == "statement":
        return not a.sentences[s].asks
    # Two sentences at either end: a subject line may come before the greeting, and a name after the sign-off.
    if scope == "opening":
        # A greeting opens its line: "afternoon" at the end of "Thank you for yesterday afternoon" greets nobody.
        return s < EDGE_SENTENCES and first == a.sentences[s].first
    return s >= len(a.sentences) - EDGE_SENTENCES


@dataclass(frozen=True)
class TextSpec:
    """A compiled text spec."""

    checks: tuple[CheckSpec, ...]
    matcher: Matcher
    rules: Rules
    concepts: Mapping[str, ConceptDef]  # every concept the spec can reach, for the answer key


def _default_messages(kind: str, c: Mapping[str, Any]) -> tuple[str, str]:
    """Fallback pass/fail messages for a check that does not give its own."""
    if kind == "words":
        return ("The length is right.", "Keep to the length asked for.")
    if kind == "questions":
        return ("You ask the interviewer something.", "Ask the interviewer at least one question.")
    if kind == "sentences":
        return ("Written as real sentences.", "Write real sentences, not a list of keywords.")
    if kind == "tone":
        return ("The tone stays courteous.", "Watch the tone.")
    if kind == "forbid":
        return ("Nothing here that the rubric rules out.", "Leave this out.")
    return (f"Covers {c.get('require')}.", f"Missing: {c.get('require')}.")


def _read_check(raw: Any, path: str, known: set[str], categories: list[str],
                issues: list[SpecIssue]) -> CheckSpec | None:
    """Read one entry of `checks`."""
    r = SpecReader(raw, path, issues)
    cid = r.req("id", str, "")
    present = [k for k in CHECK_KINDS if isinstance(raw, Mapping) and k in raw]
    if len(present) != 1:
        issues.append(SpecIssue(path, f"needs exactly one of {', '.join(CHECK_KINDS)}, got {present or 'none'}"))
    weight = r.number("weight", 1.0, lo=0, hi=100)
    required = r.opt("required", bool, True)
    lesson = r.opt("lesson", str, None)
    kind = present[0] if len(present) == 1 else ""
    default_pass, default_fail = _default_messages(kind, raw if isinstance(raw, Mapping) else {})
    pass_msg = r.opt("pass", str, default_pass)
    fail_msg = r.opt("fail", str, default_fail)
    negated_msg = r.opt("negated", str, "")
    name = r.opt("name", str, "").strip()
    concepts: tuple[str, ...] = ()
    categories_out: tuple[str, ...] = ()
    min_w = max_w = None
    min_q = 0
    unless: tuple[str, ...] = ()
    unless_msg = ""
    if kind in ("require", "forbid"):
        concepts = _concept_names(r, kind, r.req(kind, (str, list), ""), known, issues)
    if kind == "require" and isinstance(raw, Mapping) and "unless" in raw:
        unless = _concept_names(r, "unless", r.req("unless", (str, list), ""), known, issues)
        unless_msg = r.req("unless_fail", str, "")
    elif kind == "tone":
        categories_out = r.str_list("tone", required=True)
        for cat in categories_out:
            if cat not in categories:
                issues.append(SpecIssue(r.key("tone"), f"unknown tone category {cat!r} "
                                                       f"(known: {', '.join(categories)})"))
    elif kind == "words":
        w = SpecReader(r.req("words", dict, {}), r.key("words"), issues)
        lo = w.number("min", None, lo=0, hi=5000)
        hi = w.number("max", None, lo=1, hi=5000)
        w.done()
        if lo is None and hi is None:
            issues.append(SpecIssue(r.key("words"), "needs min, max or both"))
        if lo is not None and hi is not None and lo > hi:
            issues.append(SpecIssue(r.key("words"), f"min ({lo}) is more than max ({hi})"))
        min_w = int(lo) if lo is not None else None
        max_w = int(hi) if hi is not None else None
    elif kind == "questions":
        min_q = int(r.number("questions", 1, lo=1, hi=50, required=True) or 1)
    elif kind == "sentences" and r.req("sentences", bool, True) is not True:
        issues.append(SpecIssue(r.key("sentences"), "the real-sentences guard cannot be turned off"))
    r.done()
    if not kind:
        return None
    return CheckSpec(cid, kind, float(weight if weight is not None else 1.0), bool(required), lesson, pass_msg,
                     fail_msg, negated_msg, concepts, categories_out, min_w, max_w, min_q, unless, unless_msg, name)


def _concept_names(r: SpecReader, key: str, value: Any, known: set[str], issues: list[SpecIssue]) -> tuple[str, ...]:
    """A check's concept name or list of names, each checked against the known concepts."""
    names = (value,) if isinstance(value, str) else tuple(v for v in value if isinstance(v, str))
    if isinstance(value, list) and len(names) != len(value) or not names:
        issues.append(SpecIssue(r.key(key), "expected a concept name or a list of concept names"))
    for name in names:
        if name not in known:
            issues.append(SpecIssue(r.key(key), f"unknown concept {name!r} (not in spec.concepts "
                                                f"or graders/rules/concepts.yaml)"))
    return names


def _resolve(name: str, local: Mapping[str, ConceptDef], rules: Rules, trail: tuple[str, ...],
             issues: list[SpecIssue]) -> list[ConceptDef]:
    """The definitions a concept stands for: itself and, recursively, every concept it `use`s."""
    if name in trail:
        issues.append(SpecIssue(f"spec.concepts.{trail[0]}.use", f"concepts use each other in a cycle: "
                                                                f"{' -> '.join((*trail, name))}"))
        return []
    concept = local.get(name) or rules.lexicons.get(name)
    if concept is None:
        return []
    out = [concept]
    for used in concept.use:
        # A local concept may `use` a shared lexicon of the same name; otherwise look locally first.
        scope_local = {k: v for k, v in local.items() if k != name} if used == name else local
        if used not in scope_local and used not in rules.lexicons:
            issues.append(SpecIssue(f"spec.concepts.{name}.use", f"unknown concept {used!r}"))
            continue
        out.extend(_resolve(used, scope_local, rules, (*trail, name), issues))
    return out


def _build_matcher(checks: tuple[CheckSpec, ...], local: Mapping[str, ConceptDef], rules: Rules,
                   issues: list[SpecIssue]) -> tuple[Matcher, dict[str, ConceptDef]]:
    """Collect the atoms every check needs and index all their phrases together."""
    atoms: list[Atom] = []
    entries: list[tuple[int, textlib.Pattern]] = []
    atom_of: dict[int, int] = {}  # id(ConceptDef) -> atom index, so a shared lexicon is matched once
    concept_atoms: dict[str, tuple[int, ...]] = {}
    reachable: dict[str, ConceptDef] = {}

    roles: list[tuple[int, int, int]] = []

    def add(defn: ConceptDef) -> int:
        """Register a definition as an atom (once) and return its index."""
        if id(defn) not in atom_of:
            atom_of[id(defn)] = _register(defn, atoms, entries, roles)
        return atom_of[id(defn)]

    for check in checks:
        for name in (*check.concepts, *check.unless):
            if name in concept_atoms:
                continue
            defs = _resolve(name, local, rules, (), issues)
            for d in defs:
                reachable.setdefault(d.name, d)
            concept_atoms[name] = tuple(dict.fromkeys(add(d) for d in defs))
    categories = {c for check in checks for c in check.categories}
    tone_atoms = tuple((rule, add(rule.concept)) for rule in rules.tone if rule.category in categories)
    needs_stream = any(a.regex for a in atoms)
    index = textlib.PhraseIndex.build(entries, rules.lang.modifiers)
    speller = textlib.Speller.build(index.vocabulary() | rules.lang.modifiers, rules.lang)
    return Matcher(tuple(atoms), index, concept_atoms, tone_atoms, needs_stream, speller, tuple(roles)), reachable


def compile_text_spec(spec: Mapping[str, Any], rules: Rules) -> TextSpec:
    """Validate and compile a text spec against a set of rules; raise SpecError with every issue."""
    issues: list[SpecIssue] = []
    r = SpecReader(spec, "spec", issues)
    local: dict[str, ConceptDef] = {}
    for name, body in (r.opt("concepts", dict, {}) or {}).items():
        cr = SpecReader(body, f"spec.concepts.{name}", issues)
        # Exercise-local concepts may carry a description and examples, as the shared lexicons do.
        local[str(name)] = read_concept(cr, str(name), rules.lang, issues, with_docs=True)
        cr.done()
    known = set(local) | set(rules.lexicons)
    checks: list[CheckSpec] = []
    raw_checks = r.req("checks", list, []) or []
    if not raw_checks and "checks" in (spec if isinstance(spec, Mapping) else {}):
        issues.append(SpecIssue("spec.checks", "needs at least one check"))
    categories = rules.categories()
    for i, raw in enumerate(raw_checks):
        check = _read_check(raw, f"spec.checks[{i}]", known, categories, issues)
        if check is not None:
            checks.append(check)
    unique_ids([(f"spec.checks[{i}].id", c.id) for i, c in enumerate(checks)], issues)
    kinds = [c.kind for c in checks]
    if kinds.count("words") > 1 or kinds.count("sentences") > 1:
        issues.append(SpecIssue("spec.checks", "at most one words check and one sentences check"))
    if "sentences" not in kinds:
        default_pass, default_fail = _default_messages("sentences", {})
        checks.append(CheckSpec(GUARD_ID, "sentences", 1.0, True, None, default_pass, default_fail, ""))
    r.done()
    matcher, reachable = _build_matcher(tuple(checks), local, rules, issues)
    for name in local:
        if name not in reachable:
            issues.append(SpecIssue(f"spec.concepts.{name}", "not used by any check (a typo in a check's concept?)"))
    raise_if(issues)
    return TextSpec(tuple(checks), matcher, rules, reachable)


# ---- grading ------------------------------------------------------------------------------------------------

def _quote(text: str, span: tuple[int, int]) -> str:
    """The words a span covers, quoted and shortened for a message."""
    words = " ".join(text[span[0]: span[1]].split())
    if len(words) > QUOTE_CHARS:
        words = words[: QUOTE_CHARS - 3] + "..."
    return f'"{words}"'


def _with_quotes(message: str, text: str, spans: list[tuple[int, int]], limit: int = 3) -> str:
    """Append the quoted evidence to a message."""
    if not spans:
        return message
    quotes = ", ".join(_quote(text, s) for s in spans[:limit])
    more = f" and {len(spans) - limit} more" if len(spans) > limit else ""
    return f"{message} (found: {quotes}{more})"


@dataclass(frozen=True)
class _Outcome:
    """A check's verdict before it becomes a Check."""

    passed: bool
    message: str
    spans: tuple[tuple[int, int], ...]
    # The verdict rests only on typo-corrected words or loose `together` meetings (a reason to suggest a review).
    shaky: bool = False


def _shaky(a: textlib.Analysis, hits: list[Hit]) -> bool:
    """True when every hit is a loose meeting or reads a word through the speller (a typo)."""
    return bool(hits) and all(h.loose or any(w in a.corrected for w in range(h.first, h.stop)) for h in hits)


def _concept_hits(spec: TextSpec, hits: Found, name: str) -> list[Hit]:
    """All hits of a concept (its own atom and every atom it uses), in text order."""
    return _hits_of(spec.matcher, hits, name)


def _hits_of(matcher: Matcher, found: Found, name: str) -> list[Hit]:
    """A concept's hits in text order; an exception of any of its atoms vetoes what any of them found."""
    atoms = matcher.concept_atoms.get(name, ())
    vetoes = [v for n in atoms for v in found.vetoes[n]]
    out = [h for n in atoms for h in found.hits[n] if not any(f < h.stop and h.first < s for f, s in vetoes)]
    # A loose `together` meeting that overlaps a phrase match adds nothing: the phrase is the precise evidence.
    tight = [h for h in out if not h.loose]
    out = tight + [h for h in out if h.loose and not any(t.first < h.stop and h.first < t.stop for t in tight)]
    # Overlapping matches from different atoms of one concept are one mention, not several.
    return sorted(_drop_overlaps(out), key=lambda h: h.span)


def _judge_require(c: CheckSpec, spec: TextSpec, a: textlib.Analysis, hits: Found) -> _Outcome:
    """Every listed concept must be present outside a negated clause."""
    positive_spans: list[tuple[int, int]] = []
    missing_negated: list[tuple[int, int]] = []
    missing = False
    shaky = False
    for name in c.concepts:
        found = _concept_hits(spec, hits, name)
        good = [h.span for h in found if h.negator is None]
        if good:
            positive_spans.extend(good)
            shaky = shaky or _shaky(a, [h for h in found if h.negator is None])
            continue
        missing = True
        missing_negated.extend((a.starts[h.negator], h.span[1]) for h in found if h.negator is not None)
    if not missing:
        vetoed = [h.span for name in c.unless for h in _concept_hits(spec, hits, name) if h.negator is None]
        if vetoed:
            return _Outcome(False, _with_quotes(c.unless_msg, a.text, vetoed), tuple(vetoed))
        return _Outcome(True, _with_quotes(c.pass_msg, a.text, positive_spans), tuple(positive_spans), shaky)
    if missing_negated:
        lead = c.negated_msg or ("The words are there, but negated, so they say the opposite. " + c.fail_msg)
        return _Outcome(False, _with_quotes(lead, a.text, missing_negated), tuple(missing_negated))
    return _Outcome(False, c.fail_msg, ())


def _judge_forbid(c: CheckSpec, spec: TextSpec, a: textlib.Analysis, hits: Found) -> _Outcome:
    """None of the listed concepts may appear (a negated mention is allowed)."""
    found = [h for name in c.concepts for h in _concept_hits(spec, hits, name) if h.negator is None]
    spans = [h.span for h in found]
    if spans:
        return _Outcome(False, _with_quotes(c.fail_msg, a.text, sorted(spans)), tuple(sorted(spans)), _shaky(a, found))
    return _Outcome(True, c.pass_msg, ())


def _judge_tone(c: CheckSpec, spec: TextSpec, a: textlib.Analysis, hits: Found) -> _Outcome:
    """No tone rule of the listed categories may fire; each one that does is explained with its own message."""
    messages: list[str] = []
    spans: list[tuple[int, int]] = []
    for rule, n in spec.matcher.tone_atoms:
        if rule.category not in c.categories:
            continue
        rule_spans = [h.span for h in hits.hits[n] if h.negator is None]
        if rule.caps_share is not None and a.words:
            rule_spans.extend(textlib.shouting(a, rule.caps_share, rule.caps_min_words))
        if rule_spans:
            messages.append(_with_quotes(rule.message, a.text, rule_spans))
            spans.extend(rule_spans)
    if messages:
        return _Outcome(False, " ".join([c.fail_msg, *messages]), tuple(sorted(set(spans))))
    return _Outcome(True, c.pass_msg, ())


def _judge_words(c: CheckSpec, a: textlib.Analysis) -> _Outcome:
    """The answer's word count must fall within the range."""
    n = a.word_count
    lo, hi = c.min_words, c.max_words
    want = (f"{lo} to {hi}" if lo is not None and hi is not None else
            f"at least {lo}" if lo is not None else f"at most {hi}")
    if lo is not None and n < lo:
        return _Outcome(False, f"{c.fail_msg} Your answer has {n} words; aim for {want}.", ())
    if hi is not None and n > hi:
        # Highlight the words past the limit, so the learner sees where to cut.
        start = a.raw_words[hi][0]
        return _Outcome(False, f"{c.fail_msg} Your answer has {n} words; aim for {want}.",
                        ((start, a.raw_words[-1][1]),))
    return _Outcome(True, f"{c.pass_msg} ({n} words)", ())


def _judge_questions(c: CheckSpec, a: textlib.Analysis) -> _Outcome:
    """The answer must ask at least `min_questions` questions (a request like "could you tell me" counts)."""
    asked = [(s.start, s.end) for s in a.sentences if s.question]
    if len(asked) >= c.min_questions:
        return _Outcome(True, c.pass_msg, tuple(asked))
    return _Outcome(False, f"{c.fail_msg} Found {len(asked)} question(s); the task asks for at least "
                           f"{c.min_questions}.", ())


def _judge_guard(c: CheckSpec, spec: TextSpec, a: textlib.Analysis, hits: Found) -> _Outcome:
    """The real-sentences guard: catch keyword lists, repeated sentences, stuffed phrases and unpunctuated runs."""
    g = spec.rules.lang.guard
    lang = spec.rules.lang
    total = len(a.words)
    if not total:
        return _Outcome(False, f"{c.fail_msg} There are no words in the answer.", ())
    checked = a.word_count >= g["min_words_for_shares"]
    # 1. Fragments: most words must sit in sentences of a few words that include ordinary function words.
    fragments = [s for s in a.sentences
                 if s.words < g["min_sentence_words"]
                 or not any(w in lang.function_words for w in a.words[s.first: s.stop])]
    in_real = sum(s.words for s in a.sentences) - sum(s.words for s in fragments)
    function_share = sum(w in lang.function_words for w in a.words) / total
    if checked and (in_real / max(1, a.word_count) < g["min_real_share"] or function_share < g["min_function_share"]):
        return _Outcome(False, f"{c.fail_msg} This reads as a list of words rather than sentences, so none of the "
                               "other points can be credited. Write it out as you would say or send it.",
                        tuple((s.start, s.end) for s in fragments) or ((0, len(a.text)),))
    # 2. "Interest: high. Concerns: any?" - labels with a value after them are a form filled in, not speech.
    labels = _label_lines(a, g["contact_labels"])
    if len(labels) > g["max_label_lines"] and len(labels) * 2 >= len(a.sentences):
        return _Outcome(False, f"{c.fail_msg} {len(labels)} lines read as a label and a value "
                               f"({', '.join(_quote(a.text, sp) for sp in labels[:3])}); say it in sentences "
                               "instead, so none of the other points can be credited yet.", tuple(labels))
    # 2b. "[Thank him for his time]", "[My name]": a template with its blanks left in.
    blanks = [m.span() for m in PLACEHOLDER_RE.finditer(a.text)]
    if len(blanks) > g["max_placeholders"]:
        shown = ", ".join(_quote(a.text, b) for b in blanks[:3])
        return _Outcome(False, f"{c.fail_msg} This is still a template ({shown}); write the words themselves, so "
                               "none of the other points can be credited yet.", tuple(blanks))
    # 3. An account of the advice ("Then I'd ask her about the timeline") is not the answer itself.
    told = textlib.narrated(a, lang)
    if told and len(told) >= g["max_narrated_share"] * len(a.sentences):
        spans = tuple((a.sentences[i].start, a.sentences[i].end) for i in told)
        return _Outcome(False, f"{c.fail_msg} This describes what you would say "
                               f"({_quote(a.text, spans[0])}) rather than saying it. Write the words you would "
                               "actually use, so none of the other points can be credited yet.", spans)
    # 4. The same sentence pasted again and again earns nothing.
    seen: dict[tuple[str, ...], int] = {}
    repeats: list[tuple[int, int]] = []
    for s in a.sentences:
        key = a.words[s.first: s.stop]
        if len(key) < 3:
            continue
        if key in seen:
            repeats.append((s.start, s.end))
        seen[key] = seen.get(key, 0) + 1
    if len(repeats) > g["max_repeats"]:
        most = max(seen.values())
        return _Outcome(False, f"{c.fail_msg} The same sentence appears {most} times; repeating a point "
                               "does not make it count more, so this answer earns nothing.", tuple(repeats))
    # 5. Stuffing: when rubric phrases make up most of the words, it is a keyword list in disguise.
    covered: set[int] = set()
    most_hits = 0
    clauses = _clause_numbers(a)
    for name in sorted({n for ch in spec.checks for n in ch.concepts}):
        found = _concept_hits(spec, hits, name)
        if name in spec.concepts and not spec.concepts[name].synonyms:
            continue  # topics named in passing; a list of them is caught by the fragment and function-word tests
        most_hits = max(most_hits, len(found))
        # Per sentence, the clauses (split at commas and at "and"/"or") where the concept appears.
        per_sentence: dict[int, dict[int, Hit]] = {}
        for h in found:
            if not h.loose:
                covered.update(range(h.first, h.stop))
            per_sentence.setdefault(a.sent[h.first], {}).setdefault(clauses[h.first], h)
        crowded = list(max(per_sentence.values(), key=len, default={}).values())
        run = _longest_adjacent_run(found, a, lang.function_words)
        if len(run) > g["max_adjacent_hits"]:
            # Synonyms side by side with not even a function word between or inside them ("interested keen
            # excited", "next steps timeline process") are a list in a sentence's clothing.
            return _Outcome(False, f"{c.fail_msg} {_quote(a.text, (run[0].span[0], run[-1].span[1]))} strings "
                                   f"{len(run)} ways of saying the same thing side by side; piling up synonyms is "
                                   "not an answer, so this earns nothing.", tuple(h.span for h in run))
        if len(crowded) > g["max_hits_per_sentence"]:
            # Listing synonyms clause after clause ("interested, keen, excited, eager") is stuffing, not speech.
            return _Outcome(False, f"{c.fail_msg} One sentence says the same thing {len(crowded)} times "
                                   f"({', '.join(_quote(a.text, h.span) for h in crowded[:4])}); piling up "
                                   "synonyms is not an answer, so this earns nothing.",
                            tuple(h.span for h in crowded))
    # 6. "I want the role and your doubts and how I fit and the next steps and ...": one sentence chaining every
    # rubric move with "and" is the list again.
    chained = _chained_sentence(spec, a, hits, int(g["chain_conjunctions"]), int(g["chain_concepts"]))
    if chained is not None:
        return _Outcome(False, f"{c.fail_msg} One sentence strings every point together with \"and\" "
                               f"({_quote(a.text, chained)}); a chain of keywords is not an answer, so this "
                               "earns nothing.", (chained,))
    if checked and len(covered) / total > g["max_concept_share"] and most_hits >= g["stuffing_min_hits"]:
        return _Outcome(False, f"{c.fail_msg} Almost every word is a rubric phrase, several said over and over; "
                               "stringing the expected phrases together is not an answer, so this earns nothing.",
                        ((0, len(a.text)),))
    # 7. A long run of words with no sentence punctuation and no line break is not written as sentences.
    if (a.word_count >= g["unpunctuated_words"] and not textlib.has_terminal_punctuation(a.text)
            and "\n" not in a.text.strip()):
        return _Outcome(False, f"{c.fail_msg} There is no full stop or question mark anywhere; break it into "
                               "sentences so the interviewer can follow it.", ())
    return _Outcome(True, c.pass_msg, ())


def _label_lines(a: textlib.Analysis, contact_labels: frozenset[str]) -> list[tuple[int, int]]:
    """Sentences that start with a one- to three-word label and a colon ("Next steps: please advise").

    An email's header and contact lines ("Subject:", "Phone:") are labels of another kind and are left out.
    """
    out = []
    for s in a.sentences:
        head, colon, _ = a.text[s.start: s.end].partition(":")
        label = textlib.WORD_RE.findall(head.lower())
        if colon and 1 <= len(label) <= 5 and "\n" not in head and " ".join(label) not in contact_labels:
            out.append((s.start, s.end))
    return out


def _chained_sentence(spec: TextSpec, a: textlib.Analysis, hits: Found, conjunctions: int,
                      concepts: int) -> tuple[int, int] | None:
    """The span of a sentence that joins many rubric concepts with many "and"/"or", else None."""
    required = {n for ch in spec.checks if ch.kind == "require" for n in ch.concepts}
    per_sentence: dict[int, list[str]] = {}
    for name in required:
        for h in _concept_hits(spec, hits, name):
            per_sentence.setdefault(a.sent[h.first], []).append(name)
    # Every required concept when there are fewer than `concepts` of them, and `concepts` hits in all.
    need = min(concepts, len(required))
    for idx, names in per_sentence.items():
        s = a.sentences[idx]
        joins = sum(w in ("and", "or") for w in a.words[s.first: s.stop])
        if len(set(names)) >= need and len(names) >= concepts and joins >= conjunctions:
            return (s.start, s.end)
    return None


def _longest_adjacent_run(found: list[Hit], a: textlib.Analysis, function_words: frozenset[str]) -> list[Hit]:
    """The longest run of content-word-only hits (in text order), each on the word right after the last."""
    best: list[Hit] = []
    run: list[Hit] = []
    for h in found:
        if any(w in function_words for w in a.words[h.first: h.stop]):
            run = []  # "what you said about": real phrasing, not a bare keyword
            continue
        if run and h.first < run[-1].stop:
            continue  # overlaps the previous hit: the same words matched twice
        run = run + [h] if run and h.first == run[-1].stop else [h]
        if len(run) > len(best):
            best = run
    return best


def _clause_numbers(a: textlib.Analysis) -> list[int]:
    """A running clause number per word: it steps at punctuation breaks and at "and"/"or"."""
    out = []
    n = 0
    for i, w in enumerate(a.words):
        if a.brk[i] or w in ("and", "or"):
            n += 1
        out.append(n)
    return out


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
    view, back = textlib.rules_view(text)
    a = textlib.analyse(view, lang, spec.matcher.speller)
    deadline.check()
    hits = spec.matcher.run(a, lang)
    deadline.check()
    outcomes: list[tuple[CheckSpec, _Outcome]] = []
    guard_failed: _Outcome | None = None
    for c in spec.checks:
        deadline.check()
        if c.kind == "require":
            o = _judge_require(c, spec, a, hits)
        elif c.kind == "forbid":
            o = _judge_forbid(c, spec, a, hits)
        elif c.kind == "tone":
            o = _judge_tone(c, spec, a, hits)
        elif c.kind == "words":
            o = _judge_words(c, a)
        elif c.kind == "questions":
            o = _judge_questions(c, a)
        else:
            o = _judge_guard(c, spec, a, hits)
            if not o.passed:
                guard_failed = o
        outcomes.append((c, o))
    outcomes = _agree(outcomes)
    checks: list[Check] = []
    earned = 0.0
    total = sum(c.weight for c in spec.checks) or 1.0
    for c, o in outcomes:
        if guard_failed is not None and c.kind != "sentences" and o.passed:
            # Nothing is credited for a keyword list; a check it would have passed says what it still needs.
            # A check that failed on its own ("too short") keeps its own reason.
            msg = f"{NOT_CREDITED} {c.fail_msg}"
            checks.append(Check(c.id, False, c.weight, msg, (), c.required, 0.0, c.lesson))
            continue
        spans = tuple(textlib.map_span(sp, back) for sp in o.spans)
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


def _review_reasons(a: textlib.Analysis, outcomes: list[tuple[CheckSpec, _Outcome]], result: Result,
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
    guard_sentences = {a.sent[a.word_at(s)] for c, o in outcomes if c.kind in ("forbid", "tone") and not o.passed
                       for s, _ in o.spans}
    move_sentences = {a.sent[a.word_at(s)] for c, o in outcomes if c.kind == "require" and c.required and o.passed
                      for s, _ in o.spans}
    if guard_sentences & move_sentences:
        reasons.append("guard-and-move")
    if a.word_count >= REVIEW_LONG_WORDS and len(a.sentences) >= REVIEW_MIN_SENTENCES:
        matched = {a.sent[a.word_at(s)] for c, o in outcomes if c.kind in ("require", "forbid", "tone")
                   for s, _ in o.spans}
        if len(matched) < REVIEW_MATCHED_SHARE * len(a.sentences):
            reasons.append("few-matches")
    return tuple(reasons)


def concept_hits_in(spec: TextSpec, name: str, text: str) -> list[Hit]:
    """Every hit of one of a spec's concepts in a text, exactly as grading would find them."""
    view, _ = textlib.rules_view(normalise_text(text))
    a = textlib.analyse(view, spec.rules.lang, spec.matcher.speller)
    return _hits_of(spec.matcher, spec.matcher.run(a, spec.rules.lang), name)


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
                    got = ", ".join(_quote(normalise_text(sentence), h.span) for h in hits) or "no match"
                    issues.append(SpecIssue(f"spec.concepts.{name}.examples.{kind}[{i}]",
                                            f"{sentence!r} {expect}, but found {got}"))
    return issues


def probe(rules: Rules, defn: ConceptDef, text: str) -> list[Hit]:
    """Every hit of one shared concept or tone rule's phrases in a text (used to run the rules' examples)."""
    atoms: list[Atom] = []
    entries: list[tuple[int, textlib.Pattern]] = []
    roles: list[tuple[int, int, int]] = []
    for d in [defn, *(rules.lexicons[u] for u in defn.use if u in rules.lexicons)]:
        _register(d, atoms, entries, roles)
    index = textlib.PhraseIndex.build(entries, rules.lang.modifiers)
    matcher = Matcher(tuple(atoms), index, {"probe": tuple(range(len(atoms)))}, (), any(a.regex for a in atoms),
                      textlib.Speller.build(index.vocabulary() | rules.lang.modifiers, rules.lang), tuple(roles))
    view, _ = textlib.rules_view(normalise_text(text))
    a = textlib.analyse(view, rules.lang, matcher.speller)
    found = matcher.run(a, rules.lang)
    return [h for h in _hits_of(matcher, found, "probe")]


def probe_tone(rules: Rules, rule: ToneRule, text: str) -> list[tuple[int, int]]:
    """Spans where a tone rule fires in a text (negated matches excluded), as a tone check would see them."""
    spans = [h.span for h in probe(rules, rule.concept, text) if h.negator is None]
    if rule.caps_share is not None:
        spans.extend(textlib.shouting(textlib.analyse(textlib.rules_view(normalise_text(text))[0], rules.lang),
                                      rule.caps_share, rule.caps_min_words))
    return spans


def _agree(outcomes: list[tuple[CheckSpec, _Outcome]]) -> list[tuple[CheckSpec, _Outcome]]:
    """Feedback that agrees with itself: when one guard (forbid or tone) fails, the others do not praise.

    "When can I start?" must not get "The tone is warm and leaves the decision with them" beside "This takes
    the offer for granted"; a passing guard then says only what it did not find.
    """
    if not any(c.kind in ("forbid", "tone") and not o.passed for c, o in outcomes):
        return outcomes
    out = []
    for c, o in outcomes:
        if c.kind in ("forbid", "tone") and o.passed:
            found_none = _or_list(c.categories) if c.kind == "tone" else _or_list(c.concepts)
            o = _Outcome(True, f"No {found_none} found.", o.spans)
        out.append((c, o))
    return out


def _or_list(names: tuple[str, ...]) -> str:
    """'pressure, sarcasm or rudeness', with slugs read as words."""
    words = [n.replace("-", " ") for n in names]
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} or {words[-1]}"


def _points(value: float) -> str:
    """A weight as a learner reads it: 2, not 2.0; 1.5 stays 1.5."""
    return f"{value:g}"


def _summary(checks: list[Check], guard_failed: _Outcome | None) -> str:
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
    return f"3+{rules_digest(RULES_DIR)}"


@register
class TextGrader(Grader):
    """Free text graded by rule checks over concepts, tone, length, questions and a real-sentences guard."""

    type_name = "text"
    version = _version()

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
        words = next((c for c in compiled.checks if c.kind == "words"), None)
        return {"kind": "text", "min_words": words.min_words if words else None,
                "max_words": words.max_words if words else None}

    def example_issues(self, compiled: TextSpec) -> list[SpecIssue]:
        """Each local concept's examples: `match` must match un-negated, `ok` not at all, `negated` only negated."""
        return concept_example_issues(compiled)

    def answer_key(self, compiled: TextSpec) -> dict[str, Any]:
        """The rubric for the instructor preview: each check with the concepts and phrases behind it."""
        checks = []
        for c in compiled.checks:
            entry: dict[str, Any] = {"id": c.id, "kind": c.kind, "weight": c.weight, "required": c.required,
                                     "lesson": c.lesson, "pass": c.pass_msg, "fail": c.fail_msg}
            if c.concepts:
                entry["concepts"] = {n: _describe(n, compiled) for n in c.concepts}
            if c.categories:
                entry["tone"] = {cat: [r.id for r in compiled.rules.tone if r.category == cat]
                                 for cat in c.categories}
            if c.kind == "words":
                entry["min_words"], entry["max_words"] = c.min_words, c.max_words
            if c.kind == "questions":
                entry["min_questions"] = c.min_questions
            checks.append(entry)
        return {"kind": "text", "checks": checks}


def _describe(name: str, spec: TextSpec) -> dict[str, Any]:
    """A concept for the answer key: its phrases, regexes, scope and the concepts it uses."""
    d = spec.concepts.get(name)
    if d is None:
        return {}
    return {"phrases": list(d.phrases), "regex": [r.pattern for r in d.regex],
            "raw_regex": [r.pattern for r in d.raw_regex], "scope": d.scope, "negation": d.negation,
            "use": {u: _describe(u, spec) for u in d.use if u != name}}


__all__ = ["TextGrader", "Rules", "SpecError", "compile_text_spec", "default_rules", "grade_text", "load_rules"]
