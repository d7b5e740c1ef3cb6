"""Load and validate ``templates.toml`` into typed :class:`Template` objects.

Every rule of DESIGN §5 is checked here, before anything starts, and every
violation is a :class:`ConfigError` whose one-line message names the file,
the template and the key.
"""

from __future__ import annotations

import dataclasses
import datetime
import math
import os
import re
import string
import tomllib
import typing
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol, TypeVar

from canary import registry
from harness.errors import ConfigError

SCHEMA_VERSION = 1
CONFIG_ENV = "CANARY_TEMPLATES"
DEFAULT_FILE = "templates.toml"

CANARY_IDS = registry.canary_ids()
DEFAULT_CANARY_IDS = registry.default_canary_ids()
"""What a template runs when neither it nor ``[defaults]`` names its canaries."""
DIAGNOSTIC_IDS = registry.diagnostic_ids()

Gate = Literal["required", "advisory", "off"]
SessionScope = Literal["context", "workspace", "container"]
PullPolicy = Literal["missing", "always", "never"]
Model = Literal["sim", "none"]
DialectName = Literal["context", "history", "a2a-1.0", "auto"]
"""How the harness speaks to a runtime (DESIGN §3.4; :mod:`harness.cp_sim.dialects`)."""
GATES: tuple[Gate, ...] = typing.get_args(Gate)
SESSION_SCOPES: tuple[SessionScope, ...] = typing.get_args(SessionScope)
PULL_POLICIES: tuple[PullPolicy, ...] = typing.get_args(PullPolicy)
MODELS: tuple[Model, ...] = typing.get_args(Model)
DIALECTS: tuple[DialectName, ...] = typing.get_args(DialectName)

DEFAULT_DROPPED_MARKERS = (
    "(empty prompt — nothing to do)",
    "empty prompt",
    "message contained no text content",
    "no text content",
    "No message provided",
    "(no response generated)",
)

MAX_NAME_LENGTH = 64  # it names files, containers and volumes
MAX_IMAGE_LENGTH = 255
MAX_TIMEOUT_S = 86_400.0  # a day: more is a typo, and overflows timers
MAX_REPEAT = 1000
MAX_RETRIES = 10
FLAKY_POLICIES = ("fail", "pass", "advisory")
"""What a flaky cell does to its gate: fails it, passes it, or passes it with a warning."""
MAX_MEMORY_BYTES = 1 << 40
_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")
_ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_EXPAND_RE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_DUPLICATE_RE = re.compile(
    r"Cannot declare \('templates', '([^']+)'\) twice \(at line (\d+), column (\d+)\)"
)
_TOML_POSITION_RE = re.compile(r"\(at line (\d+), column (\d+)\)")

_BUILD_KEYS = frozenset(
    {"context", "dockerfile", "args", "wheelhouse", "npm", "npm_scripts", "include"}
)
# An exact npm version (``name@1.2.3``, ``@scope/name@1.2.3-beta.1``): images are rebuilt
# only when this list changes, so a range would leave an image on whatever it got first.
_NPM_SPEC_RE = re.compile(r"^(@[a-z0-9][\w.-]*/)?[a-z0-9][\w.-]*@\d+\.\d+\.\d+([-+][\w.-]+)?$")
_WHEELHOUSE_KEYS = frozenset({"requirements", "python", "no_deps"})
_PYTHON_VERSION_RE = re.compile(r"^3\.\d+$")
CACHE_PARTS = frozenset({"__pycache__", ".pytest_cache", ".mypy_cache"})
"""Directories that never change what an image does: no build context or include has them."""
_PROBE_KEYS = frozenset({"session_store", "key"})
_TOP_KEYS = frozenset({"schema", "defaults", "templates"})
_EXPANDED_AT_START = frozenset({"model_env"})
"""Keys whose ``${NAME}`` name what the run gives the runtime (``${OPENAI_BASE_URL}``, the
scripted model's), not the caller's environment: expanded when the runtime starts."""


@dataclass(frozen=True)
class Wheelhouse:
    """Python dependencies the harness downloads on the host for an offline build.

    Attributes:
        requirements: Requirements file, relative to the build context.
        python: The image's Python version (wheels are chosen for it).
        no_deps: The requirements are the whole pinned tree: pip downloads and installs
            exactly them (``--no-deps``), none of the dependencies their packages declare
            (a framework whose declared dependencies it never imports: crewai's vector
            stores and document parsers, ≈700 MB).
    """

    requirements: str
    python: str = "3.11"
    no_deps: bool = False


