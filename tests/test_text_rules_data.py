"""The shared rules data of the `text` grader: every example of every lexicon and tone rule, and the loader's errors."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from graders import text
from graders.base import SpecError
from graders.text import lexicon

RULES = text.default_rules()


def _lexicon_cases(kind: str) -> list[tuple[str, str]]:
    """(concept name, example sentence) for one kind of lexicon example."""
    return [(name, ex) for name, d in RULES.lexicons.items() for ex in getattr(d.examples, kind)]


def _tone_cases(kind: str) -> list[tuple[str, str]]:
    """(rule id, example sentence) for one kind of tone rule example."""
    return [(rule.id, ex) for rule in RULES.tone for ex in getattr(rule.concept.examples, kind)]


def _rule(rule_id: str) -> text.ToneRule:
    """Look a tone rule up by id."""
    return next(r for r in RULES.tone if r.id == rule_id)


def _said(sentence: str, hits: list[text.Hit]) -> list[str]:
    """The words each hit covers, for readable assertion messages."""
    return [sentence[h.span[0]: h.span[1]] for h in hits]


@pytest.mark.parametrize(("name", "sentence"), _lexicon_cases("match"))
def test_lexicon_matches_its_examples(name, sentence):
    """Each `match` example produces at least one match that is not negated."""
    hits = text.probe(RULES, RULES.lexicons[name], sentence)
    assert any(h.negator is None for h in hits), f"{name} should match {sentence!r}"


@pytest.mark.parametrize(("name", "sentence"), _lexicon_cases("ok"))
def test_lexicon_leaves_its_ok_examples_alone(name, sentence):
    """Each `ok` example produces no un-negated match."""
    hits = [h for h in text.probe(RULES, RULES.lexicons[name], sentence) if h.negator is None]
    assert not hits, f"{name} wrongly matched {_said(sentence, hits)} in {sentence!r}"


@pytest.mark.parametrize(("name", "sentence"), _lexicon_cases("negated"))
def test_lexicon_negated_examples_are_only_negated(name, sentence):
    """Each `negated` example matches, but every match is inside a negated clause."""
    hits = text.probe(RULES, RULES.lexicons[name], sentence)
    assert hits, f"{name} should find a (negated) match in {sentence!r}"
    assert all(h.negator is not None for h in hits), f"{_said(sentence, hits)} should be negated"


@pytest.mark.parametrize(("rule_id", "sentence"), _tone_cases("match"))
def test_tone_rule_matches_its_examples(rule_id, sentence):
    """Each tone rule fires on every `match` example."""
    assert text.probe_tone(RULES, _rule(rule_id), sentence), f"{rule_id} should fire on {sentence!r}"


@pytest.mark.parametrize(("rule_id", "sentence"), _tone_cases("ok"))
def test_tone_rule_leaves_its_ok_examples_alone(rule_id, sentence):
    """No tone rule fires on its own `ok` examples."""
    spans = text.probe_tone(RULES, _rule(rule_id), sentence)
    assert not spans, f"{rule_id} wrongly fired on {[sentence[a:b] for a, b in spans]}"


def test_every_rule_and_lexicon_is_pinned_by_examples():
    """A rule without examples is untested; each must show what it catches and what it leaves alone."""
    for rule in RULES.tone:
        assert rule.concept.examples.match, f"tone rule {rule.id} has no match examples"
        assert rule.concept.examples.ok, f"tone rule {rule.id} has no ok examples"
        assert rule.message.strip(), f"tone rule {rule.id} has no message"
    for name, d in RULES.lexicons.items():
        assert d.examples.match and d.examples.ok, f"lexicon {name} needs match and ok examples"
        assert d.description, f"lexicon {name} has no description"


def test_the_four_tone_categories_of_the_issue_exist():
    """Pressure, demands, sarcasm and rudeness are the categories the rubrics rely on."""
    assert {"pressure", "demands", "sarcasm", "rudeness"} <= set(RULES.categories())


def test_presumption_line_between_hope_and_presumption():
    """Documented line: "when" presumes the offer, "if" hopes for it; hearing back is always fine."""
    presumption = RULES.lexicons["presumption"]
    presumes = ["When I join the team, I'll redo the dashboards.", "Once I'm hired I will move closer.",
                "How soon could I begin?", "When's my first day?", "I can start on Monday."]
    hopes = ["If I join the team, I'd love to redo the dashboards.", "If selected, I'd love to start soon.",
             "When will I hear back from you?", "When I started my last job I shadowed a colleague."]
    for sentence in presumes:
        assert text.probe(RULES, presumption, sentence), sentence
    for sentence in hopes:
        assert not text.probe(RULES, presumption, sentence), sentence


# ---- the loader: bad rules files are refused with the file and the key named -------------------------------

@pytest.fixture
def rules_copy(tmp_path: Path) -> Path:
    """A writable copy of the shipped rules directory."""
    target = tmp_path / "rules"
    shutil.copytree(text.RULES_DIR, target)
    return target


def _edit(path: Path, old: str, new: str) -> None:
    """Replace one snippet of a rules file (and insist it was there)."""
    content = path.read_text(encoding="utf-8")
    assert old in content, f"{old!r} not in {path.name}"
    path.write_text(content.replace(old, new, 1), encoding="utf-8")


def _load_error(directory: Path) -> str:
    """Load a rules directory that must fail, returning the error text."""
    with pytest.raises(SpecError) as info:
        text.load_rules(directory)
    return str(info.value)


def test_loader_accepts_the_shipped_copy(rules_copy):
    """The copy itself loads: the failures below come from the edits alone."""
    rules = text.load_rules(rules_copy)
    assert set(rules.lexicons) == set(RULES.lexicons)
    assert rules.digest == RULES.digest


@pytest.mark.parametrize(("file", "old", "new", "expected"), [
    # A misspelt key in a tone rule is reported with the file and the rule's index.
    ("tone.yaml", "  - id: hurry\n", "  - id: hurry\n    mesage: typo\n",
     ["tone.yaml.rules[1].mesage: unknown key"]),
    # A regex that does not compile is reported at load, with its key path.
    ("tone.yaml", "'\\bwhatever\\s*[.!]'", "'\\bwhatever(['", ["tone.yaml.rules[", "raw_regex[0]", "does not compile"]),
    # A look-around needs a backtracking engine; rules run on RE2 (linear time), so it is refused at load.
    ("tone.yaml", "'\\bwhatever\\s*[.!]'", "'(?<!not )whatever'", ["raw_regex[0]: regular expression cannot be used"]),
    # A misspelt key in concepts.yaml names the concept.
    ("concepts.yaml", "    scope: question\n", "    scopes: question\n",
     ["concepts.yaml.concepts.next-steps.scopes: unknown key"]),
    # The guard's thresholds are typed settings: a share is between 0 and 1, a misspelt one is unknown.
    ("english.yaml", "  min_function_share: 0.2 ", "  min_function_share: 2 ",
     ["english.yaml.guard.min_function_share: must be between 0 and 1, got 2"]),
    ("english.yaml", "  max_repeats: 1 ", "  max_repeat: 1 ",
     ["english.yaml.guard.max_repeats: missing required key", "english.yaml.guard.max_repeat: unknown key"]),
    # A word class's examples are checked at load: a word put in the wrong list names itself and the class.
    ("english.yaml", "      ok: [was, had,", "      ok: [built, was, had,",
     ["word_classes.done.examples.ok: 'built' is in @done"]),
    ("english.yaml", "    tags: [VBD, VBN]", "    tags: [VBD, PAST]", ["english.yaml.word_classes.done.tags[1]"]),
], ids=["tone-unknown-key", "tone-bad-regex", "tone-look-around", "lexicon-unknown-key", "guard-share",
        "guard-unknown-key", "word-class-example", "word-class-tag"])
def test_loader_names_file_and_key(rules_copy, file, old, new, expected):
    """Each bad edit is refused at load, and the error names the file and the key path."""
    _edit(rules_copy / file, old, new)
    error = _load_error(rules_copy)
    for words in expected:
        assert words in error


def test_loader_rejects_bad_scope_and_bad_phrase(rules_copy):
    """A scope outside the list and an unbalanced phrase are both reported, together."""
    _edit(rules_copy / "concepts.yaml", "    scope: question\n", "    scope: paragraph\n")
    _edit(rules_copy / "concepts.yaml", "      - interested in\n", "      - interested {in\n")
    error = _load_error(rules_copy)
    assert "concepts.next-steps.scope: must be one of" in error
    assert "concepts.interest.phrases[0]" in error and "unbalanced" in error


def test_loader_rejects_duplicate_keys(rules_copy):
    """YAML would silently keep the last of two equal keys; the loader refuses instead."""
    _edit(rules_copy / "concepts.yaml", "concepts:\n", "concepts:\n  fit-question:\n    phrases: [fit]\n")
    error = _load_error(rules_copy)
    assert "concepts.yaml" in error and "duplicate key 'fit-question'" in error


def test_loader_reports_yaml_booleans_in_word_lists(rules_copy):
    """An unquoted `no` in a word list is a YAML boolean, not a word, and is reported."""
    _edit(rules_copy / "english.yaml", '[not, "no", never', "[not, no, never")
    error = _load_error(rules_copy)
    assert "english.yaml.negation.cues[1]" in error


def test_loader_reports_missing_file(rules_copy):
    """A missing rules file is named."""
    (rules_copy / "tone.yaml").unlink()
    assert "tone.yaml: cannot be read" in _load_error(rules_copy)


def test_loader_rejects_duplicate_rule_ids(rules_copy):
    """Two tone rules with one id would make feedback ambiguous."""
    _edit(rules_copy / "tone.yaml", "  - id: hurry\n", "  - id: other-offers\n")
    assert "duplicate id 'other-offers'" in _load_error(rules_copy)


def test_version_tracks_the_rules_files(rules_copy):
    """Editing a rules file changes the digest that goes into the grader version."""
    before = text.rules_digest(rules_copy)
    _edit(rules_copy / "tone.yaml", "Writing in capitals", "Writing in CAPITALS")
    assert text.rules_digest(rules_copy) != before
    assert text.TextGrader.version.endswith(RULES.digest)


# ---- the stored word forms (graders/rules/forms.json.gz) -------------------------------------------------------

REPO = Path(__file__).resolve().parents[1]


def test_the_stored_word_forms_are_what_lemminflect_gives_for_the_shipped_rules():
    """The file holds exactly what the shipped rules and course need; rerun the command in the message if not."""
    done = subprocess.run([sys.executable, "-m", "course.forms"], cwd=REPO,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_site_worker_grades_without_loading_the_lexicon_tables(tmp_path):
    """A production app compiles the course and grades (typos, @done, a negating prefix) from the stored sets alone."""
    script = (
        "import sys\n"
        "from web import create_app\n"
        "import graders\n"
        f"app = create_app({{'DATABASE_URL': 'sqlite:///{tmp_path / 'x.db'}', 'SECRET_KEY': 'k'}})\n"
        "ex = app.extensions['course'].exercises['address-a-concern']\n"
        "answer = ('Thats a fair point, I havent usd Tableau and I was unconvinced by it. I moved from MATLAB to '\n"
        "          'Python last year. I will do the free course this week.')\n"
        "result = graders.grade(ex.type, ex.spec, answer, graders.Context(pass_threshold=ex.pass_threshold))\n"
        "print(result.score, 'lemminflect' in sys.modules)\n"
    )
    env = {**os.environ, "APP_ENV": "production", "PYTHONPATH": str(REPO)}
    env.pop("COURSE_DIR", None)
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    score, loaded = done.stdout.split()
    assert float(score) > 0 and loaded == "False"


def test_a_word_the_file_lacks_is_inflected_from_the_tables():
    """A phrase word no shipped rule uses still gets its inflections (lemminflect is loaded for it)."""
    assert "flabbergast" not in lexicon.stored()["inflections"]
    assert {"flabbergast", "flabbergasts", "flabbergasted"} <= lexicon.inflections("flabbergast")
