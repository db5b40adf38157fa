"""OpenTelemetry: the span tree and the GenAI metrics, read from the SDK's in-memory exporters."""

from __future__ import annotations

import sys

import pytest
from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from router import AllProvidersFailed, ConfigError, Router
from router.telemetry.otel import OpenTelemetry
from router.testing.simulator import Reply
from tests.wire.conftest import HELLO, config

pytestmark = pytest.mark.wire

GROUP = {"flash": ["pinstripes:ps/deepseek-v4-flash", "routstr:deepseek/deepseek-v4-flash"]}


class Telemetry:
    def __init__(self) -> None:
        self.spans = InMemorySpanExporter()
        self.tracer_provider = TracerProvider()
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.spans))
        self.reader = InMemoryMetricReader()
        self.meter_provider = MeterProvider(metric_readers=[self.reader])
        self.plugin = OpenTelemetry(
            tracer_provider=self.tracer_provider, meter_provider=self.meter_provider
        )

    def metrics(self) -> dict[str, list]:
        data = self.reader.get_metrics_data()
        found: dict[str, list] = {}
        for resource in data.resource_metrics if data else ():
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    found.setdefault(metric.name, []).extend(metric.data.data_points)
        return found


def tree(spans) -> str:
    """The spans as an indented tree with their attributes (what the README shows)."""
    children: dict = {}
    for span in spans:
        children.setdefault(span.parent.span_id if span.parent else None, []).append(span)
    lines: list[str] = []

    def walk(span, depth):
        pad = "  " * depth
        ms = (span.end_time - span.start_time) / 1e6
        status = (
            f" {span.status.status_code.name}: {span.status.description}"
            if span.status.status_code.name != "UNSET"
            else ""
        )
        lines.append(f"{pad}{span.name}  [{span.kind.name}{status}, {ms:.1f} ms]")
        for key, value in sorted(span.attributes.items()):
            shown = (
                f"{value:.9f}" if isinstance(value, float) and key == "router.cost_usd" else value
            )
            if isinstance(value, float) and key != "router.cost_usd":
                shown = f"{value:.4f}"
            lines.append(f"{pad}    {key} = {shown}")
        for child in sorted(children.get(span.context.span_id, []), key=lambda s: s.start_time):
            walk(child, depth + 1)

    for root in children.get(None, []):
        walk(root, 0)
    return "\n".join(lines)


@pytest.fixture
def telemetry():
    return Telemetry()


def _router(sim, telemetry, **kwargs):
    conf = config(sim, "pinstripes", "routstr", models=GROUP)
    return Router.from_config(conf, plugins=[telemetry.plugin], sleep=lambda _: None, **kwargs)


def test_a_request_that_fell_over_once_is_one_span_with_a_child_per_attempt(sim, telemetry):
    with _router(sim, telemetry) as r:
        first, second = (c.ref for c in r.explain(model="flash", messages=HELLO).candidates)
        sim.script(first.partition(":")[0], [Reply(429, headers={"Retry-After": "0"})])
        reply = r.complete(model="flash", messages=HELLO)
    spans = telemetry.spans.get_finished_spans()
    print(tree(spans))  # the README's example (pytest -s)
    (root,) = [s for s in spans if s.parent is None]
    attempts = sorted((s for s in spans if s.parent is not None), key=lambda s: s.start_time)
    assert root.name == "chat flash"
    assert root.kind is SpanKind.CLIENT
    provider = second.partition(":")[0]
    assert dict(root.attributes) == {
        "gen_ai.operation.name": "chat",
        "gen_ai.request.model": "flash",
        "gen_ai.provider.name": provider,
        "gen_ai.response.model": second.partition(":")[2],
        "gen_ai.usage.input_tokens": reply.usage.prompt_tokens,
        "gen_ai.usage.output_tokens": reply.usage.completion_tokens,
        "router.cost_usd": float(reply.route.cost),
        "router.attempts": 2,
        "router.candidates": 2,
        "router.deployment": second,
        "router.stream": False,
    }
    assert [s.name for s in attempts] == [f"attempt {first}", f"attempt {second}"]
    assert all(s.parent.span_id == root.context.span_id for s in attempts)
    assert all(s.context.trace_id == root.context.trace_id for s in attempts)
    failed, answered = attempts
    assert failed.attributes["http.response.status_code"] == 429
    assert failed.attributes["error.type"] == "RateLimited"
    assert failed.status.status_code is StatusCode.ERROR
    assert answered.attributes["http.response.status_code"] == 200
    assert "error.type" not in answered.attributes
    assert answered.status.status_code is StatusCode.UNSET
    assert root.start_time <= failed.start_time <= failed.end_time <= answered.start_time
    assert answered.end_time <= root.end_time


