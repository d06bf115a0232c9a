"""Finding a spec's concepts in an analysed answer: atoms, one phrase index over them, and the hits.

A concept is matched as atoms (its own phrases and regexes, plus those of every concept it `use`s), each with
its scope and negation; one phrase index finds all their phrases in one pass over the words.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from graders.base import SpecIssue, normalise_text
from graders.text import analysis
from graders.text.analysis import Analysis, Language, Speller
from graders.text.phrases import Pattern, PhraseIndex
from graders.text.rules import ConceptDef, Rules, ToneRule

# How many sentences at the start (or end) of an answer count as its opening (or closing).
EDGE_SENTENCES = 2


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
# a `without` phrase (it rules out its whole sentence) and a story frame (it rules out the rest of its sentence).
FOUND, VETO, GROUP, WITHOUT, STORY = 0, 1, 2, 3, 4


def _register(defn: ConceptDef, atoms: list[Atom], entries: list[tuple[int, Pattern]],
              roles: list[tuple[int, int, int]]) -> int:
    """Add one definition as an atom, with index entries for its phrases, exceptions and groups."""
    n = len(atoms)
    atoms.append(Atom(defn.name, defn.scope, defn.negation, defn.regex, defn.raw_regex, len(defn.groups)))
    roles_of = [(FOUND, 0, defn.patterns), (VETO, 0, defn.except_patterns), (WITHOUT, 0, defn.without),
                (STORY, 0, defn.story_frames),
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
class Matcher:
    """All atoms a spec needs, with one phrase index over them."""

    atoms: tuple[Atom, ...]
    index: PhraseIndex
    concept_atoms: Mapping[str, tuple[int, ...]]  # concept name -> atom indices (its own and `use`d ones)
    tone_atoms: tuple[tuple[ToneRule, int], ...]
    needs_stream: bool
    speller: Speller
    roles: tuple[tuple[int, int, int], ...]  # index key -> (atom, FOUND | VETO | GROUP, group number)

    def run(self, a: Analysis, lang: Language) -> Found:
        """Find every hit of every atom in an analysed answer, and the ranges each atom's exceptions cover."""
        found: list[list[tuple[int, int]]] = [[] for _ in self.atoms]
        vetoes: list[list[tuple[int, int]]] = [[] for _ in self.atoms]
        if not a.words:
            return Found([[] for _ in self.atoms], vetoes)
        groups: list[list[list[tuple[int, int]]]] = [[[] for _ in range(atom.groups)] for atom in self.atoms]
        # The words a gap skipped, per match: a negator there ("I do not really want it") negates the match too.
        skipped: dict[tuple[int, int], tuple[int, ...]] = {}
        ruled_out: list[set[int]] = [set() for _ in self.atoms]  # sentences a `without` phrase rules out
        # Per atom, sentence -> first word of its earliest story frame: what follows tells the candidate's own past.
        story_from: list[dict[int, int]] = [{} for _ in self.atoms]
        for key, first, stop, gap_words in self.index.find(a):
            n, role, g = self.roles[key]
            if role == GROUP:
                groups[n][g].append((first, stop))
                continue
            if role == WITHOUT:
                ruled_out[n].add(a.sent[first])
                continue
            if role == STORY:
                sentence = a.sent[first]
                story_from[n][sentence] = min(first, story_from[n].get(sentence, first))
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
        stream, offsets = analysis.word_stream(a) if self.needs_stream else ("", [])
        # Trailing blank lines dropped: RE2's "$" is the very end, where Python's also allowed a final newline.
        raw_text = a.text.rstrip()
        for n, atom in enumerate(self.atoms):
            for rx in atom.regex:
                found[n].extend(analysis.stream_hits(rx, stream, offsets))
            for rx in atom.raw_regex:
                for m in rx.finditer(raw_text):
                    if m.end() > m.start():
                        first = a.word_at(m.start())
                        # The last word the match reaches into: one ending on punctuation ("Dear Tom,") stops
                        # at "Tom", not at the next line's first word.
                        last = bisect_right(a.starts, m.end() - 1) - 1
                        found[n].append((first, max(first + 1, last + 1)))
        out: list[list[Hit]] = []
        for n, atom in enumerate(self.atoms):
            hits: list[Hit] = []
            for first, stop in sorted(set(found[n])):
                if any(f < stop and first < s for f, s in vetoes[n]) or not _in_scope(a, first, atom.scope):
                    continue
                if a.sent[first] in ruled_out[n] or story_from[n].get(a.sent[first], first + 1) <= first:
                    continue
                neg = None
                if atom.negation:
                    neg = analysis.negator_before(a, first, lang)
                    if neg is None and (first, stop) in skipped:
                        neg = analysis.gap_negator(a, skipped[(first, stop)], lang)
                hits.append(Hit(first, stop, a.span(first, stop), neg, (first, stop) in met[n]))
            out.append(drop_overlaps(hits))
        return Found(out, vetoes)


