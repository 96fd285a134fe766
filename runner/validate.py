"""JSON Schema validation with messages that name the key, the value, what was expected, and where it came from."""

from __future__ import annotations

import difflib
import json
import math
from collections.abc import Callable, Iterable
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, validators
from jsonschema.exceptions import ValidationError as SchemaError

from runner.errors import DefinitionError, ValidationError

# (key path) -> "from override 'params.a=1'" or None when unknown.
Where = Callable[[tuple[str | int, ...]], str | None]
# (an unknown key's path, its value) -> where it belongs ("did you mean params.C=10?"), or None.
Suggest = Callable[[tuple[str | int, ...], Any], str | None]
UNKNOWN_KEY = "unknown key"  # how a key the schema does not allow is reported
MAX_SHOWN = 20  # problems listed in one message; past that, how many more

# JSON Schema counts 2.0 as an integer and knows no NaN or infinity; Python does. A value a
# user wrote as 2.0 is not the 2 a `repeat` or an `int` param takes (range(2.0) fails), and
# NaN or infinity are no JSON numbers (the store could not keep them): both are refused.
_TYPES = Draft202012Validator.TYPE_CHECKER.redefine_many(
    {
        "integer": lambda _checker, value: isinstance(value, int) and not isinstance(value, bool),
        "number": lambda _checker, value: (
            isinstance(value, int | float)
            and not isinstance(value, bool)
            and (not isinstance(value, float) or math.isfinite(value))
        ),
    }
)
StrictValidator = validators.extend(Draft202012Validator, type_checker=_TYPES)

_TYPE_WORDS = {
    "integer": "an integer",
    "number": "a number",
    "string": "a string",
    "boolean": "a boolean (true or false)",
    "object": "a mapping",
    "array": "a list",
    "null": "null",
}


@cache
def builtin_schema(name: str) -> dict[str, Any]:
    """A schema shipped in runner.schemas (package data, not a path into a checkout)."""
    text = resources.files("runner.schemas").joinpath(name).read_text(encoding="utf-8")
    return dict(json.loads(text))


def schema_file(name: str, search: Iterable[Path]) -> dict[str, Any]:
    """A schema named by a workflow declaration: the project's schemas/ first, then runner's."""
    for folder in search:
        candidate = folder / name
        if candidate.is_file():
            return _read_schema(candidate)
    try:
        return builtin_schema(name)
    except FileNotFoundError:
        folders = ", ".join(str(f) for f in search) or "(no project schemas folder)"
        raise DefinitionError(
            f"params schema '{name}' not found in {folders} nor in runner's built-in schemas"
        ) from None


def _read_schema(path: Path) -> dict[str, Any]:
    try:
        return dict(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError) as exc:
        raise DefinitionError(f"params schema {path} cannot be read: {exc}") from exc


def compile_schema(schema: dict[str, Any], label: str) -> Draft202012Validator:
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        raise DefinitionError(f"{label} is not a valid JSON Schema: {exc.message}") from exc
    return StrictValidator(schema)


def check(
    instance: Any,
    validator: Draft202012Validator,
    *,
    what: str,
    prefix: tuple[str | int, ...] = (),
    where: Where | None = None,
    suggest: Suggest | None = None,
) -> None:
    """Raise one ValidationError listing every problem, or return quietly."""
    problems = problems_of(instance, validator, prefix=prefix, where=where, suggest=suggest)
    if problems:
        noun = "problem" if len(problems) == 1 else "problems"
        raise ValidationError(
            f"invalid {what} ({len(problems)} {noun}):", problems=bounded(problems)
        )


def bounded(problems: list[str]) -> list[str]:
    """The first MAX_SHOWN problems, then how many more: a message stays readable whatever
    the input (20,000 unknown keys are not 20,000 lines)."""
    if len(problems) <= MAX_SHOWN:
        return problems
    return [*problems[:MAX_SHOWN], f"... and {len(problems) - MAX_SHOWN:,} more"]


