"""Text analysis for the rules-based `text` grader: words, sentences, questions, phrases and negation.

Everything slow happens once, when a spec is compiled: phrases are parsed, their words inflected with
lemminflect and indexed by first word. Grading an answer is then one tokenising regex pass plus
dictionary lookups, so it stays well under a millisecond for a 5,000-character answer.

Offsets in every span index into the normalised answer text (graders.base.normalise_text), which is
what the site highlights.
"""

from __future__ import annotations

import json
import re
import unicodedata
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

from rapidfuzz import process
from rapidfuzz.distance import OSA

# A word: letters/digits, optionally joined by apostrophes (don't, o'clock). Each repeat starts with "'",
# so the pattern cannot backtrack on long runs of letters or apostrophes.
WORD_RE = re.compile(r"[^\W_]+(?:'[^\W_]+)*")
# A sentence ends at terminal punctuation followed by space, a closing quote/bracket or the end; or at a line break.
BOUNDARY_RE = re.compile(r"[.!?]+(?=[\s\"')\]]|$)|\n")
# Punctuation between two words that closes a clause, so a negation before it does not reach past it.
CLAUSE_PUNCT_RE = re.compile(r"[,;:()]|\s-+\s")
TERMINAL_RE = re.compile(r"[.!?]")
NUMBER_AHEAD_RE = re.compile(r"[ \t]*\d")
# A line break ends a sentence only after a line this short (or a blank one); longer lines are hard-wrapped prose.
SHORT_LINE_WORDS = 5

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
# Phrase syntax: {a|b} alternatives, [a|b] optional alternatives, anything else one word.
PHRASE_PART_RE = re.compile(r"\{[^{}\[\]]*\}|\[[^{}\[\]]*\]|[^\s{}\[\]]+|[{}\[\]]")
# A phrase whose alternatives multiply beyond this is refused: the author should split it.
MAX_PHRASE_VARIANTS = 256