@dataclass(frozen=True)
class Build:
    """How to build a template's image locally.

    Attributes:
        context: Absolute path of the build context.
        dockerfile: Dockerfile path relative to the context.
        args: Build arguments, already expanded.
        wheelhouse: Offline wheels to prepare in ``<context>/wheelhouse`` first.
        npm: npm packages (exact versions) to install on the host into ``<context>/npm``
            first, for images and local copies that cannot reach the registry.
        npm_scripts: Names of ``npm``'s packages whose install scripts run (on the host,
            once, after the install without scripts): a package that finishes its own
            install at its first start cannot, where it runs as a user who may not
            write it.
        include: Files shared between contexts, as (name in the context, absolute
            path): a directory listed in ``build.include`` joins the context root
            with its files, a file under its own name.
    """

    context: Path
    dockerfile: str = "Dockerfile"
    args: Mapping[str, str] = field(default_factory=dict)
    wheelhouse: Wheelhouse | None = None
    npm: tuple[str, ...] = ()
    npm_scripts: tuple[str, ...] = ()
    include: tuple[tuple[str, Path], ...] = ()


@dataclass(frozen=True)
class Probe:
    """Where a template keeps its sessions, for the ``session_store`` diagnostic.

    Attributes:
        session_store: A path in the runtime's filesystem; ``{workspace}``
            stands for the runtime's workspace root.
        key: How an entry's key derives from ``{workspace_id}`` and ``{context_id}``.
    """

    session_store: str | None = None
    key: str | None = None


class _Checker:
    """Validates one table's values, naming file, template and key in errors."""

    def __init__(self, file: Path, template: str | None, environ: Mapping[str, str]) -> None:
        self.file = file
        self.template = template
        self.environ = environ

    def fail(self, key: str, problem: str) -> ConfigError:
        where = f"template {self.template!r}" if self.template else "[defaults]"
        return ConfigError(f"{self.file}: {where}, key {key!r}: {problem}")

    def expand(self, key: str, value: Any) -> Any:
        if key in _EXPANDED_AT_START:
            return value
        if isinstance(value, str):
            return self._expand_str(key, value)
        if isinstance(value, list):
            return [self.expand(key, item) for item in value]
        if isinstance(value, dict):
            return {k: self.expand(f"{key}.{k}" if key else k, v) for k, v in value.items()}
        return value

    def _expand_str(self, key: str, value: str) -> str:
        def substitute(match: re.Match[str]) -> str:
            name, default = match.group(1), match.group(2)
            if name in self.environ and (self.environ[name] or default is None):
                return self.environ[name]
            if default is not None:
                return default
            raise self.fail(key, f"environment variable {name} is not set and has no default")

        return _EXPAND_RE.sub(substitute, value)

    def string(self, key: str, value: Any, *, empty_ok: bool = False) -> str:
        if not isinstance(value, str) or (not value and not empty_ok):
            raise self.fail(key, f"expected a non-empty string, got {value!r}")
        return value

    def choice(self, key: str, value: Any, choices: tuple[str, ...]) -> str:
        if value not in choices:
            raise self.fail(key, f"must be one of {', '.join(choices)}, got {value!r}")
        return str(value)

    def number(
        self,
        key: str,
        value: Any,
        *,
        integer: bool = False,
        minimum: float = 0,
        maximum: float = math.inf,
    ) -> float:
        is_number = isinstance(value, int | float) and not isinstance(value, bool)
        if is_number and not math.isfinite(value):
            is_number = False
        in_range = is_number and minimum <= value <= maximum
        if not is_number or (integer and not isinstance(value, int)) or not in_range:
            kind = "an integer" if integer else "a number"
            bound = (
                f"from {minimum:g} to {maximum:g}" if math.isfinite(maximum) else f">= {minimum:g}"
            )
            raise self.fail(key, f"expected {kind} {bound}, got {value!r}")
        return float(value)

    def memory_size(self, key: str, value: Any) -> str:
        """A memory limit, read by the same code Docker uses (``512m``, ``2g``, …)."""
        text = self.string(key, value)
        try:
            from docker.utils import parse_bytes
        except ImportError:  # the noxfile reads the config before docker-py is installed
            return text
        try:
            size = parse_bytes(text)
        except Exception as exc:  # docker-py raises DockerException for a bad size
            raise self.fail(key, f"not a memory size like '512m' or '2g': {exc}") from None
        if not 0 < size <= MAX_MEMORY_BYTES:
            raise self.fail(key, f"expected a size from 1 byte to 1t, got {text!r}")
        return text

    def string_list(self, key: str, value: Any) -> tuple[str, ...]:
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise self.fail(key, f"expected a list of non-empty strings, got {value!r}")
        return tuple(value)

    def string_table(self, key: str, value: Any) -> dict[str, str]:
        if not isinstance(value, dict):
            raise self.fail(key, f"expected a table, got {value!r}")
        table: dict[str, str] = {}
        for name, item in value.items():
            if isinstance(item, bool) or not isinstance(item, str | int | float):
                raise self.fail(f"{key}.{name}", f"expected a string, got {item!r}")
            table[name] = str(item)
        return table

    def unknown_keys(
        self, table: Mapping[str, Any], allowed: frozenset[str], prefix: str = ""
    ) -> None:
        for key in table:
            if key not in allowed:
                raise self.fail(f"{prefix}{key}", "unknown key")


