"""Per-request routing options (``router={...}``) and bare model names, against the simulator."""

from __future__ import annotations

import json
from decimal import Decimal

import httpx
import openai
import pytest

from router import Router
from router.catalog import canonical_name
from router.cli import main
from router.errors import InvalidRequest, NoRouteError
from tests.wire.conftest import config

pytestmark = pytest.mark.wire

HI = [{"role": "user", "content": "hello there"}]
CHAIN = [{"capabilities": {}}, {"context_fit": {}}, {"cheapest": {}}]


@pytest.fixture
def router(sim):
    with Router.from_config(config(sim, policy=CHAIN)) as r:
        yield r


def refs(route) -> list[str]:
    return [c.ref for c in route.candidates]


def reasons(route, step: str) -> dict[str, str]:
    return {e.ref: e.reason for e in route.excluded if e.policy == step}


# -- providers.only / ignore / order ------------------------------------------------------


def test_only_keeps_the_named_providers_and_says_why_the_rest_went(router):
    route = router.explain(model="auto", messages=HI, router={"providers": {"only": ["routstr"]}})
    assert refs(route)
    assert all(ref.startswith("routstr:") for ref in refs(route))
    dropped = reasons(route, "request")
    assert (
        dropped["pinstripes:ps/deepseek-v4-flash"] == "provider 'pinstripes' not in providers.only"
    )
    assert route.options == {"providers": {"only": ["routstr"]}}


def test_ignore_drops_a_provider(router):
    route = router.explain(
        model="deepseek-v4-flash", messages=HI, router={"providers": {"ignore": ["pinstripes"]}}
    )
    assert refs(route) == [
        "openrouter:deepseek/deepseek-v4-flash",
        "routstr:deepseek/deepseek-v4-flash",
    ]
    assert reasons(route, "request") == {
        "pinstripes:ps/deepseek-v4-flash": "provider 'pinstripes' in providers.ignore"
    }


def test_order_puts_the_named_providers_first_in_that_order(router):
    plain = router.explain(model="deepseek-v4-flash", messages=HI)
    assert refs(plain)[0] == "pinstripes:ps/deepseek-v4-flash"  # the cheapest
    route = router.explain(
        model="deepseek-v4-flash",
        messages=HI,
        router={"providers": {"order": ["routstr", "openrouter"]}},
    )
    assert refs(route) == [
        "routstr:deepseek/deepseek-v4-flash",
        "openrouter:deepseek/deepseek-v4-flash",
        "pinstripes:ps/deepseek-v4-flash",
    ]


def test_order_decides_which_provider_answers(sim, router):
    answer = router.complete(
        model="deepseek-v4-flash", messages=HI, router={"providers": {"order": ["routstr"]}}
    )
    assert answer.provider == "routstr"


# -- max_price, require, sort, expected_output_tokens -------------------------------------


def test_max_price_excludes_with_the_rate_and_the_ceiling(router):
    route = router.explain(
        model="claude-sonnet-4.6", messages=HI, router={"max_price": {"prompt_per_mtok": 3.5}}
    )
    # Majestix: 4.2 credits per 1k prompt tokens (margin included) x $0.001 = $4.2/1M.
    assert reasons(route, "request") == {
        "inference-api:claude-sonnet-4.6": "max_price: prompt $4.2/1M > $3.5/1M"
    }
    assert "openrouter:anthropic/claude-sonnet-4.6" in refs(route)


def test_require_tools_excludes_unknown_and_unsupported(router):
    route = router.explain(model="auto", messages=HI, router={"require": ["tools"]})
    dropped = reasons(route, "request")
    assert dropped["pinstripes:ps/kimi-k2"] == "require: tools (unknown in the catalog)"
    assert (
        dropped["openrouter:google/gemma-3-27b-it"]
        == "require: tools (not supported in the catalog)"
    )
    assert "openrouter:openai/gpt-5-mini" in refs(route)
    assert "inference-api:gpt-5-mini" in refs(route)


def test_require_structured_output(router):
    route = router.explain(
        model="claude-sonnet-4.6", messages=HI, router={"require": ["structured_output"]}
    )
    # PipeLLM's anthropic family translates it (a forced tool); Majestix cannot carry it.
    assert set(refs(route)) == {
        "pipellm:claude-sonnet-4-6",
        "openrouter:anthropic/claude-sonnet-4.6",
    }
    why = "require: structured_output (not supported in the catalog)"
    assert reasons(route, "request") == {"inference-api:claude-sonnet-4.6": why}


