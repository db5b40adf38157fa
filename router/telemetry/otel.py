"""OpenTelemetry for routed requests: a span tree and the GenAI client metrics.

Registered by ``telemetry: {otel: true}`` (extra ``otel``: ``opentelemetry-api`` and the
semantic-conventions package), or by hand: ``Router.from_yaml(path,
plugins=[OpenTelemetry(tracer_provider=..., meter_provider=...)])``. Without providers
it uses the global ones (``opentelemetry.trace.set_tracer_provider``, an SDK, an
exporter: the application's choice).

Per routed request, one span ``chat <model>`` (``<model>`` as the caller asked: a ref, a
group, ``auto``), kind CLIENT, with the GenAI semantic conventions
(``gen_ai.operation.name``, ``gen_ai.provider.name``, ``gen_ai.request.model``,
``gen_ai.response.model``, ``gen_ai.usage.input_tokens``, ``gen_ai.usage.output_tokens``)
and ``router.cost_usd`` (USD, a float: backends sum numbers), ``router.attempts``,
``router.candidates``; one child span per attempt, ``attempt <ref>``, with the
deployment's provider and model, ``http.response.status_code`` and, when it failed,
``error.type`` and an ERROR status. A failed request's span carries ``error.type`` too.

Metrics: ``gen_ai.client.token.usage`` (histogram, ``{token}``, by
``gen_ai.token.type`` input / output), ``gen_ai.client.operation.duration`` (histogram,
seconds) and ``router.cost`` (counter, USD), each with the operation, provider and
models as attributes.

The spans are written when the request's result is known, with the times it started
and ended: the parent of ``chat <model>`` is the span current where the request was
made (the caller's), as the result hook runs in the caller's context.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from opentelemetry import metrics, trace
from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as gen_ai
from opentelemetry.semconv._incubating.metrics import gen_ai_metrics
from opentelemetry.semconv.attributes import error_attributes, http_attributes
from opentelemetry.trace import SpanKind, Status, StatusCode

from router.hookspecs import hookimpl

if TYPE_CHECKING:
    from router.events import AttemptEvent, ResultEvent

__all__ = ["OpenTelemetry"]

_SCOPE = "router"
_CHAT = "chat"  # gen_ai.operation.name for Chat Completions

# The bucket boundaries the GenAI semantic conventions advise (as opentelemetry-python-
# contrib's OpenAI instrumentation uses them).
_DURATION_BUCKETS = [
    0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
]  # fmt: skip
_TOKEN_BUCKETS = [
    1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864,
]  # fmt: skip


def _ns(seconds: float) -> int:
    return int(seconds * 1_000_000_000)


class OpenTelemetry:
    """The OpenTelemetry plugin: spans and metrics from ``router_on_result``."""

    def __init__(
        self,
        *,
        tracer_provider: trace.TracerProvider | None = None,
        meter_provider: metrics.MeterProvider | None = None,
    ) -> None:
        self.tracer = trace.get_tracer(_SCOPE, tracer_provider=tracer_provider)
        meter = metrics.get_meter(_SCOPE, meter_provider=meter_provider)
        self.token_usage = meter.create_histogram(
            gen_ai_metrics.GEN_AI_CLIENT_TOKEN_USAGE,
            unit="{token}",
            description="Number of input and output tokens used",
            explicit_bucket_boundaries_advisory=_TOKEN_BUCKETS,
        )
        self.duration = meter.create_histogram(
            gen_ai_metrics.GEN_AI_CLIENT_OPERATION_DURATION,
            unit="s",
            description="GenAI operation duration",
            explicit_bucket_boundaries_advisory=_DURATION_BUCKETS,
        )
        self.cost = meter.create_counter(
            "router.cost", unit="USD", description="USD billed for routed requests"
        )

    @hookimpl
    def router_on_result(self, event: ResultEvent) -> None:
        """Write the request's span tree and record its metrics."""
        start = _ns(event.started)
        end = start + _ns(event.latency)
        attributes: dict[str, Any] = {
            gen_ai.GEN_AI_OPERATION_NAME: _CHAT,
            gen_ai.GEN_AI_REQUEST_MODEL: event.model,
            "router.attempts": len(event.attempts),
            "router.candidates": len(event.route.candidates),
            "router.stream": event.stream,
        }
        if event.provider is not None:
            attributes[gen_ai.GEN_AI_PROVIDER_NAME] = event.provider
        if event.response_model is not None:
            attributes[gen_ai.GEN_AI_RESPONSE_MODEL] = event.response_model
        if event.route.chosen is not None:
            attributes["router.deployment"] = event.route.chosen
        if event.prompt_tokens is not None:
            attributes[gen_ai.GEN_AI_USAGE_INPUT_TOKENS] = event.prompt_tokens
        if event.completion_tokens is not None:
            attributes[gen_ai.GEN_AI_USAGE_OUTPUT_TOKENS] = event.completion_tokens
        if event.cached_tokens:
            attributes[gen_ai.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] = event.cached_tokens
        if event.cost is not None:
            attributes["router.cost_usd"] = float(event.cost)
        if event.usage_estimated:
            attributes["router.usage_estimated"] = True
        if event.ttft is not None:
            attributes["router.time_to_first_chunk"] = event.ttft
        if not event.complete:
            attributes["router.complete"] = False
        error_type = type(event.error).__name__ if event.error is not None else None
        if error_type is not None:
            attributes[error_attributes.ERROR_TYPE] = error_type

        span = self.tracer.start_span(
            f"{_CHAT} {event.model}", kind=SpanKind.CLIENT, start_time=start, attributes=attributes
        )
        context = trace.set_span_in_context(span)
        last = len(event.attempts) - 1
        for i, attempt in enumerate(event.attempts):
            # A stream's answering attempt lasts until its last chunk, not its first.
            stop = end if (i == last and attempt.ok and event.stream) else None
            self._attempt_span(attempt, context, stop)
        if event.error is not None:
            span.set_status(Status(StatusCode.ERROR, str(event.error)[:300]))
        span.end(end_time=end)
        self._metrics(event, error_type)

    def _attempt_span(self, attempt: AttemptEvent, context: Any, stop: int | None) -> None:
        attributes: dict[str, Any] = {
            gen_ai.GEN_AI_OPERATION_NAME: _CHAT,
            gen_ai.GEN_AI_PROVIDER_NAME: attempt.provider,
            gen_ai.GEN_AI_REQUEST_MODEL: attempt.model,
            "router.deployment": attempt.ref,
            "router.attempt": attempt.number,
        }
        if attempt.status is not None:
            attributes[http_attributes.HTTP_RESPONSE_STATUS_CODE] = attempt.status
        if attempt.error_kind is not None:
            attributes[error_attributes.ERROR_TYPE] = attempt.error_kind
        if attempt.ttft is not None:
            attributes["router.time_to_first_chunk"] = attempt.ttft
        start = _ns(attempt.started)
        child = self.tracer.start_span(
            f"attempt {attempt.ref}",
            context=context,
            kind=SpanKind.CLIENT,
            start_time=start,
            attributes=attributes,
        )
        if attempt.error is not None:
            child.set_status(Status(StatusCode.ERROR, attempt.error[:300]))
        child.end(end_time=stop if stop is not None else start + _ns(attempt.latency))

    def _metrics(self, event: ResultEvent, error_type: str | None) -> None:
        attributes: dict[str, Any] = {
            gen_ai.GEN_AI_OPERATION_NAME: _CHAT,
            gen_ai.GEN_AI_REQUEST_MODEL: event.model,
        }
        if event.provider is not None:
            attributes[gen_ai.GEN_AI_PROVIDER_NAME] = event.provider
        if event.response_model is not None:
            attributes[gen_ai.GEN_AI_RESPONSE_MODEL] = event.response_model
        duration = dict(attributes)
        if error_type is not None:
            duration[error_attributes.ERROR_TYPE] = error_type
        self.duration.record(event.latency, attributes=duration)
        for kind, tokens in (("input", event.prompt_tokens), ("output", event.completion_tokens)):
            if tokens is not None:
                self.token_usage.record(
                    tokens, attributes={**attributes, gen_ai.GEN_AI_TOKEN_TYPE: kind}
                )
        if event.cost is not None:
            self.cost.add(float(event.cost), attributes=attributes)
