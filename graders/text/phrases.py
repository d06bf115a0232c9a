"""Phrases of the `text` grader's rules: the phrase syntax, its compiled word-slot patterns, and one index.

Everything slow happens once, when a spec is compiled: phrases are parsed and their words inflected with
lemminflect. Matching them in an answer is then dictionary lookups per word.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache

from graders.text import lexicon
from graders.text.analysis import WORD_RE, Analysis, Language
from graders.text.lexicon import tagged

# Marks a one-word wildcard slot in a compiled phrase.
WILDCARD = None
# Gap slots. "..." is up to GAP_WORDS words of the same clause ("...6" up to six), so "i ... want ... job" finds
# "I really do want this job"; "~" is up to MOD_WORDS modifiers ("really", "very much") from english.yaml, so
# "i ~ want this job" finds "I really do want this job" but not "I want to ask about this job". No real word is
# "..." or "~", so these sets cannot collide with a word slot.
GAP_WORDS = 4
MAX_GAP_WORDS = 8
MOD_WORDS = 3
GAPS: dict[frozenset[str], int] = {frozenset((f"...{n}",)): n for n in range(1, MAX_GAP_WORDS + 1)}
MOD: frozenset[str] = frozenset(("~",))


def is_gap(slot: frozenset[str] | None) -> bool:
    """True for a "..." or "~" slot."""
    return slot is not None and (slot in GAPS or slot == MOD)


class WordClass(frozenset):
    """A slot that holds every word of a class by its form ("@done": a verb in the past tense), not a list of forms.

    Membership is decided by the class's test (a lookup in the class's word set), so the slot names no words: it is
    never an index key or a trigger, and adds nothing to the speller's vocabulary.
    """

    name: str
    test: Callable[[str], bool]

    def __new__(cls, name: str, test: Callable[[str], bool]) -> WordClass:
        """Make the (empty) slot and attach its name and test."""
        slot = super().__new__(cls)
        slot.name, slot.test = name, test
        return slot

    def __contains__(self, word: object) -> bool:
        """True when `word` belongs to the class."""
        return isinstance(word, str) and self.test(word)

    def __eq__(self, other: object) -> bool:
        """Two class slots are equal when they name the same class; a class is never equal to a set of words."""
        return isinstance(other, WordClass) and other.name == self.name

    def __hash__(self) -> int:
        """Hash by the class's name."""
        return hash(("@", self.name))

    def __repr__(self) -> str:
        """Show the class as written in a phrase."""
        return f"@{self.name}"
# Phrase syntax: {a|b} alternatives, [a|b] optional alternatives, anything else one word.
PHRASE_PART_RE = re.compile(r"\{[^{}\[\]]*\}|\[[^{}\[\]]*\]|[^\s{}\[\]]+|[{}\[\]]")
# A phrase whose alternatives multiply beyond this is refused: the author should split it.
MAX_PHRASE_VARIANTS = 256


Slot = frozenset[str] | None
Pattern = tuple[Slot, ...]


class PhraseError(ValueError):
    """A phrase in a spec or rules file is malformed."""


@cache
def inflections(word: str) -> frozenset[str]:
    """Every inflected form of every lemma of `word` (lemminflect's, through graders.text.lexicon), itself included."""
    return frozenset(f.lower() for f in lexicon.inflections(word) if WORD_RE.fullmatch(f.lower()))


def word_class(name: str, tags: Iterable[str], excluded: Iterable[str]) -> WordClass:
    """The slot for english.yaml's word class `name`: words with one of `tags`, of no lemma in `excluded`."""
    # The class's words are listed once, now: matching is a set lookup, and needs no lexicon tables later.
    return WordClass(name, tagged(frozenset(tags), frozenset(excluded)).__contains__)


