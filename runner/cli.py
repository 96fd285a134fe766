"""The `runner` command: a thin client of runner.api that renders what comes back."""

from __future__ import annotations

import gc
import os
import re
import signal
import sys
import traceback
from collections.abc import Sequence
from typing import Any

import click

from runner import cli_completion as completion
from runner import cli_help
from runner.errors import EXIT_CODES, LaunchCancelled, RunnerError, RunsFailed, UsageError
from runner.pipes import survive_closed_readers
from runner.printable import clean_lines, clipped

# Accio spells its options with one dash (-name=x -json); these are rewritten to --name=x.
ACCIO_OPTIONS = (
    "name",
    "tags",
    "notes",
    "repeat",
    "seed",
    "params",
    "addr",
    "json",
    "labels",
    "timeout",
    "retries",
)
_ACCIO = re.compile(rf"^-({'|'.join(ACCIO_OPTIONS)})(=.*)?$")
# k=v pairs separated by commas: split only at a comma that starts a new `key=`.
_PAIR_SPLIT = re.compile(r",(?=[A-Za-z_][\w.\-]*=)")

# `runner compare` builds its table in memory (sorting and grouping need every row): past
# this many runs it refuses, naming the commands that page or stream instead.
COMPARE_RUNS = 200_000

EPILOG = "Exit codes:\n\n" + "\n\n".join(f"  {code}  {text}" for code, text in EXIT_CODES.items())


class FiniteFloat(click.FloatRange):
    """A number of seconds: nan and inf pass click's range check (every comparison with nan is
    false) but no clock can wait them."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        import math

        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return number


class DefaultRunGroup(click.Group):
    """`runner ARGS` means `runner run ARGS` unless ARGS starts with a command name."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not args and ctx.resilient_parsing:  # completing the first word
            return super().parse_args(ctx, args)
        if not args:
            click.echo(ctx.get_help())
            ctx.exit(0)
        if args[0] not in self.commands and args[0] not in ("--help", "-h", "--version"):
            args = ["run", *args]
        if args[0] == "run" and any(_is_python_file(arg) for arg in args[1:]):
            args = ["run-file", *args[1:]]
        if args[0] in ("run", "run-file") and cli_help.wants_help(args[1:]):
            cli_help.show(ctx, self.commands[args[0]], args[1:])  # a workflow's own help
        return super().parse_args(ctx, args)

    def shell_complete(self, ctx: click.Context, incomplete: str) -> list[Any]:
        """The first word: a command, or what `runner run` takes first (a workflow id, a saved
        run definition, a file)."""
        found = super().shell_complete(ctx, incomplete)
        if not incomplete.startswith("-"):
            found += completion.first_word_or_override(incomplete)
        return completion.or_files(found, incomplete)


