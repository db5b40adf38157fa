"""``router demo``: the offline demo's output, checked against the simulated catalogs."""

from __future__ import annotations

import io
import itertools
import re
import sys
from decimal import Decimal

import pytest

from router import ModelCard, Router
from router.demo import (
    ANSWER_LENGTH,
    LIST_PRICE,
    PROVIDERS,
    ROUTER,
    SAME_MODEL,
    run_demo,
    workload,
)
from router.demo.output import Plain, writer
from router.testing.simulator import API_KEYS, Simulator

from .conftest import config

pytestmark = pytest.mark.wire

STEPS = workload()
CHOSEN = re.compile(
    r"^   -> (?P<ref>\S+?)(?: \[context [\d,]+\])?: (?P<prompt>[\d,]+) prompt"
    r" \((?P<cached>[\d,]+) cached\) \+ (?P<completion>[\d,]+) completion tokens"
    r" = \$(?P<bill>[\d.]+) \(est\. \$(?P<est>[\d.]+)\)$",
    re.MULTILINE,
)


@pytest.fixture(scope="module")
def demo() -> tuple[int, str]:
    """The demo run once, in plain text: (exit status, output)."""
    out = io.StringIO()
    status = run_demo(out=out, plain=True)
    return status, out.getvalue()


@pytest.fixture(scope="module")
def output(demo: tuple[int, str]) -> str:
    return demo[1]


@pytest.fixture(scope="module")
def cards() -> dict[str, ModelCard]:
    """The five providers' catalogs as the router reads them, by ref."""
    with Simulator() as sim, Router.from_config(config(sim, *PROVIDERS), entry_points=False) as r:
        return {card.ref: card for card in r.models()}


def section(output: str, key: str) -> str:
    """The text of the step ``key``: from its header to the next header (or the baselines)."""
    n = next(i for i, step in enumerate(STEPS, 1) if step.key == key)
    start = output.index(f"[{n}/{len(STEPS)}] {STEPS[n - 1].title}")
    ends = [output.find(f"[{n + 1}/{len(STEPS)}] ", start), output.find("\nbaselines:", start)]
    return output[start : min(e for e in ends if e > 0)]


def answered(text: str) -> list[tuple[str, int, int]]:
    """(ref, prompt tokens, cached tokens) of each request in ``text``, in order."""
    return [
        (m["ref"], int(m["prompt"].replace(",", "")), int(m["cached"].replace(",", "")))
        for m in CHOSEN.finditer(text)
    ]


def totals(output: str) -> list[Decimal]:
    match = re.search(r"^total\s+\$([\d.]+)\s+\$([\d.]+)\s+\$([\d.]+)\s*$", output, re.MULTILINE)
    assert match, output[-2000:]
    return [Decimal(v) for v in match.groups()]


def test_exits_0_and_shows_every_step_and_the_table(demo: tuple[int, str]) -> None:
    status, output = demo
    assert status == 0, output[-2000:]
    for n, step in enumerate(STEPS, 1):
        assert f"[{n}/{len(STEPS)}] {step.title}" in output
        assert len(answered(section(output, step.key))) == len(step.turns), step.key
        assert re.search(rf"^{n}\. {step.key}\s+\$", output, re.MULTILINE), step.key
    assert "dollars spent" in output
    for strategy in (ROUTER, SAME_MODEL, LIST_PRICE):
        assert strategy.name in output
    assert "\x1b[" not in output  # plain text: no terminal escapes


def test_tools_go_to_tool_capable_deployments(output: str, cards: dict[str, ModelCard]) -> None:
    chosen = answered(section(output, "tools"))
    assert len(chosen) == 2  # the tool call, then the turn with the tool's result
    assert all(cards[ref].supports_tools is True for ref, _, _ in chosen), chosen
    assert "calls get_weather(" in section(output, "tools")
    assert "     Left out by capabilities: inference-api:llama-4-maverick (no tools support)," in (
        section(output, "tools")
    )
    assert (
        # a short request fits the 8,192 tokens every model is assumed to hold: an
        # unknown context length does not make a deployment a last resort here
        "     Kept as a last resort: 20 that do not say whether they can call tools.\n"
    ) in section(output, "tools")


