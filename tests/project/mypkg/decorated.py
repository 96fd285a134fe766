"""Workflows written in Python, found through conf/workflow/decorated.yaml's `modules:`."""

import runner
from mypkg.flows import add  # imported, not decorated: not a workflow

__all__ = ["add", "make_loud", "scale"]


@runner.workflow
def scale(x: float, factor: float = 2.0, seed: int = 0) -> dict:
    """Multiply x by a factor.

    The second paragraph is not part of the description.
    """
    return {"value": x * factor, "seed": seed}


@runner.workflow(id="shout", version="3.1", description="Upper-case a word.", retries=1)
def make_loud(word: str = "hi") -> str:
    return word.upper()