class DefinitionCommand(click.Command):
    """A command that composes a run definition (run, show): an option it does not have that
    is one of the workflow's params (`--C 10`) is answered with the override that sets it."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        given = list(args)  # click's parser consumes the list it is given
        try:
            return super().parse_args(ctx, args)
        except click.NoSuchOption as exc:
            hint = _param_hint(self, ctx, given, exc.option_name)
            if hint is None:
                raise
            raise UsageError(f"no such option '{exc.option_name}': {hint}") from None


def _param_hint(
    command: click.Command, ctx: click.Context, args: list[str], option: str
) -> str | None:
    """`C is a param of 'digits': did you mean params.C=10?` when `option` (--C) names one
    of the params of the workflow the arguments target; else None. The arguments are parsed
    again by click, unknown options kept, to find the target and --config-dir."""
    from runner import api

    again = click.Context(
        command, info_name=ctx.info_name, parent=ctx.parent, ignore_unknown_options=True
    )
    try:
        click.Command.parse_args(command, again, list(args))
        words = [w for w in again.params.get("args", ()) if not w.startswith("-")]
        target, _ = _split_args(tuple(w for w in words if "=" in w or w == words[0]))
        if target is None:
            return None
        schema = api.params_schema(target, config_dir=again.params.get("config_dir"))
    except Exception:  # a hint at best: click's own message stands
        return None
    name = option.lstrip("-")
    params = schema.get("properties", {})
    for key in (name, name.replace("-", "_")):
        if key in params:
            at = args.index(option) if option in args else -1
            given = [a for a in args if a.startswith(f"{option}=")]
            if given:
                value = given[0].split("=", 1)[1]
            elif 0 <= at < len(args) - 1 and not args[at + 1].startswith("-"):
                value = args[at + 1]
            else:
                value = "VALUE"
            return (
                f"{key} is a param of '{target.split(':')[0]}': did you mean params.{key}={value}?"
            )
    return None


def _is_python_file(arg: str) -> bool:
    return arg.endswith(".py") and not arg.startswith("-") and "=" not in arg


COMPLETION_EPILOG = """\b
Shell completion:
  eval "$(_RUNNER_COMPLETE=bash_source runner)"   in ~/.bashrc
  eval "$(_RUNNER_COMPLETE=zsh_source runner)"    in ~/.zshrc
  _RUNNER_COMPLETE=fish_source runner | source    in config.fish"""


@click.group(
    cls=DefaultRunGroup,
    epilog=EPILOG + "\n\n" + COMPLETION_EPILOG,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.version_option(package_name="runner-launch", prog_name="runner")
def cli() -> None:
    """Launch Python workflows from declarative Hydra configs.

    \b
      runner +workflow=pi params.samples=1000       one run
      runner pi params.samples=1000,10000 --repeat 3  a sweep, three runs per point
      runner run.yaml --seed 42                     a run file (YAML or JSON)
      runner status                                 what ran, most recent first
    """


def _definition_options(func: Any) -> Any:
    options = [
        click.option(
            "--config-dir",
            type=click.Path(file_okay=False),
            help="Project config dir (default: RUNNER_CONFIG_DIR, then ./conf).",
        ),
        click.option("--name", help="Run name."),
        click.option(
            "--tags",
            multiple=True,
            help="Run tags, comma-separated or repeated (--tags a --tags b).",
        ),
        click.option("--notes", help="Run notes."),
        click.option("--repeat", help="How many times to run each sweep point."),
        click.option("--seed", help="Launch seed (64-bit); drawn and recorded when absent."),
        click.option(
            "--params", "params", multiple=True, help="Params as k=v[,k=v...] (Accio's -params)."
        ),
        click.option("--labels", multiple=True, help="Labels k=v[,k=v...], kept with every run."),
        click.option("--annotations", multiple=True, help="Annotations k=v[,k=v...]."),
        click.option(
            "--env", multiple=True, help="NAME=VALUE set in each run's own process (repeatable)."
        ),
        click.option(
            "--max-parallelism",
            type=click.IntRange(min=1),
            help="Runs at once (default: all cores).",
        ),
        click.option(
            "--max-runs",
            type=click.IntRange(min=1),
            help="Refuse a launch of more runs than this (default 1,000,000; RUNNER_MAX_RUNS).",
        ),
        click.option(
            "--addr",
            envvar="RUNNER_ADDR",
            help="A Dask scheduler (tcp://HOST:8786): the runs go to its workers (RUNNER_ADDR).",
        ),
        click.option(
            "--copy",
            type=click.Choice(["auto", "all"]),
            help="With --addr, the code shipped to the workers: the workflow's package (auto,"
            " the default) or the whole project root (all).",
        ),
        click.option(
            "--timeout", help="Seconds a run may take; past it, it is stopped as timed_out."
        ),
        click.option("--retries", help="Further attempts after a failure, with the same seed."),
        click.option(
            "--cache/--no-cache",
            default=None,
            help="Reuse the result of an earlier run of the same workflow version and code (a"
            " hash of its package's source, or its registered version), params and seed.",
        ),
        click.option(
            "-m",
            "--multirun",
            is_flag=True,
            help="Accepted for Hydra habits: a comma list sweeps anyway.",
        ),
        click.option(
            "--inputs-file",
            type=click.Path(exists=True, dir_okay=False),
            help="Params from a YAML or JSON file (above run files, below overrides).",
        ),
        click.option("--dump-snippet", is_flag=True, help="Print Python that loads this launch."),
        click.option(
            "--wait/--no-wait",
            default=True,
            help="Wait for the runs (the default); --no-wait is --detach.",
        ),
        click.option("--json", "as_json", is_flag=True, help="Print pretty JSON."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _launch_options(func: Any) -> Any:
    """The definition's options plus those of a launch that runs (run, run-file)."""
    func = click.option(
        "--detach",
        is_flag=True,
        help="Return once the runs are recorded; a background process runs them"
        " (runner wait / runner cancel ID).",
    )(func)
    func = click.option(
        "--overwrite-cache", is_flag=True, help="Run even when an identical run is cached."
    )(func)
    func = click.option(
        "--fail-fast", is_flag=True, help="Start no further run after the first failure."
    )(func)
    func = click.option(
        "-q", "--quiet", is_flag=True, help="Print only run ids, one per line, parent first."
    )(func)
    func = _watch_option(func)
    return _definition_options(func)


def _watch_option(func: Any) -> Any:
    return click.option(
        "--watch",
        metavar="KEY",
        help="Under the live progress, metric KEY (runner.log) as the runs log it: the lowest"
        " and the highest last value of the runs, and which.",
    )(func)


