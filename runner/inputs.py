"""Typed inputs: a function's signature as JSON Schema, text to values, and values to the annotated types.

Params travel and are stored as JSON (so they can be validated, hashed for the cache and
shown). Rich types have a canonical JSON form: datetime/date as ISO text, timedelta as
seconds, Path as text, Enum as its value, dataclasses and TypedDicts as objects. The worker
turns them back into the annotated types just before the call.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import inspect
import json
import re
import types
import typing
from collections.abc import Callable
from functools import cache
from pathlib import Path, PurePath
from typing import Any

# Arguments runner itself supplies to a workflow that asks for them; never user params.
INJECTED = ("seed", "output_dir")
_NONE = type(None)


class InputError(ValueError):
    """A value that does not fit its annotation; the message names what was expected."""


class _MustExist:
    """Marks a Path input that must name an existing file or folder."""

    def __repr__(self) -> str:
        return "must exist"


MUST_EXIST = _MustExist()
ExistingPath = typing.Annotated[Path, MUST_EXIST]  # public as runner.ExistingPath


def _unwrap(annotation: Any) -> tuple[Any, tuple[Any, ...]]:
    """(the type, its Annotated metadata)."""
    if typing.get_origin(annotation) is typing.Annotated:
        base, *meta = typing.get_args(annotation)
        return base, tuple(meta)
    return annotation, ()


def _check_meta(value: Any, meta: tuple[Any, ...]) -> Any:
    if MUST_EXIST in meta and not Path(str(value)).exists():
        raise InputError("an existing path")
    return value


# -- the signature as JSON Schema ------------------------------------------------------------------


def hints(func: Callable[..., Any]) -> dict[str, Any]:
    try:
        return typing.get_type_hints(func, include_extras=True)
    except Exception:  # unresolvable forward references: fall back to the raw annotations
        return {}


def signature_schema(func: Callable[..., Any]) -> dict[str, Any]:
    """A JSON Schema (draft 2020-12) for the params the callable's signature accepts."""
    signature = inspect.signature(func)
    annotations = hints(func)
    properties: dict[str, Any] = {}
    required: list[str] = []
    extra_allowed = False
    for name, param in signature.parameters.items():
        if param.kind is inspect.Parameter.VAR_KEYWORD:
            extra_allowed = True
            continue
        if param.kind is inspect.Parameter.VAR_POSITIONAL or name in INJECTED:
            continue
        prop = type_schema(annotations.get(name, param.annotation))
        if param.default is inspect.Parameter.empty:
            required.append(name)
        else:
            default = to_json_value(param.default)
            if default is not _UNSET:
                prop = {**prop, "default": default}
        properties[name] = prop
    schema: dict[str, Any] = {
        "type": "object",
        "properties": properties,
        "additionalProperties": extra_allowed,
    }
    if required:
        schema["required"] = required
    return schema


def signature_defaults(func: Callable[..., Any]) -> dict[str, Any]:
    """The defaults of the callable's params in their JSON form, so records hold every value."""
    out = {}
    for name, param in inspect.signature(func).parameters.items():
        if name in INJECTED or param.default is inspect.Parameter.empty:
            continue
        if param.kind in (inspect.Parameter.VAR_KEYWORD, inspect.Parameter.VAR_POSITIONAL):
            continue
        value = to_json_value(param.default)
        if value is not _UNSET:
            out[name] = value
    return out


