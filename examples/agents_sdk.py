"""The OpenAI Agents SDK, routed: a tool-using agent on the SDK's default model (the
Responses API) and on ``OpenAIChatCompletionsModel``, both through ``router.async_transport()``.

The agent looks something up with a tool and answers from the result; the SDK runs the
loop. Each model call goes to the cheapest deployment that supports tools; the router
says what each call cost in the ``x-router-cost`` header, summed here per run. Offline,
against the built-in simulator.

    python examples/agents_sdk.py
"""

from __future__ import annotations

import asyncio
import os
from decimal import Decimal
from pathlib import Path

import httpx
from agents import (
    Agent,
    OpenAIChatCompletionsModel,
    Runner,
    function_tool,
    set_default_openai_client,
    set_tracing_disabled,
)
from openai import AsyncOpenAI

from router import Router
from router.testing.simulator import Simulator

CONFIG = Path(__file__).with_name("router.yaml")
"""The documented configuration: it reads every base URL and key from the environment."""


@function_tool
def lookup(query: str) -> str:
    """Look a fact up in the team's notes."""
    return f"the notes say '{query}' was settled last week: Postgres"


class Spend:
    """Adds up the exact cost the router reports on every answer (``x-router-cost``)."""

    def __init__(self) -> None:
        self.total = Decimal(0)
        self.calls: list[str] = []

    async def __call__(self, response: httpx.Response) -> None:
        cost = response.headers.get("x-router-cost")
        if cost is not None:
            self.total += Decimal(cost)
            path = response.request.url.path
            self.calls.append(f"POST {path} -> {response.headers.get('x-router-model')} ${cost}")


def client(router: Router, spend: Spend) -> AsyncOpenAI:
    http = httpx.AsyncClient(transport=router.async_transport(), event_hooks={"response": [spend]})
    # max_retries=0 is not needed: the router's answers say x-should-retry: false.
    return AsyncOpenAI(base_url="http://router/v1", api_key="unused", http_client=http)


async def run(title: str, agent: Agent, spend: Spend) -> None:
    result = await Runner.run(agent, "Which database did we pick?")
    print(f"== {title}")
    for call in spend.calls:
        print(f"  model call: {call}")
    print(f"  answer: {result.final_output}")
    print(f"  spent: ${spend.total}")


async def main() -> None:
    set_tracing_disabled(True)  # the SDK would otherwise upload traces to OpenAI
    with Simulator() as sim:
        os.environ.update(sim.environ())  # the URLs and keys router.yaml reads
        async with Router.from_yaml(CONFIG) as router:
            instructions = "Answer from the team's notes; look things up first."
            # 1. The SDK's default model: the Responses API (POST /v1/responses).
            spend = Spend()
            set_default_openai_client(client(router, spend), use_for_tracing=False)
            agent = Agent(name="notes", instructions=instructions, model="auto", tools=[lookup])
            await run("Agent(model='auto'): the Responses API", agent, spend)
            # 2. Chat Completions, with a bare model name routed across providers.
            spend = Spend()
            model = OpenAIChatCompletionsModel(
                model="deepseek-v4-flash", openai_client=client(router, spend)
            )
            agent = Agent(name="notes", instructions=instructions, model=model, tools=[lookup])
            await run("OpenAIChatCompletionsModel('deepseek-v4-flash')", agent, spend)


if __name__ == "__main__":
    asyncio.run(main())