@cli.command(cls=DefinitionCommand, epilog=EPILOG)
@click.argument("args", nargs=-1, shell_complete=completion.guarded(completion.overrides))
@_launch_options
def run(
    args: tuple[str, ...],
    quiet: bool,
    as_json: bool,
    config_dir: str | None,
    fail_fast: bool,
    overwrite_cache: bool,
    **options: Any,
) -> None:
    """Launch TARGET: a run file, WORKFLOW[:VERSION], or a saved run definition.

    \b
    runner [run] [RUN_FILE | WORKFLOW[:VERSION] | PRESET] [OVERRIDES...] [OPTIONS]

    Overrides use Hydra's grammar: params.a=1, params.a=1,2,3 (a sweep), params.a=range(0,10),
    +workflow=ID, launcher=threads, ~params.b. Precedence, lowest to highest: workflow defaults <
    saved run definition < run file < overrides and options.
    """
    dump_snippet = options.pop("dump_snippet")
    detach = options.pop("detach") or not options["wait"]
    watch = options.pop("watch")
    target, overrides, values = _request(args, options)
    _launched(
        quiet=quiet,
        as_json=as_json,
        dump_snippet=dump_snippet,
        detach=detach,
        watch=watch,
        target=target,
        overrides=overrides,
        config_dir=config_dir,
        fail_fast=fail_fast,
        overwrite_cache=overwrite_cache,
        **values,
    )


@cli.command(
    name="run-file",
    hidden=True,
    epilog=EPILOG,
    context_settings={"allow_interspersed_args": False, "ignore_unknown_options": True},
)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
@_launch_options
def run_file(
    args: tuple[str, ...],
    quiet: bool,
    as_json: bool,
    config_dir: str | None,
    fail_fast: bool,
    overwrite_cache: bool,
    **options: Any,
) -> None:
    """runner [run] [OPTIONS] FILE.py [WORKFLOW [INPUTS...]]: list a file's workflows, or run one.

    INPUTS are one option per parameter of WORKFLOW (see `runner run FILE.py WORKFLOW --help`),
    --inputs-file FILE, `-` to read YAML/JSON inputs from stdin, and Hydra overrides as for a
    declared workflow: params.C=10, params.C=0.1,1 (a sweep), repeat=3. Precedence, lowest to
    highest: signature defaults < inputs file < stdin < options < overrides.
    """
    from pathlib import Path

    from runner import api, cli_file

    path, rest = Path(args[0]), list(args[1:])
    root, found = api.workflows_in(path)
    if not rest:
        cli_file.list_workflows(path, found)
        return
    workflow = api.pick_workflow(path, found, rest[0])
    own = click.get_current_context().command.params
    inputs, overrides = cli_file.inputs_of(
        workflow,
        rest[1:],
        prog=f"runner run {path} {rest[0]}",
        run_options={opt for param in own for opt in [*param.opts, *param.secondary_opts]},
    )
    dump_snippet = options.pop("dump_snippet")
    detach = options.pop("detach") or not options["wait"]
    watch = options.pop("watch")
    _, option_overrides, values = _request((), options)  # --copy is an override
    _launched(
        quiet=quiet,
        as_json=as_json,
        dump_snippet=dump_snippet,
        detach=detach,
        watch=watch,
        config_dir=config_dir,
        root=root,
        workflow=workflow,
        overrides=[*option_overrides, *overrides],
        inputs=inputs,
        inputs_label=f"the inputs given to {workflow.id}",
        fail_fast=fail_fast,
        overwrite_cache=overwrite_cache,
        **values,
    )


@cli.command(epilog=EPILOG)
@click.argument("launch_id", shell_complete=completion.guarded(completion.launch_ids))
@click.option("-q", "--quiet", is_flag=True, help="Print only run ids.")
@click.option("--json", "as_json", is_flag=True, help="Print pretty JSON.")
def resume(launch_id: str, quiet: bool, as_json: bool) -> None:
    """Run the runs of LAUNCH_ID that did not succeed again, with their params and seeds."""
    from runner import api

    _watched(api.resume, launch_id, quiet=quiet, as_json=as_json)


@cli.command(epilog=EPILOG)
@click.argument("run_id", shell_complete=completion.guarded(completion.run_ids))
@click.option("-q", "--quiet", is_flag=True, help="Print only the new run's id.")
@click.option("--json", "as_json", is_flag=True, help="Print pretty JSON.")
def rerun(run_id: str, quiet: bool, as_json: bool) -> None:
    """Reproduce RUN_ID (same workflow version, params and seed) as a new run."""
    from runner import api

    _watched(api.rerun, run_id, quiet=quiet, as_json=as_json)


