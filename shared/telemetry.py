"""Tracing: one trace per order, carried in Kafka headers (`traceparent`) and HTTP.

`configure` installs the provider for a process. The outbox injects the current
context into each message's headers; the inbox continues it when applying.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path

from opentelemetry import context, propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import (
    ConsoleSpanExporter,
    SimpleSpanProcessor,
    SpanExporter,
    SpanExportResult,
)
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.id_generator import RandomIdGenerator
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF

log = logging.getLogger(__name__)
_memory_exporter: InMemorySpanExporter | None = None
_ids = RandomIdGenerator()


class JsonLinesFileExporter(SpanExporter):
    """One JSON line per span, appended to a file: lets a test see spans of every process."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = path.open("a", encoding="utf-8")

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        for span in spans:
            context_ = span.get_span_context()
            parent = span.parent
            self._file.write(
                json.dumps(
                    {
                        "service": span.resource.attributes.get("service.name"),
                        "name": span.name,
                        "trace_id": format(context_.trace_id, "032x") if context_ else None,
                        "span_id": format(context_.span_id, "016x") if context_ else None,
                        "parent_id": format(parent.span_id, "016x") if parent else None,
                        "attributes": {k: str(v) for k, v in (span.attributes or {}).items()},
                    }
                )
                + "\n"
            )
        self._file.flush()
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        self._file.close()


def configure(service: str, exporter: str = "none", trace_file: str = "") -> None:
    """Install the tracer provider: `none`, `console`, `memory`, `file` (JSON lines) or `otlp`.

    With `none` no span is recorded (sampler ALWAYS_OFF): each span still gets its ids, so
    `traceparent` still carries the trace from HTTP through every service and log lines keep
    their trace and span ids, but nothing pays for building spans nobody exports (about a
    tenth of a service's CPU per message). Tracing is one setting for the whole deployment.
    """
    global _memory_exporter
    resource = Resource.create({"service.name": service})
    if exporter == "none":
        provider = TracerProvider(resource=resource, sampler=ALWAYS_OFF)
    else:
        provider = TracerProvider(resource=resource)
    if exporter == "file" and trace_file:
        provider.add_span_processor(SimpleSpanProcessor(JsonLinesFileExporter(Path(trace_file))))
    elif exporter == "console":
        provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter()))
    elif exporter == "memory":
        _memory_exporter = InMemorySpanExporter()
        provider.add_span_processor(SimpleSpanProcessor(_memory_exporter))
    elif exporter == "otlp":  # endpoint from OTEL_EXPORTER_OTLP_ENDPOINT, as the SDK documents
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)


def tracer(name: str) -> trace.Tracer:
    return trace.get_tracer(name)


def recording() -> bool:
    """Whether a span started now may be recorded: not without a provider, nor with `none`
    (ALWAYS_OFF). Lets code skip spans that would serve nothing but their ids (a span costs
    about 12 µs even unrecorded)."""
    provider = trace.get_tracer_provider()
    return isinstance(provider, TracerProvider) and provider.sampler is not ALWAYS_OFF


def inject_headers() -> dict[str, str]:
    """The current trace context as message headers; with no current trace (a price tick, a
    timer, a CLI command in a process without a tracer provider), a new one: every message
    on our topics carries a W3C `traceparent`."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    if "traceparent" not in carrier:
        propagate.inject(carrier, context=new_trace())
    return carrier


_batch_causes: ContextVar[Mapping[uuid.UUID, context.Context] | None] = ContextVar(
    "batch_causes", default=None
)


@contextmanager
def batch_causes(contexts: Mapping[uuid.UUID, context.Context]) -> Iterator[None]:
    """While a batch handler runs: each consumed message's trace context, by its event id.

    No message's span is current during a batch, so the outbox takes a message's trace from
    its cause (`causation_id`) here: a batch-native service still continues each order's
    trace."""
    token = _batch_causes.set(contexts)
    try:
        yield
    finally:
        _batch_causes.reset(token)


def cause_context(causation_id: uuid.UUID | None) -> context.Context | None:
    """The trace context of the batch's message `causation_id`; None outside a batch."""
    causes = _batch_causes.get()
    if causes is None or causation_id is None:
        return None
    return causes.get(causation_id)


def headers_caused_by(causation_id: uuid.UUID | None) -> dict[str, str] | None:
    """The trace headers of a message caused by `causation_id`, when that message is part of
    the batch being applied; None otherwise (the current context then applies)."""
    cause = cause_context(causation_id)
    if cause is None:
        return None
    carrier: dict[str, str] = {}
    propagate.inject(carrier, context=cause)
    return carrier if "traceparent" in carrier else None


def new_trace() -> context.Context:
    """A context holding a new root span context (not sampled, nothing recorded)."""
    root = trace.SpanContext(
        trace_id=_ids.generate_trace_id(),
        span_id=_ids.generate_span_id(),
        is_remote=False,
        trace_flags=trace.TraceFlags(trace.TraceFlags.DEFAULT),
    )
    return trace.set_span_in_context(trace.NonRecordingSpan(root), context.Context())


def extract_context(headers: Mapping[str, str]) -> context.Context:
    return propagate.extract(dict(headers))
