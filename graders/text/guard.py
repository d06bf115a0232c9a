"""The real-sentences guard: an answer that is not written as real sentences earns nothing from any other check.

Each heuristic is one named function that returns the failing outcome, or None when the answer passes it; the
guard fails with the first that fires, in the order of `HEURISTICS`. Their thresholds are `GuardSettings`, read
from the `guard:` section of graders/rules/english.yaml.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from graders.base import SpecIssue
from graders.text.analysis import WORD_RE, Analysis, Language, has_terminal_punctuation, narrated
from graders.text.checks import CheckKind, CheckSpec, NoParams, Outcome, Reading, TextSpec, quote
from graders.text.matcher import Found, Hit
from graders.text.rules import GuardSettings

GUARD_ID = "real-sentences"
# How a check the guard zeroed begins its message; a check that failed on its own merits never does.
NOT_CREDITED = "Not credited, because the answer is not written as real sentences."
# A placeholder left in a template: "[Thank him for his time]", "[My name]".
PLACEHOLDER_RE = re.compile(r"\[[^\[\]\n]{2,80}\]")

@dataclass(frozen=True)
class Seen:
    """What every heuristic reads: the answer, what the matcher found, the spec and the guard's fail message."""

    a: Analysis
    found: Found
    spec: TextSpec
    fail: str
    _hits: dict[str, list[Hit]] = field(default_factory=dict)

    def hits(self, name: str) -> list[Hit]:
        """A concept's hits, found once for all the heuristics that read them."""
        if name not in self._hits:
            self._hits[name] = self.spec.hits(self.found, name)
        return self._hits[name]

    @property
    def lang(self) -> Language:
        """The rules' language data."""
        return self.spec.rules.lang

    @property
    def settings(self) -> GuardSettings:
        """The guard's thresholds."""
        return self.spec.rules.lang.guard

    @property
    def checked(self) -> bool:
        """Whether the answer is long enough for the share tests."""
        return self.a.word_count >= self.settings.min_words_for_shares

    def fails(self, why: str, spans: tuple[tuple[int, int], ...]) -> Outcome:
        """The guard's failing outcome: its own fail message, then why."""
        return Outcome(False, f"{self.fail} {why}", spans)


# An email's frame: a greeting line and up to three closing lines (sign-off, name, title) of this many words at most.
FRAME_WORDS = 4
# Where a list's items part: a comma, a semicolon, or "and"/"or" between words.
LIST_SPLIT_RE = re.compile(r"[,;]|\b(?:and|or)\b", re.IGNORECASE)
FRAME_TAIL = 3


def keyword_list(s: Seen) -> Outcome | None:
    """Fragments: most words must sit in sentences of a few words that include ordinary function words."""
    a, g, lang = s.a, s.settings, s.lang
    fragments = [x for x in a.sentences
                 if x.words < g.min_sentence_words
                 or not any(w in lang.function_words for w in a.words[x.first: x.stop])]
    in_real = sum(x.words for x in a.sentences) - sum(x.words for x in fragments)
    function_share = _function_share(a.words, lang.function_words)
    if s.checked and (in_real / max(1, a.word_count) < g.min_real_share or function_share < g.min_function_share):
        return s.fails("This reads as a list of words rather than sentences, so none of the other points can be "
                       "credited. Write it out as you would say or send it.",
                       tuple((x.start, x.end) for x in fragments) or ((0, len(a.text)),))
    return None


def form_labels(s: Seen) -> Outcome | None:
    """"Interest: high. Concerns: any?" - labels with a value after them are a form filled in, not speech."""
    a, g = s.a, s.settings
    labels = _label_lines(a, g.contact_labels, g.enumerators, g.min_sentence_words)
    if len(labels) > g.max_label_lines and len(labels) * 2 >= _body_sentences(a):
        return s.fails(f"{len(labels)} lines read as a label and a value "
                       f"({', '.join(quote(a.text, sp) for sp in labels[:3])}); say it in sentences "
                       "instead, so none of the other points can be credited yet.", tuple(labels))
    return None