@cli.command(epilog=EPILOG)
@click.argument("run_id", shell_complete=completion.guarded(completion.any_ids))
@click.option(
    "-f", "--follow", is_flag=True, help="Keep printing while the run (a launch's first) runs."
)
def logs(run_id: str, follow: bool) -> None:
    """Print a run's log: its stdout, stderr and logging output. For a launch of several
    runs, the log of each run that printed something, in plan order, under a
    `==> run ID (status) <==` line, streamed."""
    import time

    from runner import api

    launch = None if follow else api.launch_logs(run_id)
    if launch is not None:
        _launch_logs(*launch)
        return
    run, path = api.log_path(run_id)
    offset = 0
    while True:
        if path.exists():
            with open(path, encoding="utf-8", errors="replace") as log:
                log.seek(offset)
                chunk = log.read()
                offset = log.tell()
            sys.stdout.write(chunk)
            sys.stdout.flush()
        if not follow or run.status.finished or run.status.value == "lost":
            break
        time.sleep(0.2)
        run, path = api.log_path(run.id)
    if offset == 0 and not follow:
        click.echo(f"run {run.id} has no log ({run.status.value}; it printed nothing)", err=True)


METRICS_EPILOG = (
    "Exit codes: 0 shown (a run that logged nothing is said on stderr); 1 an id no run or"
    " launch has, or a --key it never logged; 3 the run store is unusable."
)


@cli.command(epilog=METRICS_EPILOG)
@click.argument(
    "ident", metavar="RUN_OR_LAUNCH", shell_complete=completion.guarded(completion.any_ids)
)
@click.option(
    "--key", "keys", multiple=True, metavar="KEY", help="Only this metric (repeatable, or a,b)."
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "csv", "json"]),
    default="table",
    show_default=True,
    help="table: a row per metric (and run) with its curve; csv, json: every point.",
)
def metrics(ident: str, keys: tuple[str, ...], fmt: str) -> None:
    """What a run logged with runner.log, or each run of a launch (ids or prefixes): per
    metric its count, last, min and max value, last step and a curve; csv and json give every
    point, one a line (run, key, step, value, time).

    \b
      runner metrics 3f2a                        a table, with curves
      runner metrics 3f2a --key loss --format csv > loss.csv
    """
    from runner import render

    render.metrics(ident, _list(keys) or [], fmt)


def _launch_logs(record: Any, logs: Any) -> None:
    import shutil

    printed = 0
    for run_id, status, path in logs:
        sys.stdout.write(f"{'' if not printed else chr(10)}==> run {run_id} ({status}) <==\n")
        with open(path, encoding="utf-8", errors="replace") as log:
            shutil.copyfileobj(log, sys.stdout)
        sys.stdout.flush()
        printed += 1
    if not printed:
        click.echo(
            f"launch {record.id}: none of its {record.run_count:,} runs printed anything",
            err=True,
        )


WAIT_EPILOG = (
    "Exit codes: the launch's own (0 every run succeeded, 4 runs failed or were lost,"
    " 130 it was cancelled); 124 --timeout passed (the launch goes on); 1 bad command line;"
    " 3 the run store is unusable."
)


@cli.command(epilog=WAIT_EPILOG)
@click.argument("launch_id", shell_complete=completion.guarded(completion.launch_ids))
@click.option(
    "--poll-interval",
    type=FiniteFloat(min=0.01),
    default=0.5,
    show_default=True,
    help="Seconds between two looks at the store.",
)
@click.option(
    "--timeout",
    type=FiniteFloat(min=0),
    help="Give up waiting after this many seconds (exit 124); the launch goes on.",
)
@click.option("-q", "--quiet", is_flag=True, help="Print only run ids.")
@click.option("--json", "as_json", is_flag=True, help="Print pretty JSON.")
@_watch_option
def wait(
    launch_id: str,
    poll_interval: float,
    timeout: float | None,
    quiet: bool,
    as_json: bool,
    watch: str | None,
) -> None:
    """Wait for LAUNCH_ID (a detached launch, or one another process runs) to end: its
    progress, its table, and the exit code it would have had."""
    from runner import api, render

    with render.Watch(
        quiet=quiet, as_json=as_json, run_ids=False, watch=watch, every=poll_interval
    ) as shown:
        done = api.wait(
            launch_id,
            poll_interval=poll_interval,
            timeout=timeout,
            on_created=shown.created,
            on_outcome=shown.outcome,
        )
    _finish(done, quiet=quiet, as_json=as_json)


