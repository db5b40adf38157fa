"""Test helpers shipped with the library: :mod:`router.testing.simulator`, the provider
simulator (real HTTP on 127.0.0.1 in each provider's wire format)."""

from __future__ import annotations
