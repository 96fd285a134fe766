"""YAML and JSON a user hands runner (run files, inputs files, stdin), read at a bounded cost:
an alias bomb or a value nested a thousand deep is refused with a message, never expanded."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, NamedTuple

import yaml

MAX_DEPTH = 64  # lists and mappings nest at most this deep (OmegaConf recurses into them)
MAX_NODES = 100_000  # values in a document once its YAML aliases are expanded


class DocumentError(ValueError):
    """What is wrong with a document, as the end of a sentence that names it: "is not valid
    YAML: line 3, column 5: ...", "holds lists and mappings nested more than 64 deep"."""


def read(path: Path) -> str:
    """The text of a file a user named (a run file, an inputs file)."""
    if path.is_dir():
        raise DocumentError("is a directory; name a .yaml or .json file")
    if not path.is_file():
        raise DocumentError(f"not found (cwd: {Path.cwd()})")
    try:
        return decode(path.read_bytes())
    except OSError as exc:
        raise DocumentError(f"cannot be read: {exc.strerror}") from exc


def decode(data: bytes) -> str:
    """UTF-8 text, or a DocumentError naming the first byte that is not (Latin-1, UTF-16...)."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DocumentError(
            f"is not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset {exc.start});"
            " save it as UTF-8"
        ) from None


class _Digits(str):
    """An integer literal longer than Python turns into an int (sys.get_int_max_str_digits:
    4,300 digits), kept as its text so that the key holding it can be named."""


def _int(text: str) -> int | _Digits:
    try:
        return int(text)
    except ValueError:
        return _Digits(text)


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader, but an integer too long for int() is kept as _Digits."""

    def construct_yaml_int(self, node: yaml.ScalarNode) -> Any:
        try:
            return super().construct_yaml_int(node)
        except ValueError:
            return _Digits(str(node.value))


_Loader.add_constructor("tag:yaml.org,2002:int", _Loader.construct_yaml_int)


def parse(text: str, *, as_json: bool) -> Any:
    """The data of a YAML (a superset of JSON) or strict JSON document."""
    try:
        data = json.loads(text, parse_int=_int) if as_json else yaml.load(text, Loader=_Loader)
    except RecursionError:
        raise DocumentError(f"holds lists and mappings nested more than {MAX_DEPTH} deep") from None
    except json.JSONDecodeError as exc:
        raise DocumentError(
            f"is not valid JSON: line {exc.lineno}, column {exc.colno}: {exc.msg}"
        ) from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise DocumentError(f"is not valid YAML: {at}{problem}") from exc
    check_size(data)
    found = unusable(data)
    if found:
        raise DocumentError(f"holds {found.what} at {found.where}: {found.why}")
    return data


def check_size(data: Any) -> None:
    """Refuse data nested too deep or too large once shared parts (YAML aliases) are counted
    as often as they are used: the size is counted per distinct object, so a bomb of a few
    hundred bytes is measured in microseconds, not expanded."""
    sizes: dict[int, int] = {}
    deepest = 0
    stack: list[tuple[Any, int, bool]] = [(data, 1, False)]
    while stack:
        node, depth, done = stack.pop()
        if not isinstance(node, dict | list):
            continue
        children = list(node.values()) if isinstance(node, dict) else node
        if done:
            sizes[id(node)] = 1 + sum(sizes.get(id(c), 1) for c in children)
            if sizes[id(node)] > MAX_NODES:
                raise DocumentError(
                    f"holds more than {MAX_NODES:,} values once its aliases are expanded"
                    " (an alias bomb?)"
                )
            continue
        if id(node) in sizes:
            continue
        deepest = max(deepest, depth)
        if deepest > MAX_DEPTH:
            raise DocumentError(f"holds lists and mappings nested more than {MAX_DEPTH} deep")
        stack.append((node, depth, True))
        stack.extend((c, depth + 1, False) for c in children if isinstance(c, dict | list))


class Unusable(NamedTuple):
    """A value no store, file or message can hold: where it is, what it is, why not."""

    where: str  # a key path, `params.C`, `tags[1]`; "the top level" for the value itself
    what: str  # "a lone surrogate (\\ud800)", "an integer of 4,401 digits"
    why: str


def unusable(data: Any) -> Unusable | None:
    """What no store, file or message can hold, and the key where it is, or None: text with a
    lone surrogate (a JSON or YAML escape such as \\ud800; bytes that were not UTF-8), an
    integer longer than Python turns into text (4,300 digits). About 0.1 s a million values."""
    found = _unusable_value(data)
    if found:
        return Unusable(key_path(()), *found)
    stack: list[tuple[Any, tuple[Any, ...]]] = [(data, ())]
    seen: set[int] = set()
    while stack:
        node, path = stack.pop()
        if id(node) in seen or not isinstance(node, dict | list | tuple):
            continue  # a YAML alias: its node is checked once
        seen.add(id(node))
        if isinstance(node, dict):
            for key in node:
                found = _unusable_value(key)
                if found:
                    return Unusable(key_path(path), f"{found[0]} in a key", found[1])
        for key, value in node.items() if isinstance(node, dict) else enumerate(node):
            kind = type(value)  # the common kinds first: a sweep may hold a million values
            if kind is int:
                if value.bit_length() <= _SHORT_INT:
                    continue
            elif kind is str:
                if value.isascii():
                    continue
            elif kind is float or kind is bool or value is None:
                continue
            elif kind is dict or kind is list or kind is tuple:
                stack.append((value, (*path, key)))
                continue
            found = _unusable_value(value)
            if found:
                return Unusable(key_path((*path, key)), *found)
    return None


_SHORT_INT = 14_000  # bits: an int this long has fewer than 4,300 digits


def _unusable_value(value: Any) -> tuple[str, str] | None:
    """(what the value is, why it cannot be used), or None."""
    kind = type(value)
    if kind is int:
        if value.bit_length() <= _SHORT_INT:
            return None
    elif kind is str and value.isascii():
        return None
    limit = sys.get_int_max_str_digits()
    if isinstance(value, _Digits):
        digits = len(value.lstrip("+-"))
        return f"an integer of {digits:,} digits", f"Python reads at most {limit:,}"
    if kind is int:
        try:
            str(value)
        except ValueError:
            return f"an integer of more than {limit:,} digits", "Python cannot write it as text"
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            found = f"a lone surrogate ({ascii(value[exc.start])[1:-1]})"
            return found, "not Unicode text (no store, file or terminal can hold it)"
    return None


def key_path(path: tuple[Any, ...]) -> str:
    """A key path for a message: `params.C`, `tags[1]`; what is not printable escaped."""
    if not path:
        return "the top level"
    out = ""
    for part in path:
        shown = ascii(part)[1:-1] if isinstance(part, str) else str(part)[:40]
        out += f"[{shown}]" if isinstance(part, int) else (f".{shown}" if out else shown)
    return out


def nesting(value: Any) -> int:
    """How deep lists and mappings nest in a value, counted no further than MAX_DEPTH + 1."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict | list | tuple):
            deepest = max(deepest, depth)
            if depth <= MAX_DEPTH:
                children = node.values() if isinstance(node, dict) else node
                stack.extend((child, depth + 1) for child in children)
    return deepest
