"""Text analysis for the rules-based `text` grader: words, sentences, questions, phrases and negation.

Everything slow happens once, when a spec is compiled: phrases are parsed, their words inflected with
lemminflect and indexed by first word. Grading an answer is then one tokenising regex pass plus
dictionary lookups, so it stays well under a millisecond for a 5,000-character answer.

Offsets in every span index into the normalised answer text (graders.base.normalise_text), which is
what the site highlights.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from re import _parser as sre_parse  # type: ignore[attr-defined]  # the stdlib's own regex parser

# A word: letters/digits, optionally joined by apostrophes (don't, o'clock). Each repeat starts with "'",
# so the pattern cannot backtrack on long runs of letters or apostrophes.
WORD_RE = re.compile(r"[^\W_]+(?:'[^\W_]+)*")
# A sentence ends at terminal punctuation followed by space, a closing quote/bracket or the end; or at a line break.
BOUNDARY_RE = re.compile(r"[.!?]+(?=[\s\"')\]]|$)|\n")
# Punctuation between two words that closes a clause, so a negation before it does not reach past it.
CLAUSE_PUNCT_RE = re.compile(r"[,;:()]|\s-+\s")
TERMINAL_RE = re.compile(r"[.!?]")
# A line break ends a sentence only after a line this short (or a blank one); longer lines are hard-wrapped prose.
SHORT_LINE_WORDS = 5

# Marks a one-word wildcard slot in a compiled phrase.
WILDCARD = None
# Phrase syntax: {a|b} alternatives, [a|b] optional alternatives, anything else one word.
PHRASE_PART_RE = re.compile(r"\{[^{}\[\]]*\}|\[[^{}\[\]]*\]|[^\s{}\[\]]+|[{}\[\]]")
# A phrase whose alternatives multiply beyond this is refused: the author should split it.
MAX_PHRASE_VARIANTS = 256


@dataclass(frozen=True)
class Language:
    """Word lists that drive tokenising, negation and the real-sentence guard (from graders/rules/english.yaml)."""

    contractions: Mapping[str, tuple[str, ...]]  # whole words: "can't" -> ("can", "not")
    suffixes: tuple[tuple[str, tuple[str, ...]], ...]  # ("n't", ("not",)), ("'m", ("am",)) ...
    s_is: frozenset[str]  # words whose 's means "is" (it's, that's); others are possessive and dropped
    abbreviations: frozenset[str]  # a full stop after these does not end a sentence
    negators: frozenset[str]
    negation_window: int
    clause_words: frozenset[str]  # but, although ... a negation does not reach past them
    not_negating: tuple[tuple[str, ...], ...]  # "not only", "can not wait" ...: a negator inside is no negation
    function_words: frozenset[str]
    no_inflect: frozenset[str]
    indirect_questions: tuple[tuple[str, ...], ...]  # "could you tell me": a request that counts as a question
    guard: Mapping[str, float]
    # Derived: for each negator, the not-negating sequences it appears in and at which position.
    cancel_at: Mapping[str, tuple[tuple[int, tuple[str, ...]], ...]] = field(default_factory=dict)
    # Derived: the indirect-question openers grouped by their first word.
    openers: Mapping[str, tuple[tuple[str, ...], ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        """Precompute where each negator sits inside the not-negating sequences, and index the openers."""
        table: dict[str, list[tuple[int, tuple[str, ...]]]] = {}
        for seq in self.not_negating:
            for pos, word in enumerate(seq):
                if word in self.negators:
                    table.setdefault(word, []).append((pos, seq))
        object.__setattr__(self, "cancel_at", {k: tuple(v) for k, v in table.items()})
        openers: dict[str, list[tuple[str, ...]]] = {}
        for seq in self.indirect_questions:
            if seq:
                openers.setdefault(seq[0], []).append(seq)
        object.__setattr__(self, "openers", {k: tuple(v) for k, v in openers.items()})

    def expand(self, word: str) -> tuple[str, ...]:
        """Split one lower-cased word into its canonical words: "i'm" -> ("i", "am"), "team's" -> ("team",)."""
        full = self.contractions.get(word)
        if full is not None:
            return full
        if "'" not in word:
            return (word,)
        for suffix, parts in self.suffixes:
            if word.endswith(suffix) and len(word) > len(suffix):
                return (word[: -len(suffix)], *parts)
        if word.endswith("'s") and len(word) > 2:
            base = word[:-2]
            return (base, "is") if base in self.s_is else (base,)
        return (word,)


@dataclass(frozen=True)
class Sentence:
    """One sentence: its character span, whether it asks something, and its range of words."""

    start: int
    end: int
    question: bool
    first: int  # index of its first canonical word
    stop: int  # one past its last canonical word
    words: int  # how many words as written (before contractions are expanded)


@dataclass(frozen=True)
class Analysis:
    """A tokenised answer. Canonical words (contractions expanded) keep the span of the word they came from."""

    text: str
    words: tuple[str, ...]
    starts: tuple[int, ...]
    ends: tuple[int, ...]
    sent: tuple[int, ...]  # sentence index of each canonical word
    brk: tuple[bool, ...]  # a clause break (comma, semicolon...) comes just before this word
    sentences: tuple[Sentence, ...]
    word_count: int  # words as written
    raw_words: tuple[tuple[int, int], ...]  # spans of the words as written

    def span(self, first: int, stop: int) -> tuple[int, int]:
        """Character span covering canonical words [first, stop)."""
        return (self.starts[first], self.ends[stop - 1])

    def word_at(self, offset: int) -> int:
        """Index of the canonical word that contains or follows a character offset."""
        return min(bisect_right(self.ends, offset), len(self.words) - 1) if self.words else 0


def analyse(text: str, lang: Language) -> Analysis:
    """Tokenise a normalised answer into canonical words and sentences."""
    raw = [(m.start(), m.end()) for m in WORD_RE.finditer(text)]
    raw_ends = [e for _, e in raw]
    # Sentence boundaries, skipping the full stop of an abbreviation (Ms. Lee) or an initial (J. Smith).
    raw_starts = [s for s, _ in raw]
    bounds: list[tuple[int, int, bool]] = []
    line_start = 0
    for m in BOUNDARY_RE.finditer(text):
        mark = m.group()
        if mark == "\n":
            # A hard-wrapped paragraph keeps its sentences; a short line (greeting, sign-off, name,
            # list item) or a blank line ends one.
            line_words = bisect_left(raw_starts, m.start()) - bisect_left(raw_starts, line_start)
            line_start = m.end()
            if line_words > SHORT_LINE_WORDS:
                continue
        elif mark == ".":
            k = bisect_left(raw_ends, m.start())
            if k < len(raw) and raw_ends[k] == m.start():
                prev = text[raw[k][0]: raw[k][1]]
                if prev.lower() in lang.abbreviations or (len(prev) == 1 and prev.isupper() and prev != "I"):
                    continue
        bounds.append((m.start(), m.end(), "?" in mark))
    words: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    sent: list[int] = []
    brk: list[bool] = []
    sentences: list[Sentence] = []
    b = 0
    cur_first = 0
    cur_start = -1
    cur_words = 0
    prev_end = 0

    def close(end: int, question: bool) -> None:
        """Finish the sentence being built, if it holds any word."""
        nonlocal cur_first, cur_start, cur_words
        if cur_start >= 0:
            q = question or _starts_with(words, cur_first, len(words),
                                         lang.openers.get(words[cur_first], ()) if cur_first < len(words) else ())
            sentences.append(Sentence(cur_start, end, q, cur_first, len(words), cur_words))
        cur_first = len(words)
        cur_start = -1
        cur_words = 0

    for ws, we in raw:
        while b < len(bounds) and bounds[b][0] < ws:
            close(bounds[b][1], bounds[b][2])
            b += 1
        if cur_start < 0:
            cur_start = ws
            is_break = False
        else:
            gap = text[prev_end:ws]
            is_break = gap != " " and CLAUSE_PUNCT_RE.search(gap) is not None
        for i, part in enumerate(lang.expand(text[ws:we].lower())):
            words.append(part)
            starts.append(ws)
            ends.append(we)
            sent.append(len(sentences))
            brk.append(is_break and i == 0)
        cur_words += 1
        prev_end = we
    # Text after the last word: its first boundary (if any) says whether the sentence asked something.
    if cur_start >= 0:
        if b < len(bounds):
            close(bounds[b][1], bounds[b][2])
        else:
            close(prev_end, False)
    return Analysis(text, tuple(words), tuple(starts), tuple(ends), tuple(sent), tuple(brk), tuple(sentences),
                    len(raw), tuple(raw))


def _starts_with(words: Sequence[str], first: int, stop: int, openers: Iterable[tuple[str, ...]]) -> bool:
    """True when words[first:stop] begins with one of the opener sequences."""
    return any(tuple(words[first: first + len(o)]) == o for o in openers if first + len(o) <= stop)


def negator_before(a: Analysis, first: int, lang: Language) -> int | None:
    """Index of a negating word governing the words starting at `first` (same clause, within the window)."""
    lo = max(a.sentences[a.sent[first]].first, first - lang.negation_window)
    k = first
    while k > lo:
        if a.brk[k]:
            return None
        k -= 1
        w = a.words[k]
        if w in lang.clause_words:
            return None
        if w in lang.negators and not _cancelled(a.words, k, lang):
            return k
    return None


def _cancelled(words: Sequence[str], k: int, lang: Language) -> bool:
    """True when the negator at k is part of an idiom that is not a negation ("not only", "can't wait")."""
    for pos, seq in lang.cancel_at.get(words[k], ()):
        lo = k - pos
        if lo >= 0 and tuple(words[lo: lo + len(seq)]) == seq:
            return True
    return False


# ---- phrases ---------------------------------------------------------------------------------------------

Slot = frozenset[str] | None
Pattern = tuple[Slot, ...]


class PhraseError(ValueError):
    """A phrase in a spec or rules file is malformed."""


@cache
def inflections(word: str) -> frozenset[str]:
    """Every inflected form of every lemma of `word` (lemminflect), including the word itself."""
    from lemminflect import getAllInflections, getAllLemmas  # heavy tables: loaded on first compile only

    forms = {word}
    for lemmas in getAllLemmas(word).values():
        for lemma in lemmas:
            forms.add(lemma)
            for group in getAllInflections(lemma).values():
                forms.update(f.lower() for f in group)
    return frozenset(f for f in forms if WORD_RE.fullmatch(f))


def compile_phrase(phrase: str, lang: Language, inflect: bool = True) -> tuple[Pattern, ...]:
    """Expand one phrase into word-slot patterns.

    Syntax: words separated by spaces; {a|b} one of several (each may be several words); [a|b] optional;
    * any one word; =word exactly this form (no inflections). Contractions are expanded as in answers.
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
                options.append([slot for tok in option.split() for slot in _slots(tok, lang, inflect, phrase)])
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
        if slots[0] is WILDCARD:
            raise PhraseError(f"phrase {phrase!r} must not start with *")
        patterns.append(tuple(slots))
    return tuple(dict.fromkeys(patterns))