def type_schema(annotation: Any) -> dict[str, Any]:
    """The JSON Schema of one annotation's JSON form; unknown types accept anything."""
    annotation, _ = _unwrap(annotation)
    if annotation is inspect.Parameter.empty or annotation is Any:
        return {}
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        return {"anyOf": [type_schema(arg) for arg in args]}
    if origin is typing.Literal:
        return {"enum": list(args)}
    simple = _SIMPLE_SCHEMAS.get(annotation)
    if simple is not None:
        return dict(simple)
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return {"enum": [member.value for member in annotation]}
    if isinstance(annotation, type) and issubclass(annotation, Path):
        return {"type": "string"}
    if annotation in (list, tuple, set, frozenset) or origin in (list, tuple, set, frozenset):
        schema: dict[str, Any] = {"type": "array"}
        if args and args[-1] is not Ellipsis:
            schema["items"] = type_schema(args[0])
        return schema
    if annotation is dict or origin is dict:
        schema = {"type": "object"}
        if len(args) == 2:
            schema["additionalProperties"] = type_schema(args[1])
        return schema
    if dataclasses.is_dataclass(annotation) and isinstance(annotation, type):
        return _record_schema(
            {f.name: f.type for f in dataclasses.fields(annotation)},
            [f.name for f in dataclasses.fields(annotation) if _required_field(f)],
            annotation,
        )
    if typing.is_typeddict(annotation):
        return _record_schema(
            hints(annotation), sorted(getattr(annotation, "__required_keys__", ())), annotation
        )
    return {}


_SIMPLE_SCHEMAS: dict[Any, dict[str, Any]] = {
    _NONE: {"type": "null"},
    bool: {"type": "boolean"},
    int: {"type": "integer"},
    float: {"type": "number"},
    str: {"type": "string"},
    dt.datetime: {"type": "string", "format": "date-time"},
    dt.date: {"type": "string", "format": "date"},
    dt.timedelta: {"type": "number", "description": "seconds"},
}


def _record_schema(fields: dict[str, Any], required: list[str], owner: Any) -> dict[str, Any]:
    own_hints = hints(owner)
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {
            name: type_schema(own_hints.get(name, kind)) for name, kind in fields.items()
        },
        "additionalProperties": False,
    }
    if required:
        schema["required"] = required
    return schema


def _required_field(field: dataclasses.Field[Any]) -> bool:
    return field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING


# -- text (a CLI option, an inputs file) to the JSON form -------------------------------------------

_UNSET: Any = object()
_DURATION = re.compile(
    r"^\s*(?P<n>\d+(?:\.\d+)?)\s*(?P<unit>d|days?|h|hours?|m|mins?|minutes?|s|secs?|seconds?)\s*$",
    re.IGNORECASE,
)
_UNIT_SECONDS = {"d": 86400, "h": 3600, "m": 60, "s": 1}


def from_text(text: str, annotation: Any) -> Any:
    """A CLI string as the JSON form of the annotated type; InputError when it cannot be."""
    annotation, meta = _unwrap(annotation)
    if meta:
        return _check_meta(from_text(text, annotation), meta)
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        if _NONE in args and text.lower() in ("none", "null"):
            return None
        errors = []
        for member in precedence(args):
            try:
                value = from_text(text, member)
            except InputError as exc:
                errors.append(str(exc))
                continue
            # The worker picks the member again from this JSON form: it must pick this one.
            arrives = _matching_member(value, args)
            if arrives is member:
                return value
            errors.append(
                f"{_name(member)} (its JSON form {value!r} would arrive as {_name(arrives)})"
            )
        raise InputError(" or ".join(errors))
    if origin is typing.Literal:
        for choice in args:
            if str(choice) == text:
                return choice
        raise InputError(f"one of {', '.join(map(str, args))}")
    if annotation in (inspect.Parameter.empty, Any, str):
        return text
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        for member in annotation:  # its value as text (1 for ONE = 1), then its name
            if text in (str(member.value), member.name):
                return to_json_value(member.value, strict=True)
        raise InputError(f"one of {', '.join(str(m.value) for m in annotation)}")
    if annotation is bool:
        lowered = text.lower()
        if lowered in ("true", "yes", "1", "on"):
            return True
        if lowered in ("false", "no", "0", "off"):
            return False
        raise InputError("a boolean (true or false)")
    if annotation is int:
        try:
            return int(text)
        except ValueError:
            raise InputError("an integer") from None
    if annotation is float:
        try:
            return float(text)
        except ValueError:
            raise InputError("a number") from None
    return to_json_value(from_json(_structured(text, annotation), annotation), strict=True)