def test_vision_goes_to_a_vision_capable_deployment(
    output: str, cards: dict[str, ModelCard]
) -> None:
    [(ref, _, _)] = answered(section(output, "vision"))
    assert cards[ref].supports_vision is True


def test_long_context_goes_where_the_prompt_fits(output: str, cards: dict[str, ModelCard]) -> None:
    text = section(output, "long-context")
    chosen = answered(text)
    assert chosen
    assert all(prompt > 250_000 for _, prompt, _ in chosen)
    for ref, prompt, _ in chosen:
        context = cards[ref].context_length
        assert context is not None
        assert context >= prompt, (ref, context, prompt)
    assert "     Left out by context_fit: pinstripes:ps/qwen3.6-35b-a3b (context 262144 <" in text
    assert "(!)" not in text


def test_the_conversation_warms_the_cache(output: str) -> None:
    chosen = answered(section(output, "conversation"))
    assert len(chosen) == 6
    assert chosen[0][2] == 0  # the first turn is cold
    stayed = [now for before, now in itertools.pairwise(chosen) if now[0] == before[0]]
    assert len(stayed) >= 3, chosen
    assert all(cached > 0 for _, _, cached in stayed), chosen  # staying means warm
    text = section(output, "conversation")
    stays = re.findall(
        r"^     Why: it stays, because ~([\d,]+) tokens of this prompt are cached", text, re.M
    )
    assert len(stays) == len(stayed)


def test_the_outage_falls_over_cools_down_and_recovers(output: str) -> None:
    text = section(output, "outage")
    down = re.search(r"! (\S+) goes down", text)
    assert down
    provider = down[1]
    failures = re.findall(r"x failed: (\S+?): HTTP 503", text)
    assert failures
    assert all(ref.startswith(provider + ":") for ref in failures)
    chosen = answered(text)
    assert not chosen[0][0].startswith(provider + ":")  # the first request fell over
    assert f"     Left out by cooldown: {provider}:" in text  # later requests route around it
    assert re.search(
        rf"^     {provider}:\S+ failed 3 times in a row: it is left out of routing for the next"
        r" \d+ s\.$",
        text,
        re.MULTILINE,
    )
    assert f"     Why: {provider} did not answer, so the router moved on down the list;" in text
    assert f"{provider} is back up" in text
    assert chosen[-1][0].startswith(provider + ":")  # and it wins again once back


def test_router_spends_less_than_always_the_same_model(output: str) -> None:
    router, same_model, _ = totals(output)
    assert router < same_model


def test_router_spends_less_than_list_price_routing(output: str) -> None:
    router, _, list_price = totals(output)
    assert router < list_price


def test_no_simulator_key_in_the_output(output: str) -> None:
    for key in API_KEYS.values():
        assert key not in output


def test_plain_text_unless_a_terminal_and_rich(monkeypatch: pytest.MonkeyPatch) -> None:
    assert isinstance(writer(io.StringIO(), None), Plain)  # not a terminal
    assert isinstance(writer(io.StringIO(), True), Plain)
    assert not isinstance(writer(io.StringIO(), False), Plain)  # rich, asked for
    monkeypatch.setitem(sys.modules, "rich.console", None)  # rich not installed
    assert isinstance(writer(io.StringIO(), False), Plain)


def test_every_fresh_decision_is_one_plain_sentence(output: str) -> None:
    whys = re.findall(r"^     Why: (.*)$", output, re.MULTILINE)
    assert len(whys) >= len(STEPS)
    assert all(why.endswith(".") and ". " not in why.replace("est. ", "") for why in whys), whys
    for jargon in ("ranked after the sure ones", "counting 2 later turns", "(stays warm)"):
        assert jargon not in output


