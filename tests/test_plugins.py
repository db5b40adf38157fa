"""The plugin system: third-party providers and policies through the same hooks as built-ins."""

from __future__ import annotations

import inspect
import sys
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any, ClassVar

import pytest

import router
from router import (
    Catalog,
    ChatRequest,
    ConfigError,
    Entry,
    ModelCard,
    PluginError,
    Policy,
    Pricing,
    Provider,
    Router,
    RoutingContext,
    Verdict,
    hookimpl,
)
from router.plugins import DEFAULT_PLUGINS, Plugins
from tests.conftest import Recorder

README = Path(__file__).parents[1] / "README.md"


class Acme(Provider):
    """A provider whose catalog prices are USD per 1,000 tokens under ``price``."""

    default_base_url = "https://api.acme.test/v1"

    def parse_model(self, entry: Entry) -> ModelCard:
        per_1k = Decimal(1) / 1000
        return self.card(
            entry,
            pricing=Pricing(
                prompt=entry.price("price.in", per_1k), completion=entry.price("price.out", per_1k)
            ),
        )


class AvoidProvider(Policy):
    """Exclude every candidate of one provider."""

    provider: str

    def apply(
        self, request: ChatRequest, candidates: list[ModelCard], context: RoutingContext
    ) -> Verdict:
        keep = [c for c in candidates if c.provider != self.provider]
        return Verdict(
            keep, {c.ref: f"provider {self.provider} avoided" for c in candidates if c not in keep}
        )


class AcmePlugin:
    @hookimpl
    def router_register_providers(self, register):
        register("acme", Acme)

    @hookimpl
    def router_register_policies(self, register):
        register("avoid_provider", AvoidProvider)


CONF = {
    "providers": [{"name": "a", "kind": "acme", "api_key": "k"}],
    "policy": [{"avoid_provider": {"provider": "b"}}, "cheapest"],
}


def test_hook_router_register_providers():
    r = Router.from_config(CONF, plugins=[AcmePlugin()])
    provider = r.providers["a"]
    assert isinstance(provider, Acme)
    models, _ = provider.parse_catalog({"data": [{"id": "m", "price": {"in": 0.5, "out": "1.5"}}]})
    assert models[0].pricing is not None
    assert models[0].pricing.prompt == Decimal("0.0005")
    assert models[0].ref == "a:m"
    assert "acme" in Plugins([AcmePlugin()]).providers()


def test_hook_router_register_policies():
    r = Router.from_config(CONF, plugins=[AcmePlugin()])
    (name, policy), _ = r.policies
    assert name == "avoid_provider"
    assert isinstance(policy, AvoidProvider)
    cards = [ModelCard(provider=p, id="m") for p in ("a", "b")]
    req = ChatRequest(model="auto", messages=[{"role": "user", "content": "hi"}])
    verdict = policy.apply(req, cards, RoutingContext(req))
    assert [c.ref for c in verdict.keep] == ["a:m"]
    assert verdict.excluded == {"b:m": "provider b avoided"}


def test_plugin_policy_options_are_validated_with_their_key_path():
    conf = {**CONF, "policy": [{"avoid_provider": {"provider": "b", "typo": 1}}]}
    with pytest.raises(ConfigError) as info:
        Router.from_config(conf, plugins=[AcmePlugin()])
    assert info.value.key_path == "policy[0].avoid_provider.typo"
    missing = {**CONF, "policy": [{"avoid_provider": {}}]}
    with pytest.raises(ConfigError, match=r"policy\[0\]\.avoid_provider\.provider: required"):
        Router.from_config(missing, plugins=[AcmePlugin()])


def test_a_misspelled_required_option_is_named_not_the_missing_one():
    conf = {**CONF, "policy": [{"avoid_provider": {"provder": "b"}}]}
    with pytest.raises(ConfigError) as info:
        Router.from_config(conf, plugins=[AcmePlugin()])
    assert str(info.value) == (
        "policy[0].avoid_provider.provder: unknown key (did you mean 'provider'?)"
        " (known keys: provider)"
    )


# -- plugins: in the YAML ------------------------------------------------------------------

