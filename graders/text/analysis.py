"""Reading an answer for the `text` grader: the rules view, words, sentences, questions, negation.

Grading an answer is one tokenising regex pass plus dictionary lookups, so it stays well under a millisecond
for a 5,000-character answer.

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
from typing import TYPE_CHECKING, Any

from rapidfuzz import process
from rapidfuzz.distance import OSA

from graders.text.lexicon import has_tag, is_english

if TYPE_CHECKING:  # for the annotation only: the rules module reads english.yaml into these settings
    from graders.text.rules import GuardSettings

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
    # Derived: about_the_task grouped by first word, so a sentence is searched word by word, not sequence by sequence.
    task_openers: Mapping[str, tuple[tuple[str, ...], ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        """Group the about-the-task sequences by their first word."""
        grouped: dict[str, list[tuple[str, ...]]] = {}
        for seq in self.about_the_task:
            grouped.setdefault(seq[0] if seq else "", []).append(seq)
        object.__setattr__(self, "task_openers", {k: tuple(v) for k, v in grouped.items()})

    def about_task(self, words: Sequence[str]) -> bool:
        """Whether a sentence's words talk about the task itself ("the lesson", "a good answer") anywhere."""
        if "" in self.task_openers:
            return True  # an empty sequence starts everywhere
        get = self.task_openers.get
        stop = len(words)
        return any(_starts_with(words, i, stop, get(w, ())) for i, w in enumerate(words))


@dataclass(frozen=True)
class InContext:
    """A word that is a contraction only in context: its expansion, and the next words that make it one."""

    means: tuple[str, ...]
    before: frozenset[str]  # the next word is one of these ...
    not_before: frozenset[str]  # ... or, with `before` empty, any word but these
    capital: bool  # only written with a capital ("Ill")

    def applies(self, written: str, following: str) -> bool:
        """True when `written`, followed by `following` (lower case, "" at the end), is the contraction."""
        if self.capital and not written[:1].isupper():
            return False
        if not following:
            return False
        return following in self.before if self.before else following not in self.not_before


@dataclass(frozen=True)
class NegativePrefix:
    """english.yaml `negative_prefix:` "unconvinced" read as "not convinced" (see expand)."""

    prefixes: tuple[str, ...]
    tags: frozenset[str]  # the rest must be one of these (an adjective, a past participle) ...
    min_stem: int  # ... of at least this many letters
    keep: frozenset[str]  # words left as written ("uncovered" is not "not covered")


