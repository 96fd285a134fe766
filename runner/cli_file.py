"""`runner run FILE.py [WORKFLOW [INPUTS...]]`: a Python file's workflows, with one option per
parameter of the chosen one, as `pyflyte run` has them (without its bugs)."""

from __future__ import annotations

import enum
import inspect
import re
import types
import typing
from collections.abc import Callable, Collection
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from runner.api import (
    INJECTED,
    InputError,
    from_text,
    hints,
    json_form,
    precedence,
    read_inputs_file,
    read_stdin,
    resolve_entrypoint,
    to_json_value,
)
from runner.errors import DefinitionError, UsageError
from runner.printable import clean

if TYPE_CHECKING:
    from runner.entrypoints import Workflow

STDIN = "-"


def list_workflows(path: Path, found: list[Workflow]) -> None:
    if not found:
        click.echo(f"{path}: no workflows (decorate a function with @runner.workflow)")
        return
    width = max(len(w.id) for w in found)
    for workflow in found:
        click.echo(clean(f"workflow  {workflow.id:<{width}}  {workflow.description}"))


def inputs_of(
    workflow: Workflow, args: list[str], prog: str, run_options: Collection[str] = ()
) -> tuple[dict[str, Any], list[str]]:
    """The workflow's inputs, in their JSON form, and the Hydra overrides among the arguments.

    Signature defaults are left to the definition; then the inputs file, stdin (`-`), and the
    options, each above the last. The overrides (`params.C=10`, `params.C=0.1,1`, `repeat=3`,
    `~params.x`, `+params.y=1`) go to the composer as a declared workflow's do, above them all.
    """
    func = resolve_entrypoint(workflow.entrypoint)
    command = _command(func, workflow)
    try:
        with command.make_context(prog, list(args)) as ctx:
            given = dict(ctx.params)
    except click.exceptions.Exit as done:  # --help
        raise SystemExit(done.exit_code) from None
    except click.NoSuchOption as exc:
        hint = None
        if exc.option_name in run_options:  # `runner f.py wf -q`: runner's own, misplaced
            hint = f"{exc.option_name} is an option of runner run: give it before the file"
        raise DefinitionError(f"{prog}: {exc.format_message()}", hint=hint) from None
    except click.ClickException as exc:
        raise DefinitionError(f"{prog}: {exc.format_message()}") from None
    stdin, overrides = _positionals(given.pop("rest"), _parameters(func), prog)
    if stdin:
        given["stdin"] = STDIN

    annotations = hints(func)
    parameters = _parameters(func)
    problems: list[str] = []
    values: dict[str, Any] = {}
    layers: list[tuple[str, dict[str, Any]]] = []
    inputs_file = given.pop("inputs_file", None)
    if inputs_file:
        label = f"inputs file {inputs_file}"
        layers.append((label, _read(lambda: read_inputs_file(inputs_file, label))))
    if given.pop("stdin", None) == STDIN:
        layers.append(("stdin", _read(read_stdin)))
    for label, layer in layers:
        for key, value in layer.items():
            name = key.replace("-", "_") if key not in parameters else key
            if name not in parameters:
                problems.append(f"{label}: unknown input '{key}'; inputs: {', '.join(parameters)}")
                continue
            try:
                values[name] = json_form(value, annotations.get(name, Any))
            except InputError as exc:
                problems.append(f"--{name}: {value!r} (from {label}) is not {exc}")
    for name, value in given.items():
        if value is None:
            continue
        try:
            values[name] = (
                value if isinstance(value, bool) else from_text(value, annotations.get(name, Any))
            )
        except InputError as exc:
            problems.append(f"--{name}: {value!r} is not {exc}")
    missing = [
        f"--{name}"
        for name, param in parameters.items()
        if param.default is inspect.Parameter.empty and name not in values
    ]
    missing = [m for m in missing if not _overridden(m[2:], overrides)]
    if missing:
        problems.append(
            f"missing required input{'s' if len(missing) > 1 else ''}: {', '.join(missing)}"
        )
    if problems:
        raise DefinitionError(f"invalid inputs for {workflow.id}:", problems=problems)
    return values, overrides


def _positionals(
    args: tuple[str, ...], parameters: dict[str, inspect.Parameter], prog: str
) -> tuple[bool, list[str]]:
    """(whether `-` asked for stdin, the overrides) of the arguments after the options: an
    override names a params key (`params.C=10`) or a run definition field (`repeat=3`), as
    for a declared workflow; any other word is refused, by name."""
    from runner.api import builtin_schema

    # The entity is the workflow: every other field of a run definition may be overridden.
    fields = set(builtin_schema("run.schema.json")["properties"]) - {"workflow"}
    stdin = False
    overrides: list[str] = []
    for arg in args:
        key = arg.lstrip("~+").split("=", 1)[0]
        if arg == STDIN and not stdin:
            stdin = True
        elif ("=" in arg or arg.startswith("~")) and key.split(".")[0] in fields:
            overrides.append(arg)
        else:
            raise UsageError(
                f"{prog}: unexpected argument '{arg}'", hint=_stray_hint(arg, key, parameters)
            )
    return stdin, overrides


