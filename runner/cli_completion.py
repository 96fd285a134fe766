"""Shell completion for `runner`, through click's own protocol (`_RUNNER_COMPLETE=bash_source
runner` prints the script; the shell then asks with `_RUNNER_COMPLETE=bash_complete`).

It runs on every TAB, so the first word (commands, workflow ids, saved run definitions, files)
is found by reading the config dirs with libyaml and `ast`, never by importing Hydra or a
user's code; launch and run ids come from the store with one SQL query each. Only a param key
or value (`params.<TAB>`) needs the workflow itself: then it is described as `--help`
describes it (runner.catalog)."""

from __future__ import annotations

import ast
import contextlib
import io
import os
from collections.abc import Callable, Iterator
from importlib.machinery import PathFinder
from pathlib import Path
from typing import Any

import click
from click.shell_completion import BashComplete, CompletionItem, add_completion_class

from runner.cli_help import target_of

WORKFLOW_GROUP = "workflow"
PRESET_GROUP = "run"
RECENT = 50  # ids offered at most: the most recent ones matching what is typed
# Characters bash splits a word at before completing it (in its default COMP_WORDBREAKS)
# that runner's arguments hold: `launcher=local`, `pi:1.0`.
WORD_BREAKS = ("=", ":")


# -- where configs are ------------------------------------------------------------------------


def conf_dirs(config_dir: str | None = None) -> list[Path]:
    """The config search path, first one first: --config-dir, RUNNER_CONFIG_DIR or ./conf
    (as composer.Project.find chooses), then runner's built-in conf."""
    dirs: list[Path] = []
    chosen = config_dir or os.environ.get("RUNNER_CONFIG_DIR")
    project = Path(chosen).expanduser() if chosen else Path("conf")
    if project.is_dir():
        dirs.append(project)
    from importlib.util import find_spec

    builtin = find_spec("runner.conf")  # an empty package: its folder is the built-in conf
    if builtin is not None and builtin.submodule_search_locations:
        dirs.append(Path(next(iter(builtin.submodule_search_locations))))
    return dirs


def group_options(dirs: list[Path]) -> dict[str, list[str]]:
    """Config group -> its options (the YAML files of conf/GROUP/), the first dir's first."""
    groups: dict[str, list[str]] = {}
    for folder in dirs:
        for group in sorted(p for p in folder.iterdir() if p.is_dir() and p.name.isidentifier()):
            options = groups.setdefault(group.name, [])
            for path in sorted(group.glob("*.yaml")):
                if path.stem not in options:
                    options.append(path.stem)
    return groups


def _yaml(path: Path) -> Any:
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with open(path, encoding="utf-8") as file:
        return yaml.load(file, Loader=loader)


def workflows(dirs: list[Path], versions: dict[str, list[str]] | None = None) -> dict[str, str]:
    """Workflow id -> its description, from each declaration in conf/workflow/ and, for a
    declaration of `modules:`, each function those modules decorate (read, not imported).
    `versions`, when given, gets each declared id's versions."""
    found: dict[str, str] = {}
    seen: set[str] = set()
    versions = {} if versions is None else versions
    for folder in dirs:
        for path in sorted((folder / WORKFLOW_GROUP).glob("*.yaml")):
            if path.stem in seen:
                continue  # an option of an earlier dir hides this one, as in Hydra
            seen.add(path.stem)
            try:
                data = _yaml(path)
            except Exception:  # a broken declaration: `runner list` says why, not a TAB
                continue
            if not isinstance(data, dict):
                continue
            if "modules" in data:
                root = folder.resolve().parent
                for module in data["modules"] if isinstance(data["modules"], list) else []:
                    found.update(decorated_in(str(module), root))
            else:
                workflow_id = str(data.get("id", path.stem))
                found.setdefault(workflow_id, str(data.get("description", "")))
                versions.setdefault(workflow_id, []).append(str(data.get("version", "0")))
    return found


def decorated_in(module: str, root: Path) -> dict[str, str]:
    """The @runner.workflow functions a module's source defines: id -> description."""
    path = _module_file(module, [str(root)])
    if path is None:
        return {}
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
        return {}
    found: dict[str, str] = {}
    for node in tree.body:
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for decorator in node.decorator_list:
            call = decorator if isinstance(decorator, ast.Call) else None
            target = call.func if call else decorator
            name = target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", "")
            if name != "workflow":
                continue
            keywords = {k.arg: k.value for k in call.keywords} if call else {}
            given = keywords.get("id")
            workflow_id = given.value if isinstance(given, ast.Constant) else node.name
            about = keywords.get("description")
            text = about.value if isinstance(about, ast.Constant) else ast.get_docstring(node)
            found[str(workflow_id)] = str(text or "").strip().split("\n\n")[0]
    return found


