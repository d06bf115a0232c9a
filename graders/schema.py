"""The one schema library: pydantic models for specs and course files, and pydantic's errors in the project's words.

Every model derives from `SpecModel` (unknown keys refused, strict types, frozen). `validate(Model, raw, prefix)`
returns the model and every issue at once, each as a `SpecIssue` whose key is a path such as
`spec.options[2].correct`; when the data is invalid it still returns a best-effort salvage (`salvage`), so checks
across keys (duplicate ids, dangling links) run and are reported in the same pass. `compile_model` does that,
adds the model's own `problems()` and raises `SpecError`, which is what a grader's `compile` needs.

All wording lives in `MESSAGES`, keyed by pydantic's error type (plus a few of our own, raised with `fail`).
"""

from __future__ import annotations

import functools
import re
import types
import typing
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Annotated, Any, TypeVar, Union

import annotated_types
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, TypeAdapter, ValidationError
from pydantic_core import PydanticCustomError

from graders.base import SpecError, SpecIssue

M = TypeVar("M", bound=BaseModel)

# pydantic's error type -> the project's plain words. `{got}` names the value's kind the way an author would,
# `{input}`/`{input_repr}` show the value, `{known}` lists a mapping's keys; other fields come from the error's ctx.
MESSAGES: dict[str, str] = {
    "missing": "missing required key",
    "extra_forbidden": "unknown key (known keys: {known})",
    "string_type": "expected text, got {got}",
    "bool_type": "expected true/false, got {got}",
    "int_type": "expected a whole number, got {got}",
    "float_type": "expected a number, got {got}",
    "list_type": "expected a list, got {got}",
    "dict_type": "expected a mapping of keys, got {got}",
    "model_type": "expected a mapping of keys, got {got}",
    "model_attributes_type": "expected a mapping of keys, got {got}",
    "too_short": "needs at least {min_length} entries, got {actual_length}",
    "too_long": "has {actual_length} entries; at most {max_length} are allowed",
    "greater_than_equal": "must be {ge} or more, got {input}",
    "less_than_equal": "must be {le} or less, got {input}",
    "literal_error": "must be {expected}, got {input_repr}",
    # Our own types, below: a number with both bounds reads as a range, whichever bound it broke.
    "between": "must be between {ge} and {le}, got {input}",
    "number_between_type": "expected a number between {ge} and {le}, got {got}",
    "blank": "must not be empty",
    "spec_id": "{input_repr} is not a valid id: use up to {max_chars} letters, digits, hyphens or underscores, "
               "starting with a letter or digit",
    "slug": "{input_repr} is not a valid id (use lowercase letters, digits and hyphens, e.g. 'thank-you-note')",
    # A message that depends on more than one value: the validator writes it whole.
    "problem": "{message}",
}
# Error types the table has no words for keep pydantic's own message, so nothing is ever swallowed.

# Ids in specs are short slugs: answers arrive as "a,b,c" lists, form field names and {{blank}} markers.
MAX_ID_CHARS = 80
SPEC_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")
# Course ids appear in URLs and file names: lowercase words joined by single hyphens.
SLUG_RE = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
_LAST_KEY_RE = re.compile(r"(?:\.[^.\[]+|\[\d+\])$")


# --------------------------------------------------------------------------------------------------- key paths


def child_key(prefix: str, name: str | int) -> str:
    """Return the key path of a mapping key or list index below `prefix`."""
    if isinstance(name, int):
        return f"{prefix}[{name}]"
    return f"{prefix}.{name}" if prefix else name


def parent_key(key: str) -> str:
    """Return the parent of a dotted key path: `a.b[2].c` -> `a.b[2]` -> `a.b` -> `a` -> ``."""
    parent = _LAST_KEY_RE.sub("", key)
    return "" if parent == key else parent


def key_path(prefix: str, loc: Sequence[str | int]) -> str:
    """Turn a pydantic `loc` into the project's key path below `prefix`: ('items', 2, 'id') -> `spec.items[2].id`."""
    key = prefix
    for part in loc:
        # pydantic marks an error in a mapping's key itself with a trailing '[key]'; the key path is the same.
        if part != "[key]":
            key = child_key(key, part)
    return key


# --------------------------------------------------------------------------------------------------- the models


