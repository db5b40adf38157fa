"""The YAML configuration: interpolation, validation, key paths, and secrets that never leak.

Every broken config must raise ``ConfigError`` whose ``key_path`` says where (in YAML
terms) and whose ``problem`` says what; a secret from the environment or the file must
not appear in the message, the repr, the chained traceback, or the logs.
"""

from __future__ import annotations

import logging
import os
import traceback
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from policies.capabilities import Capabilities
from policies.cheapest import Cheapest
from policies.context_fit import ContextFit
from policies.max_price import MaxPrice
from providers.inference_api import InferenceAPI
from providers.openai_compat import OpenAICompat
from providers.openrouter import OpenRouter
from providers.pinstripes import Pinstripes
from providers.pipellm import PipeLLM
from providers.routstr import Routstr
from router import Router
from router.config import FallbackConfig
from router.errors import ConfigError

SECRET = "sk-ps-TOPSECRET-123456"
ENV = {"KEY": SECRET}

KNOWN_KINDS = ("inference-api", "openai", "openrouter", "pinstripes", "pipellm", "routstr")
KNOWN_POLICIES = ("capabilities", "cheapest", "context_fit", "fastest", "max_price", "max_ttft")


def provider(name: str = "p", kind: str = "pinstripes", **extra: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": name, "kind": kind}
    if kind != "openai":
        entry["api_key"] = "k"
    entry.update(extra)
    return entry


def config(*providers: dict[str, Any], **sections: Any) -> dict[str, Any]:
    return {"providers": list(providers) or [provider()], **sections}


def config_error(
    source: str | dict[str, Any], environ: dict[str, str] | None = None
) -> ConfigError:
    build = Router.from_yaml if isinstance(source, str) else Router.from_config
    with pytest.raises(ConfigError) as info:
        build(source, environ=environ if environ is not None else {})  # type: ignore[arg-type]
    return info.value


def check(exc: ConfigError, key_path: str, *fragments: str) -> None:
    assert exc.key_path == key_path
    for fragment in fragments:
        assert fragment in exc.problem
    assert str(exc) == (f"{key_path}: {exc.problem}" if key_path else exc.problem)


# -- the six kinds build -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "cls", "base_url"),
    [
        ("pinstripes", Pinstripes, "https://api.pinstripes.io/v1"),
        ("pipellm", PipeLLM, "https://api.pipellm.ai"),
        ("inference-api", InferenceAPI, "https://inference-api-611798501438.us-central1.run.app"),
        ("routstr", Routstr, "https://api.routstr.com/v1"),
        ("openai", OpenAICompat, "https://api.openai.com/v1"),
        ("openrouter", OpenRouter, "https://openrouter.ai/api/v1"),
    ],
)
def test_minimal_config_builds_for_each_kind(kind: str, cls: type, base_url: str) -> None:
    router = Router.from_config(config(provider("main", kind)), environ={})
    built = router.provider("main")
    assert type(built) is cls
    assert built.base_url == base_url
    assert built.options.kind == kind
    assert list(router.providers) == ["main"]
    assert router.groups == {}


def test_openai_needs_no_api_key() -> None:
    router = Router.from_yaml("providers:\n  - {name: local, kind: openai}\n", environ={})
    assert router.provider("local").options.api_key is None
    assert router.provider("local").auth_headers() == {}


def test_pinstripes_needs_an_api_key() -> None:
    exc = config_error("providers:\n  - {name: p, kind: pinstripes}\n")
    check(exc, "providers[0].api_key", "required", "pinstripes")


def test_yaml_with_custom_base_url_and_kind_options() -> None:
    text = """
providers:
  - name: majestix
    kind: inference-api
    api_key: abc
    base_url: http://127.0.0.1:8080/api/
    usd_per_credit: 0.002
  - name: rs
    kind: routstr
    api_key: cashuA
    price_unit: per_1k
"""
    router = Router.from_yaml(text, environ={})
    majestix = router.provider("majestix")
    assert majestix.base_url == "http://127.0.0.1:8080/api"
    assert majestix.options.usd_per_credit == Decimal("0.002")  # type: ignore[attr-defined]
    assert router.provider("rs").options.price_unit == "per_1k"  # type: ignore[attr-defined]