@dataclass(frozen=True)
class Language:
    """Word lists that drive tokenising, negation and the real-sentence guard (from graders/rules/english.yaml)."""

    contractions: Mapping[str, tuple[str, ...]]  # whole words: "can't" -> ("can", "not")
    suffixes: tuple[tuple[str, tuple[str, ...]], ...]  # ("n't", ("not",)), ("'m", ("am",)) ...
    s_is: frozenset[str]  # words whose 's means "is" (it's, that's); others are possessive and dropped ...
    abbreviations: frozenset[str]  # a full stop after these does not end a sentence
    negators: frozenset[str]
    negation_window: int
    clause_words: frozenset[str]  # but, although ... a negation does not reach past them
    not_negating: tuple[tuple[str, ...], ...]  # "not only", "can not wait" ...: a negator inside is no negation
    function_words: frozenset[str]
    no_inflect: frozenset[str]
    indirect_questions: tuple[tuple[str, ...], ...]  # "could you tell me": a question without a question mark
    guard: GuardSettings  # the real-sentences guard's thresholds
    spelling: Mapping[str, float] = field(default_factory=dict)  # Speller settings
    lead_ins: frozenset[str] = frozenset()  # "and", "also"...: skipped before an indirect-question opener
    modifiers: frozenset[str] = frozenset()  # what a "~" gap in a phrase may skip ("really", "very", "much")
    numeric_abbreviations: frozenset[str] = frozenset()  # "no": an abbreviation only before a number
    narration: Narration | None = None
    # Contractions written without an apostrophe that the next word tells apart ("its a gap", "Ill start").
    in_context: Mapping[str, InContext] = field(default_factory=dict)
    # Derived: for each negator, the not-negating sequences it appears in and at which position.
    cancel_at: Mapping[str, tuple[tuple[int, tuple[str, ...]], ...]] = field(default_factory=dict)
    # Derived: the indirect-question openers grouped by their first word.
    openers: Mapping[str, tuple[tuple[str, ...], ...]] = field(default_factory=dict)
    # "please let me know ...": asks for something without being a question; grouped by first word in __post_init__.
    requests: tuple[tuple[str, ...], ...] = ()
    request_openers: Mapping[str, tuple[tuple[str, ...], ...]] = field(default_factory=dict)
    story_frames: tuple[str, ...] = ()  # phrases (as written) that mark a sentence as the candidate's own story
    # "Do you think", "would you say" set into a question before its clause ("when do you think you'll decide"):
    # a "..." gap does not count their words, so the question matches as if they were not there.
    hedges: tuple[tuple[str, ...], ...] = ()
    hedge_followers: frozenset[str] = frozenset()  # ... only when the next word starts a clause (I, you, the ...)
    hedge_openers: Mapping[str, tuple[tuple[str, ...], ...]] = field(default_factory=dict)  # derived: by first word
    # "@done" in a phrase: a class of words by their form (phrases.WordClass slots, by name).
    word_classes: Mapping[str, Any] = field(default_factory=dict)
    # Derived: what an opener may have set inside it ("may I also ask"): the lead-ins and the modifiers.
    inner_skips: frozenset[str] = frozenset()
    negative_prefix: NegativePrefix | None = None
    s_is_before: frozenset[str] = frozenset()  # ... (s_is) unless one of these follows ("Tableau's new to me")

    def __post_init__(self) -> None:
        """Precompute where each negator sits inside the not-negating sequences, and index the openers."""
        table: dict[str, list[tuple[int, tuple[str, ...]]]] = {}
        for seq in self.not_negating:
            for pos, word in enumerate(seq):
                if word in self.negators:
                    table.setdefault(word, []).append((pos, seq))
        object.__setattr__(self, "cancel_at", {k: tuple(v) for k, v in table.items()})
        object.__setattr__(self, "inner_skips", self.lead_ins | self.modifiers)
        for attr, seqs in (("openers", self.indirect_questions), ("request_openers", self.requests),
                           ("hedge_openers", self.hedges)):
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
            return self._unprefixed(word) or (word,)
        for suffix, parts in self.suffixes:
            if word.endswith(suffix) and len(word) > len(suffix):
                return (word[: -len(suffix)], *parts)
        if word.endswith("'s") and len(word) > 2:
            base = word[:-2]
            return (base, "is") if base in self.s_is else (base,)
        return (word,)

    def _unprefixed(self, word: str) -> tuple[str, str] | None:
        """("not", stem) for a negating prefix on an adjective or participle ("unconvinced"), else None.

        So the stem's own rules and the negation rules both read it: "I'm uninterested" is "I'm not interested",
        and "anything that left you unconvinced" finds "not convinced". Phrases are read the same way.
        """
        np = self.negative_prefix
        if np is None or word in np.keep:
            return None
        for prefix in np.prefixes:
            stem = word[len(prefix):]
            if word.startswith(prefix) and len(stem) >= np.min_stem and has_tag(stem, np.tags):
                return ("not", stem)
        return None


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
        if len(word) < self.min_length or word in self.known or not word.isalpha() or is_english(word):
            return None
        edits = 2 if len(word) >= self.long_from else 1
        found = process.extract(word, self.vocabulary, scorer=OSA.distance, score_cutoff=edits, limit=5)
        if not found:
            return None
        best = [str(f[0]) for f in found if f[1] == found[0][1]]
        if len(best) > 1:
            # A doubled or undoubled letter is the commonest slip ("realy", "proccess"); among equally near
            # words, one that differs only by that wins, and any other tie is left alone.
            best = [w for w in best if _doubling_slip(word, w)]
        return best[0] if len(best) == 1 else None


