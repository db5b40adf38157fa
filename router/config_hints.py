"""Configuration messages that point at the fix, and the YAML ``plugins:`` list.

Apart from :mod:`router.config` so that validation stays readable: "did you mean"
suggestions for misspelled keys, kinds and policies (naming a known name, never the
value typed), policy options indented one level too little, and the import of the
modules ``plugins:`` names. Every problem is a :class:`~router.errors.ConfigError` at a
key path.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Mapping
from types import ModuleType
from typing import TYPE_CHECKING, Any, get_args

from pydantic import BaseModel

from router.errors import ConfigError

if TYPE_CHECKING:
    from router.plugins import Plugins
    from router.policy import Policy

__all__ = [
    "check_policy_items",
    "did_you_mean",
    "fields_at",
    "misspelled_first",
    "misspelled_key",
    "plugin_modules",
    "unknown_policy",
]


def plugin_modules(config: Mapping[str, Any]) -> list[ModuleType]:
    """Import the modules the YAML ``plugins:`` list names, in order.

    Each entry is a dotted module path (``my_policies`` or ``acme.router_plugin``),
    imported like any module (from ``sys.path``: the current directory, ``PYTHONPATH``,
    installed packages) and registered like ``Router(plugins=[...])``. A failed import
    is a ``ConfigError`` at ``plugins[i]``; its message does not quote the entry.
    """
    if not isinstance(config, Mapping):
        return []  # resolve() says what is wrong with the document
    entries = config.get("plugins")
    if entries is None:
        return []
    if not isinstance(entries, list):
        raise ConfigError("plugins", "a list of module paths: 'plugins: [my_policies]'")
    modules: list[ModuleType] = []
    for i, entry in enumerate(entries):
        where = f"plugins[{i}]"
        if not isinstance(entry, str) or not all(
            part.isidentifier() for part in entry.strip().split(".")
        ):
            raise ConfigError(where, "a dotted module path, like my_policies or acme.plugin")
        path = entry.strip()
        try:
            modules.append(importlib.import_module(path))
        except ModuleNotFoundError as exc:
            if exc.name is not None and (path == exc.name or path.startswith(exc.name + ".")):
                raise ConfigError(
                    where,
                    "no module of that name can be imported: run from the directory that"
                    " holds it, add that directory to PYTHONPATH, or install its package",
                ) from None
            missing = f" (it needs {exc.name!r}, which is not installed)" if exc.name else ""
            raise ConfigError(where, f"the module failed to import{missing}") from None
        except Exception as exc:
            raise ConfigError(
                where, f"the module failed to import: its code raised {type(exc).__name__}"
            ) from None
    return modules


def did_you_mean(name: str, known: Any) -> str:
    """`` (did you mean 'x'?)`` when ``name`` is a likely misspelling of a known name.

    Only a known name is ever shown, never ``name`` itself."""
    close = difflib.get_close_matches(name, [str(k) for k in known], n=1, cutoff=0.75)
    return f" (did you mean {close[0]!r}?)" if close else ""


def misspelled_first(errors: list[Any]) -> Any:
    """The first unknown key that is a likely misspelling of a missing required key at the
    same place: pydantic lists the missing one first, which hides the typo."""
    missing = {tuple(e["loc"]) for e in errors if e["type"] == "missing"}
    for error in errors:
        loc = tuple(error["loc"])
        if error["type"] != "extra_forbidden" or not loc:
            continue
        siblings = [m[-1] for m in missing if m[:-1] == loc[:-1]]
        if did_you_mean(str(loc[-1]), siblings):
            return error
    return None


def fields_at(model: type[BaseModel], loc: tuple[int | str, ...]) -> tuple[str, ...]:
    """The field names of the pydantic model found at ``loc`` inside ``model`` (list
    indexes stepped over); () when no model sits there."""
    current: Any = model
    for part in loc:
        if isinstance(part, int):
            continue
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return ()
        info = current.model_fields.get(part)
        if info is None:
            return ()
        annotation = info.annotation
        nested = [a for a in (annotation, *get_args(annotation)) if isinstance(a, type)]
        current = next((a for a in nested if issubclass(a, BaseModel)), None)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return tuple(current.model_fields)
    return ()


def misspelled_key(entry: Mapping[str, Any], wanted: str, where: str) -> None:
    """Raise at the key of ``entry`` that looks like a misspelling of ``wanted``, if any."""
    for key in entry:
        if isinstance(key, str) and did_you_mean(key, [wanted]):
            raise ConfigError(f"{where}.{key}", f"unknown key (did you mean {wanted!r}?)")


def unknown_policy(name: str, known: Mapping[str, type[Policy]]) -> str:
    """What to say of a policy name that is not registered (without quoting it)."""
    problem = f"unknown policy{did_you_mean(name, sorted(known))}"
    owners = [policy for policy, cls in known.items() if name in cls.model_fields]
    if owners:
        problem += (
            f": that is an option of {owners[0]}, not a policy; indent it under"
            f" '- {owners[0]}:' (or write '- {owners[0]}: {{{name}: ...}}')"
        )
    problem += (
        f"; known: {', '.join(sorted(known))}. A policy from your own module: list the"
        " module under 'plugins:'"
    )
    return problem


def check_policy_items(items: Any, plugins: Plugins) -> None:
    """Say plainly what is wrong with a ``policy:`` item of the wrong shape, before
    pydantic reports it as ``policy[i].str: Input should be a valid string``.

    The usual cause is options indented one level too little::

        policy:
          - max_price:
            prompt_per_mtok: 1     # sits beside 'max_price', not under it
    """
    if not isinstance(items, list):
        return
    known = plugins.policies()
    for i, item in enumerate(items):
        where = f"policy[{i}]"
        if not isinstance(item, dict) or not item:
            continue
        names = [k for k in item if isinstance(k, str) and k in known]
        if len(names) == 1 and len(item) > 1:
            name = names[0]
            fields = known[name].model_fields
            beside = [k for k in item if k != name and isinstance(k, str) and k in fields]
            if beside:
                raise ConfigError(
                    f"{where}.{name}",
                    f"its options ({', '.join(beside)}) sit beside it, not under it: indent"
                    f" them two more spaces under '{name}:', or write"
                    f" '- {name}: {{{beside[0]}: ...}}'",
                )
        if len(item) == 1:
            ((name, block),) = item.items()
            if block is None or isinstance(block, dict):
                continue  # the right shape: resolve() checks the name and the options
            if not isinstance(name, str) or name not in known:
                raise ConfigError(where, unknown_policy(str(name), known))
            raise ConfigError(
                f"{where}.{name}",
                f"a policy's options are a mapping: '- {name}: {{option: value}}'"
                f" (or '- {name}' for its defaults)",
            )
