"""A workflow that returns the params it received, with their Python types: the oracle's target."""

from typing import Any


def echo(**params: Any) -> dict[str, Any]:
    return {"params": params, "types": {k: type(v).__name__ for k, v in params.items()}}