def template_blanks(s: Seen) -> Outcome | None:
    """"[Thank him for his time]", "[My name]": a template with its blanks left in."""
    blanks = [m.span() for m in PLACEHOLDER_RE.finditer(s.a.text)]
    if len(blanks) > s.settings.max_placeholders:
        shown = ", ".join(quote(s.a.text, b) for b in blanks[:3])
        return s.fails(f"This is still a template ({shown}); write the words themselves, so none of the other "
                       "points can be credited yet.", tuple(blanks))
    return None


def account_of_the_answer(s: Seen) -> Outcome | None:
    """An account of the advice ("Then I'd ask her about the timeline") is not the answer itself."""
    a = s.a
    told = narrated(a, s.lang)
    if told and len(told) >= s.settings.max_narrated_share * _body_sentences(a):
        spans = tuple((a.sentences[i].start, a.sentences[i].end) for i in told)
        return s.fails(f"This describes what you would say ({quote(a.text, spans[0])}) rather than saying it. "
                       "Write the words you would actually use, so none of the other points can be credited yet.",
                       spans)
    return None


def repeated_sentences(s: Seen) -> Outcome | None:
    """The same sentence pasted again and again earns nothing."""
    a = s.a
    seen: dict[tuple[str, ...], int] = {}
    repeats: list[tuple[int, int]] = []
    for x in a.sentences:
        key = a.words[x.first: x.stop]
        if len(key) < 3:
            continue
        if key in seen:
            repeats.append((x.start, x.end))
        seen[key] = seen.get(key, 0) + 1
    if len(repeats) > s.settings.max_repeats:
        most = max(seen.values())
        return s.fails(f"The same sentence appears {most} times; repeating a point does not make it count more, "
                       "so this answer earns nothing.", tuple(repeats))
    return None


def stuffed_synonyms(s: Seen) -> Outcome | None:
    """Synonyms of one concept side by side, or in clause after clause of one sentence, are a list."""
    a, g = s.a, s.settings
    clauses = _clause_numbers(a)
    # A question in real words may name its alternatives clause by clause ("what happens after this, will there be
    # another stage or a decision, and when?"): that asks, it does not pile up synonyms. A question of bare nouns
    # ("Next steps, timeline, decision date, process?") still counts.
    asking = {n for n, x in enumerate(a.sentences)
              if x.question
              and _function_share(a.words[x.first: x.stop], s.lang.function_words) >= g.asking_function_share}
    for name in _stuffable(s.spec):
        found = s.hits(name)
        # Per sentence, the clauses (split at commas and at "and"/"or") where the concept appears.
        per_sentence: dict[int, dict[int, Hit]] = {}
        for h in found:
            if a.sent[h.first] in asking:
                continue
            per_sentence.setdefault(a.sent[h.first], {}).setdefault(clauses[h.first], h)
        crowded = list(max(per_sentence.values(), key=len, default={}).values())
        run = _longest_adjacent_run(found, a, s.lang.function_words)
        if len(run) > g.max_adjacent_hits:
            # Synonyms side by side with not even a function word between or inside them ("interested keen
            # excited", "next steps timeline process") are a list in a sentence's clothing.
            return s.fails(f"{quote(a.text, (run[0].span[0], run[-1].span[1]))} strings {len(run)} ways of saying "
                           "the same thing side by side; piling up synonyms is not an answer, so this earns "
                           "nothing.", tuple(h.span for h in run))
        if len(crowded) > g.max_hits_per_sentence:
            # Listing synonyms clause after clause ("interested, keen, excited, eager") is stuffing, not speech.
            return s.fails(f"One sentence says the same thing {len(crowded)} times "
                           f"({', '.join(quote(a.text, h.span) for h in crowded[:4])}); piling up synonyms is not "
                           "an answer, so this earns nothing.", tuple(h.span for h in crowded))
    return None


def _function_share(words: Sequence[str], function_words: frozenset[str]) -> float:
    """The share of these words that are function words (a list of keywords has next to none)."""
    return sum(w in function_words for w in words) / len(words) if words else 0.0


def and_chain(s: Seen) -> Outcome | None:
    """"I want the role and your doubts and how I fit and the next steps and ...": every move chained by "and"."""
    chained = _chained_sentence(s, s.settings.chain_conjunctions, s.settings.chain_concepts)
    if chained is not None:
        return s.fails(f"One sentence strings every point together with \"and\" ({quote(s.a.text, chained)}); a "
                       "chain of keywords is not an answer, so this earns nothing.", (chained,))
    return None