class SpecModel(BaseModel):
    """Base of every schema model: unknown keys are refused, types are strict (YAML `yes` is no text), frozen."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    def problems(self, path: str) -> list[SpecIssue]:
        """Checks across keys (ids unique, links resolve); may run on a salvage, so any field may be None."""
        return []


def fail(error_type: str, **ctx: Any) -> PydanticCustomError:
    """Return a pydantic error of one of our own types, worded by MESSAGES (raise it inside a validator)."""
    return PydanticCustomError(error_type, MESSAGES[error_type], {**ctx, **_shown(ctx.get("input"))})


def _not_blank(value: str) -> str:
    """Refuse text that is empty or only spaces."""
    if not value.strip():
        raise fail("blank")
    return value


def _spec_id(value: str) -> str:
    """Accept an id a learner's answer can name: a short slug of letters, digits, hyphens and underscores."""
    _not_blank(value)
    if not SPEC_ID_RE.fullmatch(value) or len(value) > MAX_ID_CHARS:
        raise fail("spec_id", input=value, max_chars=MAX_ID_CHARS)
    return value


def _slug(value: str) -> str:
    """Accept a course id: lowercase letters, digits and single hyphens."""
    _not_blank(value)
    if not SLUG_RE.fullmatch(value):
        raise fail("slug", input=value)
    return value


# Non-empty text. The JSON Schema pattern says the same to an editor: at least one character that is not a space.
Text = Annotated[str, AfterValidator(_not_blank), Field(json_schema_extra={"pattern": r"\S"})]
SpecId = Annotated[str, AfterValidator(_spec_id),
                   Field(json_schema_extra={"pattern": r"^[A-Za-z0-9][A-Za-z0-9_-]{0,79}$"})]
Slug = Annotated[str, AfterValidator(_slug), Field(json_schema_extra={"pattern": r"^[a-z0-9]+(?:-[a-z0-9]+)*$"})]


# --------------------------------------------------------------------------------------------------- errors -> words


def kind(value: Any) -> str:
    """Name a YAML value's type the way an author would."""
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, date | datetime):
        return f"the date {value}"
    return type(value).__name__


def _shown(value: Any) -> dict[str, str]:
    """The ways a message may show a value."""
    return {"got": kind(value), "input": str(value), "input_repr": repr(value)}


def issues_from(exc: ValidationError, model: type[BaseModel], prefix: str = "") -> list[SpecIssue]:
    """Turn every error of a ValidationError into a SpecIssue with its key path and the project's wording."""
    return [SpecIssue(key_path(prefix, err["loc"]), message(err, model)) for err in exc.errors(include_url=False)]


def message(err: Mapping[str, Any], model: type[BaseModel]) -> str:
    """Word one pydantic error through MESSAGES (falling back to pydantic's own text for an unlisted type)."""
    error_type, loc, ctx = err["type"], tuple(err["loc"]), dict(err.get("ctx") or {})
    values = {**ctx, **_shown(err.get("input"))}
    if error_type == "extra_forbidden":
        values["known"] = ", ".join(_known_keys(model, loc[:-1]))
    elif error_type in ("greater_than_equal", "less_than_equal", "int_type", "float_type"):
        bounds = _bounds(model, loc)
        if bounds:
            values.update(ge=bounds[0], le=bounds[1])
            error_type = "between" if error_type.endswith("_equal") else "number_between_type"
    template = MESSAGES.get(error_type)
    if template is None:
        return str(err["msg"])
    try:
        return template.format(**values)
    except (KeyError, IndexError):
        return str(err["msg"])


def _unwrap(tp: Any) -> Any:
    """Strip Annotated and `| None` from a type."""
    while True:
        if typing.get_origin(tp) is Annotated:
            tp = typing.get_args(tp)[0]
            continue
        if typing.get_origin(tp) in (Union, types.UnionType):
            args = [a for a in typing.get_args(tp) if a is not type(None)]
            if len(args) == 1:
                tp = args[0]
                continue
        return tp


def _field(model: type[BaseModel], name: str) -> tuple[str, Any] | None:
    """Find a model's field by its key in the data (its alias, else its name)."""
    for field_name, info in model.model_fields.items():
        if (info.alias or field_name) == name:
            return field_name, info
    return None


def _type_at(model: type[BaseModel], loc: Sequence[str | int]) -> tuple[Any, Any]:
    """Walk a model's types along a loc; return (the type there, its FieldInfo if it is a field) or (None, None)."""
    tp, info = model, None
    for part in loc:
        tp = _unwrap(tp)
        origin = typing.get_origin(tp)
        if isinstance(tp, type) and issubclass(tp, BaseModel) and isinstance(part, str):
            found = _field(tp, part)
            if found is None:
                return None, None
            info = found[1]
            tp = info.annotation
        elif origin in (list, tuple) and isinstance(part, int):
            tp, info = typing.get_args(tp)[0], None
        elif origin in (dict, Mapping) and isinstance(part, str):
            tp, info = typing.get_args(tp)[1], None
        else:
            return None, None
    return _unwrap(tp), info


