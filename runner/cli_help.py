"""`runner WORKFLOW --help`: the workflow's own params (name, type, default, description) and
a usage line with a real example, above the general options of the command."""

from __future__ import annotations

import contextlib
import dataclasses
import math
import shlex
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from runner.printable import clean

if TYPE_CHECKING:
    from runner.catalog import Described, Param, PresetInfo, WorkflowInfo

HELP_WORDS = ("-h", "--help")


def wants_help(args: list[str] | tuple[str, ...]) -> bool:
    return any(arg in HELP_WORDS for arg in args)


def show(ctx: click.Context, command: click.Command, args: list[str]) -> None:
    """`runner [run] TARGET ... --help` (`command` is run, or run-file for FILE.py WORKFLOW):
    print what the target is, its params and examples, then the command's options, and exit.
    Without a target (or for a run file) it returns, and the command's own help follows."""
    sub = click.Context(command, info_name=command.name, parent=ctx, **command.context_settings)
    parser = command.make_parser(sub)
    parser.ignore_unknown_options = True
    try:
        options, _, _ = parser.parse_args(args=list(args))  # click's parse; nothing runs
    except click.UsageError:
        return
    config_dir, words = options.get("config_dir"), options.get("args")
    config_dir = config_dir if isinstance(config_dir, str) else None
    words = list(words) if isinstance(words, list | tuple) else []  # else click's "not given"
    formatter = sub.make_formatter()
    if command.name == "run-file":
        if len(words) < 2 or not wants_help(words[2:]):
            return
        _file_help(sub, formatter, words[0], words[1])
    else:
        target = target_of(words)
        if target is None or Path(target).suffix in (".yaml", ".yml", ".json"):
            return  # a run file: the command's own help
        from runner import api

        described = api.describe(target, config_dir=config_dir)
        write(formatter, described, prog=f"{ctx.info_name} {target}")
    command.format_options(sub, formatter)
    command.format_epilog(sub, formatter)
    click.echo(formatter.getvalue().rstrip("\n"))
    ctx.exit(0)


def target_of(words: list[str]) -> str | None:
    """What the arguments of `runner run` launch: the first that is not an override or an
    option (a workflow, a saved run definition, a run file), or the value of a
    `workflow=`/`+workflow=` or `+run=` override."""
    for arg in words:
        key, sep, value = arg.lstrip("+").partition("=")
        if sep and key in ("workflow", "run") and value:
            return value
        if not sep and not arg.startswith(("~", "+", "-")):
            return arg
    return None


def _file_help(ctx: click.Context, formatter: click.HelpFormatter, file: str, name: str) -> None:
    """FILE.py WORKFLOW: the workflow's params and examples, then its inputs' options."""
    from runner import api, cli_file

    path = Path(file)
    _, found = api.workflows_in(path)
    workflow = api.pick_workflow(path, found, name)
    prog = f"{ctx.find_root().info_name} {file} {name}"
    write(formatter, api.Described(api.describe_workflow(workflow)), prog=prog)
    records = [
        record
        for param in cli_file.input_command(workflow).get_params(ctx)
        if param.name != "help" and (record := param.get_help_record(ctx))
    ]
    with formatter.section("Inputs (or params.NAME=VALUE; a trailing - reads them from stdin)"):
        formatter.write_dl(records)


def write(formatter: click.HelpFormatter, described: Described, *, prog: str) -> None:
    """The usage line, what the target is, its params as a table, and an example."""
    info, preset = described.workflow, described.preset
    formatter.write_usage(prog, "[params.NAME=VALUE...] [OVERRIDES...] [OPTIONS]")
    formatter.write_paragraph()
    formatter.write(render(info, preset, prog=prog, width=formatter.width or 80))


