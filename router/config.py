"""The YAML configuration: loading, ``${VAR}`` interpolation, validation, resolution of plugins.

Every problem is a :class:`ConfigError` whose message starts with the key path
(``providers[1].usd_per_credit``). No message is built from a configured value, and
pydantic's own errors (which quote input values) are never chained, so a secret in
the file or the environment cannot leak through an error (an unknown kind is reported
by its key path and the list of known kinds, not by its value, which may have come
from ``${VAR}``).
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
)

from router.config_hints import (
    check_policy_items,
    did_you_mean,
    fields_at,
    misspelled_first,
    misspelled_key,
    plugin_modules,
    unknown_policy,
)
from router.config_spend import BudgetConfig, TelemetryConfig
from router.errors import ConfigError
from router.state.settings import StateSettings

if TYPE_CHECKING:  # annotations only: importing router.provider here would load httpx
    from router.plugins import Plugins
    from router.policy import Policy
    from router.provider import Provider, ProviderOptions

__all__ = [
    "BudgetConfig",
    "ClientKey",
    "FallbackConfig",
    "ResolvedConfig",
    "ServerSettings",
    "TelemetryConfig",
    "interpolate",
    "load_yaml",
    "plugin_modules",
    "resolve",
    "server_settings",
]

DEFAULT_POLICY: tuple[str, ...] = ("capabilities", "context_fit", "cheapest")
"""The chain used when the YAML has no ``policy:`` section."""


class FallbackConfig(BaseModel):
    """The ``fallback:`` block: how failed requests move on to the next candidate."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    attempts: int = Field(default=4, ge=1, le=100)
    """Most attempts per request, across all candidates."""
    retry_on: tuple[int | Literal["timeout", "connect"], ...] = (
        429, 500, 502, 503, 504, 529, "timeout", "connect",
    )  # fmt: skip
    """HTTP statuses and failure kinds that move a request on to the next candidate."""
    respect_retry_after: bool = True
    """Wait as long as a provider's ``Retry-After`` asks before retrying it."""
    cooldown_seconds: float = Field(default=30.0, ge=0)
    """How long a deployment that keeps failing is left out of routing."""
    cooldown_after: int = Field(default=3, ge=1)
    """Consecutive retryable failures after which a deployment cools down."""
    cooldown_max_seconds: float = Field(default=300.0, ge=0)
    """Cap on a growing cooldown: a deployment whose probe fails after a cooldown cools
    again for twice as long as the last time, up to this (and never less than
    ``cooldown_seconds``)."""
    backoff_seconds: float = Field(default=0.5, ge=0)
    """First wait before retrying the same deployment; doubles each time, with jitter."""
    max_wait_seconds: float = Field(default=30.0, ge=0)
    """Cap on any single wait, ``Retry-After`` included, and on the time a request waits
    in all for capacity to come back when every candidate is cooling down."""
    deadline_seconds: float | None = Field(default=None, gt=0)
    """One deadline per request across all attempts and waits (until a stream's first
    chunk); None: only the per-provider timeouts and ``attempts`` bound it."""