@cli.command(epilog=EPILOG)
@click.argument(
    "ids", nargs=-1, required=True, shell_complete=completion.guarded(completion.any_ids)
)
@click.option("--json", "as_json", is_flag=True, help="Print pretty JSON.")
def cancel(ids: tuple[str, ...], as_json: bool) -> None:
    """Cancel launches or runs (IDS, prefixes work), whichever process runs them: pending runs
    never start, running ones are stopped, all recorded cancelled; finished runs are kept."""
    from runner import api, render

    done = api.cancel(ids)
    if as_json:
        render.as_json([item.to_json() for item in done])
    else:
        render.cancelled(done)


def _launched(
    *,
    quiet: bool,
    as_json: bool,
    dump_snippet: bool,
    detach: bool,
    watch: str | None = None,
    **launch: Any,
) -> None:
    """api.launch with the launch's display, then the summary and the exit code."""
    from runner import api, render

    if detach and watch:
        raise UsageError(
            f"--watch shows a metric while the launch runs here, and --detach returns at once:"
            f" follow a detached launch with runner wait ID --watch {watch}"
        )
    if detach:
        shown = render.ids if quiet else None if as_json else render.created
        done = api.launch(detach=True, on_created=shown, **launch)
        if dump_snippet:
            render.snippet(done)
        if as_json:
            render.as_json(done.to_json())
        elif not quiet:
            render.detached(done)
        return
    api.launch_only_process()
    if _default_launcher_likely(launch):
        api.start_early_workers()
    try:
        with render.Watch(quiet=quiet, as_json=as_json, watch=watch) as live:
            done = api.launch(
                on_created=live.created,
                on_outcome=live.outcome if live.shows_outcomes else None,
                on_recorded=live.recorded,
                **launch,
            )
    finally:
        api.stop_waiting_for_early_workers()
        api.end_workers()
    _finish(done, quiet=quiet, as_json=as_json, dump_snippet=dump_snippet)


def _default_launcher_likely(launch: dict[str, Any]) -> bool:
    """Whether nothing on the command line names a launcher other than the default (local
    processes): a cluster address, or an override of the launcher or its parallelism."""
    if launch.get("addr") or os.environ.get("RUNNER_ADDR"):
        return False
    named = ("launcher", "addr", "max_parallelism")
    return not any(word in override for override in launch.get("overrides", ()) for word in named)


def _watched(call: Any, ident: str, *, quiet: bool, as_json: bool) -> None:
    """Run an api call that executes runs (resume, rerun) with the launch's display."""
    from runner import api, render

    api.launch_only_process()
    with render.Watch(quiet=quiet, as_json=as_json) as watch:
        launch = call(ident, on_created=watch.created, on_outcome=watch.outcome)
    _finish(launch, quiet=quiet, as_json=as_json)


def _finish(launch: Any, *, quiet: bool, as_json: bool, dump_snippet: bool = False) -> None:
    from runner import render

    if dump_snippet:
        render.snippet(launch)
    if as_json:
        render.as_json(launch.to_json())
    elif not quiet:
        render.summary(launch)
    if launch.cancelled:
        raise LaunchCancelled(f"launch {launch.id} was cancelled ({render.counts(launch)})")
    if not launch.ok:
        # From the counts: a million-run launch is not read again to count its failures.
        stopped = launch.record.definition.get("search_stopped")
        if stopped:
            stopped += "; `runner resume` asks no more trials of it: a new launch searches on"
        failed = f"{launch.failed:,} of {launch.record.run_count:,} runs did not succeed"
        raise RunsFailed(
            (f"{failed} (launch {launch.id})" if launch.failed else f"launch {launch.id}")
            + (f"; {stopped}" if stopped else "")
        )


@cli.command(cls=DefinitionCommand, epilog=EPILOG)
@click.argument("args", nargs=-1, shell_complete=completion.guarded(completion.overrides))
@_definition_options
@click.option("--schema", is_flag=True, help="Print the workflow's params JSON Schema instead.")
def show(
    args: tuple[str, ...], as_json: bool, config_dir: str | None, schema: bool, **options: Any
) -> None:
    """Print the composed, validated run definition and its planned runs, without running."""
    from runner import api, render

    target, overrides, values = _request(args, options)
    if schema:
        if not target:
            raise UsageError("show --schema needs a WORKFLOW[:VERSION]")
        render.as_json(api.params_schema(target, config_dir=config_dir))
        return
    preview = api.show(target, overrides, config_dir=config_dir, **values)
    if as_json:
        render.as_json(preview.to_json())
    else:
        render.preview(preview)


@cli.command(name="list", epilog=EPILOG)
@click.option("--config-dir", type=click.Path(file_okay=False), help="Project config dir.")
@click.option("--versions", is_flag=True, help="Show registered versions too.")
@click.option("--json", "as_json", is_flag=True, help="Print pretty JSON.")
def list_(config_dir: str | None, versions: bool, as_json: bool) -> None:
    """List entities: workflows with their versions, and saved run definitions."""
    from runner import api, render

    found = api.entities(config_dir=config_dir)
    if as_json:
        render.as_json(found.to_json())
    else:
        render.entities(found, registered=versions)


