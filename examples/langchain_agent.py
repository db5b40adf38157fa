"""A LangChain tool-calling agent loop, routed: ``ChatOpenAI`` over ``router.transport()``.

The agent asks, the model calls a tool, the loop runs the tool and hands the result
back, until the model answers in words. Every turn goes to the cheapest deployment that
supports tools; the router says which one served it and what it cost. Offline, against
the built-in simulator.

    python examples/langchain_agent.py
"""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path

import httpx
from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI

from router import Router
from router.testing.simulator import Simulator


@tool
def lookup(query: str) -> str:
    """Look a fact up in the team's notes."""
    return f"the notes say '{query}' was settled last week"


CONFIG = Path(__file__).with_name("router.yaml")
"""The documented configuration: it reads every base URL and key from the environment."""


def main() -> None:
    with Simulator() as sim:
        os.environ.update(sim.environ())  # the URLs and keys router.yaml reads
        with Router.from_yaml(CONFIG) as router:
            llm = ChatOpenAI(
                model="auto",
                base_url="http://router/v1",
                api_key="unused",  # type: ignore[arg-type]  # the providers' keys stay in the router
                http_client=httpx.Client(transport=router.transport()),
                max_retries=0,
            ).bind_tools([lookup])
            messages: list[BaseMessage] = [
                SystemMessage("You answer from the team's notes; look things up first."),
                HumanMessage("Which database did we pick?"),
            ]
            spent = Decimal(0)
            for step in range(1, 6):
                reply = llm.invoke(messages)
                meta = reply.response_metadata
                cost = Decimal(str(meta.get("token_usage", {}).get("cost") or 0))
                spent += cost
                print(f"step {step}: served by {meta.get('model_name')}, ${cost}")
                messages.append(reply)
                if not reply.tool_calls:  # type: ignore[attr-defined]
                    print(f"answer: {reply.content}")
                    break
                for call in reply.tool_calls:  # type: ignore[attr-defined]
                    result = lookup.invoke(call["args"])
                    print(f"  tool {call['name']}({call['args']}) -> {result}")
                    messages.append(ToolMessage(result, tool_call_id=call["id"]))
            print(f"spent: ${spent}")


if __name__ == "__main__":
    main()