# --- the template keys: one field each, with its default and its check -----------------

Check = Callable[["_Checker", str, Any, Path], Any]
"""Turns a key's raw value into its typed one, or raises the checker's error: (checker,
key, raw value, the templates file's directory) → value."""


def key(default: Any, check: Check, *, shared: bool = True) -> Any:
    """One key of ``templates.toml``: a :class:`Template` field.

    Args:
        default: Its raw value when neither the template nor ``[defaults]`` sets it.
        check: How its raw value becomes the field's value.
        shared: Valid in ``[defaults]`` too (False: a template's own, like ``image``).
    """
    return field(metadata={"default": default, "check": check, "shared": shared})


def _text(c: _Checker, k: str, v: Any, root: Path) -> str:
    return c.string(k, v)


def _description(c: _Checker, k: str, v: Any, root: Path) -> str:
    return c.string(k, v, empty_ok=True)


def _strings(c: _Checker, k: str, v: Any, root: Path) -> tuple[str, ...]:
    return c.string_list(k, v)


def _table(c: _Checker, k: str, v: Any, root: Path) -> dict[str, str]:
    return c.string_table(k, v)


def _path(c: _Checker, k: str, v: Any, root: Path) -> str:
    if not c.string(k, v).startswith("/"):
        raise c.fail(k, f"must start with '/', got {v!r}")
    return str(v)


def _seconds(c: _Checker, k: str, v: Any, root: Path) -> float:
    return c.number(k, v, minimum=1, maximum=MAX_TIMEOUT_S)


def _port(c: _Checker, k: str, v: Any, root: Path) -> int:
    return int(c.number(k, v, integer=True, minimum=1, maximum=65535))


def _wave(c: _Checker, k: str, v: Any, root: Path) -> int:
    return int(c.number(k, v, integer=True, maximum=1000))


def _one_of(choices: tuple[str, ...], optional: bool = False) -> Check:
    def check(c: _Checker, k: str, v: Any, root: Path) -> str | None:
        return None if optional and v is None else c.choice(k, v, choices)

    return check


def _image(c: _Checker, k: str, v: Any, root: Path) -> str | None:
    if v is None:
        return None
    image = c.string(k, v)
    if len(image) > MAX_IMAGE_LENGTH or any(ch.isspace() for ch in image):
        raise c.fail(k, f"not an image reference: {image[:80]!r}…")
    return image


def _command(c: _Checker, k: str, v: Any, root: Path) -> tuple[str, ...] | None:
    if v is None:
        return None
    command = c.string_list(k, v)
    if not command:
        raise c.fail(k, "must not be empty")
    return command


def _canaries(c: _Checker, k: str, v: Any, root: Path) -> tuple[str, ...]:
    canaries = c.string_list(k, v)
    for canary in canaries:
        if canary not in CANARY_IDS:
            raise c.fail(k, f"unknown canary {canary!r} (known: {', '.join(CANARY_IDS)})")
    return canaries


