"""Prometheus metrics: request counts and latencies by route template, served at /metrics."""

from __future__ import annotations

import time

from fastapi import FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from starlette.routing import Match

HTTP_REQUESTS = Counter(
    "ascent_http_requests_total", "HTTP requests", ["service", "method", "route", "status"]
)
HTTP_LATENCY = Histogram(
    "ascent_http_request_seconds", "HTTP request latency", ["service", "method", "route"]
)


def _route_template(request: Request) -> str:
    # Label by template (/v1/items/{id}), never the raw path, to keep cardinality bounded.
    route = request.scope.get("route")
    if route is not None and hasattr(route, "path"):
        return route.path
    for candidate in request.app.router.routes:
        if candidate.matches(request.scope)[0] == Match.FULL and hasattr(candidate, "path"):
            return candidate.path
    return "unmatched"


def install_metrics(app: FastAPI, service: str) -> None:
    @app.middleware("http")
    async def _measure(request: Request, call_next):
        start = time.perf_counter()
        status = 500
        try:
            response = await call_next(request)
            status = response.status_code
            return response
        finally:
            route = _route_template(request)
            HTTP_REQUESTS.labels(service, request.method, route, str(status)).inc()
            HTTP_LATENCY.labels(service, request.method, route).observe(time.perf_counter() - start)

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
