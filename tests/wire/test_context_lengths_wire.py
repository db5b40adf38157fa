"""A context length PipeLLM's catalog does not state, lent by OpenRouter's and Anthropic's
catalogs for the same model: over real HTTP against the simulator on loopback."""

from __future__ import annotations

import json
from typing import Any

import pytest

from router import NoRouteError, Router
from router.cli import main
from tests.wire.conftest import config

pytestmark = pytest.mark.wire

SONNET_OR = "openrouter:anthropic/claude-sonnet-4.6"
PIPE = "pipellm:claude-sonnet-4-6"
SHORT = [{"role": "user", "content": "Hi there"}]  # 2 + 4 = 6 estimated prompt tokens
LONG = [{"role": "user", "content": "a" * 1_300_000}]  # 325,000 + 4 = 325,004
CHAIN = [
    {"capabilities": {}},
    {"context_fit": {}},
    {"cheapest": {"expected_output_tokens": 300}},
]


def openrouter_states(sim: Any, context: int) -> None:
    """OpenRouter's catalog states ``context`` tokens for Claude Sonnet 4.6."""
    payload: Any = sim.catalog("openrouter")
    (entry,) = [e for e in payload["data"] if e["id"] == "anthropic/claude-sonnet-4.6"]
    entry["context_length"] = entry["top_provider"]["context_length"] = context
    sim.set_catalog("openrouter", payload)


def conf(sim: Any, policy: list[Any] = CHAIN) -> dict[str, Any]:
    return config(
        sim, "pipellm", "openrouter", "anthropic", models={"sonnet": [PIPE]}, policy=policy
    )


def chats(sim: Any) -> list[Any]:
    return [r for r in sim.requests("pipellm") if r.method == "POST"]


def test_a_lent_context_length_excludes_a_long_request_and_lets_a_short_one_through(sim):
    # Anthropic states 1,000,000 for the model, OpenRouter 300,000: the smallest is lent
    openrouter_states(sim, 300_000)
    with Router.from_config(conf(sim)) as router:
        assert router.catalog("pipellm").card("claude-sonnet-4-6").context_length is None
        # Nothing else loaded yet (the group is PipeLLM's alone): nothing to lend, so a
        # long request is judged by the 8,192 assumed, and ranked as unsure
        route = router.explain(model="sonnet", messages=LONG)
        assert [c.ref for c in route.candidates] == [PIPE]
        assert route.candidates[0].unsure == (
            "[context_fit] context length unknown; ~325304 tokens needed > 8192 assumed",
        )
        assert route.candidates[0].context_from is None

        router.models()  # every catalog read: OpenRouter's and Anthropic's lend now

        route = router.explain(model="sonnet", messages=LONG)
        assert route.candidates == []
        (excluded,) = route.excluded
        assert (excluded.ref, excluded.policy) == (PIPE, "context_fit")
        reason = (
            f"context 300000 (from {SONNET_OR}; pipellm states none)"
            " < 325304 needed (~325004 prompt + 300 output)"
        )
        assert excluded.reason == reason
        assert f"  - {PIPE}  [context_fit] {reason}" in str(route)
        with pytest.raises(NoRouteError) as caught:
            router.complete(model="sonnet", messages=LONG)
        assert caught.value.excluded == {PIPE: f"[context_fit] {reason}"}
        assert chats(sim) == []  # refused before any connection

        route = router.explain(model="sonnet", messages=SHORT)
        assert str(route).splitlines()[2] == (
            f"  1. {PIPE}  ~6 prompt + 300 output tokens  est. $0.004518"
            f"  context 300,000 (from {SONNET_OR})"
        )
        reply = router.complete(model="sonnet", messages=SHORT)
        assert reply.provider == "pipellm"
        (sent,) = chats(sim)
        assert sent.path.endswith("/v1/messages")  # PipeLLM's anthropic family
        (first,) = reply.route.candidates
        assert (first.ref, first.context_length, first.context_from) == (PIPE, 300_000, SONNET_OR)
        assert reply.route.to_dict()["candidates"][0]["context_from"] == SONNET_OR

        # A refreshed catalog is a new index. OpenRouter now states 40,000: PipeLLM's own
        # catalog contradicts it (it prices prompts over 200,000 tokens: over_200k), so the
        # smallest figure it does not contradict is lent, Anthropic's 1,000,000
        openrouter_states(sim, 40_000)
        router.provider("openrouter").catalog.invalidate()
        assert router.catalog("openrouter").card("anthropic/claude-sonnet-4.6").context_length == (
            40_000
        )
        route = router.explain(model="sonnet", messages=LONG)
        (candidate,) = route.candidates
        assert (candidate.context_length, candidate.context_from) == (
            1_000_000,
            "anthropic:claude-sonnet-4-6",
        )
        assert candidate.unsure == ()  # fits a known figure: not unsure


