"""Where a launch's runs came from, gathered once per launch in the launching process (as
MLflow and Guild record a run's source): the hash of the code each workflow runs, the
project's git commit and whether its tree was dirty, the Python version, and the versions
of runner and of the installed distributions a workflow's module imports.

Each piece is cheap (about 5 ms of CPU a launch) and can only be missing, never fail a
launch: git is one `git status`, started before the launch is composed and read after it is
planned (nothing when git is absent or the project is not a checkout); the imports are read
with `ast` from the module's source (never imported here); distributions are found by the
names of the environment's dist-info folders (numpy is `numpy`), and only import names that
are not a distribution's (sklearn, yaml) read the distributions' file lists, stopping once
each is found. importlib.metadata costs a launch 10 ms to import and to parse METADATA
files, and its `packages_distributions()` reads every distribution's files (0.3 s)."""

from __future__ import annotations

import ast
import importlib.util
import os
import platform
import re
import shutil
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from importlib.machinery import PathFinder
from pathlib import Path

from runner.entrypoints import module_file
from runner.records import Provenance

DISTRIBUTION = "runner-launch"  # runner's own distribution
GIT_TIMEOUT = 10.0  # seconds; a slower git is taken as no git


def collect(
    codes: dict[str, str], entrypoints: Iterable[str], root: Path, git: GitStatus
) -> Provenance:
    """The provenance of a launch: `codes` (workflow spec -> code hash, from its plan); the
    packages imported by the modules of `entrypoints`, as found from `root` (where the runs
    import from); the git state of the user's project, from a `git status` started earlier
    (it runs while the launch is planned)."""
    names: set[str] = set()
    for entrypoint in dict.fromkeys(entrypoints):
        names |= imported_names(entrypoint, root)
    packages = versions(names)
    commit, dirty = git.result()
    return Provenance(
        python=platform.python_version(),
        packages=packages,
        git_commit=commit,
        git_dirty=dirty,
        code=dict(codes),
    )


class GitStatus:
    """HEAD's commit and whether tracked files have uncommitted changes, of the git checkout
    holding a folder, from one `git status` started at once (`result` waits for it). None
    for both when git is not installed or the folder is not in a checkout; the commit is
    None before the first commit. Untracked files do not make a tree dirty (the run store
    under ./.runner/ would make every one so)."""

    def __init__(self, folder: Path) -> None:
        self.process: subprocess.Popen[str] | None = None
        git = shutil.which("git")
        if git is None or not folder.is_dir():
            return
        command = [git, "--no-optional-locks", "status", "--porcelain=v2", "--branch", "-uno"]
        try:  # (--no-optional-locks: a read, it must not take the index's lock)
            self.process = subprocess.Popen(
                command,
                cwd=folder,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
            )
        except OSError:
            self.process = None

    def result(self) -> tuple[str | None, bool | None]:
        process, self.process = self.process, None
        if process is None:
            return None, None
        try:
            out, _ = process.communicate(timeout=GIT_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
            return None, None
        if process.returncode != 0:  # not a checkout (or one git refuses: another user's)
            return None, None
        commit: str | None = None
        dirty = False
        for line in out.splitlines():
            if line.startswith("# branch.oid "):
                oid = line.split()[2]
                commit = None if oid == "(initial)" else oid
            elif line and not line.startswith("#"):
                dirty = True
        return commit, dirty

    def close(self) -> None:
        """Stop and reap a `git status` whose result is not wanted (a launch that failed)."""
        process, self.process = self.process, None
        if process is not None:
            process.kill()
            process.communicate()


def git_state(folder: Path) -> tuple[str | None, bool | None]:
    """(commit, dirty) of the checkout holding `folder` (see GitStatus)."""
    return GitStatus(folder).result()


def imported_names(entrypoint: str, root: Path) -> set[str]:
    """The top-level names a workflow's module imports (anywhere in it, so imports inside
    the function count), read from its source with `ast`, without the standard library's,
    relative imports and the project's own modules."""
    module = entrypoint.partition(":")[0]
    path = module_file(module, root)
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
    names -= {*sys.stdlib_module_names, "__future__", module.split(".")[0], "runner"}
    return {name for name in names if PathFinder.find_spec(name, [str(root)]) is None}


def versions(names: Iterable[str]) -> dict[str, str]:
    """Distribution -> version for runner and for the import names that an installed
    distribution provides (others are left out: not installed, or not found), in the
    environment's dist-info folders (see `installed`)."""
    found: dict[str, str] = {}
    dists = installed()
    own = dists.get(_normalized(DISTRIBUTION))
    if own is not None:  # (not when run from a source tree)
        found[own.name] = own.version
    left: set[str] = set()
    for name in names:
        try:
            if importlib.util.find_spec(name) is None:  # not importable here: not installed
                continue
        except (ImportError, ValueError):
            continue
        dist = dists.get(_normalized(name))  # numpy is `numpy`
        if dist is not None:
            found[dist.name] = dist.version
        else:
            left.add(name)  # sklearn is `scikit-learn`, yaml `pyyaml`
    for dist in dists.values() if left else ():
        provided = dist.provides(left)
        if provided:
            found[dist.name] = dist.version
            left -= provided
            if not left:
                break
    return dict(sorted(found.items()))


@dataclass(frozen=True)
class Installed:
    """An installed distribution, as its `NAME-VERSION.dist-info` folder names it (the
    packaging spec's "Recording installed projects"; the name normalized, shown with dashes)."""

    name: str
    version: str
    folder: str

    def provides(self, names: set[str]) -> set[str]:
        """Which of these top-level import names it installs: those its top_level.txt
        lists, else those its RECORD lists files of (`NAME/...` or `NAME.py`), as
        importlib.metadata.packages_distributions() reads them."""
        try:
            declared = Path(self.folder, "top_level.txt").read_text()
        except OSError:
            declared = ""
        if declared.strip():
            return names & set(declared.split())
        try:
            record = "\n" + Path(self.folder, "RECORD").read_text()
        except OSError:
            return set()
        # A search of the file's text: splitting every line of every RECORD read takes 10 ms.
        return {n for n in names if f"\n{n}/" in record or f"\n{n}.py," in record}


def installed() -> dict[str, Installed]:
    """Normalized name -> the distribution installed under that name, from the names of the
    dist-info folders on sys.path (the first wins, as for imports): about 1 ms, read again
    by each launch (a kernel's pip install -U is seen). Names only: importlib.metadata would
    parse each METADATA file (and importing it costs a launch 10 ms; its
    packages_distributions() reads every RECORD: 0.3 s)."""
    found: dict[str, Installed] = {}
    for entry in sys.path:
        try:
            names = [n for n in os.listdir(entry or ".") if n.endswith(".dist-info")]
        except OSError:
            continue
        for folder in names:
            name, _, version = folder[: -len(".dist-info")].partition("-")
            key = _normalized(name)
            if name and version and key not in found:
                shown = key.replace("_", "-")
                found[key] = Installed(shown, version, os.path.join(entry, folder))
    return found


def _normalized(name: str) -> str:
    """A distribution's or an import's name as dist-info folders spell it (PEP 503, with _)."""
    return re.sub(r"[-_.]+", "_", name).lower()