def render(info: WorkflowInfo, preset: PresetInfo | None, *, prog: str, width: int) -> str:
    """The workflow's section of the help as plain text, at most `width` columns."""
    import io

    from rich import box
    from rich.console import Console
    from rich.padding import Padding
    from rich.table import Table
    from rich.text import Text

    out = io.StringIO()
    console = Console(file=out, width=width, color_system=None, highlight=False, soft_wrap=False)

    def say(text: str = "", indent: int = 2) -> None:
        console.print(Padding(Text(text), (0, 0, 0, indent)))

    if preset is not None:
        say(f"{preset.label or preset.name}: launches workflow {preset.workflow} and sets:")
        sweep = preset.fields.get("sweep") or {}
        for key, value in _flat({k: v for k, v in preset.fields.items() if k != "sweep"}):
            say(f"{key}: {clean(value)}", indent=4)
        for key, value in sweep.items() if isinstance(sweep, dict) else ():
            say(f"{key}: {clean(value)}  (a sweep)", indent=4)
        say()
    if info.description:
        say(clean(info.description))
        say()
    say(f"Workflow {info.id}:{info.version} ({_where(info)})")
    if info.error:
        say(f"its params are unknown: {info.error}")
    say()
    set_here = (preset.fields.get("params") or {}) if preset is not None else {}
    if info.params:
        say("Params (set with params.NAME=VALUE; a comma list sweeps: params.NAME=1,2):")
        table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False, expand=False)
        table.add_column("name", no_wrap=True)
        table.add_column("type", overflow="fold")
        table.add_column("default", overflow="fold", max_width=24)
        table.add_column("description", overflow="fold", ratio=1)
        for param in info.params:
            default = clean(param.default) if param.has_default else "required"
            swept = (preset.fields.get("sweep") or {}) if preset is not None else {}
            if isinstance(swept, dict) and f"params.{param.name}" in swept:
                default = f"{clean(swept[f'params.{param.name}'])} (swept)"
            elif isinstance(set_here, dict) and param.name in set_here:
                default = f"{clean(set_here[param.name])} (set by {preset.name})"  # type: ignore[union-attr]
            table.add_row(
                Text(clean(param.name)),
                Text(_type(param)),
                Text(default),
                Text(clean(param.description)),
            )
        console.print(Padding(table, (0, 0, 0, 2)))
        say()
    elif not info.error:
        say("Params: none")
        say()
    if preset is not None:  # examples start from what the preset sets
        info = dataclasses.replace(info, params=[_preset_default(p, set_here) for p in info.params])
    say("Examples:")
    say(example(info, prog), indent=4)
    sweep = sweep_example(info, prog)
    if sweep:
        say(f"{sweep}    # a sweep", indent=4)
    return "\n".join(line.rstrip() for line in out.getvalue().splitlines()) + "\n"


def _preset_default(param: Param, set_here: Any) -> Param:
    if not isinstance(set_here, dict) or param.name not in set_here:
        return param
    return dataclasses.replace(param, default=set_here[param.name], has_default=True)


def _flat(fields: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    rows: list[tuple[str, Any]] = []
    for key, value in fields.items():
        if isinstance(value, dict) and value:
            rows.extend(_flat(value, f"{prefix}{key}."))
        else:
            rows.append((f"{prefix}{key}", value))
    return rows


def _where(info: WorkflowInfo) -> str:
    source = info.source
    with contextlib.suppress(ValueError):
        source = str(Path(source).relative_to(Path.cwd()))
    where = f"{source}:{info.line}" if info.line else source
    if info.kind == "python":
        return f"@runner.workflow in {clean(where)}"
    if source.startswith("registered "):
        return clean(where)
    return f"declared in {clean(where)}"


def _type(param: Param) -> str:
    if "enum" in param.schema:
        return " | ".join(clean(choice) for choice in param.schema["enum"])
    return param.type


def example_value(param: Param) -> Any:
    """A plausible value other than the default, within the schema's bounds."""
    schema, default = param.schema, param.default if param.has_default else None
    if schema.get("enum"):
        others = [choice for choice in schema["enum"] if choice != default]
        return (others or schema["enum"])[0]
    kind = param.type
    if kind == "boolean":
        return not default if isinstance(default, bool) else True
    if kind in ("integer", "number"):
        if isinstance(default, int | float) and math.isfinite(default):
            start = default
            candidates = [start * 10, start + 1, schema.get("minimum"), schema.get("maximum")]
        else:
            start = 1
            candidates = [1, schema.get("minimum"), schema.get("maximum"), 0]
        for value in candidates:
            if isinstance(value, bool) or not isinstance(value, int | float) or value == default:
                continue
            if "minimum" in schema and value < schema["minimum"]:
                continue
            if "maximum" in schema and value > schema["maximum"]:
                continue
            return float(value) if kind == "number" and isinstance(value, int) else value
        return start
    if kind == "string":
        return default if isinstance(default, str) and default else "text"
    return default


def _override(param: Param, value: Any) -> str:
    text = value if isinstance(value, str) else clean(value)
    return shlex.quote(f"params.{param.name}={text}")


def example(info: WorkflowInfo, prog: str) -> str:
    """`runner ID params.a=... params.b=...`: its required params and up to two others."""
    scalar = ("integer", "number", "string", "boolean", "enum")
    required = [p for p in info.params if p.required]
    others = [p for p in info.params if not p.required and p.type in scalar][:2]
    chosen = (required + others)[: max(3, len(required))]
    return " ".join([prog, *(_override(p, example_value(p)) for p in chosen)])


def sweep_example(info: WorkflowInfo, prog: str) -> str | None:
    """A sweep over the first numeric or enum param, its required ones set."""
    for param in info.params:
        if param.type in ("integer", "number", "enum"):
            first = param.default if param.has_default else example_value(param)
            second = example_value(param)
            if first == second or not isinstance(first, int | float | str):
                continue
            values = f"{clean(first)},{clean(second)}"
            rest = [
                _override(p, example_value(p)) for p in info.params if p.required and p != param
            ]
            return " ".join([prog, shlex.quote(f"params.{param.name}={values}"), *rest])
    return None