def comma_list(s: Seen) -> Outcome | None:
    """"I was listening to the scheduling system, next spring, drivers, depot staff, customers and updates": a
    sentence that is mostly short items split by commas, "and" or "or" lists keywords; it does not say anything."""
    g = s.settings
    for x in s.a.sentences:
        items = [part for part in LIST_SPLIT_RE.split(s.a.text[x.start: x.end]) if WORD_RE.search(part)]
        short = sum(_list_item(part, g.list_item_words, s.lang.function_words) for part in items)
        if short >= g.list_items and short >= g.list_short_share * len(items):
            return s.fails(f"One sentence is a list of {len(items)} short items "
                           f"({quote(s.a.text, (x.start, x.end))}); a list of keywords is not an answer, so this "
                           "earns nothing. Say what you mean in sentences.", ((x.start, x.end),))
    return None


def _list_item(part: str, max_words: int, function_words: frozenset[str]) -> bool:
    """A keyword item: a few words, naming something ("depot staff", "next spring rollout"), with at most one
    function word; "I have", "though" or "for my capstone" are pieces of an ordinary sentence instead."""
    words = [w.lower() for w in WORD_RE.findall(part)]
    grammar = sum(w in function_words for w in words)
    return 0 < len(words) <= max_words and grammar <= 1 and grammar < len(words)


def names_the_moves(s: Seen) -> Outcome | None:
    """"I am writing to greet you, thank you, show I was listening, remind you why I fit and say I want the role":
    a sentence whose list items each name one of the rubric's moves restates the task instead of doing it."""
    g = s.settings
    names = frozenset(g.move_names)
    for x in s.a.sentences:
        items = [part for part in LIST_SPLIT_RE.split(s.a.text[x.start: x.end]) if WORD_RE.search(part)]
        naming = sum(any(w.lower() in names for w in WORD_RE.findall(part)) for part in items)
        if naming >= g.move_items:
            return s.fails(f"One sentence names the points one after another ({quote(s.a.text, (x.start, x.end))}) "
                           "instead of making them; listing what a good answer covers is not an answer, so this "
                           "earns nothing.", ((x.start, x.end),))
    return None


def rubric_phrase_share(s: Seen) -> Outcome | None:
    """When rubric phrases make up most of the words, one of them said over and over, it is a list in disguise."""
    covered: set[int] = set()
    most_hits = 0
    for name in _stuffable(s.spec):
        found = s.hits(name)
        most_hits = max(most_hits, len(found))
        covered.update(w for h in found if not h.loose for w in range(h.first, h.stop))
    g = s.settings
    if s.checked and len(covered) / len(s.a.words) > g.max_concept_share and most_hits >= g.stuffing_min_hits:
        return s.fails("Almost every word is a rubric phrase, several said over and over; stringing the expected "
                       "phrases together is not an answer, so this earns nothing.", ((0, len(s.a.text)),))
    return None


def unpunctuated_run(s: Seen) -> Outcome | None:
    """A long run of words with no sentence punctuation and no line break is not written as sentences."""
    a = s.a
    if (a.word_count >= s.settings.unpunctuated_words and not has_terminal_punctuation(a.text)
            and "\n" not in a.text.strip()):
        return s.fails("There is no full stop or question mark anywhere; break it into sentences so the "
                       "interviewer can follow it.", ())
    return None


# The order matters: the first heuristic that fires explains the failure.
HEURISTICS: tuple[Callable[[Seen], Outcome | None], ...] = (
    keyword_list, form_labels, template_blanks, account_of_the_answer, repeated_sentences, stuffed_synonyms,
    and_chain, comma_list, names_the_moves, rubric_phrase_share, unpunctuated_run)


class RealSentences(CheckKind):
    """`sentences: true`: the guard, added with weight 1 when a spec leaves it out, and never turned off."""

    name = "sentences"
    key = (bool, None)
    role = "guard"
    single = True
    message_met = "Written as real sentences."
    message_missed = "Write real sentences, not a list of keywords."

    def read(self, body: Any, path: str, reading: Reading) -> NoParams:
        """Only `true` is accepted."""
        if body.sentences is False:
            reading.issues.append(SpecIssue(f"{path}.sentences", "the real-sentences guard cannot be turned off"))
        return NoParams()

    def judge(self, check: CheckSpec, spec: TextSpec, a: Analysis, found: Found) -> Outcome:
        """Fail with the first heuristic that fires; pass when none does."""
        if not a.words:
            return Outcome(False, f"{check.fail_msg} There are no words in the answer.", ())
        seen = Seen(a, found, spec, check.fail_msg)
        for heuristic in HEURISTICS:
            outcome = heuristic(seen)
            if outcome is not None:
                return outcome
        return Outcome(True, check.pass_msg, ())