def test_sort_price_overrides_a_chain_that_does_not_rank(sim):
    with Router.from_config(config(sim, policy=[{"capabilities": {}}])) as r:
        plain = r.explain(model="deepseek-v4-flash", messages=HI)
        assert refs(plain)[0] == "pinstripes:ps/deepseek-v4-flash"  # catalog order
        r_order = r.explain(
            model="deepseek-v4-flash",
            messages=HI,
            router={"sort": "price", "providers": {"ignore": ["pinstripes"]}},
        )
        costs = [c.cost for c in r_order.candidates]
        assert costs == sorted(costs)
        assert refs(r_order)[0] == "openrouter:deepseek/deepseek-v4-flash"


def test_expected_output_tokens_replaces_the_chains(router):
    route = router.explain(
        model="deepseek-v4-flash", messages=HI, router={"expected_output_tokens": 2000}
    )
    (flash,) = [c for c in route.candidates if c.ref == "pinstripes:ps/deepseek-v4-flash"]
    assert flash.output_tokens == 2000
    # 7 prompt tokens x $0.087/1M + 2000 x $0.173/1M (seed 000), exactly
    assert flash.cost == Decimal("0.000000087") * 7 + Decimal("0.000000173") * 2000
    capped = router.explain(
        model="deepseek-v4-flash",
        messages=HI,
        max_tokens=50,
        router={"expected_output_tokens": 2000},
    )
    assert {c.output_tokens for c in capped.candidates} == {50}


# -- bad options ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "key", "problem"),
    [
        ({"providers": {"onlyy": ["routstr"]}}, "router.providers.onlyy", "Extra inputs"),
        ({"colour": "blue"}, "router.colour", "Extra inputs"),
        ({"providers": {"only": ["nobody"]}}, "router.providers.only[0]", "no provider named"),
        ({"providers": {"order": ["a"]}}, "router.providers.order[0]", "no provider named"),
        ({"require": ["telepathy"]}, "router.require.0", "'tools', 'vision' or"),
        ({"max_price": {"prompt_per_mtok": -1}}, "router.max_price.prompt_per_mtok", "greater"),
        ({"sort": "fastest"}, "router.sort", "'price', 'latency' or 'throughput'"),
        ({"max_ttft_ms": 0}, "router.max_ttft_ms", "greater than or equal to 1"),
        ({"expected_output_tokens": -5}, "router.expected_output_tokens", "greater"),
        ("fast please", "router", "valid dictionary"),
    ],
)
def test_a_bad_option_is_invalid_request_naming_the_key(router, options, key, problem):
    with pytest.raises(InvalidRequest) as caught:
        router.explain(model="auto", messages=HI, router=options)
    message = str(caught.value)
    assert message.startswith(f"{key}: ")
    assert problem in message


def test_options_are_never_forwarded(sim, router):
    answer = router.complete(
        model="pinstripes:ps/deepseek-v4-flash",
        messages=HI,
        router={"max_price": {"prompt_per_mtok": 1}, "expected_output_tokens": 10},
    )
    assert answer.provider == "pinstripes"
    (sent,) = [r for r in sim.requests("pinstripes") if r.method == "POST"]
    assert "router" not in sent.json()


@pytest.mark.parametrize("kind", ["pipellm", "inference-api"])
def test_options_are_never_forwarded_in_other_dialects(sim, router, kind):
    model = {"pipellm": "claude-sonnet-4.6", "inference-api": "gpt-5-mini"}[kind]
    answer = router.complete(model=model, messages=HI, router={"providers": {"only": [kind]}})
    assert answer.provider == kind
    (sent,) = [r for r in sim.requests(kind) if r.method == "POST"]
    assert b"router" not in sent.body


# -- over HTTP: extra_body={"router": ...} ---------------------------------------------------