def _dialects(c: _Checker, k: str, v: Any, root: Path) -> tuple[str, ...]:
    names = c.string_list(k, v)
    if not names:
        raise c.fail(k, "must name at least one dialect")
    for name in names:
        if name not in DIALECTS:
            raise c.fail(k, f"unknown dialect {name!r} (known: {', '.join(DIALECTS)})")
    if len(set(names)) < len(names):
        raise c.fail(k, f"names a dialect twice: {list(names)}")
    return names


def _secrets(c: _Checker, k: str, v: Any, root: Path) -> tuple[str, ...]:
    names = c.string_list(k, v)
    for name in names:
        if not _ENV_NAME_RE.match(name):
            raise c.fail(k, f"{name!r} is not an environment variable name")
    return names


def _markers(c: _Checker, k: str, v: Any, root: Path) -> tuple[str, ...]:
    # Extending, not replacing, the default markers: a template adds its own phrasing.
    return (*DEFAULT_DROPPED_MARKERS, *c.string_list(k, v))


def _memory(c: _Checker, k: str, v: Any, root: Path) -> str | None:
    return None if v is None else c.memory_size(k, v)


def _cpus(c: _Checker, k: str, v: Any, root: Path) -> float | None:
    return None if v is None else c.number(k, v, minimum=0.01, maximum=1024)


def _configs(c: _Checker, k: str, v: Any, root: Path) -> Path | None:
    if v is None:
        return None
    configs = (root / c.string(k, v)).resolve()
    if not configs.is_dir():
        raise c.fail(k, f"directory {configs} does not exist")
    return configs


def _flag(c: _Checker, k: str, v: Any, root: Path) -> bool:
    if not isinstance(v, bool):
        raise c.fail(k, f"expected true or false, got {v!r}")
    return v


def _optional_build(c: _Checker, k: str, v: Any, root: Path) -> Build | None:
    return None if v is None else _build(c, root, v)


def _probe_key(c: _Checker, k: str, v: Any, root: Path) -> Probe:
    return _probe(c, v)


def _since(c: _Checker, k: str, v: Any, root: Path) -> datetime.date | None:
    return _date(c, k, v)


def _logs(c: _Checker, k: str, v: Any, root: Path) -> tuple[str, ...]:
    return _log_patterns(c, v)


def _count(c: _Checker, k: str, v: Any, root: Path) -> int:
    return int(c.number(k, v, integer=True, minimum=1, maximum=MAX_REPEAT))


def _retries(c: _Checker, k: str, v: Any, root: Path) -> int:
    return int(c.number(k, v, integer=True, maximum=MAX_RETRIES))


def _share(c: _Checker, k: str, v: Any, root: Path) -> float:
    return c.number(k, v, maximum=1)


def _quarantine(c: _Checker, k: str, v: Any, root: Path) -> dict[str, datetime.date]:
    if not isinstance(v, dict):
        raise c.fail(k, f"expected a table of canary = end date, got {v!r}")
    known = (*CANARY_IDS, *DIAGNOSTIC_IDS)
    table: dict[str, datetime.date] = {}
    for canary, until in v.items():
        if canary not in known:
            raise c.fail(f"{k}.{canary}", f"unknown canary (known: {', '.join(known)})")
        end = _date(c, f"{k}.{canary}", until)
        if end is None:
            raise c.fail(f"{k}.{canary}", "expected an end date like 2026-12-15")
        table[canary] = end
    return table