@cli.command(epilog=EPILOG)
@click.argument("workflow", shell_complete=completion.guarded(completion.workflow_ids))
@click.option("--config-dir", type=click.Path(file_okay=False), help="Project config dir.")
@click.option("-q", "--quiet", is_flag=True, help="Print only the version.")
def register(workflow: str, config_dir: str | None, quiet: bool) -> None:
    """Snapshot WORKFLOW[:VERSION] (its declaration and package source) as a version that
    `runner run WORKFLOW:VERSION` runs even after the code changes."""
    from runner import api

    workflow_id, version, new = api.register(workflow, config_dir=config_dir)
    if quiet:
        click.echo(version)
    else:
        state = "registered" if new else "already registered (same content)"
        click.echo(f"{workflow_id}:{version} {state}; run it with: runner {workflow_id}:{version}")


@cli.command(epilog=EPILOG)
@click.argument("ids", nargs=-1, shell_complete=completion.guarded(completion.any_ids))
@click.option(
    "-n",
    "--limit",
    type=click.IntRange(min=1, max=2**31 - 1),  # SQLite's LIMIT is a 64-bit integer
    default=20,
    show_default=True,
    help="Launches to list.",
)
@click.option("-q", "--quiet", is_flag=True, help="Print only ids.")
@click.option("--json", "as_json", is_flag=True, help="Print pretty JSON.")
def status(ids: tuple[str, ...], limit: int, quiet: bool, as_json: bool) -> None:
    """Show launches (most recent first) or the launches and runs named by IDS (prefixes work)."""
    from runner import api, render

    # Launches named by id are counted as they are shown, after their first rows.
    found = api.status(ids, limit=limit, counts=not ids)
    if as_json:
        # A listing leaves each launch's runs out, as it always has; ids show them, streamed.
        render.status_json(found, expand=bool(ids))
    elif quiet:
        render.status_ids(found, expand=bool(ids))
    else:
        render.status(found, expand=bool(ids))


@cli.command(epilog=EPILOG)
@click.argument("launch_ids", nargs=-1, shell_complete=completion.guarded(completion.launch_ids))
@click.option(
    "--workflow",
    help="Compare the launches of this workflow id.",
    shell_complete=completion.guarded(completion.workflow_ids),
)
@click.option("--tag", help="Compare the launches with this tag.")
@click.option("--last", type=click.IntRange(min=1), help="Only the N most recent launches.")
@click.option(
    "--by-point/--by-run",
    default=None,
    help="One row per sweep point (repeats grouped: n, mean ± std) or per run."
    "  [default: by point when runs repeat]",
)
@click.option("--stats", is_flag=True, help="By point: min and max too.")
@click.option("--where", multiple=True, help="Keep runs where COLUMN OP VALUE: 'error<0.01'.")
@click.option("--sort", help="Sort by this column.")
@click.option("--desc", is_flag=True, help="Sort descending.")
@click.option("--top", type=click.IntRange(min=1), help="Keep the first N rows.")
@click.option(
    "--columns", help="Columns to show, in order: a,b,c (a metric's too: loss.min, loss.max)."
)
@click.option(
    "--all-columns",
    is_flag=True,
    help="Show the fixed params as columns too, and each metric's min, max and count.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "csv", "json", "markdown", "parquet"]),
    default="table",
    show_default=True,
    help="How to write it; parquet needs pyarrow.",
)
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write to FILE.")
def compare(
    launch_ids: tuple[str, ...],
    workflow: str | None,
    tag: str | None,
    last: int | None,
    fmt: str,
    output: str | None,
    columns: str | None,
    **options: Any,
) -> None:
    """Results of launches side by side: LAUNCH_IDS (prefixes), or --workflow/--tag/--last;
    the most recent launch when none is named. With several launches, the launch is a column.

    \b
      runner compare 3f2a --sort error --top 5
      runner compare 3f2a --where 'samples>=10000' --format csv -o pi.csv
      runner compare --workflow pi --last 3 --by-run
      runner compare 3f2a --columns lr,loss.min --sort loss.min   (metrics: runner.log)
    """
    from runner import api, render

    found = api.launches(launch_ids, workflow=workflow, tag=tag, last=last)
    total = sum(launch.record.run_count for launch in found)
    if total > COMPARE_RUNS:
        short = found[-1].id[:12]
        raise UsageError(
            f"runner compare reads every run of what it compares: {total:,} runs is more"
            f" than it reads at once ({COMPARE_RUNS:,}). runner status {short} shows the"
            f" first page and the counts; runner status {short} --json streams every run;"
            " in Python, runner.runs(launch=ID, offset=N, limit=M) reads a page"
        )
    table = api.table(found, columns=_list([columns] if columns else []), **options)
    render.export(table, fmt, output, how="runner compare ...")


