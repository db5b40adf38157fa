"""``capabilities``: tools when the request offers tools, vision when it sends images,
structured output when its ``response_format`` asks for JSON (``json_object`` or
``json_schema``).

A candidate known to lack a needed capability is excluded. One whose catalog does not
say (``None``) is kept but ranked after those known to have it (the router demotes it),
or excluded with ``unknown: exclude``.
"""

from __future__ import annotations

from typing import Literal

from router.catalog import ModelCard
from router.hookspecs import RegisterPolicy, hookimpl
from router.planning.context import RoutingContext
from router.policy import CardTraits, Filter, Judgement
from router.types import ChatRequest


class Capabilities(Filter):
    unknown: Literal["allow", "exclude"] = "allow"
    """What to do with a candidate whose catalog does not state a needed capability."""

    def judge(self, request: ChatRequest, card: ModelCard, context: RoutingContext) -> Judgement:
        return self._judge(
            request, card.supports_tools, card.supports_vision, card.supports_structured_output
        )

    def judge_traits(
        self, request: ChatRequest, traits: CardTraits, context: RoutingContext
    ) -> Judgement:
        return self._judge(
            request,
            traits.supports_tools,
            traits.supports_vision,
            traits.supports_structured_output,
        )

    def _judge(
        self,
        request: ChatRequest,
        tools: bool | None,
        vision: bool | None,
        structured: bool | None,
    ) -> Judgement:
        lacking: list[str] = []
        unknown: list[str] = []
        for label, needed, has in (
            ("tools", request.needs_tools, tools),
            ("vision", request.needs_vision, vision),
            ("structured output", request.needs_structured_output, structured),
        ):
            if needed and has is False:
                lacking.append(label)
            elif needed and has is None:
                unknown.append(label)
        if lacking:
            return "exclude", f"no {' or '.join(lacking)} support"
        if unknown:
            return self.unknown_verdict, f"{' and '.join(unknown)} support unknown"
        return None


@hookimpl
def router_register_policies(register: RegisterPolicy) -> None:
    register("capabilities", Capabilities)