def compile_phrase(phrase: str, lang: Language, inflect: bool = True) -> tuple[Pattern, ...]:
    """Expand one phrase into word-slot patterns.

    Syntax: words separated by spaces; {a|b} one of several (each may be several words); [a|b] optional;
    * any one word; =word exactly this form (no inflections); @class any word of a word class from english.yaml
    (not first, and not inside braces). Contractions are expanded as in answers.
    """
    # Each part becomes a list of options, each option a list of slots. The one-word options of a group merge
    # into a single slot holding all their forms, so "{a|b|c} {d|e}" stays one pattern, not six.
    choices: list[list[list[Slot]]] = []
    for part in PHRASE_PART_RE.findall(phrase.strip()):
        if part in "{}[]":
            raise PhraseError(f"unbalanced {part!r} in phrase {phrase!r}")
        if part[0] in "{[":
            options: list[list[Slot]] = []
            for option in part[1:-1].split("|"):
                if not option.split():
                    raise PhraseError(f"empty alternative in {part!r} of phrase {phrase!r}")
                option_slots = [slot for tok in option.split() for slot in _slots(tok, lang, inflect, phrase)]
                if any(isinstance(slot, WordClass) for slot in option_slots):
                    raise PhraseError(f"a word class cannot be an alternative, in {part!r} of phrase {phrase!r}")
                options.append(option_slots)
            singles = [o[0] for o in options if len(o) == 1 and o[0] is not WILDCARD]
            if len(singles) > 1:
                merged: list[Slot] = [frozenset().union(*singles)]  # type: ignore[arg-type]
                options = [merged] + [o for o in options if not (len(o) == 1 and o[0] is not WILDCARD)]
            if part[0] == "[":
                options.append([])
            choices.append(options)
        else:
            choices.append([_slots(part, lang, inflect, phrase)])
    variants: list[list[Slot]] = [[]]
    for options in choices:
        variants = [v + o for v in variants for o in options]
        if len(variants) > MAX_PHRASE_VARIANTS:
            raise PhraseError(f"phrase {phrase!r} has more than {MAX_PHRASE_VARIANTS} variants; split it")
    patterns: list[Pattern] = []
    for slots in variants:
        if not slots:
            raise PhraseError(f"phrase {phrase!r} can match nothing (a variant is empty)")
        if isinstance(slots[0], WordClass):
            raise PhraseError(f"phrase {phrase!r} must not start with a word class ({slots[0]!r}): it has no word "
                              "to be found by")
        if slots[0] is WILDCARD or is_gap(slots[0]) or is_gap(slots[-1]):
            raise PhraseError(f"phrase {phrase!r} must not start with *, ... or ~, nor end with ... or ~")
        if any(is_gap(a) and is_gap(b) for a, b in zip(slots, slots[1:], strict=False)):
            raise PhraseError(f"phrase {phrase!r} has two gaps (... or ~) in a row")
        patterns.append(tuple(slots))
    return tuple(dict.fromkeys(patterns))


def _slots(written: str, lang: Language, inflect: bool, phrase: str) -> list[Slot]:
    """Turn one written phrase word into slots (a contraction gives several)."""
    if written == "*":
        return [WILDCARD]
    if written == "~":
        return [MOD]
    if written.startswith("@"):
        word_class = lang.word_classes.get(written[1:])
        if word_class is None:
            known = ", ".join(f"@{k}" for k in sorted(lang.word_classes)) or "none"
            raise PhraseError(f"{written!r} in phrase {phrase!r} is not a word class (known: {known})")
        return [word_class]
    if written.startswith("...") and (written == "..." or written[3:].isdigit()):
        size = int(written[3:] or GAP_WORDS)
        if not 1 <= size <= MAX_GAP_WORDS:
            raise PhraseError(f"{written!r} in phrase {phrase!r}: a gap is 1 to {MAX_GAP_WORDS} words")
        return [next(g for g, n in GAPS.items() if n == size)]
    exact = written.startswith("=")
    body = written[1:] if exact else written
    words = WORD_RE.findall(normalise_phrase_word(body))
    if not words:
        raise PhraseError(f"{written!r} in phrase {phrase!r} is not a word")
    out: list[Slot] = []
    for w in words:
        for part in lang.expand(w):
            if exact or not inflect or part in lang.no_inflect:
                out.append(frozenset((part,)))
            else:
                out.append(inflections(part))
    return out