@dataclass(frozen=True, kw_only=True)
class Template:
    """One agent runtime template, with defaults merged in.

    Every field but ``name`` and ``dialect`` is a key of ``templates.toml`` (DESIGN §5),
    declared once
    here with its default and its check: the allowed keys, ``[defaults]`` and the
    builder all derive from these fields.
    """

    name: str
    description: str = key("", _description, shared=False)
    image: str | None = key(None, _image, shared=False)
    build: Build | None = key(None, _optional_build, shared=False)
    command: tuple[str, ...] | None = key(None, _command, shared=False)
    """How the process driver starts it."""
    process_from_build: bool = key(False, _flag, shared=False)
    """The process driver runs ``command`` on what the image is built from: a copy of
    the build context (with ``build.include``) and a venv of the wheelhouse's requirements."""
    port: int = key(8000, _port)
    a2a_path: str = key("/", _path)
    ready_path: str = key("/.well-known/agent-card.json", _path)
    boot_timeout: float = key(180.0, _seconds)
    turn_timeout: float = key(120.0, _seconds)
    canaries: tuple[str, ...] = key(list(DEFAULT_CANARY_IDS), _canaries)
    session_scope: SessionScope = key("context", _one_of(SESSION_SCOPES))
    gate: Gate = key("advisory", _one_of(GATES))
    wave: int = key(0, _wave)
    env: Mapping[str, str] = key({}, _table)
    secrets: tuple[str, ...] = key([], _secrets)
    dropped_markers: tuple[str, ...] = key([], _markers)
    probe: Probe = key({}, _probe_key)
    pull: PullPolicy = key("missing", _one_of(PULL_POLICIES))
    workspace: str = key("/workspace", _text)
    mem_limit: str | None = key(None, _memory)
    cpus: float | None = key(None, _cpus)
    configs: Path | None = key(None, _configs)
    """A directory copied to ``/configs`` for each run, ``${PORT}`` etc. rendered."""
    required_since: datetime.date | None = key(None, _since)
    """When the gate became required: how long it has baked."""
    model: Model | None = key(None, _one_of(MODELS, optional=True))
    """``sim``: the harness serves a scripted model and points the runtime at it; ``none``:
    the runtime calls no model (``--model sim`` leaves it alone); unset: its own provider."""
    model_env: Mapping[str, str] = key({}, _table)
    """More variables for the runtime when ``model = "sim"`` (``${OPENAI_BASE_URL}`` etc.)."""
    peer: str = key("reference", _text)
    """The template whose runtime is this one's peer in ``peer_call`` (another instance)."""
    logs: tuple[str, ...] = key([], _logs)
    """Log files in the runtime's filesystem (globs, ``{workspace}`` allowed): copied into
    the artifacts, masked and capped, and searched for why the runtime failed."""
    dialects: tuple[str, ...] = key(["context"], _dialects)
    """How the harness speaks to it (DESIGN §3.4): one cell of the matrix per dialect."""
    repeat: int = key(1, _count)
    """Samples of each canary's conversation (fresh contexts and tokens each)."""
    retries: int = key(2, _retries)
    """How often a sample that failed for the model provider's reason is driven again."""
    pass_rate: float = key(0.0, _share)
    """The share of samples that must pass for a cell to be ``flaky`` rather than failed."""
    flaky: str = key("fail", _one_of(FLAKY_POLICIES))
    """A flaky cell fails its gate (``fail``), passes it (``pass``), or passes with a
    warning (``advisory``)."""
    quarantine: Mapping[str, datetime.date] = key({}, _quarantine, shared=False)
    """Canaries (or diagnostics) that run and are shown but do not gate, each until the end
    of its date; after it, they gate again and the result says so."""
    dialect: str = "context"
    """The dialect of this cell (set by :func:`cells`, not a key)."""

    @property
    def label(self) -> str:
        """What results, artifacts and progress lines call this cell: the template's name in
        the one dialect it declares, ``<template>@<dialect>`` otherwise (:func:`cells`)."""
        return self.name if self.dialects == (self.dialect,) else f"{self.name}@{self.dialect}"

    @property
    def session_name(self) -> str:
        """The nox session that runs this template."""
        return f"canary-{self.name}"


_KEYS = {f.name: f for f in dataclasses.fields(Template) if "check" in f.metadata}
_DEFAULTS: dict[str, Any] = {n: f.metadata["default"] for n, f in _KEYS.items()}
_SHARED_KEYS = frozenset(n for n, f in _KEYS.items() if f.metadata["shared"])
_TEMPLATE_KEYS = frozenset(_KEYS)


def _template(check: _Checker, root: Path, name: str, raw: dict[str, Any]) -> Template:
    """Check every key of a template (its own, else [defaults]', else the field's default)."""
    values = {
        k: spec.metadata["check"](check, k, raw.get(k, _DEFAULTS[k]), root)
        for k, spec in _KEYS.items()
    }
    template = Template(name=name, **values)
    if template.image is None and template.build is None and template.command is None:
        raise check.fail("image", "a template needs one of 'image', 'build' or 'command'")
    for canary in template.quarantine:
        if canary in CANARY_IDS and canary not in template.canaries:
            raise check.fail(f"quarantine.{canary}", "the template does not run this canary")
    built = template.build
    if template.process_from_build and (
        template.command is None or built is None or built.wheelhouse is None
    ):
        raise check.fail(
            "process_from_build", "needs a 'command' and a 'build' with a 'wheelhouse'"
        )
    return template