def _structured(text: str, annotation: Any) -> Any:
    """Text for a non-scalar type: JSON, a .json/.yaml file's content, or the text itself."""
    origin = typing.get_origin(annotation)
    structured = (
        annotation in (list, dict, tuple, set)
        or origin in (list, dict, tuple, set, frozenset)
        or (dataclasses.is_dataclass(annotation) and isinstance(annotation, type))
        or typing.is_typeddict(annotation)
    )
    if not structured:
        return text
    from runner.documents import DocumentError, parse, read

    if text.endswith((".json", ".yaml", ".yml")) and Path(text).is_file():
        try:  # read as a run file is: UTF-8, bounded
            return parse(read(Path(text)), as_json=text.endswith(".json"))
        except DocumentError as exc:
            raise InputError(f"{_structured_kind(annotation)}: {text} {exc}") from None
    try:
        return parse(text, as_json=True)
    except DocumentError as exc:
        cause = exc.__cause__
        if isinstance(cause, json.JSONDecodeError):
            raise InputError(
                f"{_structured_kind(annotation)} in JSON or a .json/.yaml file"
                f" ({cause.msg}, column {cause.colno})"
            ) from None
        raise InputError(f"{_structured_kind(annotation)}: the JSON {exc}") from None


def _structured_kind(annotation: Any) -> str:
    """What a structured input must be, for messages: `a list of int`, `a Box object`."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if dataclasses.is_dataclass(annotation) or typing.is_typeddict(annotation):
        return f"a {annotation.__name__} object"
    if annotation is dict or origin is dict:
        return "an object"
    of = f" of {_name(args[0])}" if args and args[-1] is not Ellipsis else ""
    return f"a list{of}"


# -- the JSON form to the annotated type (in the worker, just before the call) ---------------------


def from_json(value: Any, annotation: Any) -> Any:
    """A JSON-form value as the annotated Python type; InputError when it does not fit."""
    annotation, meta = _unwrap(annotation)
    if meta:
        return _check_meta(from_json(value, annotation), meta)
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if annotation in (inspect.Parameter.empty, Any) or (value is None and _allows_none(annotation)):
        return value
    if origin in (typing.Union, types.UnionType):
        errors = []
        for member in precedence(args):
            try:
                return from_json(value, member)
            except InputError as exc:
                errors.append(str(exc))
        raise InputError(" or ".join(errors))
    if origin is typing.Literal:
        if value in args:
            return value
        raise InputError(f"one of {', '.join(map(repr, args))}")
    if annotation in _SCALARS:
        return _scalar(value, annotation)
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        try:
            return annotation(value)
        except ValueError:
            if isinstance(value, str) and value in annotation.__members__:
                return annotation.__members__[value]  # a member's name, as pyflyte takes it
            choices = ", ".join(str(m.value) for m in annotation)
            raise InputError(f"one of {choices}") from None
    if annotation is dt.datetime:
        return _datetime(value)
    if annotation is dt.date:
        return _date(value)
    if annotation is dt.timedelta:
        return _timedelta(value)
    if isinstance(annotation, type) and issubclass(annotation, Path):
        if not isinstance(value, (str, PurePath)):
            raise InputError("a path")
        return annotation(value)
    sequence = origin if origin in _SEQUENCES else annotation if annotation in _SEQUENCES else None
    if sequence is not None:
        if not isinstance(value, (list, tuple, set, frozenset)):
            raise InputError("a list")
        kind = args[0] if args else Any
        items = [from_json(item, kind) for item in value]
        return items if sequence is list else sequence(items)
    if annotation is dict or origin is dict:
        if not isinstance(value, dict):
            raise InputError("an object")
        if len(args) != 2:
            return value
        return {key: from_json(item, args[1]) for key, item in value.items()}
    if dataclasses.is_dataclass(annotation) and isinstance(annotation, type):
        if isinstance(value, annotation):
            return value
        if not isinstance(value, dict):
            raise InputError(f"an object with the fields of {annotation.__name__}")
        own = hints(annotation)
        fields = dataclasses.fields(annotation)
        unknown = sorted(set(value) - {f.name for f in fields})
        missing = [f.name for f in fields if _required_field(f) and f.name not in value]
        if unknown or missing:
            wrong = f"unknown {', '.join(unknown)}" if unknown else f"no {', '.join(missing)}"
            names = ", ".join(f.name for f in fields)
            raise InputError(
                f"an object with the fields of {annotation.__name__} ({names}); {wrong}"
            )
        return annotation(**{k: from_json(v, own.get(k, Any)) for k, v in value.items()})
    if typing.is_typeddict(annotation):
        if not isinstance(value, dict):
            raise InputError(f"an object with the keys of {annotation.__name__}")
        own = hints(annotation)
        return {k: from_json(v, own.get(k, Any)) for k, v in value.items()}
    return value


# The JSON forms these take are exactly their Python values (a float may come as an int).
_SCALARS: dict[Any, str] = {
    bool: "a boolean",
    int: "an integer",
    float: "a number",
    str: "a string",
    _NONE: "null",
}
_SEQUENCES = (list, tuple, set, frozenset)


def _scalar(value: Any, annotation: Any) -> Any:
    """A JSON value as bool, int, float, str or None, only when it is one: no coercion, so a
    union can tell its members apart."""
    is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if annotation is bool and isinstance(value, bool):
        return value
    if annotation is int and is_number and float(value).is_integer():
        return int(value)
    if annotation is float and is_number:
        return float(value)
    if annotation is str and isinstance(value, str):
        return value
    if annotation is _NONE and value is None:
        return None
    raise InputError(_SCALARS[annotation])


def precedence(members: tuple[Any, ...]) -> list[Any]:
    """A union's members in the order they are tried: as written, except that those that
    take any text (str, Path, untyped) come last, as pyflyte orders them; else
    `int | Path | datetime` would never give a datetime. None is left to the caller."""
    kept = [member for member in members if member is not _NONE]
    return sorted(kept, key=_takes_any_text)  # sorted() is stable: written order otherwise


def _takes_any_text(member: Any) -> bool:
    if member in (str, Any, inspect.Parameter.empty):
        return True
    return isinstance(member, type) and issubclass(member, PurePath)


def _matching_member(value: Any, members: tuple[Any, ...]) -> Any:
    """The member of a union a JSON-form value arrives as (the first that converts it)."""
    if value is None and _NONE in members:
        return _NONE
    for member in precedence(members):
        try:
            from_json(value, member)
        except InputError:
            continue
        return member
    return None


def _name(annotation: Any) -> str:
    base, _ = _unwrap(annotation)
    return str(getattr(base, "__name__", None) or base).replace("typing.", "")


def _allows_none(annotation: Any) -> bool:
    return annotation is _NONE or _NONE in typing.get_args(annotation)


def _datetime(value: Any) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, str):
        if value.lower() == "now":
            return dt.datetime.now()
        if value.lower() == "today":
            return dt.datetime.combine(dt.date.today(), dt.time())
        try:
            return dt.datetime.fromisoformat(value)
        except ValueError:
            pass
    raise InputError("a date-time in ISO format (2024-05-01T12:00:00), now or today")


def _date(value: Any) -> dt.date:
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    if isinstance(value, str):
        if value.lower() in ("today", "now"):
            return dt.date.today()
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    raise InputError("a date in ISO format (2024-05-01) or today")


def _timedelta(value: Any) -> dt.timedelta:
    if isinstance(value, dt.timedelta):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return dt.timedelta(seconds=value)
    if isinstance(value, str):
        found = _DURATION.match(value)
        if found:
            unit = found["unit"][0].lower()
            return dt.timedelta(seconds=float(found["n"]) * _UNIT_SECONDS[unit])
        parts = value.strip().split(":")
        if 2 <= len(parts) <= 3 and all(p.replace(".", "", 1).isdigit() for p in parts):
            numbers = [float(p) for p in parts] + [0.0] * (3 - len(parts))
            return dt.timedelta(hours=numbers[0], minutes=numbers[1], seconds=numbers[2])
    raise InputError("a duration: seconds, or like 20H, 1 day, 90s, 1:24 (hours:minutes)")


def to_json_value(value: Any, *, strict: bool = False) -> Any:
    """A Python value in its JSON form; _UNSET (or InputError when strict) if it has none."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (list, tuple, set, frozenset)):
        items = [to_json_value(item, strict=strict) for item in value]
        return _UNSET if any(item is _UNSET for item in items) else items
    if isinstance(value, dict):
        converted = {str(k): to_json_value(v, strict=strict) for k, v in value.items()}
        return _UNSET if any(v is _UNSET for v in converted.values()) else converted
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return to_json_value(
            {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}, strict=strict
        )
    if strict:
        raise InputError(f"a value with a JSON form, not {type(value).__name__}")
    return _UNSET