def normalise_phrase_word(word: str) -> str:
    """Lower-case a phrase word and turn curly apostrophes straight, as answers are."""
    return word.lower().replace("\u2019", "'")


# How an index entry is matched: PLAIN words slot by slot; a gapped pattern by _match_gapped, either only in a
# sentence that holds its trigger word (an id >= 0, see PhraseIndex) or, with no literal word to key on, ALWAYS.
PLAIN = -1
ALWAYS = -2
Entry = tuple[int, Pattern, int]  # (key, pattern, how it is matched)


@dataclass(frozen=True)
class PhraseIndex:
    """Patterns of many concepts indexed by their first two words, matched in one pass.

    Indexing on word pairs matters: dozens of phrases start with "i", and checking each of them at every
    "i" of a long answer would be the slow part of grading. A pattern with a gap after its first word
    ("i ~ want this job") has no second word to pair with, so it is also keyed on its rarest literal word
    (its trigger, "job"): it is tried only in a sentence that holds one of the trigger's forms, since every
    literal word of a match lies in the match's sentence.
    """

    by_first: Mapping[str, tuple[Entry, ...]]  # one-word patterns, "word *" and "word ..." patterns
    by_pair: Mapping[tuple[str, str], tuple[Entry, ...]]
    triggers: Mapping[str, tuple[int, ...]] = field(default_factory=dict)  # word -> gapped patterns it arms
    gapped: int = 0  # how many gapped patterns have a trigger
    modifiers: frozenset[str] = frozenset()  # what a "~" gap may skip

    @classmethod
    def build(cls, entries: Iterable[tuple[int, Pattern]], modifiers: frozenset[str] = frozenset(),
              common: frozenset[str] = frozenset()) -> PhraseIndex:
        """Index (key, pattern) pairs; the key says which concept (or exception list) a match belongs to.

        `common` words (the language's function words) make a poor trigger: a gapped pattern is keyed on a
        literal slot without them when it has one.
        """
        first: dict[str, list[Entry]] = {}
        pair: dict[tuple[str, str], list[Entry]] = {}
        trigger_of: dict[Pattern, int] = {}
        triggers: dict[str, list[int]] = {}
        keyed = 0  # gapped patterns given a trigger so far: the next one's id
        for key, pattern in entries:
            head = pattern[0]
            assert head is not None  # compile_phrase refuses a leading wildcard
            how = PLAIN
            if any(is_gap(slot) for slot in pattern):
                if pattern not in trigger_of:
                    trigger = _rarest_slot(pattern, common)
                    trigger_of[pattern] = ALWAYS if trigger is None else keyed
                    keyed += trigger is not None
                    for form in trigger or ():
                        triggers.setdefault(form, []).append(trigger_of[pattern])
                how = trigger_of[pattern]
            # A gap after the first word leaves nothing fixed to pair with: index such a pattern by its first word.
            second = (pattern[1] if len(pattern) > 1 and not is_gap(pattern[1])
                      and not isinstance(pattern[1], WordClass) else None)
            for form in head:
                if second is None:
                    first.setdefault(form, []).append((key, pattern, how))
                else:
                    for form2 in second:
                        pair.setdefault((form, form2), []).append((key, pattern, how))
        return cls({k: tuple(dict.fromkeys(v)) for k, v in first.items()},
                   {k: tuple(dict.fromkeys(v)) for k, v in pair.items()},
                   {k: tuple(dict.fromkeys(v)) for k, v in triggers.items()},
                   keyed, modifiers)

    def vocabulary(self) -> set[str]:
        """Every word form any indexed pattern can match (what the speller may correct to)."""
        words: set[str] = set(self.by_first)
        for entries in (*self.by_first.values(), *self.by_pair.values()):
            for _, pattern, _ in entries:
                for slot in pattern:
                    if slot is not None and not is_gap(slot) and not isinstance(slot, WordClass):
                        words.update(slot)
        return words

    def find(self, a: Analysis) -> list[tuple[int, int, int, tuple[int, ...]]]:
        """Return (key, first, stop, words a gap skipped) for every pattern occurrence inside one sentence."""
        hits: list[tuple[int, int, int, tuple[int, ...]]] = []
        words = a.words
        sent = a.sent
        n = len(words)
        get_first = self.by_first.get
        get_pair = self.by_pair.get
        # The gapped patterns each sentence can match: sentence * gapped + pattern id, for every trigger word seen.
        per = self.gapped
        armed: set[int] = set()
        if per:
            get_trigger = self.triggers.get
            for i, w in enumerate(words):
                ids = get_trigger(w)
                if ids:
                    base = sent[i] * per
                    armed.update(base + g for g in ids)
        for i, w in enumerate(words):
            cands = get_first(w, ())
            if i + 1 < n and sent[i + 1] == sent[i]:
                cands += get_pair((w, words[i + 1]), ())
            if not cands:
                continue
            s = sent[i]
            for key, pattern, how in cands:
                if how != PLAIN:
                    if how == ALWAYS or s * per + how in armed:
                        m = _match_gapped(a, s, i + 1, pattern, 1, self.modifiers)
                        if m is not None:
                            hits.append((key, i, m[0], m[1]))
                    continue
                stop = i + len(pattern)
                if stop > n or sent[stop - 1] != s:
                    continue
                # The pair index checked the second word; a word class there was not indexed (it names no words).
                if isinstance(pattern[1] if len(pattern) > 1 else None, WordClass) and words[i + 1] not in pattern[1]:
                    continue
                for k in range(2, len(pattern)):
                    slot = pattern[k]
                    if slot is not None and words[i + k] not in slot:
                        break
                else:
                    hits.append((key, i, stop, ()))
        return hits