def problems_of(
    instance: Any,
    validator: Draft202012Validator,
    *,
    prefix: tuple[str | int, ...] = (),
    where: Where | None = None,
    suggest: Suggest | None = None,
) -> list[str]:
    if validator.is_valid(instance):  # the fast path, taken by nearly every run
        return []
    errors = sorted(validator.iter_errors(instance), key=lambda e: [str(p) for p in e.path])
    lines: list[str] = []
    for error in errors:
        lines.extend(describe(error, prefix, where, suggest).split("\n  - "))
    return lines


def dotted(path: Iterable[str | int]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def show(value: Any) -> str:
    text = repr(value) if isinstance(value, str) else json.dumps(value, default=repr)
    return text if len(text) <= 60 else text[:57] + "..."


def describe(
    error: SchemaError,
    prefix: tuple[str | int, ...],
    where: Where | None,
    suggest: Suggest | None = None,
) -> str:
    path = (*prefix, *error.absolute_path)
    schema = error.schema if isinstance(error.schema, dict) else {}
    kind = error.validator
    value = error.instance
    rule: Any = error.validator_value
    if kind == "additionalProperties" and isinstance(value, dict):
        known = list(schema.get("properties", {}))
        lines = []
        for key in sorted(set(value) - set(known)):
            key_path = (*path, key)
            moved = suggest(key_path, value[key]) if suggest else None
            hint = [] if moved else difflib.get_close_matches(str(key), known, n=1, cutoff=0.6)
            text = f"{dotted(key_path)}: {UNKNOWN_KEY}"
            text += f" ({moved})" if moved else ""
            text += f" (did you mean '{hint[0]}'?)" if hint else ""
            text += (
                f"; expected one of: {', '.join(known)}" if known and not (hint or moved) else ""
            )
            lines.append(_with_source(text, key_path, where))
        return "\n  - ".join(lines)
    if kind == "required":
        missing = _missing_key(error)
        key_path = (*path, missing)
        return f"{dotted(key_path)}: required, but no value was given (set it with {dotted(key_path)}=...)"
    head = f"{dotted(path)}: {show(value)}"
    if kind == "type":
        names = [rule] if isinstance(rule, str) else list(rule)
        text = f"{head} is not {' or '.join(_TYPE_WORDS.get(n, n) for n in names)}"
        if isinstance(value, float) and not math.isfinite(value):
            text += " (numbers must be finite)"
        elif isinstance(value, float) and "integer" in names:
            text += " (write it without a fraction)"
    elif kind == "minimum":
        text = f"{head} is below the minimum of {rule}"
    elif kind == "maximum":
        text = f"{head} is above the maximum of {rule}"
    elif kind == "exclusiveMinimum":
        text = f"{head} is not above {rule} (the exclusive minimum)"
    elif kind == "exclusiveMaximum":
        text = f"{head} is not below {rule} (the exclusive maximum)"
    elif kind == "enum":
        choices = ", ".join(show(c) for c in rule)
        text = f"{head} is not one of: {choices}"
    elif kind == "pattern":
        text = f"{head} does not match the pattern {rule}"
        if schema.get("description"):
            text += f" ({schema['description']})"
    elif kind in ("anyOf", "oneOf"):
        options = [_expected(s) for s in rule]
        text = f"{head} is not {' or '.join(o for o in options if o)}"
    else:
        text = f"{head}: {error.message}"
    if isinstance(value, str) and value.strip().lower() == "none":
        text += _null_hint(schema)
    return _with_source(text, path, where)


def _null_hint(schema: dict[str, Any]) -> str:
    """For the text None given where it is refused: Hydra and YAML spell None `null`."""
    if StrictValidator(schema).is_valid(None):
        return " (did you mean null? Hydra and YAML spell None as null)"
    return " (Hydra and YAML spell None as null, which this key does not take either)"


def _missing_key(error: SchemaError) -> str:
    # jsonschema's message is "'name' is a required property"; the key is the quoted part.
    message = error.message
    return message.split("'")[1] if message.count("'") >= 2 else message


def _expected(schema: Any) -> str:
    if not isinstance(schema, dict):
        return ""
    if "type" in schema:
        names = [schema["type"]] if isinstance(schema["type"], str) else schema["type"]
        return " or ".join(_TYPE_WORDS.get(n, n) for n in names)
    if "enum" in schema:
        return "one of " + ", ".join(show(c) for c in schema["enum"])
    return "a value of another shape"


def _with_source(text: str, path: tuple[str | int, ...], where: Where | None) -> str:
    source = where(path) if where else None
    return f"{text} (from {source})" if source else text


# Schemas whose object is valid exactly when each property is valid on its own: then a sweep
# point that changes a few keys of an already valid base needs only those keys checked.
_SIMPLE_KEYWORDS = {
    "$schema", "$id", "title", "description", "type", "properties", "required",
    "additionalProperties", "default", "examples",
}  # fmt: skip


class PointCheck:
    """Validates the params of many sweep points that differ from one base in a few keys.

    Full validation costs ~20 us a run; for a simple object schema and a valid base, checking
    just the swept keys against their own subschemas gives the same verdict for a fraction.
    Any point found invalid is validated in full by the caller, for the messages.
    """

    def __init__(self, validator: Draft202012Validator, base: dict[str, Any]) -> None:
        self.validator = validator
        schema = validator.schema if isinstance(validator.schema, dict) else {}
        self.simple = (
            schema.get("type") == "object"
            and set(schema) <= _SIMPLE_KEYWORDS
            and "$ref" not in json.dumps(schema)
            and validator.is_valid(base)
        )
        self._properties = schema.get("properties", {})
        self._extra = schema.get("additionalProperties", True)
        self._validators: dict[str, Callable[[Any], bool] | bool] = {}
        self._typed: set[Any] = set()  # the checks that are a type check alone

    def is_valid(self, params: dict[str, Any], swept: tuple[str, ...]) -> bool:
        """`swept`: the top-level keys the point changed (empty: a nested key changed)."""
        if not self.simple or not swept:
            return bool(self.validator.is_valid(params))
        return all(self.value_is_valid(key, params[key]) for key in swept)

    def value_is_valid(self, key: str, value: Any) -> bool:
        """Whether `value` is valid for the top-level `key` of a simple schema: then a sweep
        that changes only top-level keys is valid exactly when each axis value is, and a
        million-point sweep is checked one axis value at a time."""
        check = self._check(key)
        return check if isinstance(check, bool) else check(value)

    def values_are_valid(self, key: str, values: Iterable[Any]) -> bool:
        """Whether every one of an axis's values is valid for `key` (see value_is_valid).
        Where the key's subschema is a type alone, values of a type that tells them apart
        (int, bool, str, None: not float, which may be NaN) are checked once per type:
        range(0,1000000) is one check."""
        check = self._check(key)
        if isinstance(check, bool):
            return check
        if check in self._typed and isinstance(values, range):
            values = values[:1]  # all ints
        elif check in self._typed:
            seen: dict[type, Any] = {}
            rest = []
            for value in values:
                kind = type(value)
                if kind in _TYPED_ALIKE:
                    seen.setdefault(kind, value)
                else:
                    rest.append(value)
            values = [*seen.values(), *rest]
        return all(check(value) for value in values)

    def _check(self, key: str) -> Callable[[Any], bool] | bool:
        check = self._validators.get(key)
        if check is None:
            sub = self._properties.get(key, self._extra)
            check = self._validators[key] = _checker(sub)
            if _type_only(sub):
                self._typed.add(check)
        return check


# Types whose values a `type` keyword tells apart by their Python type alone.
_TYPED_ALIKE = (int, bool, str, type(None))


# Keywords that say nothing of a value's validity: a subschema with only these and `type` is
# checked by the validator's own type checker alone (0.2 us against 3 us for a validator).
_ANNOTATIONS = {"title", "description", "default", "examples", "$comment"}


def _type_only(sub: Any) -> bool:
    return isinstance(sub, dict) and "type" in sub and set(sub) <= _ANNOTATIONS | {"type"}


def _checker(sub: Any) -> Callable[[Any], bool] | bool:
    if not isinstance(sub, dict):
        return bool(sub)
    if _type_only(sub):
        types = sub["type"]
        names = (types,) if isinstance(types, str) else tuple(types)
        is_type = StrictValidator.TYPE_CHECKER.is_type
        return lambda value: any(is_type(value, name) for name in names)
    return StrictValidator(sub).is_valid
