"""The official OpenAI SDK, unchanged, routed by the router: offline, against its simulator.

Starts the provider simulator on 127.0.0.1, points the documented ``examples/router.yaml``
at it through environment variables, and hands ``openai.OpenAI`` an httpx client whose
transport is the router. Every request then goes to the cheapest deployment that can
serve it; the answer says which provider served it and what it cost.

    python examples/openai_sdk_sync.py
"""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path

import httpx
import openai

from router import Router
from router.testing.simulator import Simulator

CONFIG = Path(__file__).with_name("router.yaml")
"""The documented configuration: it reads every base URL and key from the environment."""


def main() -> None:
    with Simulator() as sim:
        os.environ.update(sim.environ())  # the URLs and keys router.yaml reads
        with (
            Router.from_yaml(CONFIG) as router,
            openai.OpenAI(
                base_url="http://router/v1",
                api_key="unused",  # the providers' keys stay in the router's configuration
                http_client=httpx.Client(transport=router.transport()),
            ) as client,
        ):
            question = [{"role": "user", "content": "What is the cheapest way to ask this?"}]

            # router.yaml prices the self-hosted "local" server at 0, so auto picks it
            print("== model='auto': every chat model that passes the policy chain")
            raw = client.chat.completions.with_raw_response.create(model="auto", messages=question)
            reply = raw.parse()
            print(f"answer:   {reply.choices[0].message.content}")
            print(f"provider: {raw.headers['x-router-provider']} ({raw.headers['x-router-model']})")
            print(f"cost:     ${Decimal(raw.headers['x-router-cost'])}")

            print("\n== a streamed answer from the group 'deepseek-v4-flash'")
            stream = client.chat.completions.create(
                model="deepseek-v4-flash",
                messages=[{"role": "user", "content": "Stream this answer, please."}],
                stream=True,
            )
            last = None
            print("answer:   ", end="")
            for chunk in stream:
                for choice in chunk.choices:
                    print(choice.delta.content or "", end="", flush=True)
                last = chunk
            if last is None or last.usage is None:
                raise SystemExit("the stream ended without its usage chunk")
            print(f"\nprovider: {(last.model_extra or {})['provider']}")
            print(f"cost:     ${(last.usage.model_extra or {})['cost']:.10f} (usage.cost)")


if __name__ == "__main__":
    main()