def _known_keys(model: type[BaseModel], loc: Sequence[str | int]) -> list[str]:
    """The keys the mapping at `loc` may have, in the model's order."""
    tp, _ = _type_at(model, loc)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return [info.alias or name for name, info in tp.model_fields.items()]
    return []


def _bounds(model: type[BaseModel], loc: Sequence[str | int]) -> tuple[Any, Any] | None:
    """The (ge, le) bounds of the number field at `loc` when it has both, else None."""
    _, info = _type_at(model, loc)
    if info is None:
        return None
    ge = next((m.ge for m in info.metadata if isinstance(m, annotated_types.Ge)), None)
    le = next((m.le for m in info.metadata if isinstance(m, annotated_types.Le)), None)
    return None if ge is None or le is None else (ge, le)


# --------------------------------------------------------------------------------------------------- validating


def validate(model: type[M], raw: Any, prefix: str = "") -> tuple[M | None, list[SpecIssue]]:
    """Validate raw data: (the model, []) when valid; else (a salvage for checks across keys, or None; every issue)."""
    try:
        return model.model_validate(raw), []
    except ValidationError as exc:
        return salvage(model, raw), issues_from(exc, model, prefix)


def compile_model(model: type[M], raw: Any, prefix: str = "spec") -> M:
    """Validate a spec and run its `problems()`; raise SpecError with every issue, else return the model."""
    spec, issues = validate(model, raw, prefix)
    if spec is not None and isinstance(spec, SpecModel):
        issues += spec.problems(prefix)
    raise_if(issues)
    return spec


def salvage(model: type[M], raw: Any) -> M | None:
    """Build a model from invalid data, keeping each field that is valid on its own and None for the others.

    Nested models and lists of them are salvaged entry by entry, keeping positions, so a check across keys can
    still name `items[2].id`. The result is never graded: only `problems()` reads it, so every issue is found in
    one pass instead of one layer at a time.
    """
    if not isinstance(raw, Mapping):
        return None
    values: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        key = info.alias or name
        if key not in raw:
            values[name] = None if info.is_required() else info.get_default(call_default_factory=True)
        else:
            values[name] = _salvage_value(model, name, info.annotation, raw[key])
    return model.model_construct(**values)


def _salvage_value(model: type[BaseModel], name: str, annotation: Any, value: Any) -> Any:
    """Salvage one field's value: nested models and their lists by parts, anything else whole or not at all."""
    tp = _unwrap(annotation)
    origin = typing.get_origin(tp)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return salvage(tp, value)
    if origin in (list, tuple) and isinstance(value, list):
        item = _unwrap(typing.get_args(tp)[0])
        if isinstance(item, type) and issubclass(item, BaseModel):
            return [salvage(item, v) for v in value]
    if origin in (dict, Mapping) and isinstance(value, Mapping):
        item = _unwrap(typing.get_args(tp)[1])
        if isinstance(item, type) and issubclass(item, BaseModel):
            return {k: salvage(item, v) for k, v in value.items() if isinstance(k, str)}
    try:
        return _field_adapter(model, name).validate_python(value, strict=True)
    except ValidationError:
        return None


@functools.cache
def _field_adapter(model: type[BaseModel], name: str) -> TypeAdapter[Any]:
    """A validator for one field on its own, with its constraints (cached: salvaging is rare, building is slow)."""
    info = model.model_fields[name]
    tp = Annotated[(info.annotation, *info.metadata)] if info.metadata else info.annotation
    return TypeAdapter(tp)


# --------------------------------------------------------------------------------------------------- shared checks


def unique_ids(items: list[tuple[str, str]], issues: list[SpecIssue]) -> None:
    """Record an issue for every duplicate id; `items` holds (key path, id) pairs."""
    seen: dict[str, str] = {}
    for path, ident in items:
        if ident in seen:
            issues.append(SpecIssue(path, f"duplicate id {ident!r} (first used at {seen[ident]})"))
        else:
            seen[ident] = path


def raise_if(issues: list[SpecIssue]) -> None:
    """Raise SpecError carrying every issue, if there are any."""
    if issues:
        raise SpecError(issues)