def test_borrow_context_false_keeps_the_floor(sim):
    openrouter_states(sim, 300_000)
    chain = [{"context_fit": {"borrow_context": False}}, {"cheapest": {}}]
    with Router.from_config(conf(sim, chain)) as router:
        router.models()
        route = router.explain(model="sonnet", messages=LONG)
        (candidate,) = route.candidates
        assert candidate.context_from is None
        assert candidate.unsure == (
            "[context_fit] context length unknown; ~325304 tokens needed > 8192 assumed",
        )
        assert "(from " not in str(route)


def test_cli_explain_and_models_say_where_the_figure_came_from(sim, tmp_path, capsys):
    openrouter_states(sim, 300_000)
    path = tmp_path / "router.yaml"
    path.write_text(json.dumps(conf(sim)))  # JSON is YAML
    # a bare model name reads every catalog: PipeLLM's card borrows OpenRouter's figure
    status = main(["explain", "-c", str(path), "-m", "claude-sonnet-4.6", "-p", "Hi there"])
    out = capsys.readouterr().out
    assert status == 0
    line = next(x for x in out.splitlines() if x.startswith(f"  1. {PIPE}"))
    assert line.endswith(f"context 300,000 (from {SONNET_OR})")
    assert f"  2. {SONNET_OR}  ~6 prompt + 300 output tokens  est. $0.004518" in out

    status = main(["explain", "-c", str(path), "-m", "claude-sonnet-4.6", "-p", "a" * 1_300_000])
    out = capsys.readouterr().out
    assert status == 0  # Anthropic's, which states 1,000,000, remains
    assert (
        f"  - {PIPE}  [context_fit] context 300000 (from {SONNET_OR}; pipellm states none)"
        " < 325304 needed (~325004 prompt + 300 output)"
    ) in out
    assert (
        f"  - {SONNET_OR}  [context_fit] context 300000 < 325304 needed"
        " (~325004 prompt + 300 output)"
    ) in out

    status = main(["models", "-c", str(path), "--json"])
    records = {r["ref"]: r for r in json.loads(capsys.readouterr().out)}
    assert status == 0
    assert records[PIPE]["context_length"] is None  # the catalog's statement, unchanged
    assert (records[PIPE]["context_length_elsewhere"], records[PIPE]["context_from"]) == (
        300_000,
        SONNET_OR,
    )
    assert records[SONNET_OR]["context_from"] is None
    status = main(["models", "-c", str(path), "--provider", "pipellm"])
    out = capsys.readouterr().out
    assert status == 0
    header, *rows = out.splitlines()
    assert header.split()[-4:] == ["context", "elsewhere", "canonical", "stale"]
    (row,) = [r.split() for r in rows if r.split()[1] == PIPE]
    # --provider reads PipeLLM's catalog only: a fresh process has nothing else to lend
    assert (row[2], row[-2], row[-1]) == ("?", "-", "claude-sonnet-4-6")
    status = main(["models", "-c", str(path)])  # every catalog: OpenRouter's lends
    rows = capsys.readouterr().out.splitlines()[1:]
    (row,) = [r.split() for r in rows if r.split()[1] == PIPE]
    assert (row[2], row[-4:]) == ("?", ["300,000", "from", "openrouter", "claude-sonnet-4-6"])
