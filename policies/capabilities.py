"""``capabilities``: tools when the request offers tools, vision when it sends images.

A candidate known to lack a needed capability is excluded. One whose catalog does not
say (``None``) is kept but ranked after those known to have it, or excluded with
``unknown: exclude``.
"""

from __future__ import annotations

from typing import Literal

from router.catalog import ModelCard
from router.hookspecs import RegisterPolicy, hookimpl
from router.policy import Policy, Verdict
from router.types import ChatRequest


class Capabilities(Policy):
    unknown: Literal["allow", "exclude"] = "allow"
    """What to do with a candidate whose catalog does not state a needed capability."""

    def apply(self, request: ChatRequest, candidates: list[ModelCard]) -> Verdict:
        needs = [
            (field, label)
            for field, label, needed in (
                ("supports_tools", "tools", request.needs_tools),
                ("supports_vision", "vision", request.needs_vision),
            )
            if needed
        ]
        if not needs:
            return Verdict(list(candidates))
        known: list[ModelCard] = []
        unsure: list[ModelCard] = []
        excluded: dict[str, str] = {}
        demoted: dict[str, str] = {}
        for card in candidates:
            lacking = [label for field, label in needs if getattr(card, field) is False]
            unknown = [label for field, label in needs if getattr(card, field) is None]
            if lacking:
                excluded[card.ref] = f"no {' or '.join(lacking)} support"
            elif unknown and self.unknown == "exclude":
                excluded[card.ref] = f"{' and '.join(unknown)} support unknown"
            elif unknown:
                unsure.append(card)
                demoted[card.ref] = f"{' and '.join(unknown)} support unknown"
            else:
                known.append(card)
        return Verdict(known + unsure, excluded, demoted)


@hookimpl
def router_register_policies(register: RegisterPolicy) -> None:
    register("capabilities", Capabilities)
