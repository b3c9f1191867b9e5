"""An OpenTelemetry tracer provider installed globally, as an operator's setup would, with an
in-memory exporter: what would leave the process, for tests to inspect."""

from __future__ import annotations

from functools import cache

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter


@cache
def exported() -> InMemorySpanExporter:
    """The exporter behind the process-wide provider (installed on first use)."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    return exporter
