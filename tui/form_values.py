"""What a launch form means, without any widget: its values as a runner API call, and the
API's problems put back on the fields they concern."""

from __future__ import annotations

import json
import re
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from runner import Param

# Run-level fields of the form, beside the params: (field id, label, placeholder).
RUN_FIELDS = (
    ("name", "name", "a name for the launch"),
    ("tags", "tags", "comma-separated"),
    ("notes", "notes", ""),
    ("repeat", "repeat", "1"),
    ("seed", "seed", "drawn when empty"),
    ("max_parallelism", "parallel", "all cores"),
)
# A search (the search= argument), below the run fields: a select of the searches
# (runner.searches(): the built-ins, then the project's; none: a grid), and its settings:
# (key, label, placeholder), each as text.
SEARCH = "search"
SEARCH_FIELDS = (
    ("n_trials", "trials", "20"),
    ("objective", "objective", "the return value"),
    ("direction", "direction", "default (minimize)"),  # a select of DIRECTIONS
)
DIRECTIONS = ("minimize", "maximize")
GENERAL = "general"  # problems that concern no one field; a param's are under "params.NAME"
_SOURCE = re.compile(r" \(from [^()]*(\([^()]*\)[^()]*)*\)")
_POINTS = re.compile(r" \((sweep point|\d+ sweep points)[^)]*\)$")


def kind_of(param: Param) -> str:
    """Which widget a param gets: bool (a switch), enum (a select), json (arrays, objects
    and unions of them), number, integer, or text."""
    schema = param.schema
    if "enum" in schema:
        return "enum"
    kind = schema.get("type")
    if kind == "boolean":
        return "bool"
    if kind in ("array", "object"):
        return "json"
    if kind in ("integer", "number"):
        return str(kind)
    return "text"


def shown_default(param: Param) -> str:
    """A param's default as its input shows it."""
    if not param.has_default or param.default is None:
        return ""
    if isinstance(param.default, str):
        return param.default
    return json.dumps(param.default)


def default_hint(param: Param) -> str:
    """What an empty value field says: its default as the command line spells it (null for
    None, "" for empty text), or that it is required."""
    if not param.has_default:
        return "required"
    return f"default: {shown_default(param) or json.dumps(param.default)}"


def sweep_hint(param: Param, searching: bool) -> str:
    """What an empty sweep field says: a grid's grammar, or a search's dimensions (Hydra's
    Optuna sweeper's grammar) once a search is chosen."""
    if not searching:
        return "sweep: 1,2,3  range(0,10)"
    kind = kind_of(param)
    if kind == "number":
        return "tag(log, interval(1e-4,1))"
    if kind == "integer":
        return "int(interval(1,8))  1,2,4"
    return "choice(a,b)  a,b"


@dataclass
class FormValues:
    """What the user entered: text per param (or a bool / an enum choice), sweeps, options."""

    target: str
    params: dict[str, Any] = field(default_factory=dict)  # name -> str | bool | choice
    sweeps: dict[str, str] = field(default_factory=dict)  # name -> Hydra sweep text
    options: dict[str, str] = field(default_factory=dict)  # RUN_FIELDS, SEARCH_FIELDS -> text
    launcher: str | None = None
    search: str | None = None  # a built-in search's name; None: a grid (or a preset's own)


FORMS_FILE = "tui-forms.json"  # in RUNNER_HOME: the last values launched, per workflow
FORGOTTEN = ("name", "notes")  # options that describe one launch, not carried to the next