@cli.command(epilog=EPILOG)
@click.option(
    "--config-dir",
    type=click.Path(file_okay=False),
    help="Project config dir (default: RUNNER_CONFIG_DIR, then ./conf).",
)
def tui(config_dir: str | None) -> None:
    """Browse workflows, fill a launch form, launch, and watch runs live (a terminal UI).

    \b
    Keys: 1/2 or tab switch views, / filter, enter open, ctrl+l launch, l log, r rerun,
    R resume, c cancel, y copy an id, ? help, q quit. Launches are detached: quitting the
    TUI never stops runs. RUNNER_HOME names the store, as for every command.
    """
    if config_dir:
        from runner import api

        api.find_config_dir(config_dir)  # a missing dir is exit 1 before the screen is taken
    from runner.tui import main as tui_main  # textual loads only for this command

    tui_main(config_dir)


@cli.command(epilog=EPILOG)
@click.option("--workers", type=click.IntRange(min=1), default=2, show_default=True)
@click.option(
    "--threads", type=click.IntRange(min=1), default=1, show_default=True, help="Per worker."
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option(
    "--port", type=click.IntRange(min=0), default=8786, show_default=True, help="0: any free one."
)
def cluster(workers: int, threads: int, host: str, port: int) -> None:
    """Start a Dask scheduler and WORKERS worker processes on this machine and print the
    scheduler's address, for `runner ... --addr ADDRESS`; Ctrl-C stops them all."""
    from runner import cluster as local_cluster

    def ready(address: str) -> None:
        click.echo(
            f"Dask scheduler at {address} with {workers} worker{'s' * (workers != 1)}"
            f" ({threads} thread{'s' * (threads != 1)} each)"
        )
        click.echo(f"  runner WORKFLOW --addr {address}    (or RUNNER_ADDR={address})")
        click.echo("Ctrl-C stops them.")

    local_cluster.serve(workers, threads, host=host, port=port, on_ready=ready)


@cli.group(epilog=EPILOG)
def store() -> None:
    """The run store under RUNNER_HOME (default ./.runner)."""


@store.command(epilog=EPILOG)
@click.option("--json", "as_json", is_flag=True, help="Print pretty JSON.")
def check(as_json: bool) -> None:
    """Check the run store without changing it: SQLite's integrity check, the schema version,
    launches and runs by status. Exit 3 when runner cannot use the store."""
    from runner import api, render
    from runner.errors import StoreUnusable

    found = api.check_store()
    if as_json:
        render.as_json(found.to_json())
    else:
        click.echo(clean_lines(api.store_report(found)))
    if not found.usable:
        click.get_current_context().exit(StoreUnusable.exit_code)


def _request(
    args: tuple[str, ...], options: dict[str, Any]
) -> tuple[str | None, list[str], dict[str, Any]]:
    """(target, overrides, run definition options) from the command line."""
    target, overrides = _split_args(args)
    for accepted in ("multirun", "wait"):
        options.pop(accepted, None)
    inputs_file = options.pop("inputs_file", None)
    copy = options.pop("copy", None)
    if copy:
        overrides.append(f"++launcher.copy={copy}")
    return (
        target,
        overrides,
        dict(
            name=options["name"],
            tags=_list(options["tags"]),  # every --tags given, each split at its commas
            notes=options["notes"],
            repeat=_number(options["repeat"]),
            seed=_number(options["seed"]),
            params=[
                piece for value in options["params"] for piece in _PAIR_SPLIT.split(value) if piece
            ],
            labels=_pairs(options["labels"], "--labels"),
            annotations=_pairs(options["annotations"], "--annotations"),
            env=_pairs(options["env"], "--env", split=False),
            max_parallelism=options["max_parallelism"],
            max_runs=options["max_runs"],
            addr=options["addr"],
            timeout=_number(options["timeout"], float),
            retries=_number(options["retries"]),
            cache=options["cache"],
            **_inputs_file(inputs_file),
        ),
    )


def _inputs_file(path: str | None) -> dict[str, Any]:

    from runner.api import InputError, read_inputs_file
    from runner.errors import DefinitionError

    if not path:
        return {}
    label = f"inputs file {path}"
    try:
        return {
            "inputs": read_inputs_file(path, label),
            "inputs_label": label,
        }
    except InputError as exc:
        raise DefinitionError(str(exc)) from None


def _split_args(args: tuple[str, ...]) -> tuple[str | None, list[str]]:
    """The first argument that is not an override is the target; the rest are overrides."""
    target: str | None = None
    overrides: list[str] = []
    for arg in args:
        if "=" in arg or arg.startswith(("~", "+")):
            overrides.append(arg)
        elif target is None:
            target = arg
        else:
            raise UsageError(
                f"unexpected argument '{arg}': the target is already '{target}'"
                " (overrides look like key=value)"
            )
    return target, overrides


def _list(values: Sequence[str]) -> list[str] | None:
    """A repeated option's values, each split at its commas; None when it was not given."""
    if not values:
        return None
    return [item.strip() for value in values for item in value.split(",") if item.strip()]


def _number(value: str | None, kind: type = int) -> Any:
    """A number when it is one; otherwise the text, for validation to report."""
    if value is None:
        return None
    try:
        return kind(value)
    except ValueError:
        return value


def _pairs(values: Sequence[str], option: str, *, split: bool = True) -> dict[str, str] | None:
    if not values:
        return None
    out: dict[str, str] = {}
    for value in values:
        for piece in _PAIR_SPLIT.split(value) if split else [value]:
            key, sep, item = piece.partition("=")
            if not sep or not key:
                raise UsageError(f"{option}: '{piece}' is not KEY=VALUE")
            out[key] = item
    return out


def normalise_argv(argv: Sequence[str]) -> list[str]:
    """Accio's single-dash options (-name=x, -json) become click's double-dash ones."""
    return [f"-{arg}" if _ACCIO.match(arg) else arg for arg in argv]


def _terminated(signum: int, frame: Any) -> None:
    """SIGTERM stops a launch the way Ctrl-C does: no new runs, unfinished ones cancelled."""
    raise KeyboardInterrupt


def _check_utf8(args: Sequence[str]) -> None:
    """Bytes that are not UTF-8 reach Python as lone surrogates, which no store, file or
    message can hold: such an argument is refused here, by name, before any work."""
    for arg in args:
        try:
            arg.encode("utf-8")
        except UnicodeEncodeError as exc:
            try:
                raw = arg.encode("utf-8", "surrogateescape")
            except UnicodeEncodeError:  # a surrogate no byte stands for: main() called so
                raise UsageError(
                    f"argument {arg!a} holds a lone surrogate"
                    f" ({arg[exc.start]!a}), which is not Unicode text"
                ) from None
            at = len(arg[: exc.start].encode("utf-8", "surrogateescape"))
            shown = raw.decode("utf-8", "backslashreplace")
            raise UsageError(
                f"argument '{shown}' is not UTF-8 text (byte 0x{raw[at]:02x} at offset {at})"
            ) from None


def _unexpected(exc: Exception) -> int:
    """An exception no command turned into a RunnerError: a store found damaged while it was
    read (SQLite checks pages as it reaches them) is named; anything else is a bug."""
    from runner import api

    unusable = api.store_damage(exc)
    if unusable is not None:
        click.echo(f"error: {clean_lines(str(unusable))}", err=True)
        return unusable.exit_code
    if os.environ.get("RUNNER_FULL_ERROR") == "1":
        traceback.print_exc()
    click.echo(
        f"internal error: {type(exc).__name__}: {clean_lines(str(exc))}\n"
        "(this is a bug in runner; set RUNNER_FULL_ERROR=1 for the traceback)",
        err=True,
    )
    return 5


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the `runner` console script: one place turns errors into exit codes."""
    args = normalise_argv(sys.argv[1:] if argv is None else argv)
    signal.signal(signal.SIGTERM, _terminated)
    survive_closed_readers()
    try:
        _check_utf8(args)
        code = cli.main(args=args, prog_name="runner", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("interrupted", err=True)
        code = 130
    except click.ClickException as exc:
        import io

        shown = io.StringIO()
        exc.show(file=shown)  # it may quote an argument as typed: shown, never obeyed
        click.echo(clipped(clean_lines(shown.getvalue())), err=True, nl=False)
        code = 1
    except RunnerError as exc:
        # Messages quote user input (names, overrides, paths): shown, never obeyed.
        click.echo(f"error: {clipped(clean_lines(str(exc)))}", err=True)
        code = exc.exit_code
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        code = 130
    except Exception as exc:
        code = _unexpected(exc)
    # The process ends here. Python's shutdown walks every object it tracks for reference
    # cycles, more than once; with Hydra, jsonschema and joblib loaded that took 0.05-0.1 s
    # after a launch (measured). Frozen objects are skipped. Nothing is lost: the store
    # closes its connection itself (see Store), other objects go by reference counting as
    # modules are torn down, and the atexit handlers (loky's, tempfile's) run as before.
    gc.freeze()
    sys.exit(code if isinstance(code, int) else 0)