def json_form(value: Any, annotation: Any) -> Any:
    """A value given as data (JSON, YAML, or a Python value through the API) in the canonical
    JSON form of the member of the annotation it converts to; InputError when none."""
    return to_json_value(from_json(value, annotation), strict=True)


def typed_inputs(func: Callable[..., Any], given: dict[str, Any], label: str) -> dict[str, Any]:
    """Inputs given as data, each in its canonical JSON form (what is recorded), so that one
    value records the same whichever way it came; names it does not know are left as they
    are, for validation to report. InputError lists every input that does not fit."""
    annotations = hints(func)
    out: dict[str, Any] = {}
    problems = []
    for name, value in given.items():
        if name not in annotations or name in INJECTED:
            out[name] = value
            continue
        try:
            out[name] = json_form(value, annotations[name])
        except InputError as exc:
            problems.append(f"{name}: {value!r} (from {label}) is not {exc}")
    if problems:
        raise InputError("; ".join(problems))
    return out


# -- the call ------------------------------------------------------------------------------------


@cache
def converters(func: Callable[..., Any]) -> tuple[tuple[str, Any], ...]:
    """(param, annotation) for the params whose JSON form is not already their Python type."""
    plain = (bool, int, float, str, Any, inspect.Parameter.empty, _NONE)
    found = []
    for name, annotation in hints(func).items():
        if name == "return" or name in INJECTED or annotation in plain:
            continue
        args = typing.get_args(annotation)
        if typing.get_origin(annotation) in (list, dict) and all(a in plain for a in args):
            continue
        found.append((name, annotation))
    return tuple(found)


