"""The shortlist of a large catalog ranks exactly as the whole policy chain does.

Pure units: hand-built catalogs handed to the router's ``Planner`` (nothing is fetched). For random
catalogs, requests, chains and learned state, the candidates a sent request would try,
pulled one by one from the shortlist, are the whole chain's candidates in the same order.
"""

from __future__ import annotations

import sys
import threading
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from router import Router
from router.catalog import Catalog, ModelCard, PriceTier, Pricing
from router.dispatch.fallback import Plan
from router.planning.shortlist import SHORTLIST_MIN_CARDS
from router.state.prefix import prefix_chain
from router.types import ChatRequest

D = Decimal
TOOL = {"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}
IMAGE = {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}
# Few distinct rates, so that equal costs (ties broken by catalog order) are common.
# Free cards (0) too: a zero bound is not shrunk by the safety factor.
RATES = [D(n) / D(10**8) for n in (0, 1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144, 233)]


def router_for(policy: list[Any]) -> Router:
    conf = {
        "providers": [
            {
                "name": name,
                "kind": "openai",
                "base_url": "http://127.0.0.1:9/v1",  # never contacted: catalogs are given
                "auto_cache_control": name == "b",
            }
            for name in ("a", "b")
        ],
        "policy": policy,
    }
    return Router.from_config(conf, entry_points=False)


@st.composite
def cards(draw: Any, provider: str, count: int) -> tuple[ModelCard, ...]:
    out = []
    for i in range(count):
        priced = draw(st.integers(0, 9)) > 0
        pricing = None
        if priced:
            prompt = draw(st.sampled_from(RATES))
            tiers: tuple[PriceTier, ...] = ()
            if draw(st.integers(0, 9)) == 0:
                tiers = (PriceTier(name="over_2k", above_prompt_tokens=2000, prompt=prompt * 2),)
            read = draw(st.sampled_from([None, prompt / 10]))
            pricing = Pricing(
                prompt=prompt,
                completion=draw(st.sampled_from(RATES)),
                cache_read=read,
                cache_write=None if read is None else prompt * D("1.25"),
                tiers=tiers,
            )
        out.append(
            ModelCard(
                provider=provider,
                id=f"m{i}",
                protocol=draw(st.sampled_from(["openai", "openai", "anthropic"])),
                kind="generation" if draw(st.integers(0, 30)) == 0 else "chat",
                context_length=draw(st.sampled_from([None, 1000, 4000, 128_000])),
                max_output_tokens=draw(st.sampled_from([None, 100, 8000])),
                supports_tools=draw(st.sampled_from([None, True, False])),
                supports_vision=draw(st.sampled_from([None, True, False])),
                pricing=pricing,
            )
        )
    return tuple(out)


chains = st.lists(
    st.sampled_from(
        [
            {"capabilities": {}},
            {"capabilities": {"unknown": "exclude"}},
            {"context_fit": {}},
            {"context_fit": {"unknown": "exclude", "assume_context": 1000}},
            {"context_fit": {"borrow_context": False, "assume_context": 1000}},
            {"max_price": {"prompt_per_mtok": 1}},
            {"max_price": {"completion_per_mtok": 0.5}},
        ]
    ),
    max_size=3,
).flatmap(
    lambda filters: st.builds(
        lambda cheapest, at: [*filters[:at], cheapest, *filters[at:]],
        st.sampled_from(
            [
                {"cheapest": {}},
                {"cheapest": {"expected_output_tokens": 0}},
                {"cheapest": {"prefix_cache": True}},
                {"cheapest": {"prefix_cache": True, "expected_reuse": 3}},
            ]
        ),
        st.integers(0, len(filters)),
    )
)


@st.composite
def requests(draw: Any) -> dict[str, Any]:
    text = "x" * draw(st.sampled_from([10, 400, 3000, 12_000]))
    content: Any = [{"type": "text", "text": text}, IMAGE] if draw(st.booleans()) else text
    request: dict[str, Any] = {
        "model": "auto",
        "messages": [
            {"role": "system", "content": "s" * 5000},
            {"role": "user", "content": content},
        ],
    }
    if draw(st.booleans()):
        request["tools"] = [TOOL]
    if (limit := draw(st.sampled_from([None, 50, 2000, 10**7]))) is not None:
        request["max_tokens"] = limit
    return request


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    chain=chains,
    a=st.integers(SHORTLIST_MIN_CARDS // 2, SHORTLIST_MIN_CARDS).flatmap(lambda n: cards("a", n)),
    b=st.integers(SHORTLIST_MIN_CARDS // 2, 200).flatmap(lambda n: cards("b", n)),
    request=requests(),
    learned=st.lists(st.tuples(st.sampled_from("ab"), st.integers(0, 199), st.integers(1, 3))),
)
def test_the_shortlist_ranks_exactly_as_the_whole_chain(chain, a, b, request, learned) -> None:
    router = router_for(chain)
    catalogs = {"a": Catalog("a", a), "b": Catalog("b", b)}
    every = {card.ref: card for card in (*a, *b)}
    chain_of = prefix_chain(ChatRequest.model_validate(request))
    for provider, i, kind in learned:  # calibrated, warm and cooling deployments
        ref = f"{provider}:m{i}"
        if ref not in every:
            continue
        if kind == 1:
            router.prefixes.calibrate(ref, 1000, 300)
        elif kind == 2:
            router.prefixes.remember(ref, chain_of)
        else:
            router.cooldowns.hold(ref, 60)

    whole, expected, _ = router.planner.plan(ChatRequest.model_validate(request), catalogs)
    req = ChatRequest.model_validate(request)
    route, first, context = router.planner.plan(req, catalogs, first=2)
    shortlisted = [*first, *(context.more or ())]
    assert [c.ref for c in shortlisted] == [c.ref for c in expected]
    # the estimates of the first candidates are the whole chain's
    assert route.candidates == whole.candidates[: len(route.candidates)]
    if context.more is not None:  # shortlisted: fewer judged than the whole chain
        assert route.unexamined >= 0
        refs = [e.ref for e in route.excluded]
        assert len(refs) == len(set(refs))  # each judged once
        assert set(route.excluded) <= set(whole.excluded)


def big_catalog(n: int) -> Catalog:
    return Catalog(
        "a",
        tuple(
            ModelCard(
                provider="a",
                id=f"m{i}",
                context_length=128_000,
                supports_tools=True,
                pricing=Pricing(prompt=D(1 + (i * 7919) % 997) / D(10**8), completion=D(0)),
            )
            for i in range(n)
        ),
    )


def test_a_sent_request_examines_a_few_cards_of_a_big_catalog() -> None:
    router = router_for([{"capabilities": {}}, {"context_fit": {}}, {"cheapest": {}}])
    catalogs = {"a": big_catalog(5000)}
    req = ChatRequest(model="auto", messages=[{"role": "user", "content": "hi"}], tools=[TOOL])
    route, cards, _ = router.planner.plan(req, catalogs, first=4)
    assert len(cards) == 4
    assert route.unexamined > 4900  # the rest was never judged
    assert "more cards not examined" in str(route)
    assert [c.ref for c in cards] == [
        c.ref for c in router.planner.plan(req.model_copy(), catalogs)[1][:4]
    ]


def test_a_small_catalog_or_an_explain_judges_every_card() -> None:
    router = router_for([{"cheapest": {}}])
    req = ChatRequest(model="auto", messages=[{"role": "user", "content": "hi"}])
    small = router.planner.plan(req, {"a": big_catalog(SHORTLIST_MIN_CARDS - 1)}, first=4)[0]
    assert small.unexamined == 0
    assert len(small.candidates) == SHORTLIST_MIN_CARDS - 1
    explained = router.planner.plan(req, {"a": big_catalog(5000)})[0]
    assert len(explained.candidates) == 5000


def test_a_fallback_pulls_more_shortlisted_candidates_when_a_provider_is_dropped() -> None:
    router = router_for([{"cheapest": {}}])
    catalogs = {"a": big_catalog(400), "b": Catalog("b", big_catalog(400).models[:0])}
    req = ChatRequest(model="auto", messages=[{"role": "user", "content": "hi"}])
    route, cards, context = router.planner.plan(req, catalogs, first=1)
    plan = Plan(cards, router.fallback, router.cooldowns, route, context)
    assert plan._fill(3) == 3  # pulled on demand, in order
    order = [c.ref for c in router.planner.plan(req.model_copy(), catalogs)[1]]
    assert [c.ref for c in plan.queue] == order[:3]


def test_free_cards_keep_their_catalog_order() -> None:
    # Two free cards in different groups (tools unknown, tools stated), the earlier one
    # never learned and the later one learned: the earlier comes first, as in the chain.
    cards = list(big_catalog(SHORTLIST_MIN_CARDS + 10).models)
    free = Pricing(prompt=D(0), completion=D(0))
    cards[3] = cards[3].model_copy(update={"pricing": free, "supports_tools": None})
    cards[60] = cards[60].model_copy(update={"pricing": free})
    catalogs = {"a": Catalog("a", tuple(cards))}
    router = router_for([{"cheapest": {}}])
    router.prefixes.calibrate("a:m60", 1000, 300)
    req = ChatRequest(model="auto", messages=[{"role": "user", "content": "hi"}])
    whole = [c.ref for c in router.planner.plan(req.model_copy(), catalogs)[1][:3]]
    assert whole[:2] == ["a:m3", "a:m60"]
    assert [c.ref for c in router.planner.plan(req, catalogs, first=3)[1]] == whole


def test_a_request_no_card_serves_lists_each_exclusion_once() -> None:
    router = router_for([{"context_fit": {}}, {"cheapest": {}}])
    catalogs = {"a": big_catalog(100)}  # 128k-token contexts
    req = ChatRequest(model="auto", messages=[{"role": "user", "content": "x" * 800_000}])
    route, cards, _ = router.planner.plan(req, catalogs, first=2)
    assert cards == []
    assert len(route.excluded) == 100
    assert {e.policy for e in route.excluded} == {"context_fit"}
    assert route.unexamined == 0


def test_card_indexes_built_in_many_threads_at_once() -> None:
    # Every refresh is a new Catalog, so a new index: the cache of 8 evicts while other
    # threads read and insert. A tiny switch interval makes the threads interleave.
    router = router_for([{"cheapest": {}}])
    models = big_catalog(2).models
    errors: list[BaseException] = []

    def index() -> None:
        try:
            for _ in range(3000):
                router.planner._card_index([Catalog("a", models)])
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=index) for _ in range(8)]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(interval)
    assert errors == []
    assert len(router.planner._indexes) <= 8


