"""Where a launch's runs came from, gathered once per launch in the launching process (as
MLflow and Guild record a run's source): the hash of the code each workflow runs, the
project's git commit and whether its tree was dirty, the Python version, and the versions
of runner and of the installed distributions a workflow's module imports.

Each piece is cheap and can only be missing, never fail a launch: git is one `git status`
(nothing when git is absent or the project is not a checkout); the imports are read with
`ast` from the module's source (never imported here); distributions are looked up by name
first (numpy is `numpy`), and only names that are not a distribution's (sklearn, yaml) read
the installed distributions' file lists, stopping once each is found, rather than
`importlib.metadata.packages_distributions()`, which reads every one (0.3 s)."""

from __future__ import annotations

import ast
import contextlib
import importlib.metadata as metadata
import importlib.util
import platform
import shutil
import subprocess
import sys
from collections.abc import Iterable
from importlib.machinery import PathFinder
from pathlib import Path

from runner.entrypoints import source_files
from runner.records import Provenance

DISTRIBUTION = "runner-launch"  # runner's own distribution
GIT_TIMEOUT = 10.0  # seconds; a slower git is taken as no git


def collect(
    codes: dict[str, str], entrypoints: Iterable[str], root: Path, git_root: Path
) -> Provenance:
    """The provenance of a launch: `codes` (workflow spec -> code hash, from its plan); the
    packages imported by the modules of `entrypoints`, as found from `root` (where the runs
    import from); the git state of `git_root` (the user's project)."""
    commit, dirty = git_state(git_root)
    names: set[str] = set()
    for entrypoint in dict.fromkeys(entrypoints):
        names |= imported_names(entrypoint, root)
    return Provenance(
        python=platform.python_version(),
        packages=versions(names),
        git_commit=commit,
        git_dirty=dirty,
        code=dict(codes),
    )


def git_state(folder: Path) -> tuple[str | None, bool | None]:
    """(HEAD's commit, whether tracked files have uncommitted changes) of the git checkout
    holding `folder`, from one `git status`; (None, None) when git is not installed or the
    folder is not in a checkout; the commit is None before the first commit. Untracked files
    do not make a tree dirty (the run store under ./.runner/ would make every one so)."""
    git = shutil.which("git")
    if git is None or not folder.is_dir():
        return None, None
    try:
        done = subprocess.run(
            [
                git,
                "--no-optional-locks",  # a read: it must not take the index's lock
                "status",
                "--porcelain=v2",
                "--branch",
                "--untracked-files=no",
            ],
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None, None
    if done.returncode != 0:  # not a checkout (or one git refuses, as another user's)
        return None, None
    commit: str | None = None
    dirty = False
    for line in done.stdout.splitlines():
        if line.startswith("# branch.oid "):
            oid = line.split()[2]
            commit = None if oid == "(initial)" else oid
        elif line and not line.startswith("#"):
            dirty = True
    return commit, dirty


def imported_names(entrypoint: str, root: Path) -> set[str]:
    """The top-level names a workflow's module imports (anywhere in it, so imports inside
    the function count), read from its source with `ast`, without the standard library's,
    relative imports and the project's own modules."""
    module = entrypoint.partition(":")[0]
    try:
        top, files = source_files(module, root)
    except LookupError:
        return set()
    place = Path(*module.split("."))  # its file inside the package's, as source_files names it
    wanted = {f"{place}.py", str(place / "__init__.py")}
    path = next((p for name, p in files if name in wanted), None)
    if path is None:
        return set()
    try:
        tree = ast.parse(path.read_bytes(), str(path))
    except (OSError, SyntaxError, ValueError):
        return set()
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            names.add(node.module.split(".")[0])
    names -= set(sys.stdlib_module_names) | {"__future__", top, "runner"}
    return {name for name in names if not _in_project(name, root)}


def _in_project(name: str, root: Path) -> bool:
    return PathFinder.find_spec(name, [str(root)]) is not None


def versions(names: Iterable[str]) -> dict[str, str]:
    """Distribution -> version for runner and for the import names that an installed
    distribution provides (others are left out: not installed, or not found)."""
    found: dict[str, str] = {}
    with contextlib.suppress(metadata.PackageNotFoundError):  # (run from a source tree)
        found[DISTRIBUTION] = metadata.version(DISTRIBUTION)
    left: set[str] = set()
    for name in sorted(names):
        try:
            if importlib.util.find_spec(name) is None:  # not importable here: not installed
                continue
        except (ImportError, ValueError):
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            left.add(name)
            continue
        found[dist.metadata["Name"]] = dist.version
    if left:
        for dist in metadata.distributions():
            provided = _provides(dist) & left
            if provided:
                found[dist.metadata["Name"]] = dist.version
                left -= provided
                if not left:
                    break
    return dict(sorted(found.items(), key=lambda item: item[0].lower()))


def _provides(dist: metadata.Distribution) -> set[str]:
    """The top-level import names a distribution installs: its top_level.txt, else the
    first part of each file its RECORD lists."""
    declared = dist.read_text("top_level.txt")
    if declared:
        return set(declared.split())
    names = set()
    for line in (dist.read_text("RECORD") or "").splitlines():
        path = line.partition(",")[0].strip('"')
        first = path.split("/", 1)[0]
        if "/" in path:
            names.add(first)
        elif first.endswith(".py"):
            names.add(first[: -len(".py")])
    return names