def test_a_switch_away_from_a_warm_deployment_says_why(output: str) -> None:
    chosen = answered(section(output, "conversation"))
    moves = [i for i, (before, now) in enumerate(itertools.pairwise(chosen)) if now[0] != before[0]]
    text = section(output, "conversation")
    lines = re.findall(r"^     Why: it moves (.*)$", text, re.MULTILINE)
    assert len(lines) == len(moves)
    for line in lines:
        assert re.fullmatch(
            r"although \S+ is warm, because over this turn and the 2 expected next it costs less"
            r" here \(\$[\d.]+ against \$[\d.]+; this turn alone: \$[\d.]+ against \$[\d.]+\)"
            r"(: its cached tokens are cheaper to read)?\.",
            line,
        ), line


def test_ends_with_what_next(output: str) -> None:
    assert output.splitlines()[-5:] == [
        "What next:",
        "  router sim      keeps these simulated providers running and writes a router.yaml for",
        "                  them: then try router check, router explain -p 'Hi' and router chat",
        "                  'Hi' yourself, offline, or point the Python API at the same file",
        "  README.md       the YAML reference, the policies, and how to write your own plugin",
    ]


def test_answers_are_as_long_as_real_ones_and_bills_land_near_the_estimates(output: str) -> None:
    low, high = ANSWER_LENGTH.bounds
    assert (low, high) == (225, 375)  # around the 300 tokens the estimates assume
    lines = list(CHOSEN.finditer(output))
    assert len(lines) == sum(len(step.turns) for step in STEPS)  # every request, est. shown
    tool_calls = [m for m in lines if int(m["completion"]) < low]
    assert len(tool_calls) == 1  # the weather tool call: its arguments are short
    assert tool_calls[0]["ref"] in section(output, "tools")
    for m in lines:
        if m in tool_calls:
            continue
        assert low <= int(m["completion"]) <= high, m[0]
        # close: the answer's length is the estimate's give or take a quarter; the prompt
        # side differs only where the cache or an image is guessed (at most ~30%)
        assert Decimal("0.65") < Decimal(m["bill"]) / Decimal(m["est"]) < Decimal("1.35"), m[0]


def test_the_first_request_billed_exactly_and_the_estimate_explained_once(output: str) -> None:
    # ps/gpt-oss-120b: $0.033 / $0.153 per 1M tokens; the estimate: ~19 prompt tokens
    # (15 + framing) and 300 completion tokens, the bill: 15 and the 361 the answer had
    assert 15 * Decimal("0.000000033") + 361 * Decimal("0.000000153") == Decimal("0.000055728")
    assert 19 * Decimal("0.000000033") + 300 * Decimal("0.000000153") == Decimal("0.000046527")
    assert section(output, "chat").splitlines()[2] == (
        "   -> pinstripes:ps/gpt-oss-120b: 15 prompt (0 cached) + 361 completion tokens"
        " = $0.000055728 (est. $0.000046527)"
    )
    sentence = (
        "     est. is what the router expected this request to cost before sending it: this"
        " prompt and a 300-token answer (its default guess) at the listed prices; the bill"
        " counts the answer's real length."
    )
    assert output.count(sentence) == 1
    assert sentence in section(output, "chat")
    # the gap a short simulated answer used to open is gone; a tool call's is said once
    assert output.count("so the bill is lower") == 1
    assert (
        "     The estimate assumed a 300-token answer, but a tool call is short (14 tokens),"
        " so the bill is lower.\n"
    ) in section(output, "tools")


def test_a_small_image_says_what_the_estimate_counted(output: str) -> None:
    text = section(output, "vision")
    [(_, prompt, _)] = answered(text)
    assert prompt == 6 + 255  # "What is in this picture?" and the image (REALISTIC_IMAGE_TOKENS)
    assert (
        "     The estimate counted the image as 765 prompt tokens, as for a large picture; this"
        " small one made the prompt 261 tokens in all.\n"
    ) in text


def test_a_last_resort_says_why_in_words(output: str) -> None:
    assert (
        # a model whose context length another catalog states for the same model borrows
        # it (and is then excluded, as too short): one is left that no catalog states
        "     Kept as a last resort: 1 that does not state its context length (this request"
        " needs ~301,171 tokens, and only 8,192 are assumed).\n"
    ) in section(output, "long-context")