def _doubling_slip(typed: str, word: str) -> bool:
    """True when `typed` is `word` with one doubled letter written single, or one single letter doubled."""
    short, long = sorted((typed, word), key=len)
    if len(long) != len(short) + 1:
        return False
    for i in range(len(long)):
        if long[:i] + long[i + 1:] == short:
            return (i > 0 and long[i - 1] == long[i]) or (i + 1 < len(long) and long[i + 1] == long[i])
    return False


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
    hedged: frozenset[int] = frozenset()  # canonical words of a hedge insert ("do you think"), not counted by gaps

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
            q, asked = (True, False) if question else _asks_from(words, cur_first, lang)
            if not (q or asked):
                # "I'm serious about this role, but I'd like to know if anything gives you pause": an opener
                # at the start of a later clause asks as much as one at the start of the sentence.
                q, asked = _asks_in_a_clause(words, brk, cur_first + 1, lang)
            sentences.append(Sentence(cur_start, end, q, cur_first, len(words), cur_words, asked))
        cur_first = len(words)
        cur_start = -1
        cur_words = 0

    for n, (ws, we) in enumerate(raw):
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
        low = written.lower()
        rule = lang.in_context.get(low)
        possessive = low.endswith("'s") and rule is None
        following = (text[raw[n + 1][0]: raw[n + 1][1]].lower()
                     if (rule is not None or possessive) and n + 1 < len(raw) else "")
        if rule is not None and rule.applies(written, following):
            parts = rule.means
        elif possessive and following in lang.s_is_before and low[:-2] not in lang.s_is:
            # "Tableau's new to me", "the rota's been a help": before these words 's is "is", not a possessive.
            parts = (low[:-2], "is")
        else:
            parts = lang.expand(low)
        for i, part in enumerate(parts):
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
                    len(raw), tuple(raw), frozenset(corrected), _hedged(words, sent, lang))


def _hedged(words: Sequence[str], sent: Sequence[int], lang: Language) -> frozenset[int]:
    """The words of every hedge insert ("do you think") that a clause follows in the same sentence."""
    out: set[int] = set()
    openers = lang.hedge_openers
    for i, word in enumerate(words):
        for seq in openers.get(word, ()):
            stop = i + len(seq)
            if (stop < len(words) and sent[stop] == sent[i] and tuple(words[i:stop]) == seq
                    and words[stop] in lang.hedge_followers):
                out.update(range(i, stop))
    return frozenset(out)


def _starts_with(words: Sequence[str], first: int, stop: int, openers: Iterable[tuple[str, ...]]) -> bool:
    """True when words[first:stop] begins with one of the opener sequences."""
    return any(tuple(words[first: first + len(o)]) == o for o in openers if first + len(o) <= stop)


# Words that open a clause inside a sentence when no comma does: "..., but I'd like to know", "so may I ask".
CLAUSE_OPENERS = frozenset(("but", "and", "so", "though", "although"))


def _asks_from(words: Sequence[str], first: int, lang: Language) -> tuple[bool, bool]:
    """(question, request): whether the words from `first` open like an indirect question or a request."""
    lead = first
    while lead < len(words) - 1 and words[lead] in lang.lead_ins:
        lead += 1  # "And could you tell me ..." still opens with "could you tell me"
    head = words[lead] if lead < len(words) else ""
    if _opens_with(words, lead, len(words), lang.openers.get(head, ()), lang.inner_skips):
        return True, False
    return False, _opens_with(words, lead, len(words), lang.request_openers.get(head, ()), lang.inner_skips)


def _asks_in_a_clause(words: Sequence[str], brk: Sequence[bool], first: int, lang: Language) -> tuple[bool, bool]:
    """(question, request): whether a clause after `first` (past a comma, "but", "so") opens like a question."""
    for p in range(first, len(words)):
        if brk[p] or words[p - 1] in CLAUSE_OPENERS:
            found = _asks_from(words, p, lang)
            if any(found):
                return found
    return False, False


# Words an opener may have set inside it: "may I also ask", "could you just tell me", "can I quickly ask".
INNER_SKIPS = 2


def _opens_with(words: Sequence[str], first: int, stop: int, openers: Iterable[tuple[str, ...]],
                inner: frozenset[str]) -> bool:
    """True when words[first:stop] begins with an opener, allowing a few `inner` words between its words."""
    for opener in openers:
        pos, skipped = first + 1, 0  # the first word is the opener's own (they are grouped by it)
        for want in opener[1:]:
            while pos < stop and words[pos] != want and words[pos] in inner and skipped < INNER_SKIPS:
                pos, skipped = pos + 1, skipped + 1
            if pos >= stop or words[pos] != want:
                break
            pos += 1
        else:
            return True
    return False


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
        if n.about_task(words):
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
