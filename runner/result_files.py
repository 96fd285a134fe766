"""Big results kept by reference: pickled into the run's folder, a summary in the store.

A run's result is JSON in the store's `runs.result` column while it is small. JSON-encoding
a big one is slow in the worker (60k floats: 60-97 ms, against 0.6 ms to pickle them) and
decoding it again is what made every read of such a launch slow and big. So the worker
pickles the result first (cheap whatever its size); when the pickle is past `THRESHOLD`
bytes it is written to `runs/<id>/result.pickle` and the store keeps the file's path
(`runs.result_ref`, relative to the store's home) plus, in `runs.result`, a small JSON
*summary* of the value: what the results table, `runner status` and listings show without
opening the file. A dict keeps its small values as they are (a `loss` stays a number in the
table) and its big ones become a description; anything else becomes one line such as
"list of 131,072 floats (1.0 MB)". The value itself is read from the file only when asked
for (`RunRecord.result`).

Unpickling runs code named by the file, so a result file is trusted as the store is: it is
the user's own store, written by the user's own workflows. A result that cannot be pickled
(a lambda, an open file...) stays JSON in the store as before (values JSON cannot hold as
their repr), and the run's log says why.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import Any

THRESHOLD = 64 * 1024  # bytes of pickle past which a result goes to a file of its own
RESULT_NAME = "result.pickle"
_SHORT_TEXT = 200  # characters of text a summary keeps as it is
_SHORT_LIST = 8  # items of a list of plain values a summary keeps as it is
_PLAIN = (type(None), bool, int, float)


def encode(result: Any, run_dir: str, to_json: Any) -> tuple[str, str | None, str | None]:
    """(JSON for the store's result column, path of the result file or None, a note for the
    run's log or None). Small results: their JSON, as ever. Big ones: the pickle written to
    `run_dir`, and a summary as the JSON."""
    try:
        data = pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as exc:  # lambdas, locks, open files... : JSON as before
        text = to_json(result)
        note = None
        if len(text) > THRESHOLD:
            note = (
                f"runner: the result ({len(text):,} characters of JSON) could not be pickled"
                f" ({type(exc).__name__}: {exc}); it is kept as JSON in the store, not in a"
                " file of its own\n"
            )
        return text, None, note
    if len(data) <= THRESHOLD:
        return to_json(result), None, None
    os.makedirs(run_dir, exist_ok=True)
    path = os.path.join(run_dir, RESULT_NAME)
    with open(path, "wb") as out:
        out.write(data)
    return to_json(summary(result, len(data))), path, None


def load(home: Path, ref: str) -> Any:
    """The value of a result kept in a file (`ref` relative to the store's home). A file
    that is missing or cannot be unpickled here (damaged, or naming a class this process
    cannot import) is StoreUnusable (exit 3), naming the file."""
    from runner.errors import StoreUnusable

    path = home / ref
    try:
        with open(path, "rb") as source:
            return pickle.load(source)
    except FileNotFoundError:
        raise StoreUnusable(
            f"the result file {path} is missing (was the run's folder removed?)"
        ) from None
    except Exception as exc:
        raise StoreUnusable(
            f"cannot read the result file {path}: {type(exc).__name__}: {exc}"
        ) from None


def summary(value: Any, size: int | None = None) -> Any:
    """What the store shows of a big result: a dict keeps its small values and describes its
    big ones; anything else is described in one line (with the pickle's size when known)."""
    if isinstance(value, dict) and value and all(isinstance(key, str) for key in value):
        return {key: _kept(item, 1) for key, item in value.items()}
    text = describe(value)
    return f"{text} ({_size(size)})" if size is not None else text


def _kept(value: Any, depth: int) -> Any:
    if isinstance(value, _PLAIN) or (isinstance(value, str) and len(value) <= _SHORT_TEXT):
        return value
    if isinstance(value, dict) and value and depth < 4 and all(isinstance(k, str) for k in value):
        return {key: _kept(item, depth + 1) for key, item in value.items()}
    if (
        isinstance(value, list)
        and len(value) <= _SHORT_LIST
        and all(isinstance(item, _PLAIN) for item in value)
    ):
        return value
    if hasattr(value, "item") and getattr(value, "shape", None) == ():  # a numpy scalar
        return value.item()
    return describe(value)


def describe(value: Any) -> str:
    """'list of 131,072 floats', 'array float64 (512, 256)', 'text of 90,000 characters'.
    The kind of a list's items is judged from its first and last ones, not all of them."""
    shape, dtype = getattr(value, "shape", None), getattr(value, "dtype", None)
    if shape is not None and dtype is not None:
        dims = ", ".join(str(n) for n in shape)
        return f"array {dtype} ({dims}{',' if len(shape) == 1 else ''})"
    if isinstance(value, str):
        return f"text of {len(value):,} characters"
    if isinstance(value, bytes | bytearray):
        return f"{len(value):,} bytes"
    if isinstance(value, list | tuple | set | frozenset):
        kind = type(value).__name__
        sample = list(value[:4]) + list(value[-4:]) if isinstance(value, list | tuple) else []
        names = {type(item).__name__ for item in sample}
        what = f"{names.pop()}s" if len(names) == 1 else "items"
        return f"{kind} of {len(value):,} {what}"
    if isinstance(value, dict):
        return f"dict of {len(value):,} keys"
    return type(value).__name__


def _size(size: int) -> str:
    for unit, scale in (("GB", 1 << 30), ("MB", 1 << 20), ("kB", 1 << 10)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size} bytes"