def test_metrics_token_usage_duration_and_cost(sim, telemetry):
    with _router(sim, telemetry) as r:
        replies = [r.complete(model="flash", messages=HELLO) for _ in range(3)]
    found = telemetry.metrics()
    usage = found["gen_ai.client.token.usage"]
    by_type = {p.attributes["gen_ai.token.type"]: p for p in usage}
    assert by_type["input"].sum == sum(x.usage.prompt_tokens for x in replies)
    assert by_type["output"].sum == sum(x.usage.completion_tokens for x in replies)
    assert by_type["input"].count == 3
    assert by_type["input"].attributes["gen_ai.request.model"] == "flash"
    (duration,) = found["gen_ai.client.operation.duration"]
    assert duration.count == 3
    assert duration.sum > 0
    (cost,) = found["router.cost"]
    assert cost.value == pytest.approx(float(sum(x.route.cost for x in replies)))


def test_a_failed_request_is_an_error_span(sim, telemetry):
    with _router(sim, telemetry) as r:
        r.catalog("pinstripes")
        r.catalog("routstr")
        sim.set_down("pinstripes", True)
        sim.set_down("routstr", True)
        with pytest.raises(AllProvidersFailed):
            r.complete(model="flash", messages=HELLO)
    spans = telemetry.spans.get_finished_spans()
    (root,) = [s for s in spans if s.parent is None]
    assert root.status.status_code is StatusCode.ERROR
    assert root.attributes["error.type"] == "AllProvidersFailed"
    assert root.attributes["router.attempts"] == len(spans) - 1 == 4
    (duration,) = telemetry.metrics()["gen_ai.client.operation.duration"]
    assert duration.attributes["error.type"] == "AllProvidersFailed"


def test_a_stream_span_has_its_first_chunk_time(sim, telemetry):
    with _router(sim, telemetry) as r:
        list(r.stream(model="pinstripes:ps/deepseek-v4-flash", messages=HELLO))
    spans = telemetry.spans.get_finished_spans()
    (root,) = [s for s in spans if s.parent is None]
    (attempt,) = [s for s in spans if s.parent is not None]
    assert root.attributes["router.stream"] is True
    assert (
        0
        < root.attributes["router.time_to_first_chunk"]
        <= ((root.end_time - root.start_time) / 1e9)
    )
    assert attempt.end_time == root.end_time  # the answering attempt lasts the whole stream


def test_the_span_nests_under_the_callers_span(sim, telemetry):
    tracer = telemetry.tracer_provider.get_tracer("app")
    with _router(sim, telemetry) as r, tracer.start_as_current_span("agent step") as outer:
        r.complete(model="pinstripes:ps/deepseek-v4-flash", messages=HELLO)
    chat = next(s for s in telemetry.spans.get_finished_spans() if s.name.startswith("chat "))
    assert chat.parent.span_id == outer.get_span_context().span_id


@pytest.fixture(scope="module")
def global_telemetry():
    """The SDK as the global providers (set once per process, as an application does)."""
    telemetry = Telemetry()
    trace.set_tracer_provider(telemetry.tracer_provider)
    metrics.set_meter_provider(telemetry.meter_provider)
    if trace.get_tracer_provider() is not telemetry.tracer_provider:
        pytest.skip("another test set the global tracer provider first")
    return telemetry


def test_yaml_telemetry_otel_uses_the_global_providers(sim, global_telemetry):
    conf = {**config(sim, "pinstripes"), "telemetry": {"otel": True}}
    with Router.from_config(conf) as r:
        assert r.observers.active
        r.complete(model="pinstripes:ps/deepseek-v4-flash", messages=HELLO)
    names = [s.name for s in global_telemetry.spans.get_finished_spans()]
    assert "chat pinstripes:ps/deepseek-v4-flash" in names
    assert "router.cost" in global_telemetry.metrics()


def test_yaml_telemetry_without_the_extra_is_a_config_error(sim, monkeypatch):
    monkeypatch.setitem(sys.modules, "router.telemetry.otel", None)  # as if not installed
    conf = {**config(sim, "pinstripes"), "telemetry": {"otel": True}}
    with pytest.raises(ConfigError) as info:
        Router.from_config(conf)
    assert info.value.key_path == "telemetry.otel"
    assert "router[otel]" in info.value.problem
    with pytest.raises(ConfigError, match=r"telemetry\.otle: unknown key"):
        Router.from_config({**config(sim, "pinstripes"), "telemetry": {"otle": True}})


def test_without_telemetry_nothing_observes(sim):
    with Router.from_config(config(sim, "pinstripes")) as r:
        assert not r.observers.active
