"""The Anthropic API itself: ``GET /v1/models`` in Anthropic's paginated list, and Messages on
``POST /v1/messages`` (the route, frames and errors of :mod:`.anthropic`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs

from router.testing.simulator.anthropic import _anthropic_error, _MessagesProvider
from router.testing.simulator.http import _Call, _Response


class _Anthropic(_MessagesProvider):
    # platform.claude.com API reference: GET /v1/models (limit 1-1000, default 20;
    # after_id), x-api-key and anthropic-version on every request; no prices listed.
    name, mount, api_root, catalog_path = "anthropic", "/anthropic", "", "/v1/models"

    def authorized(self, headers: Mapping[str, str], key: str) -> bool:
        return headers.get("x-api-key") == key

    def error_payload(self, status: int, message: str, path: str) -> object:
        return _anthropic_error(status, message)

    def cache_read_rate(self, entry: Mapping[str, Any]) -> object:
        # Every Claude model caches at cache_control breakpoints; the list states no prices.
        return 1

    def models(self, call: _Call) -> _Response:
        """The model list, one page: ``limit`` (1-1000, default 20) after ``after_id``."""
        if call.headers.get("anthropic-version") is None:
            return _Response.of_json(
                400, _anthropic_error(400, "anthropic-version: header is required")
            )
        payload = call.sim.catalog(self.name)
        if not isinstance(payload, dict) or not isinstance(payload.get("data"), list):
            return _Response.of_json(200, payload)  # a test's malformed catalog, as set
        query = parse_qs(call.query)
        try:
            limit = int(query.get("limit", ["20"])[0])
        except ValueError:
            limit = 0
        if not 1 <= limit <= 1000:
            return _Response.of_json(
                400, _anthropic_error(400, "limit: Input should be between 1 and 1000")
            )
        data: list[Any] = payload["data"]
        start = 0
        if "after_id" in query:
            ids = [e.get("id") if isinstance(e, dict) else None for e in data]
            after = query["after_id"][0]
            start = ids.index(after) + 1 if after in ids else len(data)
        page = data[start : start + limit]
        return _Response.of_json(
            200,
            {
                "data": page,
                "has_more": start + limit < len(data),
                "first_id": page[0].get("id") if page else None,
                "last_id": page[-1].get("id") if page else None,
            },
        )
