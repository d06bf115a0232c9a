"""The web half of an exercise type: the contract every type module fills in, the Draft, and the registry.

A type reads its form into a `Draft` (the answer as the form shows it, in token space), a draft into the grader's
answer, and a stored answer back into a draft or into words for the feedback page. Like a grader it is pure: the
view (the learner view with tokens), the posted fields or a stored answer in, plain values out; no request, no
database, no session. Views call it; it never calls them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, ClassVar

from markupsafe import Markup
from werkzeug.datastructures import MultiDict

import graders


@dataclass
class Draft:
    """The learner's current (unsent or re-shown) answer, in the shape the exercise templates use."""

    choice: str | None = None
    choices: list[str] = field(default_factory=list)
    pairs: dict[str, str] = field(default_factory=dict)
    text: str = ""
    order: list[str] = field(default_factory=list)
    left_out: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class FormStep:
    """One thing a learner does to enter an answer, named by the words they read (tests fill forms with these).

    `action` is "check" (a radio button or checkbox labelled `label`, inside the group `group` when given),
    "select" (the option `value` of the list labelled `label`), "fill" (type `value` into the field labelled
    `label`) or "place" (put the card reading `label` next in the order).
    """

    action: str
    label: str
    value: str = ""
    group: str | None = None


def ids(view: dict[str, Any], key: str) -> list[str]:
    """Return the ids of a list of {id, text} entries in a learner view."""
    return [entry["id"] for entry in view.get(key, [])]


def texts(view: dict[str, Any], key: str) -> dict[str, str]:
    """Return {id: text} for a list of {id, text} entries in a learner view."""
    return {entry["id"]: entry["text"] for entry in view.get(key, [])}


def as_posted(answer: Any) -> list[tuple[str, str]]:
    """Return an answer no type recognises as one row, as it was stored."""
    return [("Your answer", answer if isinstance(answer, str) else json.dumps(answer, ensure_ascii=False))]


class ExerciseType:
    """The web half of one exercise type; subclasses set the class attributes and override what differs.

    The defaults suit a type whose answer is one string posted as `answer` and whose ids sit in `id_lists`.
    """

    # The grader type this is the form of (graders.REGISTRY has the same name).
    name: ClassVar[str] = ""
    # What the learner is told when they send the form with nothing filled in.
    empty_message: ClassVar[str] = ""
    # A file in web/static that enhances the form (the form must work without it), or None.
    script: ClassVar[str | None] = None
    # The posted fields that hold an answer, by exact name and by prefix: nothing else posted is read.
    field_names: ClassVar[tuple[str, ...]] = ("answer",)
    field_prefixes: ClassVar[tuple[str, ...]] = ()
    # The learner-view keys holding {id, text} entries; OptionTokens replaces those ids in the form.
    id_lists: ClassVar[tuple[str, ...]] = ()
    # The Python shape of an answer the form can express (a sample of another shape cannot be typed in).
    answer_shape: ClassVar[type] = str

    @property
    def template(self) -> str:
        """Return the form partial, included by exercises/show.html."""
        return f"exercises/types/{self.name}.html"

    def initial_draft(self, view: dict[str, Any]) -> Draft:
        """Return the empty answer a fresh form starts from."""
        return Draft()

    def draft_from_form(self, view: dict[str, Any], form: MultiDict[str, str]) -> Draft:
        """Read the posted answer fields into a Draft, ignoring everything else and values that are no known id."""
        raise NotImplementedError

    def answer_from_draft(self, draft: Draft) -> Any:
        """Return the answer in the shape the grader takes, or None when nothing was filled in."""
        raise NotImplementedError

    def draft_from_answer(self, view: dict[str, Any], answer: Any) -> Draft:
        """Turn a stored answer back into a Draft (to prefill a retry); unexpected shapes give the initial draft."""
        raise NotImplementedError

    def move(self, draft: Draft, move: str) -> tuple[Draft, str] | None:
        """Apply a no-JavaScript rearranging button (`move`); return the new draft and the button to focus.

        None (the default) means the type has no such buttons and the post is an answer.
        """
        return None

    def rename(self, answer: Any, names: dict[str, str]) -> Any:
        """Rename the ids in an answer (ids to tokens or back), dropping names the map does not know."""
        if answer is None:
            return None
        if isinstance(answer, str):
            return names.get(answer)
        if isinstance(answer, list):
            return [names[a] for a in answer if isinstance(a, str) and a in names]
        if isinstance(answer, dict):
            return {names[k]: names[v] for k, v in answer.items() if k in names and isinstance(v, str) and v in names}
        return answer

    def describe(self, view: dict[str, Any], answer: Any) -> list[tuple[str, str]]:
        """Return a stored answer as readable (label, value) rows for the feedback page."""
        return as_posted(answer)

    def highlight(self, answer: Any, result: graders.Result) -> Markup | None:
        """Return the stored answer marked up with what the checks found, or None to show `describe`'s rows."""
        return None

    def form_fields(self, view: dict[str, Any], answer: Any) -> dict[str, Any]:
        """Return the fields a browser posts for `answer`, written in the names `view` uses (tokens in a form)."""
        return {"answer": answer}

    def form_steps(self, view: dict[str, Any], answer: Any) -> list[FormStep]:
        """Return what a learner does to enter `answer` (written with the view's ids), by the texts they read."""
        raise NotImplementedError

    def expresses(self, answer: Any) -> bool:
        """Say whether the form can express `answer` (course samples may be written in other shapes)."""
        return isinstance(answer, self.answer_shape)


