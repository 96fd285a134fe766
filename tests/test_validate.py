"""Validation: signature -> schema, and messages that name key, value, expectation and source."""

from __future__ import annotations

import enum
from typing import Any, Literal

import pytest

from runner.errors import ValidationError
from runner.inputs import signature_schema, type_schema
from runner.validate import check, compile_schema


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


@pytest.mark.parametrize(
    ("annotation", "schema"),
    [
        pytest.param(int, {"type": "integer"}, id="int"),
        pytest.param(float, {"type": "number"}, id="float"),
        pytest.param(str, {"type": "string"}, id="str"),
        pytest.param(bool, {"type": "boolean"}, id="bool"),
        pytest.param(list[int], {"type": "array", "items": {"type": "integer"}}, id="list"),
        pytest.param(
            dict[str, float],
            {"type": "object", "additionalProperties": {"type": "number"}},
            id="dict",
        ),
        pytest.param(int | None, {"anyOf": [{"type": "integer"}, {"type": "null"}]}, id="optional"),
        pytest.param(Literal["a", "b"], {"enum": ["a", "b"]}, id="literal"),
        pytest.param(Color, {"enum": ["red", "blue"]}, id="enum"),
        pytest.param(Any, {}, id="any"),
    ],
)
def test_type_schema(annotation: Any, schema: dict[str, Any]) -> None:
    assert type_schema(annotation) == schema


def test_signature_schema_required_defaults_and_injected() -> None:
    def flow(a: int, b: str = "x", *, seed: int, output_dir: str = ".") -> None: ...

    assert signature_schema(flow) == {
        "type": "object",
        "properties": {"a": {"type": "integer"}, "b": {"type": "string", "default": "x"}},
        "additionalProperties": False,
        "required": ["a"],
    }


def test_kwargs_allow_extra_keys() -> None:
    def flow(a: int = 1, **rest: Any) -> None: ...

    assert signature_schema(flow)["additionalProperties"] is True


def problems(instance: Any, schema: dict[str, Any], where=None) -> list[str]:
    with pytest.raises(ValidationError) as caught:
        check(
            instance, compile_schema(schema, "test"), what="params", prefix=("params",), where=where
        )
    return caught.value.problems


SCHEMA = {
    "type": "object",
    "properties": {
        "samples": {"type": "integer", "minimum": 1},
        "mode": {"enum": ["fast", "slow"]},
    },
    "required": ["samples"],
    "additionalProperties": False,
}


def test_messages_name_key_value_expectation_and_source() -> None:
    where = {("params", "samples"): "override 'params.samples=abc'"}.get
    assert problems({"samples": "abc"}, SCHEMA, where) == [
        "params.samples: 'abc' is not an integer (from override 'params.samples=abc')"
    ]
    assert problems({"samples": 0}, SCHEMA) == ["params.samples: 0 is below the minimum of 1"]
    assert problems({"samples": 1, "mode": "medium"}, SCHEMA) == [
        "params.mode: 'medium' is not one of: 'fast', 'slow'"
    ]
    assert problems({}, SCHEMA) == [
        "params.samples: required, but no value was given (set it with params.samples=...)"
    ]


def test_unknown_key_suggests_the_close_one_or_lists_them() -> None:
    assert problems({"samples": 1, "sampels": 2}, SCHEMA) == [
        "params.sampels: unknown key (did you mean 'samples'?)"
    ]
    assert problems({"samples": 1, "zzz": 2}, SCHEMA) == [
        "params.zzz: unknown key; expected one of: samples, mode"
    ]


def test_every_problem_is_reported_at_once() -> None:
    found = problems({"samples": "x", "mode": 3, "extra": 1}, SCHEMA)
    assert len(found) == 3


NULLABLE = {
    "type": "object",
    "properties": {
        "depth": type_schema(int | None),
        "rate": {"type": ["number", "null"]},
        "mode": {"enum": ["fast", "slow", None]},
        "count": {"type": "integer"},
    },
}


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"depth": "None"}, "params.depth: 'None' is not an integer or null (did you mean null?"),
        ({"rate": "none"}, "params.rate: 'none' is not a number or null (did you mean null?"),
        ({"mode": "None"}, "params.mode: 'None' is not one of: 'fast', 'slow', null (did you mean null?"),
        ({"count": " None"}, "params.count: ' None' is not an integer (Hydra and YAML spell None as null, which"),
    ],
    ids=["optional-int", "type-list", "enum", "not-nullable"],
)  # fmt: skip
def test_the_text_none_suggests_null(params: dict[str, Any], expected: str) -> None:
    """`params.max_depth=None` is the text 'None' to Hydra: the message says it is `null`."""
    (problem,) = problems(params, NULLABLE)
    assert problem.startswith(expected), problem
    assert "Hydra and YAML spell None as null" in problem
    assert problems({"count": "x"}, NULLABLE) == ["params.count: 'x' is not an integer"]
