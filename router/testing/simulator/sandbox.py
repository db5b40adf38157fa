"""A running :class:`~router.testing.simulator.Simulator` as a sandbox: the environment
variables and the YAML that point a router at it.

The YAML reads every base URL and key from the environment, exactly as the documented
``examples/router.yaml`` does, so the same file serves the real providers once the real
variables are set. Used by ``router sim``, the examples, and tests
(``sim.environ()``, ``sim.config_yaml()``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

__all__ = ["ENV_PREFIXES", "REMOTE", "config_yaml", "environ", "secret_variable"]

ENV_PREFIXES: dict[str, str] = {
    "pinstripes": "PINSTRIPES",
    "pipellm": "PIPELLM",
    "inference-api": "MAJESTIX",
    "routstr": "ROUTSTR",
    "openrouter": "OPENROUTER",
    "openai": "LOCAL",
}
"""Simulated provider -> the prefix of its variables (``PINSTRIPES_BASE_URL``, ...)."""

REMOTE: tuple[str, ...] = ("pinstripes", "pipellm", "inference-api", "routstr", "openrouter")
"""The simulated providers that stand for remote, priced APIs (all but ``openai``)."""

_NAMES = {"inference-api": "majestix", "openai": "local"}  # provider names in the YAML


def secret_variable(provider: str) -> str:
    """The variable that holds ``provider``'s key (Routstr's is a Cashu token)."""
    return "ROUTSTR_CASHU_TOKEN" if provider == "routstr" else f"{ENV_PREFIXES[provider]}_API_KEY"


def environ(
    providers: Iterable[str], base_url: Callable[[str], str], api_key: Callable[[str], str]
) -> dict[str, str]:
    """``<PREFIX>_BASE_URL`` and the key variable of each provider, in order."""
    variables: dict[str, str] = {}
    for provider in providers:
        variables[f"{ENV_PREFIXES[provider]}_BASE_URL"] = base_url(provider)
        variables[secret_variable(provider)] = api_key(provider)
    return variables


def config_yaml(providers: Iterable[str]) -> str:
    """A router configuration over ``providers`` that reads URLs and keys from
    :func:`environ`'s variables, with a group and the documented policy chain."""
    chosen = list(providers)
    lines = [
        "# A router over the simulated providers of `router sim` (offline, fake keys).",
        "# Base URLs and keys come from the environment, as with real providers.",
        "providers:",
    ]
    for provider in chosen:
        prefix = ENV_PREFIXES[provider]
        lines += [
            f"  - name: {_NAMES.get(provider, provider)}",
            f"    kind: {provider}",
            f"    base_url: ${{{prefix}_BASE_URL}}",
            f"    api_key: ${{{secret_variable(provider)}}}",
        ]
        if provider == "openai":  # a local server publishes no prices: state them
            lines += ["    model_info:", '      "*": {prompt_per_mtok: 0, completion_per_mtok: 0}']
    flash = [
        ref
        for provider, ref in (
            ("pinstripes", "pinstripes:ps/deepseek-v4-flash"),
            ("routstr", "routstr:deepseek/deepseek-v4-flash"),
            ("openrouter", "openrouter:deepseek/deepseek-v4-flash"),
        )
        if provider in chosen
    ]
    if flash:
        lines += ["models:", f"  deepseek-v4-flash: [{', '.join(flash)}]"]
    lines += [
        "policy:",
        "  - capabilities: {}",
        "  - context_fit: {}",
        "  - max_price: {prompt_per_mtok: 5, completion_per_mtok: 20}",
        "  - cheapest: {expected_output_tokens: 300, prefix_cache: true}",
        "",
    ]
    return "\n".join(lines)
