"""``openai.AsyncOpenAI`` over the router: 50 concurrent requests, offline, with their bill.

Starts the provider simulator on 127.0.0.1, points the documented ``examples/router.yaml``
at it through environment variables, and sends 50 chat requests at once through
``openai.AsyncOpenAI`` whose httpx transport is the router, spread over ``auto`` and the
two groups of the YAML. Prints how many answers each provider served and the total cost,
summed exactly from the ``x-router-cost`` header of each response (USD, a decimal).

    python examples/openai_sdk_async.py
"""

from __future__ import annotations

import asyncio
import os
from collections import Counter
from decimal import Decimal
from pathlib import Path

import httpx
import openai

from router import Router
from router.testing.simulator import Simulator

MODELS = ("auto", "deepseek-v4-flash", "gpt-5-mini")
REQUESTS = 50


async def ask(client: openai.AsyncOpenAI, i: int) -> tuple[str, Decimal]:
    """One question; the provider that answered and what it cost."""
    raw = await client.chat.completions.with_raw_response.create(
        model=MODELS[i % len(MODELS)],
        messages=[{"role": "user", "content": f"Question number {i}: which provider am I on?"}],
    )
    return raw.headers["x-router-provider"], Decimal(raw.headers["x-router-cost"])


async def run() -> None:
    async with (
        Router.from_yaml(CONFIG) as router,
        openai.AsyncOpenAI(
            base_url="http://router/v1",
            api_key="unused",  # the providers' keys stay in the router's configuration
            http_client=httpx.AsyncClient(transport=router.async_transport()),
        ) as client,
    ):
        answers = await asyncio.gather(*(ask(client, i) for i in range(REQUESTS)))

        print(f"== {len(answers)} concurrent requests over {', '.join(MODELS)}")
        served = Counter(provider for provider, _ in answers)
        for provider, count in served.most_common():
            print(f"{provider:<12} {count:>3} answers")
        total = sum((cost for _, cost in answers), Decimal(0))
        print(f"total cost: ${total}")

        print("\n== one streamed answer")
        stream = await client.chat.completions.create(
            model="gpt-5-mini",
            messages=[{"role": "user", "content": "Stream this one."}],
            stream=True,
        )
        last = None
        async for chunk in stream:
            for choice in chunk.choices:
                print(choice.delta.content or "", end="", flush=True)
            last = chunk
        if last is None or last.usage is None:
            raise SystemExit("the stream ended without its usage chunk")
        cost = (last.usage.model_extra or {})["cost"]
        print(f"\nprovider: {(last.model_extra or {})['provider']}, cost: ${cost:.10f}")


CONFIG = Path(__file__).with_name("router.yaml")
"""The documented configuration: it reads every base URL and key from the environment."""


def main() -> None:
    with Simulator() as sim:
        os.environ.update(sim.environ())  # the URLs and keys router.yaml reads
        asyncio.run(run())


if __name__ == "__main__":
    main()