# -- ${VAR} interpolation ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "environ", "expected"),
    [
        ("${KEY}", {"KEY": "abc"}, "abc"),
        ("pre-${KEY}-post", {"KEY": "abc"}, "pre-abc-post"),
        ("${KEY:-fallback}", {}, "fallback"),
        ("${KEY:-fallback}", {"KEY": "set"}, "set"),
        ("${KEY:-fallback}", {"KEY": ""}, "fallback"),
        ("${KEY:-}", {}, ""),
        ("${A}${B}", {"A": "x", "B": "y"}, "xy"),
        ("pa$$word", {}, "pa$word"),
        ("$${KEY}", {"KEY": "abc"}, "${KEY}"),
        ("$$$${KEY}", {}, "$${KEY}"),
        ("cost-$5", {}, "cost-$5"),
    ],
)
def test_interpolation(value: str, environ: dict[str, str], expected: str) -> None:
    router = Router.from_config(config(provider(api_key=value)), environ=environ)
    key = router.provider("p").options.api_key
    assert key is not None
    assert key.get_secret_value() == expected


def test_interpolation_in_yaml_text_and_numbers() -> None:
    text = """
providers:
  - name: p
    kind: pinstripes
    api_key: ${KEY}
    catalog_ttl: ${TTL:-120}
    timeout: ${TIMEOUT:-5}
"""
    options = Router.from_yaml(text, environ={"KEY": "abc", "TIMEOUT": "7.5"}).provider("p").options
    assert options.api_key is not None
    assert options.api_key.get_secret_value() == "abc"
    assert options.catalog_ttl == 120.0
    assert options.timeout == 7.5