def _module_file(module: str, paths: list[str]) -> Path | None:
    """A module's source file, found as import would find it, without running any package's
    __init__ (find_spec on a dotted name imports its parents)."""
    search: list[str] | None = [*paths, *__import__("sys").path]
    spec = None
    parts = module.split(".")
    for depth in range(len(parts)):
        spec = PathFinder.find_spec(".".join(parts[: depth + 1]), search)
        if spec is None:
            return None
        search = list(spec.submodule_search_locations or [])
    origin = spec.origin if spec else None
    return Path(origin) if origin and origin.endswith(".py") else None


# -- what is completed -------------------------------------------------------------------------


def _items(values: dict[str, str] | list[str], incomplete: str, prefix: str = "") -> list[Any]:
    pairs = values.items() if isinstance(values, dict) else ((v, "") for v in values)
    return [
        CompletionItem(f"{prefix}{value}", help=about or None)
        for value, about in pairs
        if f"{prefix}{value}".startswith(incomplete)
    ]


def first_word(incomplete: str, config_dir: str | None = None) -> list[Any]:
    """Workflow ids and saved run definitions (then files: a run file, FILE.py)."""
    dirs = conf_dirs(config_dir)
    found = _workflow_items(dirs, incomplete)
    found += _items(group_options(dirs).get(PRESET_GROUP, []), incomplete)
    return found


def or_files(found: list[Any], incomplete: str) -> list[Any]:
    """What was found, or else the shell's own file names (a run file, FILE.py): bash drops
    every other completion once it is told to complete files."""
    return found or [CompletionItem(incomplete, type="file")]


def _workflow_items(dirs: list[Path], incomplete: str, prefix: str = "") -> list[Any]:
    """Workflow ids; once a `:` is typed, ID:VERSION for declared and registered versions."""
    versions: dict[str, list[str]] = {}
    found = dict(sorted(workflows(dirs, versions).items()))
    spec = incomplete[len(prefix) :]
    if ":" not in spec:
        return _items(found, incomplete, prefix)
    workflow_id = spec.partition(":")[0]
    registered = _store_ids(SNAPSHOTS, workflow_id) if workflow_id in found else []
    return _items(
        [f"{workflow_id}:{v}" for v in versions.get(workflow_id, [])]
        + [f"{workflow_id}:{item.value}" for item in registered],
        incomplete,
        prefix,
    )


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """A user's module may print as it is imported: nothing but completions reaches stdout."""
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        yield


def _params(target: str, config_dir: str | None) -> list[Any]:
    from runner import api

    with _quiet():
        return api.describe(target, config_dir=config_dir).workflow.params


