"""No retry storms: an error the router answers after its own fallback says
``x-should-retry: false``, and the OpenAI SDK (2 retries by default) obeys it."""

from __future__ import annotations

import httpx
import openai
import pytest

from router import Router
from router.serving.transport import RouterTransport
from router.testing.simulator import Reply
from tests.wire.conftest import config

pytestmark = pytest.mark.wire

HELLO = [{"role": "user", "content": "hello"}]
FLASH_GROUP = {"flash": ["pinstripes:ps/deepseek-v4-flash", "routstr:deepseek/deepseek-v4-flash"]}


@pytest.fixture
def router(sim):
    conf = config(sim, "pinstripes", "routstr", models=FLASH_GROUP, fallback={"attempts": 2})
    with Router.from_config(conf, sleep=lambda _: None) as r:
        r.models()
        yield r


def chat_posts(sim) -> int:
    return sum(r.method == "POST" for kind in ("pinstripes", "routstr") for r in sim.requests(kind))


@pytest.mark.parametrize(
    ("status", "error"),
    [(500, openai.InternalServerError), (429, openai.RateLimitError), (503, openai.APIStatusError)],
)
def test_the_sdk_does_not_retry_what_the_router_already_retried(sim, router, status, error):
    sim.script("pinstripes", [Reply(status)] * 10)
    sim.script("routstr", [Reply(status)] * 10)
    client = openai.OpenAI(  # the SDK's default: two retries of its own
        base_url="http://router/v1",
        api_key="x",
        http_client=httpx.Client(transport=RouterTransport(router)),
    )
    with pytest.raises(error) as caught:
        client.chat.completions.create(model="flash", messages=HELLO)  # type: ignore[arg-type]
    assert caught.value.response.headers["x-should-retry"] == "false"
    assert chat_posts(sim) == 2  # the router's two attempts, not 2 x 3


def test_a_streamed_request_that_fails_says_so_too(sim, router):
    sim.script("pinstripes", [Reply(500)] * 10)
    sim.script("routstr", [Reply(500)] * 10)
    client = openai.OpenAI(
        base_url="http://router/v1",
        api_key="x",
        http_client=httpx.Client(transport=RouterTransport(router)),
    )
    with pytest.raises(openai.InternalServerError) as caught:
        client.chat.completions.create(model="flash", messages=HELLO, stream=True)  # type: ignore[arg-type]
    assert caught.value.response.headers["x-should-retry"] == "false"
    assert chat_posts(sim) == 2


async def test_the_async_transport_says_so(sim, router):
    sim.script("pinstripes", [Reply(500)] * 10)
    sim.script("routstr", [Reply(500)] * 10)
    client = openai.AsyncOpenAI(
        base_url="http://router/v1",
        api_key="x",
        http_client=httpx.AsyncClient(transport=router.async_transport()),
    )
    with pytest.raises(openai.InternalServerError) as caught:
        await client.chat.completions.create(model="flash", messages=HELLO)  # type: ignore[arg-type]
    assert caught.value.response.headers["x-should-retry"] == "false"
    assert chat_posts(sim) == 2
    await client.close()


def test_model_listing_errors_are_left_to_the_sdk(sim, router):
    transport = RouterTransport(router)
    response = transport.handle_request(httpx.Request("GET", "http://router/v1/models/nope"))
    assert response.status_code == 404
    assert "x-should-retry" not in response.headers