@dataclass(frozen=True)
class Narration:
    """Word lists that tell an account of the answer ("then I'd ask her about ...") from the answer itself."""

    modals: frozenset[str]
    adverbs: frozenset[str]
    verbs: frozenset[str]  # every inflection: "thanking", "told"
    listeners: frozenset[str]
    markers: frozenset[str]
    about_the_task: tuple[tuple[str, ...], ...]  # "the lesson", "a good answer": talk about the task itself
    checking: tuple[tuple[str, ...], ...] = ()  # "is that the idea", "does that cover it": asking about the answer
    openings: tuple[tuple[str, ...], ...] = ()  # "here", "then", "at the end": an account lists its steps


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
    indirect_questions: tuple[tuple[str, ...], ...]  # "could you tell me": a question without a question mark
    guard: Mapping[str, float]
    spelling: Mapping[str, float] = field(default_factory=dict)  # Speller settings
    lead_ins: frozenset[str] = frozenset()  # "and", "also"...: skipped before an indirect-question opener
    modifiers: frozenset[str] = frozenset()  # what a "~" gap in a phrase may skip ("really", "very", "much")
    numeric_abbreviations: frozenset[str] = frozenset()  # "no": an abbreviation only before a number
    narration: Narration | None = None
    # Derived: for each negator, the not-negating sequences it appears in and at which position.
    cancel_at: Mapping[str, tuple[tuple[int, tuple[str, ...]], ...]] = field(default_factory=dict)
    # Derived: the indirect-question openers grouped by their first word.
    openers: Mapping[str, tuple[tuple[str, ...], ...]] = field(default_factory=dict)
    # "please let me know ...": asks for something without being a question; grouped by first word in __post_init__.
    requests: tuple[tuple[str, ...], ...] = ()
    request_openers: Mapping[str, tuple[tuple[str, ...], ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        """Precompute where each negator sits inside the not-negating sequences, and index the openers."""
        table: dict[str, list[tuple[int, tuple[str, ...]]]] = {}
        for seq in self.not_negating:
            for pos, word in enumerate(seq):
                if word in self.negators:
                    table.setdefault(word, []).append((pos, seq))
        object.__setattr__(self, "cancel_at", {k: tuple(v) for k, v in table.items()})
        for attr, seqs in (("openers", self.indirect_questions), ("request_openers", self.requests)):
            grouped: dict[str, list[tuple[str, ...]]] = {}
            for seq in seqs:
                if seq:
                    grouped.setdefault(seq[0], []).append(seq)
            object.__setattr__(self, attr, {k: tuple(v) for k, v in grouped.items()})

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


# ---- what the rules see ----------------------------------------------------------------------------------

@cache
def _lookalikes() -> dict[int, str]:
    """Letters of other scripts that look like one ASCII letter (Cyrillic "о", Greek "ο"), from Unicode's list."""
    data = json.loads(resources.files("confusable_homoglyphs").joinpath("confusables.json").read_text("utf-8"))
    table: dict[int, str] = {}
    for char, glyphs in data.items():
        if len(char) != 1 or char.isascii() or not unicodedata.category(char).startswith("L"):
            continue
        # Unicode lists a look-alike's twins, not always an ASCII one: Greek "τ" is listed beside the small
        # capital "ᴛ", and "η" beside "n" with a combining mark. Each twin is read down to a plain letter.
        ascii_glyph = next((a for a in (_plain_letter(g["c"]) for g in glyphs) if a), None)
        if ascii_glyph:
            table[ord(char)] = ascii_glyph
    return table


def _plain_letter(glyph: str) -> str | None:
    """The one ASCII letter a glyph stands for ("n̩" -> "n", "ᴛ" -> "t"), or None."""
    base = "".join(c for c in unicodedata.normalize("NFKD", glyph) if not unicodedata.combining(c))
    if len(base) == 1 and base.isascii() and base.isalpha():
        return base
    if len(glyph) == 1:
        # "LATIN LETTER SMALL CAPITAL T": a Latin letter by name, read as its plain form.
        parts = unicodedata.name(glyph, "").split()
        if parts[:1] == ["LATIN"] and "LETTER" in parts and len(parts[-1]) == 1 and parts[-1].isalpha():
            return parts[-1].lower() if "SMALL" in parts else parts[-1]
    return None


# Unicode's default-ignorable code points outside category Cf (the combining grapheme joiner, variation selectors,
# Hangul fillers, Mongolian free variation selectors): invisible, so a rule must not see them either.
_IGNORABLE = frozenset([0x034F, 0x115F, 0x1160, 0x17B4, 0x17B5, *range(0x180B, 0x1810), 0x3164, *range(0xFE00, 0xFE10),
                        0xFFA0, *range(0xE0100, 0xE01F0)])


def _invisible(char: str) -> bool:
    """True for a format character (Cf) or another default-ignorable code point."""
    return unicodedata.category(char) == "Cf" or ord(char) in _IGNORABLE


def rules_view(text: str) -> tuple[str, tuple[int, ...] | None]:
    """The text the rules read: invisible format characters dropped and look-alike letters folded to ASCII.

    A zero-width space inside "not", or a Cyrillic "о" in "concerns", must not change a grade. Returns the view
    and, when it differs from the text, the offset in `text` of each character of the view (plus one for the
    end), so spans found in the view can be mapped back to what the learner wrote.
    """
    if text.isascii():
        return text, None
    table = _lookalikes()
    out: list[str] = []
    back: list[int] = []
    for i, char in enumerate(text):
        if _invisible(char):
            continue
        out.append(table.get(ord(char), char))
        back.append(i)
    back.append(len(text))
    return "".join(out), tuple(back)


def map_span(span: tuple[int, int], back: tuple[int, ...] | None) -> tuple[int, int]:
    """A span of the rules view as a span of the learner's text."""
    if back is None or span[1] <= span[0]:
        return span
    return (back[span[0]], back[span[1] - 1] + 1)


@dataclass(frozen=True)
class Speller:
    """Typo tolerance against the rules' own vocabulary: "intersted" reads as "interested".

    Only a word the English lexicon does not know is corrected, and only to the one rules word within the
    allowed edits (a swap of two letters is one edit), so real words and ties are left alone.
    """

    vocabulary: tuple[str, ...]  # rules words long enough to correct to
    known: frozenset[str]  # words never corrected: every rules word and the language's function words
    min_length: int
    long_from: int  # words this long may be two edits away, shorter ones one

    @classmethod
    def build(cls, words: Iterable[str], lang: Language) -> Speller:
        """A speller for the vocabulary of one compiled spec."""
        settings = lang.spelling
        min_length = int(settings.get("min_length", 5))
        vocab = {w for w in words if len(w) >= min_length - 1 and w.isalpha()}
        return cls(tuple(sorted(vocab)), frozenset(words) | lang.function_words, min_length,
                   int(settings.get("long_from", 8)))

    def correct(self, word: str) -> str | None:
        """The rules word a misspelt word stands for, or None when it is a real word, too short or unclear."""
        if len(word) < self.min_length or word in self.known or not word.isalpha() or _english(word):
            return None
        edits = 2 if len(word) >= self.long_from else 1
        found = process.extract(word, self.vocabulary, scorer=OSA.distance, score_cutoff=edits, limit=2)
        if not found or (len(found) > 1 and found[1][1] == found[0][1]):
            return None
        return str(found[0][0])


@cache
def _english(word: str) -> bool:
    """True when the English lexicon (lemminflect's) knows the word, so it is not a typo."""
    from lemminflect import getAllLemmas  # heavy tables: loaded on first use only

    return bool(getAllLemmas(word))


@dataclass(frozen=True)
class Sentence:
    """One sentence: its character span, whether it asks something, and its range of words."""

    start: int
    end: int
    question: bool  # ends with "?" or opens like one ("could you tell me")
    first: int  # index of its first canonical word
    stop: int  # one past its last canonical word
    words: int  # how many words as written (before contractions are expanded)
    request: bool = False  # asks for something without being a question ("please let me know what happens next")

    @property
    def asks(self) -> bool:
        """The sentence asks the interviewer for something: a question or a request."""
        return self.question or self.request


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
    corrected: frozenset[int] = frozenset()  # canonical words read through the speller (typos)

    def span(self, first: int, stop: int) -> tuple[int, int]:
        """Character span covering canonical words [first, stop)."""
        return (self.starts[first], self.ends[stop - 1])

    def word_at(self, offset: int) -> int:
        """Index of the canonical word that contains or follows a character offset."""
        return min(bisect_right(self.ends, offset), len(self.words) - 1) if self.words else 0


def analyse(text: str, lang: Language, speller: Speller | None = None) -> Analysis:
    """Tokenise a normalised answer into canonical words and sentences, reading typos through the speller."""
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
                numeric = prev.lower() in lang.numeric_abbreviations
                if numeric and not NUMBER_AHEAD_RE.match(text, m.end()):
                    pass  # "I haven't, no. I've ..." ends here; only "No. 5" is an abbreviation
                elif prev.lower() in lang.abbreviations or (len(prev) == 1 and prev.isupper() and prev != "I"):
                    continue
        bounds.append((m.start(), m.end(), "?" in mark))
    words: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    sent: list[int] = []
    brk: list[bool] = []
    sentences: list[Sentence] = []
    corrected: set[int] = set()
    b = 0
    cur_first = 0
    cur_start = -1
    cur_words = 0
    prev_end = 0

    def close(end: int, question: bool) -> None:
        """Finish the sentence being built, if it holds any word."""
        nonlocal cur_first, cur_start, cur_words
        if cur_start >= 0:
            lead = cur_first
            while lead < len(words) - 1 and words[lead] in lang.lead_ins:
                lead += 1  # "And could you tell me ..." still opens with "could you tell me"
            head = words[lead] if lead < len(words) else ""
            q = question or _starts_with(words, lead, len(words), lang.openers.get(head, ()))
            asked = not q and _starts_with(words, lead, len(words), lang.request_openers.get(head, ()))
            sentences.append(Sentence(cur_start, end, q, cur_first, len(words), cur_words, asked))
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
        written = text[ws:we]
        # A capitalised word inside a sentence is a name (Okoye, Tableau): never "corrected".
        name = written[:1].isupper() and cur_first != len(words)
        for i, part in enumerate(lang.expand(written.lower())):
            fixed = speller.correct(part) if speller is not None and not name else None
            if fixed is not None:
                corrected.add(len(words))
                part = fixed
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
                    len(raw), tuple(raw), frozenset(corrected))


def _starts_with(words: Sequence[str], first: int, stop: int, openers: Iterable[tuple[str, ...]]) -> bool:
    """True when words[first:stop] begins with one of the opener sequences."""
    return any(tuple(words[first: first + len(o)]) == o for o in openers if first + len(o) <= stop)


def narrated(a: Analysis, lang: Language) -> list[int]:
    """Indices of the statements that describe what the candidate would say instead of saying it."""
    n = lang.narration
    if n is None:
        return []
    out = []
    for idx, s in enumerate(a.sentences):
        words = a.words[s.first: s.stop]
        if s.question and _starts_with(words, 0, len(words), n.checking):
            out.append(idx)  # "Is that the idea?" asks about the answer, not the interviewer
            continue
        if s.question:
            continue
        if out and out[-1] == idx - 1 and "you" not in words and (
                any(w in n.listeners for w in words)
                or ("i" not in words and any(w in n.modals for w in words) and any(w in n.verbs for w in words))):
            # "That way she knows where I stand", "It should mention the rollout": the account goes on.
            out.append(idx)
            continue
        if any(_starts_with(words, i, len(words), n.about_the_task) for i in range(len(words))):
            out.append(idx)
            continue
        third_person = any(w in n.listeners for w in words) and "you" not in words
        modal = any(w in n.modals for w in words)
        for i in range(len(words) - 2):
            if words[i] not in ("i", "we"):
                continue
            j = i + 1
            if words[j] not in n.modals:
                continue
            j += 1
            while j < len(words) and words[j] in n.adverbs:
                j += 1
            if j < len(words) and words[j] in n.verbs:
                after = words[j + 1: j + 2]
                stepwise = _starts_with(words, 0, i + 1, n.openings)
                if third_person or stepwise or (after and after[0] in n.markers | n.listeners):
                    out.append(idx)
                    break
        else:
            # "... show that I'm interested, politely ask if she has any doubts": a speech verb about "her".
            if third_person and modal and any(w in n.verbs for w in words) and idx not in out:
                out.append(idx)
    return out


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


@dataclass(frozen=True)
class PhraseIndex:
    """Patterns of many concepts indexed by their first two words, matched in one pass.

    Indexing on word pairs matters: dozens of phrases start with "i", and checking each of them at every
    "i" of a long answer would be the slow part of grading.
    """

    by_first: Mapping[str, tuple[tuple[int, Pattern], ...]]  # one-word patterns and "word *" patterns
    by_pair: Mapping[tuple[str, str], tuple[tuple[int, Pattern], ...]]
    gapped: frozenset[Pattern] = frozenset()  # patterns with a "..." or "~" gap, matched by _match_gapped
    modifiers: frozenset[str] = frozenset()  # what a "~" gap may skip

    @classmethod
    def build(cls, entries: Iterable[tuple[int, Pattern]], modifiers: frozenset[str] = frozenset()) -> PhraseIndex:
        """Index (key, pattern) pairs; the key says which concept (or exception list) a match belongs to."""
        first: dict[str, list[tuple[int, Pattern]]] = {}
        pair: dict[tuple[str, str], list[tuple[int, Pattern]]] = {}
        for key, pattern in entries:
            head = pattern[0]
            assert head is not None  # compile_phrase refuses a leading wildcard
            # A gap after the first word leaves nothing fixed to pair with: index such a pattern by its first word.
            second = pattern[1] if len(pattern) > 1 and not is_gap(pattern[1]) else None
            for form in head:
                if second is None:
                    first.setdefault(form, []).append((key, pattern))
                else:
                    for form2 in second:
                        pair.setdefault((form, form2), []).append((key, pattern))
        gapped = frozenset(p for entries in (*first.values(), *pair.values()) for _, p in entries
                           if any(is_gap(slot) for slot in p))
        return cls({k: tuple(dict.fromkeys(v)) for k, v in first.items()},
                   {k: tuple(dict.fromkeys(v)) for k, v in pair.items()}, gapped, modifiers)

    def vocabulary(self) -> set[str]:
        """Every word form any indexed pattern can match (what the speller may correct to)."""
        words: set[str] = set(self.by_first)
        for entries in (*self.by_first.values(), *self.by_pair.values()):
            for _, pattern in entries:
                for slot in pattern:
                    if slot is not None and not is_gap(slot):
                        words.update(slot)
        return words

    def find(self, a: Analysis) -> list[tuple[int, int, int, tuple[int, ...]]]:
        """Return (key, first, stop, words a gap skipped) for every pattern occurrence inside one sentence."""
        hits: list[tuple[int, int, int, tuple[int, ...]]] = []
        gapped = self.gapped
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
                if pattern in gapped:
                    m = _match_gapped(a, s, i + 1, pattern, 1, self.modifiers)
                    if m is not None:
                        hits.append((key, i, m[0], m[1]))
                    continue
                stop = i + len(pattern)
                if stop > n or sent[stop - 1] != s:
                    continue
                for k in range(2, len(pattern)):
                    slot = pattern[k]
                    if slot is not None and words[i + k] not in slot:
                        break
                else:
                    hits.append((key, i, stop, ()))
        return hits


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
            for skip in range(size + 1):
                p = pos + skip
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


def gap_negator(a: Analysis, skipped: Iterable[int], lang: Language) -> int | None:
    """A negator among the words a gap skipped ("I do not really want this job"), not part of an idiom."""
    for k in skipped:
        if a.words[k] in lang.negators and not _cancelled(a.words, k, lang):
            return k
    return None


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


def stream_hits(regex: Any, stream: str, offsets: Sequence[int]) -> list[tuple[int, int]]:
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