def _slots(written: str, lang: Language, inflect: bool, phrase: str) -> list[Slot]:
    """Turn one written phrase word into slots (a contraction gives several)."""
    if written == "*":
        return [WILDCARD]
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


@dataclass(frozen=True)
class PhraseIndex:
    """Patterns of many concepts indexed by their first two words, matched in one pass.

    Indexing on word pairs matters: dozens of phrases start with "i", and checking each of them at every
    "i" of a long answer would be the slow part of grading.
    """

    by_first: Mapping[str, tuple[tuple[int, Pattern], ...]]  # one-word patterns and "word *" patterns
    by_pair: Mapping[tuple[str, str], tuple[tuple[int, Pattern], ...]]

    @classmethod
    def build(cls, entries: Iterable[tuple[int, Pattern]]) -> PhraseIndex:
        """Index (key, pattern) pairs; the key says which concept (or exception list) a match belongs to."""
        first: dict[str, list[tuple[int, Pattern]]] = {}
        pair: dict[tuple[str, str], list[tuple[int, Pattern]]] = {}
        for key, pattern in entries:
            head = pattern[0]
            assert head is not None  # compile_phrase refuses a leading wildcard
            second = pattern[1] if len(pattern) > 1 else None
            for form in head:
                if second is None:
                    first.setdefault(form, []).append((key, pattern))
                else:
                    for form2 in second:
                        pair.setdefault((form, form2), []).append((key, pattern))
        return cls({k: tuple(dict.fromkeys(v)) for k, v in first.items()},
                   {k: tuple(dict.fromkeys(v)) for k, v in pair.items()})

    def find(self, a: Analysis) -> list[tuple[int, int, int]]:
        """Return (key, first, stop) for every pattern occurrence inside one sentence."""
        hits: list[tuple[int, int, int]] = []
        words = a.words
        sent = a.sent
        n = len(words)
        get_first = self.by_first.get
        get_pair = self.by_pair.get
        for i, w in enumerate(words):
            cands = get_first(w, ())
            if i + 1 < n and sent[i + 1] == sent[i]:
                cands += get_pair((w, words[i + 1]), ())
            if not cands:
                continue
            s = sent[i]
            for key, pattern in cands:
                stop = i + len(pattern)
                if stop > n or sent[stop - 1] != s:
                    continue
                for k in range(2, len(pattern)):
                    slot = pattern[k]
                    if slot is not None and words[i + k] not in slot:
                        break
                else:
                    hits.append((key, i, stop))
        return hits