@dataclass(frozen=True)
class Config:
    """A loaded ``templates.toml``.

    Attributes:
        path: The file it was read from.
        templates: Templates by name, in file order.
    """

    path: Path
    templates: Mapping[str, Template]
    defaults: Mapping[str, Any] = field(default_factory=dict)

    @property
    def root(self) -> Path:
        """The directory relative paths in the file are resolved against."""
        return self.path.parent

    def select(self, names: list[str]) -> list[Template]:
        """Return the named templates, or raise a usage error naming an unknown one."""
        unknown = [name for name in names if name not in self.templates]
        if unknown:
            known = ", ".join(self.templates)
            raise ConfigError(f"{self.path}: no template named {unknown[0]!r} (known: {known})")
        return [self.templates[name] for name in names]

    def adhoc(self, image: str) -> Template:
        """A required template for an image that is not in the file, with its defaults."""
        repository = image.rsplit("/", 1)[-1].split(":", maxsplit=1)[0]
        name = re.sub(r"[^a-z0-9_.-]+", "-", repository.lower()).strip("-.") or "image"
        checker = _Checker(self.path, name, {})
        return _template(
            checker, self.root, name, {**self.defaults, "image": image, "gate": "required"}
        )

    def matrix_templates(self) -> list[Template]:
        """Templates ``matrix`` runs: every gate but ``off``, in cascade order."""
        return cascade_order(t for t in self.templates.values() if t.gate != "off")


def on_scripted_model(templates: list[Template]) -> list[Template]:
    """``--model sim``: every template with a model of its own runs on the scripted model
    (its secrets get dummy values, its ``model_env`` applies); ``model = "none"`` stays."""
    return [dataclasses.replace(t, model="sim") if t.model is None else t for t in templates]


class Cascading(Protocol):
    """Anything placed in the cascade: a template or a template's result."""

    @property
    def name(self) -> str: ...

    @property
    def wave(self) -> int: ...


CascadingT = TypeVar("CascadingT", bound=Cascading)


def cells(templates: Iterable[Template], dialects: tuple[str, ...] | None = None) -> list[Template]:
    """One cell per template and dialect: what a run drives and judges.

    Args:
        templates: The templates to run.
        dialects: Every template's dialects (``--dialect``; None: each template's own).

    Returns:
        A copy of each template per dialect, named ``<template>@<dialect>`` (its result
        file, its artifacts) unless it is the only dialect its template declares. The name
        depends on the cell alone, not on what else the run speaks: a CI job per dialect
        writes the same cell as a local run of every dialect, and a baseline taken before
        a template had dialects still compares with its one cell.
    """
    return [dataclasses.replace(t, dialect=d) for t in templates for d in (dialects or t.dialects)]


def cascade_order(items: Iterable[CascadingT]) -> list[CascadingT]:
    """The cascade's order: wave 0 first, then by name."""
    return sorted(items, key=lambda item: (item.wave, item.name))


def default_path(directory: Path) -> Path:
    """``$CANARY_TEMPLATES`` if set, else ``templates.toml`` in ``directory``."""
    return Path(os.environ.get(CONFIG_ENV) or directory / DEFAULT_FILE)


def load(path: str | os.PathLike[str], environ: Mapping[str, str] | None = None) -> Config:
    """Read, expand and validate a templates file.

    Args:
        path: The ``templates.toml`` to read.
        environ: Environment for ``${VAR:-default}`` expansion (default ``os.environ``).

    Returns:
        The validated configuration.

    Raises:
        ConfigError: On any syntax or rule violation, with a one-line message.
    """
    file = Path(path)
    environ = os.environ if environ is None else environ
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{file}: cannot read templates file ({exc.strerror})") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{file}: not UTF-8 text (byte {exc.start})") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise _syntax_error(file, exc) from None
    return _validate(file.resolve(), data, environ)


def _syntax_error(file: Path, exc: tomllib.TOMLDecodeError) -> ConfigError:
    message = str(exc)
    duplicate = _DUPLICATE_RE.search(message)
    if duplicate:
        name, line, column = duplicate.groups()
        return ConfigError(f"{file}:{line}:{column}: template {name!r}: duplicate template name")
    position = _TOML_POSITION_RE.search(message)
    where = f"{file}:{position.group(1)}:{position.group(2)}" if position else str(file)
    reason = _TOML_POSITION_RE.sub("", message).strip()
    return ConfigError(f"{where}: TOML syntax error: {reason}")