class PairsType(ExerciseType):
    """A type that pairs each item of one list with one entry of another (matching, categorize)."""

    # The posted field of an item is `<prefix><item id>`; its value is a target id.
    prefix: ClassVar[str] = ""
    # The spec's two lists, as the grader names them (its spec model says them once, for both halves).
    items_key: ClassVar[str] = ""
    targets_key: ClassVar[str] = ""
    field_names = ()
    answer_shape = dict

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Take the two lists' keys from the grader; derive the answer fields and the hidden id lists from them."""
        super().__init_subclass__(**kwargs)
        grader = graders.REGISTRY.get(cls.name)
        cls.items_key, cls.targets_key = grader.items_key, grader.targets_key
        cls.field_prefixes = (cls.prefix,)
        cls.id_lists = (cls.items_key, cls.targets_key)

    def form_step(self, item: str, target: str) -> FormStep:
        """Return the step that gives the item with this text the target with this text."""
        raise NotImplementedError

    def form_steps(self, view: dict[str, Any], answer: Any) -> list[FormStep]:
        """One step per paired item, from the texts the learner reads."""
        items, targets = texts(view, self.items_key), texts(view, self.targets_key)
        return [self.form_step(items[k], targets[v]) for k, v in answer.items()]

    def draft_from_form(self, view: dict[str, Any], form: MultiDict[str, str]) -> Draft:
        """Return the posted `<prefix><item>` fields whose value is one of the targets."""
        targets = ids(view, self.targets_key)
        keys = ids(view, self.items_key)
        return Draft(pairs={k: form[f"{self.prefix}{k}"] for k in keys if form.get(f"{self.prefix}{k}") in targets})

    def answer_from_draft(self, draft: Draft) -> Any:
        """Return {item: target}, or None when no item has one."""
        return dict(draft.pairs) or None

    def draft_from_answer(self, view: dict[str, Any], answer: Any) -> Draft:
        """Return the stored pairs as a draft."""
        if isinstance(answer, dict):
            return Draft(pairs={str(k): str(v) for k, v in answer.items()})
        return self.initial_draft(view)

    def describe(self, view: dict[str, Any], answer: Any) -> list[tuple[str, str]]:
        """Return one row per item: its text and its target's text."""
        if not isinstance(answer, dict):
            return as_posted(answer)
        names = texts(view, self.items_key) | texts(view, self.targets_key)
        return [(names.get(k, str(k)), names.get(v, str(v))) for k, v in answer.items()]

    def form_fields(self, view: dict[str, Any], answer: Any) -> dict[str, Any]:
        """Return one `<prefix><item>` field per paired item."""
        return {f"{self.prefix}{k}": v for k, v in answer.items()}


REGISTRY: dict[str, ExerciseType] = {}


def register(type_cls: type[ExerciseType]) -> type[ExerciseType]:
    """Class decorator: register one exercise type's web half under its `name`."""
    name = type_cls.name
    if not name:
        raise ValueError(f"{type_cls.__name__} has no name")
    if name in REGISTRY:
        raise ValueError(f"exercise type {name!r} registered twice")
    REGISTRY[name] = type_cls()
    return type_cls


def get(name: str) -> ExerciseType:
    """Return the web half of an exercise type (a KeyError names a type nobody registered)."""
    return REGISTRY[name]
