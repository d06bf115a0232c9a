"""Choice graders: `single_choice` (exactly one right option) and `multiple_choice` (pick every right one).

Spec shape (both types):

    options:
      - {id: a, text: "...", correct: true, feedback: "why this is right"}
      - {id: b, text: "...", correct: false, feedback: "why this is wrong"}
    shuffle: true            # optional; false keeps the authored order on screen

multiple_choice scoring rule: score = max(0, (right options picked - wrong options picked) / right options).
Guessing every option therefore earns nothing unless the wrong options are few, and leaving out a right
option costs exactly its share.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from graders.base import Check, Context, Grader, InvalidAnswer, Result, SpecIssue, register
from graders.schema import SpecModel, compile_model, listed, unique_ids
from graders.structured import EntryModel, check_id, decode_json, entries_field, entry_ids, finish, shuffled


@dataclass(frozen=True)
class Option:
    """One answer option with its verdict and feedback."""

    id: str
    text: str
    correct: bool
    feedback: str


@dataclass(frozen=True)
class ChoiceSpec:
    """A compiled choice spec: options in authored order and whether to shuffle them."""

    options: tuple[Option, ...]
    shuffle: bool

    def option(self, ident: str) -> Option:
        """Return the option with this id (the id is known to exist)."""
        return next(o for o in self.options if o.id == ident)

    @property
    def ids(self) -> tuple[str, ...]:
        """Option ids in authored order."""
        return tuple(o.id for o in self.options)


class OptionModel(EntryModel):
    """One option as written: its verdict and the feedback shown for it."""

    correct: bool
    feedback: str = ""


class ChoiceModel(SpecModel):
    """The `spec:` of a choice exercise (the two types differ only in how many options may be right)."""

    single: ClassVar[bool]
    options: list[OptionModel] = entries_field()
    shuffle: bool = True

    def problems(self, path: str) -> list[SpecIssue]:
        """Ids unique; single_choice needs exactly one right option, multiple_choice at least one."""
        issues: list[SpecIssue] = []
        unique_ids(entry_ids(f"{path}.options", self.options), issues)
        options = listed(self.options)
        right = [o for _, o in options if o.correct]
        if len(options) >= 2:
            if self.single and len(right) != 1:
                issues.append(SpecIssue(f"{path}.options", f"single_choice needs exactly one correct option, "
                                                           f"found {len(right)}"))
            if not self.single and not right:
                issues.append(SpecIssue(f"{path}.options", "multiple_choice needs at least one correct option"))
        return issues


class SingleChoiceSpec(ChoiceModel):
    """The `spec:` of a single_choice exercise."""

    single = True


class MultipleChoiceSpec(ChoiceModel):
    """The `spec:` of a multiple_choice exercise."""

    single = False


class ChoiceGrader(Grader):
    """Shared spec, learner view and answer key of the two choice types."""

    spec_model: ClassVar[type[ChoiceModel]]

    def compile(self, spec: Mapping[str, Any]) -> ChoiceSpec:
        """Validate a choice spec; single_choice needs exactly one right option, multiple_choice at least one."""
        m = compile_model(self.spec_model, spec)
        options = tuple(Option(o.id, o.text, o.correct, o.feedback) for o in m.options)
        return ChoiceSpec(options=options, shuffle=m.shuffle)

    def present(self, compiled: ChoiceSpec, seed: int) -> dict[str, Any]:
        """The options as `{id, text}`, shuffled by seed unless the spec says not to; no verdicts."""
        options = [{"id": o.id, "text": o.text} for o in compiled.options]
        if compiled.shuffle:
            options = shuffled(options, seed)
        return {"type": self.type_name, "options": options}

    def answer_key(self, compiled: ChoiceSpec) -> dict[str, Any]:
        """Every option with its verdict and feedback, in authored order."""
        return {
            "correct": [o.id for o in compiled.options if o.correct],
            "options": [{"id": o.id, "text": o.text, "correct": o.correct, "feedback": o.feedback}
                        for o in compiled.options],
        }


@register
class SingleChoiceGrader(ChoiceGrader):
    """Exactly one option is right; the learner's pick gets that option's feedback."""

    type_name = "single_choice"
    version = "1"
    spec_model = SingleChoiceSpec

    def parse(self, compiled: ChoiceSpec, raw: Any) -> str:
        """Accept an option id, or a JSON string holding one."""
        value = decode_json(raw)
        if isinstance(value, list | tuple):
            raise InvalidAnswer("Pick exactly one option (the answer was a list).")
        ident = check_id(value, "The chosen option")
        if ident not in compiled.ids:
            raise InvalidAnswer(f"Unknown option {ident!r}; choose one of: {', '.join(compiled.ids)}.")
        return ident

    def grade(self, compiled: ChoiceSpec, answer: str, ctx: Context) -> Result:
        """Score 1 for the right option, 0 otherwise, with the chosen option's feedback."""
        chosen = compiled.option(answer)
        default = "That's the best answer." if chosen.correct else "That's not the best answer."
        check = Check(id=f"option:{chosen.id}", passed=chosen.correct, weight=1.0,
                      message=chosen.feedback or default, earned=1.0 if chosen.correct else 0.0)
        return finish(1.0 if chosen.correct else 0.0, [check], ctx, self.version)


@register
class MultipleChoiceGrader(ChoiceGrader):
    """Pick every right option; wrong picks cancel right ones (see the module docstring for the rule)."""

    type_name = "multiple_choice"
    version = "1"
    spec_model = MultipleChoiceSpec

    def parse(self, compiled: ChoiceSpec, raw: Any) -> tuple[str, ...]:
        """Accept a list of option ids, a JSON list, or a comma-separated string; refuse unknown or repeated ids."""
        value = decode_json(raw)
        if isinstance(value, str):
            value = [part for part in value.split(",") if part.strip()]
        if not isinstance(value, list | tuple):
            raise InvalidAnswer("The answer must be a list of option ids.")
        picked: list[str] = []
        for i, item in enumerate(value, start=1):
            ident = check_id(item, f"Choice {i}")
            if ident not in compiled.ids:
                raise InvalidAnswer(f"Unknown option {ident!r}; options are: {', '.join(compiled.ids)}.")
            if ident in picked:
                raise InvalidAnswer(f"Option {ident!r} is picked twice.")
            picked.append(ident)
        if not picked:
            raise InvalidAnswer("Pick at least one option.")
        return tuple(picked)

    def grade(self, compiled: ChoiceSpec, answer: tuple[str, ...], ctx: Context) -> Result:
        """One check per option; score = max(0, (right picked - wrong picked) / right options)."""
        picked = set(answer)
        n_right = sum(1 for o in compiled.options if o.correct)
        right_picked = sum(1 for o in compiled.options if o.correct and o.id in picked)
        wrong_picked = sum(1 for o in compiled.options if not o.correct and o.id in picked)
        checks = []
        for o in compiled.options:
            chosen = o.id in picked
            ok = chosen == o.correct
            if o.correct:
                prefix = "Right to pick this." if chosen else "You missed this one."
            else:
                prefix = "This one should not be picked." if chosen else "Right to leave this out."
            message = f"{prefix} {o.feedback}".strip() if (chosen or o.correct) else prefix
            checks.append(Check(id=f"option:{o.id}", passed=ok, weight=1.0, message=f"{o.text} - {message}",
                                earned=1.0 if ok else 0.0))
        score = max(0.0, (right_picked - wrong_picked) / n_right)
        return finish(score, checks, ctx, self.version)
