"""The `text` grader: a free-text answer judged against a rubric of rule checks, each explained with its evidence.

The package reads an answer in steps, one module each:

- `analysis`: the rules view of the answer, its words and sentences, questions, requests and negation;
- `phrases`: the phrase syntax, compiled word-slot patterns, and the index that finds them in one pass;
- `rules`: graders/rules/*.yaml (language data, shared concept lexicons, tone rules), loaded once;
- `matcher`: a spec's concepts as atoms, and their hits in an answer;
- `checks`: the check kinds (require, forbid, tone, words, questions), one class each, in a registry by name;
- `guard`: the real-sentences guard, its heuristics as named functions and its thresholds as settings;
- `grader`: compiling a spec, grading an answer, review reasons, and the registered `TextGrader`.
"""

from graders.text.checks import CheckKind, CheckKinds, CheckSpec, TextSpec
from graders.text.grader import KINDS, REVIEW_REASONS, TOO_SLOW, TextGrader, compile_text_spec, grade_text
from graders.text.guard import GUARD_ID, NOT_CREDITED
from graders.text.matcher import Hit, probe, probe_tone
from graders.text.rules import RULE_FILES, RULES_DIR, Rules, ToneRule, default_rules, load_rules, rules_digest

__all__ = [
    "GUARD_ID",
    "KINDS",
    "NOT_CREDITED",
    "REVIEW_REASONS",
    "RULES_DIR",
    "RULE_FILES",
    "TOO_SLOW",
    "CheckKind",
    "CheckKinds",
    "CheckSpec",
    "Hit",
    "Rules",
    "TextGrader",
    "TextSpec",
    "ToneRule",
    "compile_text_spec",
    "default_rules",
    "grade_text",
    "load_rules",
    "probe",
    "probe_tone",
    "rules_digest",
]
