"""English word data from lemminflect, stored as plain word sets so a serving process never loads its tables.

lemminflect's lookup tables cost a Python process about 70 MB (numpy, which it imports, included), and memory
that Python has once handed out is not given back to the system. The rules need three things from them:
- the inflections of each phrase word (when rules compile);
- whether a word is English at all (the speller leaves those alone);
- which words belong to the tag classes the rules use (@done, the negating prefix's stems).

`graders/rules/forms.json.gz` holds all three for the shipped rules and course, written by
`python -m course.forms --write` and checked by tests/test_text_rules_data.py. A word it lacks (a
phrase an author has just added) is looked up in lemminflect's tables, which are then loaded on demand: the
answer is the same either way, only the memory differs.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable
from functools import cache, lru_cache
from importlib import metadata
from pathlib import Path

FORMS_FILE = Path(__file__).resolve().parents[1] / "rules" / "forms.json.gz"

# Every phrase word inflected so far, and every tag class listed (memos, and what `--write` stores).
_INFLECTED: dict[str, frozenset[str]] = {}
_CLASSES: set[tuple[frozenset[str], frozenset[str]]] = set()


def _class_key(tags: Iterable[str], excluded: Iterable[str]) -> str:
    """The stored file's key for a tag class: its tags and excluded lemmas, sorted."""
    return ",".join(sorted(tags)) + "|" + ",".join(sorted(excluded))


@cache
def stored() -> dict:
    """The stored forms, or an empty dict when the file is missing or was written for another lemminflect."""
    try:
        data = json.loads(gzip.decompress(FORMS_FILE.read_bytes()))
    except (OSError, ValueError):
        return {}
    return data if data.get("lemminflect") == metadata.version("lemminflect") else {}


def _tables() -> tuple[dict, dict, dict, dict]:
    """lemminflect's word->lemmas and lemma->forms tables and their overrides (loaded on first use)."""
    from lemminflect.core.Inflections import Inflections
    from lemminflect.core.Lemmatizer import Lemmatizer

    lemmatizer, inflector = Lemmatizer(), Inflections()
    return (lemmatizer._getLemmaDict(), lemmatizer._getOverridesDict(),
            inflector._getInflDict(), inflector._getOverridesDict())


def inflections(word: str) -> frozenset[str]:
    """Every inflected form of every lemma of `word`, including the word itself (as lemminflect writes them)."""
    known = _INFLECTED.get(word)
    if known is None:
        listed = stored().get("inflections", {}).get(word)
        known = frozenset(listed) if listed is not None else _inflect(word)
        _INFLECTED[word] = known
    return known


def _inflect(word: str) -> frozenset[str]:
    """Inflect `word` with lemminflect's tables."""
    from lemminflect import getAllInflections, getAllLemmas

    forms = {word}
    for lemmas in getAllLemmas(word).values():
        for lemma in lemmas:
            forms.add(lemma)
            for group in getAllInflections(lemma).values():
                forms.update(f.lower() for f in group)
    return frozenset(forms)


@cache
def english_words() -> frozenset[str]:
    """Every lower-case word the lexicon has a lemma for: what getAllLemmas(word) finds something for."""
    listed = stored().get("english")
    return frozenset(listed) if listed is not None else _english_from_tables()


def _english_from_tables() -> frozenset[str]:
    """The lower-case words with a lemma in lemminflect's tables (its getAllLemmas finds something for them)."""
    lemmas, overrides, _forms, _form_overrides = _tables()
    return frozenset(w for table in (lemmas, overrides) for w, found in table.items() if found and w == w.lower())


def is_english(word: str) -> bool:
    """True when the lexicon knows the word (so it is no typo)."""
    return word in english_words()


@lru_cache(maxsize=32)
def tagged(tags: frozenset[str], excluded: frozenset[str] = frozenset()) -> frozenset[str]:
    """Every word that is an inflection with one of the Penn `tags` of some lemma, none of its lemmas `excluded`."""
    _CLASSES.add((tags, excluded))
    listed = stored().get("tagged", {}).get(_class_key(tags, excluded))
    return frozenset(listed) if listed is not None else _tagged(tags, excluded)


def _tagged(tags: frozenset[str], excluded: frozenset[str]) -> frozenset[str]:
    """Work out a tag class from lemminflect: candidates from its tables, each checked with its own lookups."""
    from lemminflect import getAllInflections, getAllLemmas

    _lemmas, _overrides, forms, form_overrides = _tables()
    candidates = {f.lower() for table in (forms, form_overrides) for by_tag in table.values()
                  for tag, written in by_tag.items() if tag in tags for f in written}
    out = set()
    for word in candidates:
        found = [(upos, lemma) for upos, ls in getAllLemmas(word).items() for lemma in ls]
        if any(lemma in excluded for _upos, lemma in found):
            continue  # "had" is a form of "have" whatever else it might be
        if any(word in written for upos, lemma in found
               for tag, written in getAllInflections(lemma, upos=upos).items() if tag in tags):
            out.add(word)
    return frozenset(out)


def has_tag(word: str, tags: frozenset[str], excluded: frozenset[str] = frozenset()) -> bool:
    """True when `word` is an inflection with one of the Penn `tags` (VBD, JJ ...) of a lemma not in `excluded`."""
    return word in tagged(tags, excluded)


def compute(words: Iterable[str], classes: Iterable[tuple[frozenset[str], frozenset[str]]]) -> dict:
    """The stored file's contents worked out from lemminflect's tables: these phrase words and tag classes."""
    return {
        "lemminflect": metadata.version("lemminflect"),
        "english": sorted(_english_from_tables()),
        "tagged": {_class_key(t, e): sorted(_tagged(t, e)) for t, e in classes},
        "inflections": {w: sorted(_inflect(w)) for w in sorted(set(words))},
    }