PLUGIN_MODULE = """
from decimal import Decimal
from router import Entry, ModelCard, Policy, Pricing, Provider, Verdict, hookimpl


class Acme(Provider):
    default_base_url = "https://api.acme.test/v1"

    def parse_model(self, entry: Entry) -> ModelCard:
        return self.card(entry, pricing=Pricing(prompt=Decimal(0), completion=Decimal(0)))


class Keep(Policy):
    def apply(self, request, candidates):
        return Verdict(candidates)


@hookimpl
def router_register_providers(register):
    register("acme", Acme)


@hookimpl
def router_register_policies(register):
    register("keep_all", Keep)
"""


def yaml_with_plugins(*modules: str) -> str:
    return (
        f"plugins: [{', '.join(modules)}]\n"
        "providers: [{name: a, kind: acme, api_key: k}]\n"
        "policy: [keep_all, cheapest]\n"
    )


def test_yaml_plugins_are_imported_and_registered(tmp_path, monkeypatch):
    (tmp_path / "acme_router_plugin.py").write_text(PLUGIN_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    router = Router.from_yaml(yaml_with_plugins("acme_router_plugin"))
    assert type(router.providers["a"]).__name__ == "Acme"
    assert [name for name, _ in router.policies] == ["keep_all", "cheapest"]
    sys.modules.pop("acme_router_plugin", None)


def test_a_yaml_plugin_that_cannot_be_found_is_a_config_error_at_its_index():
    with pytest.raises(ConfigError) as info:
        Router.from_yaml(yaml_with_plugins("json", "no_such_router_plugin_19"))
    assert str(info.value) == (
        "plugins[1]: no module of that name can be imported: run from the directory that holds"
        " it, add that directory to PYTHONPATH, or install its package"
    )
    assert "no_such_router_plugin_19" not in str(info.value)


def test_a_yaml_plugin_whose_import_fails_says_why_without_its_traceback(tmp_path, monkeypatch):
    (tmp_path / "needs_dep_19.py").write_text("import not_installed_dep_19\n")
    (tmp_path / "raises_19.py").write_text("raise RuntimeError('boom')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ConfigError) as info:
        Router.from_yaml(yaml_with_plugins("needs_dep_19"))
    assert str(info.value) == (
        "plugins[0]: the module failed to import (it needs 'not_installed_dep_19',"
        " which is not installed)"
    )
    with pytest.raises(ConfigError) as info:
        Router.from_yaml(yaml_with_plugins("raises_19"))
    assert (
        str(info.value) == "plugins[0]: the module failed to import: its code raised RuntimeError"
    )
    assert info.value.__cause__ is None


@pytest.mark.parametrize(
    ("plugins", "key_path"),
    [("my_plugin", "plugins"), (["bad path"], "plugins[0]"), ([3], "plugins[0]")],
)
def test_yaml_plugins_must_be_a_list_of_module_paths(plugins, key_path):
    conf = {"plugins": plugins, "providers": [{"name": "p", "kind": "openai"}]}
    with pytest.raises(ConfigError) as info:
        Router.from_config(conf)
    assert info.value.key_path == key_path


def test_without_the_plugin_the_kind_is_unknown_and_known_kinds_are_listed():
    with pytest.raises(ConfigError) as info:
        Router.from_config(CONF)
    assert info.value.key_path == "providers[0].kind"
    assert "pinstripes" in info.value.problem


def test_a_kind_registered_twice_is_a_plugin_error():
    class Clash:
        @hookimpl
        def router_register_providers(self, register):
            register("pinstripes", Acme)

    with pytest.raises(PluginError, match="registered twice"):
        Plugins([Clash()]).providers()


@pytest.mark.parametrize(("name", "cls"), [("has:colon", Acme), ("fine", object), ("", Acme)])
def test_malformed_registrations_are_plugin_errors(name, cls):
    class Bad:
        @hookimpl
        def router_register_providers(self, register):
            register(name, cls)

    with pytest.raises(PluginError):
        Plugins([Bad()]).providers()


def test_misspelled_hook_is_caught():
    class Typo:
        @hookimpl
        def router_register_provider(self, register):  # missing 's'
            register("x", Acme)

    with pytest.raises(Exception, match="unknown hook"):
        Plugins([Typo()])


def test_blocked_builtin_is_not_registered(monkeypatch):
    monkeypatch.setenv("ROUTER_BLOCK_PLUGINS", "providers.openrouter")
    kinds = Plugins().providers()
    assert "openrouter" not in kinds
    assert "pinstripes" in kinds


def test_entry_points_are_loaded_from_the_router_group(monkeypatch):
    module = SimpleNamespace(
        router_register_providers=hookimpl(lambda register: register("ep", Acme))
    )
    sys.modules["router_test_ep_plugin"] = module  # type: ignore[assignment]
    loaded = []

    class EP:
        name = "ep"
        group = "router"
        value = "router_test_ep_plugin"

        def load(self):
            loaded.append(self.name)
            return module

    class Dist:
        entry_points = (EP(),)
        metadata: ClassVar[dict[str, str]] = {"name": "router-ep"}

    monkeypatch.setattr("importlib.metadata.distributions", lambda: [Dist()])
    try:
        assert "ep" in Plugins(entry_points=True).providers()
    finally:
        del sys.modules["router_test_ep_plugin"]
    assert loaded == ["ep"]
    assert "ep" not in Plugins().providers()  # tests run with ROUTER_NO_ENTRY_POINTS


def test_builtins_register_through_the_hooks():
    p = Plugins()
    assert set(p.providers()) == {
        "pinstripes",
        "pipellm",
        "inference-api",
        "routstr",
        "openai",
        "openrouter",
        "anthropic",
        "gemini",
    }
    assert set(p.policies()) == {
        "capabilities",
        "context_fit",
        "max_price",
        "cheapest",
        "fastest",
        "max_ttft",
    }
    assert {name for name, _ in p.pm.list_name_plugin()} >= set(DEFAULT_PLUGINS)


# -- meta-tests ------------------------------------------------------------------------


def hook_names() -> list[str]:
    return sorted(n for n in dir(Plugins().pm.hook) if n.startswith("router_"))


@pytest.mark.parametrize("hook", hook_names())
def test_every_hook_is_tested_and_documented(hook):
    assert f"test_hook_{hook}" in globals(), f"add test_hook_{hook} to tests/test_plugins.py"
    spec = getattr(router.hookspecs, hook)
    assert spec.__doc__
    assert ":param" in spec.__doc__
    assert hook in README.read_text(), f"document {hook} in the README"


def test_all_is_complete_and_importable():
    for name in router.__all__:  # the exports are lazy (PEP 562): this loads every one
        assert getattr(router, name) is not None
    public = {
        name
        for name, obj in vars(router).items()
        if not name.startswith("_")
        and not inspect.ismodule(obj)
        and name not in {"annotations", "TYPE_CHECKING"}
    }
    assert set(router.__all__) == public


# -- observation hooks --------------------------------------------------------------------


FLASH = {"pinstripes": "ps/deepseek-v4-flash", "routstr": "deepseek/deepseek-v4-flash"}


def _simulated(sim, *kinds):
    return {
        "providers": [
            {"name": k, "kind": k, "base_url": sim.base_url(k), "api_key": sim.api_key(k)}
            for k in kinds
        ],
        "models": {"flash": [f"{k}:{FLASH[k]}" for k in kinds]},
    }


def test_hook_router_on_attempt():
    from router.testing.simulator import Reply, Simulator

    seen = Recorder()
    hi = [{"role": "user", "content": "hi"}]
    with Simulator() as sim:
        conf = _simulated(sim, "pinstripes", "routstr")
        with Router.from_config(conf, plugins=[seen], sleep=lambda _: None) as r:
            one, two = (c.ref for c in r.explain(model="flash", messages=hi).candidates)
            sim.script(one.partition(":")[0], [Reply(429, headers={"Retry-After": "0"})])
            reply = r.complete(model="flash", messages=hi)
    assert reply.route.chosen == two
    first, second = seen.attempts
    assert (first.number, first.ref, first.status, first.error_kind, first.ok) == (
        1, one, 429, "RateLimited", False,
    )  # fmt: skip
    assert (second.number, second.ref, second.status, second.error, second.ok) == (
        2, two, 200, None, True,
    )  # fmt: skip
    assert first.request_id == second.request_id == seen.results[0].request_id
    assert f"{first.provider}:{first.model}" == one
    assert 0 < first.latency < 5
    assert first.ttft is None
    assert not first.stream
    assert first.started <= second.started


def test_hook_router_on_result():
    from router.testing.simulator import Simulator

    seen = Recorder()
    with Simulator() as sim, Router.from_config(_simulated(sim, "pinstripes"), plugins=[seen]) as r:
        reply = r.complete(
            model="pinstripes:ps/deepseek-v4-flash",
            messages=[{"role": "user", "content": "hello there"}],
            user="ann",
            metadata={"team": "blue"},
        )
    (result,) = seen.results
    assert result.ok
    assert result.error is None
    assert result.complete
    assert result.route is reply.route
    assert result.cost == reply.route.cost
    assert isinstance(result.cost, Decimal)
    assert result.cost > 0
    assert (result.prompt_tokens, result.completion_tokens) == (
        reply.usage.prompt_tokens,
        reply.usage.completion_tokens,
    )
    assert (result.user, result.metadata, result.client) == ("ann", {"team": "blue"}, None)
    assert (result.provider, result.response_model) == ("pinstripes", "ps/deepseek-v4-flash")
    assert result.stated_cost is None  # pinstripes states no charge of its own
    assert [a.ref for a in result.attempts] == ["pinstripes:ps/deepseek-v4-flash"]
    assert result.latency >= result.attempts[0].latency > 0


def test_observation_hooks_are_looked_up_once_and_absent_means_inactive():
    r = Router.from_config(CONF, plugins=[AcmePlugin()])
    assert not r.observers.active
    assert Router.from_config(CONF, plugins=[AcmePlugin(), Recorder()]).observers.active


def test_an_observation_wrapper_is_refused():
    class Wrapper:
        @hookimpl(wrapper=True)
        def router_on_result(self, event):
            return (yield)

    with pytest.raises(PluginError, match="wrappers are not supported"):
        Router.from_config(CONF, plugins=[AcmePlugin(), Wrapper()])


class Loses(Policy):
    """Drops the last candidate without a word: a plugin bug."""

    def apply(
        self, request: ChatRequest, candidates: list[ModelCard], context: RoutingContext
    ) -> Verdict:
        return Verdict(candidates[:-1])


class Explains(Policy):
    """Reverses the order and says why, per candidate."""

    def apply(
        self, request: ChatRequest, candidates: list[ModelCard], context: RoutingContext
    ) -> Verdict:
        keep = candidates[::-1]
        return Verdict(keep, reasons={c.ref: f"position {i} reversed" for i, c in enumerate(keep)})


class ChainPlugin:
    @hookimpl
    def router_register_policies(self, register):
        register("loses", Loses)
        register("explains", Explains)


def chain_router(policy: list[Any]) -> Router:
    conf = {
        "providers": [{"name": "a", "kind": "acme", "api_key": "k"}],
        "models": {"g": ["a:m1", "a:m2"]},
        "policy": policy,
    }
    router = Router.from_config(conf, plugins=[AcmePlugin(), ChainPlugin()])
    cards = tuple(
        ModelCard(provider="a", id=i, pricing=Pricing(prompt=Decimal(p), completion=Decimal(0)))
        for i, p in (("m1", "0.000001"), ("m2", "0.000002"))
    )
    router.providers["a"].catalog.get = lambda: Catalog("a", cards)  # type: ignore[method-assign]
    return router


def test_a_policy_that_loses_a_candidate_is_a_plugin_error_naming_it():
    router = chain_router(["cheapest", "loses"])
    with pytest.raises(PluginError) as caught:
        router.explain(model="g", messages=[{"role": "user", "content": "hi"}])
    assert str(caught.value) == (
        "policy 'loses': lost ['a:m2'] without excluding them; return each in keep or excluded"
    )


def test_explain_shows_what_each_policy_does_and_a_reordering_policys_reasons():
    router = chain_router(["capabilities", "cheapest", "explains"])
    route = router.explain(model="g", messages=[{"role": "user", "content": "hi"}])
    assert route.chain == (
        "capabilities (filters)",
        "cheapest (orders)",
        "explains (filters and orders)",
    )
    assert [c.ref for c in route.candidates] == ["a:m2", "a:m1"]
    assert [c.reasons for c in route.candidates] == [
        ("[explains] position 0 reversed",),
        ("[explains] position 1 reversed",),
    ]
    text = str(route).splitlines()
    assert (
        text[0]
        == "chain: capabilities (filters) -> cheapest (orders) -> explains (filters and orders)"
    )
    assert text[2].endswith("(why: [explains] position 0 reversed)")