def test_request_options_filter_a_shortlist_and_orderings_judge_the_whole_chain() -> None:
    router = router_for([{"capabilities": {}}, {"cheapest": {}}])
    catalogs = {"a": big_catalog(5000)}
    hi = [{"role": "user", "content": "hi"}]
    # max_price filters as cards are read: the shortlist stays short and exact.
    capped = {"max_price": {"prompt_per_mtok": "0.05"}}
    req = ChatRequest(model="auto", messages=hi, router=capped)
    route, cards, _ = router.planner.plan(req, catalogs, first=4)
    assert route.unexamined > 4000
    whole = router.planner.plan(req.model_copy(), catalogs)[1]
    assert [c.ref for c in cards] == [c.ref for c in whole[:4]]
    assert all(c.pricing is not None and c.pricing.prompt <= D("0.05") / 10**6 for c in cards)
    # providers.order reorders after the chain: every card is judged.
    ordered = ChatRequest(model="auto", messages=hi, router={"sort": "price"})
    route, cards, _ = router.planner.plan(ordered, catalogs, first=4)
    assert route.unexamined == 0
    assert len(route.candidates) == 5000


def test_a_shortlist_judges_lent_context_lengths_as_the_whole_chain() -> None:
    # a: 100 cards stating no context length, m0..m49 dearer than m50..m99; b states
    # 100,000 for m0..m24 and 4,000 for m25..m49 (same ids: the same canonical names).
    a = Catalog(
        "a",
        tuple(
            ModelCard(
                provider="a",
                id=f"m{i}",
                pricing=Pricing(prompt=D((500 if i < 50 else 1) + i) / D(10**8), completion=D(0)),
            )
            for i in range(100)
        ),
    )
    b = Catalog(
        "b",
        tuple(
            ModelCard(
                provider="b",
                id=f"m{i}",
                context_length=100_000 if i < 25 else 4000,
                pricing=Pricing(prompt=D(1000 + i) / D(10**8), completion=D(0)),
            )
            for i in range(50)
        ),
    )
    catalogs = {"a": a, "b": b}
    router = router_for([{"context_fit": {}}, {"cheapest": {}}])

    def both(chars: int) -> tuple[list[str], Any]:
        req = ChatRequest(model="auto", messages=[{"role": "user", "content": "x" * chars}])
        whole, expected, _ = router.planner.plan(req, catalogs)
        route, first, context = router.planner.plan(req.model_copy(), catalogs, first=2)
        assert context.more is not None  # shortlisted, not the whole chain
        shortlisted = [c.ref for c in (*first, *(context.more or ()))]
        assert shortlisted == [c.ref for c in expected]
        assert route.candidates == whole.candidates[:2]
        return shortlisted, {c.ref: c for c in whole.candidates}, whole

    # 2,004 prompt + 300 output: every card fits (a lent figure, or the 8,192 assumed)
    order, estimates, _ = both(8000)
    assert order[:2] == ["a:m50", "a:m51"]  # by price
    assert len(order) == 150
    lent = estimates["a:m0"]
    assert (lent.context_length, lent.context_from) == (100_000, "b:m0")
    lent = estimates["a:m30"]
    assert (lent.context_length, lent.context_from) == (4000, "b:m30")
    assert estimates["a:m50"].context_from is None  # nothing to lend
    # 9,004 + 300: a:m0..m24 fit their lent 100,000 and rank before the cheaper a:m50..,
    # which the floor demotes; a:m25..m49 are excluded by their lent 4,000, as b's own
    order, estimates, whole = both(36_000)
    assert order[:2] == ["a:m0", "a:m1"]
    assert order[25:27] == ["b:m0", "b:m1"]
    assert order[50:52] == ["a:m50", "a:m51"]
    assert len(order) == 100
    reasons = {e.ref: e.reason for e in whole.excluded}
    assert reasons["a:m30"] == (
        "context 4000 (from b:m30; a states none) < 9304 needed (~9004 prompt + 300 output)"
    )
    assert reasons["b:m30"] == "context 4000 < 9304 needed (~9004 prompt + 300 output)"
    assert estimates["a:m50"].unsure == (
        "[context_fit] context length unknown; ~9304 tokens needed > 8192 assumed",
    )