class RememberedForms:
    """The values last launched from the form of each workflow (or saved run definition),
    for the form to open with: kept for the session, and in a small JSON file beside the
    store so that the next session opens with them too. A file that cannot be read or
    written is left alone: the session still remembers."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._forms: dict[str, FormValues] | None = None  # read when first asked
        self._lock = threading.Lock()  # remembered from a launch's thread, read by the UI

    def get(self, target: str) -> FormValues | None:
        with self._lock:
            return self._read().get(target)

    def remember(self, values: FormValues) -> None:
        kept = FormValues(
            target=values.target,
            params=dict(values.params),
            sweeps={k: v for k, v in values.sweeps.items() if v.strip()},
            options={k: v for k, v in values.options.items() if k not in FORGOTTEN and v.strip()},
            launcher=values.launcher,
            search=values.search,
        )
        with self._lock:
            forms = self._read()
            forms[values.target] = kept
            text = json.dumps({t: asdict(v) for t, v in forms.items()}, indent=1)
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                partial = self.path.with_name(self.path.name + ".tmp")
                partial.write_text(text, encoding="utf-8")
                partial.replace(self.path)
            except OSError:
                pass

    def _read(self) -> dict[str, FormValues]:
        if self._forms is None:
            self._forms = {}
            try:
                stored = json.loads(self.path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                stored = {}
            for target, fields in stored.items() if isinstance(stored, dict) else ():
                try:
                    self._forms[target] = _form_of(fields)
                except (TypeError, ValueError, AttributeError):
                    continue  # written by another version, or by hand: not used
        return self._forms


def _form_of(fields: dict[str, Any]) -> FormValues:
    values = FormValues(**fields)
    if not (
        isinstance(values.params, dict)
        and all(isinstance(v, str) for v in values.sweeps.values())
        and all(isinstance(v, str) for v in values.options.values())
        and (values.launcher is None or isinstance(values.launcher, str))
        and (values.search is None or isinstance(values.search, str))
    ):
        raise ValueError("not a form's values")
    return values


@dataclass
class Call:
    """The runner API call a form makes (runner.show to check it, runner.launch to run it),
    or the problems found before any call: text that is not JSON where JSON is needed."""

    target: str
    overrides: list[str]
    options: dict[str, Any]
    problems: dict[str, list[str]] = field(default_factory=dict)


def to_call(values: FormValues, params: list[Param]) -> Call:
    """Params go as the `params` option, with their JSON types; a sweep as the override
    `params.NAME=SWEEP`, exactly what the command line takes (a search's dimension once a
    search is chosen); run options as options, the search as the `search` argument."""
    by_name = {p.name: p for p in params}
    given: dict[str, Any] = {}
    overrides: list[str] = []
    problems: dict[str, list[str]] = {}
    swept = [name for name, text in values.sweeps.items() if text.strip()]
    for name in swept:  # a sweep wins over the value beside it
        overrides.append(f"params.{name}={values.sweeps[name].strip()}")
    for name, raw in values.params.items():
        param = by_name.get(name)
        if name in swept or param is None:
            continue
        try:
            value = _typed(raw, param)
        except ValueError as exc:
            problems.setdefault(f"params.{name}", []).append(str(exc))
            continue
        if value is not _UNSET:
            given[name] = value
    # As an inputs layer, like an inputs file: a value replaces its default whole (a JSON
    # object is not merged into the default one), and messages say "from the form".
    options: dict[str, Any] = {"inputs": given, "inputs_label": "the form"} if given else {}
    settings = search_settings(values)
    for key, text in values.options.items():
        text = text.strip()
        if not text or key in settings:
            continue
        if key == "tags":
            options[key] = [t.strip() for t in text.split(",") if t.strip()]
        elif key in ("repeat", "seed", "max_parallelism"):
            options[key] = _integer(text)
        else:
            options[key] = text
    if values.launcher:
        overrides.append(f"launcher={values.launcher}")
    given_settings = {k: v for k, v in settings.items() if v is not None}
    if given_settings:  # (without a search chosen: a preset's own search, or a problem named)
        sampler = {"sampler": values.search} if values.search else {}
        options[SEARCH] = {**sampler, **given_settings}
    elif values.search:
        options[SEARCH] = values.search
    return Call(values.target, overrides, options, problems)


def search_settings(values: FormValues) -> dict[str, Any]:
    """Each search field's setting (None when empty): search.n_trials an integer when it
    reads as one (else left for validation to name), the others as typed."""
    found: dict[str, Any] = {}
    for key, _, _ in SEARCH_FIELDS:
        text = values.options.get(key, "").strip()
        found[key] = (_integer(text) if key == "n_trials" else text) if text else None
    return found


def problems_by_field(error: Exception, params: list[Param]) -> dict[str, list[str]]:
    """A runner error's problems, each under the field it names (`params.NAME...` or a run
    field), shortened: the field says where the value came from already."""
    names = {p.name for p in params}
    run_fields = {key for key, _, _ in RUN_FIELDS}
    lines = list(getattr(error, "problems", []) or [])
    if not lines:
        lines = [getattr(error, "message", str(error))]
    out: dict[str, list[str]] = {}
    for line in lines:
        for part in line.split("\n  - "):
            key = _field_of(part, names, run_fields)
            text = _POINTS.sub("", _SOURCE.sub("", part)) if key != GENERAL else part
            # A key's problem loses its key ("repeat: 0 is below..."); a search's own problems
            # that are not a key's keep their words ("search=tpe has no space to search: ...").
            if key != GENERAL and (key != SEARCH or part.startswith(f"{SEARCH}.")):
                text = text.split(": ", 1)[1] if ": " in text else text
            out.setdefault(key, []).append(text)
    hint = getattr(error, "hint", None)
    if hint:
        out.setdefault(GENERAL, []).append(f"hint: {hint}")
    return out


def summary(preview: Any) -> str:
    """'3 points x 4 repeats = 12 runs', from a runner.show() preview; a search's trials
    'search tpe: 20 trials' (the form describes the search whole beside its field)."""
    repeat = int(preview.definition.get("repeat", 1) or 1)
    search = preview.search
    if search is not None:
        trials = f"search {search.sampler}: {search.n_trials:,} trial{'s' * (search.n_trials != 1)}"
        if repeat == 1:
            return trials
        return f"{trials} x {repeat:,} repeats = {search.n_trials * repeat:,} runs"
    runs = len(preview.specs)
    points = runs // repeat if repeat else runs
    noun = "run" if runs == 1 else "runs"
    if points == 1 and repeat == 1:
        return f"1 {noun}"
    return (
        f"{points:,} point{'s' * (points != 1)} x {repeat:,} repeat{'s' * (repeat != 1)}"
        f" = {runs:,} {noun}"
    )


_UNSET = object()


def _typed(raw: Any, param: Param) -> Any:
    """The value for the params option: JSON types where the schema asks for them. Text that
    does not parse as the type is passed on as text, so that validation names it as the
    command line would ("'abc' is not an integer"); JSON that does not parse is refused here."""
    if isinstance(raw, bool) or raw is None:
        return raw
    if not isinstance(raw, str):
        return raw
    text = raw.strip()
    if text == "":
        return _UNSET  # the default, or "required" from validation
    kind = kind_of(param)
    if kind == "json":
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            _refuse_sweep(text)
            raise ValueError(f"not valid JSON: {exc.msg} (column {exc.colno})") from None
    if kind == "integer":
        try:
            return int(text)
        except ValueError:
            _refuse_sweep(text)
            return text
    if kind == "number":
        try:
            return float(text) if any(c in text for c in ".eE") else int(text)
        except ValueError:
            _refuse_sweep(text)
            return text
    if kind == "enum":
        return raw
    if param.schema.get("type") == "string" or not param.schema:
        return _any_value(text) if not param.schema.get("type") else raw
    return raw


def _refuse_sweep(text: str) -> None:
    """A value field takes one value: a sweep typed there (`1,2`, `range(1,5)`) is pointed to
    the sweep field, where the command line's `params.NAME=1,2` goes."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException

    try:
        sweep = OverridesParser.create().parse_override(f"x={text}").is_sweep_override()
    except HydraException:
        return  # not Hydra's grammar either: validation names what is wrong with it
    if sweep:
        raise ValueError(
            f"{text} is a sweep: this field takes one value; type the sweep in the sweep "
            "field to its right"
        )


def _integer(text: str) -> int | str:
    """An integer option as the CLI reads it; text that is not one is left for validation."""
    try:
        return int(text)
    except ValueError:
        return text


def _any_value(text: str) -> Any:
    """A param of no declared type takes JSON when the text is JSON (1, true, [1]), else text."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _field_of(problem: str, names: set[str], run_fields: set[str]) -> str:
    head = problem.split(":", 1)[0].strip()
    if head.startswith("params."):
        name = re.split(r"[.\[]", head[len("params.") :], maxsplit=1)[0]
        return f"params.{name}" if name in names else GENERAL
    if head in run_fields:
        return head
    # A search's problems: a setting's under its field, the others' under the search.
    for key, _, _ in SEARCH_FIELDS:
        if head == f"{SEARCH}.{key}" or head.startswith((f"{SEARCH}.{key}.", f"{SEARCH}.{key}[")):
            return key
    if head.startswith(SEARCH) or "(argument search=)" in problem:
        return SEARCH
    quoted = re.search(r"'params\.([A-Za-z_][\w]*)[=.]", problem)
    if quoted and quoted.group(1) in names:
        return f"params.{quoted.group(1)}"
    return GENERAL