def word_stream(a: Analysis) -> tuple[str, list[int]]:
    """The canonical words joined by spaces, sentences by newlines, with each word's offset in that string."""
    parts: list[str] = []
    offsets: list[int] = []
    pos = 0
    prev_sent = 0
    for i, w in enumerate(a.words):
        if i:
            sep = "\n" if a.sent[i] != prev_sent else " "
            parts.append(sep)
            pos += 1
        prev_sent = a.sent[i]
        offsets.append(pos)
        parts.append(w)
        pos += len(w)
    return "".join(parts), offsets


def stream_hits(regex: re.Pattern[str], stream: str, offsets: Sequence[int]) -> list[tuple[int, int]]:
    """Word ranges [first, stop) matched by a regex run over the word stream (empty matches ignored)."""
    out = []
    for m in regex.finditer(stream):
        if m.end() <= m.start():
            continue
        first = max(0, bisect_right(offsets, m.start()) - 1)
        stop = bisect_left(offsets, m.end())
        if stop > first:
            out.append((first, stop))
    return out


# ---- regex safety ----------------------------------------------------------------------------------------

def unsafe_regex(pattern: str) -> str | None:
    """Explain why a regex could backtrack catastrophically (a repeat inside an unbounded repeat), else None."""
    try:
        tree = sre_parse.parse(pattern)
    except re.error:
        return None  # the caller's compile reports the syntax error itself
    return _nested_repeat(tree, inside_unbounded=False)