def _validate(file: Path, data: dict[str, Any], environ: Mapping[str, str]) -> Config:
    top = _Checker(file, None, environ)
    for key in data:
        if key not in _TOP_KEYS:
            raise ConfigError(f"{file}: top level, key {key!r}: unknown key")
    if data.get("schema") != SCHEMA_VERSION:
        raise ConfigError(
            f"{file}: top level, key 'schema': "
            f"expected {SCHEMA_VERSION}, got {data.get('schema')!r}"
        )
    defaults_table = data.get("defaults", {})
    if not isinstance(defaults_table, dict):
        raise ConfigError(f"{file}: top level, key 'defaults': expected a table")
    top.unknown_keys(defaults_table, _SHARED_KEYS)
    defaults = top.expand("", defaults_table)

    templates_table = data.get("templates", {})
    if not isinstance(templates_table, dict) or not templates_table:
        raise ConfigError(
            f"{file}: top level, key 'templates': expected at least one [templates.NAME]"
        )
    templates: dict[str, Template] = {}
    lowered: dict[str, str] = {}
    for name, table in templates_table.items():
        checker = _Checker(file, name, environ)
        if not _NAME_RE.match(name) or len(name) > MAX_NAME_LENGTH:
            raise ConfigError(
                f"{file}: template {name[:80]!r}: name must be at most {MAX_NAME_LENGTH} "
                "lowercase letters, digits, '.', '_' or '-'"
            )
        if name.lower() in lowered:
            raise ConfigError(f"{file}: template {name!r}: duplicate template name")
        lowered[name.lower()] = name
        if not isinstance(table, dict):
            raise ConfigError(f"{file}: template {name!r}: expected a table")
        checker.unknown_keys(table, _TEMPLATE_KEYS)
        merged = {**defaults, **checker.expand("", table)}
        templates[name] = _template(checker, file.parent, name, merged)
    for template in templates.values():
        if "peer_call" not in template.canaries:
            continue
        peer = templates.get(template.peer)
        if peer is None:
            raise _Checker(file, template.name, environ).fail(
                "peer", f"no template named {template.peer!r} to be the peer of peer_call"
            )
        if peer.model == "sim":
            raise _Checker(file, template.name, environ).fail(
                "peer", f"the peer {peer.name!r} runs on the scripted model, which serves the "
                "template under test only: name a template with a model of its own"
            )  # fmt: skip
    return Config(path=file, templates=templates, defaults=defaults)


_GLOB_CHARS = frozenset("*?[")


def _log_patterns(check: _Checker, raw: Any) -> tuple[str, ...]:
    """Absolute globs below a named directory: ``/tmp/openclaw/*.log``, ``{workspace}/x.log``."""
    patterns = check.string_list("logs", raw)
    for pattern in patterns:
        parts = pattern.split("/")
        if not pattern.startswith(("/", "{workspace}/")) or ".." in parts:
            raise check.fail("logs", f"{pattern!r} is not an absolute path in the runtime")
        literal = [p for p in parts[:-1] if p]
        if not literal or _GLOB_CHARS.intersection("".join(literal)) or not parts[-1]:
            raise check.fail(
                "logs",
                f"{pattern!r}: wildcards only in the file name, below a named directory "
                "(e.g. '/tmp/openclaw/*.log')",
            )
    return patterns


def _date(check: _Checker, key: str, raw: Any) -> datetime.date | None:
    if raw is None or (isinstance(raw, datetime.date) and not isinstance(raw, datetime.datetime)):
        return raw
    try:
        return datetime.date.fromisoformat(check.string(key, raw))
    except ValueError:
        raise check.fail(key, f"expected a date like 2026-11-25, got {raw!r}") from None