def call_kwargs(func: Callable[..., Any], kwargs: dict[str, Any]) -> dict[str, Any]:
    """The keyword arguments for the call: `kwargs` (the run's own copy of its params, changed
    in place) with the params turned into their annotated types."""
    for name, annotation in converters(func):
        if name in kwargs:
            try:
                kwargs[name] = from_json(kwargs[name], annotation)
            except InputError as exc:
                raise InputError(f"param '{name}': {kwargs[name]!r} is not {exc}") from None
    return kwargs


# -- inputs files and stdin ------------------------------------------------------------------------


def read_inputs_file(path: str, label: str) -> dict[str, Any]:
    """An inputs file (--inputs-file), read as a run file is: UTF-8, a file, bounded."""
    from pathlib import Path

    from runner.documents import DocumentError, read

    try:
        text = read(Path(path))
    except DocumentError as exc:
        raise InputError(f"{label} {exc}") from None
    return read_inputs(text, label)


def read_stdin(label: str = "stdin") -> dict[str, Any]:
    """Inputs piped on stdin (`-`), as bytes: text that is not UTF-8 is named, not a crash."""
    import sys

    from runner.documents import DocumentError, decode

    try:
        text = decode(sys.stdin.buffer.read())
    except DocumentError as exc:
        raise InputError(f"{label} {exc}") from None
    return read_inputs(text, label)


def read_inputs(text: str, label: str) -> dict[str, Any]:
    """A YAML or JSON mapping of inputs (JSON is YAML); `false` stays false."""
    from runner.documents import DocumentError, parse

    try:
        data = parse(text, as_json=False)  # bounded: no alias bomb, no nesting past a limit
    except DocumentError as exc:
        raise InputError(f"{label} {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InputError(
            f"{label} must hold a mapping of input names to values, not a {type(data).__name__}"
        )
    return {str(key): value for key, value in data.items()}