_REPEATS = {sre_parse.MAX_REPEAT, sre_parse.MIN_REPEAT, getattr(sre_parse, "POSSESSIVE_REPEAT", None)} - {None}


def _nested_repeat(items: Iterable[tuple[object, object]], inside_unbounded: bool) -> str | None:
    """Walk a parsed regex looking for a repeat (of more than one) nested in an unbounded repeat."""
    for op, av in items:
        if op in _REPEATS:
            lo, hi, sub = av  # type: ignore[misc]
            unbounded = hi == sre_parse.MAXREPEAT
            if inside_unbounded and (unbounded or hi > 1):
                return "a repeated group inside an unbounded repeat, e.g. (a+)+, can take exponential time"
            found = _nested_repeat(sub, inside_unbounded or unbounded)
        elif op == sre_parse.SUBPATTERN:
            found = _nested_repeat(av[-1], inside_unbounded)  # type: ignore[index]
        elif op == sre_parse.BRANCH:
            found = None
            for alt in av[1]:  # type: ignore[index]
                found = found or _nested_repeat(alt, inside_unbounded)
        elif op in (sre_parse.ASSERT, sre_parse.ASSERT_NOT):
            found = _nested_repeat(av[1], inside_unbounded)  # type: ignore[index]
        else:
            found = None
        if found:
            return found
    return None


# ---- whole-answer signals ----------------------------------------------------------------------------------

def shouting(a: Analysis, min_share: float, min_words: int) -> list[tuple[int, int]]:
    """Spans of all-capital words when they make up at least `min_share` of the longer words, else []."""
    long_words = [(s, e) for s, e in a.raw_words if e - s >= 3 and a.text[s:e].isalpha()]
    caps = [(s, e) for s, e in long_words if a.text[s:e].isupper()]
    if len(caps) >= min_words and long_words and len(caps) / len(long_words) >= min_share:
        return caps
    return []


def has_terminal_punctuation(text: str) -> bool:
    """True when the text has at least one full stop, question mark or exclamation mark."""
    return TERMINAL_RE.search(text) is not None