@dataclass(frozen=True)
class Found:
    """What a matcher found: hits per atom, and the word ranges each atom's exceptions covered."""

    hits: list[list[Hit]]
    vetoes: list[list[tuple[int, int]]]


def _meetings(a: Analysis, groups: list[list[tuple[int, int]]]) -> list[tuple[int, int]]:
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


def drop_overlaps(hits: list[Hit]) -> list[Hit]:
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


def _in_scope(a: Analysis, first: int, scope: str) -> bool:
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


def build_matcher(wanted: Iterable[str], categories: Iterable[str], local: Mapping[str, ConceptDef],
                  rules: Rules, issues: list[SpecIssue]) -> tuple[Matcher, dict[str, ConceptDef]]:
    """Collect the atoms of the concepts and tone categories the checks need, and index all their phrases together."""
    atoms: list[Atom] = []
    entries: list[tuple[int, Pattern]] = []
    atom_of: dict[int, int] = {}  # id(ConceptDef) -> atom index, so a shared lexicon is matched once
    concept_atoms: dict[str, tuple[int, ...]] = {}
    reachable: dict[str, ConceptDef] = {}

    roles: list[tuple[int, int, int]] = []

    def add(defn: ConceptDef) -> int:
        """Register a definition as an atom (once) and return its index."""
        if id(defn) not in atom_of:
            atom_of[id(defn)] = _register(defn, atoms, entries, roles)
        return atom_of[id(defn)]

    for name in wanted:
        if name in concept_atoms:
            continue
        defs = _resolve(name, local, rules, (), issues)
        for d in defs:
            reachable.setdefault(d.name, d)
        concept_atoms[name] = tuple(dict.fromkeys(add(d) for d in defs))
    wanted_categories = set(categories)
    tone_atoms = tuple((rule, add(rule.concept)) for rule in rules.tone if rule.category in wanted_categories)
    needs_stream = any(a.regex for a in atoms)
    index = PhraseIndex.build(entries, rules.lang.modifiers, rules.lang.function_words)
    speller = Speller.build(index.vocabulary() | rules.lang.modifiers, rules.lang)
    return Matcher(tuple(atoms), index, concept_atoms, tone_atoms, needs_stream, speller, tuple(roles)), reachable


def hits_of(matcher: Matcher, found: Found, name: str) -> list[Hit]:
    """A concept's hits in text order; an exception of any of its atoms vetoes what any of them found."""
    atoms = matcher.concept_atoms.get(name, ())
    vetoes = [v for n in atoms for v in found.vetoes[n]]
    out = [h for n in atoms for h in found.hits[n] if not any(f < h.stop and h.first < s for f, s in vetoes)]
    # A loose `together` meeting that overlaps a phrase match adds nothing: the phrase is the precise evidence.
    tight = [h for h in out if not h.loose]
    out = tight + [h for h in out if h.loose and not any(t.first < h.stop and h.first < t.stop for t in tight)]
    # Overlapping matches from different atoms of one concept are one mention, not several.
    return sorted(drop_overlaps(out), key=lambda h: h.span)


def probe(rules: Rules, defn: ConceptDef, text: str) -> list[Hit]:
    """Every hit of one shared concept or tone rule's phrases in a text (used to run the rules' examples)."""
    atoms: list[Atom] = []
    entries: list[tuple[int, Pattern]] = []
    roles: list[tuple[int, int, int]] = []
    for d in [defn, *(rules.lexicons[u] for u in defn.use if u in rules.lexicons)]:
        _register(d, atoms, entries, roles)
    index = PhraseIndex.build(entries, rules.lang.modifiers, rules.lang.function_words)
    matcher = Matcher(tuple(atoms), index, {"probe": tuple(range(len(atoms)))}, (), any(a.regex for a in atoms),
                      Speller.build(index.vocabulary() | rules.lang.modifiers, rules.lang), tuple(roles))
    view, _ = analysis.rules_view(normalise_text(text))
    a = analysis.analyse(view, rules.lang, matcher.speller)
    found = matcher.run(a, rules.lang)
    return [h for h in hits_of(matcher, found, "probe")]


def probe_tone(rules: Rules, rule: ToneRule, text: str) -> list[tuple[int, int]]:
    """Spans where a tone rule fires in a text (negated matches excluded), as a tone check would see them."""
    spans = [h.span for h in probe(rules, rule.concept, text) if h.negator is None]
    if rule.caps_share is not None:
        spans.extend(analysis.shouting(analysis.analyse(analysis.rules_view(normalise_text(text))[0], rules.lang),
                                      rule.caps_share, rule.caps_min_words))
    return spans
