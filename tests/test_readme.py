"""The README's command blocks, pasted into a shell in an empty directory, as a new user would."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).parent.parent / "README.md"
# A block the tests do not run says why in an HTML comment on the line before it.
BLOCK = re.compile(r"(?P<before>[^\n]*)\n```bash\n(?P<body>.*?)\n```", re.S)


def blocks() -> list[tuple[str, str]]:
    found = []
    heading = "top"
    text = README.read_text()
    for match in BLOCK.finditer(text):
        heading = next(
            (
                line
                for line in reversed(text[: match.start()].splitlines())
                if line.startswith(("## ", "### "))
            ),
            heading,
        )
        if "not run by the tests" in match["before"]:
            continue
        found.append((heading.lstrip("# ").strip(), match["body"]))
    return found


def test_every_block_is_run_or_says_why() -> None:
    text = README.read_text()
    assert text.count("```bash") == len(blocks()) + text.count("not run by the tests")
    headings = [name for name, _ in blocks()]
    for section in ("A tour", "Reading results", "When things go wrong"):
        assert section in headings


@pytest.mark.slow
@pytest.mark.parametrize(("section", "body"), [pytest.param(*b, id=b[0]) for b in blocks()])
def test_readme_block_runs_in_an_empty_directory(section: str, body: str, tmp_path: Path) -> None:
    bin_dir = str(Path(sys.executable).parent)
    assert shutil.which("runner", path=bin_dir), "the runner console script is not installed"
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("RUNNER_", "PYTEST_"))
    }
    env.update(PATH=f"{bin_dir}{os.pathsep}{env.get('PATH', '')}", COLUMNS="80")
    script = f"set -euo pipefail\n{body}\n"
    done = subprocess.run(
        ["bash", "-xc", script],  # -x: a failure shows the command that failed,
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, f"{section}: exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    assert "internal error" not in done.stderr
    assert (tmp_path / ".runner").is_dir(), "the runs were recorded beside the commands"