class ClientKey(BaseModel):
    """A client key of ``router serve`` and the name it is known by."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    key: SecretStr
    """What the client sends as ``Authorization: Bearer <key>``."""
    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:@\[\]-]+$")
    """Who it is: what budgets keyed by ``api_key`` count under, never the key itself. A
    key given as a plain string is named after its place (``api_keys[0]``)."""
    admin: bool = False
    """May read ``GET /v1/spend`` (every budget's spend)."""


class ServerSettings(BaseModel):
    """The ``server:`` block: how ``router serve`` listens and whom it answers."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    api_keys: tuple[ClientKey, ...] = ()
    """Client keys (``Authorization: Bearer <key>``), each a string or ``{key, name}``;
    none: every caller is answered, and only a loopback address may be bound."""
    max_body_bytes: int = Field(default=1_000_000, ge=1)
    """Largest request body accepted; a bigger one is answered 413."""
    host: str = Field(default="127.0.0.1", min_length=1)
    """Address to bind (``--host`` overrides it)."""
    port: int = Field(default=8000, ge=0, le=65535)
    """Port to bind (``--port`` overrides it; 0: any free port)."""
    header_timeout_seconds: float = Field(default=10.0, gt=0, le=3600)
    """A request's header block must arrive within this many seconds of its first byte (of
    the connection, for a new one), however slowly it drips: else 408 and the connection
    is closed."""
    body_timeout_seconds: float = Field(default=30.0, gt=0, le=3600)
    """A request's body must arrive within this many seconds of its header block: else 408
    and the connection is closed."""
    max_connections: int = Field(default=1000, ge=1)
    """Most concurrent client connections served; a request beyond them is answered 503."""

    @field_validator("api_keys", mode="before")
    @classmethod
    def _named_keys(cls, keys: Any) -> Any:
        if not isinstance(keys, list | tuple):
            return keys
        return [
            {"key": key, "name": f"api_keys[{i}]"} if isinstance(key, str | SecretStr) else key
            for i, key in enumerate(keys)
        ]

    @field_validator("api_keys")
    @classmethod
    def _usable_keys(cls, keys: tuple[ClientKey, ...]) -> tuple[ClientKey, ...]:
        names: set[str] = set()
        for entry in keys:
            if entry.name in names:
                raise ValueError("two client keys have the same name")
            names.add(entry.name)
            value = entry.key.get_secret_value()
            # An empty key would let any "Bearer " in; one with spaces, control or non-ASCII
            # characters could never be sent in a header as it is.
            if not value or not all("!" <= c <= "~" for c in value):
                raise ValueError(
                    "a client key must be non-empty printable ASCII, without spaces or"
                    " control characters (a trailing newline from a file or a secret?)"
                )
        return keys


class _Document(BaseModel):
    model_config = ConfigDict(extra="forbid")

    providers: list[dict[str, Any]] = Field(min_length=1)
    models: dict[str, list[str]] = Field(default_factory=dict)
    policy: list[str | dict[str, dict[str, Any] | None]] | None = None
    fallback: FallbackConfig = Field(default_factory=FallbackConfig)
    server: ServerSettings | None = None
    plugins: list[str] = Field(default_factory=list)
    budgets: list[BudgetConfig] = Field(default_factory=list)
    telemetry: TelemetryConfig = Field(default_factory=TelemetryConfig)
    state: StateSettings = Field(default_factory=StateSettings)


@dataclass(frozen=True)
class ResolvedConfig:
    """A validated configuration, with every plugin name resolved to its class."""

    providers: tuple[tuple[type[Provider], ProviderOptions], ...]
    groups: dict[str, tuple[str, ...]]
    policies: tuple[tuple[str, Policy], ...]
    fallback: FallbackConfig
    server: ServerSettings = field(default_factory=ServerSettings)
    """The ``server:`` block (read by ``router serve``; the Router itself ignores it)."""
    budgets: tuple[BudgetConfig, ...] = ()
    """The ``budgets:`` list."""
    telemetry: TelemetryConfig = field(default_factory=TelemetryConfig)
    """The ``telemetry:`` block."""
    state: StateSettings = field(default_factory=StateSettings)
    """The ``state:`` block: where cooldowns and the prefix memory live."""


# -- YAML -----------------------------------------------------------------------------


def load_yaml(source: str | os.PathLike[str]) -> Any:
    """Parse ``source``, a path to a YAML file or YAML text, with ``yaml.safe_load``."""
    import yaml  # here, not at the top: only YAML sources need it (~20 ms to import)

    text = _read_source(source)
    try:
        loader = yaml.SafeLoader(text)
        try:
            node = loader.get_single_node()
            if node is None:
                return None
            _refuse_duplicate_keys(node)
            return loader.construct_document(node)
        finally:
            loader.dispose()
    except ConfigError:
        raise
    except yaml.MarkedYAMLError as exc:
        # The problem and position only: PyYAML's own message quotes the offending line,
        # which may hold a literal secret.
        mark = exc.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "somewhere"
        problem = exc.problem or exc.context or "invalid YAML"
        raise ConfigError("", f"YAML error at {where}: {problem}") from None
    except Exception:
        # PyYAML's constructors raise plain ValueError / AttributeError (and quote the
        # value) when an explicit tag such as ``!!int`` does not fit its scalar.
        raise ConfigError(
            "", "YAML error: a value could not be built (check explicit '!!' tags)"
        ) from None


def _refuse_duplicate_keys(root: Any) -> None:
    """A ``ConfigError`` for a mapping that gives one key twice: YAML says keys are unique,
    and PyYAML would keep the last silently (a second ``api_key`` or ``attempts``).

    Walks the composed nodes (each mapping once, aliases included) with the key path; a
    merge (``<<: *base``) may override what it merges, as YAML intends."""
    import yaml

    seen: set[int] = set()
    todo: list[tuple[Any, str]] = [(root, "")]
    while todo:
        node, path = todo.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            keys: set[str] = set()
            for key, value in node.value:
                if key.tag == "tag:yaml.org,2002:merge":
                    todo.append((value, path))
                    continue
                name = key.value if isinstance(key, yaml.ScalarNode) else "?"
                where = _join(path, name)
                if isinstance(key, yaml.ScalarNode):
                    if name in keys:
                        mark = key.start_mark
                        raise ConfigError(
                            where,
                            f"duplicate key (again at line {mark.line + 1}, column"
                            f" {mark.column + 1}); each key may be given once",
                        )
                    keys.add(name)
                todo.append((value, where))
        elif isinstance(node, yaml.SequenceNode):
            todo.extend((item, f"{path}[{i}]") for i, item in enumerate(node.value))


def _read_source(source: str | os.PathLike[str]) -> str:
    if isinstance(source, os.PathLike):
        path = Path(source)
    elif "\n" not in source and source.strip().endswith((".yaml", ".yml")):
        path = Path(source.strip())
    else:
        return source
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError("", f"cannot read config file {str(path)!r}: {exc.strerror}") from None
    except ValueError:  # a NUL byte in the path
        raise ConfigError("", "the config path is not a valid file name") from None
    except UnicodeDecodeError:
        raise ConfigError("", f"config file {str(path)!r} is not UTF-8 text") from None


# -- ${VAR} interpolation ---------------------------------------------------------------

_VAR = re.compile(r"\$(\$)|\$\{([^}]*)\}|\$\{")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


MAX_NODES = 100_000
"""A configuration expands to at most this many values (YAML aliases can multiply them)."""


def interpolate(node: Any, environ: Mapping[str, str], path: str = "") -> Any:
    """Replace ``${VAR}`` and ``${VAR:-default}`` in every string of the tree.

    ``$$`` stands for a literal ``$``. An unset variable without a default is a
    ``ConfigError`` naming the key and the variable (never its value). A tree that
    expands to more than :data:`MAX_NODES` values (an alias bomb) is refused.
    """
    budget = [MAX_NODES]
    return _walk(node, environ, path, budget)


def _walk(node: Any, environ: Mapping[str, str], path: str, budget: list[int]) -> Any:
    budget[0] -= 1
    if budget[0] < 0:
        msg = f"the document expands to more than {MAX_NODES:,} values (nested YAML aliases?)"
        raise ConfigError("", msg)
    if isinstance(node, str):
        return _VAR.sub(lambda m: _substitute(m, environ, path), node) if "$" in node else node
    if isinstance(node, float) and not math.isfinite(node):
        # .inf timeouts overflow the socket layer; .inf waits never end
        raise ConfigError(path, "must be a finite number (not .inf or .nan)")
    if isinstance(node, dict):
        return {k: _walk(v, environ, _join(path, k), budget) for k, v in node.items()}
    if isinstance(node, list):
        return [_walk(v, environ, f"{path}[{i}]", budget) for i, v in enumerate(node)]
    return node


def _substitute(match: re.Match[str], environ: Mapping[str, str], path: str) -> str:
    if match.group(1):
        return "$"
    body = match.group(2)
    if body is None:
        raise ConfigError(path, "'${' without a closing '}'")
    name, sep, default = body.partition(":-")
    if not _NAME.fullmatch(name):
        # not quoted: a value pasted inside ${...} by mistake may be a secret
        raise ConfigError(path, "'${...}' must name an environment variable (letters, digits, '_')")
    value = environ.get(name)
    if value is not None and (value or not sep):
        return value
    if sep:
        return default
    raise ConfigError(
        path, f"environment variable {name} is not set (write ${{{name}:-default}} for a default)"
    )


def _join(path: str, key: Any) -> str:
    return f"{path}.{key}" if path else str(key)


# -- validation -----------------------------------------------------------------------


def _loc(prefix: str, loc: tuple[int | str, ...]) -> str:
    path = prefix
    for part in loc:
        path = f"{path}[{part}]" if isinstance(part, int) else _join(path, part)
    return path


def _raise_first(exc: ValidationError, prefix: str, model: type[BaseModel]) -> None:
    errors = exc.errors(include_url=False, include_input=False)
    error = misspelled_first(errors) or errors[0]
    loc = tuple(error["loc"])
    path = _loc(prefix, loc)
    if error["type"] == "extra_forbidden":
        known = fields_at(model, loc[:-1])
        problem = "unknown key" + did_you_mean(str(loc[-1]), known)
        if known:
            problem += f" (known keys: {', '.join(known)})"
    elif error["type"] == "missing":
        problem = "required key is missing"
    else:
        problem = str(error["msg"])
        if problem.startswith("Value error, "):
            problem = problem.removeprefix("Value error, ")
    # Not chained: pydantic's message quotes the input value, which may be a secret.
    raise ConfigError(path, problem) from None


def _validate(model: type[BaseModel], data: Any, prefix: str) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        _raise_first(exc, prefix, model)
    raise AssertionError  # pragma: no cover - _raise_first always raises


def resolve(
    data: Any, plugins: Plugins, environ: Mapping[str, str] | None = None
) -> ResolvedConfig:
    """Validate a parsed config document and resolve every plugin name in it."""
    if not isinstance(data, dict):
        raise ConfigError("", "the configuration must be a mapping with a 'providers' list")
    try:
        data = interpolate(data, os.environ if environ is None else environ)
    except RecursionError:
        raise ConfigError("", "the document contains itself (a recursive YAML alias)") from None
    check_policy_items(data.get("policy"), plugins)
    doc: _Document = _validate(_Document, data, "")

    kinds = plugins.providers()
    providers: list[tuple[type[Provider], ProviderOptions]] = []
    names: dict[str, int] = {}
    for i, entry in enumerate(doc.providers):
        where = f"providers[{i}]"
        kind = entry.get("kind")
        if not isinstance(kind, str):
            misspelled_key(entry, "kind", where)
            raise ConfigError(f"{where}.kind", f"required: one of {', '.join(sorted(kinds))}")
        if kind not in kinds:
            raise ConfigError(
                f"{where}.kind",
                f"unknown provider kind{did_you_mean(kind, sorted(kinds))};"
                f" known: {', '.join(sorted(kinds))}",
            )
        cls = kinds[kind]
        options: ProviderOptions = _validate(cls.Options, entry, where)
        if options.name in names:
            first = names[options.name]
            raise ConfigError(
                f"{where}.name", f"duplicate: the same name as providers[{first}].name"
            )
        if options.base_url is None and cls.default_base_url is None:
            raise ConfigError(f"{where}.base_url", f"required for kind {kind!r}")
        if options.api_key is None and cls.requires_key:
            raise ConfigError(f"{where}.api_key", f"required for kind {kind!r}")
        names[options.name] = i
        providers.append((cls, options))

    groups: dict[str, tuple[str, ...]] = {}
    for group, refs in doc.models.items():
        where = f"models.{group}"
        if group == "auto" or ":" in group or not group.strip():
            raise ConfigError(where, "a group name must not be 'auto', empty, or contain ':'")
        for j, ref in enumerate(refs):
            provider, sep, model_id = ref.partition(":")
            if not sep or not model_id:
                raise ConfigError(f"{where}[{j}]", "expected '<provider name>:<model id>'")
            if provider not in names:
                raise ConfigError(
                    f"{where}[{j}]",
                    f"no provider of that name; configured: {', '.join(names)}",
                )
        if not refs:
            raise ConfigError(where, "a group needs at least one deployment")
        groups[group] = tuple(refs)

    known = plugins.policies()
    chain: list[tuple[str, Policy]] = []
    items = doc.policy if doc.policy is not None else list(DEFAULT_POLICY)
    for i, item in enumerate(items):
        block: dict[str, Any] | None
        if isinstance(item, str):
            name, block = item, {}
        elif len(item) == 1:
            ((name, block),) = item.items()
        else:
            raise ConfigError(f"policy[{i}]", "each item names one policy: '- cheapest: {...}'")
        if name not in known:
            # neither quoted nor in the path: '- ${VAR}' may have put a secret here
            raise ConfigError(f"policy[{i}]", unknown_policy(name, known))
        where = f"policy[{i}].{name}"
        chain.append((name, _validate(known[name], block or {}, where)))

    seen: dict[str, int] = {}
    for i, budget in enumerate(doc.budgets):
        if budget.name in seen:
            raise ConfigError(
                f"budgets[{i}].name", f"duplicate: the same name as budgets[{seen[budget.name]}]"
            )
        seen[budget.name] = i

    return ResolvedConfig(
        tuple(providers),
        groups,
        tuple(chain),
        doc.fallback,
        doc.server or ServerSettings(),
        tuple(doc.budgets),
        doc.telemetry,
        doc.state,
    )


def server_settings(
    source: str | os.PathLike[str] | Mapping[str, Any],
    environ: Mapping[str, str] | None = None,
) -> ServerSettings:
    """The ``server:`` block of a configuration (a path, YAML text, or a parsed mapping),
    validated, with ``${VAR}`` replaced; the defaults when there is none.

    Only that block is read: the rest of the document is validated by :func:`resolve`
    (``Router.from_config``) as usual. Raises ``ConfigError`` (``server.port: ...``).
    """
    data = source if isinstance(source, Mapping) else load_yaml(source)
    if not isinstance(data, Mapping):
        raise ConfigError("", "the configuration must be a mapping with a 'providers' list")
    block = data.get("server")
    if block is None:
        return ServerSettings()
    block = interpolate(block, os.environ if environ is None else environ, "server")
    settings: ServerSettings = _validate(ServerSettings, block, "server")
    return settings