def test_interpolation_does_not_read_os_environ_when_environ_is_given(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ROUTER_TEST_ONLY_IN_OS", "from-os")
    exc = config_error(config(provider(api_key="${ROUTER_TEST_ONLY_IN_OS}")), environ={})
    check(exc, "providers[0].api_key", "ROUTER_TEST_ONLY_IN_OS", "not set")


def test_interpolation_reads_os_environ_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROUTER_TEST_KEY", "from-os")
    router = Router.from_config(config(provider(api_key="${ROUTER_TEST_KEY}")))
    assert router.provider("p").api_key == "from-os"


def test_missing_env_var_names_the_variable_and_key() -> None:
    exc = config_error("providers:\n  - {name: p, kind: pinstripes, api_key: '${PS_KEY}'}\n")
    check(exc, "providers[0].api_key", "PS_KEY", "not set")


def test_missing_env_var_path_inside_lists_and_groups() -> None:
    exc = config_error(config(models={"g": ["p:a", "p:${MODEL_ID}"]}))
    check(exc, "models.g[1]", "MODEL_ID")


@pytest.mark.parametrize("value", ["${KEY", "abc ${", "${KEY:-x"])
def test_unclosed_interpolation(value: str) -> None:
    exc = config_error(config(provider(api_key=value)), environ={"KEY": "abc"})
    check(exc, "providers[0].api_key", "'${' without a closing '}'")


@pytest.mark.parametrize("value", ["${}", "${1KEY}", "${KEY-x}", "${KE Y}"])
def test_invalid_variable_name(value: str) -> None:
    exc = config_error(config(provider(api_key=value)), environ={"KEY": "abc"})
    check(exc, "providers[0].api_key", "must name an environment variable")
    assert value not in str(exc)  # never quoted: it may be a pasted secret


# -- unknown names and keys ------------------------------------------------------------------


def test_unknown_kind_lists_known_kinds() -> None:
    exc = config_error(config(provider(), provider("q", "acme")))
    check(exc, "providers[1].kind", "unknown provider kind", ", ".join(KNOWN_KINDS))


def test_missing_kind() -> None:
    exc = config_error(config({"name": "p", "api_key": "k"}))
    check(exc, "providers[0].kind", "required", *KNOWN_KINDS)


def test_unknown_policy_lists_known_policies() -> None:
    exc = config_error(config(policy=["capabilities", {"quickest": {}}]))
    # the name is neither quoted nor in the path: '- ${VAR}' may have put a secret there
    check(exc, "policy[1]", "unknown policy", ", ".join(KNOWN_POLICIES))
    assert "quickest" not in str(exc)


def test_unknown_top_level_key() -> None:
    exc = config_error(config(provider_list=[]))
    check(exc, "provider_list", "unknown key")


def test_unknown_provider_key() -> None:
    exc = config_error(config(provider(), provider("q", apikey="k")))
    check(exc, "providers[1].apikey", "unknown key", "api_key")


def test_kind_specific_key_is_unknown_for_other_kinds() -> None:
    exc = config_error(config(provider(usd_per_credit=0.002)))
    check(exc, "providers[0].usd_per_credit", "unknown key")


def test_unknown_policy_option() -> None:
    exc = config_error("providers: [{name: p, kind: openai}]\npolicy:\n  - cheapest: {foo: 1}\n")
    check(exc, "policy[0].cheapest.foo", "unknown key", "expected_output_tokens")


def test_unknown_fallback_key() -> None:
    exc = config_error(config(fallback={"attemps": 3}))
    check(exc, "fallback.attemps", "unknown key")


def test_policy_item_with_two_names() -> None:
    exc = config_error(config(policy=[{"cheapest": {}, "max_price": {}}]))
    check(exc, "policy[0]", "one policy")


@pytest.mark.parametrize("document", ["", "- a\n- b\n", "just text\n"])
def test_document_must_be_a_mapping(document: str) -> None:
    check(config_error(document), "", "mapping")


def test_providers_required_and_not_empty() -> None:
    check(config_error({"models": {}}), "providers", "required key is missing")
    check(config_error({"providers": []}), "providers", "at least 1")


# -- provider names and options ---------------------------------------------------------------


def test_colon_in_provider_name() -> None:
    exc = config_error(config(provider("ps:eu")))
    check(exc, "providers[0].name", "':'")


@pytest.mark.parametrize("name", ["", " p", "p "])
def test_blank_or_padded_provider_name(name: str) -> None:
    check(config_error(config(provider(name))), "providers[0].name", "non-empty")


def test_duplicate_provider_names() -> None:
    exc = config_error(config(provider("a"), provider("b", "openai"), provider("a", "openrouter")))
    check(exc, "providers[2].name", "duplicate", "providers[0].name")


@pytest.mark.parametrize(("value", "fragment"), [(-0.001, "greater than 0"), (0, "greater than 0")])
def test_usd_per_credit_must_be_positive(value: float, fragment: str) -> None:
    exc = config_error(config(provider(), provider("m", "inference-api", usd_per_credit=value)))
    check(exc, "providers[1].usd_per_credit", fragment)


def test_routstr_price_unit_is_checked() -> None:
    exc = config_error(config(provider("rs", "routstr", price_unit="per_million")))
    check(exc, "providers[0].price_unit", "per_token", "per_1k")


@pytest.mark.parametrize(
    ("key", "value"), [("catalog_ttl", 0), ("catalog_retry", -1), ("timeout", 0)]
)
def test_durations_must_be_positive(key: str, value: float) -> None:
    check(config_error(config(provider(**{key: value}))), f"providers[0].{key}", "greater than 0")


@pytest.mark.parametrize("url", ["ftp://example.com/v1", "api.pinstripes.io/v1", "https://"])
def test_base_url_must_be_http(url: str) -> None:
    exc = config_error(config(provider(base_url=url)))
    check(exc, "providers[0].base_url", "http:// or https://")


@pytest.mark.parametrize("url", ["https://user:pw@api.example.com/v1", "http://key@127.0.0.1:9"])
def test_base_url_must_not_carry_credentials(url: str) -> None:
    exc = config_error(config(provider(base_url=url)))
    check(exc, "providers[0].base_url", "credentials", "api_key")
    assert "pw@" not in str(exc)
    assert "key@" not in str(exc)


def test_unparsable_base_url_is_a_config_error() -> None:
    # httpx.URL raises httpx.InvalidURL (not a ValueError) for a bad port.
    exc = config_error(config(provider(base_url="https://api.example.com:port/v1")))
    check(exc, "providers[0].base_url")


# -- model groups ---------------------------------------------------------------------------


def test_groups_are_kept_in_order() -> None:
    router = Router.from_config(
        config(provider("a"), provider("b", "openai"), models={"g": ["b:x/y:z", "a:m"]}),
        environ={},
    )
    assert router.groups == {"g": ("b:x/y:z", "a:m")}


def test_group_ref_to_unknown_provider() -> None:
    exc = config_error(config(provider("a"), models={"fast": ["a:m", "nope:m"]}))
    check(exc, "models.fast[1]", "no provider of that name", "configured: a")


@pytest.mark.parametrize("group", ["auto", "a:b", " "])
def test_reserved_group_names(group: str) -> None:
    exc = config_error(config(provider("a"), models={group: ["a:m"]}))
    check(exc, f"models.{group}", "auto")


@pytest.mark.parametrize("ref", ["a", "a:"])
def test_group_ref_without_model(ref: str) -> None:
    exc = config_error(config(provider("a"), models={"g": ["a:m", ref]}))
    check(exc, "models.g[1]", "<provider name>:<model id>")


def test_empty_group() -> None:
    check(config_error(config(models={"g": []})), "models.g", "at least one")


# -- YAML parsing ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    ['!!python/object/apply:os.system ["echo hi"]', "!!python/name:os.system"],
)
def test_python_tags_are_refused(value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[Any] = []
    monkeypatch.setattr(os, "system", lambda *args: calls.append(args) or 0)
    exc = config_error(f"providers:\n  - name: p\n    kind: pinstripes\n    api_key: {value}\n")
    check(exc, "", "YAML error", "line 4")
    assert calls == []


def test_broken_yaml_names_line_and_column() -> None:
    text = "providers:\n  - name: p\n    kind: [pinstripes\nfallback: {}\n"
    exc = config_error(text)
    assert exc.key_path == ""
    assert "YAML error" in exc.problem
    assert "line 4, column 9" in exc.problem


def test_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "router.yaml"
    for source in (str(missing), missing):
        with pytest.raises(ConfigError) as info:
            Router.from_yaml(source, environ={})
        check(info.value, "", "cannot read config file", "router.yaml")


@pytest.mark.parametrize("as_path", [False, True])
def test_real_file(tmp_path: Path, as_path: bool) -> None:
    path = tmp_path / "router.yml"
    path.write_text(
        "providers:\n  - {name: p, kind: pinstripes, api_key: '${KEY}'}\n", encoding="utf-8"
    )
    router = Router.from_yaml(path if as_path else str(path), environ={"KEY": "abc"})
    assert router.provider("p").api_key == "abc"


def test_file_that_is_not_utf8_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "router.yaml"
    path.write_bytes(b"providers:\n  - {name: p, kind: pinstripes, api_key: \xff\xfe}\n")
    check(config_error(str(path)), "")


# -- fallback -------------------------------------------------------------------------------


def test_fallback_defaults() -> None:
    fallback = Router.from_config(config(), environ={}).fallback
    assert fallback == FallbackConfig()
    assert fallback.attempts == 4
    assert fallback.retry_on == (429, 500, 502, 503, 504, 529, "timeout", "connect")
    assert fallback.respect_retry_after is True
    assert fallback.cooldown_seconds == 30.0


def test_fallback_custom_block() -> None:
    text = """
providers: [{name: p, kind: openai}]
fallback:
  attempts: 2
  retry_on: [429, 503, timeout]
  respect_retry_after: false
  cooldown_seconds: 5
"""
    fallback = Router.from_yaml(text, environ={}).fallback
    assert fallback.attempts == 2
    assert fallback.retry_on == (429, 503, "timeout")
    assert fallback.respect_retry_after is False
    assert fallback.cooldown_seconds == 5.0


def test_fallback_retry_on_rejects_unknown_failure_kind() -> None:
    exc = config_error(config(fallback={"retry_on": [429, "bogus"]}))
    assert exc.key_path.startswith("fallback.retry_on[1]")
    assert str(exc).startswith("fallback.retry_on[1]")


@pytest.mark.parametrize(
    ("block", "key_path"),
    [
        ({"attempts": 0}, "fallback.attempts"),
        ({"cooldown_seconds": -1}, "fallback.cooldown_seconds"),
    ],
)
def test_fallback_bounds(block: dict[str, Any], key_path: str) -> None:
    check(config_error(config(fallback=block)), key_path, "greater than")


# -- policy chain ---------------------------------------------------------------------------


def test_default_policy_chain() -> None:
    policies = Router.from_config(config(), environ={}).policies
    assert [name for name, _ in policies] == ["capabilities", "context_fit", "cheapest"]
    assert [type(p) for _, p in policies] == [Capabilities, ContextFit, Cheapest]


def test_policy_chain_forms() -> None:
    text = """
providers: [{name: p, kind: openai}]
policy:
  - cheapest
  - context_fit:
  - max_price: {prompt_per_mtok: 1.5, completion_per_mtok: 3}
  - capabilities: {unknown: exclude}
"""
    policies = Router.from_yaml(text, environ={}).policies
    assert [name for name, _ in policies] == [
        "cheapest",
        "context_fit",
        "max_price",
        "capabilities",
    ]
    assert policies[0][1] == Cheapest()
    assert policies[1][1] == ContextFit()
    assert policies[2][1] == MaxPrice(
        prompt_per_mtok=Decimal("1.5"), completion_per_mtok=Decimal(3)
    )
    assert policies[3][1] == Capabilities(unknown="exclude")


def test_empty_policy_list_is_an_empty_chain() -> None:
    assert Router.from_config(config(policy=[]), environ={}).policies == ()


@pytest.mark.parametrize("key", ["prompt_per_mtok", "completion_per_mtok"])
def test_max_price_must_not_be_negative(key: str) -> None:
    exc = config_error(config(policy=[{"max_price": {key: -1}}]))
    check(exc, f"policy[0].max_price.{key}", "greater than or equal to 0")


def test_policy_option_values_are_checked() -> None:
    exc = config_error(config(policy=["capabilities", {"capabilities": {"unknown": "maybe"}}]))
    check(exc, "policy[1].capabilities.unknown", "allow", "exclude")


# -- secrets --------------------------------------------------------------------------------


def exception_texts(exc: BaseException) -> list[str]:
    return [str(exc), repr(exc), "".join(traceback.format_exception(exc))]


def assert_no_secret(*texts: str) -> None:
    for text in texts:
        assert SECRET not in text
        # a lowercased or otherwise re-cased copy is still a leak
        assert SECRET.lower() not in text.lower()


def raised(build: Callable[[], object]) -> BaseException:
    try:
        build()
    except Exception as exc:  # any exception type: checked by the caller
        return exc
    raise AssertionError("no exception raised")


BROKEN_WITH_SECRET: list[Any] = [
    pytest.param(
        "providers:\n  - {name: p, kind: pinstripes, api_key: k, apikey: '${KEY}'}\n",
        "providers[0].apikey",
        id="typo-key",
    ),
    pytest.param(
        "providers:\n  - {name: p, kind: pinstripez, api_key: '${KEY}'}\n",
        "providers[0].kind",
        id="unknown-kind",
    ),
    pytest.param(
        "providers:\n  - {name: p, kind: pinstripes, api_key: k, catalog_ttl: '${KEY}'}\n",
        "providers[0].catalog_ttl",
        id="secret-in-number",
    ),
    pytest.param(
        "providers:\n  - {name: m, kind: inference-api, api_key: k, usd_per_credit: '${KEY}'}\n",
        "providers[0].usd_per_credit",
        id="secret-in-decimal",
    ),
    pytest.param(
        "providers:\n  - {name: r, kind: routstr, api_key: k, price_unit: '${KEY}'}\n",
        "providers[0].price_unit",
        id="secret-in-literal",
    ),
    pytest.param(
        "providers:\n  - {name: p, kind: pinstripes, api_key: '${KEY}'}\n"
        "fallback: {retry_on: [429, '${KEY}']}\n",
        "fallback.retry_on[1]",
        id="secret-in-retry-on",
    ),
    pytest.param(
        "providers:\n  - {name: p, kind: pinstripes, api_key: '${KEY}',"
        " base_url: 'https://api.example.com:${KEY}/v1'}\n",
        "providers[0].base_url",
        id="secret-in-base-url-port",
    ),
    pytest.param(
        "providers:\n  - {name: p, kind: pinstripes, base_url: 'https://u:${KEY}@api.example.com/v1'}\n",
        "providers[0].base_url",
        id="secret-in-base-url-userinfo",
    ),
    pytest.param(
        f"providers:\n  - name: p\n    kind: pinstripes\n    api_key: [{SECRET}\n",
        "",
        id="yaml-unclosed-flow",
    ),
    pytest.param(
        f'providers:\n  - name: p\n    kind: pinstripes\n    api_key: "{SECRET}\n',
        "",
        id="yaml-unclosed-quote",
    ),
    pytest.param(
        f"providers:\n  - name: p\n    kind: pinstripes\n    api_key: {SECRET}: x\n",
        "",
        id="yaml-mapping-in-scalar",
    ),
    pytest.param(
        f"providers:\n  - name: p\n    kind: pinstripes\n    api_key: !!int {SECRET}\n",
        "",
        id="yaml-int-tag",
    ),
    pytest.param(
        f"providers:\n  - name: p\n    kind: pinstripes\n    api_key: !!float {SECRET}\n",
        "",
        id="yaml-float-tag",
    ),
    pytest.param(
        f"providers:\n  - name: p\n    kind: pinstripes\n    api_key: !!bool {SECRET}\n",
        "",
        id="yaml-bool-tag",
    ),
    pytest.param(
        f"providers:\n  - name: p\n    kind: pinstripes\n    api_key: !!timestamp {SECRET}\n",
        "",
        id="yaml-timestamp-tag",
    ),
]


@pytest.mark.parametrize(("text", "key_path"), BROKEN_WITH_SECRET)
def test_secret_never_in_config_errors(text: str, key_path: str) -> None:
    exc = raised(lambda: Router.from_yaml(text, environ=ENV))
    assert_no_secret(*exception_texts(exc))
    assert isinstance(exc, ConfigError), type(exc).__name__
    assert exc.key_path.startswith(key_path)
    if not key_path:
        assert "YAML error" in exc.problem


def test_secret_never_in_config_errors_from_a_dict() -> None:
    exc = raised(
        lambda: Router.from_config(
            config(provider(apikey="${KEY}"), provider("q", catalog_ttl=SECRET)), environ=ENV
        )
    )
    assert_no_secret(*exception_texts(exc))
    assert isinstance(exc, ConfigError)
    assert exc.key_path == "providers[0].apikey"


@pytest.mark.parametrize("kind", KNOWN_KINDS)
def test_secret_never_in_reprs_or_dumps(kind: str, caplog: pytest.LogCaptureFixture) -> None:
    text = f"providers:\n  - {{name: main, kind: {kind}, api_key: '${{KEY}}'}}\n"
    with caplog.at_level(logging.DEBUG):
        router = Router.from_yaml(text, environ=ENV)
    built = router.provider("main")
    assert built.api_key == SECRET  # the secret is really there, only hidden
    assert_no_secret(
        repr(router),
        str(router),
        repr(built),
        str(built),
        repr(built.options),
        str(built.options),
        built.options.model_dump_json(),
        repr(built.options.model_dump()),
        repr(router.providers),
        caplog.text,
        *(record.getMessage() for record in caplog.records),
    )


def test_secret_never_logged_while_failing(caplog: pytest.LogCaptureFixture) -> None:
    text = "providers:\n  - {name: p, kind: pinstripes, api_key: '${KEY}', timeout: '${KEY}'}\n"
    with caplog.at_level(logging.DEBUG), pytest.raises(ConfigError):
        Router.from_yaml(text, environ=ENV)
    assert_no_secret(caplog.text)


# -- messages that point at the fix -------------------------------------------------------------


def test_misspelled_top_level_key_is_named_not_the_missing_one() -> None:
    exc = config_error({"provders": [provider()]})
    assert str(exc) == (
        "provders: unknown key (did you mean 'providers'?)"
        " (known keys: providers, models, policy, fallback, server, plugins, budgets,"
        " telemetry, state)"
    )


def test_misspelled_nested_key_lists_the_keys_of_its_own_block() -> None:
    exc = config_error(config(fallback={"atempts": 3}))
    assert exc.key_path == "fallback.atempts"
    assert exc.problem.startswith("unknown key (did you mean 'attempts'?) (known keys: attempts,")
    assert "providers" not in exc.problem


def test_misspelled_provider_key_suggests_the_key() -> None:
    exc = config_error(config(provider(base_ulr="http://127.0.0.1:1/v1")))
    check(exc, "providers[0].base_ulr", "unknown key (did you mean 'base_url'?)")


def test_misspelled_kind_key_is_named() -> None:
    exc = config_error(config({"name": "p", "knd": "pinstripes", "api_key": "k"}))
    assert str(exc) == "providers[0].knd: unknown key (did you mean 'kind'?)"


def test_misspelled_kind_value_suggests_a_kind_without_quoting_it() -> None:
    exc = config_error(config(provider(kind="pinstrips")))
    check(exc, "providers[0].kind", "unknown provider kind (did you mean 'pinstripes'?); known:")
    assert "pinstrips" not in str(exc)


def test_misspelled_policy_suggests_the_policy_and_plugins() -> None:
    exc = config_error(config(policy=[{"cheapst": {}}]))
    assert str(exc) == (
        "policy[0]: unknown policy (did you mean 'cheapest'?); known: capabilities, cheapest,"
        " context_fit, fastest, max_price, max_ttft. A policy from your own module: list the"
        " module under 'plugins:'"
    )


def test_policy_option_listed_as_a_policy_points_at_its_policy() -> None:
    exc = config_error(config(policy=[{"max_price": {}}, {"completion_per_mtok": 3}]))
    check(
        exc,
        "policy[1]",
        "that is an option of max_price, not a policy; indent it under '- max_price:'",
    )


def test_misspelled_policy_option_suggests_the_option() -> None:
    exc = config_error(config(policy=[{"cheapest": {"expected_ouput_tokens": 100}}]))
    check(
        exc,
        "policy[0].cheapest.expected_ouput_tokens",
        "unknown key (did you mean 'expected_output_tokens'?)",
    )


def test_mis_indented_policy_options_are_recognised() -> None:
    text = (
        "providers: [{name: p, kind: openai}]\n"
        "policy:\n"
        "  - capabilities\n"
        "  - max_price:\n"
        "    prompt_per_mtok: 1.0\n"
        "    completion_per_mtok: 3.0\n"
    )
    exc = config_error(text)
    assert str(exc) == (
        "policy[1].max_price: its options (prompt_per_mtok, completion_per_mtok) sit beside it,"
        " not under it: indent them two more spaces under 'max_price:', or write"
        " '- max_price: {prompt_per_mtok: ...}'"
    )


def test_policy_options_that_are_not_a_mapping() -> None:
    exc = config_error(config(policy=[{"max_price": 5}]))
    assert str(exc) == (
        "policy[0].max_price: a policy's options are a mapping: '- max_price: {option: value}'"
        " (or '- max_price' for its defaults)"
    )


def test_suggestions_never_quote_a_secret() -> None:
    exc = config_error(config(provider(kind="${KEY}")), environ=ENV)
    assert SECRET not in str(exc)
    exc = config_error(config(policy=["${KEY}"]), environ=ENV)
    assert SECRET not in str(exc)