def overrides(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    """`runner [run|show] TARGET OVERRIDES`: the target first; then `group=option`,
    `params.KEY=` (the target's params) and a param's values when they are few."""
    words = list(ctx.params.get(param.name or "args") or ())
    found = arguments(words, incomplete, ctx.params.get("config_dir"))
    return or_files(found, incomplete) if target_of(words) is None else found


def arguments(words: list[str], incomplete: str, config_dir: str | None = None) -> list[Any]:
    """What may follow WORDS, the arguments of `runner run` typed so far."""
    target = target_of(words)
    sign = incomplete[: len(incomplete) - len(incomplete.lstrip("+~"))]
    bare = incomplete[len(sign) :]
    key, sep, _value = bare.partition("=")
    if target is None and not sep and not sign:
        return first_word(incomplete, config_dir)
    dirs = conf_dirs(config_dir)
    groups = group_options(dirs)
    if sep:
        if key == WORKFLOW_GROUP:
            return _workflow_items(dirs, incomplete, f"{sign}{key}=")
        if key in groups:
            return _items(groups[key], incomplete, f"{sign}{key}=")
        if key.startswith("params.") and target:
            return _param_values(key[len("params.") :], target, config_dir, incomplete)
        return []
    found = [
        CompletionItem(f"{sign}{group}={option}")
        for group, options in groups.items()
        for option in options
        if group != WORKFLOW_GROUP and f"{sign}{group}={option}".startswith(incomplete)
    ]
    if target and ("params.".startswith(bare) or bare.startswith("params.")):
        keys = [
            (f"{sign}params.{p.name}=", p)
            for p in _params(target, config_dir)
            if f"{sign}params.{p.name}=".startswith(incomplete)
        ]
        found += [CompletionItem(key, help=p.description or p.type) for key, p in keys]
        if len(keys) == 1 and keys[0][1].has_default:
            # With its default as a second choice, a shell completes the key without the
            # space it puts after a word it completed whole (bash has no other way).
            key, param = keys[0]
            found.append(CompletionItem(f"{key}{_json(param.default)}", help="its default"))
    return found


def _param_values(name: str, target: str, config_dir: str | None, incomplete: str) -> list[Any]:
    for param in _params(target, config_dir):
        if param.name != name:
            continue
        if "enum" in param.schema:
            choices = [str(c) if isinstance(c, str) else _json(c) for c in param.schema["enum"]]
        elif param.type == "boolean":
            choices = ["true", "false"]
        else:
            choices = [_json(param.default)] if param.has_default else []
        return _items(choices, incomplete, f"{incomplete.partition('=')[0]}=")
    return []


def _json(value: Any) -> str:
    import json

    return value if isinstance(value, str) else json.dumps(value)


def _store_ids(query: str, given: str) -> list[Any]:
    """Ids from the store starting with `given` (SNAPSHOTS: the registered versions of the
    workflow id `given`), most recent first, read-only; none when there is no store."""
    import sqlite3

    from runner import api

    path = api.store_path()
    if not path.is_file() or any(mark in given for mark in "*?[]"):
        return []
    try:
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
            rows = db.execute(query, (given, RECENT)).fetchall()
    except sqlite3.Error:
        return []  # a store `runner store check` would report: nothing to offer
    return [CompletionItem(str(ident), help=str(about)) for ident, about in rows]


LAUNCHES = (
    "SELECT id, workflow_id || coalesce(' ' || name, '') FROM launches"
    " WHERE id GLOB ? || '*' ORDER BY created DESC LIMIT ?"
)
SNAPSHOTS = (
    "SELECT version, 'registered' FROM snapshots WHERE workflow_id = ?"
    " ORDER BY created DESC LIMIT ?"
)
RUNS = (
    "SELECT runs.id, 'run of ' || launches.workflow_id FROM runs"
    " JOIN launches ON launches.id = runs.launch_id WHERE runs.id GLOB ? || '*'"
    " ORDER BY runs.rowid DESC LIMIT ?"
)


def workflow_ids(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    """Workflow ids (and ID:VERSION once a `:` is typed)."""
    return _workflow_items(conf_dirs(ctx.params.get("config_dir")), incomplete)


def launch_ids(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    """Recent launch ids starting with what is typed."""
    return _store_ids(LAUNCHES, incomplete)


def run_ids(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    """Recent run ids starting with what is typed."""
    return _store_ids(RUNS, incomplete)


def any_ids(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    """Recent launch ids, then recent run ids (commands that take either)."""
    return _store_ids(LAUNCHES, incomplete) + _store_ids(RUNS, incomplete)


def first_word_or_override(incomplete: str) -> list[Any]:
    """`runner WORD<TAB>`, besides the commands click completes: what `runner run` takes."""
    try:
        return arguments([], incomplete)
    except Exception:  # a TAB never prints an error
        return []


def guarded(
    complete: Callable[[click.Context, click.Parameter, str], list[Any]],
) -> Callable[[click.Context, click.Parameter, str], list[Any]]:
    """A TAB never prints an error: a project that does not compose offers nothing."""

    def safe(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
        try:
            return complete(ctx, param, incomplete)
        except Exception:
            return []

    return safe


class RunnerBashComplete(BashComplete):
    """bash splits a word at `=` and `:` (COMP_WORDBREAKS) before click sees it:
    `launcher=lo` arrives as `launcher`, `=`, `lo`. The pieces are joined again so the word
    is completed whole, and each completion is handed back from where bash's own current
    word starts (after the last `=` or `:`), which is the text bash replaces."""

    before = ""

    def get_completion_args(self) -> tuple[list[str], str]:
        args, incomplete = super().get_completion_args()
        words: list[str] = []
        glue = False
        for word in [*args, incomplete]:
            # (an empty last word after `=` is a new word: a space was typed after the `=`)
            if words and ((glue and word) or word in WORD_BREAKS):
                words[-1] += word
            else:
                words.append(word)
            glue = word in WORD_BREAKS
        whole = words.pop()
        # What bash replaces is the text after the last break; a completion of the whole
        # word (`launcher=local`) is handed back without what comes before it.
        self.before = whole[: max(whole.rfind(mark) for mark in WORD_BREAKS) + 1]
        return words, whole

    def format_completion(self, item: CompletionItem) -> str:
        if self.before and item.type == "plain" and item.value.startswith(self.before):
            item = CompletionItem(item.value[len(self.before) :], type=item.type, help=item.help)
        return super().format_completion(item)


add_completion_class(RunnerBashComplete, "bash")