def test_the_sdk_sends_options_in_extra_body(sim, router):
    client = openai.OpenAI(
        base_url="http://router/v1",
        api_key="x",
        http_client=httpx.Client(transport=router.transport()),
        max_retries=0,
    )
    answer = client.chat.completions.create(
        model="deepseek-v4-flash",
        messages=HI,  # type: ignore[arg-type]
        extra_body={"router": {"providers": {"only": ["openrouter"]}}},
    )
    assert answer.provider == "openrouter"  # type: ignore[attr-defined]
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(
            model="auto",
            messages=HI,  # type: ignore[arg-type]
            extra_body={"router": {"sort": "fastest"}},
        )
    assert "router.sort: Input should be 'price', 'latency' or 'throughput'" in (
        caught.value.message
    )
    for kind in ("pinstripes", "routstr", "openrouter"):
        assert all(b'"router"' not in r.body for r in sim.requests(kind))


# -- bare model names ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model_id", "canonical"),
    [
        ("ps/deepseek-v4-flash", "deepseek-v4-flash"),
        ("deepseek/deepseek-v4-flash", "deepseek-v4-flash"),
        ("claude-sonnet-4.6", "claude-sonnet-4-6"),
        ("anthropic/claude-sonnet-4-6", "claude-sonnet-4-6"),
        ("Qwen/Qwen3-8B", "qwen3-8b"),
        ("ps/qwen3.6-35b-a3b", "qwen3-6-35b-a3b"),
        ("gpt-5-mini", "gpt-5-mini"),
    ],
)
def test_canonical_name(model_id, canonical):
    assert canonical_name(model_id) == canonical


def test_a_bare_name_matches_every_provider_spelling(router):
    route = router.explain(model="Claude-Sonnet-4.6", messages=HI)
    assert route.matched == [
        "pipellm:claude-sonnet-4-6",
        "inference-api:claude-sonnet-4.6",
        "openrouter:anthropic/claude-sonnet-4.6",
    ]
    assert set(refs(route)) == set(route.matched)
    assert "bare model name: matched pipellm:claude-sonnet-4-6" in str(route)
    assert route.to_dict()["matched"] == route.matched


def test_a_bare_name_is_sent_to_one_of_its_deployments(router):
    answer = router.complete(model="gpt-5-mini", messages=HI)
    assert answer.route.chosen in {
        "pipellm:gpt-5-mini",
        "inference-api:gpt-5-mini",
        "openrouter:openai/gpt-5-mini",
    }


def test_a_yaml_group_wins_over_a_bare_name(sim):
    conf = config(
        sim, policy=CHAIN, models={"deepseek-v4-flash": ["routstr:deepseek/deepseek-v4-flash"]}
    )
    with Router.from_config(conf) as r:
        route = r.explain(model="deepseek-v4-flash", messages=HI)
    assert refs(route) == ["routstr:deepseek/deepseek-v4-flash"]
    assert route.matched is None


def test_an_unknown_bare_name_says_what_was_looked_for(router):
    with pytest.raises(NoRouteError) as caught:
        router.explain(model="gpt-9-ultra", messages=HI)
    assert "a model name ('gpt-9-ultra') any catalog lists" in str(caught.value)
    with pytest.raises(NoRouteError) as caught:
        router.explain(model="claude-sonnet-4.7", messages=HI)
    assert str(caught.value).endswith("; close: claude-sonnet-4-6, claude-haiku-4-5")


def test_router_models_json_shows_canonical_names(capsys, sim, tmp_path):
    import yaml

    path = tmp_path / "router.yaml"
    path.write_text(yaml.safe_dump(config(sim)))
    assert main(["models", "-c", str(path), "--json"]) == 0
    records = {r["ref"]: r for r in json.loads(capsys.readouterr().out)}
    assert records["pinstripes:ps/deepseek-v4-flash"]["canonical"] == "deepseek-v4-flash"
    assert records["routstr:deepseek/deepseek-v4-flash"]["canonical"] == "deepseek-v4-flash"
    assert records["inference-api:claude-sonnet-4.6"]["canonical"] == "claude-sonnet-4-6"
    assert records["pipellm:claude-sonnet-4-6"]["supports_structured_output"] is True
    assert records["inference-api:gpt-5-mini"]["supports_structured_output"] is False
    assert main(["models", "-c", str(path), "--provider", "routstr"]) == 0
    header, *rows = capsys.readouterr().out.splitlines()
    assert header.split()[-2:] == ["canonical", "stale"]
    row = next(r.split() for r in rows if "routstr:deepseek/deepseek-v4-flash" in r)
    assert row[-1] == "deepseek-v4-flash"
