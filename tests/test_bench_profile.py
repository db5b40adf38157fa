"""``bench/client.py``'s profile report charges each function to the right package."""

from __future__ import annotations

import asyncio.base_events
from pathlib import Path
from types import ModuleType

import httpx
import pytest

import policies.cheapest
import router.core
import router.planning.plan
import router.wire.openai_chat
from tests.conftest import load_bench

ROOT = Path(__file__).parents[1]


@pytest.fixture(scope="module")
def client() -> ModuleType:
    return load_bench("client")


@pytest.mark.parametrize(
    ("module", "package"),
    [
        (router.core, "router"),
        (router.planning.plan, "router"),  # subpackages count to their top-level package
        (router.wire.openai_chat, "router"),
        (policies.cheapest, "policies"),
        (asyncio.base_events, "stdlib: asyncio"),
        (httpx, "httpx"),
    ],
)
def test_a_function_is_charged_to_its_top_level_package(client, module, package) -> None:
    assert client._package((module.__file__, 1, "f")) == package


def test_c_functions_and_the_bench_itself(client) -> None:
    assert client._package(("~", 0, "<built-in method builtins.len>")) == "builtins (C)"
    assert client._package((str(ROOT / "bench" / "client.py"), 1, "plain")) == "bench"


def test_the_project_s_files_are_named_from_its_root(client) -> None:
    where = client._where((router.planning.plan.__file__, 152, "plan"))
    assert where == "router/planning/plan.py:152(plan)"