def _stuffable(spec: TextSpec) -> list[str]:
    """The concepts a check names, sorted, except topics named in passing (`synonyms: false`)."""
    # A list of such topics is caught by the fragment and function-word tests instead.
    return [n for n in sorted({n for ch in spec.checks for n in ch.concepts})
            if not (n in spec.concepts and not spec.concepts[n].synonyms)]


def _body_sentences(a: Analysis) -> int:
    """How many sentences the answer has besides an email's frame: its greeting line and its sign-off and name.

    A share of the answer ("half of it is labels", "most of it tells what one would say") is a share of what it
    says, so "Dear Tom," and "Kind regards, / Ann" must not water it down.
    """
    sentences = a.sentences
    first, stop = 0, len(sentences)
    if stop > 1 and sentences[0].words <= FRAME_WORDS and "\n" in a.text[sentences[0].end:]:
        first = 1
    while stop - first > 1 and len(sentences) - stop < FRAME_TAIL and sentences[stop - 1].words <= FRAME_WORDS \
            and "\n" in a.text[sentences[stop - 2].end: sentences[stop - 1].start]:
        stop -= 1
    return max(1, stop - first)


def _label_lines(a: Analysis, contact_labels: list[str], enumerators: list[str],
                 sentence_words: int) -> list[tuple[int, int]]:
    """Sentences, or lines, that start with a one- to five-word label and a colon ("Next steps: please advise").

    A form typed line by line ("Thanks: for your time" / "Why me: the rota") is read a line at a time, since such
    lines often end in no full stop. An email's header and contact lines ("Subject:", "Phone:") are labels of
    another kind and are left out, and so is a number that counts the points of whole sentences ("One: compared
    with the others, how do you see me?").
    """
    found: dict[int, tuple[int, int]] = {}
    pieces = [(s.start, s.end) for s in a.sentences]
    at = 0
    for line in a.text.split("\n"):
        if line.strip():
            pieces.append((at, at + len(line)))
        at += len(line) + 1
    for start, end in pieces:
        head, colon, value = a.text[start: end].partition(":")
        label = WORD_RE.findall(head.lower())
        counted = " ".join(label) in enumerators and len(WORD_RE.findall(value)) >= sentence_words
        if colon and 1 <= len(label) <= 5 and "\n" not in head and " ".join(label) not in contact_labels \
                and not counted:
            found.setdefault(start + len(head) - len(head.lstrip()), (start, end))
    return sorted(found.values())


def _chained_sentence(s: Seen, conjunctions: int, concepts: int) -> tuple[int, int] | None:
    """The span of a sentence that joins many rubric concepts with many "and"/"or", else None."""
    a = s.a
    required = {n for ch in s.spec.checks if ch.rule.role == "move" for n in ch.concepts}
    per_sentence: dict[int, list[str]] = {}
    for name in required:
        for h in s.hits(name):
            per_sentence.setdefault(a.sent[h.first], []).append(name)
    # Every required concept when there are fewer than `concepts` of them, and `concepts` hits in all.
    need = min(concepts, len(required))
    for idx, names in per_sentence.items():
        x = a.sentences[idx]
        joins = sum(w in ("and", "or") for w in a.words[x.first: x.stop])
        if len(set(names)) >= need and len(names) >= concepts and joins >= conjunctions:
            return (x.start, x.end)
    return None


def _longest_adjacent_run(found: list[Hit], a: Analysis, function_words: frozenset[str]) -> list[Hit]:
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


def _clause_numbers(a: Analysis) -> list[int]:
    """A running clause number per word: it steps at punctuation breaks and at "and"/"or"."""
    out = []
    n = 0
    for i, w in enumerate(a.words):
        if a.brk[i] or w in ("and", "or"):
            n += 1
        out.append(n)
    return out