def _stray_hint(arg: str, key: str, parameters: dict[str, inspect.Parameter]) -> str:
    if arg == STDIN:
        return "stdin (-) is read once"
    if key in parameters or key.replace("-", "_") in parameters:
        value = arg.split("=", 1)[1] if "=" in arg else "VALUE"
        return f"did you mean params.{key}={value}? (or --{key} {value})"
    return (
        "after the workflow come its inputs (--NAME VALUE, --inputs-file FILE, - for stdin)"
        " and overrides (params.NAME=VALUE, sweeps params.NAME=a,b, repeat=N)"
    )


def _overridden(name: str, overrides: list[str]) -> bool:
    """Whether an override sets the params key `name` (a required input given that way)."""
    return any(o.lstrip("+").split("=", 1)[0] == f"params.{name}" for o in overrides if "=" in o)


def _read(reader: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    try:
        return reader()
    except InputError as exc:
        raise DefinitionError(str(exc)) from None


def _parameters(func: Any) -> dict[str, inspect.Parameter]:
    return {
        name: param
        for name, param in inspect.signature(func).parameters.items()
        if name not in INJECTED
        and param.kind not in (inspect.Parameter.VAR_KEYWORD, inspect.Parameter.VAR_POSITIONAL)
    }


class _InputOption(click.Option):
    """An input's option: `--help` shows one spelling, the parameter's own name (and
    `--no-` before it for a boolean); the others users type work too (`aliases`, `negations`:
    dashes for underscores, `--no_x`), as pyflyte's users write both."""

    def __init__(
        self, decls: list[str], aliases: list[str], negations: list[str], **kwargs: Any
    ) -> None:
        super().__init__(decls, **kwargs)
        self.shown = " / ".join(
            ", ".join(spellings) for spellings in (self.opts, self.secondary_opts) if spellings
        )
        # Added once built: click would show every declared spelling, and warns about an
        # `--on/--off` pair repeated to declare a second off spelling.
        self.opts += [alias for alias in aliases if alias not in self.opts]
        self.secondary_opts += [no for no in negations if no not in self.secondary_opts]

    def get_help_record(self, ctx: click.Context) -> tuple[str, str] | None:
        record = super().get_help_record(ctx)
        if record is None:
            return None
        metavar = "" if self.is_flag else f" {self.make_metavar(ctx)}"
        return f"{self.shown}{metavar}", record[1]


def _input_option(name: str, annotation: Any, shown: str) -> click.Option:
    dashed = name.replace("_", "-")
    if annotation is bool or annotation == bool | None:
        return _InputOption(
            [f"--{name}/--no-{name}", name],
            [f"--{dashed}"],
            [f"--no_{name}", f"--no-{dashed}"],
            default=None,
            help=f"boolean {shown}",
        )
    return _InputOption(
        [f"--{name}", name], [f"--{dashed}"], [], default=None, help=f"{_label(annotation)} {shown}"
    )


def _command(func: Any, workflow: Workflow) -> click.Command:
    from runner.results import NULL  # a default of None, as overrides write it

    annotations = hints(func)
    options: list[click.Parameter] = []
    for name, param in _parameters(func).items():
        annotation = annotations.get(name, param.annotation)
        if typing.get_origin(annotation) is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        required = param.default is inspect.Parameter.empty
        default = None if required else to_json_value(param.default)
        shown = "[required]" if required else f"[default: {NULL if default is None else default}]"
        # The name is given explicitly so that it keeps its case: click lower-cases one it derives.
        options.append(_input_option(name, annotation, shown))
    options.append(
        click.Option(
            ["--inputs-file", "inputs_file"],
            type=click.Path(exists=True, dir_okay=False),
            help="YAML or JSON file of inputs (below stdin and options).",
        )
    )
    options.append(click.Argument(["rest"], nargs=-1, metavar="[OVERRIDES]... [-]"))
    return click.Command(
        workflow.id, params=options, help=workflow.description, add_help_option=True
    )


def _label(annotation: Any) -> str:
    if annotation is inspect.Parameter.empty:
        return "any"
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        # Members in the order they are tried, so that --help tells which one a value gets.
        members = [_short(member) for member in precedence(args)]
        return " | ".join(members + (["None"] if type(None) in args else []))
    if origin is typing.Literal:
        return "one of " + ", ".join(map(str, args))
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return "one of " + ", ".join(str(member.value) for member in annotation)
    return _short(annotation)


def _short(annotation: Any) -> str:
    """A type as a user reads it: `datetime`, `Path`, `list[int]`, `'a' | 'b'` (a Literal)."""
    if typing.get_origin(annotation) is typing.Literal:
        return " | ".join(repr(choice) for choice in typing.get_args(annotation))
    if isinstance(annotation, type) and not typing.get_args(annotation):
        return annotation.__qualname__
    return re.sub(r"\b[\w.]+\.(\w+)", r"\1", str(annotation)).replace("NoneType", "None")


def input_command(workflow: Workflow) -> click.Command:
    """The command that reads a file's workflow's inputs: one option per parameter."""
    return _command(resolve_entrypoint(workflow.entrypoint), workflow)