def _build(check: _Checker, root: Path, raw: Any) -> Build:
    if not isinstance(raw, dict):
        raise check.fail("build", f"expected a table with 'context', got {raw!r}")
    check.unknown_keys(raw, _BUILD_KEYS, prefix="build.")
    if "context" not in raw:
        raise check.fail("build.context", "missing (the build context directory)")
    context = (root / check.string("build.context", raw["context"])).resolve()
    if not context.is_dir():
        raise check.fail("build.context", f"directory {context} does not exist")
    dockerfile = check.string("build.dockerfile", raw.get("dockerfile", "Dockerfile"))
    args = check.string_table("build.args", raw.get("args", {}))
    wheelhouse = _wheelhouse(check, context, raw["wheelhouse"]) if "wheelhouse" in raw else None
    npm = tuple(check.string_list("build.npm", raw.get("npm", [])))
    for spec in npm:
        if not _NPM_SPEC_RE.match(spec):
            raise check.fail(
                "build.npm", f"expected exact versions like 'name@1.2.3', got {spec!r}"
            )
    names = {spec.rsplit("@", 1)[0] for spec in npm}
    npm_scripts = tuple(check.string_list("build.npm_scripts", raw.get("npm_scripts", [])))
    for name in npm_scripts:
        if name not in names:
            raise check.fail("build.npm_scripts", f"{name!r} is not one of build.npm's packages")
    include = _include(check, root, context, raw.get("include", []))
    return Build(
        context=context, dockerfile=dockerfile, args=args, wheelhouse=wheelhouse, npm=npm,
        npm_scripts=npm_scripts, include=include,
    )  # fmt: skip


def _include(check: _Checker, root: Path, context: Path, raw: Any) -> tuple[tuple[str, Path], ...]:
    """Shared files for the context root; none may replace a file of the context."""
    files: dict[str, Path] = {}
    for entry in check.string_list("build.include", raw):
        source = (root / entry).resolve()
        if source.is_dir():
            found = [p for p in sorted(source.rglob("*")) if p.is_file()]
            found = [p for p in found if not CACHE_PARTS.intersection(p.relative_to(source).parts)]
            # Resolved: a symlink in a shared directory brings its file, as a copy would.
            pairs = [(p.relative_to(source).as_posix(), p.resolve()) for p in found]
        elif source.is_file():
            pairs = [(source.name, source)]
        else:
            raise check.fail("build.include", f"{source} does not exist")
        for name, path in pairs:
            if (context / name).exists() or name in files:
                raise check.fail("build.include", f"{entry} would replace {name} in the context")
            files[name] = path
    return tuple(sorted(files.items()))


def _wheelhouse(check: _Checker, context: Path, raw: Any) -> Wheelhouse:
    if not isinstance(raw, dict):
        raise check.fail("build.wheelhouse", f"expected a table with 'requirements', got {raw!r}")
    check.unknown_keys(raw, _WHEELHOUSE_KEYS, prefix="build.wheelhouse.")
    requirements = check.string("build.wheelhouse.requirements", raw.get("requirements"))
    if not (context / requirements).is_file():
        raise check.fail(
            "build.wheelhouse.requirements", f"{context / requirements} does not exist"
        )
    python = check.string("build.wheelhouse.python", raw.get("python", "3.11"))
    if not _PYTHON_VERSION_RE.match(python):
        raise check.fail(
            "build.wheelhouse.python", f"expected a version like '3.11', got {python!r}"
        )
    no_deps = raw.get("no_deps", False)
    if not isinstance(no_deps, bool):
        raise check.fail("build.wheelhouse.no_deps", f"expected true or false, got {no_deps!r}")
    return Wheelhouse(requirements=requirements, python=python, no_deps=no_deps)


def _probe(check: _Checker, raw: Any) -> Probe:
    if not isinstance(raw, dict):
        raise check.fail("probe", f"expected a table, got {raw!r}")
    check.unknown_keys(raw, _PROBE_KEYS, prefix="probe.")
    store = raw.get("session_store")
    key = raw.get("key")
    if (store is None) != (key is None):
        raise check.fail("probe", "'session_store' and 'key' go together")
    if store is not None:
        check.string("probe.session_store", store)
        pattern = check.string("probe.key", key)
        try:
            fields = {f for _, f, _, _ in string.Formatter().parse(pattern) if f is not None}
        except ValueError as exc:
            raise check.fail("probe.key", f"bad placeholder syntax: {exc}") from None
        unknown = fields - {"workspace_id", "context_id"}
        if unknown:
            raise check.fail(
                "probe.key",
                f"unknown placeholder {{{sorted(unknown)[0]}}} "
                "(use {workspace_id} and {context_id})",
            )
    return Probe(session_store=store, key=key)