def _rarest_slot(pattern: Pattern, common: frozenset[str]) -> frozenset[str] | None:
    """The literal slot after the first that is least likely in an answer: no common word in it, fewest forms."""
    literal = [slot for slot in pattern[1:]
               if slot is not None and not is_gap(slot) and not isinstance(slot, WordClass)]
    if not literal:
        return None
    return min(literal, key=lambda slot: (not slot.isdisjoint(common), len(slot)))


def _match_gapped(a: Analysis, s: int, pos: int, pattern: Pattern, k: int,
                  modifiers: frozenset[str]) -> tuple[int, tuple[int, ...]] | None:
    """Match pattern[k:] from word `pos` in sentence `s`: (one past the end, the words the gaps skipped), or None.

    Gaps stay inside one clause: they never cross a comma, a semicolon or the sentence's end.
    """
    words, sent, brk = a.words, a.sent, a.brk
    n = len(words)
    while k < len(pattern):
        slot = pattern[k]
        if slot is not None and is_gap(slot):
            size = MOD_WORDS if slot == MOD else GAPS[slot]
            counted = 0
            for skip in range(n - pos + 1):
                p = pos + skip
                # A hedge insert ("do you think") skipped by a "..." gap does not use up the gap's words.
                if skip and (slot == MOD or p - 1 not in a.hedged):
                    counted += 1
                if counted > size:
                    return None
                # Out of the sentence, or across a comma or semicolon; a "~" may cross commas, since modifiers
                # are often set off by them ("I have, however, built ...").
                if p >= n or sent[p] != s:
                    return None
                if slot != MOD and ((skip and brk[p]) or (skip == 1 and brk[pos])):
                    return None
                if skip and slot == MOD and words[p - 1] not in modifiers:
                    return None  # "~" skips modifiers only
                rest = _match_gapped(a, s, p, pattern, k + 1, modifiers)
                if rest is not None:
                    return rest[0], (*range(pos, p), *rest[1])
            return None
        if pos >= n or sent[pos] != s or (slot is not None and words[pos] not in slot):
            return None
        pos += 1
        k += 1
    return pos, ()
