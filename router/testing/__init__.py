"""Test helpers shipped with the library: :mod:`router.testing.simulator`, the provider
simulator (real HTTP on 127.0.0.1 in each provider's wire format), and
:mod:`router.testing.redis_server`, a private ``redis-server`` for shared-state tests."""

from __future__ import annotations
