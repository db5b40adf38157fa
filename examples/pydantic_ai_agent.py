"""pydantic-ai with its OpenAI provider, routed through ``router.async_transport()``.

An agent with a tool: pydantic-ai runs the loop (the model calls ``lookup``, the agent
hands the result back, the model answers). Per-request routing options travel in the
request body (``extra_body={"router": {...}}``): here only deployments known to support
tools, under a price ceiling. The cost of each model call comes back in the
``x-router-cost`` header, summed for the run. Offline, against the built-in simulator.

    python examples/pydantic_ai_agent.py
"""

from __future__ import annotations

import asyncio
import os
from decimal import Decimal
from pathlib import Path

import httpx
from openai import AsyncOpenAI
from pydantic_ai import Agent
from pydantic_ai.models.openai import OpenAIChatModel, OpenAIChatModelSettings
from pydantic_ai.providers.openai import OpenAIProvider

from router import Router
from router.testing.simulator import Simulator

CONFIG = Path(__file__).with_name("router.yaml")
"""The documented configuration: it reads every base URL and key from the environment."""


async def main() -> None:
    with Simulator() as sim:
        os.environ.update(sim.environ())  # the URLs and keys router.yaml reads
        async with Router.from_yaml(CONFIG) as router:
            costs: list[tuple[str, Decimal]] = []

            async def record(response: httpx.Response) -> None:
                if (cost := response.headers.get("x-router-cost")) is not None:
                    costs.append((response.headers["x-router-model"], Decimal(cost)))

            http = httpx.AsyncClient(
                transport=router.async_transport(), event_hooks={"response": [record]}
            )
            client = AsyncOpenAI(base_url="http://router/v1", api_key="unused", http_client=http)
            model = OpenAIChatModel("auto", provider=OpenAIProvider(openai_client=client))
            settings = OpenAIChatModelSettings(
                extra_body={"router": {"require": ["tools"], "max_price": {"prompt_per_mtok": 1.0}}}
            )
            agent = Agent(model, model_settings=settings)

            @agent.tool_plain
            def lookup(query: str) -> str:
                """Look a fact up in the team's notes."""
                return f"the notes say '{query}' was settled last week"

            result = await agent.run("Which database did we pick?")
            for ref, cost in costs:
                print(f"model call: {ref} ${cost}")
            print(f"answer: {result.output}")
            print(f"spent: ${sum((c for _, c in costs), Decimal(0))}")
            await http.aclose()


if __name__ == "__main__":
    asyncio.run(main())
