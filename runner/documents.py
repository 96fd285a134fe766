"""YAML and JSON a user hands runner (run files, inputs files, stdin), read at a bounded cost:
an alias bomb or a value nested a thousand deep is refused with a message, never expanded."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

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


def parse(text: str, *, as_json: bool) -> Any:
    """The data of a YAML (a superset of JSON) or strict JSON document."""
    try:
        data = json.loads(text) if as_json else yaml.safe_load(text)
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
