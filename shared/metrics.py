"""Prometheus metrics shared by the services (labelled by service) and the /metrics endpoint."""

from fastapi import Response
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest

HTTP_REQUESTS = Histogram("meal_http_request_seconds", "HTTP request latency", ["service", "method", "route", "status"])
EVENTS_PUBLISHED = Counter("meal_events_published_total", "Events relayed from the outbox", ["service", "subject"])
OUTBOX_PENDING = Gauge("meal_outbox_pending", "Unsent outbox rows seen by the relay", ["service"])
EVENTS_CONSUMED = Counter("meal_events_consumed_total", "Events handled by durable consumers", ["service", "consumer", "outcome"])
RPC_REQUESTS = Histogram("meal_rpc_seconds", "Request/reply handling time", ["service", "endpoint", "outcome"])


def metrics_response() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
